"""Draw static/social-card.png, the 1200x630 image Open Graph and Twitter cards show.

Input: the site title and tagline in content/site.yaml. Output: static/social-card.png.
Run by hand when the title changes (`python3 scripts/social_card.py`); the build only copies the
file. Drawn by Debian's Chromium through Playwright, with the site's own colours and fonts.
"""

from __future__ import annotations

import html
from pathlib import Path

import yaml
from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parent.parent

CARD = """<!doctype html><html lang="en"><meta charset="utf-8"><style>
body {{ margin: 0; width: 1200px; height: 630px; display: flex; flex-direction: column;
  justify-content: center; padding: 0 80px; box-sizing: border-box; background: #0b6e4f;
  color: #fff; font-family: system-ui, "Helvetica Neue", Arial, sans-serif; }}
h1 {{ font-size: 72px; line-height: 1.1; margin: 0 0 32px; }}
p {{ font-size: 32px; line-height: 1.35; margin: 0; max-width: 960px; }}
</style><h1>{title}</h1><p>{tagline}</p></html>"""


def main() -> None:
    config = yaml.safe_load((ROOT / "content" / "site.yaml").read_text(encoding="utf-8"))
    page_html = CARD.format(
        title=html.escape(config["title"]), tagline=html.escape(config["tagline"])
    )
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium", args=["--no-sandbox", "--disable-gpu"]
        )
        page = browser.new_page(viewport={"width": 1200, "height": 630})
        page.set_content(page_html)
        page.screenshot(path=str(ROOT / "static" / "social-card.png"))
        browser.close()


if __name__ == "__main__":
    main()
