"""Discovery files and the search index: sitemap.xml, robots.txt and the Atom feed of a small
fixture site, byte for byte; Pagefind's index written with the site, or the site left alone."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

import pytest

from backpain_site.build import build
from backpain_site.content import SiteConfig
from backpain_site.discovery import ListedPage, feed, sections, xml_document
from backpain_site.problems import error
from backpain_site.urls import Urls

from conftest import SITE_YAML, STUDY, TODAY
from sitecheck import parse

SITEMAP = """\
<?xml version='1.0' encoding='utf-8'?>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
{}
</urlset>
"""


def sitemap_entry(base: str, page: str, lastmod: str) -> str:
    return f"  <url>\n    <loc>{base}{page}</loc>\n    <lastmod>{lastmod}</lastmod>\n  </url>"


SECOND_STUDY = (
    STUDY.replace("title: A trial of acupuncture for back pain", "title: A second trial & more")
    .replace("last_reviewed: 2026-11-01", "last_reviewed: 2026-10-15")
    .replace("next_review: 2029-11-01", "next_review: 2029-10-15")
    .replace("key_finding: Pain may have eased a little.", "key_finding: Pain <eased> a bit.")
)


@pytest.fixture
def built(project: Callable[..., Path], tmp_path: Path) -> Path:
    out = tmp_path / "out"
    result = build(project({"content/studies/jones-2021.md": SECOND_STUDY}), out, today=TODAY)
    assert result.problems == []
    return out


def listed_pages(out: Path) -> list[str]:
    """Every built page but the 404 and the search page, as URL paths without the leading '/'."""
    pages = [p.relative_to(out).as_posix() for p in out.rglob("index.html")]
    return sorted(p.removesuffix("index.html") for p in pages if not p.startswith("search/"))


def test_sitemap_lists_every_listed_page_with_its_last_review(built: Path) -> None:
    entries = []
    for page in listed_pages(built):
        shown = parse(built / page / "index.html").select_one(".review-dates time")
        assert shown is not None, page
        entries.append(sitemap_entry("https://example.org/", page, str(shown["datetime"])))
    assert (built / "sitemap.xml").read_text(encoding="utf-8") == SITEMAP.format("\n".join(entries))
    # The home page is as fresh as the oldest review it draws on; a study as its own review.
    for page, reviewed in [
        ("", "2026-10-15"),
        ("studies/jones-2021/", "2026-10-15"),
        ("studies/smith-2020/", "2026-11-01"),
        ("claims/", "2026-11-01"),
    ]:
        assert sitemap_entry("https://example.org/", page, reviewed) in entries


def test_robots_names_the_sitemap(built: Path) -> None:
    assert (built / "robots.txt").read_text(encoding="utf-8") == (
        "User-agent: *\nAllow: /\n\nSitemap: https://example.org/sitemap.xml\n"
    )


def test_feed_lists_studies_newest_review_first_escaped(built: Path) -> None:
    assert (
        (built / "feed.xml").read_text(encoding="utf-8")
        == """\
<?xml version='1.0' encoding='utf-8'?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="en">
  <title>Test site: new and updated studies</title>
  <subtitle>A small site for tests.</subtitle>
  <id>https://example.org/feed.xml</id>
  <link rel="self" type="application/atom+xml" href="https://example.org/feed.xml" />
  <link rel="alternate" type="text/html" href="https://example.org/studies/" />
  <updated>2026-11-01T00:00:00Z</updated>
  <author>
    <name>Test editors</name>
  </author>
  <entry>
    <title>A trial of acupuncture for back pain</title>
    <id>https://example.org/studies/smith-2020/</id>
    <link rel="alternate" type="text/html" href="https://example.org/studies/smith-2020/" />
    <updated>2026-11-01T00:00:00Z</updated>
    <category term="rct" label="Randomised controlled trial" />
    <summary>Randomised controlled trial. Pain may have eased a little.</summary>
  </entry>
  <entry>
    <title>A second trial &amp; more</title>
    <id>https://example.org/studies/jones-2021/</id>
    <link rel="alternate" type="text/html" href="https://example.org/studies/jones-2021/" />
    <updated>2026-10-15T00:00:00Z</updated>
    <category term="rct" label="Randomised controlled trial" />
    <summary>Randomised controlled trial. Pain &lt;eased&gt; a bit.</summary>
  </entry>
