"""Reading grade of every patient-facing page, checked against the site's target.

Input: the validated `Site`. Output: a `PageGrade` (Flesch-Kincaid grade, counts and longest
sentences) for each condition, study, claim and plain page, plus the home page's own text, and
a warning for each one above `reading_grade_target` naming the page and its longest sentences.

Only prose is scored: Markdown and HTML are stripped first (headings, tables and code are not
prose; links keep their text; citations go), and list items count as sentences. Decimal points
and common abbreviations are not sentence ends. The score itself is textstat's, pinned to 0.7.3
because later releases fetch NLTK data from the network.
"""

from __future__ import annotations

import math
import re
from array import array
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache, partial
from itertools import accumulate
from typing import Any, overload

from .cache import digest, remember
from .citations import CITATION
from .content import Site, Source
from .markdown_checks import unconvertible
from .problems import Problem, warning
from .urls import Urls

LONGEST_SHOWN = 3


@dataclass(frozen=True)
class Sentence:
    path: str
    line: int
    text: str

    @property
    def words(self) -> int:
        return _counts(self)[0]


@dataclass(frozen=True)
class PageGrade:
    url: str
    path: str  # the file an editor changes to fix the page
    grade: float
    words: int
    sentences: int
    longest: tuple[Sentence, ...]  # longest first

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        """Pickled as plain tuples: the build record keeps every page's grade (10,000 at
        10,000 studies), and reads them back at the start of every build after the first."""
        longest = tuple((s.path, s.line, s.text) for s in self.longest)
        return (_page_grade, (self.url, self.path, self.grade, self.words, self.sentences, longest))


class GradeTable(Sequence[PageGrade]):
    """Every page's grade, as columns: how the build record keeps them. Every build after the
    first reads the record, and a fast edit writes it again; as objects, 10,000 grades and
    their 30,000 longest sentences took about 0.25 s of an edit at 10,000 studies to read and
    write. A grade becomes a `PageGrade` only when one is asked for; `replaced` and `scores_of`
    work on the columns. Equal to any sequence of the same grades."""

    __slots__ = ("_columns", "_starts")

    def __init__(
        self,
        urls: tuple[str, ...],
        paths: tuple[str, ...],
        grades: array[float],
        words: array[int],
        sentences: array[int],
        shown: array[int],  # how many of each page's longest sentences follow
        sentence_paths: tuple[str, ...],
        sentence_lines: array[int],
        sentence_texts: tuple[str, ...],
    ) -> None:
        self._columns = (
            urls,
            paths,
            grades,
            words,
            sentences,
            shown,
            sentence_paths,
            sentence_lines,
            sentence_texts,
        )
        self._starts: list[int] | None = None  # where each page's sentences start

    @classmethod
    def of(cls, grades: Iterable[PageGrade]) -> GradeTable:
        if isinstance(grades, GradeTable):
            return grades
        grades = tuple(grades)
        longest = [s for g in grades for s in g.longest]
        return cls(
            tuple(g.url for g in grades),
            tuple(g.path for g in grades),
            array("d", (g.grade for g in grades)),
            array("q", (g.words for g in grades)),
            array("q", (g.sentences for g in grades)),
            array("q", (len(g.longest) for g in grades)),
            tuple(s.path for s in longest),
            array("q", (s.line for s in longest)),
            tuple(s.text for s in longest),
        )

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        return (GradeTable, self._columns)

    def __len__(self) -> int:
        return len(self._columns[0])

    @overload
    def __getitem__(self, index: int) -> PageGrade: ...

    @overload
    def __getitem__(self, index: slice) -> tuple[PageGrade, ...]: ...

    def __getitem__(self, index: int | slice) -> PageGrade | tuple[PageGrade, ...]:
        if isinstance(index, slice):
            return tuple(self[i] for i in range(*index.indices(len(self))))
        urls, paths, grades, words, sentences, shown, s_paths, s_lines, s_texts = self._columns
        at = range(len(urls))[index]  # an IndexError as a tuple's, negative indexes too
        start = self._sentence_starts()[at]
        longest = tuple(
            Sentence(s_paths[i], s_lines[i], s_texts[i]) for i in range(start, start + shown[at])
        )
        return PageGrade(urls[at], paths[at], grades[at], words[at], sentences[at], longest)

    def __iter__(self) -> Iterator[PageGrade]:
        return (self[at] for at in range(len(self)))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Sequence) or isinstance(other, str | bytes):
            return NotImplemented
        if isinstance(other, GradeTable):
            return self._columns == other._columns
        return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=True))

    def __hash__(self) -> int:
        return hash(tuple(self))

    def _sentence_starts(self) -> list[int]:
        if self._starts is None:
            self._starts = [0, *accumulate(self._columns[5])]
        return self._starts

    def scores(self) -> list[tuple[float, str]]:
        """(grade, url) of every page."""
        return list(zip(self._columns[2], self._columns[0], strict=True))

    def replaced(self, grade: PageGrade) -> GradeTable:
        """The table with the grade of `grade.url` replaced by `grade` (in its place); the same
        table when it has no grade for that url."""
        urls, paths, grades, words, sentences, shown, s_paths, s_lines, s_texts = self._columns
        try:
            at = urls.index(grade.url)
        except ValueError:
            return self
        start = self._sentence_starts()[at]
        end = start + shown[at]

        def put(column: array[Any], value: Any) -> array[Any]:
            changed = array(column.typecode, column)
            changed[at] = value
            return changed

        new_lines = array("q", s_lines[:start])
        new_lines.extend(s.line for s in grade.longest)
        new_lines.extend(s_lines[end:])
        return GradeTable(
            urls,
            (*paths[:at], grade.path, *paths[at + 1 :]),
            put(grades, grade.grade),
            put(words, grade.words),
            put(sentences, grade.sentences),
            put(shown, len(grade.longest)),
            (*s_paths[:start], *(s.path for s in grade.longest), *s_paths[end:]),
            new_lines,
            (*s_texts[:start], *(s.text for s in grade.longest), *s_texts[end:]),
        )


