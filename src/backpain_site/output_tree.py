"""What an output folder holds: a record of every file a build put there, and a check of it.

Input: an output folder and the record the build kept of it. Output: the files still exactly as
recorded (same inode, size and modification time: a file changed in any way, replaced or
removed is not), so that an incremental build can keep them instead of writing them again.
Reading only; writer.py writes. A folder is known by its device and inode, which a rename keeps,
so the record follows the folder when the writer swaps the live site with the previous one.
"""

from __future__ import annotations

import hashlib
import itertools
import os
from array import array
from collections.abc import (
    Callable,
    ItemsView,
    Iterable,
    Iterator,
    Mapping,
    Sequence,
    ValuesView,
)
from dataclasses import dataclass, replace
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
        """Pickled as columns (names, one string of digests, one array per number): a site of
        50,000 files reads back in a tenth of the time, and every build after the first
        starts by reading this record (and every edit writes it again)."""
        columns = _columns_of(self.files)
        if columns is None:
            return (TreeRecord, (self.device, self.inode, dict(self.files), dict(self.folders)))
        paths, digests, sizes, mtimes, inodes = columns
        return (
            _tree_from_columns,
            (
                self.device,
                self.inode,
                paths,
                digests,
                sizes.tobytes(),
                mtimes.tobytes(),
                inodes.tobytes(),
                tuple(self.folders),
                array("q", self.folders.values()).tobytes(),
            ),
        )


# A record's files as columns: paths, their digests joined, sizes, times and inodes.
_Columns = tuple[tuple[str, ...], bytes, "array[int]", "array[int]", "array[int]"]


def _columns_of(files: Mapping[str, FileRecord]) -> _Columns | None:
    """`files` as columns (None when a digest is not of the usual size): a record read back
    already is."""
    if isinstance(files, _ColumnFiles):
        return files.columns()
    if not files:
        return (), b"", array("q"), array("q"), array("q")
    digests, sizes, mtimes, inodes = zip(*files.values(), strict=True)
    if any(len(d) != DIGEST_SIZE for d in digests):
        return None
    return (
        tuple(files),
        b"".join(digests),
        array("q", sizes),
        array("q", mtimes),
        array("q", inodes),
    )


def _numbers(data: bytes) -> array[int]:
    values = array("q")
    values.frombytes(data)
    return values


def _tree_from_columns(
    device: int,
    inode: int,
    paths: tuple[str, ...],
    digests: bytes,
    sizes: bytes,
    mtimes: bytes,
    inodes: bytes,
    folders: tuple[str, ...],
    times: bytes,
) -> TreeRecord:
    files = _ColumnFiles((paths, digests, _numbers(sizes), _numbers(mtimes), _numbers(inodes)))
    return TreeRecord(device, inode, files, dict(zip(folders, _numbers(times), strict=True)))


class _ColumnFiles(Mapping[str, FileRecord]):
    """A tree record's files as read back: made into records only when first asked for one
    (a build with nothing to do checks the live site straight from the columns, and never
    decodes the previous site's record at all). Never changed, so the columns stay valid
    and are pickled again as they are."""

    def __init__(self, columns: _Columns) -> None:
        self._columns = columns
        self._files: dict[str, FileRecord] | None = None
        self._places: dict[str, int] | None = None  # path -> its row (`index`)

    def columns(self) -> _Columns:
        return self._columns

    def _made(self) -> dict[str, FileRecord]:
        if self._files is None:
            paths, digests, sizes, mtimes, inodes = self._columns
            cut = range(0, len(digests), DIGEST_SIZE)
            records = zip(
                [digests[i : i + DIGEST_SIZE] for i in cut], sizes, mtimes, inodes, strict=True
            )
            self._files = dict(zip(paths, map(FileRecord._make, records), strict=True))
        return self._files

    def index(self) -> None:
        """Make the lookup of a path's row now (see `ready_for_lookups`)."""
        if self._places is None:
            self._places = dict(zip(self._columns[0], range(len(self._columns[0])), strict=True))

    def row(self, at: int) -> FileRecord:
        """The record of the file in row `at`."""
        _, digests, sizes, mtimes, inodes = self._columns
        cut = at * DIGEST_SIZE
        return FileRecord(digests[cut : cut + DIGEST_SIZE], sizes[at], mtimes[at], inodes[at])

    def _place(self, path: str) -> int | None:
        self.index()
        assert self._places is not None
        return self._places.get(path)

    def __getitem__(self, path: str) -> FileRecord:
        if self._files is not None:
            return self._files[path]
        at = self._place(path)
        if at is None:
            raise KeyError(path)
        return self.row(at)

    def __iter__(self) -> Iterator[str]:
        return iter(self._columns[0])

    def __len__(self) -> int:
        return len(self._columns[0])

    # The dict's own views and lookups: Mapping's defaults go through __getitem__ for every
    # file (three calls each), and an edit at 10,000 studies walks the 50,000 records several
    # times while Pagefind runs beside it.
    def items(self) -> ItemsView[str, FileRecord]:
        return self._made().items()

    def values(self) -> ValuesView[FileRecord]:
        return self._made().values()

    # Looked up one path at a time (a render worker asks whether each of its pages is intact,
    # and for the digest and size of those it renders again) without making every record:
    # made in each worker, they were about 20 MB a worker at 10,000 studies.
    def get(self, path: str, default: Any = None) -> Any:
        if self._files is not None:
            return self._files.get(path, default)
        at = self._place(path)
        return default if at is None else self.row(at)

    def __contains__(self, path: object) -> bool:
        if self._files is not None:
            return path in self._files
        return isinstance(path, str) and self._place(path) is not None


