"""Stage 4, write: `{output path: bytes}` -> the output folder, atomically.

Input: the rendered outputs and the output folder. Output: the folder holds exactly those files.
This is the only module that writes the site. Files go into a temporary sibling folder that
replaces the old one only when every file is written, so a failed or killed build leaves the
previous site untouched. The full-text search index (Pagefind, which reads HTML files and writes
its own) is made in that staging folder too, so pages and index are published together.
Pages a build hands over as they are rendered (StagedSite, SpillFolder) are written here too,
from whichever process rendered them. Scratch folders are held while a build works in them, and
those a killed build left are removed by the next (see "Scratch folders").
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import functools
import hashlib
import importlib
import mmap
import os
import queue
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import weakref
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, BinaryIO, NamedTuple

if TYPE_CHECKING:
    from .cache import Parts

from .output_tree import (
    ROOT,
    FileRecord,
    TreeRecord,
    as_dict,
    digests_at,
    file_digest,
    files_not_in,
    folder_identity,
    folders_of,
    inodes_of,
    joined_files,
    part_of,
    record_of,
    records_of,
    tree_changes,
    tree_record,
)
from .search_index import (
    INDEX_FOLDER,
    MANIFEST,
    Plan,
    Shard,
    bundle_files,
    index_files_among,
    indexed,
    indexed_among,
    indexed_pages,
    layout,
    manifest_of,
    plan,
)


class UnsafeOutputPath(ValueError):
    """An output path would land outside the output folder."""


class SearchIndexError(RuntimeError):
    """Pagefind could not index the staged site."""


# Where Pagefind puts its index, relative to the site root; static/search.js looks for it there.
SEARCH_INDEX_FOLDER = INDEX_FOLDER


def _target(root: Path, relative: PurePosixPath) -> Path:
    if relative.is_absolute() or ".." in relative.parts or not relative.parts:
        raise UnsafeOutputPath(str(relative))
    return root.joinpath(*relative.parts)


def write_site(
    outputs: Mapping[PurePosixPath, bytes], out_dir: Path, *, search_index: bool = False
) -> None:
    out_dir = out_dir.absolute()
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    remove_abandoned_beside(out_dir)
    held = HeldFolder(out_dir.parent, f".{out_dir.name}.new-")
    staging = Path(held.path)
    runs = None
    try:
        planned = plan(indexed_pages(outputs)) if search_index else None
        # Pagefind indexes the pages from memory, every shard (search_index.py), while they
        # are written: its output depends only on their bytes.
        if planned is not None:
            runs = _PagefindRuns(planned.stale, lambda page: outputs[PurePosixPath(page)])
        for relative in sorted(outputs):
            target = _target(staging, relative)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(outputs[relative])
        if planned is not None and runs is not None:
            _write_search_index(staging, planned, _in_memory(runs.result()))
        os.chmod(staging, 0o755)
        _swap(staging, out_dir)
    except BaseException:
        if runs is not None:
            runs.cancel()
        shutil.rmtree(staging, ignore_errors=True)
        raise
    finally:
        held.release()


def remove_abandoned_beside(out_dir: Path) -> list[str]:
    """Remove what killed builds left beside the site (see "Scratch folders" below): new
    sites and spill folders never published, and a previous site never deleted once the new
    one was in place (only then: without the site, it may be all there is)."""
    prefixes = [f".{out_dir.name}.new-", f".{out_dir.name}.spill-"]
    if out_dir.is_dir():
        prefixes.append(f".{out_dir.name}.old-")
    return remove_abandoned(out_dir.parent, prefixes)


def _write_search_index(staging: Path, planned: Plan, found: dict[int, dict[str, bytes]]) -> None:
    """Write every shard's index files, as Pagefind made them, into the staged site."""
    # Never let Pagefind's files be written through a file linked from the published site.
    shutil.rmtree(staging / SEARCH_INDEX_FOLDER, ignore_errors=True)
    made = {p: d for s in planned.stale for p, d in bundle_files(s, found[s.number]).items()}
    made[MANIFEST] = planned.manifest
    for relative in sorted(made):
        target = _target(staging, PurePosixPath(relative))
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(made[relative])


def _run_pagefind(shards: Iterable[Shard], read_page: Callable[[str], bytes]) -> dict[str, bytes]:
    """Run Pagefind over each shard's pages, copied into a scratch folder, on every core.

    Pagefind's output depends only on the HTML it reads and the order it finds the files in (no
    clock, no paths), so a shard's index is byte-identical between builds of the same pages.
    Returns the index files by site path.
    """
    shards = tuple(shards)
    runs = _PagefindRuns(shards, read_page)
    try:
        found = _in_memory(runs.result())
    except BaseException:
        runs.cancel()
        raise
    return {path: data for s in shards for path, data in bundle_files(s, found[s.number]).items()}


def _in_memory(found: Mapping[int, Mapping[str, bytes | Spilled]]) -> dict[int, dict[str, bytes]]:
    """A run's files as bytes: those of a run that kept none on disk (`keep_in`)."""
    held = {
        number: {name: data for name, data in files.items() if isinstance(data, bytes)}
        for number, files in found.items()
    }
    assert all(len(held[n]) == len(found[n]) for n in found), "files kept on disk"
    return held


# Pagefind runs on one core (measured: user time about 0.8 of wall time), so one a core.
_PAGEFIND_PROCESSES = max(1, min(2, os.cpu_count() or 1))


