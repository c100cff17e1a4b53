"""Checks run inside the page: axe-core, SVG text contrast and the keyboard's path through it.

Input: a Playwright page showing one page of the built site. Output: plain lists and dicts of
what was found, for the tests to compare with what they expect.
"""

from __future__ import annotations

from typing import Any

from playwright.sync_api import Page

from .support import WCAG_TAGS

RUN_AXE = """async (tags) => {
  const results = await axe.run(document, {
    runOnly: {type: "tag", values: tags},
    resultTypes: ["violations", "incomplete", "passes"],
  });
  const describe = (rule, nodes = rule.nodes) => nodes.map(
    (node) => `${rule.id} (${rule.impact}) at ${node.target.join(" ")}: ${node.failureSummary}`);
  return {
    violations: results.violations.flatMap((rule) => describe(rule)),
    // "Needs review" on colour contrast: axe could not decide (it cannot see behind SVG text,
    // nor judge symbols). measure_contrast() measures each of these instead.
    undecided: results.incomplete
      .filter((rule) => rule.id === "color-contrast")
      .flatMap((rule) => rule.nodes.map((node) => node.target[0])),
    contrastChecked: results.passes.some((r) => r.id === "color-contrast"),
  };
}"""


# Contrast of text with what is painted behind it, for what axe leaves undecided and for all SVG
# text. A shape's fill-opacity and every ancestor's opacity are applied; layers are blended down
# to the first opaque one (or the page). WCAG 1.4.3: 4.5:1, or 3:1 for large text.
MEASURE_CONTRAST = """(selectors) => {
  const rgba = (css) => {
    const m = css.match(/rgba?\\(([^)]+)\\)/);
    if (!m) return null;
    const [r, g, b, a = 1] = m[1].split(/[\\s,\\/]+/).filter(Boolean).map(Number);
    return {r, g, b, a};
  };
  const channel = (c) => {
    c /= 255;
    return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  };
  const luminance = (c) => 0.2126 * channel(c.r) + 0.7152 * channel(c.g) + 0.0722 * channel(c.b);
  const over = (top, bottom) => ({
    r: top.r * top.a + bottom.r * (1 - top.a),
    g: top.g * top.a + bottom.g * (1 - top.a),
    b: top.b * top.a + bottom.b * (1 - top.a),
    a: 1,
  });
  const page = rgba(getComputedStyle(document.documentElement).backgroundColor);
  const canvas = page && page.a > 0 ? page : {r: 255, g: 255, b: 255, a: 1};
  const paintOf = (el, css) => {
    const paint = rgba(css);
    if (!paint) return null;
    let alpha = paint.a * (el instanceof SVGElement ? Number(getComputedStyle(el).fillOpacity) : 1);
    for (let node = el; node && node !== document.documentElement; node = node.parentElement) {
      alpha *= Number(getComputedStyle(node).opacity);
    }
    return {...paint, a: alpha};
  };
  const behind = (el) => {
    const box = el.getBoundingClientRect();
    const stack = document.elementsFromPoint(box.left + box.width / 2, box.top + box.height / 2);
    const layers = [];
    for (const under of stack) {
      if (under.closest("text")) continue;  // SVG text paints no background
      const style = getComputedStyle(under);
      const svg = under instanceof SVGGeometryElement;
      const paint = paintOf(under, svg ? style.fill : style.backgroundColor);
      if (paint && paint.a > 0) layers.push(paint);
      if (paint && paint.a >= 1) break;
    }
    return layers.reduceRight((below, layer) => over(layer, below), canvas);
  };
  const elements = new Set(selectors.flatMap((s) => [...document.querySelectorAll(s)]));
  const problems = [];
  for (const el of elements) {
    const words = el.textContent.trim();
    if (!words || !el.checkVisibility()) continue;
    el.scrollIntoView({block: "center", inline: "center"});
    const style = getComputedStyle(el);
    const ink = paintOf(el, el instanceof SVGElement ? style.fill : style.color);
    if (!ink) {
      problems.push(`'${words.slice(0, 40)}' has no solid colour (${style.fill})`);
      continue;
    }
    const back = behind(el);
    const [hi, lo] = [luminance(over(ink, back)), luminance(back)].sort((a, b) => b - a);
    const ratio = (hi + 0.05) / (lo + 0.05);
    const size = parseFloat(style.fontSize);
    const large = size >= 24 || (size >= 18.66 && Number(style.fontWeight) >= 700);
    if (ratio < (large ? 3 : 4.5)) {
      problems.push(`'${words.slice(0, 40)}' has contrast ${ratio.toFixed(2)}:1`);
    }
  }
  window.scrollTo(0, 0);
  return problems;
}"""