@dataclass(frozen=True)
class TreeCheck:
    # Files exactly as recorded: the record's own mapping when all of them are (not copied).
    intact: Mapping[str, FileRecord]
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
    """The folder holding `path` (a tree's relative path, as records keep them: no leading,
    trailing or doubled '/'). Not posixpath.dirname, which does more than such paths need:
    a fast edit at 10,000 studies asks for 80,000 parents."""
    cut = path.rfind("/")
    return path[:cut] if cut > 0 else ROOT


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


def tree_record(
    folder: Path,
    files: Mapping[str, FileRecord],
    known: Mapping[str, int] | None = None,
    touched: Iterable[str] = (),
    folders: set[str] | None = None,
) -> TreeRecord:
    """Record `folder` as holding exactly `files` (taken after the last write into it; kept
    as they are if they are columns, `joined_files`, else copied).

    `known`: the folders' times as checked before the writes (check_tree found them all as
    recorded), when only the `touched` folders may have changed since: only those are read
    again. A folder's time changes only when an entry in it is added, removed or renamed.
    `folders`: `folders_of(files)`, when it was worked out already.
    """
    status = os.stat(folder)
    base = str(folder)
    if folders is None:
        folders = folders_of(files)
    if known is not None and folders == known.keys():
        times = dict(known)
        again: Iterable[str] = {t for t in touched if t in times}
    else:
        times = {}
        again = folders
    for relative in again:
        times[relative] = os.stat(f"{base}/{relative}").st_mtime_ns
    kept = files if isinstance(files, _ColumnFiles) else dict(files)
    return TreeRecord(status.st_dev, status.st_ino, kept, times)


@dataclass(frozen=True)
class FilesPart:
    """Files of a record made in two parts (`part_of`, `joined_files`): a fast edit works out
    the site's own files while Pagefind works, and after it only the search index's."""

    count: int  # how many files
    columns: _Columns | None  # `_columns_of` them
    folders: set[str]  # `folders_of` them


def part_of(files: Mapping[str, FileRecord]) -> FilesPart:
    return FilesPart(len(files), _columns_of(files), folders_of(files))


def joined_files(
    first: FilesPart, files: Mapping[str, FileRecord]
) -> tuple[Mapping[str, FileRecord], set[str], dict[str, FileRecord]]:
    """All of `files`, whose first `first.count` entries are the `first` part, as columns
    (when both parts have them), their folders (the rest's worked out now, not the first
    part's again), and the rest."""
    rest = dict(itertools.islice(files.items(), first.count, None))
    folders = first.folders | folders_of(rest)
    more = _columns_of(rest)
    if first.columns is None or more is None:
        return files, folders, rest
    paths, digests, sizes, mtimes, inodes = first.columns
    joined: _Columns = (
        paths + more[0],
        digests + more[1],
        sizes + more[2],
        mtimes + more[3],
        inodes + more[4],
    )
    return _ColumnFiles(joined), folders, rest


def check_tree(
    folder: Path, record: TreeRecord | None, *, files: bool = True, folders: bool = True
) -> TreeCheck:
    """Which recorded files are still intact, and which folders changed since the record.

    With `files=False` only the folders are checked (a spare tree whose files are the live
    tree's own, hard-linked, is checked through the live tree); with `folders=False` only
    the files, and no folder is said to have changed (a fast edit makes the new site in the
    spare folder, so a file added to the live one cannot reach it; the spare folder's own
    check finds it when the live folder is the spare one, after the edit).
    """
    return check_from(record, tree_changes(folder, record, files=files, folders=folders))


@dataclass(frozen=True)
class TreeChanges:
    """What `tree_changes` found: small, so that a forked child can send it (forked.Ahead)."""

    broken: frozenset[str]  # recorded files not as recorded (changed, replaced or gone)
    changed_folders: frozenset[str]  # folders whose entries may differ from the record


