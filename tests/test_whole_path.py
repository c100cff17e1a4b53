"""The whole build path after an edit that every page can see, and how little it holds.

A reference's title is given to every page (render's common values hold the references), so
changing one renders every page again. Pages whose bytes come out as the live site already
has them are kept like unchanged pages (page_memo.PageMemo.same_file): neither held nor
written, and the site is still byte for byte what a plain build makes.

Also the whole path's other savings, each checked against the slow way it replaces: the
reading-grade sentences pickled where the pool makes them, the cycle collector paused while
the build loads (and as it was afterwards), and download entries kept per reference object.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import gc
import os
import pickle
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

import pytest

from backpain_site.bibliography import load_bibliography
from backpain_site.build import build
from backpain_site.cache import Memo, paused_collection, remembering
from backpain_site.exports import FORMATS, export
from backpain_site.incremental import BuildCache
from backpain_site.load import load_site
from backpain_site.output_tree import FileRecord, file_digest
from backpain_site.page_memo import PageMemo
from backpain_site.prefetch import grade_jobs, process_pool
from backpain_site.readability import page_grades, page_texts, score_page, sentences_from

from conftest import REPO, tree

sys.path.insert(0, str(REPO / "benchmarks"))
from generate import reference_key, study_slug

# Enough pages (about 260) for render to use its forked workers (forked.MIN_ITEMS).
STUDIES = 120
TODAY = dt.date(2026, 11, 21)


def inodes(folder: Path) -> dict[str, int]:
    return {path: os.stat(folder / path).st_ino for path in tree(folder)}


@pytest.fixture
def project(generated: Path, tmp_path: Path) -> Iterator[Path]:
    root = tmp_path / "project"
    shutil.copytree(generated, root)
    yield root


def test_pages_rendered_again_unchanged_are_kept_not_held(project: Path, tmp_path: Path) -> None:
    site = project / "_site"
    first = build(project, site, today=TODAY, cache=BuildCache.for_project(project))
    assert first.ok, first.problems
    before_bytes, before_inodes = tree(site), inodes(site)
    # The cold build's slow steps ran on a pool (prefetch.py): the same site and grades as
    # one process makes without a cache.
    plain = build(project, tmp_path / "plain-first", today=TODAY)
    assert tree(tmp_path / "plain-first") == before_bytes
    assert plain.reading_grades == first.reading_grades

    bib = project / "content" / "references.bib"
    key = reference_key(STUDIES // 2)
    text = bib.read_text(encoding="utf-8")
    title = text.index("title   = {A ", text.index(f"@article{{{key},"))
    bib.write_text(text[: title + 13] + "revised " + text[title + 13 :], encoding="utf-8")
    edited = build(project, site, today=TODAY, cache=BuildCache.for_project(project))
    assert edited.ok, edited.problems
    assert not edited.fast_edit

    after = tree(site)
    changed = {path for path in after if before_bytes.get(path) != after[path]}
    held = set(edited.made)
    # Only files whose bytes differ are held (the search index is made by the writer).
    assert {p for p in changed if not p.startswith("pagefind/")} <= held
    assert {p for p in held if p.endswith(".html")} == {
        p for p in changed if p.endswith(".html") and not p.startswith("pagefind/")
    }
    assert f"references/{key}/index.html" in held
    # A study that does not cite the reference: rendered again, the same, so kept as it was.
    untouched = f"studies/{study_slug(0)}/index.html"
    assert untouched not in held and untouched not in changed
    assert os.stat(site / untouched).st_ino == before_inodes[untouched]

    # Byte for byte what a plain build of the same content makes.
    assert build(project, tmp_path / "plain", today=TODAY).ok
    assert tree(tmp_path / "plain") == after


def test_same_file_compares_the_live_file_by_size_and_digest() -> None:
    data = b"<p>page</p>"
    live = {"a.html": FileRecord(file_digest(data), len(data), 1, 2)}
    pages = PageMemo(b"", {}, live.keys(), live=live)
    assert pages.same_file(PurePosixPath("a.html"), data)
    assert not pages.same_file(PurePosixPath("a.html"), b"<p>other</p>")
    assert not pages.same_file(PurePosixPath("b.html"), data)
    # Without the live files' records (the live preview holds its pages in memory): never.
    assert not PageMemo(b"", {}, live.keys()).same_file(PurePosixPath("a.html"), data)


def test_a_grade_made_on_the_pool_is_the_grade(project: Path) -> None:
    """The pool grades pages from their text (prefetch.grade_jobs); the build's own process,
    asked for the same page, finds that grade and scores nothing again."""
    site, _ = load_site(project, today=TODAY)
    assert site is not None
    memo = Memo()
    jobs = grade_jobs(site, memo)
    assert len(jobs) == len(list(page_texts(site))) > 3
    for namespace, key, function, args in jobs:
        memo.put(namespace, key, function(*pickle.loads(pickle.dumps(args))))
    misses, hits = memo.misses, memo.hits  # grade_jobs checked every body (markdown-checks)
    with remembering(memo):
        grades = page_grades(site)
    assert memo.misses == misses and memo.hits > hits + len(jobs)
    assert grades == [score_page(u, p, sentences_from(parts)) for u, p, parts in page_texts(site)]
    assert grade_jobs(site, memo) == []


def test_the_cycle_collector_is_as_it_was_after_a_build(project: Path) -> None:
    """A build pauses the collector while it loads and resolves (cache.paused_collection);
    a long-lived process (the live preview) must find it running, nothing left frozen."""
    assert gc.isenabled() and gc.get_freeze_count() == 0
    result = build(project, None, today=TODAY, cache=BuildCache.for_project(project))
    assert result.ok, result.problems
    assert gc.isenabled() and gc.get_freeze_count() == 0
    gc.disable()
    try:  # and a caller that had it off finds it off
        build(project, None, today=TODAY, cache=BuildCache.for_project(project))
        assert not gc.isenabled() and gc.get_freeze_count() == 0
    finally:
        gc.enable()


def test_pool_workers_started_while_collection_is_paused_collect() -> None:
    """The prefetch pool is forked while the build has the collector paused; its workers make
    garbage of their own (Markdown's trees), so they must collect it."""
    with paused_collection(), process_pool(2) as pool:
        assert not gc.isenabled()
        assert pool is not None
        assert pool.submit(gc.isenabled).result()


def test_download_entries_are_made_per_reference_object_by_value() -> None:
    """exports.py keeps each reference's entries by identity (hashing a reference for every
    lookup was slow): equal references give equal files, a changed one a new file."""
    bib = '@article{a2020,\n  author = {M{\\"u}ller, Anna},\n  title = {One {MRI} trial},\n'
    bib += "  journal = {J},\n  year = {2020},\n  note = {checked},\n}\n"
    found, problems = load_bibliography(bib, "r.bib")
    assert problems == []
    reference = found[0]
    for extension, _ in FORMATS:
        first = export([reference], extension)
        assert export([dataclasses.replace(reference)], extension) == first
        assert export([reference, reference], extension) != first
        renamed = dataclasses.replace(reference, source_fields=(("title", "{Two} trials"),))
        renamed = dataclasses.replace(renamed, fields=(("title", "Two trials"),))
        assert export([renamed], extension) != first
    assert export([reference], "bib") == (
        b'@article{a2020,\n  author  = {M{\\"u}ller, Anna},\n  title   = {One {MRI} trial},\n'
        b"  journal = {J},\n  year    = {2020},\n}\n"
    )


def test_a_spare_folder_that_is_not_trusted_is_linked_back_to_the_live_site(
    project: Path,
) -> None:
    """Delete the site and the cache by hand, and the spare folder beside the site (hidden)
    stays, with files of the same bytes as the new site's but no record. The next edit syncs
    it without trusting it: the files it shares with the live site become links to them, not
    copies of their own, whose status every later edit would read (writer._trusted_files)."""
    site = project / "_site"

    def build_it() -> None:
        assert build(project, site, today=TODAY, cache=BuildCache.for_project(project)).ok

    def edit(index: int) -> None:
        path = project / "content" / "studies" / f"{study_slug(index)}.md"
        text = path.read_text(encoding="utf-8")
        path.write_text(text.replace("\n## ", f"\nEdit {index}.\n\n## ", 1), encoding="utf-8")
        build_it()

    def unshared() -> tuple[int, int]:
        cache = BuildCache.for_project(project)
        record, spare_tree = cache.record, cache.spare_tree()
        assert record is not None and spare_tree is not None
        live = {file.inode for file in record.live.files.values()}
        spare = spare_tree.files.values()
        return sum(1 for file in spare if file.inode not in live), len(spare)

    build_it()
    edit(1)  # the first edit makes the spare folder, of links to the live site's files
    edit(2)
    copies, files = unshared()
    assert copies < files / 10
    shutil.rmtree(site)
    shutil.rmtree(project / ".cache")
    build_it()  # a new site; the spare folder of the old one is still there
    edit(3)  # into that spare folder, which it cannot trust
    edit(4)  # the folders swapped: the one synced in step 3 is the live site now
    copies, files = unshared()
    assert copies < files / 10
    plain = project.parent / "plain"
    assert build(project, plain, today=TODAY).ok
    assert tree(site) == tree(plain)
