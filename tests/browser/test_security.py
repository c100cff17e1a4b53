"""Security fit for static hosting: every page carries a Content-Security-Policy (no inline script
unless hashed, no third-party origins) and a referrer policy; in the browser no request leaves
the site's own origin, nothing fails to load and no console error appears, on any page.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from bs4 import BeautifulSoup, Tag
from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Page, Request, Route

from .support import BuiltSite

# Data blocks: the browser never runs them, so the policy does not need to name them.
DATA_SCRIPT_TYPES = {"application/ld+json", "application/json"}
SOURCE_KEYWORDS = {"'self'", "'none'", "'wasm-unsafe-eval'"}
REFERRER_POLICIES = {
    "no-referrer",
    "same-origin",
    "strict-origin",
    "strict-origin-when-cross-origin",
}


def policy_of(soup: BeautifulSoup) -> dict[str, list[str]]:
    meta = soup.select('meta[http-equiv="Content-Security-Policy"]')
    assert len(meta) == 1, "exactly one policy"
    directives: dict[str, list[str]] = {}
    for part in str(meta[0]["content"]).split(";"):
        name, *sources = part.split()
        directives[name] = sources
    return directives


def csp_problems(html: str) -> list[str]:
    """What is wrong with a page's policy, judged against the page it governs."""
    soup = BeautifulSoup(html, "html.parser")
    problems = []
    head = soup.head
    assert isinstance(head, Tag)
    # The policy only governs what comes after it: only the character set may come first.
    elements = head.find_all(True)
    position = [el.get("http-equiv") for el in elements].index("Content-Security-Policy")
    if any(not el.has_attr("charset") for el in elements[:position]):
        problems.append("the policy must come first in <head>, before anything it governs")
    policy = policy_of(soup)
    if policy.get("default-src") != ["'none'"]:
        problems.append(f"default-src is {policy.get('default-src')}, not 'none'")
    if policy.get("object-src") != ["'none'"] or "base-uri" not in policy:
        problems.append("object-src 'none' and base-uri are required")
    inline = [
        script.string or ""
        for script in soup.find_all("script")
        if not script.get("src") and script.get("type", "text/javascript") not in DATA_SCRIPT_TYPES
    ]
    hashes = {
        f"'sha256-{base64.b64encode(hashlib.sha256(code.encode()).digest()).decode()}'"
        for code in inline
    }
    for name, sources in policy.items():
        for source in sources:
            if source in SOURCE_KEYWORDS or source in hashes:
                continue
            problems.append(f"{name} allows {source}")
    missing = hashes - set(policy.get("script-src", []))
    problems += [f"inline script {h} is not in script-src" for h in sorted(missing)]
    for script in soup.find_all("script", src=True):
        if urlsplit(str(script["src"])).netloc:
            problems.append(f"script from another origin: {script['src']}")
    if soup.select("[style]") or soup.find_all("style"):
        problems.append("inline styles, which style-src 'self' blocks")
    handlers = {a for el in soup.find_all(True) for a in el.attrs if a.lower().startswith("on")}
    problems += [f"event-handler attribute {a}" for a in sorted(handlers)]
    referrer = soup.select('meta[name="referrer"]')
    if len(referrer) != 1 or referrer[0].get("content") not in REFERRER_POLICIES:
        problems.append("a referrer policy that keeps paths private is required")
    return problems


def test_every_page_has_a_strict_policy_that_fits_it(built_site: BuiltSite) -> None:
    problems = []
    for path in built_site.pages:
        html = built_site.file(path).read_text(encoding="utf-8")
        problems += [f"{path}: {p}" for p in csp_problems(html)]
        script_src = policy_of(BeautifulSoup(html, "html.parser"))["script-src"]
        # WebAssembly (Pagefind) only where search runs.
        expected = ["'self'", "'wasm-unsafe-eval'"] if path == "/search/" else ["'self'"]
        if script_src != expected:
            problems.append(f"{path}: script-src {script_src}")
    assert problems == []


HEAD = '<meta charset="utf-8"><meta http-equiv="Content-Security-Policy" content="{}">'
GOOD = "default-src 'none'; script-src 'self'; object-src 'none'; base-uri 'self'"
REFERRER = '<meta name="referrer" content="no-referrer">'


@pytest.mark.parametrize(
    ("head", "body", "problems"),
    [
        (HEAD.format(GOOD) + REFERRER, "<p>fine</p>", []),
        (
            HEAD.format(GOOD.replace("'self'", "'self' https://cdn.example.com", 1)) + REFERRER,
            "",
            ["script-src allows https://cdn.example.com"],
        ),
        (
            HEAD.format(GOOD.replace("'self'", "'self' 'unsafe-inline'", 1)) + REFERRER,
            "<script>go()</script>",
            [
                "script-src allows 'unsafe-inline'",
                "inline script 'sha256-5KYv+PUboo5h+0+YAtGRPbwv5d/QxzHslP4YGnUaxRw=' is not in "
                "script-src",
            ],
        ),
        (
            HEAD.format(
                GOOD.replace(
                    "'self'", "'self' 'sha256-bYOqbsii8BMz1hC57p5sZG4K4cMuk6QQDiwupM2aRMM='", 1
                )
            )
            + REFERRER,
            '<script>go();</script><script type="application/ld+json">{"a": 1}</script>',
            [],
        ),
        (
            '<link rel="stylesheet" href="/a.css">' + HEAD.format(GOOD) + REFERRER,
            "",
            ["the policy must come first in <head>, before anything it governs"],
        ),
        (
            HEAD.format(GOOD),
            '<p style="color:red" onclick="x()">hi</p>',
            [
                "inline styles, which style-src 'self' blocks",
                "event-handler attribute onclick",
                "a referrer policy that keeps paths private is required",
            ],
        ),
    ],
)
def test_policy_check_names_what_is_wrong(head: str, body: str, problems: list[str]) -> None:
    html = f"<!doctype html><html><head>{head}<title>t</title></head><body>{body}</body></html>"
    assert csp_problems(html) == problems