def scores_of(grades: Sequence[PageGrade]) -> list[tuple[float, str]]:
    """(grade, url) of every page, from a table's columns without making its grades."""
    if isinstance(grades, GradeTable):
        return grades.scores()
    return [(g.grade, g.url) for g in grades]


def _page_grade(
    url: str,
    path: str,
    grade: float,
    words: int,
    sentences: int,
    longest: tuple[tuple[str, int, str], ...],
) -> PageGrade:
    return PageGrade(url, path, grade, words, sentences, tuple(Sentence(*s) for s in longest))


_FENCE = re.compile(r"^\s*(```|~~~)")
_HEADING = re.compile(r"^\s{0,3}(#{1,6}\s|[=-]{3,}\s*$)")
_TABLE_ROW = re.compile(r"^\s*\|")
_LIST_ITEM = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+")
_QUOTE = re.compile(r"^\s*>\s?")
_IMAGE = re.compile(r"!\[[^\]]*\]\([^)]*\)")
_LINK = re.compile(r"\[([^\]]+)\]\([^)]*\)")
_REFERENCE_LINK = re.compile(r"\[([^\]]+)\]\[[^\]]*\]")
_AUTOLINK = re.compile(r"<(?:https?|mailto):[^>]+>")
_TAG = re.compile(r"</?[A-Za-z][^>]*>")
_EMPHASIS = re.compile(r"(\*\*|__|\*|_|~~|`)(?=\S)(.+?)(?<=\S)\1")
_ENTITY = re.compile(r"&(nbsp|amp|lt|gt|quot);")
_ENTITIES = {"nbsp": " ", "amp": "&", "lt": "<", "gt": ">", "quot": '"'}
# A sentence ends at . ! or ? (after any closing quote or bracket) followed by a space.
_SENTENCE_END = re.compile(r"[.!?][\"\u201d\u2019)\]]?(\s+)")
# Words whose full stop does not end a sentence (compared in lower case).
_ABBREVIATIONS = frozenset(
    {
        *("e.g.", "i.e.", "al.", "etc.", "vs.", "cf.", "approx.", "fig."),
        *("dr.", "mr.", "mrs.", "ms.", "prof.", "st.", "u.s.", "u.k."),
    }
)
_CLOSERS = '")]\u201d\u2019'
_ENDS = str.maketrans("", "", ".!?")
_WORD = re.compile(r"\w")
_SPACE_BEFORE_PUNCTUATION = re.compile(r"\s+([.,;:!?])")  # left where a citation was removed


