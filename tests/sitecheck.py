"""Parsing a built site (not grepping it): pages, ids and every internal link."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlsplit

from bs4 import BeautifulSoup


def parse(path: Path) -> BeautifulSoup:
    return BeautifulSoup(path.read_text(encoding="utf-8"), "html.parser")


def page_file(out: Path, url_path: str) -> Path:
    relative = unquote(url_path).lstrip("/")
    if relative == "" or relative.endswith("/"):
        relative += "index.html"
    return out / relative


def broken_links(out: Path) -> list[str]:
    """Every internal href/src that points at a missing file or a missing #id."""
    ids: dict[Path, set[str]] = {}

    def ids_of(path: Path) -> set[str]:
        if path not in ids:
            ids[path] = {str(el["id"]) for el in parse(path).select("[id]")}
        return ids[path]

    broken = []
    for html in sorted(out.rglob("*.html")):
        soup = parse(html)
        for element in soup.select("[href], [src]"):
            target = str(element.get("href") or element.get("src"))
            parts = urlsplit(target)
            if parts.scheme or parts.netloc:
                continue
            file = page_file(out, parts.path) if parts.path else html
            where = f"{html.relative_to(out)} -> {target}"
            if not file.is_file():
                broken.append(f"{where}: no file")
            elif parts.fragment and file.suffix == ".html" and parts.fragment not in ids_of(file):
                broken.append(f"{where}: no id")
    return broken