class _PagefindRuns:
    """Pagefind over `shards`, a few processes at a time, started at once and going on in a
    thread of its own while the writer does the rest of its work; `result()` waits for it.

    `read_page` gives a page's bytes. With `expected` (page -> digest), a shard any of whose
    pages reads otherwise is not indexed (`result` leaves it out), so a run started from a
    record of the live site (start_search_index) never indexes what it did not expect.
    With `keep_in` (a folder on the site's own disk), each shard's files are moved there as it
    ends and `result` names them (Spilled): a whole build's index (about 40 MB at 10,000
    studies) is then never held in memory, and the writer links the files into place.
    Pagefind reads each shard's pages from a new scratch folder, written in the shard's order:
    it indexes files in the order it finds them, so that order is part of its output.
    """

    def __init__(
        self,
        shards: Iterable[Shard],
        read_page: Callable[[str], bytes],
        expected: Mapping[str, bytes] | None = None,
        keep_in: str | None = None,
    ) -> None:
        self._waiting = list(shards)
        self._read_page = read_page
        self._expected = expected
        self._keep_in = keep_in
        self._found: dict[int, dict[str, bytes | Spilled]] = {}
        self._failure: BaseException | None = None
        self._running: list[tuple[Shard, str, subprocess.Popen[bytes]]] = []
        self._ended: queue.SimpleQueue[tuple[subprocess.Popen[bytes], bytes, bytes]]
        self._ended = queue.SimpleQueue()
        self._processes: list[subprocess.Popen[bytes]] = []  # every one started, to stop them
        self._stopped = False
        self._lock = threading.Lock()
        self._done = threading.Event()  # set when the result is known (before the clean-up)
        self._scratch = ""
        self._held: HeldFolder | None = None
        # The first processes start here and now: from a thread, sharing the interpreter with
        # the build's own work, they started about 0.1 s later at 10,000 studies.
        try:
            if self._waiting:
                parent = _scratch_parent()
                remove_abandoned(parent, [_SCRATCH_PREFIX])
                self._held = HeldFolder(parent, _SCRATCH_PREFIX)
                self._scratch = self._held.path
            self._launch()
        except BaseException as exc:  # handed to whoever waits for the result
            self._failure = exc
        # Not a daemon: a build that ends (or is interrupted) waits for the clean-up.
        self._thread = threading.Thread(target=self._run, name="pagefind")
        self._thread.start()

    def result(self) -> dict[int, dict[str, bytes | Spilled]]:
        """The files each shard's run wrote (paths relative to its output), by shard number:
        their bytes, or where they were kept (`keep_in`)."""
        self._done.wait()
        if self._failure is not None:
            raise self._failure
        return self._found

    def cancel(self) -> None:
        """Stop every run (the build failed, or will not use them) and wait until they stop."""
        with self._lock:
            self._stopped = True
            for process in self._processes:
                process.kill()
        self._thread.join()

    def _launch(self) -> None:
        while self._waiting and len(self._running) < _PAGEFIND_PROCESSES and not self._stopped:
            shard = self._waiting.pop(0)
            work = f"{self._scratch}/{shard.number}"
            process = self._start(shard, work)
            if process is not None:
                self._running.append((shard, work, process))
                # Each process is waited for by a thread of its own, so that a shard done early
                # makes room for the next at once, not after the ones started before it.
                threading.Thread(
                    target=self._wait, args=(process,), name="pagefind-wait", daemon=True
                ).start()

    def _wait(self, process: subprocess.Popen[bytes]) -> None:
        said, errors = b"", b""
        try:
            said, errors = process.communicate()
        finally:  # always told, or the runner would wait for it for ever
            self._ended.put((process, said, errors))

    def _run(self) -> None:
        try:
            # A few Pagefind processes at a time, each one shard: memory stays at a few shards'.
            while self._running and self._failure is None and not self._stopped:
                ended, said, errors = self._ended.get()
                at = next(i for i, (_, _, p) in enumerate(self._running) if p is ended)
                shard, work, process = self._running.pop(at)
                if self._stopped:
                    break
                if process.returncode != 0:
                    detail = (errors or said).decode(errors="replace").strip()
                    raise SearchIndexError(
                        "pagefind could not index the site: "
                        + (detail or f"exit status {process.returncode}")
                    )
                # The next shard starts first: taking this one's files in (copying them to
                # `keep_in`) would otherwise leave a core idle meanwhile.
                self._launch()
                found: dict[str, bytes | Spilled] = {}
                index = f"{work}/index"
                for dirpath, _, filenames in os.walk(index):
                    for name in sorted(filenames):
                        with open(f"{dirpath}/{name}", "rb") as handle:
                            data = handle.read()
                        relative = os.path.relpath(f"{dirpath}/{name}", index)
                        found[relative] = self._kept(data, len(found), shard) or data
                self._found[shard.number] = found
                if self._waiting or self._running:
                    shutil.rmtree(work, ignore_errors=True)
        except BaseException as exc:
            self._failure = exc
        finally:
            with self._lock:
                stopped, self._stopped = self._stopped, True
                for _, _, process in self._running:
                    process.kill()
            if stopped:
                self._found = {}
            self._done.set()
            for _, _, process in self._running:
                process.wait()
            if self._held is not None:
                self._held.remove()  # the scratch folder

    def _kept(self, data: bytes, count: int, shard: Shard) -> Spilled | None:
        """One of a shard's files, written into `keep_in` (None: there is none)."""
        if self._keep_in is None:
            return None
        kept = f"{self._keep_in}/{shard.number}-{count}"
        with open(kept, "xb") as handle:
            handle.write(data)
        return Spilled(kept, file_digest(data), len(data))

    def _start(self, shard: Shard, work: str) -> subprocess.Popen[bytes] | None:
        """Write the shard's pages into `work` and start Pagefind on them (None: a page was not
        as expected, so the shard is not indexed here)."""
        site = f"{work}/site"
        folders: set[str] = set()
        for page in shard.pages:
            data = self._read_page(page)
            if self._expected is not None and file_digest(data) != self._expected.get(page):
                return None
            # Made in the shard's order, each folder just before its first page, as ever: the
            # order Pagefind finds them in (it is part of the index) stays the same.
            target = str(_target(Path(site), PurePosixPath(page)))
            parent = os.path.dirname(target)
            if parent not in folders:
                os.makedirs(parent, exist_ok=True)
                folders.add(parent)
            descriptor = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            with os.fdopen(descriptor, "wb") as handle:
                handle.write(data)
        command = [*_pagefind_command(), "--site", site, "--output-path", f"{work}/index"]
        with self._lock:
            if self._stopped:
                return None
            try:
                process = subprocess.Popen(
                    [*command, "--silent"], stdout=subprocess.PIPE, stderr=subprocess.PIPE
                )
            except OSError as exc:  # PAGEFIND_BINARY_PATH names no program, say
                raise SearchIndexError(
                    f"pagefind could not index the site: {command[0]}: {exc.strerror}"
                ) from exc
            self._processes.append(process)
        return process


def _pagefind_command() -> list[str]:
    """How to run Pagefind: its binary itself, found as the pagefind package finds it
    (PAGEFIND_BINARY_PATH first), rather than `python -m pagefind`, which starts a Python (about
    0.15 s) only to hand over to the same binary."""
    chosen = os.environ.get("PAGEFIND_BINARY_PATH")
    return [chosen] if chosen else list(_installed_pagefind())


@functools.cache
def _installed_pagefind() -> tuple[str, ...]:
    for package in ("pagefind_bin_extended", "pagefind_bin"):
        try:
            return (str(Path(importlib.import_module(package).get_executable()).absolute()),)
        except (ImportError, OSError):
            continue
    for name in ("pagefind_extended", "pagefind"):
        if found := shutil.which(name):
            return (found,)
    # Not found: `python -m pagefind` says why, as the error of the build.
    return (sys.executable, "-m", "pagefind")


