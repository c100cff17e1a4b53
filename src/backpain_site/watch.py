"""Which input files may have changed, told by the kernel (Linux inotify) instead of found by
listing every file again.

Input: the project folder. Output, each time the watcher's file descriptor is readable: the
project-relative POSIX paths (files and folders under content/, templates/ and static/) that
may have changed since the last read, or "everything" when the kernel lost events (its queue
overflowed) or a whole watched folder was replaced. What the paths hold now is then read by
preview.Fingerprints.updated; the watcher never reads a file. The preview (serve.py) falls back
to listing every file 20 times a second when `Watcher` cannot start (WatchUnavailable: not
Linux, no inotify in the C library, too many inotify instances, the watch limit reached).

inotify is used through ctypes so that the preview needs no compiled package. It watches
folders, not files: a file reached through a symlink is followed by the build, but a change of
its target is not an event in the watched folder; the preview therefore still lists every file
now and then (serve.py, SAFETY_LISTING_SECONDS).
"""

from __future__ import annotations

import ctypes
import errno
import os
import struct
import sys
from dataclasses import dataclass
from pathlib import Path

from .preview import WATCHED

# <sys/inotify.h>
IN_MODIFY = 0x00000002
IN_ATTRIB = 0x00000004
IN_CLOSE_WRITE = 0x00000008
IN_MOVED_FROM = 0x00000040
IN_MOVED_TO = 0x00000080
IN_CREATE = 0x00000100
IN_DELETE = 0x00000200
IN_DELETE_SELF = 0x00000400
IN_MOVE_SELF = 0x00000800
IN_Q_OVERFLOW = 0x00004000
IN_IGNORED = 0x00008000
IN_ONLYDIR = 0x01000000
IN_DONT_FOLLOW = 0x02000000
IN_ISDIR = 0x40000000
IN_NONBLOCK = os.O_NONBLOCK
IN_CLOEXEC = 0o2000000  # O_CLOEXEC on every Linux architecture the preview runs on

_EVENT = struct.Struct("iIII")  # struct inotify_event: wd, mask, cookie, len; then the name
_SELF = IN_DELETE_SELF | IN_MOVE_SELF
_ARRIVED = IN_CREATE | IN_MOVED_TO
_LEFT = IN_DELETE | IN_MOVED_FROM
# A folder under a watched top folder: every way a file in it can change, and the folder going.
_FOLDER_MASK = IN_MODIFY | IN_CLOSE_WRITE | IN_ATTRIB | _ARRIVED | _LEFT | _SELF | IN_ONLYDIR
# The project root: only its content/, templates/ and static/ being made, removed or replaced.
_ROOT_MASK = _ARRIVED | _LEFT | _SELF | IN_ONLYDIR
_READ_BYTES = 64 * 1024  # many events per read; one event is at most 16 + 256 bytes
_READS_PER_CALL = 64  # then the event loop serves requests, and calls again (level-triggered)


class WatchUnavailable(Exception):
    """inotify cannot watch this project; the message says why (for the preview's one line)."""


@dataclass(frozen=True)
class Changes:
    """What one read found: paths that may have changed, or everything (list all files)."""

    paths: frozenset[str] = frozenset()
    everything: bool = False


class _Inotify:
    """The three libc calls, each returning the result or raising OSError with errno."""

    def __init__(self) -> None:
        if not sys.platform.startswith("linux"):
            raise WatchUnavailable(f"inotify is Linux only (this is {sys.platform})")
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            self._init1 = libc.inotify_init1
            self._add = libc.inotify_add_watch
            self._rm = libc.inotify_rm_watch
        except (OSError, AttributeError) as exc:
            raise WatchUnavailable(f"the C library has no inotify: {exc}") from None
        self._init1.argtypes = [ctypes.c_int]
        self._init1.restype = ctypes.c_int
        self._add.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_uint32]
        self._add.restype = ctypes.c_int
        self._rm.argtypes = [ctypes.c_int, ctypes.c_int]
        self._rm.restype = ctypes.c_int

    @staticmethod
    def _checked(result: int, what: str) -> int:
        if result < 0:
            number = ctypes.get_errno()
            raise OSError(number, f"{what}: {os.strerror(number)}")
        return result

    def init(self) -> int:
        return self._checked(self._init1(IN_NONBLOCK | IN_CLOEXEC), "inotify_init1")

    def add_watch(self, fd: int, path: str, mask: int) -> int:
        return self._checked(self._add(fd, os.fsencode(path), mask), f"inotify_add_watch {path}")

    def rm_watch(self, fd: int, wd: int) -> None:
        self._rm(fd, wd)  # fails only for a watch the kernel already dropped: nothing to do


def _reason(exc: OSError) -> str:
    if exc.errno == errno.ENOSPC:
        return "the inotify watch limit is reached (sysctl fs.inotify.max_user_watches)"
    if exc.errno == errno.EMFILE:
        return "too many inotify instances (sysctl fs.inotify.max_user_instances)"
    return f"inotify failed: {exc}"