def _inline(text: str) -> str:
    """Markdown inline syntax -> the words a reader sees."""
    # Most lines hold no markup at all; the checks skip regexes that could not match.
    if "[" in text:
        text = CITATION.sub("", text)
        text = _IMAGE.sub("", text)
        text = _LINK.sub(r"\1", text)
        text = _REFERENCE_LINK.sub(r"\1", text)
    if "<" in text:
        text = _AUTOLINK.sub("", text)
        text = _TAG.sub("", text)
    if any(mark in text for mark in "*_~`"):
        previous = None
        while previous != text:  # nested emphasis: **a *b* c**
            previous, text = text, _EMPHASIS.sub(r"\2", text)
    if "&" in text:
        text = _ENTITY.sub(lambda m: _ENTITIES[m.group(1)], text)
    return _SPACE_BEFORE_PUNCTUATION.sub(r"\1", " ".join(text.split()))


def _blocks(body: str, first_line: int) -> list[tuple[int, str]]:
    """Paragraphs and list items of a Markdown body, each with the file line it starts on."""
    blocks: list[tuple[int, str]] = []
    current: list[str] = []
    start = first_line
    in_fence = False

    def close() -> None:
        if current:
            blocks.append((start, "\n".join(current)))
            current.clear()

    for offset, raw in enumerate(body.split("\n")):
        line = first_line + offset
        if _FENCE.match(raw):
            close()
            in_fence = not in_fence
            continue
        if in_fence or _HEADING.match(raw) or _TABLE_ROW.match(raw) or not raw.strip():
            close()
            continue
        text = _QUOTE.sub("", raw)
        if _LIST_ITEM.match(text):
            close()
            text = _LIST_ITEM.sub("", text)
        if not current:
            start = line
        current.append(text.strip())
    close()
    return blocks


def sentences_of(text: str, path: str, line: int) -> list[Sentence]:
    """One block of prose (lines joined by newlines) -> its sentences, each with its own line.

    A block without end punctuation (a list item, a front-matter phrase) is one sentence; a
    colon that introduces a list ends one. A decimal point is never followed by a space, so
    it never ends a sentence; an abbreviation's full stop is skipped.
    """
    prose = "\n".join(_inline(part) for part in text.split("\n"))
    found = []
    start = 0
    for match in [*_SENTENCE_END.finditer(prose), None]:
        end = match.start(1) if match else len(prose)
        before = prose[start:end].rsplit(None, 1)
        if match and before and before[-1].lower() in _ABBREVIATIONS:
            continue
        raw = prose[start:end]
        first = line + prose.count("\n", 0, start + len(raw) - len(raw.lstrip()))
        start = match.end() if match else end
        part = " ".join(raw.split())
        if not _WORD.search(part):
            continue
        if part[-1] == ":":
            part = part[:-1] + "."
        elif part[-1] not in ".!?" + _CLOSERS:
            part += "."
        found.append(Sentence(path, first, part))
    return found


def markdown_sentences(body: str, path: str, first_line: int) -> list[Sentence]:
    return [
        sentence
        for line, block in _blocks(body, first_line)
        for sentence in sentences_of(block, path, line)
    ]


def _for_textstat(sentence: Sentence) -> str:
    """The sentence with one end mark: textstat ends a sentence at every '.', '!' and '?', so
    the points inside '1.2%', 'e.g.' or a quoted question must go."""
    text = sentence.text
    core = text.rstrip(_CLOSERS)
    if core and core[-1] in ".!?":
        return core[:-1].translate(_ENDS) + core[-1] + text[len(core) :]
    return text.translate(_ENDS) + "."


# textstat 0.7.3's remove_punctuation (its default: apostrophes are removed too).
_PUNCTUATION = re.compile(r"[^\w\s]")


_loaded_hyphenator: list[Any] = []  # the one hyphenation dictionary, once loaded or adopted


def hyphenator() -> Any:
    """The en_US hyphenation dictionary, as textstat loads it (50 to 150 ms here, once).

    A whole build keeps it in the fast edit's snapshot (edit_snapshot.py), and a fast edit
    adopts it from there (`adopt_hyphenator`): unpickling it takes about 15 ms."""
    if not _loaded_hyphenator:
        import pyphen

        _loaded_hyphenator.append(pyphen.Pyphen(lang="en_US"))
    return _loaded_hyphenator[0]


def adopt_hyphenator(loaded: Any) -> None:
    """Use `loaded`, a copy of the dictionary `hyphenator` gave (unpickled), from now on."""
    if not _loaded_hyphenator:
        _loaded_hyphenator.append(loaded)


