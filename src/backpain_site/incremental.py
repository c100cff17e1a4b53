"""Builds after the first: what the last build left behind, and whether anything needs doing.

Input: the project folder, the build's options and the cache folder
(`.cache/backpain_site/` in the project). Output: a `BuildCache` that the build hands to its
stages (the memo of parsed files, formatted references and converted bodies; the page memo) and
to the writer (the records of the output folders), and which answers first of all: are the
inputs, the code, the options and the output folder exactly as the last build left them? Then
the last build's result is the answer, and nothing is read, rendered or written.

Inputs are the files under content/, templates/ and static/. A file counts as unchanged when its
size, modification time and inode are as recorded, or else when its bytes hash the same; a file
modified within two seconds of the record is always hashed (a second save within the clock's
granularity keeps the same time: git's "racy" case). The record itself is written only after a
successful build, with the cache's code version and checksum, so a stale or damaged record
simply means the next build does the work.
"""

from __future__ import annotations

import functools
import os
import stat
import time
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from .cache import CACHE_FOLDER, CacheFolder, Memo, code_version, digest
from .forked import Ahead
from .output_tree import (
    TreeChanges,
    TreeCheck,
    TreeRecord,
    check_from,
    check_tree,
    file_digest,
    ready_for_lookups,
    sharing_names,
    tree_changes,
)
from .problems import Problem
from .search_index import index_files_among
from .writer import (
    PendingFile,
    SpillFolder,
    StagedSite,
    Updated,
    machine_secret,
    mapped_file,
    rename_file,
    replace_file,
    replace_file_in_parts,
    spare_folder,
    start_search_index,
    untrusted_in_spare,
    update_site,
)

if TYPE_CHECKING:
    # Imported where used: a build that finds nothing changed needs none of these modules.
    from .content import Site
    from .edit_snapshot import EditSnapshot
    from .page_memo import Fingerprint, Fingerprints, PageMemo
    from .readability import GradeTable

INPUT_FOLDERS = ("content", "templates", "static")
RACY_NS = 2_000_000_000
HASHED_BYTES = 64_000_000  # bigger inputs are known by size, time and inode alone
RECORD = "build"
# The record's two folder trees, each in a file of its own (see `_RecordHead`).
LIVE, SPARE = "live", "spare"
SNAPSHOT = "edit"
_SNAPSHOT_ID = "id"


@dataclass(frozen=True)
class InputRecord:
    size: int
    mtime_ns: int
    inode: int
    digest: bytes


@dataclass(frozen=True)
class Options:
    """Everything besides the inputs and the code that changes what a build produces."""

    out_dir: str
    strict: bool
    drafts: bool
    today: str  # review dates are checked against it
    search_index: bool


@dataclass(frozen=True)
class Summary:
    """What the last build reported, given again when nothing changed."""

    problems: tuple[Problem, ...]
    # Kept as columns (readability.GradeTable): every build after the first reads the record
    # and a fast edit writes it again, replacing one page's grade.
    reading_grades: GradeTable
    site: Site | None  # settings and drafts only: what the report needs, not the whole site
    paths: tuple[str, ...]  # every file of the site (not the search index)


@dataclass(frozen=True)
class BuildRecord:
    options: Options
    inputs: Mapping[str, InputRecord]
    recorded_ns: int
    pages: Mapping[str, Fingerprint]  # page fingerprints (page_memo.py)
    live: TreeRecord
    spare: TreeRecord | None
    # None once a whole build has begun (`read_memo`): it reports what it finds itself.
    summary: Summary | None
    snapshot: bytes = b""  # names the fast edit path's snapshot made with this record


@dataclass(frozen=True)
class _RecordHead:
    """A `BuildRecord` as `build.record` holds it: without its two folder trees, which are
    in files of their own (`live.record`, `spare.record`), named here by the ids they hold.

    Why apart: a fast edit writes the record again while the editor waits (about 18 MB at
    10,000 studies). Split, it writes this part while Pagefind works (the build has nothing
    else to do then), and after Pagefind only the new live tree: the new spare tree is the
    last live one, whose file is renamed, not written again. A record whose files do not
    all name each other (a build killed between two of them) is no record: the next build
    does the whole work."""

    record: BuildRecord  # its trees left out (`_NO_TREE`, None)
    live: bytes  # the id in `live.record`
    spare: bytes  # the id in `spare.record` (b"": no spare tree)


