"""Search over a sharded index (search_index.py), as a big site has it: the shards are merged in
the browser and answer as one index would (a word is not matched by a shorter word in the
shards that lack it), an edited page is found by its new words and not its old ones right after
an incremental build, a removed page is gone, and a common word's many results come 20 at a
time. A 40-study synthetic site stands in for a big one, with shards of 8 pages.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Request

from backpain_site import search_index
from backpain_site.build import build
from backpain_site.incremental import BuildCache

from .checks import axe_findings, measure_contrast
from .support import REPO, serve
from conftest import TODAY

sys.path.insert(0, str(REPO / "benchmarks"))
from generate import generate, study_slug

STUDIES = 40


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setattr(search_index, "PAGES_PER_SHARD", 8)
    yield generate(tmp_path / "project", STUDIES)


def rebuild(project: Path) -> None:
    cache = BuildCache.for_project(project)
    result = build(project, project / "_site", today=TODAY, cache=cache)
    assert result.written, result.problems


def search(browser: Browser, origin: str, words: str) -> tuple[str, list[str], list[str]]:
    """Search in a fresh browser profile (nothing cached from an earlier build); return the
    status, the result links and every search-index file the page asked for."""
    context = browser.new_context()
    page = context.new_page()
    asked: list[str] = []

    def note(request: Request) -> None:
        if "/pagefind/" in request.url:
            asked.append(request.url.split("/pagefind/", 1)[1].split("?")[0])

    page.on("request", note)
    page.goto(f"{origin}/search/?q={words}")
    page.wait_for_function(
        "(words) => document.getElementById('search-status').textContent.includes(words)",
        arg=words,
    )
    page.wait_for_function(
        "() => document.querySelectorAll('.search-result-list li').length > 0"
        " || document.getElementById('search-status').textContent.startsWith('No pages')"
    )
    status = page.locator("#search-status").inner_text()
    links: list[str] = page.locator(".search-result-list a").evaluate_all(
        "(links) => links.map((a) => a.getAttribute('href'))"
    )
    context.close()
    return status, links, asked


def lonely_study(project: Path) -> Path:
    """A study no other file names, so that it can be removed without breaking a link."""
    files = sorted((project / "content").rglob("*.md"))
    for index in range(STUDIES):
        slug = study_slug(index)
        path = project / "content" / "studies" / f"{slug}.md"
        if not any(slug in f.read_text(encoding="utf-8") for f in files if f != path):
            return path
    raise AssertionError("every study is named by another file")


def test_an_edited_or_removed_page_is_found_by_its_new_words_only(
    browser: Browser, project: Path
) -> None:
    target = lonely_study(project)
    url = f"/studies/{target.stem}/"
    front, body = target.read_text(encoding="utf-8").split("\n---\n", 1)
    # "walk" is on every page: in every shard without "walkathon", Pagefind would match it.
    target.write_text(f"{front}\n---\nWalkathon quintessentially {body}", encoding="utf-8")
    rebuild(project)
    site = project / "_site"
    merged = json.loads((site / "pagefind" / "shards.json").read_text(encoding="utf-8"))["merge"]
    assert len(merged) >= 4
    with serve(site) as origin:
        status, links, asked = search(browser, origin, "walkathon")
        assert (status, links) == ("1 page matches “walkathon”.", [url])
        assert search(browser, origin, "quintessentially")[:2] == (
            "1 page matches “quintessentially”.",
            [url],
        )
        # Every shard was merged; Pagefind's script and WebAssembly came once, from the first.
        entries = sorted(a for a in asked if a.endswith("pagefind-entry.json"))
        expected = ["pagefind-entry.json"] + [f"{m}pagefind-entry.json" for m in merged]
        assert entries == sorted(expected)
        assert [a for a in asked if a.endswith(".pagefind")] == ["wasm.en.pagefind"]

        target.write_text(f"{front}\n---\nXylophonically {body}", encoding="utf-8")
        rebuild(project)
        assert search(browser, origin, "xylophonically")[:2] == (
            "1 page matches “xylophonically”.",
            [url],
        )
        assert search(browser, origin, "quintessentially")[:2] == (
            "No pages match “quintessentially”. Try another word, or browse every page below.",
            [],
        )

        target.unlink()
        rebuild(project)
        assert search(browser, origin, "xylophonically")[:2] == (
            "No pages match “xylophonically”. Try another word, or browse every page below.",
            [],
        )


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_a_common_word_shows_twenty_results_at_a_time(
    browser: Browser, project: Path, axe_source: str, scheme: str
) -> None:
    rebuild(project)
    with serve(project / "_site") as origin:
        context = browser.new_context(color_scheme=scheme)  # type: ignore[arg-type]
        page = context.new_page()
        page.goto(f"{origin}/search/?q=needle")
        results = page.locator(".search-result-list a")
        results.first.wait_for()
        page.get_by_role("button", name="Show 20 more").wait_for()
        result = axe_findings(page, axe_source)
        assert result["violations"] + measure_contrast(page, result["undecided"]) == []
        status = page.locator("#search-status").inner_text()
        assert status.endswith(" pages match “needle”.")
        total = int(status.split()[0])
        assert total > 40  # every study, and the lists and conditions that quote them
        assert results.count() == 20
        more = page.get_by_role("button", name="Show 20 more")
        more.click()
        page.wait_for_function(
            "() => document.querySelectorAll('.search-result-list a').length > 20"
        )
        assert results.count() == 40
        # The keyboard goes on from the first new result.
        assert (
            page.evaluate("() => document.activeElement.textContent")
            == results.nth(20).inner_text()
        )
        page.get_by_role("button", name=f"Show {total - 40} more").click()
        page.wait_for_function(
            "(total) => document.querySelectorAll('.search-result-list a').length === total",
            arg=total,
        )
        links = results.evaluate_all("(links) => links.map((a) => a.getAttribute('href'))")
        assert len(set(links)) == total
        assert page.get_by_role("button", name="Show").count() == 0
        context.close()
