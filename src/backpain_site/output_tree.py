"""What an output folder holds: a record of every file a build put there, and a check of it.

Input: an output folder and the record the build kept of it. Output: the files still exactly as
recorded (same inode, size and modification time: a file changed in any way, replaced or
removed is not), so that an incremental build can keep them instead of writing them again.
Reading only; writer.py writes. A folder is known by its device and inode, which a rename keeps,
so the record follows the folder when the writer swaps the live site with the previous one.
"""

from __future__ import annotations

import hashlib
import os
import posixpath
from array import array
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

ROOT = "."  # the tree itself, among its folders
DIGEST_SIZE = 16

# Paths inside a tree are posix strings ('studies/x/index.html'): a record holds tens of
# thousands of them, and strings are what reads back fastest when the next build starts.


class FileRecord(NamedTuple):
    digest: bytes  # of the bytes the build wrote
    size: int
    mtime_ns: int
    inode: int


@dataclass(frozen=True)
class TreeRecord:
    device: int  # of the folder itself
    inode: int
    files: Mapping[str, FileRecord]
    # The modification time of every folder in the tree (ROOT is the tree itself): a file
    # added, removed or renamed anywhere changes its folder's time, so no folder walk is needed.
    folders: Mapping[str, int]

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        """Pickled as columns (names, one string of digests, one array of numbers): a site of
        50,000 files reads back in a tenth of the time, and every build after the first
        starts by reading this record."""
        records = list(self.files.values())
        if any(len(r.digest) != DIGEST_SIZE for r in records):
            return (TreeRecord, (self.device, self.inode, dict(self.files), dict(self.folders)))
        numbers = array("q", [n for r in records for n in (r.size, r.mtime_ns, r.inode)])
        return (
            _tree_from_columns,
            (
                self.device,
                self.inode,
                tuple(self.files),
                b"".join(r.digest for r in records),
                numbers.tobytes(),
                tuple(self.folders),
                array("q", self.folders.values()).tobytes(),
            ),
        )


def _tree_from_columns(
    device: int,
    inode: int,
    paths: tuple[str, ...],
    digests: bytes,
    numbers: bytes,
    folders: tuple[str, ...],
    times: bytes,
) -> TreeRecord:
    folder_times = array("q")
    folder_times.frombytes(times)
    files = _ColumnFiles(paths, digests, numbers)
    return TreeRecord(device, inode, files, dict(zip(folders, folder_times, strict=True)))


class _ColumnFiles(Mapping[str, FileRecord]):
    """A tree record's files as read back: made into records when first asked for (a build
    with nothing to do reads the live site's record, never the previous site's)."""

    def __init__(self, paths: tuple[str, ...], digests: bytes, numbers: bytes) -> None:
        self._columns: tuple[tuple[str, ...], bytes, bytes] | None = (paths, digests, numbers)
        self._files: dict[str, FileRecord] = {}

    def _made(self) -> dict[str, FileRecord]:
        if self._columns is not None:
            paths, digests, numbers = self._columns
            values = array("q")
            values.frombytes(numbers)
            cut = range(0, len(digests), DIGEST_SIZE)
            records = zip(
                [digests[i : i + DIGEST_SIZE] for i in cut],
                values[0::3],
                values[1::3],
                values[2::3],
                strict=True,
            )
            self._files = dict(zip(paths, map(FileRecord._make, records), strict=True))
            self._columns = None
        return self._files

    def __getitem__(self, path: str) -> FileRecord:
        return self._made()[path]

    def __iter__(self) -> Iterator[str]:
        return iter(self._made())

    def __len__(self) -> int:
        return len(self._columns[0]) if self._columns is not None else len(self._files)


@dataclass(frozen=True)
class TreeCheck:
    intact: dict[str, FileRecord]  # files exactly as recorded
    changed_folders: frozenset[str]  # folders whose entries may differ from the record

    @property
    def exact(self) -> bool:
        return not self.changed_folders


UNKNOWN = TreeCheck({}, frozenset({ROOT}))


def file_digest(data: bytes) -> bytes:
    return hashlib.blake2b(data, digest_size=DIGEST_SIZE).digest()


def folder_identity(folder: Path) -> tuple[int, int] | None:
    try:
        status = os.stat(folder)
    except OSError:
        return None
    return status.st_dev, status.st_ino


def record_of(path: str, digest: bytes) -> FileRecord:
    status = os.stat(path)
    return FileRecord(digest, status.st_size, status.st_mtime_ns, status.st_ino)


def parent_of(path: str) -> str:
    return posixpath.dirname(path) or ROOT


def folders_of(paths: Iterable[str]) -> set[str]:
    """Every folder that holds one of `paths`, up to and including the tree itself (ROOT)."""
    folders: set[str] = set()
    for path in paths:
        parent = parent_of(path)
        while parent not in folders:
            folders.add(parent)
            if parent == ROOT:
                break
            parent = parent_of(parent)
    return folders


def tree_record(folder: Path, files: Mapping[str, FileRecord]) -> TreeRecord:
    """Record `folder` as holding exactly `files` (taken after the last write into it)."""
    status = os.stat(folder)
    base = str(folder)
    times = {relative: os.stat(f"{base}/{relative}").st_mtime_ns for relative in folders_of(files)}
    return TreeRecord(status.st_dev, status.st_ino, dict(files), times)


def check_tree(folder: Path, record: TreeRecord | None, *, files: bool = True) -> TreeCheck:
    """Which recorded files are still intact, and which folders changed since the record.

    With `files=False` only the folders are checked (a spare tree whose files are the live
    tree's own, hard-linked, is checked through the live tree).
    """
    if record is None or folder_identity(folder) != (record.device, record.inode):
        return UNKNOWN
    base = str(folder)
    stat = os.stat
    changed: set[str] = set()
    for relative, mtime_ns in record.folders.items():
        try:
            if stat(f"{base}/{relative}").st_mtime_ns != mtime_ns:
                changed.add(relative)
        except OSError:
            changed.add(relative)
    if not files:
        return TreeCheck(dict(record.files), frozenset(changed))
    intact: dict[str, FileRecord] = {}
    for relative, expected in record.files.items():
        try:
            status = stat(f"{base}/{relative}")
        except OSError:
            continue
        if (
            status.st_ino == expected.inode
            and status.st_mtime_ns == expected.mtime_ns
            and status.st_size == expected.size
        ):
            intact[relative] = expected
    return TreeCheck(intact, frozenset(changed))