_NO_TREE = TreeRecord(0, 0, {}, {})  # stands for a tree kept in a file of its own


@dataclass(frozen=True)
class _TreeFile:
    id: bytes
    tree: TreeRecord
    folder: str  # the output folder it is a record of (absolute): see `_checked_ahead`


@dataclass(frozen=True)
class _LiveChecked:
    """The live folder's files as a child checked them (`_checked_ahead`)."""

    live_id: bytes  # of the live tree file it read
    folder: str
    changes: TreeChanges | None  # tree_changes(folder, live tree, folders=False)


@dataclass(frozen=True)
class _SpareChecked:
    spare_id: bytes  # of the spare tree file it read
    untrusted: frozenset[str] | None  # untrusted_in_spare


def _checked_ahead(disk: CacheFolder) -> Iterator[_LiveChecked | _SpareChecked]:
    """In a child forked as a build begins (`BuildCache.for_project`): the live folder's
    files checked against the record's live tree, then the spare folder against the spare
    tree, each read again from its own file.

    A fast edit's process uses one core until Pagefind starts, and then checked the site's
    60,000 files on the cores Pagefind works on (about 0.25 s of CPU at 10,000 studies, which
    slowed Pagefind). The parent takes these for the trees it read itself, by their ids."""
    live = disk.read_record(LIVE)
    if not isinstance(live, _TreeFile) or not live.folder:
        return
    folder = Path(live.folder)
    changes = tree_changes(folder, live.tree, folders=False)
    yield _LiveChecked(live.id, live.folder, changes)
    spare = disk.read_record(SPARE)
    if isinstance(spare, _TreeFile) and changes is not None:
        broken = changes.broken
        untrusted = untrusted_in_spare(spare_folder(folder), spare.tree, live.tree, broken)
        yield _SpareChecked(spare.id, untrusted)


def _read_record(disk: CacheFolder) -> tuple[BuildRecord | None, bytes, bytes]:
    """The last build's record from its head and live tree files, or None (absent, damaged or
    unmatched), with the ids of its live and spare tree files. The spare tree is left for
    `BuildCache.spare_tree` to read when it is needed: a fast edit needs it only once Pagefind
    has started (about 20 ms less before it at 10,000 studies)."""
    head = disk.read_record(RECORD)
    if not isinstance(head, _RecordHead):
        return None, b"", b""
    live = disk.read_record(LIVE)
    if not isinstance(live, _TreeFile) or live.id != head.live:
        return None, b"", b""
    return replace(head.record, live=live.tree), live.id, head.spare


def _head_of(record: BuildRecord, live: bytes, spare: bytes) -> _RecordHead:
    return _RecordHead(replace(record, live=_NO_TREE, spare=None), live, spare)


def _input_files(folder: str, relative: str, into: list[tuple[str, str]]) -> None:
    """(path, project-relative path) of every file under `folder`, as `os.walk` lists them
    (sorted; symlinked folders not followed), with plain strings: at 10,000 studies this walk
    starts every build, so it is kept to one `scandir` a folder."""
    try:
        entries = sorted(os.scandir(folder), key=lambda entry: entry.name)
    except OSError:
        return
    folders = []
    for entry in entries:
        try:
            is_folder = entry.is_dir()
        except OSError:
            is_folder = False
        if is_folder:
            if not entry.is_symlink():
                folders.append(entry)
            continue
        into.append((entry.path, f"{relative}/{entry.name}"))
    for entry in folders:
        _input_files(entry.path, f"{relative}/{entry.name}", into)


