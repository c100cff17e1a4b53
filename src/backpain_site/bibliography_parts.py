"""Reading `references.bib` one entry at a time, so that an edit re-reads only its entry.

Input: the bibliography's text, its display path and a `Memo`. Output: exactly what
`load_bibliography` gives for the whole text (references and problems, at the file's lines).
The text is cut before every line that starts with `@`, each part is read alone (and
remembered under the digest of its text), and the line numbers are moved back into place.

Reading parts alone gives the same answer as reading the whole only when every part is one
clean entry: so whenever any part has an error, is not exactly one entry, or when two entries
share a key or a DOI (checks that need the whole file), the whole text is read at once instead.
Keep `CROSS_ENTRY` in step with any check `load_bibliography` makes across entries.
"""

from __future__ import annotations

import dataclasses
import itertools
from dataclasses import dataclass
from functools import partial

from .bibliography import Reference, load_bibliography
from .cache import Memo, digest
from .problems import Problem, Severity

# The checks `load_bibliography` makes across entries, which parts read alone cannot see.
CROSS_ENTRY = ("duplicate keys", "duplicate DOIs")


@dataclass(frozen=True)
class Part:
    text: str
    first_line: int  # 0-based line of the whole text where this part starts


ParsedPart = tuple[tuple[Reference, ...], tuple[Problem, ...]]


def split_parts(text: str) -> list[Part]:
    """Cut before each line starting with '@'; the text before the first is a part too."""
    lines = text.split("\n")
    starts = [i for i, line in enumerate(lines) if line.startswith("@")]
    if not starts or starts[0] != 0:
        starts.insert(0, 0)
    bounds = [*starts, len(lines)]
    return [Part("\n".join(lines[start:end]), start) for start, end in itertools.pairwise(bounds)]


def parse_part(text: str, path: str) -> ParsedPart:
    references, problems = load_bibliography(text, path)
    return tuple(references), tuple(problems)


def part_key(part: Part, path: str) -> bytes:
    return digest("bib-part", path, part.text)


def _placed(parsed: ParsedPart, offset: int) -> ParsedPart:
    """A part read alone, its lines moved to where it sits (an entry added above moves it)."""
    found, problems = parsed
    if not offset:
        return parsed
    return (
        tuple(dataclasses.replace(r, line=r.line + offset) for r in found),
        tuple(dataclasses.replace(p, line=p.line + offset) if p.line else p for p in problems),
    )


def load_bibliography_in_parts(
    text: str, path: str, memo: Memo
) -> tuple[list[Reference], list[Problem]]:
    if not memo.enabled:
        return load_bibliography(text, path)
    parts = split_parts(text)
    placed = [
        _placed(
            memo.get("bibliography", part_key(part, path), partial(parse_part, part.text, path)),
            part.first_line,
        )
        for part in parts
    ]
    if not _each_part_clean(parts, placed):
        return load_bibliography(text, path)
    references = [r for found, _ in placed for r in found]
    if _shared_keys_or_dois(references):
        return load_bibliography(text, path)
    return references, [p for _, problems in placed for p in problems]


def _each_part_clean(parts: list[Part], parsed: list[ParsedPart]) -> bool:
    for index, (part, (references, problems)) in enumerate(zip(parts, parsed, strict=True)):
        if any(p.severity is Severity.ERROR for p in problems):
            return False
        entries_expected = 1 if part.text.startswith("@") else 0
        if index == 0 and entries_expected == 0 and "@" in part.text:
            return False  # text before the first entry that bibtexparser may read as a block
        if len(references) != entries_expected:
            return False
    return True


def _shared_keys_or_dois(references: list[Reference]) -> bool:
    keys = [r.key.casefold() for r in references]
    dois = [r.get("doi").lower() for r in references if r.get("doi")]
    return len(set(keys)) != len(keys) or len(set(dois)) != len(dois)