def _swap(staging: Path, out_dir: Path) -> None:
    """Put `staging` where `out_dir` is; the old folder is removed only after the rename."""
    if not out_dir.exists():
        staging.rename(out_dir)
        return
    retired = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.old-", dir=out_dir.parent))
    retired.rmdir()
    held = hold(out_dir)  # held under its new name until removed (see "Scratch folders")
    try:
        out_dir.rename(retired)
        try:
            staging.rename(out_dir)
        except BaseException:
            retired.rename(out_dir)
            raise
        shutil.rmtree(retired, ignore_errors=True)
    finally:
        os.close(held)


def write_new_file(path: Path, data: bytes) -> bool:
    """Create `path` holding `data` (for `backpain-site new`); False when it already exists."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        # Exclusive creation: a file that appears between a check and the write is still
        # never overwritten.
        with path.open("xb") as handle:
            handle.write(data)
    except FileExistsError:
        return False
    return True


def replace_file(path: Path, data: bytes | bytearray) -> None:
    """Write `path` whole (for `backpain-site schema`): readers never see half a file."""
    with _replacing_file(path) as stream:
        stream.write(data)


def replace_file_in_parts(path: Path, parts: Parts) -> None:
    """Write `path` whole, as `replace_file` does, from `parts(append)`: it appends the body
    piece by piece (to a scratch file, so it is never held whole) and returns the head that
    goes before it (cache.pack_parts)."""
    with _replacing_file(path) as stream, tempfile.TemporaryFile(dir=path.parent) as body:
        stream.write(parts(body.write))
        body.seek(0)
        shutil.copyfileobj(body, stream, 1 << 20)


class PendingFile:
    """A file written now beside `path` and put in its place later (`publish`), or removed
    (`discard`): a fast edit writes its build record while Pagefind runs, but the record may
    replace the last one only once the site it describes is in place."""

    def __init__(self, path: Path, data: bytes | bytearray) -> None:
        self._path = path
        with _replacing(path, publish=False) as (stream, staging):
            stream.write(data)
        self._staging = staging

    def publish(self) -> None:
        os.replace(self._staging, self._path)

    def discard(self) -> None:
        Path(self._staging).unlink(missing_ok=True)


def mapped_file(path: Path) -> mmap.mmap | None:
    """The file at `path` mapped into memory, read-only; None when it is absent, unreadable or
    empty. For the fast edit's snapshot (cache.PackReader, about 50 MB at 10,000 studies, of
    which an edit reads a few entries: reading it whole took 27 ms). The cache replaces a
    file only by renaming a new one over it (`replace_file_in_parts`), so a mapping keeps the
    file it mapped. Here because only this module opens files."""
    try:
        with open(path, "rb") as handle:
            return mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
    except (OSError, ValueError):  # ValueError: an empty file cannot be mapped
        return None


def rename_file(source: Path, target: Path) -> None:
    """Put `source` in `target`'s place, at once (replacing it)."""
    os.replace(source, target)


@contextlib.contextmanager
def _replacing_file(path: Path) -> Iterator[BinaryIO]:
    with _replacing(path) as (stream, _):
        yield stream


@contextlib.contextmanager
def _replacing(path: Path, *, publish: bool = True) -> Iterator[tuple[BinaryIO, str]]:
    """A new file written in `path`'s folder (and its name there) and, with `publish`,
    renamed over `path` once whole; removed if the writing fails."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, staging = tempfile.mkstemp(prefix=f".{path.name}.new-", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as stream:
            yield stream, staging
        os.chmod(staging, 0o644)
        if publish:
            os.replace(staging, path)
    except BaseException:
        Path(staging).unlink(missing_ok=True)
        raise


def discard_stdout() -> None:
    """Send whatever is left for standard output to /dev/null (its reader has gone away).

    Python's documented answer to a BrokenPipeError: without it, exiting flushes the buffer
    into the closed pipe and prints a traceback. Here because only this module opens files.
    """
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def index_in_place(
    out_dir: Path,
    outputs: Mapping[PurePosixPath, bytes],
    indexed_before: Mapping[str, bytes] | None,
) -> dict[str, bytes]:
    """Bring the live preview's search index up to date with `outputs`, in place.

    `indexed_before` holds the digests of the pages as they were when the folder's index was
    made (None: it has none we know of). Only the shards holding a page changed since then run
    Pagefind again; the others stay on disk as they are, so at 10,000 studies a save costs one
    shard (about a second) instead of the whole site. Like `update_in_place`, for the preview's
    own folder only. Returns the digests of the pages indexed now.
    """
    out_dir = out_dir.absolute()
    pages = indexed_pages(outputs)
    # The files are as the preview wrote them: only the manifest's bytes need reading (it tells
    # whether the shards were made the same way), the others are known by where they are.
    on_disk: dict[str, FileRecord] = {}
    for dirpath, _, filenames in os.walk(out_dir / SEARCH_INDEX_FOLDER):
        for name in filenames:
            path = os.path.join(dirpath, name)
            relative = Path(path).relative_to(out_dir).as_posix()
            data = Path(path).read_bytes() if relative == MANIFEST else b""
            on_disk[relative] = record_of(path, file_digest(data))
    planned = plan(pages, indexed_before, on_disk, on_disk)
    made = _run_pagefind(planned.stale, lambda page: outputs[PurePosixPath(page)])
    made[MANIFEST] = planned.manifest
    update_in_place(
        out_dir,
        {PurePosixPath(path): data for path, data in made.items()},
        [PurePosixPath(p) for p in sorted(on_disk) if p not in made and p not in planned.carried],
    )
    return pages


def update_in_place(
    out_dir: Path, changed: Mapping[PurePosixPath, bytes], removed: Iterable[PurePosixPath]
) -> None:
    """Bring the live preview's own folder up to date file by file: each file is
    replaced whole, but a reader may see old and new files side by side for a moment, so this
    is only for the preview's temporary folder, never for a published site (`update_site`)."""
    out_dir = out_dir.absolute()
    for relative in sorted(changed):
        replace_file(_target(out_dir, relative), changed[relative])
    for relative in sorted(removed):
        target = _target(out_dir, relative)
        target.unlink(missing_ok=True)
        for parent in target.parents:
            if parent == out_dir or not parent.is_relative_to(out_dir):
                break
            try:
                parent.rmdir()
            except OSError:  # not empty: it holds other files
                break


