"""Reading `references.bib`: BibTeX text -> checked `Reference` values.

Input: the text of the bibliography file and its display path. Output: references in file order
(LaTeX decoded to Unicode, protective braces dropped, names split, corporate names kept whole)
and the problems found, each at the `.bib` file's own line.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import TYPE_CHECKING, Any

from .problems import Problem, did_you_mean, error, warning

if TYPE_CHECKING:
    from bibtexparser.model import ImplicitComment

# bibtexparser and pylatexenc are imported where they are used: a fast edit (edit_path.py)
# reads references from its snapshot and parses none, and importing them (with the LaTeX
# database pylatexenc builds) took about 20 ms of it.

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
    # Identifiers become links, so quotes, angle brackets and spaces are refused, not escaped.
    "doi": (re.compile(r'^10\.\d{4,9}/[^\s"<>\\]+$'), "a DOI looks like 10.1234/abc"),
    "pmid": (re.compile(r"^[1-9]\d{0,8}$"), "a PMID is a number"),
    "pmcid": (re.compile(r"^PMC\d+$"), "a PMCID looks like PMC1234567"),
    "registry": (
        re.compile(r"^(NCT\d{8}|ISRCTN\d{8}|(?!NCT|ISRCTN)[A-Za-z][\w/.-]*\d[\w/.-]*)$"),
        "a trial registration looks like NCT01234567 or ISRCTN12345678",
    ),
    "year": (re.compile(r"^\d{4}$"), "a year has four digits"),
    "url": (
        re.compile(r'^https?://[^\s"<>\\^`{|}]+$'),
        "a URL starts with http:// or https:// and has no spaces, quotes or angle brackets",
    ),
}
# A key must be citable as `[@key]` (citations.CITATION) and end in a letter or digit.
_KEY = re.compile(r"^[\w:.+/-]*[^\W_]$")


@lru_cache(maxsize=1)
def _latex() -> tuple[Any, Any]:
    """pylatexenc's decoder and the database it parses with: pylatexenc builds the database
    on every call unless given one, and parsing only reads it."""
    from pylatexenc.latex2text import LatexNodes2Text
    from pylatexenc.latexwalker import get_default_latex_context_db

    return LatexNodes2Text(math_mode="verbatim", keep_comments=False), (
        get_default_latex_context_db()
    )


# Text without any of these has nothing for LaTeX decoding to change (dashes and quotes too).
_LATEX_MARKUP = re.compile(r"[\\{}$~%&#^_`]|--|''")
_MAX_BRACE_DEPTH = 20  # pylatexenc recurses once per level; real titles need two or three
# Decoding LaTeX costs about 6 microseconds a character, so what one entry may cost is capped
# (the file itself may be large: a real bibliography of 10,000 entries with abstracts is 20 MB).
MAX_ENTRY_CHARS = 65_536  # some 30 times a real entry with a long abstract
MAX_FIELD_CHARS = 16_000  # an abstract of 2,500 words
# What a browser starts reading as markup: '<' then a letter, '/', '!' or '?'. A tag need not be
# closed to be one (the next '>' in the page would close it), so none of it may reach a page.
_HTML_MARKUP = re.compile(r"<[A-Za-z/!?][^<>\s]{0,30}>?")
# Both libraries log parse trouble to stderr; every problem is reported here instead.
for _library in ("bibtexparser", "pylatexenc"):
    logging.getLogger(_library).addHandler(logging.NullHandler())
    logging.getLogger(_library).propagate = False
_BARE_SPECIAL = re.compile(r"(?<!\\)([%&#])")
_FIELD_NAME = {name: name for name in FIELDS}  # one string per known name (see its use)
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


Segments = tuple[tuple[str, bool], ...]  # (text, protected from case changes)


@dataclass(frozen=True)
class Reference:
    key: str
    entry_type: str
    fields: tuple[tuple[str, str], ...]  # decoded to Unicode, in file order
    authors: tuple[Name, ...]
    editors: tuple[Name, ...]
    line: int
    # Every known field as written (LaTeX and braces kept), author and editor included: downloads
    # are made from these, so `{MRI}` and `M{\"u}ller` reach a reader's BibTeX as the editor wrote.
    source_fields: tuple[tuple[str, str], ...] = ()
    # Text fields holding `{Protected}` words, split into (text, protected) runs.
    cased: tuple[tuple[str, Segments], ...] = ()

    def get(self, name: str, default: str = "") -> str:
        return self._by_name.get(name, default)

    @cached_property
    def _by_name(self) -> dict[str, str]:
        found: dict[str, str] = {}
        for key, value in self.fields:
            found.setdefault(key, value)  # the first, as the file gives it
        return found

    def segments(self, name: str) -> Segments:
        """A text field as runs of plain and case-protected text (one plain run if none)."""
        found = next((runs for key, runs in self.cased if key == name), None)
        if found is not None:
            return found
        value = self.get(name)
        return ((value, False),) if value else ()

    @property
    def year(self) -> str:
        return self.get("year") or self.get("date")[:4]


class LatexTooDeep(ValueError):
    """LaTeX nested so deeply (environments in environments...) that decoding it would recurse
    past Python's limit."""