def tree_changes(
    folder: Path, record: TreeRecord | None, *, files: bool = True, folders: bool = True
) -> TreeChanges | None:
    """The recorded files and folders of `folder` that are not as `record` has them (None:
    the record is of another folder, or there is none); `check_from` makes the check."""
    if record is None or folder_identity(folder) != (record.device, record.inode):
        return None
    base = str(folder)
    stat = os.stat
    changed: set[str] = set()
    for relative, mtime_ns in record.folders.items() if folders else ():
        try:
            if stat(f"{base}/{relative}").st_mtime_ns != mtime_ns:
                changed.add(relative)
        except OSError:
            changed.add(relative)
    if not files:
        return TreeChanges(frozenset(), frozenset(changed))
    # Straight from the columns (when the record was read back): 50,000 files are checked
    # without making a record object for each.
    columns = _columns_of(record.files)
    if columns is None:
        paths: Iterable[str] = record.files
        numbers: Iterable[tuple[int, int, int]] = (
            (r.size, r.mtime_ns, r.inode) for r in record.files.values()
        )
    else:
        paths, numbers = columns[0], zip(columns[2], columns[3], columns[4], strict=True)
    broken = set()
    for relative, (size, mtime_ns, inode) in zip(paths, numbers, strict=True):
        try:
            status = stat(f"{base}/{relative}")
        except OSError:
            broken.add(relative)
            continue
        if status.st_ino != inode or status.st_mtime_ns != mtime_ns or status.st_size != size:
            broken.add(relative)
    return TreeChanges(frozenset(broken), frozenset(changed))


def check_from(record: TreeRecord | None, changes: TreeChanges | None) -> TreeCheck:
    """The `check_tree` of a folder whose `tree_changes` against `record` are `changes`."""
    if record is None or changes is None:
        return UNKNOWN
    if not changes.broken:
        return TreeCheck(record.files, changes.changed_folders)
    broken = changes.broken
    intact = {path: r for path, r in record.files.items() if path not in broken}
    return TreeCheck(intact, changes.changed_folders)


def as_dict(files: Mapping[str, FileRecord]) -> Mapping[str, FileRecord]:
    """`files`, looked up as a dict (a record read back makes its records first): a fast edit
    looks up 70,000 paths in the live site's record, each through a method otherwise."""
    return files._made() if isinstance(files, _ColumnFiles) else files


def files_not_in(record: TreeRecord, inodes: set[int]) -> list[str]:
    """The paths of the record's files whose inode is not among `inodes` (from its columns
    when it was read back: a fast edit picks the few files of the spare folder that are not
    the live folder's own from 60,000, beside Pagefind)."""
    columns = _columns_of(record.files)
    if columns is None:
        return [path for path, r in record.files.items() if r.inode not in inodes]
    paths, found = columns[0], columns[4]
    return [paths[at] for at, inode in enumerate(found) if inode not in inodes]


def inodes_of(record: TreeRecord) -> set[int]:
    """The inode of every file of a record (from its columns when it was read back)."""
    if isinstance(record.files, _ColumnFiles):
        return set(record.files.columns()[4])
    return {r.inode for r in record.files.values()}


def sharing_names(record: TreeRecord, names: dict[str, str]) -> TreeRecord:
    """`record` naming its files and folders with the strings in `names` (each name not there
    yet is added): records pickled together then hold each name once, and read back as one
    string (a build's live and spare folders and its page list name the same 60,000 files:
    about 10 MB less for every build that reads them, at 10,000 studies)."""
    folders = {names.setdefault(name, name): time for name, time in record.folders.items()}
    if isinstance(record.files, _ColumnFiles):
        paths, *rest = record.files.columns()
        shared = tuple(names.setdefault(path, path) for path in paths)
        files: Mapping[str, FileRecord] = _ColumnFiles((shared, *rest))  # type: ignore[arg-type]
    else:
        files = {names.setdefault(path, path): found for path, found in record.files.items()}
    return replace(record, files=files, folders=folders)


def ready_for_lookups(files: Mapping[str, FileRecord]) -> None:
    """Make a record's lookup of paths now, in the build's own process, when it was read back as
    columns: render workers forked afterwards share it instead of each making their own."""
    if isinstance(files, _ColumnFiles):
        files.index()


def digests_at(
    files: Mapping[str, FileRecord], select: Callable[[Sequence[str]], Iterable[int]]
) -> dict[str, bytes]:
    """The digests of the files at the positions `select` picks among the paths of `files`
    (in their order), taken straight from a record's columns when it was read back: no record
    is made for the others, nor for these (see `records_of`)."""
    if isinstance(files, _ColumnFiles):
        paths, digests = files.columns()[:2]
        return {
            paths[at]: digests[at * DIGEST_SIZE : (at + 1) * DIGEST_SIZE] for at in select(paths)
        }
    listed = tuple(files)
    return {listed[at]: files[listed[at]].digest for at in select(listed)}


def records_of(
    files: Mapping[str, FileRecord], select: Callable[[Sequence[str]], Iterable[int]]
) -> dict[str, FileRecord]:
    """The records of the files at the positions `select` picks among the paths of `files`
    (in their order), made from a record's columns when it was read back, so that the others
    are never decoded (the search index of an edit needs a third of the live site's records,
    while Pagefind runs beside it)."""
    if isinstance(files, _ColumnFiles):
        paths = files.columns()[0]
        return {paths[at]: files.row(at) for at in select(paths)}
    listed = tuple(files)
    return {listed[at]: files[listed[at]] for at in select(listed)}
