"""Discoverability of the real site: `lang`, canonical URL, Open Graph and Twitter card meta and a
favicon on every page; a sitemap of every listed page with its review date; a robots file; an
Atom feed of the studies; and a search index that is byte-identical from one build to the next.
"""

from __future__ import annotations

import filecmp
import struct
import xml.etree.ElementTree as ET
from pathlib import Path

import yaml
from bs4 import BeautifulSoup

from backpain_site.build import build

from .support import BASE_URL, REPO, SEARCH_INDEX, BuiltSite

ATOM = "{http://www.w3.org/2005/Atom}"
SITEMAP = "{http://www.sitemaps.org/schemas/sitemap/0.9}"
UNLISTED = {"/404.html", "/search/"}
SITE = yaml.safe_load((REPO / "content" / "site.yaml").read_text(encoding="utf-8"))


def soup_of(site: BuiltSite, path: str) -> BeautifulSoup:
    return BeautifulSoup(site.file(path).read_text(encoding="utf-8"), "html.parser")


def meta(soup: BeautifulSoup, key: str) -> str | None:
    found = soup.select_one(f'meta[property="{key}"], meta[name="{key}"]')
    return None if found is None else str(found["content"])


def canonical(path: str) -> str:
    return BASE_URL + path.lstrip("/")


def test_every_page_has_lang_canonical_social_cards_and_favicon(built_site: BuiltSite) -> None:
    problems = []
    for path in built_site.pages:
        soup = soup_of(built_site, path)
        html = soup.find("html")
        title = soup.title.string if soup.title else None
        found = {
            "lang": html.get("lang") if html else None,  # type: ignore[union-attr]
            "canonical": [str(link["href"]) for link in soup.select('link[rel="canonical"]')],
            "og:url": meta(soup, "og:url"),
            "og:type": meta(soup, "og:type"),
            "og:site_name": meta(soup, "og:site_name"),
            "og:image": meta(soup, "og:image"),
            "twitter:card": meta(soup, "twitter:card"),
            "twitter:image": meta(soup, "twitter:image"),
            "icon": [str(link["href"]) for link in soup.select('link[rel="icon"]')],
            "feed": [
                str(link["href"]) for link in soup.select('link[type="application/atom+xml"]')
            ],
        }
        expected = {
            "lang": SITE["language"],
            "canonical": [canonical(path)],
            "og:url": canonical(path),
            "og:type": "website" if path == "/" else "article",
            "og:site_name": SITE["title"],
            "og:image": BASE_URL + "static/social-card.png",
            "twitter:card": "summary_large_image",
            "twitter:image": BASE_URL + "static/social-card.png",
            "icon": ["/static/favicon.svg"],
            "feed": ["/feed.xml"],
        }
        if found != expected:
            problems.append(f"{path}: {found} != {expected}")
        for key in ("og:title", "og:description", "twitter:title", "twitter:description"):
            if not (meta(soup, key) or "").strip():
                problems.append(f"{path}: empty {key}")
        if meta(soup, "og:title") and title and not title.startswith(str(meta(soup, "og:title"))):
            problems.append(f"{path}: og:title {meta(soup, 'og:title')!r} is not the page title")
        if meta(soup, "og:description") != meta(soup, "description"):
            problems.append(f"{path}: og:description differs from the description")
        noindex = meta(soup, "robots") == "noindex"
        if noindex != (path == "/404.html"):
            problems.append(f"{path}: robots noindex is {noindex}")
    assert problems == []


def test_social_card_and_favicon_are_real_images(built_site: BuiltSite) -> None:
    card = (built_site.root / "static" / "social-card.png").read_bytes()
    assert card[:8] == b"\x89PNG\r\n\x1a\n"
    assert struct.unpack(">II", card[16:24]) == (1200, 630)
    icon = ET.fromstring((built_site.root / "static" / "favicon.svg").read_bytes())
    assert icon.tag == "{http://www.w3.org/2000/svg}svg"
    assert icon.get("viewBox") == "0 0 32 32"


def test_sitemap_lists_every_page_but_the_404_and_search_with_its_review_date(
    built_site: BuiltSite,
) -> None:
    root = ET.fromstring((built_site.root / "sitemap.xml").read_bytes())
    entries = {
        str(url.findtext(f"{SITEMAP}loc")): url.findtext(f"{SITEMAP}lastmod")
        for url in root.iter(f"{SITEMAP}url")
    }
    assert set(entries) == {canonical(p) for p in built_site.pages if p not in UNLISTED}
    for path in set(built_site.pages) - UNLISTED:
        shown = soup_of(built_site, path).select_one(".review-dates time")
        assert entries[canonical(path)] == (None if shown is None else shown["datetime"]), path


def test_robots_allows_everything_and_names_the_sitemap(built_site: BuiltSite) -> None:
    assert (built_site.root / "robots.txt").read_text(encoding="utf-8") == (
        f"User-agent: *\nAllow: /\n\nSitemap: {BASE_URL}sitemap.xml\n"
    )


def test_feed_has_every_study_newest_review_first(built_site: BuiltSite) -> None:
    root = ET.fromstring((built_site.root / "feed.xml").read_bytes())
    assert root.tag == f"{ATOM}feed"
    entries = root.findall(f"{ATOM}entry")
    studies = [p for p in built_site.pages if p.startswith("/studies/") and p != "/studies/"]
    links = [str(e.find(f"{ATOM}link").get("href")) for e in entries]  # type: ignore[union-attr]
    assert sorted(links) == sorted(canonical(p) for p in studies)
    updated = [str(e.findtext(f"{ATOM}updated")) for e in entries]
    assert updated == sorted(updated, reverse=True)
    assert root.findtext(f"{ATOM}updated") == updated[0]
    for entry in entries:
        path = "/" + str(entry.findtext(f"{ATOM}id")).removeprefix(BASE_URL)
        soup = soup_of(built_site, path)
        reviewed = soup.select_one(".review-dates time")
        assert reviewed is not None
        assert entry.findtext(f"{ATOM}updated") == f"{reviewed['datetime']}T00:00:00Z"
        assert entry.findtext(f"{ATOM}title") == meta(soup, "og:title")
        assert (entry.findtext(f"{ATOM}summary") or "").strip()


def test_search_index_is_byte_identical_between_builds(
    built_site: BuiltSite, tmp_path: Path
) -> None:
    """Two builds of the same content, at different times in different folders, index alike."""
    again = tmp_path / "elsewhere" / "out"
    result = build(REPO, again)
    assert result.written
    comparison = filecmp.dircmp(built_site.root / SEARCH_INDEX, again / SEARCH_INDEX)
    differing: list[str] = []

    def collect(c: filecmp.dircmp[str], where: str) -> None:
        differing.extend(f"{where}{name}" for name in c.diff_files + c.left_only + c.right_only)
        # dircmp compares shallowly (size and time); compare every byte.
        _, mismatch, errors = filecmp.cmpfiles(c.left, c.right, c.common_files, shallow=False)
        differing.extend(f"{where}{name}" for name in mismatch + errors)
        for name, sub in c.subdirs.items():
            collect(sub, f"{where}{name}/")

    collect(comparison, "")
    assert differing == []
    assert len(list((again / SEARCH_INDEX).rglob("*"))) > 10
