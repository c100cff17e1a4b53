"""Stage 4, write: `{output path: bytes}` -> the output folder, atomically.

Input: the rendered outputs and the output folder. Output: the folder holds exactly those files.
This is the only module that writes the site. Files go into a temporary sibling folder that
replaces the old one only when every file is written, so a failed or killed build leaves the
previous site untouched. The full-text search index (Pagefind, which reads HTML files and writes
its own) is made in that staging folder too, so pages and index are published together.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from .output_tree import (
    ROOT,
    FileRecord,
    TreeRecord,
    check_tree,
    file_digest,
    folder_identity,
    folders_of,
    record_of,
    tree_record,
)
from .search_index import (
    INDEX_FOLDER,
    MANIFEST,
    Shard,
    bundle_files,
    indexed,
    indexed_pages,
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
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.new-", dir=out_dir.parent))
    try:
        for relative in sorted(outputs):
            target = _target(staging, relative)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(outputs[relative])
        if search_index:
            _index_for_search(staging, outputs)
        os.chmod(staging, 0o755)
        _swap(staging, out_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _index_for_search(staging: Path, outputs: Mapping[PurePosixPath, bytes]) -> None:
    """Index the staged pages for search, every shard (search_index.py), into the staged site."""
    # Never let Pagefind's files be written through a file linked from the published site.
    shutil.rmtree(staging / SEARCH_INDEX_FOLDER, ignore_errors=True)
    planned = plan(indexed_pages(outputs))
    made = _run_pagefind(planned.stale, lambda page: outputs[PurePosixPath(page)])
    made[MANIFEST] = planned.manifest
    for relative in sorted(made):
        target = _target(staging, PurePosixPath(relative))
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(made[relative])


def _run_pagefind(shards: Iterable[Shard], read_page: Callable[[str], bytes]) -> dict[str, bytes]:
    """Run Pagefind over each shard's pages, copied into a scratch folder, on every core.

    Pagefind's output depends only on the HTML it reads (no clock, no paths), so a shard's index
    is byte-identical between builds of the same pages. Returns the index files by site path.
    """
    scratch = Path(tempfile.mkdtemp(prefix="backpain-site-index-", dir=_scratch_parent()))
    waiting = list(shards)
    running: list[tuple[Shard, Path, subprocess.Popen[bytes]]] = []
    made: dict[str, bytes] = {}
    try:
        # A few Pagefind processes at a time, each one shard: memory stays at a few shards'.
        while waiting or running:
            while waiting and len(running) < _PAGEFIND_PROCESSES:
                shard = waiting.pop(0)
                work = scratch / str(shard.number)
                for page in shard.pages:
                    target = _target(work / "site", PurePosixPath(page))
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_bytes(read_page(page))
                running.append((shard, work, _start_pagefind(work)))
            shard, work, process = running.pop(0)
            said, errors = process.communicate()
            if process.returncode != 0:
                detail = (errors or said).decode(errors="replace").strip()
                raise SearchIndexError(
                    "pagefind could not index the site: "
                    + (detail or f"exit status {process.returncode}")
                )
            found = {}
            for dirpath, _, filenames in os.walk(work / "index"):
                for name in filenames:
                    path = Path(dirpath, name)
                    found[path.relative_to(work / "index").as_posix()] = path.read_bytes()
            made.update(bundle_files(shard, found))
            shutil.rmtree(work, ignore_errors=True)
    finally:
        for _, _, process in running:
            process.kill()
            process.wait()
        shutil.rmtree(scratch, ignore_errors=True)
    return made


# Pagefind runs on one core (measured: user time about 0.8 of wall time), so one a core.
_PAGEFIND_PROCESSES = max(1, min(2, os.cpu_count() or 1))


def _start_pagefind(work: Path) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "pagefind", "--site", str(work / "site")]
    command += ["--output-path", str(work / "index"), "--silent"]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _swap(staging: Path, out_dir: Path) -> None:
    """Put `staging` where `out_dir` is; the old folder is removed only after the rename."""
    if not out_dir.exists():
        staging.rename(out_dir)
        return
    retired = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.old-", dir=out_dir.parent))
    retired.rmdir()
    out_dir.rename(retired)
    try:
        staging.rename(out_dir)
    except BaseException:
        retired.rename(out_dir)
        raise
    shutil.rmtree(retired, ignore_errors=True)


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


def replace_file(path: Path, data: bytes) -> None:
    """Write `path` whole (for `backpain-site schema`): readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, staging = tempfile.mkstemp(prefix=f".{path.name}.new-", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
        os.chmod(staging, 0o644)
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


# What a file is made from: its bytes, or the live site's file of the same path (linked).
_Wanted = dict[str, "bytes | FileRecord"]


def update_site(
    outputs: Mapping[PurePosixPath, bytes],
    kept: Mapping[str, FileRecord],
    out_dir: Path,
    live: TreeRecord | None,
    spare: TreeRecord | None,
    *,
    intact: Mapping[str, FileRecord] | None = None,
    search_index: bool = False,
) -> Updated:
    """Make `out_dir` hold `outputs` plus the `kept` files of the live site, and nothing else.

    `live` and `spare` are the records the last build kept of the two folders, or None;
    `intact` the live files still as recorded (output_tree.check_tree), `kept` among them.
    """
    out_dir = out_dir.absolute()
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    # Two builds into one folder at once would both work on the spare folder: one waits.
    with open(out_dir.parent / f".{out_dir.name}.lock", "a+b") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return _update_locked(outputs, kept, out_dir, live, spare, intact or {}, search_index)


def _update_locked(
    outputs: Mapping[PurePosixPath, bytes],
    kept: Mapping[str, FileRecord],
    out_dir: Path,
    live: TreeRecord | None,
    spare: TreeRecord | None,
    intact: Mapping[str, FileRecord],
    search_index: bool,
) -> Updated:
    if live is not None and folder_identity(out_dir) != (live.device, live.inode):
        live = None
    fresh = not out_dir.exists()
    if fresh:
        target = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.new-", dir=out_dir.parent))
        trusted: dict[str, FileRecord] | None = {}
    else:
        target = spare_folder(out_dir)
        trusted = _trusted_files(target, spare, live) if target.is_dir() else {}
        target.mkdir(exist_ok=True)
    try:
        wanted: _Wanted = {**kept, **{_relative(path): data for path, data in outputs.items()}}
        wanted = _linked_where_same(wanted, intact)
        sync = _Sync(target, out_dir, trusted)
        sync.run(wanted, lambda path: not _in_search_index(path))
        if search_index:
            index = _search_index_files(target, sync.files, live, intact)
            sync.run(_linked_where_same(index, intact), _in_search_index)
        os.chmod(target, 0o755)
        record = tree_record(target, sync.files)
    except BaseException:
        if fresh:
            shutil.rmtree(target, ignore_errors=True)
        raise
    if fresh:
        target.rename(out_dir)
        return Updated(record, None, sync.written)
    _exchange(target, out_dir)
    return Updated(record, live, sync.written)


def _linked_where_same(wanted: _Wanted, intact: Mapping[str, FileRecord]) -> _Wanted:
    """Files made again with the same bytes as the live site's: linked, not written again."""
    linked: _Wanted = {}
    for path, source in wanted.items():
        same = intact.get(path)
        if (
            isinstance(source, bytes)
            and same is not None
            and same.size == len(source)
            and same.digest == file_digest(source)
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


def _trusted_files(
    folder: Path, record: TreeRecord | None, live: TreeRecord | None
) -> dict[str, FileRecord] | None:
    """The spare folder's files as recorded, or None when its record cannot be trusted.

    A folder whose entries changed, or another folder, is not trusted (it will be compared
    file by file). Files shared with the live site (one inode) are checked through the live
    site; the few others are checked here.
    """
    check = check_tree(folder, record, files=False)
    if not check.exact or record is None:
        return None
    live_inodes = {r.inode for r in live.files.values()} if live is not None else set()
    base = str(folder)
    trusted: dict[str, FileRecord] = {}
    for relative, expected in record.files.items():
        if expected.inode not in live_inodes:
            try:
                status = os.stat(f"{base}/{relative}")
            except OSError:
                continue
            now = (status.st_ino, status.st_size, status.st_mtime_ns)
            if now != (expected.inode, expected.size, expected.mtime_ns):
                continue
        trusted[relative] = expected
    return trusted


class _Sync:
    """Brings a folder to a wanted set of files, writing only what differs."""

    def __init__(self, folder: Path, live: Path, trusted: dict[str, FileRecord] | None) -> None:
        self.folder = str(folder)
        self.live = str(live)
        self.trusted = trusted  # None: unknown, so compare what is there file by file
        self.files: dict[str, FileRecord] = {}
        self.written = 0
        self._folders: set[str] = set()

    def run(self, wanted: _Wanted, in_scope: Callable[[str], bool]) -> None:
        present = self._present(in_scope)
        for relative in sorted(wanted):
            source = wanted[relative]
            digest = source.digest if isinstance(source, FileRecord) else file_digest(source)
            have = present.pop(relative, None)
            if have is not None and have.digest == digest:
                self.files[relative] = have
                continue
            target = f"{self.folder}/{relative}"
            if have is None and self.trusted is None and self._same_bytes(target, digest):
                self.files[relative] = record_of(target, digest)
                continue
            self._place(relative, target, source)
            if not isinstance(source, FileRecord):
                self.written += 1
            self.files[relative] = record_of(target, digest)
        for relative in sorted(present):  # there before, not wanted now
            with contextlib.suppress(FileNotFoundError):
                os.unlink(f"{self.folder}/{relative}")
        self._prune(present, in_scope)

    def _present(self, in_scope: Callable[[str], bool]) -> dict[str, Any]:
        """What the folder holds in scope: its trusted record, or (unknown) every file found."""
        if self.trusted is not None:
            return {path: r for path, r in self.trusted.items() if in_scope(path)}
        found: dict[str, Any] = {}
        for dirpath, _, filenames in os.walk(self.folder):
            here = os.path.relpath(dirpath, self.folder)
            for name in filenames:
                relative = name if here == "." else f"{here}/{name}"
                if in_scope(relative):
                    found[relative] = None  # unknown bytes: compared when wanted
        return found

    def _same_bytes(self, target: str, digest: bytes) -> bool:
        try:
            return os.path.isfile(target) and file_digest(Path(target).read_bytes()) == digest
        except OSError:
            return False

    def _place(self, relative: str, target: str, source: bytes | FileRecord) -> None:
        parent = os.path.dirname(target)
        if parent not in self._folders:
            os.makedirs(parent, exist_ok=True)
            self._folders.add(parent)
        staged = f"{parent}/.{os.path.basename(target)}.new"
        with contextlib.suppress(FileNotFoundError):
            os.unlink(staged)
        if isinstance(source, FileRecord):
            os.link(f"{self.live}/{relative}", staged)
        else:
            Path(staged).write_bytes(source)
        os.replace(staged, target)

    def _prune(self, removed: Iterable[str], in_scope: Callable[[str], bool]) -> None:
        """Remove the folders left empty: those of removed files (or, unknown, all of them)."""
        keep = folders_of(self.files)
        if self.trusted is not None:
            candidates = folders_of(removed) - keep
        else:
            candidates = set()
            for dirpath, _, _ in os.walk(self.folder):
                relative = os.path.relpath(dirpath, self.folder)
                if relative not in keep and in_scope(f"{relative}/x"):
                    candidates.add(relative)
        for relative in sorted(candidates, key=lambda p: p.count("/"), reverse=True):
            if relative != ROOT:
                with contextlib.suppress(OSError):  # not empty: it holds other files
                    os.rmdir(f"{self.folder}/{relative}")


def _search_index_files(
    folder: Path,
    files: Mapping[str, FileRecord],
    live: TreeRecord | None,
    intact: Mapping[str, FileRecord],
) -> _Wanted:
    """The search index for the pages now in `folder`: the live site's index files for every
    shard whose pages did not change (and are intact), Pagefind's new ones for the others."""
    pages = {p: r.digest for p, r in files.items() if indexed(p)}
    before = None
    index: dict[str, FileRecord] = {}
    if live is not None:
        before = {p: r.digest for p, r in live.files.items() if indexed(p)}
        index = {p: r for p, r in live.files.items() if _in_search_index(p)}
    planned = plan(pages, before, index, intact)
    base = str(folder)
    made = _run_pagefind(planned.stale, lambda page: Path(f"{base}/{page}").read_bytes())
    wanted: _Wanted = {**planned.carried, **made}
    wanted[MANIFEST] = planned.manifest
    return wanted


def _scratch_parent() -> str | None:
    """A memory-backed folder for Pagefind's thousands of small files, where there is one."""
    shm = Path("/dev/shm")
    return str(shm) if shm.is_dir() and os.access(shm, os.W_OK) else None


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