class Watcher:
    """Every folder of the project's inputs watched with inotify, and the events read as paths.

    The same folders as preview.input_files: hidden names are skipped outside static/ (hidden
    files are not inputs there), symlinked folders below a watched top folder are not followed
    (the build does not follow them), a symlinked top folder is. The project root is watched too,
    so that a top folder made, removed or replaced (a `git checkout`, a restored backup) is seen.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        # Set when a folder could not be watched while running (the watch limit): events in it
        # would be missed, so the preview goes back to listing every file.
        self.failed = ""
        self._api = _Inotify()
        try:
            self.fd = self._api.init()
        except OSError as exc:
            raise WatchUnavailable(_reason(exc)) from None
        self._folders: dict[int, str] = {}  # watch descriptor -> folder ("" for the root)
        self._watches: dict[str, int] = {}  # and back
        try:
            self._watch("", _ROOT_MASK)
            self._watch_all()
        except OSError as exc:
            self.close()
            raise WatchUnavailable(_reason(exc)) from None
        if self.failed:
            reason = self.failed
            self.close()
            raise WatchUnavailable(reason)

    def fileno(self) -> int:
        return self.fd

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)  # the kernel drops every watch with it
            self.fd = -1

    # --- watching -------------------------------------------------------------------------

    def _watch(self, relative: str, mask: int) -> bool:
        """Watch one folder; False when it is not there (any more) or cannot be read."""
        try:
            wd = self._api.add_watch(self.fd, os.path.join(self.root, relative), mask)
        except OSError as exc:
            if exc.errno in (errno.ENOSPC, errno.EMFILE, errno.ENOMEM):
                self.failed = _reason(exc)
            return False  # ENOENT, ENOTDIR, EACCES: gone or not a folder, as in the listing
        old = self._watches.get(relative)
        if old is not None and old != wd:
            self._folders.pop(old, None)
        self._folders[wd] = relative
        self._watches[relative] = wd
        return True

    def _watch_tree(self, relative: str, report: set[str] | None) -> None:
        """Watch `relative` and every folder under it; with `report`, add what they hold to it:
        files can land in a new folder before its watch exists."""
        top = relative.split("/", 1)[0]
        keep_hidden = top == "static"
        # A top folder may be a symlink (followed, as the listing does); nothing under it is.
        mask = _FOLDER_MASK if relative == top else _FOLDER_MASK | IN_DONT_FOLLOW
        if not self._watch(relative, mask):
            return
        try:
            entries = list(os.scandir(os.path.join(self.root, relative)))
        except OSError:
            return
        for entry in entries:
            if not keep_hidden and entry.name.startswith("."):
                continue
            path = f"{relative}/{entry.name}"
            try:
                folder = entry.is_dir(follow_symlinks=False)
            except OSError:
                continue
            if folder:
                self._watch_tree(path, report)
            if report is not None:
                report.add(path)
            if self.failed:
                return

    def _unwatch_tree(self, relative: str) -> None:
        """Forget `relative` and every folder under it (moved away or removed)."""
        below = f"{relative}/"
        for path in [p for p in self._watches if p == relative or p.startswith(below)]:
            wd = self._watches.pop(path)
            self._folders.pop(wd, None)
            self._api.rm_watch(self.fd, wd)

    def _watch_all(self) -> None:
        """(Again) every folder under each top folder, e.g. after events were lost."""
        for top in WATCHED:
            self._unwatch_tree(top)
            self._watch_tree(top, None)

    # --- reading --------------------------------------------------------------------------

    def read(self) -> Changes:
        """Every event queued now, as the paths that may have changed."""
        paths: set[str] = set()
        everything = False
        for _ in range(_READS_PER_CALL):
            try:
                data = os.read(self.fd, _READ_BYTES)
            except BlockingIOError:
                break
            except OSError as exc:  # the descriptor is unusable: list everything, poll again
                self.failed = f"reading inotify events failed: {exc}"
                return Changes(everything=True)
            if not data:
                break
            at = 0
            while at + _EVENT.size <= len(data):
                wd, mask, _cookie, length = _EVENT.unpack_from(data, at)
                raw = data[at + _EVENT.size : at + _EVENT.size + length]
                at += _EVENT.size + length
                name = os.fsdecode(raw.rstrip(b"\0"))
                everything = self._event(wd, mask, name, paths) or everything
        if everything:
            self._watch_all()  # a replaced top folder, or folders made while events were lost
            return Changes(everything=True)
        return Changes(frozenset(paths))

    def _event(self, wd: int, mask: int, name: str, paths: set[str]) -> bool:
        """Take in one event; True when only a listing of every file can tell what changed."""
        if mask & IN_Q_OVERFLOW:
            return True  # the kernel's queue was full: events were dropped
        folder = self._folders.get(wd)
        if folder is None:
            return False  # a watch removed a moment ago (its last events, IN_IGNORED)
        if mask & IN_IGNORED:  # the folder is gone, or its file system unmounted
            del self._folders[wd]
            if self._watches.get(folder) == wd:
                del self._watches[folder]
            return folder == "" or folder in WATCHED
        if folder == "":
            # In the root only content/, templates/ and static/ matter: one made, removed or
            # replaced changes every file under it. The root itself going leaves nothing.
            return name in WATCHED or bool(mask & _SELF)
        if mask & _SELF:
            # Its parent's watch tells the same (IN_DELETE / IN_MOVED_FROM), unless it is a top
            # folder (the root's watch says so): list it again.
            if folder in WATCHED:
                return True
            paths.add(folder)
            return False
        top = folder.split("/", 1)[0]
        if top != "static" and name.startswith("."):
            return False  # an editor's swap or backup file: not an input (preview.input_files)
        path = f"{folder}/{name}"
        if mask & IN_ISDIR:
            if mask & _ARRIVED:
                paths.add(path)
                self._watch_tree(path, paths)
            elif mask & _LEFT:
                paths.add(path)
                self._unwatch_tree(path)
            # A folder's own times or permissions (IN_ATTRIB) change no file's: nothing to list.
            return False
        paths.add(path)
        return False
