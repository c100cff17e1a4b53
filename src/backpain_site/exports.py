"""Reference downloads: `Reference` values -> the bytes of BibTeX, RIS and CSL-JSON files.

Input: references (one, a page's or the whole bibliography). Output: file contents, in the
order given; nothing is written here (render returns them, writer.py writes them). BibTeX is
made from each field as the editor wrote it, so `{MRI}` and `M{\\"u}ller` reach a reference
manager unchanged; RIS follows the tags Zotero reads (TY first, ER last in every record);
CSL-JSON is exactly what the site formats. The editors' `note` field records how each entry
was checked and is not for readers, so no download carries it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import fields
from functools import partial, wraps
from typing import Any, TypeVar

from .bibliography import Name, Reference
from .cache import digest, remember
from .csl_data import forget_csl_items, to_csl_json

FORMATS = (("bib", "BibTeX"), ("ris", "RIS"), ("json", "CSL-JSON"))
MEDIA_TYPES = {
    "bib": "application/x-bibtex",
    "ris": "application/x-research-info-systems",
    "json": "application/vnd.citationstyles.csl+json",
}
PRIVATE_FIELDS = frozenset({"note"})
_MONTH_MACROS = frozenset(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
)
_LATEX_SPECIAL = re.compile(r"([&%$#_{}])")
_KEPT = 65536  # references whose entries are kept (more than a site has, so none made twice)
T = TypeVar("T")
_RIS_TYPES = {
    "article": "JOUR",
    "book": "BOOK",
    "booklet": "PAMP",
    "inbook": "CHAP",
    "incollection": "CHAP",
    "inproceedings": "CPAPER",
    "conference": "CPAPER",
    "proceedings": "CONF",
    "manual": "BOOK",
    "mastersthesis": "THES",
    "phdthesis": "THES",
    "online": "ELEC",
    "electronic": "ELEC",
    "www": "ELEC",
    "report": "RPRT",
    "techreport": "RPRT",
    "unpublished": "UNPB",
    "software": "COMP",
    "dataset": "DATA",
    "misc": "GEN",
}


# Every `_per_reference` function's entries (`let_go`).
_MADE: list[dict[int, Any]] = []


def let_go() -> None:
    """Forget every entry made for the downloads, and the CSL items they were made from: for a
    render worker that has made its downloads and goes on to pages, which need few of them (at
    10,000 studies, about 30 MB in the worker that made the whole bibliography's files, left
    for the pages it renders next to use)."""
    for made in _MADE:
        made.clear()
    forget_csl_items()


def _per_reference(function: Callable[[Reference], T]) -> Callable[[Reference], T]:
    """`function(reference)`, made once per reference object. A reference is in several
    downloads (its own page's, its lists', the whole bibliography's), each asking for its
    entry; looking entries up by value (functools.lru_cache) hashed every field, name and
    tuple of the reference at each lookup: over a second of a cold build at 10,000 studies.
    Kept by identity, with the reference itself, so an id is never reused while its entry is
    kept; a reference changed by an edit is a new object (references are frozen)."""
    made: dict[int, tuple[Reference, T]] = {}
    _MADE.append(made)

    @wraps(function)
    def call(reference: Reference) -> T:
        seen = made.get(id(reference))
        if seen is not None and seen[0] is reference:
            return seen[1]
        if len(made) >= _KEPT:
            made.clear()
        value = function(reference)
        made[id(reference)] = (reference, value)
        return value

    return call


def bibtex(references: Iterable[Reference]) -> bytes:
    return "\n".join(_bibtex_entry(r) for r in references).encode("utf-8")


@_per_reference
def _bibtex_entry(reference: Reference) -> str:
    written = reference.source_fields or _written_fields(reference)
    fields = [(name, value) for name, value in written if name not in PRIVATE_FIELDS]
    width = max((len(name) for name, _ in fields), default=0)
    lines = [f"@{reference.entry_type}{{{reference.key},"]
    for name, value in fields:
        shown = value if name == "month" and value in _MONTH_MACROS else f"{{{value}}}"
        lines.append(f"  {name.ljust(width)} = {shown},")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _written_fields(reference: Reference) -> list[tuple[str, str]]:
    """For a reference made in code (no source text): its decoded fields, LaTeX-escaped."""
    people = [
        (role, " and ".join(_bibtex_name(n) for n in names))
        for role, names in (("author", reference.authors), ("editor", reference.editors))
        if names
    ]
    escaped = [(k, _LATEX_SPECIAL.sub(r"\\\1", v)) for k, v in reference.fields]
    return people + escaped


def _bibtex_name(name: Name) -> str:
    if name.literal:
        return "{" + _LATEX_SPECIAL.sub(r"\\\1", name.literal) + "}"
    family = " ".join(p for p in (name.particle, name.family) if p)
    return ", ".join(p for p in (family, name.suffix, name.given) if p)


def ris(references: Iterable[Reference]) -> bytes:
    return "\n".join(_ris_record(r) for r in references).encode("utf-8")


@_per_reference
def _ris_record(reference: Reference) -> str:
    tags: list[tuple[str, str]] = [("TY", _ris_type(reference))]
    tags += [("AU", _ris_name(n)) for n in reference.authors]
    tags += [("ED", _ris_name(n)) for n in reference.editors]
    tags.append(("TI", reference.get("title")))
    container = (
        reference.get("journal") or reference.get("journaltitle") or reference.get("booktitle")
    )
    tags.append(("T2", container))
    tags.append(("T3", reference.get("series")))
    year = reference.year
    tags.append(("PY", year if year.isdigit() else ""))
    item = to_csl_json(reference)
    issued = item.get("issued", {}).get("date-parts", [[]])[0]
    if len(issued) > 1:
        tags.append(("DA", "/".join(f"{p:02d}" if i else str(p) for i, p in enumerate(issued))))
    tags.append(("VL", reference.get("volume")))
    tags.append(("IS", reference.get("number") or reference.get("issue")))
    pages = reference.get("pages") or reference.get("eid")
    first, *last = re.split(r"\s*[-\u2013\u2014]+\s*", pages, maxsplit=1)
    tags += [("SP", first), ("EP", last[0] if last else "")]
    tags.append(("ET", reference.get("edition")))
    publisher = next(
        (
            reference.get(n)
            for n in ("publisher", "institution", "school", "organization")
            if reference.get(n)
        ),
        "",
    )
    tags.append(("PB", publisher))
    tags.append(("CY", reference.get("address") or reference.get("location")))
    tags.append(("M3", reference.get("type")))
    tags.append(("SN", reference.get("issn") or reference.get("isbn")))
    tags.append(("DO", reference.get("doi")))
    tags.append(("UR", reference.get("url")))
    tags.append(("Y2", reference.get("urldate")))
    if reference.get("pmid"):
        # PubMed's accession number, the way Zotero and PubMed's own RIS carry it.
        tags += [("DB", "PubMed"), ("AN", reference.get("pmid"))]
    tags.append(("LA", reference.get("language")))
    tags.append(("AB", reference.get("abstract")))
    if reference.get("pmcid"):
        tags.append(("N1", f"PMCID: {reference.get('pmcid')}"))
    if reference.get("registry"):
        tags.append(("N1", f"Trial registration: {reference.get('registry')}"))
    tags.append(("ID", reference.key))
    lines = [f"{tag}  - {_one_line(value)}" for tag, value in tags if value]
    return "\n".join([*lines, "ER  - "]) + "\n"


def _ris_type(reference: Reference) -> str:
    if reference.entry_type == "inbook" and not reference.get("booktitle"):
        return "BOOK"
    return _RIS_TYPES.get(reference.entry_type, "GEN")


def _ris_name(name: Name) -> str:
    if name.literal:
        return name.literal
    family = " ".join(p for p in (name.particle, name.family) if p)
    return ", ".join(p for p in (family, name.given, name.suffix) if p)


def _one_line(value: str) -> str:
    return " ".join(value.split())


def csl_json(references: Iterable[Reference]) -> bytes:
    items = ",\n".join(_csl_json_item(r) for r in references)
    return (f"[\n{items}\n]\n" if items else "[]\n").encode("utf-8")


@_per_reference
def _csl_json_item(reference: Reference) -> str:
    text = json.dumps(to_csl_json(reference), ensure_ascii=False, indent=2)
    return "\n".join("  " + line for line in text.split("\n"))


_REFERENCE_FIELDS = tuple(f.name for f in fields(Reference))


@_per_reference
def _reference_digest(reference: Reference) -> bytes:
    """Everything a reference holds, digested once: a reference is in several downloads (its
    own page's, its list's, the whole bibliography's), each in three formats. Kept per
    reference object (`_per_reference`): a changed reference is a new object, so it never
    finds an old digest."""
    return digest(*(getattr(reference, name) for name in _REFERENCE_FIELDS))


def export(references: Iterable[Reference], extension: str) -> bytes:
    """The file for one of `FORMATS` ('bib', 'ris' or 'json').

    Remembered (cache.py) so that a warm build does not make unchanged downloads again."""
    listed = list(references)
    key = digest("export", extension, [_reference_digest(r) for r in listed])
    return remember("exports", key, partial(_export, listed, extension))


def export_key(references: Sequence[Reference], extension: str) -> bytes:
    """What the file of `references` in `extension` is made from (every field of each, in
    order), digested: render remembers the digest of the file's bytes under it, so a build
    finds an unchanged download on disk without making it, or holding it, again."""
    return digest("export file", extension, [_reference_digest(r) for r in references])


def make_export(references: Sequence[Reference], extension: str) -> bytes:
    """`export`, not remembered: for a caller that keeps only the file's digest."""
    return _export(list(references), extension)


def _export(references: list[Reference], extension: str) -> bytes:
    by_extension = {"bib": bibtex, "ris": ris, "json": csl_json}
    return by_extension[extension](references)
