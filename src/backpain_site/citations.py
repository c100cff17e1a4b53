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