def measure_contrast(page: Page, undecided: list[str]) -> list[str]:
    """Contrast problems of all SVG text and of every element axe left undecided."""
    found: list[str] = page.evaluate(MEASURE_CONTRAST, ["svg text", *undecided])
    return found


def axe_findings(page: Page, axe_source: str) -> dict[str, Any]:
    # Evaluated through the DevTools protocol, which the page's CSP does not govern.
    page.evaluate(axe_source)
    result: dict[str, Any] = page.evaluate(RUN_AXE, WCAG_TAGS)
    return result


# Every element a keyboard user should be able to reach, in document order.
MARK_FOCUSABLE = """() => {
  const selector = 'a[href], area[href], button, input:not([type="hidden"]), select, textarea, '
    + 'summary, iframe, [contenteditable="true"], [tabindex]:not([tabindex="-1"])';
  const shown = (el) => {
    if (el.disabled || el.closest("[hidden], [inert]")) return false;
    // A drawing hidden from assistive technology may keep its links out of the Tab order when
    // the same links are in the page as text (axe's aria-hidden-focus rule checks the pairing).
    if (el.getAttribute("tabindex") === "-1" && el.closest('[aria-hidden="true"]')) return false;
    const style = getComputedStyle(el);
    if (style.visibility === "hidden" || style.display === "none") return false;
    const box = el.getBoundingClientRect();
    return box.width > 0 && box.height > 0;
  };
  const elements = [...document.querySelectorAll(selector)].filter(shown);
  elements.forEach((el, i) => el.setAttribute("data-focus-order", String(i)));
  return elements.length;
}"""

FOCUSED = """() => {
  const el = document.activeElement;
  if (!el || el === document.body || !el.hasAttribute("data-focus-order")) {
    return {order: null, tag: el ? el.tagName : null};
  }
  const style = getComputedStyle(el);
  const box = el.getBoundingClientRect();
  const outline = style.outlineStyle !== "none" && parseFloat(style.outlineWidth) >= 2;
  return {
    order: Number(el.getAttribute("data-focus-order")),
    tag: el.tagName,
    text: (el.textContent || el.getAttribute("aria-label") || "").trim().slice(0, 50),
    href: el.getAttribute("href"),
    indicator: outline || style.boxShadow !== "none",
    onScreen: box.bottom > 0 && box.right > 0 && box.top < innerHeight && box.left < innerWidth,
    inView: box.width > 0 && box.height > 0 && box.left >= 0 && box.top >= 0
      && box.right <= innerWidth && box.bottom <= innerHeight,
  };
}"""


def tab_through(page: Page) -> tuple[int, list[dict[str, Any]]]:
    """Press Tab from the top of the page until focus leaves it or wraps round; return what
    was focused, in order."""
    count: int = page.evaluate(MARK_FOCUSABLE)
    visited: list[dict[str, Any]] = []
    seen: set[int] = set()
    for _ in range(count + 1):
        page.keyboard.press("Tab")
        focused: dict[str, Any] = page.evaluate(FOCUSED)
        # Past the last control, focus leaves the page or wraps round to the first one.
        if focused["order"] is None or focused["order"] in seen:
            break
        seen.add(focused["order"])
        visited.append(focused)
    return count, visited