def scan_inputs(
    root: Path,
    previous: Mapping[str, InputRecord] | None,
    recorded_ns: int = 0,
    listed: Mapping[str, tuple[int, int, int]] | None = None,
) -> dict[str, InputRecord]:
    """Every input file with its size, time, inode and digest; unchanged ones are not read.

    `listed`: the files (project-relative path -> modification time, size, inode) as the live
    preview has just listed them (preview.Fingerprints.stats), instead of listing them again.
    """
    found: dict[str, InputRecord] = {}
    files: list[tuple[str, str]] = []
    if listed is None:
        for folder in INPUT_FOLDERS:
            _input_files(os.path.join(root, folder), folder, files)
    else:
        files = [(os.path.join(root, relative), relative) for relative in listed]
    for path, relative in files:
        if listed is not None:
            mtime_ns, size, inode = listed[relative]
        else:
            try:
                status = os.stat(path)
            except OSError:
                continue
            if not stat.S_ISREG(status.st_mode):
                continue  # a pipe or device would hang or never end; load reports it
            mtime_ns, size, inode = status.st_mtime_ns, status.st_size, status.st_ino
        before = previous.get(relative) if previous else None
        if (
            before is not None
            and (before.size, before.mtime_ns, before.inode) == (size, mtime_ns, inode)
            and mtime_ns < recorded_ns - RACY_NS
        ):
            found[relative] = before
            continue
        if listed is not None:
            try:
                if not stat.S_ISREG(os.stat(path).st_mode):
                    continue  # listed by the preview, which does not tell pipes from files
            except OSError:
                continue
        if size > HASHED_BYTES:  # refused by load anyway; never read whole
            identity = f"{size} {mtime_ns} {inode}"
            found[relative] = InputRecord(size, mtime_ns, inode, identity.encode())
            continue
        try:
            data = Path(path).read_bytes()
        except OSError:
            continue
        found[relative] = InputRecord(size, mtime_ns, inode, file_digest(data))
    return found


def _same_inputs(now: Mapping[str, InputRecord], before: Mapping[str, InputRecord]) -> bool:
    return now.keys() == before.keys() and all(
        now[name].digest == before[name].digest for name in now
    )