</feed>
"""
    )


def test_a_site_in_a_sub_folder_lists_its_own_urls(
    project: Callable[..., Path], tmp_path: Path
) -> None:
    root = project(
        {"content/site.yaml": SITE_YAML.replace("https://example.org/", "https://example.org/sub/")}
    )
    out = tmp_path / "out"
    assert build(root, out, today=TODAY).problems == []
    assert (
        (out / "robots.txt")
        .read_text(encoding="utf-8")
        .endswith("Sitemap: https://example.org/sub/sitemap.xml\n")
    )
    sitemap = (out / "sitemap.xml").read_text(encoding="utf-8")
    assert "<loc>https://example.org/sub/studies/smith-2020/</loc>" in sitemap
    assert "<loc>https://example.org/studies/" not in sitemap


def test_a_site_without_studies_still_has_a_valid_feed() -> None:
    config = SiteConfig(
        path="content/site.yaml",
        title="T",
        tagline="Tag",
        base_url="https://example.org/",
        language="en",
        citation_style="american-medical-association",
        reading_grade_target=8,
        review_interval_months=36,
        publisher="P",
        editors=(),
        funding="",
        conflicts="",
        advertising="",
        contact="",
    )
    xml = feed(config, Urls("https://example.org/"), []).decode()
    # Atom requires <updated> on the feed; with no studies there is no content date to use.
    assert "<updated>1970-01-01T00:00:00Z</updated>" in xml
    assert "<entry>" not in xml


def test_the_search_index_is_written_with_the_site(built: Path) -> None:
    entry = json.loads((built / "pagefind" / "pagefind-entry.json").read_text(encoding="utf-8"))
    # Every page but the 404, the search page itself and the bibliography (search_index.py).
    readers = [p for p in listed_pages(built) if not p.startswith("references/")]
    assert entry["languages"]["en"]["page_count"] == len(readers)
    assert (
        json.loads((built / "pagefind" / "shards.json").read_text(encoding="utf-8"))["merge"] == []
    )
    assert (built / "pagefind" / "pagefind.js").is_file()


def test_when_pagefind_fails_nothing_is_published(
    project: Callable[..., Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "old.html").write_text("previous site", encoding="utf-8")
    # The writer runs the Pagefind binary that PAGEFIND_BINARY_PATH names (as the pagefind
    # package does); a program that always fails stands in.
    monkeypatch.setenv("PAGEFIND_BINARY_PATH", "/bin/false")
    result = build(project(), out, today=TODAY)
    assert result.problems == [
        error("pagefind", 0, "pagefind could not index the site: exit status 1")
    ]
    assert not result.written
    assert result.outputs == {}
    assert [p.name for p in out.iterdir()] == ["old.html"]
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".out")] == []


def test_the_search_page_groups_every_page_by_section_index_first() -> None:
    urls = Urls("https://example.org/sub/")
    pages = [
        ListedPage("/sub/", None, "Home"),
        ListedPage("/sub/conditions/sciatica/", None, "Sciatica"),
        ListedPage("/sub/studies/b/", None, "Study B"),
        ListedPage("/sub/studies/a/", None, "Study A"),
        ListedPage("/sub/studies/", None, "All studies"),
        ListedPage("/sub/pages/about/", None, "About"),
        ListedPage("/sub/glossary/", None, "Glossary"),
    ]
    assert [(s.heading, [p.title for p in s.pages]) for s in sections(urls, pages)] == [
        ("Conditions", ["Sciatica"]),
        ("Studies", ["All studies", "Study B", "Study A"]),
        ("About this site", ["Home", "About"]),
        ("Other pages", ["Glossary"]),
    ]


def _whole_tree(root: ET.Element, entries: list[ET.Element]) -> bytes:
    """How the sitemap and feed were made before they were made entry by entry."""
    root.extend(entries)
    ET.indent(root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n"


@pytest.mark.parametrize("count", [0, 1, 3, 600])  # 600: across chunks of entries
@pytest.mark.parametrize("with_header", [False, True])
def test_an_xml_document_made_entry_by_entry_is_the_whole_tree_byte_for_byte(
    count: int, with_header: bool
) -> None:
    texts = [
        "plain",
        "A & B <c> \"d\" 'e'",
        "Müller\u2019s\tline\r\nnext",
        "lone \ud800 surrogate",
        "",
    ]

    def root() -> ET.Element:
        made = ET.Element("feed", {"xmlns": "urn:x", "xml:lang": "en"})
        if with_header:
            ET.SubElement(made, "title").text = texts[1]
            author = ET.SubElement(made, "author")
            ET.SubElement(author, "name").text = texts[2]
            ET.SubElement(made, "link", {"rel": "self", "href": texts[1] + texts[2]})
        return made

    def entries() -> list[ET.Element]:
        made = []
        for number in range(count):
            entry = ET.Element("entry")
            ET.SubElement(entry, "title").text = texts[number % len(texts)]
            ET.SubElement(entry, "category", {"term": texts[(number + 1) % len(texts)]})
            if number % 2:
                ET.SubElement(entry, "summary")  # empty: written short
            made.append(entry)
        return made

    assert xml_document(root(), iter(entries())) == _whole_tree(root(), entries())
