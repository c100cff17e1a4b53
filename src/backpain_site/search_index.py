"""The full-text search index at scale: which pages Pagefind indexes, in which shard, and which
shards an incremental build must index again.

Input: the site's pages (output paths and digests) and, for an incremental build, the previous
build's pages and search-index files. Output: a `Plan` naming the shards to index (writer.py
runs Pagefind over each one) and the index files carried over unchanged. Planning only: the
writer writes, and runs Pagefind.

Why shards: Pagefind has no incremental mode, and takes about 2.5 ms of one core and 270 KB of
memory a page (Pagefind 1.5.2), so one index over 10,000 pages took 38 s and 2.6 GB whenever any
page changed. A page's shard is a hash of its path modulo the number of shards, so it depends on
no other page; an edit indexes again only the shards that hold a changed page, and the rest are
carried over from the previous build (the number of shards grows by one for every 500 pages, and
that build indexes every shard again). Each shard is its own
Pagefind bundle; static/search.js merges them in the browser (Pagefind's `mergeIndex`), which
costs a phone two small requests per shard to start and one index chunk (about 23 KB) per shard
for each word, so a small site (up to `PAGES_PER_SHARD` pages, like the real one) keeps a single
index. (search.js also keeps the shards answering as one index would: see `find` there.)

What is indexed: the reader's pages (home, conditions, studies, claims, pages and the study
and claim lists). Not the bibliography (`references/`): every reference's full citation is
also on each page that cites it, so a reader searching an author or a title finds the study,
condition or claim that cites it; the reference pages would double every such result and the
cost of the index (at 10,000 studies they are half the pages). Not the 404 page, nor the
search page itself.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import TypeVar

from .cache import installed_version
from .output_tree import FileRecord, file_digest

T = TypeVar("T")

# Where the index goes, relative to the site root; static/search.js looks for it there.
INDEX_FOLDER = "pagefind"
# Lists the shards merged into the first one (static/search.js reads it before searching).
MANIFEST = f"{INDEX_FOLDER}/shards.json"
# A shard's Pagefind run peaks at about 25 MB + 270 KB a page and takes about 2.5 ms of CPU a
# page: 500 pages is about 130 MB and 1.2 s, for an edit; 10,000 studies make 21 shards, which
# cost a phone about 0.55 MB a word (250 pages a shard: 41 shards, 1 MB a word).
PAGES_PER_SHARD = 500
# Changing how pages are chosen or assigned makes every shard of an older site be indexed again.
FORMAT = 1

_NOT_INDEXED = frozenset({"404.html", "search/index.html"})
# Files a merged shard needs: Pagefind loads the script, its worker and the WebAssembly only
# from the first shard (`mergeIndex` skips the WebAssembly), and the UI files are not used.
_MERGED_FOLDERS = ("index/", "fragment/", "filter/")
_PART_PREFIX = f"{INDEX_FOLDER}/part-"


_NOT_INDEXED_FOLDERS = ("references/", f"{INDEX_FOLDER}/")
_INDEX_FILES = f"{INDEX_FOLDER}/"


def indexed(path: str) -> bool:
    """Whether the page at output path `path` ('studies/x/index.html') is in the index."""
    return (
        path.endswith(".html")
        and path not in _NOT_INDEXED
        and not path.startswith(_NOT_INDEXED_FOLDERS)
    )


def indexed_among(paths: Sequence[str]) -> list[int]:
    """The positions of the `indexed` paths among `paths`, found as `indexed` finds them but
    without a call for each path: a fast edit at 10,000 studies picks the site's 10,000
    indexed pages out of 60,000 files before Pagefind can start (20 ms less)."""
    return [
        at
        for at, path in enumerate(paths)
        if path.endswith(".html")
        and path not in _NOT_INDEXED
        and not path.startswith(_NOT_INDEXED_FOLDERS)
    ]


def index_files_among(paths: Sequence[str]) -> list[int]:
    """The positions of the search index's own files (`bundle_of` finds their shard) among
    `paths`, found as `indexed_among` finds pages: without a call for each path."""
    return [at for at, path in enumerate(paths) if path.startswith(_INDEX_FILES)]


def indexed_pages(outputs: Mapping[PurePosixPath, bytes]) -> dict[str, bytes]:
    """The digest of every page of `outputs` that goes into the index, by output path."""
    return {str(path): file_digest(data) for path, data in outputs.items() if indexed(str(path))}


def shard_count(pages: int) -> int:
    return max(1, math.ceil(pages / PAGES_PER_SHARD))


def shard_of(path: str, count: int) -> int:
    """A page's shard: a hash of its path, so it depends on nothing else (not on other pages)."""
    return _path_hash(path) % count


@functools.lru_cache(maxsize=1 << 16)  # a fast edit lays the 10,000 pages out twice
def _path_hash(path: str) -> int:
    return int.from_bytes(hashlib.blake2b(path.encode(), digest_size=8).digest(), "big")


def folder_of(shard: int, primary: int) -> str:
    """Where a shard's bundle goes: the first (primary) at `pagefind/`, the others inside it."""
    return INDEX_FOLDER if shard == primary else f"{_PART_PREFIX}{shard:03d}"