def _decode_latex(text: str) -> str:
    plain = _plain_latex(text)
    return plain if plain is not None else _pylatexenc(text)


@lru_cache(maxsize=4096)  # names and journals recur across entries; each costs ~0.3 ms
def _pylatexenc(text: str) -> str:
    try:
        decoder, context = _latex()
        decoded: str = decoder.latex_to_text(text, latex_context=context)
    except RecursionError as exc:
        raise LatexTooDeep(text[:40]) from exc
    return decoded


_NOT_PLAIN = re.compile(r"[\\$~%&#^_`]|''")
_BRACE = re.compile(r"[{}]")
_DASHES = re.compile(r"---|--")
_DASH = {"---": "\u2014", "--": "\u2013"}


def _plain_latex(text: str) -> str | None:
    """What pylatexenc makes of text whose only markup is balanced, shallow `{}` groups and
    dashes (most titles and page ranges), without its tokenizer: a third of a millisecond per
    field at 10,000 entries. None for anything else, which pylatexenc decodes. A group is a
    boundary that dashes do not run across (`{-}-` stays two hyphens), as in pylatexenc;
    a test compares the two on generated text."""
    if _NOT_PLAIN.search(text):
        return None
    depth = 0
    for brace in _BRACE.findall(text):
        depth += 1 if brace == "{" else -1
        if depth < 0 or depth > _MAX_BRACE_DEPTH:
            return None
    if depth:
        return None
    return "".join(
        _DASHES.sub(lambda m: _DASH[m.group()], chunk) if "--" in chunk else chunk
        for chunk in _BRACE.split(text)
    )


def latex_to_text(value: str) -> str:
    """Decode LaTeX markup to Unicode text; a bare `%`, `&` or `#` is text here, as editors mean."""
    if not _LATEX_MARKUP.search(value):
        return " ".join(value.split())
    return " ".join(_decode_latex(_BARE_SPECIAL.sub(r"\\\1", value)).split())


def brace_depth(value: str) -> int:
    """How deeply `{}` nest in `value` (escaped braces aside)."""
    depth = deepest = 0
    for match in re.finditer(r"(?<!\\)[{}]", value):
        depth += 1 if match.group() == "{" else -1
        deepest = max(deepest, depth)
    return deepest


def protected_segments(value: str) -> Segments:
    """Split a BibTeX value at its top-level brace groups: `an {iPhone} app` gives
    ('an', False), ('iPhone', True), ('app', False) with their spaces. A group that starts with a
    command (`{\\"u}`, `{\\O}`) is a special character, not a protected word. Runs are decoded."""
    runs: list[tuple[str, bool]] = []
    plain = ""
    index = 0
    while index < len(value):
        char = value[index]
        if char == "\\":
            plain += value[index : index + 2]
            index += 2
            continue
        end = _closing_brace(value, index) if char == "{" else None
        if end is None:
            plain += char
            index += 1
            continue
        inner = value[index + 1 : end]
        if inner.startswith("\\"):
            plain += value[index : end + 1]
        else:
            runs += [(plain, False), (inner, True)]
            plain = ""
        index = end + 1
    runs.append((plain, False))
    decoded = [(_decode_run(text), protected) for text, protected in runs if text]
    # Joined, the runs read exactly as `latex_to_text` of the whole value does.
    return tuple((text, protected) for text, protected in _trim(decoded) if text)


def _closing_brace(value: str, start: int) -> int | None:
    depth = 0
    index = start
    while index < len(value):
        char = value[index]
        if char == "\\":
            index += 2
            continue
        depth += {"{": 1, "}": -1}.get(char, 0)
        if depth == 0:
            return index
        index += 1
    return None


def _decode_run(text: str) -> str:
    decoded = _decode_latex(_BARE_SPECIAL.sub(r"\\\1", text))
    collapsed = " ".join(decoded.split())
    lead = " " if decoded[:1].isspace() and collapsed else ""
    trail = " " if decoded[-1:].isspace() and collapsed else ""
    return f"{lead}{collapsed}{trail}" if collapsed else (" " if decoded else "")