class Traffic:
    """Every request, failed response and console error of one browser context."""

    def __init__(self, context: BrowserContext, origin: str) -> None:
        self.origin = origin
        self.requests: list[str] = []
        self.problems: list[str] = []
        self.page_url = ""
        context.route("**/*", self._route)

    def _route(self, route: Route, request: Request) -> None:
        self.requests.append(request.url)
        if not request.url.startswith(self.origin + "/"):
            self.problems.append(f"{self.page_url}: request leaves the origin: {request.url}")
            route.abort()  # and nothing reaches the network
            return
        route.continue_()

    def watch(self, page: Page) -> None:
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.problems.append(f"{self.page_url}: {error}"))
        page.on(
            "response",
            lambda r: (
                r.status >= 400 and self.problems.append(f"{self.page_url}: {r.status} for {r.url}")
            ),
        )
        page.on("requestfailed", self._failed)

    def _console(self, message: ConsoleMessage) -> None:
        if message.type in ("error", "warning"):
            self.problems.append(f"{self.page_url}: console {message.type}: {message.text}")

    def _failed(self, request: Request) -> None:
        # A request still going when the test moves on to the next page (the favicon, fetched
        # after 'load') is cancelled by the browser: the test's doing, not the site's. A missing
        # file is a 404 response and a refused connection another error, both still reported.
        if request.failure == "net::ERR_ABORTED":
            return
        if request.url.startswith(self.origin + "/"):
            self.problems.append(f"{self.page_url}: failed to load {request.url}")


@pytest.fixture
def traffic(context: BrowserContext, origin: str) -> Iterator[tuple[Traffic, Page]]:
    watcher = Traffic(context, origin)
    page = context.new_page()
    watcher.watch(page)
    yield watcher, page


def test_no_request_leaves_the_origin_and_no_console_error_on_any_page(
    traffic: tuple[Traffic, Page], built_site: BuiltSite, origin: str
) -> None:
    watcher, page = traffic
    for path in built_site.pages:
        watcher.page_url = path
        page.goto(origin + path)
        # Let what runs after 'load' (deferred scripts' handlers, timers) have its turn too.
        page.evaluate("() => new Promise((done) => setTimeout(done, 50))")
    # The search page fetches its index only when someone searches: search, too.
    watcher.page_url = "/search/ (searching)"
    page.goto(origin + "/search/")
    page.get_by_label("Search for").fill("acupuncture")
    page.locator(".search-result-list li").first.wait_for()
    page.wait_for_load_state("networkidle")
    assert watcher.problems == []
    assert any("/pagefind/" in url for url in watcher.requests)
    assert len(watcher.requests) > len(built_site.pages)


def test_the_watch_catches_a_request_to_another_origin(browser: Browser, origin: str) -> None:
    # With the policy bypassed, so that the request is made and the watch alone must catch it.
    context = browser.new_context(bypass_csp=True)
    watcher = Traffic(context, origin)
    page = context.new_page()
    watcher.watch(page)
    watcher.page_url = "/"
    page.goto(origin + "/")
    page.evaluate("() => { new Image().src = 'https://tracker.example.com/p.gif'; }")
    page.wait_for_timeout(300)
    context.close()
    assert "/: request leaves the origin: https://tracker.example.com/p.gif" in watcher.problems


def test_the_policy_blocks_a_request_to_another_origin(
    traffic: tuple[Traffic, Page], origin: str
) -> None:
    watcher, page = traffic
    watcher.page_url = "/"
    page.goto(origin + "/")
    page.evaluate("() => { new Image().src = 'https://tracker.example.com/p.gif'; }")
    page.wait_for_timeout(300)
    # Chromium's wording changes between releases; what it names does not.
    assert len(watcher.problems) == 1
    assert watcher.problems[0].startswith("/: console error: ")
    assert "'https://tracker.example.com/p.gif'" in watcher.problems[0]
    assert "Content Security Policy directive: \"img-src 'self'\"" in watcher.problems[0]
    # The policy stops it before the browser asks the network.
    assert not any("tracker.example.com" in url for url in watcher.requests)


def test_the_policy_is_enforced_inline_script_does_not_run(
    context: BrowserContext, origin: str
) -> None:
    page = context.new_page()
    page.goto(origin + "/")
    violated = page.evaluate(
        """() => new Promise((resolve) => {
          document.addEventListener("securitypolicyviolation",
            (event) => resolve(event.effectiveDirective), {once: true});
          const script = document.createElement("script");
          script.textContent = "window.injected = true";
          document.head.append(script);
        })"""
    )
    assert violated == "script-src-elem"
    assert page.evaluate("() => window.injected") is None
    referrer = page.evaluate("() => document.querySelector('meta[name=referrer]').content")
    assert referrer in REFERRER_POLICIES
    assert re.fullmatch(r"[a-z-]+", referrer)