@dataclass
class BuildCache:
    """The cache of one project: the memo, and the record of the last successful build.

    Made by `for_project` (kept in the project's cache folder between runs) or `in_memory` (the live
    preview, which builds many times in one process and must never write into the project).
    """

    root: Path
    disk: CacheFolder | None
    record: BuildRecord | None = None
    memo: Memo = field(default_factory=Memo)
    discarded: tuple[str, ...] = ()  # cache files found damaged or stale, and ignored
    _inputs: dict[str, InputRecord] = field(default_factory=dict)
    _started_ns: int = 0
    _live: TreeCheck | None = None
    # In memory only (the live preview, which writes its own folder): the inputs and page
    # fingerprints of the last clean build, whose files the preview still holds.
    _served: tuple[dict[str, InputRecord], int, dict[str, Fingerprint]] | None = None
    _values: Fingerprints | None = None  # digests made by the last clean build, for the next
    # The live preview's snapshot for the fast edit path (edit_path.py), kept in memory, and
    # what its last clean build reported.
    _snapshot: dict[str, Any] | None = None
    _summary: Summary | None = None
    _memo_read: bool = False
    _live_id: bytes = b""  # the id in the record's live tree file (see `_RecordHead`)
    _replaced: BuildRecord | None = None  # the record a fast edit replaced (`write_edit`)
    _spare_id: bytes = b""  # the id of the record's spare tree file, until it is read
    _spare_read: bytes = b""  # the id of the spare tree file read (`spare_tree`)
    # The output folder's checks, begun in a child before the record is read
    # (`_checked_ahead`), for a fast edit; `end_checks` drops them.
    _checks: Ahead[_LiveChecked | _SpareChecked] | None = None
    # The live preview's own listing of the inputs, made just before it asks for a build.
    listed: Mapping[str, tuple[int, int, int]] | None = None
    # The fast edit path's Jinja environment, kept while the templates stay the same (the live
    # preview: compiling the templates again would take most of a fast edit's time).
    _environment: tuple[object, Any] | None = None

    @classmethod
    def for_project(cls, root: Path, folder: Path | None = None) -> BuildCache:
        root = root.resolve()
        disk = CacheFolder(
            folder if folder is not None else root / CACHE_FOLDER, code_version(), machine_secret()
        )
        # Forked before the record is read: see Ahead.
        checks = Ahead(functools.partial(_checked_ahead, disk))
        record, live_id, spare_id = _read_record(disk)
        found = cls(root, disk, record, _live_id=live_id, _spare_id=spare_id, _checks=checks)
        if record is None:
            found.end_checks()
        return found

    @classmethod
    def in_memory(cls, root: Path) -> BuildCache:
        return cls(root.resolve(), None)

    def spare_tree(self) -> TreeRecord | None:
        """The record's spare tree, read from its file when first asked for; None when there
        is none, or its file is not the record's (the writer then compares the spare folder's
        files themselves, as for a folder it has no record of)."""
        record = self.record
        if record is None:
            return None
        if record.spare is None and self._spare_id and self.disk is not None:
            found = self.disk.read_record(SPARE)
            if isinstance(found, _TreeFile) and found.id == self._spare_id:
                self._spare_read = found.id
                self.record = record = replace(record, spare=found.tree)
        self._spare_id = b""
        return record.spare

    def _live_files_check(self, out_dir: Path) -> TreeCheck:
        """`check_tree(out_dir, live tree, folders=False)`: as the child forked ahead found
        it when it checked this live tree in this folder, else made now."""
        record = self.record
        live = record.live if record is not None else None
        if self._checks is not None:
            found = self._checks.take()
            if (
                found is not None
                and isinstance(checked := found[0], _LiveChecked)
                and checked.live_id == self._live_id
                and checked.folder == str(out_dir.absolute())
            ):
                return check_from(live, checked.changes)
            self.end_checks()
        return check_tree(out_dir, live, folders=False)

    def _spare_checked(self) -> tuple[frozenset[str] | None] | None:
        """For update_site (`spare_checked`), once `_live_files_check` took the live folder's
        and `spare_tree` read the spare tree: the child's `untrusted_in_spare` of the spare
        folder when it checked that very tree file, else None (update_site checks it)."""
        if self._checks is None:
            return None
        found = self._checks.take()
        self.end_checks()
        if (
            found is not None
            and isinstance(checked := found[0], _SpareChecked)
            and checked.spare_id
            and checked.spare_id == self._spare_read
        ):
            return (checked.untrusted,)
        return None

    def end_checks(self) -> None:
        """Stop the checks begun ahead, if not used (by a whole build, which checks the
        folders when it needs them, or by a build with nothing to do, which checks them with
        their folders)."""
        if self._checks is not None:
            self._checks.discard()
            self._checks = None

    def begin(self, options: Options) -> Summary | None:
        """Note the inputs; return the last result if nothing at all changed since, else read
        the remembered results for the build to use."""
        self._started_ns = time.time_ns()
        record = self.record
        if record is not None:
            previous, recorded_ns = record.inputs, record.recorded_ns
        elif self._served is not None:
            previous, recorded_ns, _ = self._served
        else:
            previous, recorded_ns = None, 0
        self._inputs = scan_inputs(self.root, previous, recorded_ns, self.listed)
        if (
            record is not None
            and record.summary is not None
            and options.out_dir  # a check (no output folder) always does its work
            and record.options == options
            and _same_inputs(self._inputs, record.inputs)
        ):
            check = check_tree(Path(options.out_dir), record.live)
            if check.exact and len(check.intact) == len(record.live.files):
                return record.summary
        return None

    def read_memo(self) -> Memo:
        """The remembered results, read from the cache folder the first time a build needs
        them (not before: a fast edit, edit_path.py, needs none of them)."""
        if self.disk is not None and not self.memo.used() and not self._memo_read:
            self.memo = self.disk.load()
            self.discarded = tuple(self.disk.discarded)
            self._memo_read = True
            if self.record is not None:
                # A whole build reports what it finds itself: the last build's summary (its
                # grades, about 8 MB at 10,000 studies) would only be held to the end.
                self.record = replace(self.record, summary=None)
        return self.memo

    def expected_pages(self) -> int | None:
        """How many pages the last build rendered or kept: the likely total of this one."""
        return len(self.record.pages) if self.record is not None else None

    def page_memo(self, out_dir: Path | None, progress: Callable[[], None] | None) -> PageMemo:
        """Decides which pages to keep: only those intact in the output folder as recorded."""
        from .page_memo import Fingerprints, PageMemo

        templates = sorted(
            (name, r.digest) for name, r in self._inputs.items() if name.startswith("templates")
        )
        global_key = digest(code_version(), templates)
        record = self.record
        if out_dir is None and self.disk is None and self._served is not None:
            # The live preview keeps every page of its last clean build (see `served`).
            fingerprints = self._served[2]
            values = Fingerprints(self._values)
            return PageMemo(global_key, fingerprints, fingerprints.keys(), progress, values)
        if out_dir is None or record is None or record.options.out_dir != str(out_dir.absolute()):
            self._live = None
            return PageMemo(global_key, {}, frozenset(), progress)
        self._live = check_tree(out_dir, record.live)
        intact = self._live.intact
        ready_for_lookups(intact)  # before render forks its workers: they share it
        return PageMemo(global_key, record.pages, intact.keys(), progress, live=intact)

    def write(
        self,
        outputs: Mapping[PurePosixPath, bytes],
        pages: PageMemo,
        out_dir: Path,
        *,
        search_index: bool,
        # Files render already wrote: into the new site folder (a cold build) or into a spill
        # folder beside the live one (any other whole build).
        staged: StagedSite | SpillFolder | None = None,
    ) -> Updated:
        record, live = self.record, self._live
        usable = (
            record is not None
            and live is not None
            and record.options.out_dir == str(out_dir.absolute())
        )
        kept = {str(p): live.intact[str(p)] for p in pages.kept} if live is not None else {}
        return update_site(
            outputs,
            kept,
            out_dir,
            record.live if usable and record is not None else None,
            self.spare_tree() if usable else None,
            intact=live.intact if live is not None else None,
            search_index=search_index,
            staged=staged,
        )

    def finish(
        self,
        options: Options,
        pages: PageMemo | None,
        updated: Updated | None,
        summary: Summary,
        snapshot: dict[str, Any] | None = None,
    ) -> None:
        """Remember this build: the memo always, the record (and the fast edit path's
        `snapshot`, edit_snapshot.take) after a successful write."""
        snapshot_id = os.urandom(16) if snapshot is not None else b""
        if updated is not None and pages is not None:
            # One string per path for the whole record (`sharing_names`); the fast edits that
            # follow keep the strings they read back, so they stay shared.
            names: dict[str, str] = {}
            live = sharing_names(updated.live, names)
            spare = sharing_names(updated.spare, names) if updated.spare is not None else None
            self.record = BuildRecord(
                options,
                self._inputs,
                self._started_ns,
                {names.setdefault(path, path): f for path, f in pages.fingerprints.items()},
                live,
                spare,
                replace(summary, paths=tuple(names.setdefault(p, p) for p in summary.paths)),
                snapshot_id,
            )
            del names
        if self.disk is not None:
            for path, data in self.disk.files_to_write(self.memo):
                replace_file(path, data)
            if updated is not None and self.record is not None:
                if snapshot is not None:
                    entries = {**snapshot, _SNAPSHOT_ID: snapshot_id}
                    replace_file_in_parts(*self.disk.pack_file(SNAPSHOT, entries))
                self._write_record(self.disk, self.record)
        # The next build in this process (the live preview) starts from what this one used.
        self.memo = self.memo.next_build()
        if self.disk is not None:
            self.disk = CacheFolder(self.disk.folder, self.disk.version, self.disk.secret)
            self._memo_read = False  # the next build reads what this one saved

    def _write_record(self, disk: CacheFolder, record: BuildRecord) -> None:
        """Write the record's three files (`_RecordHead`), each with a new id."""
        live, spare = os.urandom(16), os.urandom(16)
        self._live_id, self._spare_id = live, b""  # `record` holds its spare tree
        folder = record.options.out_dir
        replace_file_in_parts(*disk.record_parts(LIVE, _TreeFile(live, record.live, folder)))
        if record.spare is not None:
            tree = _TreeFile(spare, record.spare, folder)
            replace_file_in_parts(*disk.record_parts(SPARE, tree))
        head = _head_of(record, live, spare if record.spare is not None else b"")
        replace_file_in_parts(*disk.record_parts(RECORD, head))

    def save_early(self, *namespaces: str) -> bool:
        """Save namespaces of the memo now, when the build is done with them, and let them go
        (Memo.forget); False (and nothing done) without a cache folder: the live preview keeps
        its memo for the next build, and a check saves nothing. Saved one shard at a time, so
        the build holds no more than one shard's bytes beside what it already holds."""
        if self.disk is None:
            return False
        for namespace in namespaces:
            for path, data in self.disk.files_of(self.memo, namespace):
                replace_file(path, data)
            self.memo.forget(namespace)
        return True

    def settle_inputs(self) -> int:
        """The live preview, between builds: make the served inputs that are only "racy" (see
        the module docstring: modified within RACY_NS of the last build's start, so hashed
        again by every build until the next record) trusted by their times again, once they
        are older than that. Each is checked now, by its time and its bytes; if any differs,
        nothing changes (the save that changed it brings its own build). Returns how many
        were checked: at 10,000 studies copied just before the preview started, every input
        was racy, and the first save's build hashed all 10,000 again (0.24 s of its 0.3 s)."""
        if self._served is None:
            return 0
        inputs, recorded_ns, fingerprints = self._served
        # Taken before any file is looked at: a file changed after this is racy by this time.
        now_ns = time.time_ns()
        racy = [
            (name, record)
            for name, record in inputs.items()
            if record.mtime_ns >= recorded_ns - RACY_NS and record.mtime_ns < now_ns - RACY_NS
        ]
        if not racy:
            return 0
        for name, record in racy:
            path = os.path.join(self.root, name)
            try:
                status = os.stat(path)
                same_stat = (status.st_size, status.st_mtime_ns, status.st_ino) == (
                    record.size,
                    record.mtime_ns,
                    record.inode,
                )
                if not same_stat or record.size > HASHED_BYTES:
                    return len(racy)  # changed, or never hashed: left to the next build
                if file_digest(Path(path).read_bytes()) != record.digest:
                    return len(racy)
            except OSError:
                return len(racy)
        # Files modified since `now_ns - RACY_NS` stay racy under the new time, as they should.
        self._served = (inputs, now_ns, fingerprints)
        return len(racy)

    def served(
        self, pages: PageMemo, summary: Summary, snapshot: dict[str, Any] | None = None
    ) -> None:
        """The live preview's build went clean and it now serves every page of it: the next
        build keeps (does not render) the pages whose fingerprint is the same, and the preview
        takes them from what it holds. Only for an in-memory cache (`in_memory`)."""
        if self.disk is not None:
            raise ValueError("only the live preview's in-memory cache serves its own pages")
        self._served = (self._inputs, self._started_ns, dict(pages.fingerprints))
        self._values = pages.values
        self._snapshot = snapshot
        self._summary = summary
        # Entries this build did not use fall away, as when a build's memo is saved.
        self.memo = self.memo.next_build()

    # --- the fast edit path (edit_path.py) ----------------------------------------------------

    def edit_snapshot(self, options: Options) -> EditSnapshot | None:
        """The last clean build's snapshot, if it was made with these options and belongs to
        the record (or the preview's last build); None otherwise."""
        from .edit_snapshot import EditSnapshot

        if self.disk is None:
            if self._served is None or self._snapshot is None:
                return None
            snapshot = EditSnapshot(self._snapshot)
        else:
            record = self.record
            if record is None or not record.snapshot or record.options != options:
                return None
            mapped = mapped_file(self.disk.pack_path(SNAPSHOT))
            reader = self.disk.pack_reader(mapped) if mapped is not None else None
            if reader is None or reader.get(_SNAPSHOT_ID) != record.snapshot:
                return None
            snapshot = EditSnapshot(reader)
        base = snapshot.base()
        return snapshot if base is not None and base.options == options else None

    def environment(self, templates_dir: str, make: Callable[[str], Any]) -> Any:
        """`make(templates_dir)`, or the one made before for these very template files."""
        templates = sorted(n for n in self._inputs if n.startswith("templates/"))
        key = (templates_dir, tuple((n, self._inputs[n].digest) for n in templates))
        if self._environment is None or self._environment[0] != key:
            self._environment = (key, make(templates_dir))
        return self._environment[1]

    def last_summary(self) -> Summary | None:
        """What the last clean build (the record's, or the preview's) reported."""
        if self.disk is None:
            return self._summary if self._served is not None else None
        return self.record.summary if self.record is not None else None

    def changed_inputs(self) -> list[str] | None:
        """Inputs whose bytes differ from the last build's (added and removed ones too), or
        None when there is no last build to compare with."""
        if self.record is not None:
            before: Mapping[str, InputRecord] = self.record.inputs
        elif self._served is not None:
            before = self._served[0]
        else:
            return None
        now = self._inputs
        return sorted(
            name
            for name in now.keys() | before.keys()
            if name not in now or name not in before or now[name].digest != before[name].digest
        )

    def write_edit(
        self,
        outputs: Mapping[PurePosixPath, bytes],
        out_dir: Path,
        summary: Summary,
    ) -> Updated | None:
        """Write the pages of a fast edit beside every other file of the live site, which must
        be exactly as recorded (None otherwise: the whole build then does the work), and
        remember the edit (`finish_edit`), with `summary` its build's."""
        record = self.record
        disk = self.disk
        if record is None or disk is None or record.options.out_dir != str(out_dir.absolute()):
            return None
        head: PendingFile | None = None
        live_id = os.urandom(16)
        edited = replace(
            record,
            inputs=self._inputs,
            recorded_ns=self._started_ns,
            pages=_without(record.pages, {str(path) for path in outputs}),
            summary=summary,
        )

        def write_head() -> None:
            # While Pagefind works: all of the record but the new live tree, which is the
            # folder being made; its spare tree is the live one as recorded (see below).
            nonlocal head
            new_head = _head_of(edited, live_id, self._live_id)
            head = PendingFile(*disk.record_file(RECORD, new_head))

        # Pagefind starts on the edited pages' shard now, and runs while the folder is checked
        # and the pages written (on a quiet machine about 0.2 s sooner done at 10,000 studies).
        search = start_search_index(outputs, out_dir, record.live)
        try:
            # Its files only (20,000 folders less, about 50 ms beside Pagefind): see check_tree.
            live = self._live_files_check(out_dir)
            if len(live.intact) != len(record.live.files):
                search.cancel()
                return None
            # Every live file but the edited pages and the search index (which the writer
            # makes again): copied whole, then those taken out, found by position (a filter
            # with a test per file took about 30 ms of CPU beside Pagefind).
            kept = dict(live.intact.items())
            paths = tuple(kept)
            for at in index_files_among(paths):
                del kept[paths[at]]
            for path in outputs:
                kept.pop(str(path), None)
            spare = self.spare_tree()
            updated = update_site(
                outputs,
                kept,
                out_dir,
                record.live,
                spare,
                intact=live.intact,
                search_index=True,
                started=search,
                meanwhile=write_head,
                spare_checked=self._spare_checked(),
            )
        except BaseException:
            search.cancel()
            if head is not None:
                head.discard()
            raise
        self.record = replace(edited, live=updated.live, spare=updated.spare)
        # The last record goes with the cache, not now: freeing its 100,000 objects one by
        # one took about 14 ms of an edit at 10,000 studies, whose process ends right after.
        self._replaced = record
        if head is None or updated.spare is not record.live:
            self._write_record(disk, self.record)  # not as planned: written whole
            if head is not None:
                head.discard()
            return updated
        # The last live tree is the new spare one: its file is renamed, not written again.
        rename_file(disk.record_path(LIVE), disk.record_path(SPARE))
        tree = _TreeFile(live_id, updated.live, str(out_dir.absolute()))
        replace_file(*disk.record_file(LIVE, tree))
        head.publish()
        self._live_id, self._spare_id = live_id, b""  # the record holds its spare tree
        return updated

    def finish_edit(self, summary: Summary, pages: Collection[PurePosixPath]) -> None:
        """The live preview's fast edit (a cache on disk remembers one in `write_edit`): the
        new inputs, the new summary, and that `pages` were made without a fingerprint (the
        next whole build renders them again). The snapshot stays: an edit it allowed changed
        nothing it holds."""
        if self.disk is None and self._served is not None:
            fingerprints = _without(self._served[2], {str(path) for path in pages})
            self._served = (self._inputs, self._started_ns, fingerprints)
            self._summary = summary


def _without(fingerprints: Mapping[str, Fingerprint], stale: set[str]) -> dict[str, Fingerprint]:
    """The page fingerprints but those of `stale` pages (made without one: rendered again by
    the next whole build)."""
    return {path: found for path, found in fingerprints.items() if path not in stale}


def summary_site(site: Site | None) -> Site | None:
    """The loaded site cut to what a report needs again (settings and drafts)."""
    if site is None:
        return None
    return replace(
        site,
        conditions=(),
        studies=(),
        claims=(),
        pages=(),
        references=(),
        static_files=(),
        invalid_sources=(),
        file_slugs=(),
    )
