"""BibTeX references as data for citation processors: `Reference` -> CSL-JSON item.

Input: a `Reference` from bibliography.py. Output: its CSL-JSON item (the very data citeproc-py,
pandoc and the CSL-JSON download are given: protected words as `<span class="nocase">`, dates
as date-parts, quotes made typographic) and the links of its identifiers (DOI, PubMed, PMC, trial
registry, web address). The conversion is ours because citeproc-py's BibTeX reader rejects a
whole file for one bad entry.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any
from urllib.parse import quote

from .bibliography import Name, Reference, Segments

CSL_TYPES = {
    "article": "article-journal",
    "book": "book",
    "booklet": "pamphlet",
    "inbook": "chapter",
    "incollection": "chapter",
    "inproceedings": "paper-conference",
    "conference": "paper-conference",
    "proceedings": "book",
    "manual": "book",
    "mastersthesis": "thesis",
    "phdthesis": "thesis",
    "online": "webpage",
    "electronic": "webpage",
    "www": "webpage",
    "report": "report",
    "techreport": "report",
    "unpublished": "manuscript",
    "software": "software",
    "dataset": "dataset",
    "misc": "document",  # CSL 1.0.2's generic type, as pandoc reads @misc
}
_GENRES = {"phdthesis": "PhD thesis", "mastersthesis": "Master's thesis"}
_MONTHS = {
    name: number
    for number, name in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1
    )
}
_DATE = re.compile(r"^(\d{4})(?:-(\d{1,2}))?(?:-(\d{1,2}))?$")
_TEXT_FIELDS = {
    "title": "title",
    "series": "collection-title",
    "publisher": "publisher",
    "edition": "edition",
    "version": "version",
}
_VERBATIM = {
    "doi": "DOI",
    "pmid": "PMID",
    "pmcid": "PMCID",
    "url": "URL",
    "isbn": "ISBN",
    "issn": "ISSN",
    "volume": "volume",
    "issue": "issue",
}
_RAW_KEYS = frozenset(_VERBATIM.values()) | {
    "number",
    "collection-number",
    "page",
    "chapter-number",
    "publisher-place",
    "genre",
    "language",
}
_LANGUAGES = {"english": "en", "chinese": "zh", "chi": "zh", "japanese": "ja", "german": "de"}
# citeproc-py does not escape every piece of text it prints, so markup characters travel
# through it as private-use characters and are escaped afterwards.
_PROTECT = str.maketrans({"&": "\ue000", "<": "\ue001", ">": "\ue002"})


_ANY_QUOTE = re.compile("[\"'\u201c\u201d\u2018\u2019]")
_OPENERS = " \t([{\u2014\u2013-/\u201c\u2018"


def smart_quotes(text: str) -> str:
    """Straight and curly quotes -> nested typographic quotes, outer double and inner single
    (U+201C a U+2018 b U+2019 c U+201D), apostrophes as U+2019. This is how pandoc's citeproc
    reads quotes in CSL-JSON text, so both processors are handed the same quotes."""
    if not _ANY_QUOTE.search(text):
        return text
    out: list[str] = []
    open_kinds: list[str] = []
    for index, char in enumerate(text):
        before = text[index - 1] if index else " "
        after = text[index + 1] if index + 1 < len(text) else " "
        if char not in "\"'\u201c\u201d\u2018\u2019":
            out.append(char)
            continue
        kind = '"' if char in '"\u201c\u201d' else "'"
        closes = open_kinds and open_kinds[-1] == kind and not after.isalnum()
        opens = char in "\u201c\u2018" or (
            char in "\"'" and before in _OPENERS and not after.isspace() and after != ""
        )
        if closes and char not in "\u201c\u2018":
            open_kinds.pop()
            out.append("\u201d" if len(open_kinds) % 2 == 0 else "\u2019")
        elif opens and (kind == '"' or after.isalnum() or char == "\u2018"):
            out.append("\u201c" if len(open_kinds) % 2 == 0 else "\u2018")
            open_kinds.append(kind)
        else:
            out.append("\u2019" if kind == "'" else char)
    return "".join(out)


def _rich(runs: Segments, protect: bool) -> str:
    """Runs of text -> a CSL-JSON string, protected words as `<span class="nocase">`."""
    runs = _quoted(runs)
    out = []
    for text, protected in runs:
        shown = text.translate(_PROTECT) if protect else text
        out.append(f'<span class="nocase">{shown}</span>' if protected else shown)
    return "".join(out)


def _quoted(runs: Segments) -> Segments:
    """Smart quotes over the joined runs (a quote may open in one run and close in another)."""
    joined = smart_quotes("".join(text for text, _ in runs))
    out, position = [], 0
    for text, protected in runs:
        out.append((joined[position : position + len(text)], protected))
        position += len(text)
    return tuple(out)


def _name(name: Name, protect: bool) -> dict[str, str]:
    def text(value: str) -> str:
        value = smart_quotes(value)
        return value.translate(_PROTECT) if protect else value

    if name.literal:
        return {"literal": text(name.literal)}
    item = {
        "family": name.family,
        "given": name.given,
        "non-dropping-particle": name.particle,
        "suffix": name.suffix,
    }
    return {k: text(v) for k, v in item.items() if v}


def date_parts(reference: Reference) -> list[int] | None:
    """When `reference` was issued, as CSL's date parts: [year, month, day], as far as known."""
    date = _DATE.match(reference.get("date").strip())
    if date:
        return [int(part) for part in date.groups() if part]
    year = reference.get("year").strip()
    if not year.isdigit():
        return None
    parts = [int(year)]
    month_text = reference.get("month").strip().lower()
    month = _MONTHS.get(month_text[:3]) or (int(month_text) if month_text.isdigit() else None)
    if month and 1 <= month <= 12:
        parts.append(month)
        day = reference.get("day").strip()
        if day.isdigit():
            parts.append(int(day))
    return parts


