"""Markdown bodies -> safe HTML fragments, with citations numbered and links collected.

Input: a body's Markdown, the page's citation numbers, and the URL helper.
Output: `BodyHtml`: sanitised HTML (nh3 allow-list: raw HTML, event handlers and
`javascript:`-style links never survive) plus every link target, for the link check.
Python-Markdown is the slow part of a build, so one converter is reused for all bodies.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as etree
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import markdown
import nh3
from markdown.extensions import Extension
from markdown.extensions.sane_lists import SaneListExtension
from markdown.extensions.tables import TableExtension
from markdown.extensions.toc import TocExtension, slugify
from markdown.inlinepatterns import InlineProcessor
from markdown.treeprocessors import Treeprocessor

from .citations import CITATION, CitationMarks, keys_in, number_runs
from .markdown_checks import (
    comment_problems,
    locate,
    printable,
    raw_html_problems,
    unconvertible,
)
from .urls import Urls, reference_slug

ALLOWED_TAGS = {
    "p",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "ul",
    "ol",
    "li",
    "a",
    "em",
    "strong",
    "code",
    "pre",
    "blockquote",
    "table",
    "thead",
    "tbody",
    "tr",
    "th",
    "td",
    "sup",
    "sub",
    "span",
    "hr",
    "br",
    "dl",
    "dt",
    "dd",
    "abbr",
}
ALLOWED_ATTRIBUTES = {
    "*": {"id", "class"},
    "a": {"href", "title", "aria-describedby"},
    "abbr": {"title"},
    "ol": {"start"},
    "th": {"scope"},
}
URL_SCHEMES = {"http", "https", "mailto"}


@dataclass(frozen=True)
class BodyHtml:
    """A converted body. Its HTML is held as UTF-8 bytes (`html` decodes it): one character
    beyond ASCII makes a str hold every character in two or four bytes, and the build holds
    every body from resolve to render, as does each render worker forked from it (at 10,000
    studies, 64 MB as str, 33 MB as bytes). Bytes also pickle as they are, where a str that is
    not all ASCII would keep its UTF-8 form beside it once pickled, for as long as it lives."""

    utf8: bytes
    links: tuple[str, ...]  # hrefs as the editor wrote them (before the base path is added)
    # (line offset in the body, message) for what a body may not hold (markdown_checks.py)
    refused: tuple[tuple[int, str], ...] = ()

    @classmethod
    def of(
        cls, html: str, links: tuple[str, ...], refused: tuple[tuple[int, str], ...] = ()
    ) -> BodyHtml:
        return cls(utf8_of(html), links, refused)

    @property
    def html(self) -> str:
        return html_of(self.utf8)


def utf8_of(html: str) -> bytes:
    """HTML as a body keeps it (`surrogatepass`: whatever str a conversion made comes back)."""
    return html.encode("utf-8", "surrogatepass")


def html_of(utf8: bytes) -> str:
    return utf8.decode("utf-8", "surrogatepass")


def cite_anchor(key: str, occurrence: int) -> str:
    return f"cite-{reference_slug(key)}-{occurrence}"


class _CitationState:
    """The numbering of the page being converted; reset for each page."""

    def __init__(self, marks: CitationMarks, labels: dict[str, str]) -> None:
        self.numbers: dict[str, int] = {}
        self.titles: dict[str, str] = {}
        self.occurrences: dict[str, int] = {}
        self.links: list[str] = []
        self.images: list[str] = []
        self.marks = marks  # the site's CSL style decides how a citation looks
        self.labels = labels  # author-date styles: "Smith & Yüksel, 2020" per key


class _CitationPattern(InlineProcessor):
    def __init__(self, state: _CitationState) -> None:
        super().__init__(CITATION.pattern)
        self.state = state

    def handleMatch(  # type: ignore[override]
        self, m: re.Match[str], data: str
    ) -> tuple[etree.Element, int, int]:
        marks = self.state.marks
        group = etree.Element("sup" if marks.superscript else "span")
        group.set("class", "citation")
        keys = list(dict.fromkeys(keys_in(m.group(1))))
        known = [k for k in keys if k in self.state.numbers]
        if marks.sort:
            known.sort(key=lambda k: self.state.numbers[k])
        _add_text(group, marks.prefix)
        if marks.numeric:
            by_number = {self.state.numbers[k]: k for k in known}
            runs = number_runs([self.state.numbers[k] for k in known], marks.collapse)
            for index, (first, last) in enumerate(runs):
                _add_text(group, (marks.delimiter if index else "") + marks.item_prefix)
                self._link(group, by_number[first], str(first))
                if last != first:
                    # The numbers inside a collapsed range are cited here too: keep their anchors.
                    for number in range(first + 1, last):
                        anchor = etree.SubElement(group, "span")
                        anchor.set("id", self._next_anchor(by_number[number]))
                    _add_text(group, "\u2013")
                    self._link(group, by_number[last], str(last))
                _add_text(group, marks.item_suffix)
        else:
            for index, key in enumerate(known):
                _add_text(group, marks.delimiter if index else "")
                self._link(group, key, self.state.labels.get(key, key))
        for key in keys:
            if key not in self.state.numbers:  # unknown keys were reported; keep them visible
                unknown = etree.SubElement(group, "span")
                unknown.text = f"@{key}"
        _add_text(group, marks.suffix)
        return group, m.start(0), m.end(0)

    def _next_anchor(self, key: str) -> str:
        occurrence = self.state.occurrences.get(key, 0) + 1
        self.state.occurrences[key] = occurrence
        return cite_anchor(key, occurrence)

    def _link(self, group: etree.Element, key: str, text: str) -> None:
        link = etree.SubElement(group, "a")
        link.set("href", f"#ref-{self.state.numbers[key]}")
        link.set("id", self._next_anchor(key))
        link.set("class", "cite")
        link.set("title", self.state.titles.get(key, key))
        link.text = text


def _add_text(element: etree.Element, text: str) -> None:
    """Append text after the element's last child (or inside it when it has none)."""
    if not text:
        return
    children = list(element)
    if children:
        children[-1].tail = (children[-1].tail or "") + text
    else:
        element.text = (element.text or "") + text