def _trim(runs: list[tuple[str, bool]]) -> list[tuple[str, bool]]:
    """Drop the outer spaces and double spaces at run seams, as `latex_to_text` does."""
    out: list[tuple[str, bool]] = []
    for text, protected in runs:
        if out and out[-1][0].endswith(" ") and text.startswith(" "):
            text = text[1:]
        out.append((text, protected))
    if out:
        out[0] = (out[0][0].lstrip(), out[0][1])
        out[-1] = (out[-1][0].rstrip(), out[-1][1])
    return out


def parse_names(value: str) -> tuple[Name, ...]:
    from bibtexparser.middlewares.names import (
        parse_single_name_into_parts,
        split_multiple_persons_names,
    )

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
    import bibtexparser
    from bibtexparser.exceptions import BlockAbortedException
    from bibtexparser.model import DuplicateBlockKeyBlock, DuplicateFieldKeyBlock, ImplicitComment

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
                error(path, line, f"{what} could not be read: {_why_unreadable(block.error, text)}")
            )
    # Where each unreadable entry stopped: what follows is its own remains, already reported.
    stopped = {
        (b.start_line or 0) + (b.raw or "").count("\n")
        for b in library.failed_blocks
        if isinstance(b.error, BlockAbortedException)
    }
    for comment in library.comments:
        # Text between entries is a comment to BibTeX, so a broken entry's remains would vanish.
        if isinstance(comment, ImplicitComment) and comment.start_line not in stopped:
            problems.extend(_stray_text(comment, path))
    references: list[Reference] = []
    seen_doi: dict[str, str] = {}
    seen_pmid: dict[str, str] = {}
    for entry in library.entries:
        line = (entry.start_line or 0) + 1
        entry_type = entry.entry_type.lower()
        size = len(entry.raw or "")
        if size > MAX_ENTRY_CHARS:
            problems.append(
                error(
                    path,
                    line,
                    f"entry '{entry.key}' is {size:,} characters long (at most "
                    f"{MAX_ENTRY_CHARS:,}); is a closing brace missing, or a field far too long?",
                )
            )
            continue
        if not _KEY.match(entry.key):
            problems.append(
                error(
                    path,
                    line,
                    f"entry key '{entry.key}' cannot be cited; use letters, digits "
                    "and : . + / - _ (e.g. 'smith2020trial')",
                )
            )
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
        source: list[tuple[str, str]] = []
        cased: list[tuple[str, Segments]] = []
        given: set[str] = set()
        for fld in entry.fields:
            name = fld.key.lower()
            field_line = (fld.start_line or entry.start_line or 0) + 1
            if name in given:  # bibtexparser only catches repeats spelled in the same case
                problems.append(
                    error(path, field_line, f"entry '{entry.key}' gives {name} more than once")
                )
                continue
            given.add(name)
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
            # The known name's own string, and a value equal to the text as written shared
            # with it: at 10,000 references each entry's copies were about 0.8 KB, kept by the
            # build from start to end (and by every render worker).
            name = _FIELD_NAME[name]
            raw_value = str(fld.value)
            if len(raw_value) > MAX_FIELD_CHARS:
                problems.append(
                    error(
                        path,
                        field_line,
                        f"entry '{entry.key}': {name} is {len(raw_value):,} characters long "
                        f"(at most {MAX_FIELD_CHARS:,}); shorten it",
                    )
                )
                continue
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
            if brace_depth(raw_value) > _MAX_BRACE_DEPTH:
                problems.append(
                    error(
                        path,
                        field_line,
                        f"entry '{entry.key}': {name} has braces nested more than "
                        f"{_MAX_BRACE_DEPTH} deep",
                    )
                )
                raw_value = re.sub(r"[{}\\]", "", raw_value)  # read the rest as plain text
            # Fields with a format of their own are checked (and refused) by it.
            markup = _HTML_MARKUP.search(raw_value) if name not in _FORMATS else None
            if markup:
                problems.append(
                    error(
                        path,
                        field_line,
                        f"entry '{entry.key}': {name} holds HTML ('{markup.group()}'); "
                        "write plain text, or LaTeX such as \\emph{...} for italics",
                    )
                )
            written = raw_value.strip()
            source.append((name, written))
            if name in ("author", "editor") or name in VERBATIM_FIELDS:
                value = " ".join(raw_value.split())
            else:
                try:
                    value = latex_to_text(raw_value)
                    runs = protected_segments(raw_value) if "{" in raw_value else ()
                except LatexTooDeep:
                    problems.append(_too_deep(path, field_line, entry.key, name))
                    value, runs = " ".join(re.sub(r"[{}\\]", " ", raw_value).split()), ()
                if any(protected for _, protected in runs):
                    cased.append((name, runs))
            fmt = _FORMATS.get(name)
            if fmt and not fmt[0].match(value):
                problems.append(
                    error(
                        path,
                        field_line,
                        f"entry '{entry.key}': {name} '{value}' is not well-formed "
                        f"({_identifier_hint(name, value) or fmt[1]})",
                    )
                )
            fields.append((name, written if value == written else value))
        values = dict(fields)
        if "title" not in values:
            problems.append(error(path, line, f"entry '{entry.key}' has no title"))
        # A DOI is case-insensitive; a PubMed ID is a number. Either names one article.
        for field, label, seen in (("doi", "DOI", seen_doi), ("pmid", "PMID", seen_pmid)):
            identifier = values.get(field, "").lower()
            if not identifier:
                continue
            if identifier in seen:
                problems.append(
                    error(
                        path,
                        line,
                        f"entry '{entry.key}' has the same {label} as '{seen[identifier]}'",
                    )
                )
            else:
                seen[identifier] = entry.key
        try:
            authors = parse_names(values.get("author", ""))
            editors = parse_names(values.get("editor", ""))
        except LatexTooDeep:
            problems.append(_too_deep(path, line, entry.key, "author or editor"))
            authors = editors = ()
        references.append(
            Reference(
                key=entry.key,
                entry_type=entry_type,
                fields=tuple((k, v) for k, v in fields if k not in ("author", "editor")),
                authors=authors,
                editors=editors,
                line=line,
                source_fields=tuple(source),
                cased=tuple(cased),
            )
        )
    return references, problems


