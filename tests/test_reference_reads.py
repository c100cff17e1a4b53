"""A page depends on the references it read, not on all of them (page_memo.ReferenceReads): a
changed reference renders again only the pages that read it, and a page that read a key still
renders again when that key's reference appears, changes or goes. tests/test_incremental_
dependencies.py checks that every such build still equals a plain one.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path, PurePosixPath
from typing import Any

import pytest

from backpain_site.build import build
from backpain_site.incremental import BuildCache
from backpain_site.page_memo import Fingerprint, PageMemo, ReferenceReads

from conftest import REPO

sys.path.insert(0, str(REPO / "benchmarks"))
from generate import reference_key, study_slug

STUDIES = 40
PAGE = PurePosixPath("a.html")


def test_the_keys_a_page_reads_are_noted() -> None:
    read = ReferenceReads({"a": 1, "b": 2})
    read.begin()
    assert read["a"] == 1
    assert read.get("c") is None
    assert "b" in read
    assert 3 not in read  # not a key any reference can have: nothing to note
    assert read.reads() == ("a", "b", "c")
    read.begin()
    assert read.reads() == ()
    assert len(read) == 2
    assert read.reads() is None  # counted them all: depends on every one
    read.begin()
    assert list(read) == ["a", "b"]
    assert read.reads() is None


def rendered_with(references: dict[str, Any], reads: list[str]) -> Fingerprint:
    """The fingerprint of a page that read `reads`, rendered with `references`."""
    read = ReferenceReads(references)
    pages = PageMemo(b"", {}, set())
    given, last = pages.check(PAGE, "t.html", {"references": read}, {"v": 1}, read)
    assert given is not None and last is None
    read.begin()
    for key in reads:
        read.get(key)
    found = pages.fingerprint(given, read)
    assert found is not None
    return found


def kept(fingerprint: Fingerprint, references: dict[str, Any]) -> bool:
    read = ReferenceReads(references)
    pages = PageMemo(b"", {str(PAGE): fingerprint}, {str(PAGE)})
    return pages.check(PAGE, "t.html", {"references": read}, {"v": 1}, read)[1] is not None


def test_a_page_is_kept_unless_a_reference_it_read_changed() -> None:
    before = {"a": ("A", 2001), "b": ("B", 2002)}
    page = rendered_with(before, ["a", "missing"])
    assert page[1] == ("a", "missing")
    assert kept(page, dict(before))
    assert kept(page, {**before, "b": ("B", 1999)})  # not read
    assert kept(page, {"a": ("A", 2001)})  # b removed: not read either
    assert not kept(page, {**before, "a": ("A", 1999)})
    assert not kept(page, {"b": ("B", 2002)})  # a removed
    assert not kept(page, {**before, "missing": ("M", 2000)})  # the key it looked for appeared


def test_a_page_that_went_through_every_reference_depends_on_all() -> None:
    before = {"a": ("A", 2001), "b": ("B", 2002)}
    read = ReferenceReads(before)
    pages = PageMemo(b"", {}, set())
    given, _ = pages.check(PAGE, "t.html", {"references": read}, {}, read)
    assert given is not None
    read.begin()
    assert sorted(read) == ["a", "b"]
    page = pages.fingerprint(given, read)
    assert page is not None and page[1] is None
    read = ReferenceReads({**before, "c": ("C", 2003)})
    memo = PageMemo(b"", {str(PAGE): page}, {str(PAGE)})
    assert memo.check(PAGE, "t.html", {"references": read}, {}, read)[1] is None
    read = ReferenceReads(dict(before))
    memo = PageMemo(b"", {str(PAGE): page}, {str(PAGE)})
    assert memo.check(PAGE, "t.html", {"references": read}, {}, read)[1] == page


def test_the_values_given_still_count() -> None:
    references = {"a": 1}
    page = rendered_with(references, ["a"])
    read = ReferenceReads(references)
    memo = PageMemo(b"", {str(PAGE): page}, {str(PAGE)})
    assert memo.check(PAGE, "t.html", {"references": read}, {"v": 2}, read)[1] is None
    assert memo.check(PAGE, "u.html", {"references": read}, {"v": 1}, read)[1] is None


@pytest.fixture
def project(generated: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "project"
    shutil.copytree(generated, copy)
    return copy


def test_a_retitled_reference_renders_only_the_pages_that_read_it(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def cached() -> None:
        result = build(project, project / "_site", cache=BuildCache.for_project(project))
        assert result.written, result.problems

    cached()
    rendered: list[str] = []
    check = PageMemo.check

    def noting(self: PageMemo, path: PurePosixPath, *args: Any) -> Any:
        found = check(self, path, *args)
        if found[1] is None:
            rendered.append(str(path))
        return found

    # A site of 40 studies renders in this process (forked.MIN_ITEMS), so every check is seen.
    monkeypatch.setattr(PageMemo, "check", noting)
    key = reference_key(12)
    bib = project / "content/references.bib"
    text = bib.read_text(encoding="utf-8")
    title = text.index("title   = {A ", text.index(f"@article{{{key},"))
    bib.write_text(text[: title + 13] + "revised " + text[title + 13 :], encoding="utf-8")
    cached()
    citing = {
        f"studies/{path.stem}/index.html"
        for path in sorted((project / "content/studies").glob("*.md"))
        if key in path.read_text(encoding="utf-8")  # cites it, or lists it as a reference
    }
    assert citing
    study_pages = {p for p in rendered if p.startswith("studies/") and p != "studies/index.html"}
    assert study_pages == citing
    reference_pages = {p for p in rendered if p.startswith("references/") and p.count("/") == 2}
    assert reference_pages == {f"references/{key}/index.html"}
    assert "references/index.html" in rendered  # the whole bibliography lists it
    assert f"studies/{study_slug(13)}/index.html" not in citing
    pages = sum(1 for _ in (project / "_site").rglob("*.html"))
    assert len(rendered) < pages / 3, (len(rendered), pages)