_UNESCAPE = re.compile(f"{markdown.util.STX}(\\d+){markdown.util.ETX}")


class _LinkCollector(Treeprocessor):
    def __init__(self, md: markdown.Markdown, state: _CitationState, urls: Urls) -> None:
        super().__init__(md)
        self.state = state
        self.urls = urls

    def run(self, root: etree.Element) -> None:
        for element in root.iter("a"):
            # Backslash escapes are still placeholders here (Python-Markdown unescapes last).
            href = _UNESCAPE.sub(lambda m: chr(int(m.group(1))), element.get("href", ""))
            if href.startswith("#ref-") and "cite" in (element.get("class") or ""):
                continue
            self.state.links.append(href)
            element.set("href", self.urls.site_relative(href))
        # The sanitiser drops images (no request may leave the site); say so instead of hiding it.
        self.state.images.extend(element.get("src", "") for element in root.iter("img"))
        for heading in ("h1",):  # the page title is the only h1; body headings start at h2
            for element in root.iter(heading):
                element.tag = "h2"


_MarkdownInline = markdown.treeprocessors.InlineProcessor
QUICK_INLINE = all(
    hasattr(_MarkdownInline, f"_InlineProcessor__{name}")
    for name in ("handleInline", "applyPattern")
)


# Characters without which a pattern's expression cannot match, by the expression's text as
# Python-Markdown 3.11 writes it: where none of them is in a run of text (most runs), the
# pattern is passed over without running its expression. Any other expression is always run.
_NEEDS = {
    r"(?:(?<!\\)((?:\\{2})+)(?=`+)|(?<!\\)`)": "`",
    r"\\(.)": "\\",
    r"(?<!\!)\[": "[",
    r"\!\[": "[",
    r"<([A-Za-z][A-Za-z0-9+.-]*://[^<>]*)>": "<",
    r"<([^<> !]+@[^@<> ]+)>": "<",
    r"  \n": "\n",
    r"""(<(\/?+[a-zA-Z][^\s"'<>@]*+(?:\s+[^\s"'=<>]++(?:\s*+=\s*+(?:"[^"]*+"|'[^']*+'|"""
    r"""[^\s"'=<>]++))?+)*+\s*+/?|!--(?:(?!<!--|-->).)*--|[?](?:(?!<[?]|[?]>).)*[?]|"""
    r"""!\[CDATA\[(?:(?!<!\[CDATA\[|\]\]>).)*\]\])>)""": "<",
    r"(&(?:\#[0-9]+|\#x[0-9a-fA-F]+|[a-zA-Z0-9]+);)": "&",
    r"\*|_": "*_",
    CITATION.pattern: "[",
}
_NEEDED = "".join(sorted(set("".join(_NEEDS.values()))))


