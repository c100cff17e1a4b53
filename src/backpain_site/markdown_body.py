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

import markdown
import nh3
from markdown.extensions import Extension
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
    html: str
    links: tuple[str, ...]  # hrefs as the editor wrote them (before the base path is added)
    # (line offset in the body, message) for what a body may not hold (markdown_checks.py)
    refused: tuple[tuple[int, str], ...] = ()


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


class _SiteExtension(Extension):
    def __init__(self, state: _CitationState, urls: Urls) -> None:
        super().__init__()
        self.state = state
        self.urls = urls

    def extendMarkdown(self, md: markdown.Markdown) -> None:
        # Above the link pattern (160) so `[@key]` is never read as a reference link.
        md.inlinePatterns.register(_CitationPattern(self.state), "citation", 175)
        md.treeprocessors.register(_LinkCollector(md, self.state, self.urls), "site-links", 1)


class MarkdownConverter:
    """One reusable Python-Markdown instance configured for the site."""

    def __init__(
        self,
        urls: Urls,
        marks: CitationMarks | None = None,
        labels: dict[str, str] | None = None,
    ) -> None:
        self._state = _CitationState(marks or CitationMarks(), labels or {})
        self._md = markdown.Markdown(
            extensions=["tables", "sane_lists", "toc", _SiteExtension(self._state, urls)],
            extension_configs={"toc": {"permalink": False}},
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
            return BodyHtml("", (), tuple(refused))
        refused = comment_problems(text)
        self._md.reset()
        source = text
        if state.marks.superscript:
            text = _superscripts_after_punctuation(text)
        try:
            converted = self._md.convert(text)
        except RecursionError:
            message = "the text is nested too deeply to convert (emphasis, lists or quotes)"
            return BodyHtml("", (), ((0, message),))
        found = raw_html_problems(f for f in self._md.htmlStash.rawHtmlBlocks if isinstance(f, str))
        found += [
            (
                "![",
                f"images are not allowed in the text ('{printable(src, 60)}'); link to the picture",
            )
            for src in state.images
        ]
        refused += locate(source, found)
        return BodyHtml(sanitise(converted), tuple(state.links), tuple(refused))


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
