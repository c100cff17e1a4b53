"""Print the site's budgets: the weight of every study page and Lighthouse's four scores.

Usage: python3 scripts/budgets.py [--site DIR] [--no-lighthouse]

Builds the site from this repository's content/ (or measures an already built --site folder),
then prints:
- for every study page, its HTML and the CSS it links, uncompressed (budget: under 40 KB);
- any web font the stylesheets would fetch (budget: none from another origin);
- Lighthouse's performance, accessibility, best-practices and SEO scores for the home page, a
  condition, the heaviest study and a reference page (budget: at least 0.95 each), run with
  Debian's Chromium (CHROME_PATH=/usr/bin/chromium) against the site served on 127.0.0.1.

These are figures, not timings: the exit status is 1 when a budget is broken, 0 otherwise.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from backpain_site.build import build  # noqa: E402

PAGE_BUDGET = 40_000  # bytes of HTML + CSS for one study page, uncompressed
SCORE_BUDGET = 0.95
CATEGORIES = ["performance", "accessibility", "best-practices", "seo"]
LIGHTHOUSE = ROOT / "node_modules" / "lighthouse" / "cli" / "index.js"
CHROMIUM = "/usr/bin/chromium"
CHROME_FLAGS = (
    "--headless=new --no-sandbox --disable-gpu --disable-background-networking "
    "--disable-component-update --disable-default-apps --disable-sync --no-first-run"
)
STYLESHEET = re.compile(r'<link rel="stylesheet" href="([^"]+)"')
FONT_FACE = re.compile(r"@font-face\s*{[^}]*}", re.S)
URL_IN_CSS = re.compile(r"url\(\s*['\"]?([^'\")]+)")


def study_pages(site: Path) -> list[Path]:
    return sorted(p for p in (site / "studies").glob("*/index.html"))


def page_weight(site: Path, page: Path) -> tuple[int, int]:
    """(HTML bytes, bytes of the stylesheets the page links)."""
    html = page.read_text(encoding="utf-8")
    css = 0
    for href in STYLESHEET.findall(html):
        css += (site / urlsplit(href).path.lstrip("/")).stat().st_size
    return len(html.encode("utf-8")), css


def foreign_fonts(site: Path) -> list[str]:
    found = []
    for sheet in sorted(site.rglob("*.css")):
        if "pagefind" in sheet.relative_to(site).parts:
            continue  # Pagefind's own UI styles; the site does not load them
        for face in FONT_FACE.findall(sheet.read_text(encoding="utf-8")):
            for url in URL_IN_CSS.findall(face):
                if urlsplit(url).netloc:
                    found.append(f"{sheet.relative_to(site)}: {url}")
    return found


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def serve(site: Path) -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(site)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def lighthouse(url: str) -> dict[str, float]:
    if not LIGHTHOUSE.is_file():
        raise SystemExit(f"lighthouse is missing ({LIGHTHOUSE}); run `npm ci --ignore-scripts`")
    done = subprocess.run(
        [
            "node",
            str(LIGHTHOUSE),
            url,
            "--output=json",
            "--output-path=stdout",
            "--quiet",
            f"--only-categories={','.join(CATEGORIES)}",
            f"--chrome-flags={CHROME_FLAGS}",
        ],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "CHROME_PATH": CHROMIUM},
        timeout=300,
    )
    if done.returncode != 0:
        raise SystemExit(f"lighthouse failed on {url}:\n{done.stderr[-2000:]}")
    report = json.loads(done.stdout)
    return {name: float(report["categories"][name]["score"] or 0) for name in CATEGORIES}


def audited_pages(site: Path) -> list[tuple[str, str]]:
    """Home, a condition, the heaviest study and a reference page: (label, URL path)."""

    def path_of(page: Path) -> str:
        return "/" + page.parent.relative_to(site).as_posix() + "/"

    heaviest = max(study_pages(site), key=lambda p: sum(page_weight(site, p)))
    condition = sorted((site / "conditions").glob("*/index.html"))[0]
    reference = sorted((site / "references").glob("*/index.html"))[0]
    return [
        ("home", "/"),
        ("condition", path_of(condition)),
        ("study", path_of(heaviest)),
        ("reference", path_of(reference)),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--site", type=Path, help="an already built site (default: build one)")
    parser.add_argument("--no-lighthouse", action="store_true", help="print page weights only")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as scratch:
        site: Path = args.site or Path(scratch) / "_site"
        if args.site is None:
            result = build(ROOT, site)
            if not result.written:
                print("\n".join(str(p) for p in result.problems), file=sys.stderr)
                return 1
        return report(site, lighthouse_too=not args.no_lighthouse)


def report(site: Path, *, lighthouse_too: bool) -> int:
    broken = 0
    pages = study_pages(site)
    print(f"Study pages: HTML + CSS, uncompressed (budget: under {PAGE_BUDGET / 1000:.0f} KB)")
    print(f"{'page':<58} {'HTML':>9} {'CSS':>8} {'total':>9}")
    for page in pages:
        html, css = page_weight(site, page)
        over = html + css >= PAGE_BUDGET
        broken += over
        name = page.parent.relative_to(site).as_posix() + "/"
        mark = "  OVER BUDGET" if over else ""
        sizes = f"{html / 1000:>7.1f}KB {css / 1000:>6.1f}KB {(html + css) / 1000:>7.1f}KB"
        print(f"{name:<58} {sizes}{mark}")
    largest = max(sum(page_weight(site, p)) for p in pages)
    print(f"{len(pages)} study pages; largest {largest / 1000:.1f} KB; {broken} over budget")
    fonts = foreign_fonts(site)
    print(f"Web fonts from other origins: {len(fonts)}")
    for font in fonts:
        print(f"  {font}")
    broken += len(fonts)
    if lighthouse_too:
        print(f"\nLighthouse (Chromium {CHROMIUM}; budget: every score at least {SCORE_BUDGET})")
        print(f"{'page':<10} {'URL':<48} " + " ".join(f"{c:>14}" for c in CATEGORIES))
        with serve(site) as origin:
            for label, path in audited_pages(site):
                scores = lighthouse(origin + path)
                low = [c for c in CATEGORIES if scores[c] < SCORE_BUDGET]
                broken += len(low)
                row = " ".join(f"{scores[c]:>14.2f}" for c in CATEGORIES)
                print(f"{label:<10} {path:<48} {row}{'  BELOW BUDGET' if low else ''}")
    print("all budgets met" if broken == 0 else f"{broken} budget(s) broken")
    return 0 if broken == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
