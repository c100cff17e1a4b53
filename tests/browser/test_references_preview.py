"""Citation previews (static/citations.js) in Chromium: hovering or focusing an in-text citation
shows the formatted reference; Escape hides it; without JavaScript it is a plain link."""

from __future__ import annotations

from playwright.sync_api import Browser, BrowserContext, expect

PAGE = "/conditions/sciatica/"


def entry_text(context: BrowserContext, origin: str) -> tuple[str, str]:
    """The first citation's target and its reference-list text (without "About this source")."""
    page = context.new_page()
    page.goto(origin + PAGE)
    href = page.locator("a.cite").first.get_attribute("href") or ""
    text = page.evaluate(
        """(id) => {
            const copy = document.getElementById(id).cloneNode(true);
            copy.querySelectorAll('.reference-page').forEach((n) => n.remove());
            return copy.textContent.replace(/\\s+/g, ' ').trim();
        }""",
        href[1:],
    )
    page.close()
    return href, text


def test_hover_and_focus_show_the_formatted_reference(context: BrowserContext, origin: str) -> None:
    _, expected = entry_text(context, origin)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(origin + PAGE)
    cite = page.locator("a.cite").first
    preview = page.locator("#citation-preview")
    expect(preview).to_be_hidden()

    cite.hover()
    expect(preview).to_be_visible()
    assert " ".join((preview.text_content() or "").split()) == expected
    assert preview.get_attribute("role") == "tooltip"
    assert cite.get_attribute("aria-describedby") == "citation-preview"
    assert cite.get_attribute("title") is None  # no second, native tooltip on top
    assert preview.locator("a").count() == 0  # a tooltip holds no controls

    page.keyboard.press("Escape")
    expect(preview).to_be_hidden()
    assert cite.get_attribute("aria-describedby") is None
    assert cite.get_attribute("title")  # restored for the next time

    page.mouse.move(0, 0)
    cite.focus()
    expect(preview).to_be_visible()
    cite.blur()
    expect(preview).to_be_hidden()
    assert errors == []


def test_without_javascript_a_citation_is_a_link_to_the_list(browser: Browser, origin: str) -> None:
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(origin + PAGE)
    cite = page.locator("a.cite").first
    href = cite.get_attribute("href") or ""
    cite.click()
    assert page.url.endswith(PAGE + href)
    assert page.locator("#citation-preview").count() == 0
    target = page.locator(href)
    expect(target).to_be_visible()
    assert "About this source" in (target.text_content() or "")
    context.close()
