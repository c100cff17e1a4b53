"""The slow steps of resolving, remembered: citation formatting and Markdown conversion.

Input: a `Memo` and the same arguments as `csl.format_references` and `MarkdownConverter`.
Output: the same results, taken from the memo when the same inputs were seen before. These are
about 90% of a cold build, so a warm build must never redo them for unchanged input.

What a result depends on is what goes into its key:
- a formatted reference: the style and the reference (not its line in the .bib, which the
  formatter never reads), each reference formatted alone as `format_references` does;
- a converted body: the converter's settings, the text, and the page's citation numbers with
  the title, label and running occurrence count of each numbered key. `MarkdownConverter` reads
  titles, labels and counts only for keys the page numbers, so no other key can change a body.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from functools import partial
from typing import Any

from .bibliography import Reference
from .cache import Memo, digest
from .citations import CitationMarks
from .csl import FormattedReference, add_year_suffixes, format_references
from .markdown_body import BodyHtml, MarkdownConverter
from .urls import Urls


def reference_key(reference: Reference, style_id: str) -> bytes:
    return digest("csl", style_id, dataclasses.replace(reference, line=0))


def format_one(reference: Reference, style_id: str) -> FormattedReference:
    return format_references([reference], style_id)[reference.key]


def format_references_remembered(
    references: Iterable[Reference], style_id: str, memo: Memo
) -> dict[str, FormattedReference]:
    if not memo.enabled:
        return format_references(list(references), style_id)
    references = list(references)
    one_by_one = {
        r.key: memo.get("csl", reference_key(r, style_id), partial(format_one, r, style_id))
        for r in references
    }
    # Author-date styles letter same-author, same-year sources (2008a, 2008b) across the set.
    return add_year_suffixes(references, one_by_one, style_id)


@dataclasses.dataclass(frozen=True)
class Conversion:
    body: BodyHtml
    occurrences: tuple[tuple[str, int], ...]  # the running counts this body moved on


def convert_counting(
    converter: MarkdownConverter,
    text: str,
    numbers: dict[str, int],
    titles: dict[str, str],
    occurrences: dict[str, int] | None,
) -> Conversion:
    """Convert one body on a copy of the running counts, returning the counts it moved."""
    counts = dict(occurrences) if occurrences is not None else {}
    before = dict(counts)
    body = converter.convert(text, numbers, titles, counts)
    return Conversion(body, tuple((k, v) for k, v in counts.items() if before.get(k) != v))


class RememberedConverter:
    """`MarkdownConverter` with the same `convert`, remembering each body's conversion."""

    def __init__(
        self,
        memo: Memo,
        urls: Urls,
        marks: CitationMarks | None = None,
        labels: dict[str, str] | None = None,
    ) -> None:
        self._memo = memo
        self._urls = urls
        self._marks = marks
        self._labels = labels or {}
        self._settings = digest("markdown-settings", urls, marks)
        self._converter: MarkdownConverter | None = None

    def _real(self) -> MarkdownConverter:
        if self._converter is None:  # made only on a miss: a warm build never loads Markdown
            self._converter = MarkdownConverter(self._urls, self._marks, self._labels)
        return self._converter

    def _convert_now(
        self,
        text: str,
        numbers: dict[str, int],
        titles: dict[str, str],
        occurrences: dict[str, int] | None,
    ) -> Conversion:
        return convert_counting(self._real(), text, numbers, titles, occurrences)

    def key(
        self,
        text: str,
        numbers: dict[str, int],
        titles: dict[str, str],
        occurrences: dict[str, int] | None,
    ) -> bytes:
        counted = occurrences or {}
        numbered = tuple(
            (key, number, titles.get(key), self._labels.get(key), counted.get(key))
            for key, number in numbers.items()
        )
        return digest("markdown", self._settings, text, numbered)

    def job(
        self,
        text: str,
        numbers: dict[str, int],
        titles: dict[str, str],
        occurrences: dict[str, int] | None,
    ) -> tuple[Any, ...]:
        """The arguments of `prefetch.convert_job` for this conversion, keys outside the
        page's numbering left out (as the key leaves them out)."""
        return (
            self._urls,
            self._marks,
            {k: self._labels[k] for k in numbers if k in self._labels},
            text,
            dict(numbers),
            {k: titles[k] for k in numbers if k in titles},
            {k: occurrences[k] for k in numbers if k in occurrences} if occurrences else None,
        )

    def convert(
        self,
        text: str,
        numbers: dict[str, int],
        titles: dict[str, str],
        occurrences: dict[str, int] | None = None,
    ) -> BodyHtml:
        if not self._memo.enabled:
            return self._real().convert(text, numbers, titles, occurrences)
        key = self.key(text, numbers, titles, occurrences)
        if self._memo.plan("markdown", key, partial(self.job, text, numbers, titles, occurrences)):
            return BodyHtml(b"", ())  # a planning pass: the pool converts it before the real one
        done = self._memo.get(
            "markdown", key, partial(self._convert_now, text, numbers, titles, occurrences)
        )
        if occurrences is not None:
            occurrences.update(done.occurrences)
        return done.body