def csl_type(reference: Reference) -> str:
    if reference.entry_type == "inbook" and not reference.get("booktitle"):
        return "book"  # classic BibTeX @inbook: the title is the book's, `chapter` a number
    return CSL_TYPES.get(reference.entry_type, "article")


def to_csl_json(reference: Reference, *, protect: bool = False) -> dict[str, Any]:
    """One BibTeX reference -> one CSL-JSON item. `protect` is for citeproc-py only."""
    return dict(_csl_item(reference, protect))


def forget_csl_items() -> None:
    _csl_item.cache_clear()


@lru_cache(maxsize=65536)
def _csl_item(reference: Reference, protect: bool) -> dict[str, Any]:
    # Pages, filtered lists and downloads ask for the same item many times; callers get a copy.
    kind = csl_type(reference)
    item: dict[str, Any] = {"id": reference.key, "type": kind}

    def rich(name: str) -> str:
        return _rich(reference.segments(name), protect)

    for bib_name, csl_name in _TEXT_FIELDS.items():
        if reference.get(bib_name):
            item[csl_name] = rich(bib_name)
    for bib_name, csl_name in _VERBATIM.items():
        if reference.get(bib_name):
            item[csl_name] = reference.get(bib_name)
    container = next(
        (n for n in ("journal", "journaltitle", "booktitle") if reference.get(n)), None
    )
    if container and kind != "book":
        item["container-title"] = rich(container)
    if reference.get("number"):
        target = {"article-journal": "issue", "report": "number"}.get(kind)
        if kind in ("book", "chapter") and reference.get("series"):
            target = "collection-number"
        item[target or ("issue" if container else "number")] = reference.get("number")
    pages = reference.get("pages") or reference.get("eid")
    if pages:
        # An article number (e123) stands where pages would: CSL has no other place for it.
        item["page"] = re.sub("[\u2013\u2014]+", "-", pages)
    if reference.get("chapter"):
        item["chapter-number"] = reference.get("chapter")
    place = reference.get("address") or reference.get("location")
    if place:
        item["publisher-place"] = place
    publisher = next(
        (
            rich(n)
            for n in ("publisher", "institution", "school", "organization")
            if reference.get(n)
        ),
        None,
    )
    if publisher:
        item["publisher"] = publisher
    genre = reference.get("type") or _GENRES.get(reference.entry_type)
    if genre:
        item["genre"] = genre
    howpublished = reference.get("howpublished")
    if howpublished.startswith(("http://", "https://")):
        item.setdefault("URL", howpublished)
    elif howpublished:
        item["medium"] = rich("howpublished")
    language = reference.get("language").strip().lower()
    if language:
        item["language"] = _LANGUAGES.get(language, language)
    issued = date_parts(reference)
    if issued:
        item["issued"] = {"date-parts": [issued]}
    accessed = _DATE.match(reference.get("urldate").strip())
    if accessed:
        item["accessed"] = {"date-parts": [[int(p) for p in accessed.groups() if p]]}
    if reference.authors:
        item["author"] = [_name(n, protect) for n in reference.authors]
    if reference.editors:
        item["editor"] = [_name(n, protect) for n in reference.editors]
    if protect:
        # Fields copied as they are (not through `rich`) must be protected too, or a `<` in a
        # volume or page range would reach the page as markup.
        for key in _RAW_KEYS:
            if isinstance(item.get(key), str):
                item[key] = item[key].translate(_PROTECT)
    return item


@dataclass(frozen=True)
class IdentifierLink:
    kind: str  # 'doi', 'pmid', 'pmcid', 'registry', 'url'
    label: str  # what a reader sees before it: "DOI", "PubMed", ...
    value: str
    url: str


def identifier_links(reference: Reference) -> tuple[IdentifierLink, ...]:
    """Where a reader can find the source: DOI, PubMed, PMC, trial registry, web address."""
    links = []
    doi = reference.get("doi")
    if doi:
        links.append(
            IdentifierLink("doi", "DOI", doi, "https://doi.org/" + quote(doi, safe="/:;()._-"))
        )
    pmid = reference.get("pmid")
    if pmid:
        links.append(
            IdentifierLink("pmid", "PubMed", pmid, f"https://pubmed.ncbi.nlm.nih.gov/{pmid}/")
        )
    pmcid = reference.get("pmcid")
    if pmcid:
        links.append(
            IdentifierLink(
                "pmcid", "PubMed Central", pmcid, f"https://pmc.ncbi.nlm.nih.gov/articles/{pmcid}/"
            )
        )
    registry = reference.get("registry")
    registry_url = _registry_url(registry)
    if registry_url:
        links.append(IdentifierLink("registry", "Trial registry", registry, registry_url))
    url = reference.get("url")
    if url:
        links.append(IdentifierLink("url", "Web", url, url))
    return tuple(links)


def _registry_url(registry: str) -> str:
    if re.fullmatch(r"NCT\d{8}", registry):
        return f"https://clinicaltrials.gov/study/{registry}"
    if re.fullmatch(r"ISRCTN\d{8}", registry):
        return f"https://www.isrctn.com/{registry}"
    return ""
