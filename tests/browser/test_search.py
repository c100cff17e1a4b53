"""Full-text search: the Pagefind index made at build time answers in the browser (typing
"sciatica" lists the sciatica page and every study on it), the results are accessible, and
without JavaScript the search page is a list of links to every page.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from bs4 import BeautifulSoup
from playwright.sync_api import Browser, BrowserContext, Page

from backpain_site.build import build
from backpain_site.load import load_site

from .checks import axe_findings, measure_contrast, tab_through
from .support import REPO, BuiltSite, serve
from conftest import SITE_YAML, TODAY, write_project

UNLISTED = {"/404.html", "/search/"}


def search(page: Page, origin: str, words: str) -> list[str]:
    """Type `words` into the search box the way a reader does; return the result links."""
    page.goto(origin + "/search/")
    page.get_by_label("Search for").press_sequentially(words, delay=20)
    page.locator(".search-result-list li").first.wait_for()
    page.wait_for_function(
        "(words) => document.getElementById('search-status').textContent.includes(words)",
        arg=words,
    )
    links: list[str] = page.locator(".search-result-list a").evaluate_all(
        "(links) => links.map((a) => a.getAttribute('href'))"
    )
    return links


def sciatica_studies() -> set[str]:
    site, _ = load_site(REPO)
    assert site is not None
    return {f"/studies/{s.slug}/" for s in site.studies if "sciatica" in s.conditions}


def test_typing_sciatica_lists_the_sciatica_page_and_its_studies(
    context: BrowserContext, origin: str
) -> None:
    page = context.new_page()
    found = search(page, origin, "sciatica")
    expected = sciatica_studies()
    assert len(expected) >= 5
    assert "/conditions/sciatica/" in found
    assert expected - set(found) == set()
    status = page.locator("#search-status").inner_text()
    assert status == f"{len(found)} pages match “sciatica”."
    # The results name pages by their titles, not by their addresses.
    named = page.locator(".search-result-list").get_by_role("link", name="Sciatica", exact=True)
    assert named.get_attribute("href") == "/conditions/sciatica/"
    assert page.locator(".search-result-list mark").count() > 0


def test_a_word_on_no_page_says_so(context: BrowserContext, origin: str) -> None:
    page = context.new_page()
    page.goto(origin + "/search/")
    page.get_by_label("Search for").fill("qwertyuiop")
    page.wait_for_function("() => document.getElementById('search-status').textContent !== ''")
    assert page.locator("#search-status").inner_text() == (
        "No pages match “qwertyuiop”. Try another word, or browse every page below."
    )
    assert page.locator(".search-result-list").count() == 0


def test_a_search_can_be_shared_as_a_link_and_submitted_with_enter(
    context: BrowserContext, origin: str
) -> None:
    page = context.new_page()
    page.goto(origin + "/search/?q=stenosis")
    page.locator(".search-result-list li").first.wait_for()
    assert page.get_by_label("Search for").input_value() == "stenosis"
    assert "/conditions/spinal-stenosis/" in page.locator(".search-result-list a").evaluate_all(
        "(links) => links.map((a) => a.getAttribute('href'))"
    )
    page.get_by_label("Search for").fill("cochrane")
    page.keyboard.press("Enter")
    page.wait_for_function("() => location.search === '?q=cochrane'")
    page.wait_for_function(
        "() => document.getElementById('search-status').textContent.includes('cochrane')"
    )


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_search_results_are_accessible(
    browser: Browser, origin: str, axe_source: str, scheme: str
) -> None:
    context = browser.new_context(color_scheme=scheme)  # type: ignore[arg-type]
    page = context.new_page()
    # Opened from a shared link, so that the keyboard starts from the top of the page.
    page.goto(origin + "/search/?q=sciatica")
    page.locator(".search-result-list li").first.wait_for()
    found = page.locator(".search-result-list a").all_inner_texts()
    result = axe_findings(page, axe_source)
    assert result["violations"] + measure_contrast(page, result["undecided"]) == []
    # The status is a live region, so screen readers hear how many pages matched.
    assert page.locator("#search-status").get_attribute("role") == "status"
    # Every result is a link the keyboard reaches, in order, after the box and its button.
    count, visited = tab_through(page)
    assert [v["order"] for v in visited] == list(range(count))
    tags = [v["tag"] for v in visited]
    box = tags.index("INPUT")
    assert visited[box + 1]["tag"] == "BUTTON"
    assert [v["text"] for v in visited[box + 2 : box + 2 + len(found)]] == [t[:50] for t in found]
    context.close()


def test_without_javascript_the_search_page_is_a_list_of_every_page(
    browser: Browser, built_site: BuiltSite, origin: str
) -> None:
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(origin + "/search/")
    assert not page.locator(".search-form").is_visible()
    listed = set(
        page.locator(".browse a").evaluate_all("(a) => a.map((l) => l.getAttribute('href'))")
    )
    assert listed == set(built_site.pages) - UNLISTED
    assert page.get_by_role("heading", name="Every page on this site").is_visible()
    context.close()


def test_only_content_pages_are_indexed_and_named_by_their_titles(built_site: BuiltSite) -> None:
    """Pagefind indexes what `data-pagefind-body` marks: every page but the 404 and search."""
    indexed = []
    for path in built_site.pages:
        soup = BeautifulSoup(built_site.file(path).read_text(encoding="utf-8"), "html.parser")
        if soup.select("[data-pagefind-body]"):
            indexed.append(path)
            title = soup.select_one('meta[data-pagefind-meta="title[content]"]')
            assert title is not None and re.search(r"\w", str(title["content"]))
    assert set(indexed) == set(built_site.pages) - UNLISTED
    assert (built_site.root / "pagefind" / "pagefind.js").is_file()
    assert (built_site.root / "pagefind" / "pagefind-entry.json").is_file()


def test_search_works_for_a_site_in_a_sub_folder(browser: Browser, tmp_path: Path) -> None:
    """On a project site (https://example.org/sub/), results link under /sub/."""
    root = write_project(
        tmp_path / "project",
        {
            "content/site.yaml": SITE_YAML.replace(
                "https://example.org/", "https://example.org/sub/"
            )
        },
    )
    www = tmp_path / "www"
    assert build(root, www / "sub", today=TODAY).written
    with serve(www) as served:
        context = browser.new_context()
        page = context.new_page()
        page.goto(served + "/sub/search/?q=trial")
        page.locator(".search-result-list li").first.wait_for()
        links = page.locator(".search-result-list a").evaluate_all(
            "(links) => links.map((a) => a.getAttribute('href'))"
        )
        context.close()
    assert "/sub/studies/smith-2020/" in links
    assert all(link.startswith("/sub/") for link in links)