# --- Incremental writing ---------------------------------------------------------------------
# An incremental build changes a few files of a big site. Writing the whole site into a new
# folder, as `write_site` does, takes seconds at 10,000 pages (and deleting the old one longer),
# so `update_site` keeps the previous site in a hidden sibling folder instead, brings that
# folder up to date (changed files written, unchanged ones hard-linked from the live site, files
# no longer made removed) and then exchanges the two folders. The live site is never written
# into, so a failed or killed build still leaves it untouched; and as both folders share every
# unchanged file, keeping the previous site costs almost no disk space. A file in the spare
# folder is never written in place (it may be the live site's file too): it is replaced.


def spare_folder(out_dir: Path) -> Path:
    """Where the previous site is kept: a hidden sibling of the output folder."""
    out_dir = out_dir.absolute()
    return out_dir.parent / f".{out_dir.name}.previous"


@dataclass(frozen=True)
class Updated:
    live: TreeRecord  # the output folder now
    spare: TreeRecord | None  # the previous site, kept beside it (None: not known)
    written: int  # files written (not counting hard links to unchanged files)
    # Files the live site holds now and did not hold with these bytes before: written, or
    # linked from the previous site (a build that undoes the last one writes nothing).
    changed: int


class Spilled(NamedTuple):
    """A file the build wrote into its spill folder (SpillFolder) as it was made: linked into
    place from there, never held in memory."""

    file: str  # the spilled file (absolute path)
    digest: bytes
    size: int


# What a file is made from: its bytes, the live site's file of the same path (linked), or a
# file written into the spill folder as it was rendered (linked).
_Wanted = dict[str, "bytes | FileRecord | Spilled"]


def _digest_of(source: bytes | FileRecord | Spilled) -> bytes:
    return file_digest(source) if isinstance(source, bytes) else source.digest


class StagedSite:
    """A new site folder that pages are written into as they are rendered (render.PageSink),
    so a cold build never holds every page in memory.

    Nothing in it is seen until `update_site(..., staged=...)` publishes it, after the whole
    build went clean; a build with any error (render's are known only at the end) discards it,
    and the previous site stays as it was. The folder is new, so no file in it can be linked
    from the live site: files are written in place.
    """

    def __init__(self, out_dir: Path) -> None:
        out_dir = out_dir.absolute()
        out_dir.parent.mkdir(parents=True, exist_ok=True)
        remove_abandoned_beside(out_dir)
        self._held = HeldFolder(out_dir.parent, f".{out_dir.name}.new-")
        self.folder = Path(self._held.path)
        self.files: dict[str, FileRecord] = {}  # written so far, by site path
        self._folders: set[str] = set()

    def write(self, path: PurePosixPath, data: bytes) -> FileRecord:
        """Write one file (from any process: forked workers write the pages they render)."""
        target = f"{self.folder}/{_relative(path)}"
        parent = os.path.dirname(target)
        if parent not in self._folders:
            os.makedirs(parent, exist_ok=True)  # two workers may make one folder at once
            self._folders.add(parent)
        with open(target, "wb") as handle:
            handle.write(data)
        return record_of(target, file_digest(data))

    def note(self, path: PurePosixPath, record: FileRecord) -> None:
        """Count a file `write` wrote as part of the site (in the build's own process)."""
        self.files[_relative(path)] = record

    def discard(self) -> None:
        """Remove the folder (harmless once `update_site` has published it: it is gone)."""
        self._held.remove()


class SpillFolder:
    """Where an incremental build's changed files go as they are rendered (render.PageSink),
    when the site folder already exists: a scratch folder beside it, one flat file a page.

    Rendered pages are otherwise held until the writer compares them with the live site: after
    a template edit or an upgrade that changes every page, at 10,000 studies, that was every
    page (about 560 MB) on top of the build. `update_site(..., spilled=...)` links each file
    from here into place, as it links unchanged files from the live site; the folder is then
    removed (`discard`), and a failed build removes it without publishing anything.
    """

    def __init__(self, out_dir: Path) -> None:
        out_dir = out_dir.absolute()
        out_dir.parent.mkdir(parents=True, exist_ok=True)
        remove_abandoned_beside(out_dir)
        self._held = HeldFolder(out_dir.parent, f".{out_dir.name}.spill-")
        self.folder = self._held.path
        self.files: dict[str, Spilled] = {}  # spilled so far, by site path

    def _file(self, relative: str) -> str:
        # Named by a digest of the site path: unique, and the same in whichever worker writes
        # it; flat, because making a folder costs as much as writing a small file.
        return f"{self.folder}/{hashlib.sha256(relative.encode()).hexdigest()[:40]}"

    def write(self, path: PurePosixPath, data: bytes) -> FileRecord:
        """Write one file (from any process: forked workers write the pages they render)."""
        target = self._file(_relative(path))
        Path(target).write_bytes(data)
        return record_of(target, file_digest(data))

    def note(self, path: PurePosixPath, record: FileRecord) -> None:
        """Count a file `write` wrote (in the build's own process)."""
        relative = _relative(path)
        self.files[relative] = Spilled(self._file(relative), record.digest, record.size)

    def discard(self) -> None:
        """Remove the folder and what is left in it (the site links its own copies)."""
        self._held.remove()


def update_site(
    outputs: Mapping[PurePosixPath, bytes],
    kept: Mapping[str, FileRecord],
    out_dir: Path,
    live: TreeRecord | None,
    spare: TreeRecord | None,
    *,
    intact: Mapping[str, FileRecord] | None = None,
    search_index: bool = False,
    staged: StagedSite | SpillFolder | None = None,
    started: SearchIndexRun | None = None,
    meanwhile: Callable[[], object] | None = None,
    spare_checked: tuple[frozenset[str] | None] | None = None,
) -> Updated:
    """Make `out_dir` hold `outputs` plus the `kept` files of the live site, and nothing else.

    `live` and `spare` are the records the last build kept of the two folders, or None;
    `intact` the live files still as recorded (output_tree.check_tree), `kept` among them.
    `staged`: files the build already wrote, also wanted: into a new folder (StagedSite, a
    cold build's pages), published as it is, or into a spill folder (SpillFolder), linked
    from there.
    `started`: the search index of these outputs, begun earlier (start_search_index); used
    where it indexed the pages wanted, cancelled otherwise.
    `meanwhile`: called once, before the site is put in place: while Pagefind works, when
    the build waits for it.
    `spare_checked`: `untrusted_in_spare` of the spare folder, `spare` and `live` (in a
    tuple), when it was worked out ahead (forked.Ahead); without it, it is worked out here.
    """
    out_dir = out_dir.absolute()
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    # Two builds into one folder at once would both work on the spare folder: one waits.
    with open(out_dir.parent / f".{out_dir.name}.lock", "a+b") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        remove_abandoned_beside(out_dir)
        return _update_locked(
            outputs,
            kept,
            out_dir,
            live,
            spare,
            intact,
            search_index,
            staged if isinstance(staged, StagedSite) else None,
            started,
            staged.files if isinstance(staged, SpillFolder) else {},
            meanwhile,
            spare_checked,
        )


