"""The reference downloads (three files a reference, and every list's) are made one at a time
and never all held: a cold build writes each as it is made, and an incremental build makes again
only those whose references changed, keeping the others on disk unmade.

Memory is tested by structure (what is held, what is made), never by a measured size.
"""

from __future__ import annotations

import dataclasses
import shutil
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

import backpain_site.bibliography_pages as bibliography_pages
import backpain_site.exports as exports
import backpain_site.render as render
from backpain_site.bibliography import Reference, load_bibliography
from backpain_site.bibliography_pages import Download
from backpain_site.build import BuildResult, build
from backpain_site.cache import (
    PackReader,
    decode_shard,
    encode_shard,
    joined,
    pack_parts,
    shard_parts,
)
from backpain_site.csl_data import _csl_item
from backpain_site.exports import export
from backpain_site.incremental import BuildCache
from backpain_site.writer import replace_file_in_parts

from conftest import REPO, TODAY, tree

sys.path.insert(0, str(REPO / "benchmarks"))
from generate import reference_key

STUDIES = 40
DOWNLOADS = (".bib", ".ris", ".json")


@pytest.fixture
def project(generated: Path, tmp_path: Path) -> Iterator[Path]:
    root = tmp_path / "project"
    shutil.copytree(generated, root)
    yield root


@pytest.fixture
def made(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, ...]]:
    """The references of every download made (in this process: no forked workers)."""
    found: list[tuple[str, ...]] = []
    real = bibliography_pages.make_export

    def counted(references: Sequence[Reference], extension: str) -> bytes:
        found.append(tuple(r.key for r in references))
        return real(references, extension)

    monkeypatch.setattr(bibliography_pages, "make_export", counted)
    monkeypatch.setattr(render, "cores", lambda: 1)
    return found


def cached(project: Path) -> BuildResult:
    return build(project, project / "_site", today=TODAY, cache=BuildCache.for_project(project))


def downloads_in(result: BuildResult) -> list[str]:
    """The downloads the build held (its outputs)."""
    return [str(p) for p in result.outputs if p.suffix in DOWNLOADS and "references" in p.parts]


def downloads_made(result: BuildResult) -> list[str]:
    """The downloads the build made anew, held or written as they were made."""
    return [p for p in sorted(result.made) if p.endswith(DOWNLOADS) and p.startswith("references/")]


def test_a_download_holds_no_bytes() -> None:
    """Pages are given downloads as links only; their bytes are made when written."""
    assert "data" not in {f.name for f in dataclasses.fields(Download)}


def test_downloads_are_made_once_and_only_again_when_their_references_change(
    project: Path, tmp_path: Path, made: list[tuple[str, ...]]
) -> None:
    first = cached(project)
    assert first.ok, first.problems
    # A cold build into a new folder writes each download as it is made: none is held.
    assert downloads_in(first) == []
    assert {p for p in first.paths if p.endswith(DOWNLOADS)} and made
    made.clear()

    # A reference's title: only the downloads that hold it are made again (its own three, the
    # whole bibliography's, its lists'); the others are kept on disk without being made.
    bib = project / "content" / "references.bib"
    key = reference_key(5)
    text = bib.read_text(encoding="utf-8")
    title = text.index("title   = {A ", text.index(f"@article{{{key},"))
    bib.write_text(text[: title + 13] + "revised " + text[title + 13 :], encoding="utf-8")
    edited = cached(project)
    assert edited.ok, edited.problems
    assert made and all(key in keys for keys in made)
    # Written into the spill folder as they were made, not held (writer.SpillFolder).
    assert downloads_in(edited) == []
    again = downloads_made(edited)
    assert again and len(again) == len(made)
    assert all(key.encode() in (project / "_site" / path).read_bytes() for path in again)

    # Nothing changed: nothing is made at all.
    made.clear()
    assert cached(project).changed == 0
    assert made == []

    # The site is exactly what a plain build makes.
    plain = tmp_path / "plain"
    assert build(project, plain, today=TODAY).ok
    assert tree(project / "_site") == tree(plain)