@lru_cache(maxsize=1 << 16)
def _token(token: str) -> tuple[int, int]:
    """(words, syllables) of one whitespace-separated token, exactly as textstat 0.7.3 counts
    them: its remove_punctuation, and its syllable_count (lower case, punctuation removed, one
    more syllable than pyphen's hyphenation points in each word). Done here with pyphen, as
    textstat does it, because importing textstat takes about 0.2 s (pkg_resources): most of a
    fast edit's own time (edit_path.py). tests/test_small_builds.py compares both counts."""
    words = len(_PUNCTUATION.sub("", token).split())
    if not words:
        return 0, 0
    text = _PUNCTUATION.sub("", token.lower())
    return words, sum(len(hyphenator().positions(word)) + 1 for word in text.split())


def scored_text(sentences: Iterable[Sentence]) -> str:
    """The text whose Flesch-Kincaid grade is the page's grade."""
    return " ".join(_for_textstat(s) for s in sentences)


def _round_1(number: float) -> float:
    """textstat's rounding to one decimal (half away from zero), applied where it applies it."""
    return math.floor(number * 10 + math.copysign(0.5, number)) / 10


def _counts(sentence: Sentence) -> tuple[int, int]:
    """(words, syllables) of a sentence as textstat counts them: 'well-known', "it's", '1.2'
    and '8,270' are one word each."""
    words = syllables = 0
    for token in _for_textstat(sentence).split():
        token_words, token_syllables = _token(token)
        words += token_words
        syllables += token_syllables
    return words, syllables


def _grade(counts: Sequence[tuple[int, int]]) -> float:
    if not counts:
        return 0.0
    words = sum(w for w, _ in counts)
    if not words:
        return _round_1(-15.59)
    syllables = sum(s for _, s in counts)
    # textstat's sentence count: one per end mark (each sentence has exactly one), leaving out
    # sentences of two words or fewer.
    sentences = max(1, sum(1 for w, _ in counts if w > 2))
    per_sentence = _round_1(words / sentences)
    per_word = _round_1(syllables / words)
    return _round_1(0.39 * per_sentence + 11.8 * per_word - 15.59)


def grade(sentences: Sequence[Sentence]) -> float:
    """`textstat.flesch_kincaid_grade(scored_text(sentences))`, computed faster (a test holds
    the two equal on every page of the real site).

    textstat recounts every word of a text on each call; a page's words are mostly words seen
    before, so counting token by token with a cache makes a 10,000-page build seconds faster.
    """
    return _grade([_counts(s) for s in sentences])


# One run of a page's text, as its sentences are made from it: (kind, text, file, first line),
# kind PLAIN (a front-matter field: sentences_of) or MARKDOWN (a body: markdown_sentences).
TextPart = tuple[str, str, str, int]
PLAIN = "plain"
MARKDOWN = "markdown"


def grade_key(url: str, path: str, parts: Sequence[TextPart]) -> bytes:
    """The memo key of a page's grade: what its sentences are made from, not the sentences.
    A build finds an unchanged page's grade without splitting its text into sentences again,
    and keeps no page's sentences (at 10,000 studies they were 48 MB pickled, held from the
    start of every build that read them to the end of the one that made them)."""
    return digest("page grade", url, path, tuple(parts))


def page_grade(url: str, path: str, parts: Sequence[TextPart]) -> PageGrade:
    """`grade_page`, remembered under `grade_key` while a build's memo is active."""
    key = grade_key(url, path, parts)
    return remember("readability", key, partial(grade_page, url, path, parts))


def grade_page(url: str, path: str, parts: Sequence[TextPart]) -> PageGrade:
    return score_page(url, path, sentences_from(parts))


def sentences_from(parts: Iterable[TextPart]) -> list[Sentence]:
    found: list[Sentence] = []
    for kind, text, path, line in parts:
        found += (sentences_of if kind == PLAIN else markdown_sentences)(text, path, line)
    return found


def score_page(url: str, path: str, sentences: list[Sentence]) -> PageGrade:
    counts = [_counts(s) for s in sentences]
    order = sorted(
        range(len(sentences)),
        key=lambda i: (-counts[i][0], sentences[i].path, sentences[i].line),
    )
    return PageGrade(
        url,
        path,
        _grade(counts),
        sum(w for w, _ in counts),
        len(sentences),
        tuple(sentences[i] for i in order[:LONGEST_SHOWN]),
    )


