"""Discovery files: the pages a build rendered -> `sitemap.xml`, `robots.txt` and an Atom feed.

Input: the site's URLs and settings, its published studies, and one `ListedPage` for every page
render.py emitted that search engines should list. Output: `{path: bytes}` for the sitemap, the
robots file and the feed of new and updated studies, and the same pages grouped by section for
the search page's list of every page. Every date comes from the content (a page's last review),
never from a clock, so two builds of the same content are byte-identical.
"""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath

from .content import SiteConfig, Study
from .evidence import DESIGNS
from .urls import Urls

SITEMAP_NS = "http://www.sitemaps.org/schemas/sitemap/0.9"
ATOM_NS = "http://www.w3.org/2005/Atom"


@dataclass(frozen=True)
class ListedPage:
    url: str  # root-relative, as render.py emitted it
    last_reviewed: dt.date | None
    title: str = ""


@dataclass(frozen=True)
class Section:
    heading: str
    pages: tuple[ListedPage, ...]


# The site's sections by the first segment of their URLs, in the order a reader browses them.
SECTIONS = {
    "conditions": "Conditions",
    "studies": "Studies",
    "claims": "Claims",
    "references": "References",
    "pages": "About this site",
    "": "About this site",
}
OTHER_PAGES = "Other pages"


def _in_site(urls: Urls, url: str) -> str:
    """'/sub/studies/x/' -> 'studies/x' for a site under '/sub'."""
    return url[len(urls.prefix) :].strip("/")


def sections(urls: Urls, pages: Iterable[ListedPage]) -> tuple[Section, ...]:
    """Every listed page under its section's heading; a section's own index page first."""
    grouped: dict[str, list[ListedPage]] = {}
    for page in pages:
        first = _in_site(urls, page.url).split("/")[0]
        grouped.setdefault(SECTIONS.get(first, OTHER_PAGES), []).append(page)
    order = [*dict.fromkeys(SECTIONS.values()), OTHER_PAGES]
    return tuple(
        Section(
            heading,
            tuple(sorted(grouped[heading], key=lambda p: "/" in _in_site(urls, p.url))),
        )
        for heading in order
        if heading in grouped
    )


_ENTRIES = "backpain-site-entries"  # stands where the entries go (no real tag is this)
# Entries serialised together: one `ET.tostring` for each entry took about half the time of
# making a 1,000-study site's sitemap and feed; a few hundred at a time hold next to nothing.
_CHUNK = 256


def xml_document(root: ET.Element, entries: Iterable[ET.Element] = ()) -> bytes:
    """`root` with `entries` appended as its last children, serialised and indented as
    ElementTree does a whole tree (`ET.indent`, then `ET.tostring` with the XML declaration),
    byte for byte; but entries are made, serialised and let go a few hundred at a time. Built
    whole, the trees of a 10,000-study site's feed and 20,000-page sitemap took about 20 MB at
    the end of every whole build, when the build holds most."""
    parts: list[str] = []
    chunk: list[ET.Element] = []
    for entry in entries:
        chunk.append(entry)
        if len(chunk) == _CHUNK:
            parts.append(_serialised(chunk))
            chunk = []
    if chunk:
        parts.append(_serialised(chunk))
    if parts:
        ET.SubElement(root, _ENTRIES)
    ET.indent(root)
    text = ET.tostring(root, encoding="unicode")
    if parts:
        text = text.replace(f"<{_ENTRIES} />", "\n  ".join(parts), 1)
    head = "<?xml version='1.0' encoding='utf-8'?>\n"
    # As ET.tostring(encoding="utf-8") writes what UTF-8 cannot hold (a lone surrogate).
    return (head + text + "\n").encode("utf-8", "xmlcharrefreplace")


def _serialised(entries: list[ET.Element]) -> str:
    """`entries` as ElementTree writes them as children of an indented root: each indented one
    level in, with the indentation between them."""
    holder = ET.Element(_ENTRIES)
    holder.extend(entries)
    ET.indent(holder)
    text = ET.tostring(holder, encoding="unicode")
    return text[len(f"<{_ENTRIES}>\n  ") : -len(f"\n</{_ENTRIES}>")]


def _child(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    element = ET.SubElement(parent, tag, attrs)
    if text is not None:
        element.text = text
    return element


def sitemap(urls: Urls, pages: Iterable[ListedPage]) -> bytes:
    def entries() -> Iterator[ET.Element]:
        for page in sorted(pages, key=lambda p: p.url):
            entry = ET.Element("url")
            _child(entry, "loc", urls.absolute(page.url))
            if page.last_reviewed is not None:
                _child(entry, "lastmod", page.last_reviewed.isoformat())
            yield entry

    return xml_document(ET.Element("urlset", {"xmlns": SITEMAP_NS}), entries())


def robots(urls: Urls) -> bytes:
    # Everything is public; the only line crawlers need is where the sitemap is.
    return f"User-agent: *\nAllow: /\n\nSitemap: {urls.absolute(urls.sitemap())}\n".encode()


def _timestamp(day: dt.date) -> str:
    return f"{day.isoformat()}T00:00:00Z"


def feed(config: SiteConfig, urls: Urls, studies: Sequence[Study]) -> bytes:
    """Studies, newest review first: a study is new or updated when the editors last reviewed it."""
    ordered = sorted(studies, key=lambda s: (-s.review.last_reviewed.toordinal(), s.slug))
    root = ET.Element("feed", {"xmlns": ATOM_NS, "xml:lang": config.language})
    _child(root, "title", f"{config.title}: new and updated studies")
    _child(root, "subtitle", config.tagline)
    _child(root, "id", urls.absolute(urls.feed()))
    _child(root, "link", rel="self", type="application/atom+xml", href=urls.absolute(urls.feed()))
    _child(root, "link", rel="alternate", type="text/html", href=urls.absolute(urls.studies()))
    if ordered:
        _child(root, "updated", _timestamp(ordered[0].review.last_reviewed))
    else:
        # Atom requires <updated>; a site with no studies has nothing newer than its settings.
        _child(root, "updated", _timestamp(dt.date(1970, 1, 1)))
    author = _child(root, "author")
    _child(author, "name", config.publisher)

    def entries() -> Iterator[ET.Element]:
        for study in ordered:
            url = urls.absolute(urls.study(study.slug))
            entry = ET.Element("entry")
            _child(entry, "title", study.title)
            _child(entry, "id", url)
            _child(entry, "link", rel="alternate", type="text/html", href=url)
            _child(entry, "updated", _timestamp(study.review.last_reviewed))
            _child(entry, "category", term=study.design, label=DESIGNS[study.design].label)
            _child(entry, "summary", f"{DESIGNS[study.design].label}. {study.key_finding}")
            yield entry

    return xml_document(root, entries())


def discovery_files(
    config: SiteConfig, urls: Urls, studies: Sequence[Study], pages: Iterable[ListedPage]
) -> dict[PurePosixPath, bytes]:
    return {
        urls.output_path(urls.sitemap()): sitemap(urls, pages),
        urls.output_path(urls.robots()): robots(urls),
        urls.output_path(urls.feed()): feed(config, urls, studies),
    }
