"""Parsing a built site (not grepping it): pages, ids and every internal link."""

from __future__ import annotations

import json
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


# Attributes whose URL the browser fetches by itself, and those it follows or submits to.
_FETCHED = {"src", "srcset", "poster", "data", "background", "xlink:href"}
_FOLLOWED = {"href", "action", "formaction", "cite", "ping"}
_ACTIVE_ELEMENTS = {"iframe", "frame", "frameset", "object", "embed", "applet", "base", "form"}
_ACTIVE_ELEMENTS |= {"input", "button", "textarea", "select", "svg", "math", "template"}
_LOADING_RELS = {"stylesheet", "icon", "preload", "prefetch", "modulepreload", "manifest"}
_DATA_SCRIPTS = {"application/ld+json", "application/json"}


def snapshot(folder: Path) -> dict[str, tuple[bytes, int, int]]:
    """Every file's bytes, mode and modification time: 'untouched' means all three."""
    found = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            stat = path.stat()
            found[path.relative_to(folder).as_posix()] = (
                path.read_bytes(),
                stat.st_mode,
                stat.st_mtime_ns,
            )
    return found


def _browser_url(value: str) -> str:
    """A URL as a browser reads it: tabs and line breaks dropped, ends trimmed."""
    return "".join(c for c in value if c not in "\t\n\r").strip("".join(map(chr, range(0x21))))


def unsafe_markup(out: Path) -> list[str]:
    """Everything on the built pages that could run code or fetch from another origin.

    Scripts are allowed only as files from the site itself or as JSON data blocks (which must
    parse, so a `</script>` in a value cannot have ended one early); an inline script must be
    written by a template. Handlers (`on*`), frames, plugins, forms and SVG are never allowed,
    links only to http(s), mailto or the site, and resources only from the site.
    """
    templates = "\n".join(
        p.read_text(encoding="utf-8") for p in sorted((out.parent / "templates").glob("*.html"))
    )
    found = []
    for html in sorted(out.rglob("*.html")):
        where = html.relative_to(out).as_posix()
        soup = parse(html)
        for element in soup.find_all(True):
            name = element.name.lower()
            if name in _ACTIVE_ELEMENTS:
                found.append(f"{where}: <{name}>")
            if name == "meta" and str(element.get("http-equiv", "")).lower() == "refresh":
                found.append(f"{where}: <meta http-equiv=refresh>")
            for attribute, value in element.attrs.items():
                text = " ".join(value) if isinstance(value, list) else str(value)
                lowered = attribute.lower()
                if lowered.startswith("on"):
                    found.append(f"{where}: <{name} {attribute}=...>")
                if lowered == "style" and ("url(" in text or "expression(" in text):
                    found.append(f"{where}: <{name} style={text!r}>")
                if lowered not in _FETCHED | _FOLLOWED:
                    continue
                url = urlsplit(_browser_url(text))
                if url.scheme and url.scheme.lower() not in ("http", "https", "mailto"):
                    found.append(f"{where}: <{name} {attribute}={text!r}>")
                rels = {str(r).lower() for r in element.get("rel") or ()}
                fetched = lowered in _FETCHED or (name == "link" and rels & _LOADING_RELS)
                if fetched and (url.scheme or url.netloc):
                    found.append(f"{where}: <{name} {attribute}={text!r}> loads from elsewhere")
            if name == "script":
                kind = str(element.get("type", "")).lower()
                code = element.string or ""
                if kind in _DATA_SCRIPTS:
                    try:
                        json.loads(code)
                    except ValueError:
                        found.append(f"{where}: a JSON block that does not parse: {code[:80]!r}")
                elif not element.get("src") and code.strip() and code not in templates:
                    found.append(f"{where}: inline script {code[:80]!r}")
    return found
