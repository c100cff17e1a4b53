"""Layout on every page: full-page screenshots at 375 px (a phone) and 1280 px (a laptop) with
no horizontal scrolling and no overlapping text; a print stylesheet that hides navigation, prints
the link targets of references and prints dark text on white paper in either colour scheme.

Screenshots go to $BACKPAIN_SCREENSHOTS when it is set (CI keeps them), else to a temporary folder.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterator
from pathlib import Path

import pytest
from bs4 import BeautifulSoup
from playwright.sync_api import Browser, Page

from .support import BuiltSite

WIDTHS = [375, 1280]

# Text boxes of different text nodes that overlap by more than a pixel each way. Text that is
# hidden on purpose (visually-hidden labels, the skip link off screen) is not drawn, so not counted.
OVERLAPPING_TEXT = """() => {
  const boxes = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  const range = document.createRange();
  let node, id = 0;
  while ((node = walker.nextNode())) {
    const words = node.textContent.trim();
    const parent = node.parentElement;
    if (!words || parent.closest(".visually-hidden, .skip-link, [hidden], script, noscript")) {
      continue;
    }
    const style = getComputedStyle(parent);
    if (style.visibility === "hidden" || Number(style.opacity) === 0) continue;
    range.selectNodeContents(node);
    id += 1;
    for (const r of range.getClientRects()) {
      if (r.width < 1 || r.height < 1) continue;
      boxes.push({id, words: words.slice(0, 40), left: r.left + scrollX, right: r.right + scrollX,
                  top: r.top + scrollY, bottom: r.bottom + scrollY});
    }
  }
  boxes.sort((a, b) => a.top - b.top);
  const overlaps = [];
  for (let i = 0; i < boxes.length; i++) {
    const a = boxes[i];
    for (let j = i + 1; j < boxes.length && boxes[j].top < a.bottom; j++) {
      const b = boxes[j];
      if (a.id === b.id) continue;
      const wide = Math.min(a.right, b.right) - Math.max(a.left, b.left);
      const high = Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top);
      if (wide > 1 && high > 1) overlaps.push(`'${a.words}' overlaps '${b.words}'`);
    }
  }
  return {overlaps, texts: id};
}"""

SCROLL_WIDTH = "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]"


def jpeg_size(data: bytes) -> tuple[int, int]:
    """(width, height) from a JPEG's start-of-frame segment."""
    assert data[:2] == b"\xff\xd8"
    at = 2
    while at < len(data):
        marker, length = data[at + 1], struct.unpack(">H", data[at + 2 : at + 4])[0]
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            height, width = struct.unpack(">HH", data[at + 5 : at + 9])
            return width, height
        at += 2 + length
    raise ValueError("no start-of-frame segment")


