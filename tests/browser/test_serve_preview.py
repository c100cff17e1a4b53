"""`backpain-site serve` in Chromium: the open page reloads itself on a save and shows the
overlay while content is broken, under the site's own Content-Security-Policy (the preview serves
its script and the overlay's styles from its own origin, so the policy allows them)."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Browser

from test_serve import BROKEN, EDITED, STUDY_PATH, Server, write

from conftest import STUDY, write_project


def test_the_open_page_reloads_and_shows_the_overlay(browser: Browser, tmp_path: Path) -> None:
    root = write_project(tmp_path / "project")
    running = Server(root)
    refused: list[str] = []
    context = browser.new_context()
    try:
        page = context.new_page()
        page.on(
            "console",
            lambda m: refused.append(m.text) if "Content Security Policy" in m.text else None,
        )
        page.goto(f"{running.url}studies/smith-2020/")
        page.wait_for_function("() => window.LiveReload !== undefined")
        page.wait_for_timeout(300)  # the WebSocket handshake
        write(root, STUDY_PATH, EDITED)
        page.wait_for_function(
            "() => document.body.innerText.includes('edited just now')", timeout=3000
        )
        write(root, STUDY_PATH, BROKEN)
        overlay = page.locator("#backpain-site-errors")
        overlay.wait_for(state="visible", timeout=3000)
        assert overlay.locator("li").all_inner_texts() == [
            "content/studies/smith-2020.md:2: missing required field 'certainty' in a study",
            "content/studies/smith-2020.md:13: unknown field 'certanity' in a study "
            "(did you mean 'certainty'?)",
        ]
        assert overlay.evaluate("e => getComputedStyle(e).position") == "fixed"
        assert "edited just now" in page.inner_text("main")  # the last good page, underneath
        write(root, STUDY_PATH, STUDY)
        overlay.wait_for(state="detached", timeout=3000)
        assert "Pain may have eased a little." in page.inner_text("main")
    finally:
        context.close()
        running.stop()
    assert refused == []
