"""The real site, built once, served from 127.0.0.1 and opened in Debian's Chromium.

Every browser test runs over every page of the site built from this repository's content/.
Chromium is Debian's (`/usr/bin/chromium`); Playwright's own browser downloads are never used.
The quality tools come from npm (`npm ci`, see package.json): axe-core and the Nu Html Checker.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Playwright, sync_playwright

from backpain_site.build import build

from .support import (
    AXE,
    CHROMIUM,
    CHROMIUM_ARGS,
    REPO,
    SEARCH_INDEX,
    BuiltSite,
    require,
    serve,
    url_path_of,
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def built_site(tmp_path_factory: pytest.TempPathFactory) -> BuiltSite:
    out = tmp_path_factory.mktemp("browser") / "_site"
    result = build(REPO, out)
    assert [str(p) for p in result.problems if p.severity.name == "ERROR"] == []
    assert result.written
    pages = tuple(
        sorted(
            url_path_of(out, html)
            for html in out.rglob("*.html")
            if SEARCH_INDEX not in html.relative_to(out).parts
        )
    )
    assert len(pages) == result.pages
    return BuiltSite(out, pages)


@pytest.fixture(scope="session")
def origin(built_site: BuiltSite) -> Iterator[str]:
    """The built site over HTTP on 127.0.0.1, as a static host would serve it."""
    with serve(built_site.root) as served:
        yield served


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    require(CHROMIUM, "Debian's Chromium")
    chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
    yield chromium
    chromium.close()


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    """A fresh browser profile per test, light scheme, 1280 x 900."""
    ctx = browser.new_context(viewport={"width": 1280, "height": 900}, color_scheme="light")
    yield ctx
    ctx.close()


@pytest.fixture(scope="session")
def axe_source() -> str:
    require(AXE, "axe-core (npm)")
    return AXE.read_text(encoding="utf-8")


@pytest.fixture(scope="session")
def java() -> str:
    found = shutil.which("java")
    if found is None:
        pytest.fail("java is missing; run `bash scripts/test.sh`, which installs a headless JRE")
    return found