@pytest.fixture(scope="module")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    chosen = os.environ.get("BACKPAIN_SCREENSHOTS")
    folder = Path(chosen) if chosen else tmp_path_factory.mktemp("screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def shot_name(path: str, width: int) -> str:
    slug = path.strip("/").replace("/", "--").removesuffix(".html") or "home"
    return f"{width}px/{slug}.jpeg"


@pytest.mark.parametrize("width", WIDTHS)
def test_no_page_scrolls_sideways_or_overlaps_text(
    browser: Browser, built_site: BuiltSite, origin: str, screenshots: Path, width: int
) -> None:
    context = browser.new_context(viewport={"width": width, "height": 800})
    page = context.new_page()
    problems = []
    for path in built_site.pages:
        page.goto(origin + path)
        scroll_width, client_width = page.evaluate(SCROLL_WIDTH)
        if scroll_width > client_width:
            problems.append(f"{path}: {scroll_width} px wide in a {client_width} px window")
        found = page.evaluate(OVERLAPPING_TEXT)
        problems += [f"{path}: {overlap}" for overlap in found["overlaps"]]
        if found["texts"] < 10:
            problems.append(f"{path}: only {found['texts']} pieces of text measured")
        target = screenshots / shot_name(path, width)
        target.parent.mkdir(parents=True, exist_ok=True)
        # JPEG: half the time of PNG for a full page, and as good to look at.
        image = page.screenshot(path=str(target), full_page=True, type="jpeg", quality=70)
        # The screenshot itself shows it: a page wider than the window makes a wider image.
        if jpeg_size(image)[0] != width:
            problems.append(f"{path}: screenshot is {jpeg_size(image)[0]} px wide, not {width}")
    context.close()
    assert problems == []
    assert len(list((screenshots / f"{width}px").glob("*.jpeg"))) == len(built_site.pages)


def test_a_page_wider_than_the_window_makes_a_wider_screenshot(browser: Browser) -> None:
    page = browser.new_page(viewport={"width": 375, "height": 600})
    page.set_content('<p style="width:500px">A paragraph wider than a phone.</p>')
    image = page.screenshot(full_page=True, type="jpeg", quality=70)
    assert jpeg_size(image)[0] > 375
    assert page.evaluate(SCROLL_WIDTH)[0] > 375
    page.close()


def test_overlap_check_sees_overlapping_text(browser: Browser) -> None:
    page = browser.new_page()
    page.set_content(
        '<p style="position:absolute;top:10px;left:10px">First words here</p>'
        '<p style="position:absolute;top:14px;left:30px">Second words</p>'
        '<p style="position:absolute;top:200px">Apart</p>'
    )
    assert page.evaluate(OVERLAPPING_TEXT) == {
        "overlaps": ["'First words here' overlaps 'Second words'"],
        "texts": 3,
    }
    page.close()


PRINTED = """() => {
  const hidden = (selector) => [...document.querySelectorAll(selector)]
    .filter((el) => el.checkVisibility()).map(() => selector);
  const shown = [
    ...hidden(".site-header nav"), ...hidden(".site-footer nav"), ...hidden(".skip-link"),
    ...hidden(".search-form"),
  ];
  const links = [...document.querySelectorAll(
    ".references a[href^='http'], .bibliography a[href^='http'], .citation a[href^='http'], "
    + ".identifiers a[href]")];
  const unprinted = links
    .filter((a) => !getComputedStyle(a, "::after").content.includes(a.getAttribute("href")))
    .map((a) => a.getAttribute("href"));
  const channel = (c) => {
    c /= 255;
    return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  };
  const luminance = (css) => {
    const [r, g, b] = css.match(/[\\d.]+/g).map(Number);
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b);
  };
  const pale = [];
  for (const el of document.querySelectorAll("body *")) {
    const own = [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
    const style = getComputedStyle(el);
    if (own && el.checkVisibility() && luminance(style.color) > 0.2) {
      pale.push(`${el.tagName.toLowerCase()}.${el.className}: ${style.color}`);
    }
  }
  const body = getComputedStyle(document.body);
  return {shown, unprinted, printedLinks: links.length - unprinted.length, pale: [...new Set(pale)],
          paper: body.backgroundColor};
}"""


@pytest.fixture(params=["light", "dark"])
def print_page(browser: Browser, request: pytest.FixtureRequest) -> Iterator[Page]:
    context = browser.new_context(color_scheme=request.param)
    page = context.new_page()
    page.emulate_media(media="print")
    yield page
    context.close()


def test_print_hides_navigation_prints_reference_targets_and_dark_text_on_white(
    print_page: Page, built_site: BuiltSite, origin: str
) -> None:
    problems = []
    printed_links = 0
    for path in built_site.pages:
        print_page.goto(origin + path)
        found = print_page.evaluate(PRINTED)
        problems += [f"{path}: {selector} is printed" for selector in found["shown"]]
        problems += [f"{path}: link target {href} not printed" for href in found["unprinted"]]
        problems += [f"{path}: pale text on paper: {pale}" for pale in found["pale"]]
        if found["paper"] not in ("rgb(255, 255, 255)", "rgba(0, 0, 0, 0)"):
            problems.append(f"{path}: paper is {found['paper']}")
        printed_links += found["printedLinks"]
    assert problems == []
    # Proof the check had links to look at: every DOI on the site is printed somewhere.
    dois = {
        a["href"]
        for path in built_site.pages
        for a in BeautifulSoup(
            built_site.file(path).read_text(encoding="utf-8"), "html.parser"
        ).select('a[href^="https://doi.org/"]')
    }
    assert printed_links >= len(dois) > 10


MAIN_TEXT = "() => document.querySelector('main').innerText.replace(/\\s+/g, ' ').trim()"


def test_every_page_reads_the_same_without_javascript(
    browser: Browser, built_site: BuiltSite, origin: str
) -> None:
    """Scripts only add to a page (search, citation previews); its text needs none of them."""
    with_js = browser.new_context()
    without_js = browser.new_context(java_script_enabled=False)
    on, off = with_js.new_page(), without_js.new_page()
    differing = []
    for path in built_site.pages:
        if path == "/search/":
            continue  # searching needs JavaScript; without it the page lists every page instead
        on.goto(origin + path)
        off.goto(origin + path)
        text = off.evaluate(MAIN_TEXT)
        if text != on.evaluate(MAIN_TEXT) or len(text) < 100:
            differing.append(path)
    with_js.close()
    without_js.close()
    assert differing == []
