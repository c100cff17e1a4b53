"""The live preview's parts that need no server: what it watches, what a request may get,
and what it adds to a page.

Input: the project folder (its inputs), raw request paths and Host headers, built pages and
the problems of a failed build. Output: fingerprints of the inputs (a rebuild happens only when
the bytes change), the file inside the output folder a request maps to (or a refusal: MkDocs'
dev server once joined paths unchecked, CVE-2021-40978), and pages with the livereload script,
the error overlay or the draft banner put in. Used by serve.py; nothing here serves or writes.
"""

from __future__ import annotations

import hashlib
import html
import ipaddress
import mimetypes
import os
import re
import stat
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from urllib.parse import quote, unquote

from .problems import Problem

WATCHED = ("content", "templates", "static")
# Served by the preview itself, outside any path the site can have (a leading dot).
ASSET_PREFIX = "/.backpain-site/"
OVERLAY_ID = "backpain-site-errors"
DRAFT_BANNER_ID = "backpain-site-draft"

StatKey = tuple[int, int, int]  # mtime_ns, size, inode


def input_files(root: Path) -> dict[str, Path]:
    """Every file the build reads, by project-relative path; symlinked folders not followed."""
    found: dict[str, Path] = {}
    for top in WATCHED:
        for dirpath, dirnames, filenames in os.walk(root / top):
            # The build skips hidden files in content/ (editors' swap files live there).
            keep_hidden = top == "static"
            dirnames[:] = sorted(d for d in dirnames if keep_hidden or not d.startswith("."))
            for name in sorted(filenames):
                if keep_hidden or not name.startswith("."):
                    path = Path(dirpath) / name
                    found[path.relative_to(root).as_posix()] = path
    return found


def _stat_folder(folder: str, relative: str, keep_hidden: bool, into: dict[str, StatKey]) -> None:
    """`input_files`' walk (hidden names skipped outside static/, symlinked folders not
    followed, symlinked files followed), each file with its time, size and inode."""
    try:
        entries = list(os.scandir(folder))
    except OSError:  # not there (yet), or removed while being read
        return
    for entry in entries:
        if not keep_hidden and entry.name.startswith("."):
            continue
        try:
            if entry.is_dir():
                if not entry.is_symlink():
                    _stat_folder(entry.path, f"{relative}/{entry.name}", keep_hidden, into)
                continue
            st = entry.stat()
        except OSError:  # deleted between listing and stat
            continue
        into[f"{relative}/{entry.name}"] = (st.st_mtime_ns, st.st_size, st.st_ino)


def _listed(relative: str) -> bool:
    """Whether `stats()` can list this path at all (before looking at the files)."""
    parts = relative.split("/")
    if parts[0] not in WATCHED or any(part in ("", ".", "..") for part in parts):
        return False
    return parts[0] == "static" or not any(part.startswith(".") for part in parts[1:])


