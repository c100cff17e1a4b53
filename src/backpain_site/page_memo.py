"""Which pages need rendering again: a fingerprint of everything a template is given.

Input: each page's output path, template name and the values it is rendered with, plus the
fingerprints the last build recorded and the pages still on disk as it wrote them.
Output: for each page, whether it can be kept as it is (same fingerprint, file intact), and the
fingerprints to record. A kept page is not rendered; the writer carries its file over. A page
rendered again into the very bytes of its live file is kept too (`same_file`).

A fingerprint covers the code version, every template file, and the values themselves, by what
they hold rather than by name: frozen dataclasses field by field, tuples, lists, dicts, dates,
enums, and functions by name (closures with what they close over). So a page depends on exactly
what its template can reach, with nothing to declare and nothing to keep in step when templates
change. A value that cannot be fingerprinted makes its page render every time: a page can be
rendered needlessly, never left stale.

One exclusion is deliberate: the raw Markdown of a content file (`Source.body`) is left out,
because templates show bodies only as resolved HTML (tests/test_incremental.py checks that no
template reads it). So editing a study's text re-renders its own page, not every list it is in.

The site's references are given to every template, but a page's fingerprint covers only those
it read the last time it rendered (`ReferenceReads` notes them): rendering is deterministic, so
a page given the same values and the same references under the keys it read reads the same keys
and makes the same page. A changed reference then renders again the pages that read it, not all
20,000 pages of a site of 10,000 studies.
"""

from __future__ import annotations

import hashlib
import io
import operator
import pickle
import sys
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import fields, is_dataclass
from pathlib import PurePosixPath
from types import BuiltinFunctionType, FunctionType, MappingProxyType, MethodType
from typing import Any

from .content import Source
from .forked import in_worker
from .output_tree import FileRecord, file_digest

# The references a page read while it rendered: the keys it looked up, sorted, or None when it
# went through them all (listed or counted them).
Reads = tuple[str, ...] | None
# What a build records of a page: a digest of everything it was given and of the references it
# read, and which those were (the next build checks the page against the same references).
Fingerprint = tuple[bytes, Reads]


class ReferenceReads(Mapping[str, Any]):
    """The site's references (key -> Reference) as templates see them, noting which keys each
    page reads between `begin` and `reads`. One page renders at a time in a process (forked
    workers each have their own copy)."""

    def __init__(self, references: Mapping[str, Any]) -> None:
        self._references = references
        self._read: set[str] = set()
        self._all = False

    def begin(self) -> None:
        """A page starts rendering: nothing read yet."""
        self._read = set()
        self._all = False

    def reads(self) -> Reads:
        return None if self._all else tuple(sorted(self._read))

    def _noted(self, key: object) -> None:
        # Only text keys can name a reference: any other key is missing whatever the references
        # are, so looking it up depends on none of them.
        if isinstance(key, str):
            self._read.add(key)

    def __getitem__(self, key: str) -> Any:
        self._noted(key)
        return self._references[key]

    def __contains__(self, key: object) -> bool:
        self._noted(key)
        return key in self._references

    def __iter__(self) -> Iterator[str]:
        self._all = True
        return iter(self._references)

    def __len__(self) -> int:
        self._all = True
        return len(self._references)

    def digest(self, reads: Reads, values: Fingerprints) -> bytes:
        """A digest of the references under `reads` (all of them for None), absent ones too."""
        keys = self._references.keys() if reads is None else reads
        hasher = hashlib.blake2b(b"all" if reads is None else b"some", digest_size=16)
        for key in keys:
            found = self._references.get(key)
            hasher.update(key.encode() + b"\0" + (b"-" if found is None else values.of(found)))
        return hasher.digest()


class Unfingerprintable(Exception):
    """A value whose content cannot be told from its pickle (the page always renders)."""


def _stood_in(kind: str, found: bytes) -> tuple[str, bytes]:
    """Never called: pickles name it, with a digest, in place of an object digested before."""
    return kind, found


class _Pickler(pickle.Pickler):
    """Pickles a value, with a digest in place of every object `Fingerprints` digests apart.

    `reducer_override` is not asked about strings, numbers, bytes, lists, tuples, dicts and
    sets (pickled as they are, fast), only about other objects: dataclasses, functions...
    """

    def __init__(self, buffer: io.BytesIO, owner: Fingerprints) -> None:
        super().__init__(buffer, protocol=5)
        self.fast = True  # no memo: equal values give equal bytes, whatever objects they share
        self.owner = owner

    def reducer_override(self, obj: Any) -> Any:
        if obj is _stood_in:
            return NotImplemented  # pickled by name, like any module-level function
        stand_in = self.owner.stand_in(obj)
        if stand_in is None:
            return NotImplemented
        return _stood_in, stand_in


