"""`backpain-site serve`: a live preview that rebuilds on every save.

Input: the project folder, a host and a port. Output: the site built into a temporary folder
(never `_site/`, never inside the project) and served over HTTP with livereload until stopped.
The inputs (content/, which holds site.yaml and references.bib, templates/ and static/) are
watched (Linux inotify, watch.py; where it is not available, their times are polled 20 times a
second); when their bytes change (a new fingerprint) the same `build()` as `backpain-site build`
runs again and open pages reload. When the content is broken the last good pages stay up and
every page shows the errors in an overlay. Only served responses get the livereload script
and the overlay: the files on disk are exactly what `build` writes. Which file a request may
get, and what a page gets added, is decided in preview.py. This is the only module that
imports livereload.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import functools
import os
import shutil
import signal
import socket
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath
from typing import Any, TextIO
from urllib.parse import unquote

from livereload.handlers import LiveReloadHandler, LiveReloadJSHandler
from livereload.watcher import Watcher as LiveReloadWatcher
from tornado.httpserver import HTTPServer
from tornado.ioloop import PeriodicCallback
from tornado.netutil import bind_sockets
from tornado.web import Application, HTTPError, RequestHandler

from .build import BuildResult, build
from .edit_path import warm
from .incremental import BuildCache
from .preview import (
    ASSET_PREFIX,
    DRAFT_BANNER_ID,
    FAILED_PAGE,
    OVERLAY_CSS,
    WATCHED,
    Answer,
    Fingerprints,
    Located,
    StatKey,
    changed_inputs,
    content_type,
    fingerprint,
    host_allowed,
    inject,
    is_loopback,
    locate,
    overlay_html,
    url_of,
)
from .problems import Problem, error, errors_in, warnings_in
from .search_index import indexed_pages
from .urls import Urls
from .watch import Watcher, WatchUnavailable
from .writer import SearchIndexError, index_in_place, update_in_place, write_site

POLL_SECONDS = 0.05  # without inotify: how often every input file's time is read
# A save of at most this many files counts as done when they are unchanged this long after the
# tick (or, with inotify, the event) that saw them change; bigger changes wait for a whole quiet
# tick, or with inotify for QUIET_SECONDS without an event.
QUICK_SETTLE_FILES = 8
QUICK_SETTLE_SECONDS = 0.01
# With inotify a change of many files (a `git checkout`, a search-and-replace) is taken as done
# once no event came for as long as a polling tick lasted: no later than polling would see it,
# and long enough that a tool writing file after file is seen whole (each file is an event
# microseconds after the last; a pause of 50 ms means the tool has stopped or is thinking).
QUIET_SECONDS = POLL_SECONDS
# inotify watches folders: a symlinked file's target changing elsewhere is no event, yet the
# build follows the symlink. Every input file is therefore still listed this often (45 ms of
# one core at 10,000 studies, 2 % of it), which also mends anything the events missed.
SAFETY_LISTING_SECONDS = 2.0
# Pagefind's index is made this long after the last rebuild, not before each reload.
INDEX_DELAY_SECONDS = 1.0


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
    _warnings: list[Problem] = field(default_factory=list)
    _pending: dict[str, StatKey] | None = None
    _settled: dict[str, StatKey] | None = None
    _task: asyncio.Future[None] | None = None  # the running rebuild, kept from the collector
    _outputs: Mapping[PurePosixPath, bytes] = field(default_factory=dict)
    _index_due: float | None = None  # when to add the search index to the served pages
    # The pages (digests) as they were when the served folder's search index was made; None
    # when it has none. A deferred index then re-indexes only the shards holding changed pages.
    _indexed: dict[str, bytes] | None = None
    # With inotify (watch.py): the files as the events say they are now, the paths named by
    # events not yet taken in (kept while a build runs), and the timers of the event loop.
    watcher: Watcher | None = None
    _stats: dict[str, StatKey] = field(default_factory=dict)
    _dirty: set[str] = field(default_factory=set)
    _everything: bool = False
    _quiet: asyncio.TimerHandle | None = None
    _tickers: list[PeriodicCallback] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.inputs = Fingerprints(self.root)
        # Remembers parsed, formatted and converted inputs between rebuilds, in memory only:
        # the preview never writes into the project.
        self.cache = BuildCache.in_memory(self.root)

    # --- building -------------------------------------------------------------------------

    def watch(self) -> str:
        """Start watching the inputs with inotify, before they are first listed (so that no
        save made during the first build is missed); '' or why the preview polls instead."""
        try:
            self.watcher = Watcher(self.root)
        except WatchUnavailable as exc:
            return str(exc)
        return ""

    def first_build(self) -> None:
        stats = self.inputs.stats()
        self._pending = self._settled = self._stats = stats
        digests = self.inputs.digests(stats)
        result, seconds = self._build(search_index=True, listed=stats)
        self._record(result, seconds, digests, [])
        self._warm(result)

    def _warm(self, result: BuildResult) -> None:
        """After a build, what the next one needs, made ready: for a fast edit
        (edit_path.py), after a whole build; the inputs' records trusted by their times again,
        when they were saved just before it (incremental.BuildCache.settle_inputs)."""
        if result.ok and not result.fast_edit and result.site is not None:
            warm(self.cache, result.site.templates_dir)
        self.cache.settle_inputs()

    def _build(
        self, *, search_index: bool, listed: Mapping[str, StatKey] | None = None
    ) -> tuple[BuildResult, float]:
        """The command line's `build()`, then the write; returns the result and the seconds.

        After a save the pages are written without the search index, so the browser reloads
        without waiting for Pagefind; the index follows once the editor stops saving.
        """
        started = time.perf_counter()
        try:
            # The files as this preview has just listed them: the build need not list them again.
            self.cache.listed = listed
            result = build(self.root, None, drafts=self.drafts, cache=self.cache)
            if result.ok:
                made = result.outputs
                result = self._whole(result)
                if self.has_site and not search_index:
                    self._write_changed(result.outputs, made if result.fast_edit else None)
                else:
                    self._write(result.outputs, search_index)
        except Exception as exc:  # a preview must outlive a bug in the build; say what broke
            traceback.print_exc(file=sys.stderr)
            # What the cache remembers of the served pages may no longer be what is served.
            self.cache = BuildCache.in_memory(self.root)
            result = BuildResult([error(".", 0, f"the build crashed: {exc!r}")])
        return result, time.perf_counter() - started

    def _whole(self, result: BuildResult) -> BuildResult:
        """Every file of a clean build: the cache renders only pages whose values changed
        (incremental.BuildCache.served), the others are the same bytes as last time."""
        if not result.paths:
            return result
        made, before = result.outputs, self._outputs
        if result.fast_edit:  # the same files as last time, a few of them made again
            return replace(result, outputs={**before, **made})
        outputs = {
            path: made[path] if path in made else before[path]
            for path in map(PurePosixPath, result.paths)
        }
        return replace(result, outputs=outputs)

    def _write_changed(
        self,
        outputs: Mapping[PurePosixPath, bytes],
        made: Mapping[PurePosixPath, bytes] | None = None,
    ) -> None:
        """Only the files whose bytes changed, into the folder being served. `made`: the only
        files that can have changed (a fast edit's, whose other files are those of before)."""
        before = self._outputs
        if made is not None:
            changed = {path: data for path, data in made.items() if before.get(path) != data}
            update_in_place(self.out, changed, [])
            return
        changed = {path: data for path, data in outputs.items() if before.get(path) != data}
        update_in_place(self.out, changed, [path for path in before if path not in outputs])

    def _write(self, outputs: Mapping[PurePosixPath, bytes], search_index: bool) -> None:
        self._indexed = None
        try:
            write_site(outputs, self.out, search_index=search_index)
            self._indexed = indexed_pages(outputs) if search_index else None
        except SearchIndexError as exc:
            self.echo(f"[{_clock()}] search does not work in the preview: {exc}")
            write_site(outputs, self.out)

    def _update_index(self) -> None:
        """The search index for the served pages, in place: only shards with changed pages."""
        before, self._indexed = self._indexed, None
        try:
            self._indexed = index_in_place(self.out, self._outputs, before)
        except SearchIndexError as exc:
            self.echo(f"[{_clock()}] search does not work in the preview: {exc}")

    async def _index(self) -> None:
        try:
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(None, self._update_index)
        except Exception:
            traceback.print_exc(file=sys.stderr)
        finally:
            self._built()

    def poll(self) -> None:
        """Without inotify, called every POLL_SECONDS: rebuild once the inputs have changed
        and settled."""
        if self.building:
            return
        stats = self.inputs.stats()
        if stats == self._settled:
            if self._index_due is not None and time.monotonic() >= self._index_due:
                self._start_index()
            return
        if stats != self._pending:
            # Still being saved (or several files at once): wait until a whole tick is quiet,
            # or, for a save of a few files, until those files alone are quiet a moment later
            # (at 10,000 studies a whole tick is 45 ms of listing files).
            self._expect(stats)
            return
        self._settle(stats)

    def _expect(self, stats: dict[str, StatKey]) -> None:
        """New stats seen: for a save of a few files, look at them again in a moment."""
        self._pending = stats
        settled = self._settled or {}
        changed = [p for p in stats.keys() | settled.keys() if stats.get(p) != settled.get(p)]
        if len(changed) <= QUICK_SETTLE_FILES:
            with contextlib.suppress(RuntimeError):  # no event loop: the ticks decide
                asyncio.get_running_loop().call_later(
                    QUICK_SETTLE_SECONDS, self._settle_quickly, stats, changed
                )

    def _start_index(self) -> None:
        self._index_due = None
        self.building = True
        self._task = asyncio.ensure_future(self._index())

    # --- watching with inotify ------------------------------------------------------------

    def start_watching(self) -> None:
        """In the running event loop: events from the watcher, or else the polling ticks."""
        if self.watcher is None:
            poller = PeriodicCallback(self.poll, POLL_SECONDS * 1000)
            poller.start()
            self._tickers.append(poller)
            return
        # Level-triggered: what was saved during the first build (queued since watch()) is
        # read as soon as the loop runs.
        asyncio.get_running_loop().add_reader(self.watcher.fileno(), self._on_events)
        safety = PeriodicCallback(self._list_all, SAFETY_LISTING_SECONDS * 1000)
        safety.start()
        self._tickers.append(safety)

    def stop_watching(self) -> None:
        """Stop the timers and close the watcher (its descriptor and every watch)."""
        for ticker in self._tickers:
            ticker.stop()
        self._tickers.clear()
        if self._quiet is not None:
            self._quiet.cancel()
        if self.watcher is not None:
            with contextlib.suppress(RuntimeError, ValueError):  # no loop, or never added
                asyncio.get_running_loop().remove_reader(self.watcher.fileno())
            self.watcher.close()
            self.watcher = None

    def _on_events(self) -> None:
        """The watcher's descriptor is readable: note the paths, and look at them unless a
        build runs (then they wait for its end: nothing is lost, nothing is built twice)."""
        watcher = self.watcher
        if watcher is None:
            return
        changes = watcher.read()
        self._dirty |= changes.paths
        self._everything = self._everything or changes.everything
        if watcher.failed:
            self.echo(f"[{_clock()}] {watcher.failed}; polling the inputs from now on")
            self.stop_watching()
            self.start_watching()
            return
        self._take()

    def _list_all(self) -> None:
        """Every file listed (SAFETY_LISTING_SECONDS): what events cannot tell."""
        if self.building:
            return
        stats = self.inputs.stats()
        if stats != self._stats:
            self._stats = stats
            self._take()

    def _take(self) -> None:
        """The stats updated by the paths events named, then the same settling as polling."""
        if self.building:
            return  # _rebuild and _index call again when done
        if self._everything:
            self._stats = self.inputs.stats()
        elif self._dirty:
            self._stats = self.inputs.updated(self._stats, self._dirty)
        self._dirty, self._everything = set(), False
        stats = self._stats
        if stats == self._settled:
            self._pending = stats  # back as it was: a quick settle still to come does nothing
            self._index_if_due()
            return
        if stats != self._pending:
            self._expect(stats)
        # A whole QUIET_SECONDS without an event settles what the quick look did not.
        if self._quiet is not None:
            self._quiet.cancel()
        self._quiet = asyncio.get_running_loop().call_later(QUIET_SECONDS, self._when_quiet)

    def _when_quiet(self) -> None:
        self._quiet = None
        if self.building:
            return
        if self._stats != self._settled:
            self._settle(self._stats)
        if not self.building:  # nothing to rebuild (the same bytes)
            self._index_if_due()

    def _index_if_due(self) -> None:
        """The deferred search index, once the pages are built and the inputs quiet."""
        if self.building or self._index_due is None or self._stats != self._settled:
            return  # a rebuild, or a change on its way to one, comes first
        wait = self._index_due - time.monotonic()
        if wait > 0:
            asyncio.get_running_loop().call_later(wait, self._index_if_due)
            return
        self._start_index()

    def _built(self) -> None:
        """A rebuild or an index ended: what was saved meanwhile is taken in now (and with
        nothing saved, the index is timed: _take calls _index_if_due)."""
        self.building = False
        if self.watcher is not None:
            self._take()

    def _settle_quickly(self, stats: dict[str, StatKey], changed: list[str]) -> None:
        """Rebuild now if the few files a save changed are as the last tick found them."""
        if self.building or self._pending is not stats:
            return  # a tick came first
        for relative in changed:
            try:
                found = os.stat(self.root / relative)
                now: StatKey | None = (found.st_mtime_ns, found.st_size, found.st_ino)
            except OSError:
                now = None
            if now != stats.get(relative):
                return  # still being written: the ticks take over
        self._settle(stats)

    def _settle(self, stats: dict[str, StatKey]) -> None:
        self._settled = stats
        digests = self.inputs.digests(stats)
        if fingerprint(digests) == self._fingerprint:
            return  # touched or rewritten with the same bytes: nothing to rebuild
        self.building = True
        self._task = asyncio.ensure_future(self._rebuild(digests, stats))

    async def _rebuild(self, digests: dict[str, str], listed: Mapping[str, StatKey]) -> None:
        changed = changed_inputs(self._digests, digests)
        try:
            loop = asyncio.get_running_loop()
            result, seconds = await loop.run_in_executor(
                None, functools.partial(self._build, search_index=False, listed=listed)
            )
            reload_path = self._record(result, seconds, digests, changed)
            if reload_path:
                _ReloadSocket.reload_waiters(reload_path)
            # The browser reloads meanwhile: the warming does not delay the page.
            await loop.run_in_executor(None, self._warm, result)
            if result.ok:
                self._index_due = time.monotonic() + INDEX_DELAY_SECONDS
        except Exception:  # keep serving; the next save tries again
            traceback.print_exc(file=sys.stderr)
        finally:
            self._built()

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
        # Kept pages are the very bytes objects of the last build: comparing them costs nothing.
        pages, before = result.outputs, self._outputs
        # A fast edit (edit_path.py) made only its pages again; the others are those of before.
        candidates = result.edited if result.fast_edit else set(pages) | set(before)
        different = sorted(p for p in candidates if pages.get(p) != before.get(p))
        first = not before
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
            return Answer(200, OVERLAY_CSS.encode(), "text/css; charset=utf-8")
        located = self._locate(raw_path)
        if located.status == 301:
            return Answer(301, b"", location=located.location)
        if located.status in (400, 403):
            reason = "Bad request" if located.status == 400 else "Forbidden"
            return Answer(located.status, f"{located.status} {reason}\n".encode())
        if not self.has_site:
            return Answer(500, self._decorate(FAILED_PAGE.encode(), ""), "text/html; charset=utf-8")
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

    # Never started; livereload reads its `filepath` when it logs a reload.
    watcher = LiveReloadWatcher()
    loopback_only = True

    def prepare(self) -> None:
        if not host_allowed(self.request.host, self.loopback_only):
            raise HTTPError(403)


class _SiteHandler(RequestHandler):
    def initialize(self, preview: Preview, loopback_only: bool) -> None:
        self.preview = preview
        self.loopback_only = loopback_only

    def prepare(self) -> None:
        if not host_allowed(self.request.host, self.loopback_only):
            self.set_status(403)
            self.set_header("Content-Type", "text/plain; charset=utf-8")
            self.finish(b"403 Forbidden: this preview answers only to 127.0.0.1 and localhost\n")

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
    preview: Preview | None = None
    try:
        if folder.is_relative_to(root):
            print(
                f"backpain-site: error: the temporary folder {folder} is inside the project; "
                "set TMPDIR to a folder outside it",
                file=stderr,
            )
            return 2
        preview = Preview(root, folder / "site", drafts=drafts, live_port=bound, echo=echo)
        unwatched = preview.watch()
        preview.first_build()
        echo(f"serving {_url(host, bound, preview.prefix)}" + (" (drafts shown)" if drafts else ""))
        echo(f"  built into {preview.out} (temporary; removed when the server stops)")
        echo(f"  watching {', '.join(f'{name}/' for name in WATCHED)}; press Ctrl+C to stop")
        if unwatched:
            echo(f"  polling them every {POLL_SECONDS} s: {unwatched}")
        asyncio.run(_run(preview, sockets, loopback_only=is_loopback(host)))
        echo("stopped")
        return 0
    finally:
        if preview is not None:
            preview.stop_watching()
        for sock in sockets:
            sock.close()
        shutil.rmtree(folder, ignore_errors=True)


async def _run(preview: Preview, sockets: list[socket.socket], *, loopback_only: bool) -> None:
    _ReloadSocket.live_css = True
    _ReloadSocket.loopback_only = loopback_only
    app = Application(
        [
            (r"/livereload", _ReloadSocket),
            (r"/livereload\.js", LiveReloadJSHandler),
            (r"/.*", _SiteHandler, {"preview": preview, "loopback_only": loopback_only}),
        ],
        log_function=_quiet,
    )
    server = HTTPServer(app)
    server.add_sockets(sockets)
    preview.start_watching()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        await stop.wait()
    finally:
        preview.stop_watching()
        server.stop()
        for waiter in list(LiveReloadHandler.waiters):
            waiter.close()
        await server.close_all_connections()


def _quiet(handler: Any) -> None:
    """Tornado logs every request; the preview prints what editors need instead."""