def _fields(source: Source, *names: str) -> list[TextPart]:
    found: list[TextPart] = []
    for name in names:
        value = source.meta.values.get(name)
        items = value if isinstance(value, tuple) else (value,)
        for index, item in enumerate(items):
            if isinstance(item, str) and item:
                line = source.item_line(name, index) if isinstance(value, tuple) else None
                found.append((PLAIN, item, source.path, line or source.line_of(name)))
    return found


def _body(source: Source) -> list[TextPart]:
    if unconvertible(source.body):  # refused by resolve; scanning it could take minutes
        return []
    return [(MARKDOWN, source.body, source.path, source.body_line)]


def study_texts(source: Source) -> list[TextPart]:
    """What a reader of a study page reads: its key finding, limits and text."""
    return _fields(source, "key_finding", "limits") + _body(source)


def page_texts(site: Site) -> Iterator[tuple[str, str, list[TextPart]]]:
    """(url, file, text parts) of every patient-facing page: home, conditions, studies, claims
    (each a section of the claims page) and plain pages."""
    urls = Urls(site.config.base_url)
    home: list[TextPart] = []
    if site.config.tagline:
        home.append((PLAIN, site.config.tagline, site.config.path, 0))
    for condition in site.conditions:
        home += _fields(condition.source, "bottom_line", "summary")
    yield urls.home(), site.config.path, home
    for condition in site.conditions:
        parts = _fields(condition.source, "summary", "bottom_line") + _body(condition.source)
        parts += [
            (PLAIN, text, condition.source.path, finding.line)
            for finding in condition.findings
            for text in (finding.effect, finding.editors_rating_reason)
            if text
        ]
        yield urls.condition(condition.slug), condition.source.path, parts
    for study in site.studies:
        yield urls.study(study.slug), study.source.path, study_texts(study.source)
    for claim in site.claims:
        parts = _fields(claim.source, "claim") + _body(claim.source)
        yield urls.for_item("claims", claim.slug), claim.source.path, parts
    for page in site.pages:
        parts = _fields(page.source, "summary") + _body(page.source)
        yield urls.page(page.slug), page.source.path, parts


def page_grades(site: Site) -> list[PageGrade]:
    return [page_grade(url, path, parts) for url, path, parts in page_texts(site)]


def _quote(sentence: Sentence, words: int = 12) -> str:
    shown = sentence.text.split()
    text = " ".join(shown[:words]) + (" …" if len(shown) > words else "")
    return f'{sentence.path}:{sentence.line} ({sentence.words} words) "{text}"'


def readability_problems(grades: Iterable[PageGrade], target: int) -> list[Problem]:
    problems = []
    for page in grades:
        if page.grade <= target or not page.longest:
            continue
        longest = "; ".join(_quote(s) for s in page.longest)
        problems.append(
            warning(
                page.path,
                page.longest[0].line if page.longest[0].path == page.path else 0,
                f"reading grade {page.grade:.1f} of {page.url} is above the target of "
                f"{target}; shorten its longest sentences: {longest}",
            )
        )
    return problems


def check_readability(site: Site) -> tuple[list[PageGrade], list[Problem]]:
    grades = page_grades(site)
    return grades, readability_problems(grades, site.config.reading_grade_target)


def grade_summary(grades: Sequence[PageGrade], target: int) -> str:
    """One line for the build report: how hard the site is to read, and its hardest page."""
    if not grades:
        return f"reading grade (Flesch-Kincaid): no pages; target {target}"
    scores = scores_of(grades)
    values = sorted(grade for grade, _ in scores)
    middle = len(values) // 2
    median = values[middle] if len(values) % 2 else (values[middle - 1] + values[middle]) / 2
    highest, hardest_url = max(scores)
    above = sum(1 for grade, _ in scores if grade > target)
    return (
        f"reading grade (Flesch-Kincaid) of {len(grades)} pages and claims: median {median:.1f}, "
        f"highest {highest:.1f} ({hardest_url}); target {target}"
        + (f"; {above} above the target" if above else "")
    )


def grade_lines(grades: Iterable[PageGrade], target: int) -> list[str]:
    """Every page's grade, hardest first, for `--reading-grades`."""
    ordered = sorted(grades, key=lambda g: (-g.grade, g.url))
    return [
        f"{g.grade:5.1f}  {g.url}  ({g.words} words, {g.sentences} sentences)"
        + ("  above the target" if g.grade > target else "")
        for g in ordered
    ]