_StandIns = dict[int, tuple[object, tuple[str, bytes] | None]]
# New stand-ins after which a forked render worker lets go of those whose objects nothing else
# holds. Stand-ins keep their objects alive, and render makes new ones for every page (its
# values, a reference's page): kept all, they grew each worker by about 50 MB at 10,000
# studies. Those of the site's own objects (a study, a reference), which pages share, stay:
# forgetting every stand-in instead made a worker digest 2.7 times as many objects, and a
# reference edit at 10,000 studies about 5 s slower.
WORKER_STAND_INS = 4096
# Stand-ins that may outlive a build: frozen dataclasses. Those a later build is given again are
# the memo's (parsed files, references, conversions), which no build ever changes.
_LASTING = ("dataclass", "source")


class Fingerprints:
    """Digests of values; each object is digested once per build (values are never mutated
    while pages render, so an object's identity stands for its content within one build).
    Objects are kept alive with their digests, so no id is reused by another object. A forked
    render worker lets go of those only their digests hold, every WORKER_STAND_INS new ones.

    The live preview builds many times in one process, and its memo hands the same parsed
    files, formatted references and converted bodies to every build: made with an earlier
    build's `Fingerprints`, a build takes over the digests of the frozen dataclasses that one
    used, and digests only what is new (what a save changed, and what render makes afresh)."""

    def __init__(self, earlier: Fingerprints | None = None) -> None:
        """`earlier`: the digests of an earlier build in this process, to take over (serve)."""
        self._stand_ins: _StandIns = {}
        # A worker's stand-ins made since its last `_let_go`, and those that outlived it once.
        self._young: list[int] = []
        self._middle: list[int] = []
        self._carried: _StandIns = earlier._lasting() if earlier is not None else {}
        self._shared: dict[int, tuple[object, bytes]] = {}
        # Classes whose objects never stand in (a date, a plain class): pickled as they are,
        # with nothing kept for each object.
        self._plain: set[type] = set()
        self._stood = 0  # stand-ins given so far: tells a leaf (nothing in it stood in)
        # Per class: how to read a frozen dataclass's field values, or None (not one): asking
        # `dataclasses.fields` for every object took longer than reading the fields.
        self._readers: dict[type, Callable[[Any], tuple[Any, ...]] | None] = (
            dict(earlier._readers) if earlier is not None else {}
        )

    def of(self, value: object) -> bytes:
        buffer = io.BytesIO()
        try:
            _Pickler(buffer, self).dump(value)
        except (pickle.PicklingError, TypeError, AttributeError, RecursionError) as exc:
            raise Unfingerprintable(str(exc)) from exc
        return hashlib.blake2b(buffer.getvalue(), digest_size=16).digest()

    def of_shared(self, value: object) -> bytes:
        """The digest of a container that every page is given (render's common values)."""
        seen = self._shared.get(id(value))
        if seen is not None and seen[0] is value:
            return seen[1]
        found = self.of(value)
        self._shared[id(value)] = (value, found)
        return found

    def stand_in(self, obj: Any) -> tuple[str, bytes] | None:
        seen = self._stand_ins.get(id(obj))
        if seen is not None and seen[0] is obj:
            self._stood += 1
            return seen[1]
        seen = self._carried.get(id(obj))
        if seen is not None and seen[0] is obj:
            self._stand_ins[id(obj)] = seen
            self._stood += 1
            return seen[1]
        kind = type(obj)
        if kind in self._plain:
            return None
        nested = self._stood
        stand_in = self._stand_in(obj)
        if stand_in is None:
            return None
        if self._stood == nested:
            # Nothing in it stood in: digesting it again is one pickle of plain values, and it
            # is met again only inside something not kept (a page's own values). Kept, such
            # leaves (a reference's names, a study's dates) were about half of a render
            # worker's 170,000 stand-ins at 10,000 studies, and 20 MB of its memory.
            self._stood += 1
            return stand_in
        self._stood += 1
        if len(self._young) >= WORKER_STAND_INS:
            if in_worker():
                self._let_go()
            else:
                self._young = []  # the build's own process keeps every stand-in
        self._stand_ins[id(obj)] = (obj, stand_in)
        self._young.append(id(obj))
        return stand_in

    def _let_go(self) -> None:
        """Forget the stand-ins whose objects only they hold (a worker's finished pages'),
        among those made since the last call and those that outlived it (an object held by a
        reference cycle, a page's values in Jinja's contexts, goes once the collector has run;
        collecting here every time cost more than it saved). One that outlives two calls is
        the site's own and stays: looking at every stand-in each time cost 3 s a worker.
        Newest first: a page's object is digested after the objects in it, so once it goes,
        they are held by nothing else either."""
        middle = set(self._middle)
        survivors = []
        for key in reversed(self._young + self._middle):
            seen = self._stand_ins.get(key)
            if seen is None:
                continue
            # Held by the entry and by getrefcount's own argument: nothing else.
            if sys.getrefcount(seen[0]) <= 2:
                del self._stand_ins[key]
            elif key not in middle:  # made since the last call: looked at once more
                survivors.append(key)
        self._middle = survivors
        self._young = []

    def _lasting(self) -> _StandIns:
        """The lasting digests this build used (those of older builds are let go)."""
        return {
            key: seen
            for key, seen in self._stand_ins.items()
            if seen[1] is not None and seen[1][0] in _LASTING
        }

    def _stand_in(self, obj: Any) -> tuple[str, bytes] | None:
        kind = type(obj)
        if kind is ReferenceReads:
            # Which references a page read is part of its fingerprint (`PageMemo.fingerprint`),
            # not of the values every page is given.
            return ("references", b"read by each page")
        if kind is Source:
            # The raw body is left out on purpose (module docstring); everything else counts.
            return ("source", self.of((obj.kind, obj.slug, obj.path, obj.body_line, obj.meta)))
        if kind in self._readers:
            reader = self._readers[kind]
        else:
            reader = self._readers[kind] = _field_reader(kind)
        if reader is not None:
            values = _text_as_bytes(reader(obj))
            return ("dataclass", self.of((kind.__module__, kind.__qualname__, values)))
        if is_dataclass(obj) and not isinstance(obj, type):
            self._plain.add(kind)
            return None  # a mutable one is pickled as it is wherever it appears
        if isinstance(obj, MappingProxyType):
            return ("mapping", self.of(dict(obj)))
        if isinstance(obj, set | frozenset):  # subclasses only: plain sets never come here
            return ("set", self.of(sorted(self.of(item) for item in obj)))
        if isinstance(obj, FunctionType) and (obj.__closure__ or "<" in obj.__qualname__):
            # A lambda or a nested function: by what it closes over (module-level functions
            # are pickled by name, and their code is in the code version).
            name = f"{obj.__module__}.{obj.__qualname__}"
            closure = tuple(cell.cell_contents for cell in obj.__closure__ or ())
            return ("function", self.of((name, closure, obj.__defaults__, obj.__kwdefaults__)))
        if isinstance(obj, MethodType):
            return ("method", self.of((obj.__func__, obj.__self__)))
        if isinstance(obj, BuiltinFunctionType):
            return ("builtin", f"{obj.__module__}.{obj.__qualname__}".encode())
        if kind is not FunctionType:  # a function may close over something, another not
            self._plain.add(kind)
        return None


