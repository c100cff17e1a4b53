"""Accessibility on every page: axe-core's WCAG 2.0/2.1/2.2 A and AA rules in the light and the
dark colour scheme, and the keyboard (skip link, visible focus, every control reachable in order).

Each page is visited once per colour scheme and once with the keyboard; the tests below read
what those visits found (the surveys), so each failure still names its own requirement.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from playwright.sync_api import Browser

from .checks import MEASURE_CONTRAST, axe_findings, measure_contrast, tab_through
from .support import BuiltSite

LUMINANCE = """() => {
  const channel = (c) => {
    c /= 255;
    return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  };
  const luminance = (css) => {
    const [r, g, b] = css.match(/[\\d.]+/g).map(Number);
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b);
  };
  const body = getComputedStyle(document.body);
  return [luminance(body.backgroundColor), luminance(body.color)];
}"""


@dataclass
class SchemeSurvey:
    problems: list[str] = field(default_factory=list)  # axe violations and measured contrast
    contrast_checked: int = 0  # pages where axe's colour-contrast rule ran and passed
    luminance: dict[str, tuple[float, float]] = field(default_factory=dict)  # background, text


@pytest.fixture(scope="module", params=["light", "dark"])
def scheme(
    request: pytest.FixtureRequest,
    browser: Browser,
    built_site: BuiltSite,
    origin: str,
    axe_source: str,
) -> tuple[str, SchemeSurvey]:
    context = browser.new_context(color_scheme=request.param)
    page = context.new_page()
    survey = SchemeSurvey()
    for path in built_site.pages:
        page.goto(origin + path)
        found = axe_findings(page, axe_source)
        survey.problems += [f"{path}: {v}" for v in found["violations"]]
        survey.problems += [f"{path}: {v}" for v in measure_contrast(page, found["undecided"])]
        survey.contrast_checked += 1 if found["contrastChecked"] else 0
        survey.luminance[path] = tuple(page.evaluate(LUMINANCE))  # type: ignore[assignment]
    context.close()
    return request.param, survey


def test_axe_finds_no_wcag_violation_on_any_page(
    scheme: tuple[str, SchemeSurvey], built_site: BuiltSite
) -> None:
    _, survey = scheme
    assert survey.problems == []
    # Proof that the contrast rule ran (and passed) on every page, not just that nothing failed.
    assert survey.contrast_checked == len(built_site.pages)


def test_colour_scheme_follows_the_system_setting(
    scheme: tuple[str, SchemeSurvey], built_site: BuiltSite
) -> None:
    name, survey = scheme
    dark = name == "dark"
    wrong = [
        f"{path}: background {background:.3f}, text {text:.3f}"
        for path, (background, text) in survey.luminance.items()
        if not (background < 0.05 and text > 0.6 if dark else background > 0.9 and text < 0.05)
    ]
    assert wrong == []
    assert len(survey.luminance) == len(built_site.pages)


def test_contrast_measure_sees_through_opacity(browser: Browser) -> None:
    """The measure that stands in for axe on SVG text blends fills and opacity correctly."""
    page = browser.new_page()
    page.set_content(
        '<svg width="300" height="200" font-size="14">'
        '<rect width="300" height="50" fill="#0b6e4f"/><text x="5" y="30" fill="#333">dark on green'
        '</text><rect y="60" width="300" height="50" fill="#0b6e4f" fill-opacity="0.1"/>'
        '<text x="5" y="90" fill="#333">dark on pale green</text>'
        '<g opacity="0.3"><text x="5" y="150" fill="#000">faded black</text></g></svg>'
    )
    assert page.evaluate(MEASURE_CONTRAST, ["svg text"]) == [
        "'dark on green' has contrast 2.02:1",
        "'faded black' has contrast 2.11:1",
    ]
    page.close()


@dataclass
class KeyboardSurvey:
    unreachable: list[str] = field(default_factory=list)
    invisible_focus: list[str] = field(default_factory=list)
    skip_link: list[str] = field(default_factory=list)
    reached: int = 0


# The skip link before anyone focuses it: out of sight, but in the page.
SKIP_LINK_AT_REST = """() => {
  const box = document.querySelector(".skip-link").getBoundingClientRect();
  return box.right <= 0 || box.bottom <= 0 || box.left >= innerWidth || box.top >= innerHeight;
}"""


@pytest.fixture(scope="module")
def keyboard(browser: Browser, built_site: BuiltSite, origin: str) -> KeyboardSurvey:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    survey = KeyboardSurvey()
    for path in built_site.pages:
        page.goto(origin + path)
        hidden_at_rest = page.evaluate(SKIP_LINK_AT_REST)
        count, visited = tab_through(page)
        survey.reached += len(visited)
        order = [v["order"] for v in visited]
        if order != list(range(count)):
            survey.unreachable.append(f"{path}: {count} controls, Tab reached {order}")
        survey.invisible_focus += [
            f"{path}: {v['tag']} '{v['text']}' (indicator {v['indicator']}, on screen "
            f"{v['onScreen']})"
            for v in visited
            if not (v["indicator"] and v["onScreen"])
        ]
        first = visited[0] if visited else {}
        skip = {k: first.get(k) for k in ("text", "href", "inView")}
        if skip != {"text": "Skip to main content", "href": "#main", "inView": True}:
            survey.skip_link.append(f"{path}: the first Tab focused {skip}")
        if not hidden_at_rest:
            survey.skip_link.append(f"{path}: the skip link is on screen before it has focus")
        page.focus(".skip-link")
        page.keyboard.press("Enter")
        now = page.evaluate("() => [document.activeElement.id, location.hash]")
        if now != ["main", "#main"]:
            survey.skip_link.append(f"{path}: after Enter on the skip link, focus is on {now}")
    context.close()
    return survey


def test_every_control_is_reachable_by_keyboard_in_order(
    keyboard: KeyboardSurvey, built_site: BuiltSite
) -> None:
    assert keyboard.unreachable == []
    assert keyboard.reached > 10 * len(built_site.pages)


def test_keyboard_focus_is_always_visible(keyboard: KeyboardSurvey) -> None:
    assert keyboard.invisible_focus == []


def test_skip_link_comes_first_shows_on_focus_and_moves_focus_to_the_main_content(
    keyboard: KeyboardSurvey,
) -> None:
    assert keyboard.skip_link == []


def test_tab_through_reports_a_control_the_keyboard_cannot_reach(browser: Browser) -> None:
    page = browser.new_page()
    page.set_content(
        '<a href="#a">one</a> <span tabindex="0">two</span> <a href="#b" tabindex="-1">three</a>'
    )
    count, visited = tab_through(page)
    assert (count, [v["text"] for v in visited]) == (3, ["one", "two"])
    page.close()