_DOI_URL = re.compile(r"^(?:https?://(?:dx\.)?doi\.org/|doi:\s*)(10\..+)$", re.IGNORECASE)
_PREFIXED_ID = re.compile(r"^(?:PMID|PMCID)\s*:?\s*(PMC\d+|\d+)$", re.IGNORECASE)


def _identifier_hint(name: str, value: str) -> str:
    """The fix for an identifier written as a link or with its label, if that is the mistake."""
    url = _DOI_URL.match(value) if name == "doi" else None
    if url:
        return f"write the DOI alone: '{url.group(1)}'"
    labelled = _PREFIXED_ID.match(value) if name in ("pmid", "pmcid") else None
    if labelled and _FORMATS[name][0].match(labelled.group(1)):
        return f"write the {name.upper()} alone: '{labelled.group(1)}'"
    return ""


def _key_from_raw(raw: str) -> str:
    match = re.match(r"\s*@\w+\s*[{(]\s*([^,\s]+)", raw)
    return match.group(1) if match else ""


def _first_line(text: str) -> str:
    return " ".join(text.strip().splitlines()[:2]) if text.strip() else "syntax error"


_ABORT_REASONS = (
    (re.compile(r"Unexpectedly reached end of file"), "it is not closed before the file ends"),
    (re.compile(r"closing `\"`"), "a closing '\"' is missing before the entry on line {next}"),
    (
        re.compile(r"Was still looking for"),
        "a closing '}}' is missing before the entry on line {next}",
    ),
    (re.compile(r"Expected comma after entry key"), "a ',' is missing after the entry key"),
    (re.compile(r"Expected a `=` after entry key `([^`]*)`"), "field '{0}' has no '= value'"),
    (re.compile(r"Expected (?:a `=`|equals sign) after"), "a field name is not followed by '='"),
    (re.compile(r"after a closed entry field value"), "a ',' is missing after a field value"),
)


def _why_unreadable(exc: Exception | None, text: str) -> str:
    """bibtexparser's reason for dropping an entry, in an editor's words."""
    from bibtexparser.exceptions import BlockAbortedException

    if not isinstance(exc, BlockAbortedException):
        return _first_line(str(exc or ""))
    # bibtexparser counts from a newline it puts before the text.
    next_line = text[: exc.end_index].count("\n") + 1 if exc.end_index else 0
    for pattern, message in _ABORT_REASONS:
        found = pattern.search(exc.abort_reason)
        if found:
            return message.format(*found.groups(), next=next_line)
    return _first_line(exc.abort_reason.replace("`", "'"))


def _too_deep(path: str, line: int, key: str, name: str) -> Problem:
    return error(path, line, f"entry '{key}': {name} nests LaTeX too deeply to read")


def _stray_text(comment: ImplicitComment, path: str) -> list[Problem]:
    """Pieces of a broken entry left between entries: a line starting with '@', '{' or '}'."""
    for offset, text in enumerate((comment.raw or "").split("\n")):
        if text.strip()[:1] in ("@", "{", "}"):
            line = (comment.start_line or 0) + 1 + offset
            return [
                error(
                    path,
                    line,
                    f"'{text.strip()[:40]}' is outside any entry, so BibTeX ignores it "
                    "(a broken entry or a stray brace?)",
                )
            ]
    return []