class Fingerprints:
    """Cheap change detection (stat) backed by an exact one (the bytes' SHA-256)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._digests: dict[str, tuple[StatKey, str]] = {}

    def stats(self) -> dict[str, StatKey]:
        """The files of `input_files`, with their times: asked 20 times a second, so read with
        `os.scandir` and plain strings (Path objects made this 5 times slower: at 10,000
        studies a poll took longer than the 50 ms between polls)."""
        stats: dict[str, StatKey] = {}
        for top in WATCHED:
            _stat_folder(os.path.join(self.root, top), top, top == "static", stats)
        return stats

    def updated(self, stats: Mapping[str, StatKey], paths: Iterable[str]) -> dict[str, StatKey]:
        """`stats` with `paths` (project-relative files or folders, e.g. named by watch.py) as
        they are now: what `stats()` would give, listing only those paths. A path that is gone
        is dropped with everything under it, a folder is listed whole; paths `stats()` would
        not list (hidden outside static/, under a symlinked folder, outside the watched top
        folders) change nothing."""
        updated = dict(stats)
        wanted = [path for path in set(paths) if _listed(path)]
        for path in wanted:
            updated.pop(path, None)
        # A path that was not a file may have been a folder: the files it held go too (and
        # come back below if they are still there). One pass over the files for all of them.
        folders = tuple(f"{path}/" for path in wanted if path not in stats)
        if folders:
            for relative in [r for r in updated if r.startswith(folders)]:
                del updated[relative]
        for path in wanted:
            self._stat_path(path, updated)
        return updated

    def _stat_path(self, relative: str, into: dict[str, StatKey]) -> None:
        """One path as `stats()` lists it: a file with its time, a folder with its files."""
        top, _, rest = relative.partition("/")
        full = os.path.join(self.root, relative)
        if not rest:
            _stat_folder(full, top, top == "static", into)
            return
        # The listing does not follow a symlinked folder below a top folder.
        folder = os.path.join(self.root, top)
        for part in rest.split("/")[:-1]:
            folder = os.path.join(folder, part)
            if os.path.islink(folder):
                return
        try:
            st = os.stat(full)
        except OSError:  # gone, or a symlink to nothing
            return
        if stat.S_ISDIR(st.st_mode):
            if not os.path.islink(full):
                _stat_folder(full, relative, top == "static", into)
            return
        into[relative] = (st.st_mtime_ns, st.st_size, st.st_ino)

    def digests(self, stats: Mapping[str, StatKey]) -> dict[str, str]:
        """SHA-256 of each file; only files whose stat changed are read again."""
        digests: dict[str, str] = {}
        for relative, key in stats.items():
            cached = self._digests.get(relative)
            if cached is not None and cached[0] == key:
                digests[relative] = cached[1]
                continue
            try:
                digest = hashlib.sha256((self.root / relative).read_bytes()).hexdigest()
            except OSError:
                continue
            self._digests[relative] = (key, digest)
            digests[relative] = digest
        for gone in set(self._digests) - set(stats):
            del self._digests[gone]
        return digests


def fingerprint(digests: Mapping[str, str]) -> str:
    whole = hashlib.sha256()
    for relative in sorted(digests):
        whole.update(f"{relative}\0{digests[relative]}\n".encode())
    return whole.hexdigest()


def changed_inputs(before: Mapping[str, str], after: Mapping[str, str]) -> list[str]:
    return sorted(p for p in set(before) | set(after) if before.get(p) != after.get(p))


@dataclass(frozen=True)
class Located:
    """Where a request path leads: a file inside the output folder, a redirect, or a refusal."""

    status: int
    file: Path | None = None
    location: str = ""


_FORBIDDEN_CHARACTERS = re.compile(r"[\x00-\x1f\x7f\\%]")


def locate(root: Path, prefix: str, raw_path: str) -> Located:
    """Map the raw (still percent-encoded) request path to a file inside `root`.

    Decoded exactly once; anything that could climb out (`..`, backslashes, a `%` left after
    decoding, i.e. double encoding, drive letters, empty segments) is refused before the file
    system is touched, and the resolved file (symlinks followed) must still be inside `root`.
    """
    if not raw_path.startswith("/"):
        return Located(400)
    try:
        path = unquote(raw_path, errors="strict")
    except UnicodeDecodeError:
        return Located(400)
    if _FORBIDDEN_CHARACTERS.search(path):
        return Located(403)
    if prefix:
        if path == prefix:
            return Located(301, location=quote(f"{prefix}/"))
        if not path.startswith(f"{prefix}/"):
            return Located(404)
        path = path[len(prefix) :]
    segments = path.split("/")[1:]
    if any(s in (".", "..") or ":" in s for s in segments) or "" in segments[:-1]:
        return Located(403)
    base = root.resolve()
    resolved = base.joinpath(*(s for s in segments if s)).resolve()
    if not resolved.is_relative_to(base):
        return Located(403)
    if resolved.is_dir():
        if segments[-1]:
            return Located(301, location=quote(f"{prefix}{path}/"))
        resolved = (resolved / "index.html").resolve()
        if not resolved.is_relative_to(base):
            return Located(403)
    if not resolved.is_file():
        return Located(404)
    return Located(200, resolved)


def url_of(output: PurePosixPath, prefix: str) -> str:
    text = output.as_posix()
    if text == "index.html":
        text = ""
    elif text.endswith("/index.html"):
        text = text[: -len("index.html")]
    return f"{prefix}/{text}"


def overlay_html(errors: list[Problem], has_site: bool) -> str:
    count = f"{len(errors)} error{'s' if len(errors) != 1 else ''}"
    shown = (
        "You are seeing the last good version of this page."
        if has_site
        else "There is no good version to show yet."
    )
    items = "\n".join(f"<li><code>{html.escape(str(p))}</code></li>" for p in errors)
    return (
        f'<div id="{OVERLAY_ID}" role="alert" aria-labelledby="{OVERLAY_ID}-title">\n'
        f'<p id="{OVERLAY_ID}-title"><strong>The site could not be rebuilt: {count}.</strong> '
        f"{shown}</p>\n<ol>\n{items}\n</ol>\n"
        "<p>Fix the file and save it: this page reloads by itself.</p>\n</div>\n"
    )


OVERLAY_CSS = f"""\
#{OVERLAY_ID}, #{DRAFT_BANNER_ID} {{
  position: fixed; inset: 0 0 auto 0; z-index: 2147483647; max-height: 80vh; overflow: auto;
  margin: 0; padding: 1rem 1.5rem; font: 16px/1.5 system-ui, sans-serif; color: #1a1a1a;
  box-shadow: 0 4px 16px rgba(0, 0, 0, 0.25);
}}
#{OVERLAY_ID} {{ background: #fff4f4; border-bottom: 4px solid #b00020; }}
#{OVERLAY_ID} strong {{ color: #b00020; }}
#{OVERLAY_ID} ol {{ margin: 0.5rem 0; padding-left: 1.5rem; }}
#{OVERLAY_ID} code {{ white-space: pre-wrap; word-break: break-word; }}
#{OVERLAY_ID} p {{ margin: 0; }}
#{DRAFT_BANNER_ID} {{ position: sticky; background: #fff8d6; border-bottom: 4px solid #8a6d00; }}
"""

FAILED_PAGE = """\
<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Build failed · backpain-site serve</title>
</head>
<body>
<main><h1>The site could not be built</h1></main>
</body>
</html>
"""

_HEAD_END = re.compile(rb"</head\s*>", re.IGNORECASE)
_BODY_START = re.compile(rb"<body\b[^>]*>", re.IGNORECASE)


def inject(page: bytes, head: str, body: str) -> bytes:
    """Put `head` before `</head>` and `body` right after `<body>` (first in reading order)."""
    if head:
        found = _HEAD_END.search(page)
        at = found.start() if found else 0
        page = page[:at] + head.encode() + page[at:]
    if body:
        found = _BODY_START.search(page)
        at = found.end() if found else len(page)
        page = page[:at] + b"\n" + body.encode() + page[at:]
    return page


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes
    content_type: str = "text/plain; charset=utf-8"
    location: str = ""


_TEXT_TYPES = ("text/", "application/javascript", "application/json", "image/svg+xml")


def content_type(path: Path) -> str:
    guessed = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    if guessed.startswith(_TEXT_TYPES) or guessed.endswith("+xml"):
        return f"{guessed}; charset=utf-8"
    return guessed


def host_allowed(host_header: str, loopback_only: bool) -> bool:
    """On a loopback address, answer only requests addressed to this computer by name: a web
    page elsewhere cannot then read the preview by pointing its own domain at 127.0.0.1
    (DNS rebinding)."""
    if not loopback_only:
        return True
    name = host_header.rsplit(":", 1)[0] if not host_header.endswith("]") else host_header
    return is_loopback(name.strip("[]").lower())


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
