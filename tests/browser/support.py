"""What the browser tests share: where the tools are, and the built site's pages.

Input: the repository (content/, node_modules/) and Debian's Chromium. Output: paths, constants
and small helpers; the fixtures that use them are in conftest.py.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent.parent
BASE_URL: str = yaml.safe_load((REPO / "content" / "site.yaml").read_text(encoding="utf-8"))[
    "base_url"
]
CHROMIUM = Path("/usr/bin/chromium")
NODE_MODULES = REPO / "node_modules"
AXE = NODE_MODULES / "axe-core" / "axe.min.js"
VNU = NODE_MODULES / "vnu-jar" / "build" / "dist" / "vnu.jar"
# Flags for a quiet, offline browser: no background requests of Chromium's own, no first-run UI.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-default-apps",
    "--disable-sync",
    "--no-first-run",
    "--no-default-browser-check",
]
# Pagefind's own files are not pages of the site.
SEARCH_INDEX = "pagefind"
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22a", "wcag22aa"]


@dataclass(frozen=True)
class BuiltSite:
    root: Path
    pages: tuple[str, ...]  # URL path of every HTML page, e.g. '/', '/studies/x/', '/404.html'

    def file(self, url_path: str) -> Path:
        relative = url_path.lstrip("/")
        if relative == "" or relative.endswith("/"):
            relative += "index.html"
        return self.root / relative


def url_path_of(root: Path, html: Path) -> str:
    relative = html.relative_to(root).as_posix()
    if relative == "index.html":
        return "/"
    if relative.endswith("/index.html"):
        return "/" + relative[: -len("index.html")]
    return "/" + relative


def require(path: Path, what: str) -> None:
    if not path.exists():
        pytest.fail(f"{what} is missing ({path}); run `bash scripts/test.sh`, which installs it")


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def serve(folder: Path) -> Iterator[str]:
    """`folder` over HTTP on 127.0.0.1 (a free port), as a static host would serve it."""
    handler = functools.partial(_QuietHandler, directory=str(folder))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
