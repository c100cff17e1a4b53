"""Finding and numbering pandoc-style citations (`[@key]`, `[@a; @b]`) in Markdown bodies.

Input: a body's text and the file line it starts on. Output: each citation with its file line,
and a per-page numbering in order of first use. Citations inside code are not citations.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

CITATION = re.compile(r"\[(@[\w:.+/-]+(?:\s*;\s*@[\w:.+/-]+)*)\](?!\()")
_KEY = re.compile(r"@([\w:.+/-]+)")
_FENCE = re.compile(r"^\s*(```|~~~)")
_INLINE_CODE = re.compile(r"`[^`\n]*`")


@dataclass(frozen=True)
class CitationUse:
    key: str
    line: int


def keys_in(group: str) -> list[str]:
    """`@a; @b` -> ['a', 'b'] (a trailing '.' belongs to the sentence, not the key)."""
    return [key.rstrip(".") for key in _KEY.findall(group)]


def find_citations(body: str, first_line: int) -> list[CitationUse]:
    uses: list[CitationUse] = []
    in_fence = False
    for offset, line in enumerate(body.split("\n")):
        if _FENCE.match(line):
            in_fence = not in_fence
            continue
        if in_fence:
            continue
        for match in CITATION.finditer(_INLINE_CODE.sub("", line)):
            uses.extend(CitationUse(key, first_line + offset) for key in keys_in(match.group(1)))
    return uses


def number_in_order(keys: Iterable[str]) -> dict[str, int]:
    """Number keys 1, 2, 3 ... in order of first appearance."""
    numbers: dict[str, int] = {}
    for key in keys:
        numbers.setdefault(key, len(numbers) + 1)
    return numbers


@dataclass(frozen=True)
class CitationMarks:
    """How the site's CSL style writes a citation in the text (read from its `cs:citation`)."""

    numeric: bool = True  # numbers; otherwise author and year from the style
    superscript: bool = True
    prefix: str = ""  # around the whole group: "(" and ")" in Vancouver
    suffix: str = ""
    item_prefix: str = ""  # around each number: "[" and "]" in IEEE
    item_suffix: str = ""
    delimiter: str = ","
    collapse: bool = False  # 1,2,3 -> 1-3 with an en dash (CSL collapse="citation-number")
    sort: bool = False  # numbers in a group in ascending order


def number_runs(numbers: Iterable[int], collapse: bool) -> list[tuple[int, int]]:
    """[1, 2, 3, 5] -> [(1, 3), (5, 5)] when collapsing (runs of three or more, as CSL says),
    else one (n, n) per number. Order is kept; sort first if the style sorts."""
    runs: list[tuple[int, int]] = []
    for number in numbers:
        if collapse and runs and number == runs[-1][1] + 1:
            runs[-1] = (runs[-1][0], number)
        else:
            runs.append((number, number))
    if not collapse:
        return runs
    split: list[tuple[int, int]] = []
    for first, last in runs:
        if last - first == 1:  # two in a row stay apart: "1,2"
            split += [(first, first), (last, last)]
        else:
            split.append((first, last))
    return split