class _QuickInline(_MarkdownInline):
    """Python-Markdown's inline step, same result, without its per-pattern overhead.

    Python-Markdown tries each of its ~17 inline patterns on every run of text through a
    method that costs more than the regular expression it runs (and looks each pattern up in
    a registry that re-sorts itself): about a third of converting a body. Here a pattern whose
    expression finds nothing from the current position is passed over at once, which is what
    that method would conclude (no match: next pattern, from the start); the patterns are read
    once per conversion. Everything else is Python-Markdown's own code.
    """

    def __init__(self, md: markdown.Markdown) -> None:
        super().__init__(md)
        self._patterns: list[tuple[Any, re.Pattern[str] | None, str | None]] = []

    def run(self, tree: etree.Element, ancestors: list[str] | None = None) -> etree.Element:
        self._patterns = []
        for pattern in self.inlinePatterns:
            expression = (
                pattern.getCompiledRegExp() if isinstance(pattern, InlineProcessor) else None
            )
            needs = _NEEDS.get(expression.pattern) if expression is not None else None
            self._patterns.append((pattern, expression, needs))
        return super().run(tree, ancestors)

    # Replaces the private `InlineProcessor.__handleInline` under the name Python-Markdown
    # calls it by; used only while that method exists (`QUICK_INLINE`), and a test compares
    # the output with and without it.
    def _InlineProcessor__handleInline(self, data: str, patternIndex: int = 0) -> str:
        if isinstance(data, markdown.util.AtomicString):
            return data
        apply = self._InlineProcessor__applyPattern  # type: ignore[attr-defined]
        patterns = self._patterns
        # A match only replaces text with a placeholder (letters and digits), so the characters
        # found here stay a superset of those in the text as it changes.
        present = {char for char in _NEEDED if char in data}
        start = 0
        while patternIndex < len(patterns):
            pattern, expression, needs = patterns[patternIndex]
            if (needs is not None and present.isdisjoint(needs)) or (
                expression is not None and expression.search(data, start) is None
            ):
                matched, start = False, 0
            else:
                data, matched, start = apply(pattern, data, patternIndex, start)
            if not matched:
                patternIndex += 1
        return data


class _SiteExtension(Extension):
    def __init__(self, state: _CitationState, urls: Urls, quick_inline: bool) -> None:
        super().__init__()
        self.state = state
        self.urls = urls
        self.quick_inline = quick_inline

    def extendMarkdown(self, md: markdown.Markdown) -> None:
        # Above the link pattern (160) so `[@key]` is never read as a reference link.
        md.inlinePatterns.register(_CitationPattern(self.state), "citation", 175)
        md.treeprocessors.register(_LinkCollector(md, self.state, self.urls), "site-links", 1)
        if self.quick_inline:
            md.treeprocessors.register(_QuickInline(md), "inline", 20)  # replaces the original


# Ids the page templates give their own elements, and the starts of the ids they generate
# (reference list, citation marks, evidence map, browse lists). A body heading that would get
# one of them ("## Main") gets "-section" added instead, so that no page holds an id twice;
# tests/test_markdown.py fails when a template gains an id that is not listed here.
TEMPLATE_IDS = frozenset(
    [
        "all-claims-caption",
        "all-claims-heading",
        "bottom-line",
        "browse-heading",
        "citation",
        "citation-heading",
        "cited-by-heading",
        "conditions-heading",
        "credibility-heading",
        "design-heading",
        "download-heading",
        "facts-heading",
        "filter-condition",
        "filter-design",
        "findings-caption",
        "findings-heading",
        "key-finding",
        "limits-heading",
        "links-heading",
        "list-heading",
        "lists-heading",
        "main",
        "more-heading",
        "newest-heading",
        "references-heading",
        "search-input",
        "search-results",
        "search-status",
        "strongest-heading",
        "studies-heading",
        "summary-heading",
        "verdicts-heading",
    ]
)
TEMPLATE_ID_PREFIXES = ("ref-", "cite-", "browse-", "evidence-map")


