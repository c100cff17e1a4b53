"""The hostile input that builds (tests/hostile/ok-*: script payloads in front matter and BibTeX,
sanitised Markdown, odd encodings), opened in Chromium: on every page no script of the
editor's runs, no dialog opens and no request leaves the site's own origin.

The Content-Security-Policy is bypassed here, so that it is the escaping and the sanitiser that
are tested, not the policy that would block what they let through.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Dialog, Request, Route

from backpain_site.build import build

from .support import SEARCH_INDEX, url_path_of
from conftest import TODAY
from hostile_cases import BUILDING_CASES, Case, make_project

# Every payload in the corpus sets this or opens a dialog if it runs.
MARKER = "__pwned"
# Fire what event handlers listen for, on every element, as a reader's pointer and keyboard would.
PROVOKE = """() => {
  for (const element of document.querySelectorAll('*')) {
    for (const type of ['mouseover', 'mouseenter', 'focus', 'animationstart', 'error', 'load']) {
      element.dispatchEvent(new Event(type, {bubbles: true}));
    }
  }
}"""


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def hostile_sites(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[dict[str, tuple[str, Path]]]:
    """Each ok- case built and served: case name -> (origin, site folder)."""
    origins: dict[str, tuple[str, Path]] = {}
    servers = []
    for case in BUILDING_CASES:
        root = make_project(case, tmp_path_factory.mktemp(case.name) / "project")
        result = build(root, root / "_site", today=TODAY)
        assert result.written, [str(p) for p in result.problems]
        handler = functools.partial(_Quiet, directory=str(root / "_site"))
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        origins[case.name] = (f"http://127.0.0.1:{server.server_address[1]}", root / "_site")
    yield origins
    for server in servers:
        server.shutdown()
        server.server_close()


def pages_of(site: Path) -> list[str]:
    return sorted(
        url_path_of(site, html)
        for html in site.rglob("*.html")
        if SEARCH_INDEX not in html.relative_to(site).parts
    )


@pytest.mark.parametrize("case", BUILDING_CASES, ids=[c.name for c in BUILDING_CASES])
def test_no_script_of_the_editor_runs_and_nothing_leaves_the_origin(
    browser: Browser, hostile_sites: dict[str, tuple[str, Path]], case: Case
) -> None:
    origin, site = hostile_sites[case.name]
    context = browser.new_context(bypass_csp=True)
    problems: list[str] = []
    current = {"page": ""}

    def route(route: Route, request: Request) -> None:
        if not request.url.startswith(origin + "/"):
            problems.append(f"{current['page']}: request leaves the origin: {request.url}")
            route.abort()
            return
        route.continue_()

    def dialog(opened: Dialog) -> None:
        problems.append(f"{current['page']}: a {opened.type} dialog opened: {opened.message}")
        opened.dismiss()

    context.route("**/*", route)
    page = context.new_page()
    page.on("dialog", dialog)
    page.on("pageerror", lambda error: problems.append(f"{current['page']}: {error}"))
    paths = pages_of(site)
    for path in paths:
        current["page"] = path
        page.goto(origin + path, wait_until="load")
        page.evaluate(PROVOKE)
        page.wait_for_timeout(50)
        if page.evaluate(f"() => window.{MARKER} !== undefined"):
            problems.append(f"{path}: a script set window.{MARKER}")
    context.close()
    assert len(paths) > 5
    assert problems == []
