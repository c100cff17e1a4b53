"""`backpain-site serve`: a live preview that rebuilds on every save.

Input: the project folder, a host and a port. Output: the site built into a temporary folder
(never `_site/`, never inside the project) and served over HTTP with livereload until stopped.
The inputs (content/, which holds site.yaml and references.bib, templates/ and static/) are
polled; when their bytes change (a new fingerprint) the same `build()` as `backpain-site build`
runs again and open pages reload. When the content is broken the last good pages stay up and
every page shows the errors in an overlay. Only served responses get the livereload script
and the overlay: the files on disk are exactly what `build` writes. Requests are mapped to
files inside the output folder only (MkDocs' dev server once was not: CVE-2021-40978).
This is the only module that imports livereload.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import functools
import hashlib
import html
import ipaddress
import mimetypes
import os
import re
import shutil
import signal
import socket
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, TextIO
from urllib.parse import quote, unquote

from livereload.handlers import LiveReloadHandler, LiveReloadJSHandler
from livereload.watcher import Watcher
from tornado.httpserver import HTTPServer
from tornado.ioloop import PeriodicCallback
from tornado.netutil import bind_sockets
from tornado.web import Application, RequestHandler

from .build import BuildResult, build
from .problems import Problem, error, errors_in, warnings_in
from .urls import Urls
from .writer import SearchIndexError, write_site

WATCHED = ("content", "templates", "static")
POLL_SECONDS = 0.05
# Pagefind's index is made this long after the last rebuild, not before each reload.
INDEX_DELAY_SECONDS = 1.0
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


class Fingerprints:
    """Cheap change detection (stat) backed by an exact one (the bytes' SHA-256)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._digests: dict[str, tuple[StatKey, str]] = {}

    def stats(self) -> dict[str, StatKey]:
        stats: dict[str, StatKey] = {}
        for relative, path in input_files(self.root).items():
            with contextlib.suppress(OSError):  # deleted between listing and stat
                st = path.stat()
                stats[relative] = (st.st_mtime_ns, st.st_size, st.st_ino)
        return stats

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


_OVERLAY_CSS = f"""\
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

_FAILED_PAGE = """\
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


def _clock() -> str:
    return dt.datetime.now().strftime("%H:%M:%S")


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def _listed(items: list[str], limit: int = 5) -> str:
    shown = ", ".join(items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")


@dataclass
class Preview:
    """What is being served, and the rebuild loop that keeps it current."""

    root: Path
    out: Path
    drafts: bool = False
    live_port: int = 0
    echo: Callable[[str], None] = print
    errors: list[Problem] = field(default_factory=list)
    has_site: bool = False
    prefix: str = ""
    draft_urls: frozenset[str] = frozenset()
    building: bool = False
    _fingerprint: str = ""
    _digests: dict[str, str] = field(default_factory=dict)
    _pages: dict[PurePosixPath, str] = field(default_factory=dict)
    _warnings: list[Problem] = field(default_factory=list)
    _pending: dict[str, StatKey] | None = None
    _settled: dict[str, StatKey] | None = None
    _task: asyncio.Future[None] | None = None  # the running rebuild, kept from the collector
    _outputs: Mapping[PurePosixPath, bytes] = field(default_factory=dict)
    _index_due: float | None = None  # when to add the search index to the served pages

    def __post_init__(self) -> None:
        self.inputs = Fingerprints(self.root)

    # --- building -------------------------------------------------------------------------

    def first_build(self) -> None:
        stats = self.inputs.stats()
        self._pending = self._settled = stats
        digests = self.inputs.digests(stats)
        self._record(*self._build(search_index=True), digests, [])

    def _build(self, *, search_index: bool) -> tuple[BuildResult, float]:
        """The command line's `build()`, then the write; returns the result and the seconds.

        After a save the pages are written without the search index, so the browser reloads
        without waiting for Pagefind; the index follows once the editor stops saving.
        """
        started = time.perf_counter()
        try:
            result = build(self.root, None, drafts=self.drafts)
            if result.ok:
                self._write(result.outputs, search_index)
        except Exception as exc:  # a preview must outlive a bug in the build; say what broke
            traceback.print_exc(file=sys.stderr)
            result = BuildResult([error(".", 0, f"the build crashed: {exc!r}")])
        return result, time.perf_counter() - started

    def _write(self, outputs: Mapping[PurePosixPath, bytes], search_index: bool) -> None:
        try:
            write_site(outputs, self.out, search_index=search_index)
        except SearchIndexError as exc:
            self.echo(f"[{_clock()}] search does not work in the preview: {exc}")
            write_site(outputs, self.out)

    async def _index(self) -> None:
        try:
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(None, self._write, self._outputs, True)
        except Exception:
            traceback.print_exc(file=sys.stderr)
        finally:
            self.building = False

    def poll(self) -> None:
        """Called every POLL_SECONDS: rebuild once the inputs have changed and settled."""
        if self.building:
            return
        stats = self.inputs.stats()
        if stats == self._settled:
            if self._index_due is not None and time.monotonic() >= self._index_due:
                self._index_due = None
                self.building = True
                self._task = asyncio.ensure_future(self._index())
            return
        if stats != self._pending:
            # Still being saved (or several files at once): wait until a whole tick is quiet.
            self._pending = stats
            return
        self._settled = stats
        digests = self.inputs.digests(stats)
        if fingerprint(digests) == self._fingerprint:
            return  # touched or rewritten with the same bytes: nothing to rebuild
        self.building = True
        self._task = asyncio.ensure_future(self._rebuild(digests))

    async def _rebuild(self, digests: dict[str, str]) -> None:
        changed = changed_inputs(self._digests, digests)
        try:
            loop = asyncio.get_running_loop()
            result, seconds = await loop.run_in_executor(
                None, functools.partial(self._build, search_index=False)
            )
            reload_path = self._record(result, seconds, digests, changed)
            if result.ok:
                self._index_due = time.monotonic() + INDEX_DELAY_SECONDS
            if reload_path:
                _ReloadSocket.reload_waiters(reload_path)
        except Exception:  # keep serving; the next save tries again
            traceback.print_exc(file=sys.stderr)
        finally:
            self.building = False

    def _record(
        self, result: BuildResult, seconds: float, digests: dict[str, str], changed: list[str]
    ) -> str:
        """Take in a finished build, say what happened, and return what to reload ('' for none)."""
        self._fingerprint = fingerprint(digests)
        self._digests = digests
        cause = f"{_listed(changed)} changed: " if changed else ""
        errors = errors_in(result.problems)
        if result.site is not None:
            self.prefix = Urls(result.site.config.base_url).prefix
        if errors:
            had_errors = bool(self.errors)
            self.errors = errors
            still = "still serving the last good pages" if self.has_site else "nothing to serve yet"
            self.echo(f"[{_clock()}] {cause}{_plural(len(errors), 'error')}; {still}")
            for problem in errors:
                self.echo(f"  {problem}")
            return "*" if not had_errors or changed else ""
        recovered = bool(self.errors)
        self.errors = []
        self.has_site = True
        pages = {path: hashlib.sha256(data).hexdigest() for path, data in result.outputs.items()}
        different = sorted(
            p for p in set(pages) | set(self._pages) if pages.get(p) != self._pages.get(p)
        )
        first = not self._pages
        self._pages = pages
        self._outputs = result.outputs
        if result.site is not None:
            urls = Urls(result.site.config.base_url)
            self.draft_urls = (
                frozenset(urls.study(s.slug) for s in result.site.drafts)
                if self.drafts
                else frozenset()
            )
        what = f"rebuilt {_plural(result.pages, 'page')} in {seconds:.2f} s"
        if first:
            what = f"built {_plural(result.pages, 'page')} in {seconds:.2f} s"
        elif different:
            shown = [url_of(p, self.prefix) for p in different]
            what += f"; {_plural(len(different), 'file')} differ: {_listed(shown)}"
        else:
            what += "; no page changed"
        warnings = warnings_in(result.problems)
        if warnings:
            what += f"; {_plural(len(warnings), 'warning')}"
        self.echo(f"[{_clock()}] {cause}{what}" + ("; the errors are fixed" if recovered else ""))
        if warnings != self._warnings:
            for problem in warnings:
                self.echo(f"  {problem}")
        self._warnings = warnings
        if not different and not recovered:
            return ""
        only_css = different and all(p.suffix == ".css" for p in different)
        return url_of(different[0], self.prefix) if only_css and len(different) == 1 else "*"

    # --- serving --------------------------------------------------------------------------

    def answer(self, raw_path: str) -> Answer:
        if raw_path == f"{ASSET_PREFIX}overlay.css":
            return Answer(200, _OVERLAY_CSS.encode(), "text/css; charset=utf-8")
        located = self._locate(raw_path)
        if located.status == 301:
            return Answer(301, b"", location=located.location)
        if located.status in (400, 403):
            reason = "Bad request" if located.status == 400 else "Forbidden"
            return Answer(located.status, f"{located.status} {reason}\n".encode())
        if not self.has_site:
            return Answer(
                500, self._decorate(_FAILED_PAGE.encode(), ""), "text/html; charset=utf-8"
            )
        if located.file is None:
            return self._not_found()
        try:
            data = located.file.read_bytes()
        except OSError:
            return self._not_found()
        kind = content_type(located.file)
        if kind.startswith("text/html"):
            data = self._decorate(data, unquote(raw_path))
        return Answer(200, data, kind)

    def _locate(self, raw_path: str) -> Located:
        located = locate(self.out, self.prefix, raw_path)
        # A rebuild swaps the output folder in with two renames; a request between them
        # waits for the second instead of getting a false 404.
        for _ in range(40):
            if located.status != 404 or self.out.is_dir():
                break
            time.sleep(0.005)
            located = locate(self.out, self.prefix, raw_path)
        return located

    def _not_found(self) -> Answer:
        page = self.out / "404.html"
        if page.is_file():
            with contextlib.suppress(OSError):
                return Answer(
                    404, self._decorate(page.read_bytes(), ""), "text/html; charset=utf-8"
                )
        return Answer(404, b"404 Not found\n")

    def _decorate(self, page: bytes, url: str) -> bytes:
        head = (
            f'<link rel="stylesheet" href="{ASSET_PREFIX}overlay.css">'
            f'<script src="/livereload.js?port={self.live_port}"></script>\n'
        )
        body = overlay_html(self.errors, self.has_site) if self.errors else ""
        if url in self.draft_urls:
            body += (
                f'<div id="{DRAFT_BANNER_ID}" role="note"><strong>Draft.</strong> This study is '
                "left out of the published site until its 'draft' is false.</div>\n"
            )
        return inject(page, head, body)


class _ReloadSocket(LiveReloadHandler):  # type: ignore[misc]
    """livereload's WebSocket end, told to reload by the preview (which does its own watching)."""

    watcher = Watcher()  # never started; livereload reads its `filepath` when it logs a reload


class _SiteHandler(RequestHandler):
    def initialize(self, preview: Preview) -> None:
        self.preview = preview

    def compute_etag(self) -> None:
        return None  # every response is fresh: the preview changes under the browser

    def get(self) -> None:
        self._respond()

    def head(self) -> None:
        self._respond()

    def _respond(self) -> None:
        answer = self.preview.answer(self.request.path)
        self.set_status(answer.status)
        self.set_header("Content-Type", answer.content_type)
        self.set_header("Cache-Control", "no-store")
        self.set_header("X-Content-Type-Options", "nosniff")
        if answer.location:
            self.set_header("Location", answer.location)
        self.finish(answer.body)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _url(host: str, port: int, prefix: str) -> str:
    shown = "127.0.0.1" if host in ("", "0.0.0.0") else host
    if shown == "::":
        shown = "::1"
    if ":" in shown:
        shown = f"[{shown}]"
    return f"http://{shown}:{port}{prefix}/"


def serve(
    source: Path,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    drafts: bool = False,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    """Run the preview until SIGINT/SIGTERM. Exit codes as the command line's."""
    stdout, stderr = out or sys.stdout, err or sys.stderr

    def echo(line: str) -> None:
        print(line, file=stdout, flush=True)

    root = source.resolve()
    if not is_loopback(host):
        print(
            f"backpain-site: warning: --host {host} makes the preview reachable from the network: "
            "anyone who can reach this computer can read the site, drafts included. "
            "Use --host 127.0.0.1 to keep it on this computer.",
            file=stderr,
            flush=True,
        )
    try:
        sockets = bind_sockets(port, host or None)
    except (OSError, socket.gaierror) as exc:
        print(f"backpain-site: error: cannot listen on {host}:{port}: {exc}", file=stderr)
        return 2
    bound = int(sockets[0].getsockname()[1])
    folder = Path(tempfile.mkdtemp(prefix="backpain-site-serve-")).resolve()
    try:
        if folder.is_relative_to(root):
            print(
                f"backpain-site: error: the temporary folder {folder} is inside the project; "
                "set TMPDIR to a folder outside it",
                file=stderr,
            )
            return 2
        preview = Preview(root, folder / "site", drafts=drafts, live_port=bound, echo=echo)
        preview.first_build()
        echo(f"serving {_url(host, bound, preview.prefix)}" + (" (drafts shown)" if drafts else ""))
        echo(f"  built into {preview.out} (temporary; removed when the server stops)")
        echo(f"  watching {', '.join(f'{name}/' for name in WATCHED)}; press Ctrl+C to stop")
        asyncio.run(_run(preview, sockets))
        echo("stopped")
        return 0
    finally:
        for sock in sockets:
            sock.close()
        shutil.rmtree(folder, ignore_errors=True)


async def _run(preview: Preview, sockets: list[socket.socket]) -> None:
    _ReloadSocket.live_css = True
    app = Application(
        [
            (r"/livereload", _ReloadSocket),
            (r"/livereload\.js", LiveReloadJSHandler),
            (r"/.*", _SiteHandler, {"preview": preview}),
        ],
        log_function=_quiet,
    )
    server = HTTPServer(app)
    server.add_sockets(sockets)
    poller = PeriodicCallback(preview.poll, POLL_SECONDS * 1000)
    poller.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        await stop.wait()
    finally:
        poller.stop()
        server.stop()
        for waiter in list(LiveReloadHandler.waiters):
            waiter.close()
        await server.close_all_connections()


def _quiet(handler: Any) -> None:
    """Tornado logs every request; the preview prints what editors need instead."""