def heading_id(text: str, separator: str) -> str:
    """Python-Markdown's heading slug, moved out of the way of the templates' own ids."""
    slug: str = slugify(text, separator)
    if slug in TEMPLATE_IDS or slug.startswith(TEMPLATE_ID_PREFIXES):
        return f"{slug}{separator}section"
    return slug


class MarkdownConverter:
    """One reusable Python-Markdown instance configured for the site."""

    def __init__(
        self,
        urls: Urls,
        marks: CitationMarks | None = None,
        labels: dict[str, str] | None = None,
        *,
        quick_inline: bool = QUICK_INLINE,  # False only to compare with Python-Markdown's own
    ) -> None:
        self._state = _CitationState(marks or CitationMarks(), labels or {})
        site = _SiteExtension(self._state, urls, quick_inline)
        # Instances, not names: a name is looked up among every installed package's entry
        # points (importlib.metadata: about 35 ms of a fast edit, which makes one converter).
        self._md = markdown.Markdown(
            extensions=[
                TableExtension(),
                SaneListExtension(),
                TocExtension(permalink=False, slugify=heading_id),
                site,
            ],
            output_format="html",
        )

    def convert(
        self,
        text: str,
        numbers: dict[str, int],
        titles: dict[str, str],
        occurrences: dict[str, int] | None = None,
    ) -> BodyHtml:
        """Convert one body. `occurrences` carries cite counts across bodies of one page."""
        state = self._state
        state.numbers, state.titles = numbers, titles
        state.occurrences = occurrences if occurrences is not None else {}
        state.links = []
        state.images = []
        refused = unconvertible(text)
        if refused:
            return BodyHtml(b"", (), tuple(refused))
        refused = comment_problems(text)
        self._md.reset()
        source = text
        if state.marks.superscript:
            text = _superscripts_after_punctuation(text)
        try:
            converted = self._md.convert(text)
        except RecursionError:
            message = "the text is nested too deeply to convert (emphasis, lists or quotes)"
            return BodyHtml(b"", (), ((0, message),))
        found = raw_html_problems(f for f in self._md.htmlStash.rawHtmlBlocks if isinstance(f, str))
        found += [
            (
                "![",
                f"images are not allowed in the text ('{printable(src, 60)}'); link to the picture",
            )
            for src in state.images
        ]
        refused += locate(source, found)
        return BodyHtml.of(sanitise(converted), tuple(state.links), tuple(refused))


_SPACE_BEFORE_CITATION = re.compile(r"[ \t]*(" + CITATION.pattern + r")([.,]?)")
_FENCE = re.compile(r"^\s*(```|~~~)")


def _superscripts_after_punctuation(text: str) -> str:
    """A superscript citation sits right after the word, outside a following period or comma
    ("common.1", AMA 3.6.1), as pandoc places it. Fenced code is left alone."""
    lines = text.split("\n")
    in_fence = False
    for index, line in enumerate(lines):
        if _FENCE.match(line):
            in_fence = not in_fence
        elif not in_fence and "[@" in line and "`" not in line:
            lines[index] = _SPACE_BEFORE_CITATION.sub(lambda m: m.group(3) + m.group(1), line)
        # Lines with inline code keep their spacing: a citation inside code is not one.
    return "\n".join(lines)


def sanitise_citation(html: str) -> str:
    """A formatted reference keeps only what a citation needs: italics, bold, super- and
    subscripts, case-protecting spans and http(s) links. The formatter escapes what it prints;
    this stands behind it."""
    return nh3.clean(
        html,
        tags={"i", "b", "em", "strong", "sup", "sub", "span", "a"},
        attributes={"span": {"class"}, "a": {"href"}},
        url_schemes={"http", "https"},
        link_rel=None,
        strip_comments=True,
    )


def sanitise(
    html: str, attribute_filter: Callable[[str, str, str], str | None] | None = None
) -> str:
    """Keep only the allow-listed tags, attributes and URL schemes."""
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        link_rel=None,
        strip_comments=True,
        clean_content_tags={
            "script",
            "style",
            "iframe",
            "object",
            "embed",
            "svg",
            "math",
            "template",
            "noscript",
            "textarea",
            "title",
        },
        attribute_filter=attribute_filter,
    )
