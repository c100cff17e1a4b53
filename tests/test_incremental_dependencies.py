"""What a page depends on, edit by edit: a cached build and the live preview keep a page only
when nothing it shows changed, so after each edit both must make exactly a plain build's site.

Each edit below changes something another page shows (a citation moves reference numbers and
"cited by" lists, a study's title is shown wherever it is linked or listed, a renamed study
changes every list of studies). The cached build (`backpain-site build`) and the preview
(`serve`) are each run through all of them in turn, and compared with a plain build after each.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from backpain_site.build import build
from backpain_site.incremental import BuildCache
from backpain_site.serve import Preview

from conftest import REPO

sys.path.insert(0, str(REPO / "benchmarks"))
from generate import reference_key, study_slug

STUDIES = 40


def files_of(folder: Path) -> dict[str, bytes]:
    """Every file under `folder` but the search index (the preview makes it later)."""
    found = {}
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = sorted(d for d in dirnames if Path(dirpath, d) != folder / "pagefind")
        for name in filenames:
            path = Path(dirpath, name)
            found[path.relative_to(folder).as_posix()] = path.read_bytes()
    return found


def plain(project: Path, out: Path) -> dict[str, bytes]:
    shutil.rmtree(out, ignore_errors=True)
    result = build(project, out)
    assert result.written, result.problems
    return files_of(out)


def studies_of(root: Path) -> dict[str, str]:
    return {p.stem: p.read_text(encoding="utf-8") for p in (root / "content/studies").glob("*.md")}


def named_elsewhere(root: Path, slug: str) -> bool:
    texts = [p.read_text(encoding="utf-8") for p in (root / "content").rglob("*.md")]
    return sum(slug in text for text in texts) > 1


def rewrite(path: Path, change: Callable[[str], str]) -> None:
    before = path.read_text(encoding="utf-8")
    after = change(before)
    assert after != before, path
    path.write_text(after, encoding="utf-8")


def add_a_citation(root: Path) -> None:
    key = reference_key(30)
    rewrite(
        root / "content/studies" / f"{study_slug(3)}.md",
        lambda text: text.replace("]\n", f"; @{key}]\n", 1),
    )


def remove_a_citation(root: Path) -> None:
    path = root / "content/studies" / f"{study_slug(4)}.md"
    text = path.read_text(encoding="utf-8")
    found = re.search(r" \[@[^\]]+\]\n", text.split("## What was found", 1)[1])
    assert found is not None
    rewrite(path, lambda text: text.replace(found.group(0), "\n", 1))


def retitle_a_linked_study(root: Path) -> None:
    every = "\n".join(studies_of(root).values())
    linked = next(s for s in sorted(studies_of(root)) if f"/studies/{s}/" in every)
    rewrite(
        root / "content/studies" / f"{linked}.md",
        lambda text: text.replace('title: "Synthetic', 'title: "Retitled synthetic', 1),
    )


def rename_a_study(root: Path) -> None:
    lonely = next(s for s in sorted(studies_of(root)) if not named_elsewhere(root, s))
    folder = root / "content/studies"
    (folder / f"{lonely}.md").rename(folder / "renamed-study-00001.md")


def delete_a_study(root: Path) -> None:
    lonely = next(s for s in sorted(studies_of(root)) if not named_elsewhere(root, s))
    (root / "content/studies" / f"{lonely}.md").unlink()


def edit_a_cited_reference(root: Path) -> None:
    key = reference_key(12)

    def retitled(text: str) -> str:
        title = text.index("title   = {A ", text.index(f"@article{{{key},"))
        return text[: title + 13] + "revised " + text[title + 13 :]

    rewrite(root / "content/references.bib", retitled)


def change_a_reference_year(root: Path) -> None:
    """Lists show each study's year, read from its own reference (pages read references)."""
    key = reference_key(5)

    def changed(text: str) -> str:
        year = text.index("year    = {2005}", text.index(f"@article{{{key},"))
        return text[:year] + "year    = {1999}" + text[year + len("year    = {2005}") :]

    rewrite(root / "content/references.bib", changed)


def add_and_cite_a_new_reference(root: Path) -> None:
    key = "newcomer2024added"
    entry = (
        f"@article{{{key},\n  author  = {{Newcomer, Ann}},\n  title   = {{A new source}},\n"
        "  journal = {Journal of Tests},\n  year    = {2024},\n}\n"
    )
    rewrite(root / "content/references.bib", lambda text: text + "\n" + entry)
    rewrite(
        root / "content/studies" / f"{study_slug(6)}.md",
        lambda text: text.replace("]\n", f"; @{key}]\n", 1),
    )


def edit_a_template(root: Path) -> None:
    rewrite(root / "templates/study.html", lambda text: text.replace("</h1>", " </h1>", 1))


def edit_the_settings(root: Path) -> None:
    rewrite(
        root / "content/site.yaml",
        lambda text: text.replace('title: "Synthetic', 'title: "Renamed', 1),
    )


SHOWN = reference_key(20)


def show_a_reference_on_the_pages(root: Path) -> None:
    """A template that looks a reference up itself: only what the page read ties it to it."""
    rewrite(
        root / "templates/page.html",
        lambda text: text.replace(
            "<h1>{{ page.title }}</h1>",
            f"<h1>{{{{ page.title }}}}</h1>\n<p>{{{{ references['{SHOWN}'].get('title') }}}}</p>",
            1,
        ),
    )


def retitle_the_shown_reference(root: Path) -> None:
    def retitled(text: str) -> str:
        title = text.index("title   = {A ", text.index(f"@article{{{SHOWN},"))
        return text[: title + 13] + "shown " + text[title + 13 :]

    rewrite(root / "content/references.bib", retitled)


EDITS = [
    add_a_citation,
    remove_a_citation,
    retitle_a_linked_study,
    rename_a_study,
    delete_a_study,
    edit_a_cited_reference,
    change_a_reference_year,
    add_and_cite_a_new_reference,
    edit_a_template,
    edit_the_settings,
    show_a_reference_on_the_pages,
    retitle_the_shown_reference,
]


@pytest.fixture
def root(generated: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "project"
    shutil.copytree(generated, copy)
    return copy


def test_every_edit_gives_a_cached_build_equal_to_a_plain_one(root: Path, tmp_path: Path) -> None:
    def cached() -> None:
        result = build(root, root / "_site", cache=BuildCache.for_project(root))
        assert result.written, result.problems

    cached()
    for change in EDITS:
        change(root)
        cached()
        assert files_of(root / "_site") == plain(root, tmp_path / "plain"), change.__name__


def test_every_edit_gives_a_preview_equal_to_a_plain_build(root: Path, tmp_path: Path) -> None:
    preview = Preview(root, tmp_path / "served", echo=lambda line: None)
    preview.first_build()
    for change in EDITS:
        change(root)
        result, seconds = preview._build(search_index=False)
        assert result.ok, (change.__name__, result.problems)
        preview._record(result, seconds, preview.inputs.digests(preview.inputs.stats()), [])
        assert files_of(preview.out) == plain(root, tmp_path / "plain"), change.__name__
