"""Reading `references.bib`: BibTeX text -> checked `Reference` values.

Input: the text of the bibliography file and its display path. Output: references in file order
(LaTeX decoded to Unicode, protective braces dropped, names split, corporate names kept whole)
and the problems found, each at the `.bib` file's own line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import bibtexparser
from bibtexparser.middlewares.names import (
    parse_single_name_into_parts,
    split_multiple_persons_names,
)
from bibtexparser.model import DuplicateBlockKeyBlock, DuplicateFieldKeyBlock
from pylatexenc.latex2text import LatexNodes2Text

from .problems import Problem, did_you_mean, error, warning

ENTRY_TYPES = frozenset(
    {
        "article",
        "book",
        "booklet",
        "inbook",
        "incollection",
        "inproceedings",
        "conference",
        "manual",
        "mastersthesis",
        "phdthesis",
        "misc",
        "online",
        "electronic",
        "www",
        "report",
        "techreport",
        "unpublished",
        "software",
        "dataset",
        "proceedings",
    }
)
FIELDS = frozenset(
    {
        "author",
        "title",
        "journal",
        "journaltitle",
        "booktitle",
        "year",
        "date",
        "month",
        "volume",
        "number",
        "issue",
        "pages",
        "eid",
        "publisher",
        "address",
        "location",
        "edition",
        "editor",
        "institution",
        "organization",
        "school",
        "series",
        "howpublished",
        "url",
        "urldate",
        "doi",
        "pmid",
        "pmcid",
        "registry",
        "isbn",
        "issn",
        "language",
        "note",
        "abstract",
        "keywords",
        "type",
        "version",
        "chapter",
    }
)
_FORMATS = {
    "doi": (re.compile(r"^10\.\d{4,9}/\S+$"), "a DOI looks like 10.1234/abc"),
    "pmid": (re.compile(r"^[1-9]\d{0,8}$"), "a PMID is a number"),
    "pmcid": (re.compile(r"^PMC\d+$"), "a PMCID looks like PMC1234567"),
    "year": (re.compile(r"^\d{4}$"), "a year has four digits"),
    "url": (re.compile(r"^https?://\S+$"), "a URL starts with http:// or https://"),
}
_LATEX = LatexNodes2Text(math_mode="verbatim", keep_comments=False)
_BARE_SPECIAL = re.compile(r"(?<!\\)([%&#])")
# Identifiers and addresses are verbatim: LaTeX decoding would eat their `%`, `&` and `~`.
VERBATIM_FIELDS = frozenset({"doi", "pmid", "pmcid", "registry", "url", "urldate", "isbn", "issn"})
_SWALLOWED_FIELD = re.compile(r"\n\s*([A-Za-z]+)\s*=\s*[{\"0-9]")


@dataclass(frozen=True)
class Name:
    family: str = ""
    given: str = ""
    particle: str = ""
    suffix: str = ""
    literal: str = ""  # a corporate author written in double braces


@dataclass(frozen=True)
class Reference:
    key: str
    entry_type: str
    fields: tuple[tuple[str, str], ...]  # decoded to Unicode, in file order
    authors: tuple[Name, ...]
    editors: tuple[Name, ...]
    line: int
    raw: str  # the entry as written, for downloads

    def get(self, name: str, default: str = "") -> str:
        return next((value for key, value in self.fields if key == name), default)

    @property
    def year(self) -> str:
        return self.get("year") or self.get("date")[:4]


def latex_to_text(value: str) -> str:
    """Decode LaTeX markup to Unicode text; a bare `%`, `&` or `#` is text here, as editors mean."""
    decoded: str = _LATEX.latex_to_text(_BARE_SPECIAL.sub(r"\\\1", value))
    return " ".join(decoded.split())


def parse_names(value: str) -> tuple[Name, ...]:
    names = []
    for person in split_multiple_persons_names(value):
        person = person.strip()
        if person.startswith("{") and person.endswith("}") and _balanced_inner(person):
            names.append(Name(literal=latex_to_text(person[1:-1])))
            continue
        parts = parse_single_name_into_parts(person, strict=False)
        names.append(
            Name(
                family=latex_to_text(" ".join(parts.last)),
                given=latex_to_text(" ".join(parts.first)),
                particle=latex_to_text(" ".join(parts.von)),
                suffix=latex_to_text(" ".join(parts.jr)),
            )
        )
    return tuple(names)


def _balanced_inner(text: str) -> bool:
    """True when the outer braces of `text` enclose all of it (`{A} and {B}` is not)."""
    depth = 0
    for index, char in enumerate(text):
        depth += {"{": 1, "}": -1}.get(char, 0)
        if depth == 0 and index < len(text) - 1:
            return False
    return depth == 0


def load_bibliography(text: str, path: str) -> tuple[list[Reference], list[Problem]]:
    problems: list[Problem] = []
    library = bibtexparser.parse_string(text)  # type: ignore[attr-defined]
    for block in library.failed_blocks:
        line = (block.start_line or 0) + 1
        raw = block.raw or ""
        if isinstance(block, DuplicateBlockKeyBlock):
            problems.append(error(path, line, f"duplicate entry key '{block.key}'"))
        elif isinstance(block, DuplicateFieldKeyBlock):
            duplicated = ", ".join(sorted(block.duplicate_keys))
            key = getattr(block.ignore_error_block, "key", "") or _key_from_raw(raw)
            problems.append(error(path, line, f"entry '{key}' gives {duplicated} more than once"))
        else:
            key = _key_from_raw(raw)
            what = f"entry '{key}'" if key else "entry"
            problems.append(
                error(path, line, f"{what} could not be read: {_first_line(str(block.error))}")
            )
    references: list[Reference] = []
    seen_doi: dict[str, str] = {}
    for entry in library.entries:
        line = (entry.start_line or 0) + 1
        entry_type = entry.entry_type.lower()
        if entry_type not in ENTRY_TYPES:
            problems.append(
                error(
                    path,
                    line,
                    f"entry '{entry.key}' has unknown type "
                    f"'@{entry_type}'{did_you_mean(entry_type, ENTRY_TYPES)}",
                )
            )
        fields: list[tuple[str, str]] = []
        for fld in entry.fields:
            name = fld.key.lower()
            field_line = (fld.start_line or entry.start_line or 0) + 1
            if name not in FIELDS:
                problems.append(
                    warning(
                        path,
                        field_line,
                        f"entry '{entry.key}': unknown field "
                        f"'{name}' is ignored{did_you_mean(name, FIELDS)}",
                    )
                )
                continue
            raw_value = str(fld.value)
            # bibtexparser reads `title = {x}<newline> doi = {y}` as one value: a missing comma.
            swallowed = _SWALLOWED_FIELD.search(raw_value)
            if swallowed:
                problems.append(
                    error(
                        path,
                        field_line + raw_value[: swallowed.start()].count("\n") + 1,
                        f"entry '{entry.key}': missing comma before field '{swallowed.group(1)}'",
                    )
                )
                raw_value = raw_value[: swallowed.start()].strip().strip("{}")
            if name in ("author", "editor") or name in VERBATIM_FIELDS:
                value = " ".join(raw_value.split())
            else:
                value = latex_to_text(raw_value)
            fmt = _FORMATS.get(name)
            if fmt and not fmt[0].match(value):
                problems.append(
                    error(
                        path,
                        field_line,
                        f"entry '{entry.key}': {name} '{value}' is not well-formed ({fmt[1]})",
                    )
                )
            fields.append((name, value))
        values = dict(fields)
        if "title" not in values:
            problems.append(error(path, line, f"entry '{entry.key}' has no title"))
        doi = values.get("doi", "").lower()
        if doi:
            if doi in seen_doi:
                problems.append(
                    error(path, line, f"entry '{entry.key}' has the same DOI as '{seen_doi[doi]}'")
                )
            else:
                seen_doi[doi] = entry.key
        references.append(
            Reference(
                key=entry.key,
                entry_type=entry_type,
                fields=tuple((k, v) for k, v in fields if k not in ("author", "editor")),
                authors=parse_names(values.get("author", "")),
                editors=parse_names(values.get("editor", "")),
                line=line,
                raw=entry.raw or "",
            )
        )
    return references, problems


def _key_from_raw(raw: str) -> str:
    match = re.match(r"\s*@\w+\s*[{(]\s*([^,\s]+)", raw)
    return match.group(1) if match else ""


def _first_line(text: str) -> str:
    return " ".join(text.strip().splitlines()[:2]) if text.strip() else "syntax error"