def _text_as_bytes(values: tuple[Any, ...]) -> tuple[Any, ...]:
    """Field values to digest, each text that is not all ASCII as its UTF-8 bytes (marked):
    pickling the str itself makes CPython keep its UTF-8 form beside it for as long as it
    lives, and render workers digest every page body (about 30 MB more in each at 10,000
    studies)."""
    for value in values:  # most have none: a plain loop, no tuple made (half a million calls)
        if type(value) is str and not value.isascii():
            break
    else:
        return values
    return tuple(
        ("utf-8", value.encode("utf-8", "surrogatepass"))
        if type(value) is str and not value.isascii()
        else value
        for value in values
    )


def _field_reader(kind: type) -> Callable[[Any], tuple[Any, ...]] | None:
    """Reads the field values of a frozen dataclass `kind` in field order (None: not one)."""
    if not is_dataclass(kind) or not getattr(kind, "__dataclass_params__").frozen:  # noqa: B009
        return None
    names = tuple(f.name for f in fields(kind))
    if not names:
        return lambda obj: ()
    if len(names) == 1:
        single = operator.attrgetter(names[0])
        return lambda obj: (single(obj),)
    return operator.attrgetter(*names)


class PageMemo:
    """Decides, page by page, whether render can keep the page the last build wrote.

    Paths are kept as output_tree keeps them (posix strings); `kept` as render gives them.
    """

    def __init__(
        self,
        global_key: bytes,
        previous: Mapping[str, Fingerprint],
        intact: Collection[str],
        progress: Callable[[], None] | None = None,
        values: Fingerprints | None = None,
        live: Mapping[str, FileRecord] | None = None,
    ) -> None:
        self._global = global_key  # code version and every template file
        self._progress = progress  # called once per page
        self._previous = previous  # last build's fingerprints
        self._intact = intact  # pages whose file is still exactly as the last build wrote it
        self._live = live  # those files' records (their digests), when they are on disk
        self._values = values if values is not None else Fingerprints()
        # Digests of the references under each set of keys pages read (many read the same).
        self._read_digests: dict[Reads, bytes] = {}
        self.fingerprints: dict[str, Fingerprint] = {}
        self.kept: set[PurePosixPath] = set()

    @property
    def values(self) -> Fingerprints:
        """The digests this memo made, for a later build in this process (serve)."""
        return self._values

    def let_go_of_values(self) -> None:
        """Forget the digests of values, and the values they keep alive (a page's converted
        body among them), once every page is checked: for a build whose next build runs in
        another process, before it writes. Pages rendered here, not by forked workers (a site
        of fewer than 200 pages), would otherwise keep them to the end of the build."""
        self._values = Fingerprints()
        self._read_digests = {}

    def check(
        self,
        path: PurePosixPath,
        template: str,
        common: Mapping[str, Any],
        values: Mapping[str, Any],
        references: ReferenceReads,
    ) -> tuple[bytes | None, Fingerprint | None]:
        """A digest of what the page is given (None: it has none), and its last fingerprint
        when its file can be kept (None: render it). Nothing is noted: pages rendered by
        forked workers (forked.py) are checked there and noted in the build's own process, in
        page order (`note`)."""
        name = str(path)
        try:
            given = hashlib.blake2b(
                self._global
                + template.encode()
                + b"\0"
                + self._values.of_shared(common)
                + self._values.of(dict(values)),
                digest_size=16,
            ).digest()
        except Unfingerprintable:
            return None, None
        last = self._previous.get(name)
        if last is None or name not in self._intact:
            return given, None
        try:
            same = self._with_reads(given, last[1], references) == last[0]
        except Unfingerprintable:
            return given, None
        return given, last if same else None

    def fingerprint(self, given: bytes, references: ReferenceReads) -> Fingerprint | None:
        """The fingerprint of a page just rendered from what `check` digested as `given`,
        with the references it read (None: they cannot be fingerprinted)."""
        reads = references.reads()
        try:
            return self._with_reads(given, reads, references), reads
        except Unfingerprintable:
            return None

    def _with_reads(self, given: bytes, reads: Reads, references: ReferenceReads) -> bytes:
        read = self._read_digests.get(reads)
        if read is None:
            read = self._read_digests[reads] = references.digest(reads, self._values)
        return hashlib.blake2b(given + read, digest_size=16).digest()

    def same_file(self, path: PurePosixPath, data: bytes) -> bool:
        """True when `data`, a page rendered again, has exactly the bytes of the live file
        at `path` (intact as the last build wrote it): the page can then be kept like an
        unchanged one, so pages rendered again into the same bytes (a changed reference whose
        change a page does not show) are neither sent back from the workers nor held until the
        writer compares them."""
        found = self._live.get(str(path)) if self._live is not None else None
        return found is not None and found.size == len(data) and found.digest == file_digest(data)

    @property
    def compares_files(self) -> bool:
        """False when no live files are known (the live preview): `has_file` is never true."""
        return self._live is not None

    def has_file(self, path: PurePosixPath, digest: bytes) -> bool:
        """True when the live file at `path` (intact as the last build wrote it) has bytes of
        this `digest` (output_tree.file_digest): render keeps such a download unmade."""
        found = self._live.get(str(path)) if self._live is not None else None
        return found is not None and found.digest == digest

    def note(self, path: PurePosixPath, found: Fingerprint | None, keep: bool) -> None:
        """Record the fingerprint of `path` (the last one, from `check`, when the page was kept)
        and count the page as done."""
        if self._progress is not None:
            self._progress()
        if found is not None:
            self.fingerprints[str(path)] = found
        if keep:
            self.kept.add(path)