def _update_locked(
    outputs: Mapping[PurePosixPath, bytes],
    kept: Mapping[str, FileRecord],
    out_dir: Path,
    live: TreeRecord | None,
    spare: TreeRecord | None,
    intact: Mapping[str, FileRecord] | None,
    search_index: bool,
    staged: StagedSite | None = None,
    started: SearchIndexRun | None = None,
    spilled: Mapping[str, Spilled] | None = None,
    meanwhile: Callable[[], object] | None = None,
    spare_checked: tuple[frozenset[str] | None] | None = None,
) -> Updated:
    if live is not None and folder_identity(out_dir) != (live.device, live.inode):
        live = None
    fresh = not out_dir.exists()
    before = intact  # the live site's files as recorded (None: not known)
    intact = as_dict(intact) if intact else {}
    staged_files = dict(staged.files) if staged is not None else {}
    trusted: dict[str, FileRecord] | None
    known_times: Mapping[str, int] | None = None
    held: HeldFolder | None = (
        None  # a new folder made here, held until published (see "Scratch folders")
    )
    if staged is not None:
        # The staged folder becomes the site: the files in it are what the build wrote there.
        target, trusted, fresh = staged.folder, dict(staged_files), True
    elif fresh:
        held = HeldFolder(out_dir.parent, f".{out_dir.name}.new-")
        target = Path(held.path)
        trusted = {}
    else:
        target = spare_folder(out_dir)
        there = target.is_dir()
        trusted = {}
        if there:
            untrusted = (
                spare_checked[0]
                if spare_checked is not None
                else untrusted_in_spare(target, spare, live, _broken_in(live, before))
            )
            trusted = _trusted_files(spare, untrusted)
        target.mkdir(exist_ok=True)
        if there and trusted is not None and spare is not None:
            # Every folder's time was just found as recorded (_trusted_files): only those of
            # the folders this build writes into are read again for the new record.
            known_times = spare.folders
    pending = None
    try:
        wanted: _Wanted = {**kept, **staged_files, **(spilled or {})}
        wanted.update({_relative(path): data for path, data in outputs.items()})
        wanted = _linked_where_same(wanted, intact)
        # Pagefind starts on the pages as wanted, and runs while they are put in place.
        if search_index:
            read = _page_reader(wanted, target, out_dir, staged_files)
            pending = _start_search_index(wanted, read, live, intact, started, out_dir)
        elif started is not None:
            started.cancel()
        sync = _Sync(target, out_dir, trusted)
        sync.run(wanted, index=False)
        # While Pagefind works: what the site's own files add to the record, and how many
        # of them changed, so that after it only the search index's files are worked out
        # (about 60 ms less after Pagefind in a fast edit at 10,000 studies).
        site = part_of(sync.files)
        changed = _changed(sync.files.items(), intact if before is not None else None)
        if meanwhile is not None:
            meanwhile()
        if pending is not None:
            index = _join_search_index(pending)
            sync.run(_linked_where_same(index, intact), index=True)
            pending.discard()
        os.chmod(target, 0o755)
        files, folders, index_files = joined_files(site, sync.files)
        if changed is not None:
            changed += _changed(index_files.items(), intact) or 0
        record = tree_record(target, files, known_times, folders_of(sync.touched), folders)
    except BaseException:
        if pending is not None:
            pending.cancel()
        if started is not None:
            started.cancel()
        if fresh:
            shutil.rmtree(target, ignore_errors=True)
        if held is not None:
            held.release()
        raise
    written = sync.written + len(staged_files)
    if fresh and staged is not None and out_dir.exists():
        _swap(target, out_dir)  # another build made the folder since this one began
        return Updated(record, None, written, len(record.files))
    if fresh:
        target.rename(out_dir)
        if held is not None:
            held.release()
        return Updated(record, None, written, len(record.files))
    _exchange(target, out_dir)
    return Updated(record, live, sync.written, sync.written if changed is None else changed)


def _changed(
    files: Iterable[tuple[str, FileRecord]], before: Mapping[str, FileRecord] | None
) -> int | None:
    """How many of the new site's `files` differ from those the live site held `before` (the
    ones still as recorded); None with no record of them (the files written are counted)."""
    if before is None:
        return None
    return sum(
        1 for path, file in files if (old := before.get(path)) is None or old.digest != file.digest
    )


def _linked_where_same(wanted: _Wanted, intact: Mapping[str, FileRecord]) -> _Wanted:
    """Files made again with the same bytes as the live site's: linked, not written again."""
    linked: _Wanted = {}
    for path, source in wanted.items():
        same = intact.get(path)
        if (
            not isinstance(source, FileRecord)
            and same is not None
            and same.size == (len(source) if isinstance(source, bytes) else source.size)
            and same.digest == _digest_of(source)
        ):
            linked[path] = same
        else:
            linked[path] = source
    return linked


def _relative(path: PurePosixPath) -> str:
    """An output path as a record keeps it, refused when it would leave the output folder."""
    if path.is_absolute() or ".." in path.parts or not path.parts:
        raise UnsafeOutputPath(str(path))
    return str(path)


def _in_search_index(path: str) -> bool:
    return path.startswith(SEARCH_INDEX_FOLDER + "/")


def _in_site(path: str) -> bool:
    """Whether `path` is one of the site's own files (not its search index's)."""
    return not _in_search_index(path)


