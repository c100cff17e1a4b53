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

from .citations import CITATION, keys_in
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


def cite_anchor(key: str, occurrence: int) -> str:
    return f"cite-{reference_slug(key)}-{occurrence}"


class _CitationState:
    """The numbering of the page being converted; reset for each page."""

    def __init__(self) -> None:
        self.numbers: dict[str, int] = {}
        self.titles: dict[str, str] = {}
        self.occurrences: dict[str, int] = {}
        self.links: list[str] = []


class _CitationPattern(InlineProcessor):
    def __init__(self, state: _CitationState) -> None:
        super().__init__(CITATION.pattern)
        self.state = state

    def handleMatch(  # type: ignore[override]
        self, m: re.Match[str], data: str
    ) -> tuple[etree.Element, int, int]:
        sup = etree.Element("sup")
        sup.set("class", "citation")
        keys = keys_in(m.group(1))
        for index, key in enumerate(keys):
            number = self.state.numbers.get(key)
            if number is None:  # unknown keys were reported at load; keep the text visible
                link = etree.SubElement(sup, "span")
                link.text = f"@{key}"
                continue
            occurrence = self.state.occurrences.get(key, 0) + 1
            self.state.occurrences[key] = occurrence
            link = etree.SubElement(sup, "a")
            link.set("href", f"#ref-{number}")
            link.set("id", cite_anchor(key, occurrence))
            link.set("class", "cite")
            link.set("title", self.state.titles.get(key, key))
            link.text = str(number)
            if index < len(keys) - 1:
                link.tail = ","
        return sup, m.start(0), m.end(0)


class _LinkCollector(Treeprocessor):
    def __init__(self, md: markdown.Markdown, state: _CitationState, urls: Urls) -> None:
        super().__init__(md)
        self.state = state
        self.urls = urls

    def run(self, root: etree.Element) -> None:
        for element in root.iter("a"):
            href = element.get("href", "")
            if href.startswith("#ref-") and "cite" in (element.get("class") or ""):
                continue
            self.state.links.append(href)
            element.set("href", self.urls.site_relative(href))
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

    def __init__(self, urls: Urls) -> None:
        self._state = _CitationState()
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
        self._md.reset()
        html = sanitise(self._md.convert(text))
        return BodyHtml(html, tuple(state.links))


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