def test_listed_downloads_are_the_exports_of_their_references(project: Path) -> None:
    from backpain_site.load import load_site
    from backpain_site.resolve import resolve

    site, problems = load_site(project, today=TODAY)
    assert site is not None, problems
    resolved, _ = resolve(site)
    listing = bibliography_pages.bibliography_pages(resolved).listing()
    assert len({file.path for file in listing}) == len(listing) > 3 * len(site.references)
    for file in listing[:6]:
        assert file.data() == export(file.references, file.extension)


def test_a_pack_is_written_entry_by_entry_as_it_is_encoded(tmp_path: Path) -> None:
    """The fast edit's snapshot is saved without being held whole: the same bytes."""
    entries = {"a": 1, "b": [2] * 1000, "c": "x" * 100_000}
    path = tmp_path / "cache" / "snapshot.pack"
    replace_file_in_parts(path, pack_parts("v1", entries, b"s" * 32))
    assert path.read_bytes() == joined(pack_parts("v1", entries, b"s" * 32))  # held whole
    assert PackReader(path.read_bytes(), "v1", b"s" * 32).get("c") == "x" * 100_000
    assert [p.name for p in path.parent.iterdir()] == ["snapshot.pack"]  # no scratch left


def test_a_shard_is_written_as_it_is_pickled(tmp_path: Path) -> None:
    """The build record is saved without being held pickled: the same bytes, read back."""
    entries = {b"record": {"rows": list(range(100_000)), "name": "x" * 70_000}}
    path = tmp_path / "build.record"
    replace_file_in_parts(path, shard_parts("v1", entries, b"s" * 32))
    assert path.read_bytes() == encode_shard("v1", entries, b"s" * 32)
    assert decode_shard(path.read_bytes(), "v1", b"s" * 32) == entries


def test_the_live_preview_makes_again_only_the_downloads_that_changed(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The preview has no live files to compare with: its memo keeps the downloads' bytes."""
    made: list[int] = []
    real = exports._export

    def counted(references: list[Reference], extension: str) -> bytes:
        made.append(len(references))
        return real(references, extension)

    monkeypatch.setattr(exports, "_export", counted)
    monkeypatch.setattr(render, "cores", lambda: 1)
    cache = BuildCache.in_memory(project)
    first = build(project, None, today=TODAY, cache=cache)
    assert first.ok and downloads_in(first) and made
    made.clear()
    bib = project / "content" / "references.bib"
    text = bib.read_text(encoding="utf-8")
    title = text.index("title   = {A ", text.index(f"@article{{{reference_key(5)},"))
    bib.write_text(text[: title + 13] + "revised " + text[title + 13 :], encoding="utf-8")
    second = build(project, None, today=TODAY, cache=cache)
    assert second.ok and made and len(made) < len(downloads_in(second)) / 4
    plain = build(project, tmp_path / "plain", today=TODAY)
    assert {p: second.outputs[p] for p in second.outputs if str(p) in downloads_in(second)} == {
        p: data for p, data in plain.outputs.items() if str(p) in downloads_in(plain)
    }


def test_a_worker_done_with_downloads_lets_go_of_their_entries(project: Path) -> None:
    """A forked render worker, once it reaches the pages, forgets the entries it made for the
    downloads (exports.let_go): the files are the same made with or without them."""
    bib = project / "content" / "references.bib"
    references = load_bibliography(bib.read_text(encoding="utf-8"), str(bib))[0]
    files = {extension: export(references, extension) for extension in ("bib", "ris", "json")}
    assert all(exports._MADE) and csl_items() > 0
    exports.let_go()
    assert not any(exports._MADE) and csl_items() == 0
    assert {extension: export(references, extension) for extension in files} == files


def csl_items() -> int:
    return int(_csl_item.cache_info().currsize)