def untrusted_in_spare(
    folder: Path,
    record: TreeRecord | None,
    live: TreeRecord | None,
    live_broken: Collection[str] = (),
) -> frozenset[str] | None:
    """The spare folder's recorded files that are not as recorded, or None when its record
    cannot be trusted at all (`_trusted_files` from these).

    A folder whose entries changed, or another folder, is not trusted (it will be compared
    file by file). Files shared with the live site (one inode) are checked through the live
    site, as intact unless they are among its `live_broken` files (found changed: a file
    written to in place changes in both folders); the others are checked here.
    """
    changes = tree_changes(folder, record, files=False)
    if changes is None or changes.changed_folders or record is None:
        return None
    shared = inodes_of(live) if live is not None else set()
    if live is not None and live_broken:
        shared -= {live.files[path].inode for path in live_broken if path in live.files}
    base = str(folder)
    untrusted = set()
    for relative in files_not_in(record, shared):
        expected = record.files[relative]
        try:
            status = os.stat(f"{base}/{relative}")
        except OSError:
            untrusted.add(relative)
            continue
        now = (status.st_ino, status.st_size, status.st_mtime_ns)
        if now != (expected.inode, expected.size, expected.mtime_ns):
            untrusted.add(relative)
    return frozenset(untrusted)


def _broken_in(live: TreeRecord | None, intact: Mapping[str, FileRecord] | None) -> set[str]:
    """The live site's recorded files that its check did not find `intact` (a subset)."""
    if live is None or intact is None or len(intact) == len(live.files):
        return set()
    return set(live.files) - set(intact)


def _trusted_files(
    record: TreeRecord | None, untrusted: frozenset[str] | None
) -> dict[str, FileRecord] | None:
    """The spare folder's files as recorded but the `untrusted` ones (None: none at all)."""
    if record is None or untrusted is None:
        return None
    if not untrusted:
        return dict(record.files.items())
    return {path: file for path, file in record.files.items() if path not in untrusted}


class _Sync:
    """Brings a folder to a wanted set of files, writing only what differs."""

    def __init__(self, folder: Path, live: Path, trusted: dict[str, FileRecord] | None) -> None:
        self.folder = str(folder)
        self.live = str(live)
        self.trusted = trusted  # None: unknown, so compare what is there file by file
        self.files: dict[str, FileRecord] = {}
        self.written = 0
        self._folders: set[str] = set()
        # Paths (relative) whose folders' entries this sync changed, a file placed or removed:
        # only these folders' times are read again for the record (tree_record).
        self.touched: set[str] = set()
        self._trusted_index: list[str] | None = None  # the trusted files of the search index

    def run(self, wanted: _Wanted, index: bool) -> None:
        """Bring the folder's search index files (`index`), or its other files, to `wanted`."""
        present = self._present(index)
        for relative in sorted(wanted):
            source = wanted[relative]
            digest = _digest_of(source)
            have = present.pop(relative, None)
            if have is not None and have.digest == digest:
                self.files[relative] = have
                continue
            target = f"{self.folder}/{relative}"
            # A folder not trusted (a build stopped in it, or the spare folder left when the
            # site and the cache were deleted by hand): a file the live site holds is linked
            # from there, not kept for having the same bytes, which would leave it a copy of
            # its own, whose status every later edit reads (the live site's files are checked
            # through the live site); a link also costs less than reading the file.
            if (
                have is None
                and self.trusted is None
                and not isinstance(source, FileRecord)
                and self._same_bytes(target, digest)
            ):
                self.files[relative] = record_of(target, digest)
                continue
            if have is None and self.trusted is None and self._linked_already(target, source):
                # Linking it again would leave its staging name behind (`_place`: renaming a
                # file over another link to itself does nothing), published with the site.
                self.files[relative] = record_of(target, digest)
                continue
            self._place(relative, target, source)
            if not isinstance(source, FileRecord):
                self.written += 1
            self.files[relative] = record_of(target, digest)
        for relative in sorted(present):  # there before, not wanted now
            self.touched.add(relative)
            with contextlib.suppress(FileNotFoundError):
                os.unlink(f"{self.folder}/{relative}")
        self._prune(present, _in_search_index if index else _in_site)

    def _present(self, index: bool) -> dict[str, Any]:
        """What the folder holds of the search index (`index`) or of the rest of the site: its
        trusted record, or (unknown) every file found."""
        if self.trusted is not None:
            # Split by position: a test per file of 60,000, for each of the two scopes, took
            # about 40 ms of CPU beside Pagefind in a fast edit at 10,000 studies. Split once:
            # the search index's scope comes second, after Pagefind, when time counts most.
            if self._trusted_index is None:
                paths = tuple(self.trusted)
                self._trusted_index = [paths[at] for at in index_files_among(paths)]
            in_index = self._trusted_index
            if index:
                return {path: self.trusted[path] for path in in_index}
            present: dict[str, Any] = dict(self.trusted)
            for path in in_index:
                del present[path]
            return present
        in_scope = _in_search_index if index else _in_site
        found: dict[str, Any] = {}
        for dirpath, _, filenames in os.walk(self.folder):
            here = os.path.relpath(dirpath, self.folder)
            for name in filenames:
                relative = name if here == "." else f"{here}/{name}"
                if in_scope(relative):
                    found[relative] = None  # unknown bytes: compared when wanted
        return found

    def _linked_already(self, target: str, source: bytes | FileRecord | Spilled) -> bool:
        """Whether `target` is the live site's very file that `source` (a kept file) names."""
        if not isinstance(source, FileRecord):
            return False
        try:
            return os.stat(target).st_ino == source.inode
        except OSError:
            return False

    def _same_bytes(self, target: str, digest: bytes) -> bool:
        try:
            return os.path.isfile(target) and file_digest(Path(target).read_bytes()) == digest
        except OSError:
            return False

    def _place(self, relative: str, target: str, source: bytes | FileRecord | Spilled) -> None:
        self.touched.add(relative)
        parent = os.path.dirname(target)
        if parent not in self._folders:
            os.makedirs(parent, exist_ok=True)
            self._folders.add(parent)
        staged = f"{parent}/.{os.path.basename(target)}.new"
        with contextlib.suppress(FileNotFoundError):
            os.unlink(staged)
        if isinstance(source, FileRecord):
            os.link(f"{self.live}/{relative}", staged)
        elif isinstance(source, Spilled):
            os.link(source.file, staged)
        else:
            Path(staged).write_bytes(source)
        os.replace(staged, target)

    def _prune(self, removed: Iterable[str], in_scope: Callable[[str], bool]) -> None:
        """Remove the folders left empty: those of removed files (or, unknown, all of them)."""
        if self.trusted is not None:
            # Only the removed files' folders: one that still holds a file is not removed
            # (rmdir refuses), so the folders of every file kept (about 50 ms at 10,000
            # studies, for each call) need not be worked out.
            candidates = folders_of(removed)
        else:
            keep = folders_of(self.files)
            candidates = set()
            for dirpath, _, _ in os.walk(self.folder):
                relative = os.path.relpath(dirpath, self.folder)
                if relative not in keep and in_scope(f"{relative}/x"):
                    candidates.add(relative)
        for relative in sorted(candidates, key=lambda p: p.count("/"), reverse=True):
            if relative != ROOT:
                with contextlib.suppress(OSError):  # not empty: it holds other files
                    os.rmdir(f"{self.folder}/{relative}")