@dataclass(frozen=True)
class Shard:
    number: int
    folder: str  # site-relative folder of its Pagefind bundle
    pages: tuple[str, ...]  # output paths of its pages, sorted
    primary: bool  # holds Pagefind's script and WebAssembly, and merges the others


@dataclass(frozen=True)
class Plan:
    shards: tuple[Shard, ...]  # every non-empty shard, in order
    stale: tuple[Shard, ...]  # those Pagefind must index (again)
    carried: dict[str, FileRecord]  # index files of the other shards, as the live site has them
    manifest: bytes  # the bytes of MANIFEST


def plan(
    pages: Mapping[str, bytes],
    previous_pages: Mapping[str, bytes] | None = None,
    previous_index: Mapping[str, FileRecord] | None = None,
    intact: Mapping[str, FileRecord] | None = None,
) -> Plan:
    """Plan the index for `pages` (output path -> digest; pages not `indexed` are left out).

    `previous_pages` and `previous_index` are the previous build's pages and index files (its
    record of the live site) and `intact` the live files still as recorded: a shard is carried
    over only when the previous index was made the same way (same manifest), its pages are the
    same with the same digests, and every one of its files is still intact.
    """
    shards, shard_numbers = _layout(pages)
    count = shard_count(len(shard_numbers))
    manifest = manifest_of(shards)
    stale = list(shards)
    carried: dict[str, FileRecord] = {}
    same_manifest = (
        previous_index is not None
        and (record := previous_index.get(MANIFEST)) is not None
        and record.digest == file_digest(manifest)
    )
    if same_manifest and previous_pages is not None and previous_index is not None:
        before: dict[int, dict[str, bytes]] = {}
        for path, digest in previous_pages.items():
            if indexed(path):
                # Mostly the pages of this build too, whose shards are worked out already.
                number = shard_numbers.get(path)
                number = shard_of(path, count) if number is None else number
                before.setdefault(number, {})[path] = digest
        files = _files_by_folder(previous_index, {s.folder for s in shards})
        stale = []
        for shard in shards:
            own = files.get(shard.folder, {})
            unchanged = (
                before.get(shard.number) == {p: pages[p] for p in shard.pages}
                and f"{shard.folder}/pagefind-entry.json" in own
                and intact is not None
                and all(intact.get(p) == r for p, r in own.items())
            )
            if unchanged:
                carried.update(own)
            else:
                stale.append(shard)
    return Plan(shards, tuple(stale), carried, manifest)


def layout(pages: Iterable[str]) -> tuple[Shard, ...]:
    """The shards of the `pages` that are `indexed` (paths; the others are left out), in order:
    every non-empty one (one, empty, for no page)."""
    return _layout(pages)[0]


def _layout(pages: Iterable[str]) -> tuple[tuple[Shard, ...], dict[str, int]]:
    chosen = sorted(path for path in pages if indexed(path))
    count = shard_count(len(chosen))
    shard_numbers = {path: shard_of(path, count) for path in chosen}
    groups: dict[int, list[str]] = {}
    for path in chosen:
        groups.setdefault(shard_numbers[path], []).append(path)
    numbers = sorted(groups) or [0]
    primary = numbers[0]
    shards = tuple(
        Shard(n, folder_of(n, primary), tuple(groups.get(n, ())), n == primary) for n in numbers
    )
    return shards, shard_numbers


def manifest_of(shards: tuple[Shard, ...]) -> bytes:
    """The bytes of MANIFEST for these shards (`layout`): the list of merged shards, with
    what made them (a changed one re-indexes every shard)."""
    merged = [s.folder.removeprefix(INDEX_FOLDER + "/") + "/" for s in shards if not s.primary]
    version = installed_version("pagefind")
    return json.dumps({"format": FORMAT, "pagefind": version, "merge": merged}).encode() + b"\n"


def _files_by_folder(
    index: Mapping[str, FileRecord], folders: set[str]
) -> dict[str, dict[str, FileRecord]]:
    found: dict[str, dict[str, FileRecord]] = {}
    for path, record in index.items():
        folder = bundle_of(path)
        if folder in folders:
            found.setdefault(folder, {})[path] = record
    return found


def bundle_of(path: str) -> str | None:
    """The bundle folder an index file belongs to (None: the manifest, or not an index file)."""
    if path == MANIFEST or not path.startswith(INDEX_FOLDER + "/"):
        return None
    if path.startswith(_PART_PREFIX):
        end = path.find("/", len(_PART_PREFIX))
        return path[:end] if end > 0 else None
    return INDEX_FOLDER


def bundle_files(shard: Shard, made: Mapping[str, T]) -> dict[str, T]:
    """A shard's files in the site, from what Pagefind wrote (paths relative to its output):
    everything for the primary shard, only what `mergeIndex` loads for the others."""
    return {
        f"{shard.folder}/{name}": data
        for name, data in made.items()
        if shard.primary
        or name == "pagefind-entry.json"
        or name.endswith(".pf_meta")
        or name.startswith(_MERGED_FOLDERS)
    }