@dataclass(frozen=True)
class SearchIndexRun:
    """Pagefind started on the shards an edit changes before `update_site` is called for it
    (start_search_index), so that it runs while the build checks the live folder and writes
    the pages. Hand it to `update_site(..., started=...)`, which uses each run whose pages
    turn out to be the ones wanted then and indexes the others itself; or `cancel()` it."""

    stale: tuple[Shard, ...]  # the shards it indexes
    pages: Mapping[str, bytes]  # the digest of every page it expects, by output path
    runs: _PagefindRuns | None

    def cancel(self) -> None:
        if self.runs is not None:
            self.runs.cancel()


def start_search_index(
    outputs: Mapping[PurePosixPath, bytes], out_dir: Path, live: TreeRecord | None
) -> SearchIndexRun:
    """Start indexing the shards whose pages `outputs` change in the site that `live` records
    (the build's record of `out_dir`). The shards' other pages are read from `out_dir` and
    checked against the record as they are read: a shard with a page that is not as recorded
    is left to `update_site`, as is every shard that turns out to be wanted otherwise."""
    given = {str(path): data for path, data in outputs.items() if indexed(str(path))}
    recorded = _recorded_shards(out_dir, live, given)
    if recorded is None:
        return SearchIndexRun((), {}, None)
    before, shards, remade = recorded
    pages = {**before, **{path: file_digest(data) for path, data in given.items()}}
    stale = tuple(s for s in shards if remade or any(pages[p] != before[p] for p in s.pages))
    base = str(out_dir.absolute())

    def read(page: str) -> bytes:
        return given[page] if page in given else Path(f"{base}/{page}").read_bytes()

    return SearchIndexRun(stale, pages, _PagefindRuns(stale, read, pages) if stale else None)


def _recorded_shards(
    out_dir: Path, live: TreeRecord | None, pages: Collection[str]
) -> tuple[dict[str, bytes], tuple[Shard, ...], bool] | None:
    """The indexed pages of the live site as `live` records them (their digests), their shards,
    and whether its index was made otherwise (every shard to be indexed again, as `plan`
    says); None when `out_dir` is not the recorded folder or lacks one of the `pages`."""
    out_dir = out_dir.absolute()
    if live is None or folder_identity(out_dir) != (live.device, live.inode):
        return None
    # Only the indexed pages' records and the manifest's, not the whole site's: at 10,000
    # studies, decoding every record first started Pagefind about 0.15 s later.
    before = _recorded_pages(live)
    manifest = digests_at(live.files, _positions_of(MANIFEST)).get(MANIFEST)
    if any(page not in before for page in pages):
        return None
    shards = layout(before)
    remade = manifest is None or manifest != file_digest(manifest_of(shards))
    return before, shards, remade


def _positions_of(path: str) -> Callable[[Sequence[str]], list[int]]:
    """A `digests_at` selector of one path (a tuple's search for it runs in C)."""
    return lambda paths: [paths.index(path)] if path in paths else []


def _indexed_files(live: TreeRecord) -> tuple[dict[str, bytes], dict[str, FileRecord]]:
    """The indexed pages of a site as recorded (their digests), and its search index files."""
    return _recorded_pages(live), records_of(live.files, index_files_among)


# The last record's `_recorded_pages` (a fast edit asks twice: to start Pagefind before the
# folder is checked, then to plan the index; about 25 ms of CPU beside Pagefind).
_pages_recorded: tuple[Callable[[], TreeRecord | None], dict[str, bytes]] = (lambda: None, {})


def _recorded_pages(live: TreeRecord) -> dict[str, bytes]:
    """The indexed pages of a site as `live` records them, with their digests (not changed by
    the caller: another caller may be given the same)."""
    global _pages_recorded
    if _pages_recorded[0]() is not live:
        _pages_recorded = (weakref.ref(live), digests_at(live.files, indexed_among))
    return _pages_recorded[1]


@dataclass(frozen=True)
class _PendingIndex:
    planned: Plan
    adopted: tuple[Shard, ...]  # indexed by a run begun before update_site (`early`)
    early: _PagefindRuns | None
    fresh: tuple[Shard, ...]  # indexed by `runs`
    runs: _PagefindRuns | None
    read_page: Callable[[str], bytes]
    kept: HeldFolder | None  # where `runs` keeps the files it made (`_PagefindRuns`)

    def cancel(self) -> None:
        for runs in (self.early, self.runs):
            if runs is not None:
                runs.cancel()
        self.discard()

    def discard(self) -> None:
        """Remove the files kept on disk (once linked into place, or when not wanted)."""
        if self.kept is not None:
            self.kept.remove()


def _page_reader(
    wanted: _Wanted, target: Path, live: Path, staged: Mapping[str, FileRecord]
) -> Callable[[str], bytes]:
    """A wanted page's bytes: in memory, or the file it is linked from (the live site's, or
    the staged folder's for a page the build staged there)."""

    def read(page: str) -> bytes:
        source = wanted[page]
        if isinstance(source, bytes):
            return source
        if isinstance(source, Spilled):
            return Path(source.file).read_bytes()
        return Path(target if staged.get(page) is source else live, page).read_bytes()

    return read


def _start_search_index(
    wanted: _Wanted,
    read_page: Callable[[str], bytes],
    live: TreeRecord | None,
    intact: Mapping[str, FileRecord],
    started: SearchIndexRun | None,
    out_dir: Path,
) -> _PendingIndex:
    """Plan the search index of the `wanted` pages and start Pagefind on the shards that need
    it (the others are the live site's, carried over), taking over the runs of `started` when
    they index exactly the pages wanted. The files of more than one shard are kept on disk
    beside `out_dir` as each run ends, not held (an edit's one shard is held: it is small)."""
    paths = tuple(wanted)
    pages = {paths[at]: _digest_of(wanted[paths[at]]) for at in indexed_among(paths)}
    before, index = _indexed_files(live) if live is not None else (None, {})
    planned = plan(pages, before, index, intact)
    stale = {s.number: s for s in planned.stale}
    adopted: tuple[Shard, ...] = ()
    if started is not None and started.runs is not None:
        if all(
            s.number in stale
            and stale[s.number].pages == s.pages
            and all(started.pages.get(p) == pages[p] for p in s.pages)
            for s in started.stale
        ):
            adopted = tuple(stale[s.number] for s in started.stale)
        else:
            started.cancel()
    taken = {s.number for s in adopted}
    fresh = tuple(s for s in planned.stale if s.number not in taken)
    kept = HeldFolder(out_dir.parent, f".{out_dir.name}.spill-") if len(fresh) > 1 else None
    try:
        runs = (
            _PagefindRuns(fresh, read_page, keep_in=kept.path if kept else None) if fresh else None
        )
    except BaseException:
        if kept is not None:
            kept.remove()
        raise
    early = started.runs if adopted and started is not None else None
    return _PendingIndex(planned, adopted, early, fresh, runs, read_page, kept)


def _join_search_index(pending: _PendingIndex) -> _Wanted:
    """Wait for Pagefind: the index files wanted, the carried-over shards' as the live site
    has them (linked) and the others' as Pagefind made them."""
    made: dict[str, bytes | Spilled] = {}
    again: list[Shard] = []
    for shards, runs in ((pending.adopted, pending.early), (pending.fresh, pending.runs)):
        found = runs.result() if runs is not None else {}
        for shard in shards:
            if shard.number in found:
                made.update(bundle_files(shard, found[shard.number]))
            else:  # a page read otherwise than the record said: indexed again as it is
                again.append(shard)
    if again:
        made.update(_run_pagefind(again, pending.read_page))
    wanted: _Wanted = {**pending.planned.carried, **made}
    wanted[MANIFEST] = pending.planned.manifest
    return wanted


_SCRATCH_PREFIX = "backpain-site-index-"


def _scratch_parent() -> str:
    """A memory-backed folder for Pagefind's thousands of small files, where there is one."""
    shm = Path("/dev/shm")
    return str(shm) if shm.is_dir() and os.access(shm, os.W_OK) else tempfile.gettempdir()


def _exchange(first: Path, second: Path) -> None:
    """Swap two sibling folders: atomically with Linux's renameat2, else by three renames."""
    if _rename_exchange(first, second):
        return
    parking = Path(tempfile.mkdtemp(prefix=f".{second.name}.old-", dir=second.parent))
    parking.rmdir()
    second.rename(parking)
    try:
        first.rename(second)
    except BaseException:
        parking.rename(second)
        raise
    parking.rename(first)


def _rename_exchange(first: Path, second: Path) -> bool:
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    done = renameat2(at_fdcwd, os.fsencode(first), at_fdcwd, os.fsencode(second), rename_exchange)
    return bool(done == 0)


_SECRET_BYTES = 32


def machine_secret() -> bytes:
    """The key that signs the build cache, kept outside every project (in the user's cache
    folder, or $BACKPAIN_SITE_SECRET_FILE), created on first use. A project folder can then
    never hand the build a cache entry it did not write itself. b"" (no cache) if unusable."""
    path = Path(
        os.environ.get("BACKPAIN_SITE_SECRET_FILE")
        or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
        / "backpain_site"
        / "cache-secret"
    )
    for _attempt in range(2):
        try:
            data = path.read_bytes()
            if len(data) == _SECRET_BYTES:
                return data
            path.unlink()  # damaged: a new key only costs one cold build
        except FileNotFoundError:
            pass
        except OSError:
            return b""
        try:
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another build made it first: read theirs
            continue
        except OSError:
            return b""
        fresh = os.urandom(_SECRET_BYTES)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(fresh)
        return fresh
    return b""


# --- Scratch folders -------------------------------------------------------------------------
# Scratch folders a build works in, and the removal of those a killed build left behind.
#
# Input: a parent folder and a name prefix (a new site folder `.{site}.new-*`, a spill folder
# `.{site}.spill-*` beside the site, Pagefind's `backpain-site-index-*` in /dev/shm).
# Output: a new folder, held by this process (and its forked workers) until released; and, for
# `remove_abandoned`, the removal of such folders that no running build holds.
#
# A build removes its scratch folders itself, even when it fails, but a build killed outright
# (SIGKILL, the machine running out of memory) cannot: its folder would stay for good, a whole
# site's worth of pages beside the live one, or tens of MB of memory in /dev/shm. Each folder is
# therefore held with a shared `flock` on the folder itself, which the system releases when the
# last process holding it ends, however it ends. A folder that can be locked exclusively is held
# by nobody: its build is gone. Folders younger than `_SETTLING` seconds are left alone, so one
# made an instant ago, not yet held, is never taken from the build making it.

# How old an unheld folder must be before it counts as abandoned (see above).
_SETTLING = 60.0


class HeldFolder:
    """A new folder, held (see above) until `release`."""

    def __init__(self, parent: str | os.PathLike[str], prefix: str) -> None:
        self.path = tempfile.mkdtemp(prefix=prefix, dir=parent)
        self._descriptor: int | None = hold(self.path)

    def release(self) -> None:
        """Let the folder go (after removing or publishing it): idempotent."""
        if self._descriptor is not None:
            os.close(self._descriptor)
            self._descriptor = None

    def remove(self) -> None:
        """Remove the folder with all it holds, and let it go."""
        shutil.rmtree(self.path, ignore_errors=True)
        self.release()


def hold(folder: str | os.PathLike[str]) -> int:
    """Hold `folder` (shared, so every build step may): the descriptor to close to let it go.
    The hold follows the folder when it is renamed."""
    descriptor = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_SH)
    except BaseException:
        os.close(descriptor)
        raise
    return descriptor


def remove_abandoned(parent: str | os.PathLike[str], prefixes: Iterable[str]) -> list[str]:
    """Remove the folders in `parent` named with one of `prefixes` that no build holds and that
    are older than a minute; the names removed. Never fails: a folder it cannot look at or
    remove is left for another time."""
    prefixes = tuple(prefixes)
    removed: list[str] = []
    try:
        entries = list(os.scandir(parent))
    except OSError:
        return removed
    now = time.time()
    for entry in entries:
        if not entry.name.startswith(prefixes):
            continue
        try:
            if not entry.is_dir(follow_symlinks=False):
                continue
            if now - entry.stat(follow_symlinks=False).st_mtime < _SETTLING:
                continue
            descriptor = os.open(entry.path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
        except OSError:
            continue
        try:
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                continue  # held: a build is working in it
            # Removed while locked: a build cannot take it up again (it makes new folders only).
            shutil.rmtree(entry.path, ignore_errors=True)
            if not os.path.lexists(entry.path):
                removed.append(entry.name)
        finally:
            os.close(descriptor)
    return sorted(removed)
