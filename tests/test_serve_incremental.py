"""The live preview renders and writes only what a save changed, and serves the same site.

After each save the preview's folder must hold exactly what a plain `build` of the same content
writes (the search index aside: the preview makes it later, once saving stops), while files
whose bytes did not change are left alone on disk (same inode: not written again).
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pytest

from backpain_site import search_index, writer
from backpain_site.bibliography import Reference
from backpain_site.build import build
from backpain_site.page_memo import Fingerprints
from backpain_site.preview import Fingerprints as PolledInputs
from backpain_site.preview import input_files
from backpain_site.serve import QUICK_SETTLE_SECONDS, Preview

from conftest import REPO, in_a_loop_of_its_own

sys.path.insert(0, str(REPO / "benchmarks"))
from generate import reference_key, study_slug

STUDIES = 40


def pages_of(folder: Path) -> dict[str, bytes]:
    """Every file under `folder` but the search index, with its bytes."""
    found = {}
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = sorted(
            d for d in dirnames if not (dirpath == str(folder) and d == "pagefind")
        )
        for name in filenames:
            path = Path(dirpath, name)
            found[path.relative_to(folder).as_posix()] = path.read_bytes()
    return found


def inodes(folder: Path) -> dict[str, int]:
    return {name: os.stat(folder / name).st_ino for name in pages_of(folder)}


def plain(project: Path, out: Path) -> dict[str, bytes]:
    shutil.rmtree(out, ignore_errors=True)
    assert build(project, out).written
    return pages_of(out)


def save(preview: Preview) -> list[str]:
    """What the preview's poll does once a save has settled: rebuild, write, report."""
    said: list[str] = []
    preview.echo = said.append
    result, seconds = preview._build(search_index=False)
    preview._record(result, seconds, preview.inputs.digests(preview.inputs.stats()), [])
    return said


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


@pytest.fixture
def preview(generated: Path, tmp_path: Path) -> Preview:
    root = tmp_path / "project"
    shutil.copytree(generated, root)
    preview = Preview(root, tmp_path / "served", echo=lambda line: None)
    preview.first_build()
    assert preview.has_site and not preview.errors
    return preview


def test_a_saved_study_rewrites_its_page_only_and_the_site_equals_a_plain_build(
    preview: Preview, tmp_path: Path
) -> None:
    root, served = preview.root, preview.out
    assert pages_of(served) == plain(root, tmp_path / "plain")
    before = inodes(served)

    slug = study_slug(7)
    edit(
        root / "content" / "studies" / f"{slug}.md",
        "## What it means for you\n",
        "## What it means for you\n\nA sentence added in the preview.\n",
    )
    said = save(preview)
    assert said[0].endswith(f"1 file differ: /studies/{slug}/")
    assert pages_of(served) == plain(root, tmp_path / "plain")
    after = inodes(served)
    assert sorted(name for name in after if after[name] != before[name]) == [
        f"studies/{slug}/index.html"
    ]

    # A reference's title: its own page, its downloads and every page citing it change.
    bib = root / "content" / "references.bib"
    text = bib.read_text(encoding="utf-8")
    title = text.index("title   = {A ", text.index(f"@article{{{reference_key(3)},"))
    bib.write_text(text[: title + 13] + "revised " + text[title + 13 :], encoding="utf-8")
    save(preview)
    assert pages_of(served) == plain(root, tmp_path / "plain")


def test_templates_removed_studies_and_broken_content(preview: Preview, tmp_path: Path) -> None:
    root, served = preview.root, preview.out
    # A template: every page is rendered again.
    edit(root / "templates" / "base.html", "</body>", "<!-- edited -->\n</body>")
    save(preview)
    assert pages_of(served) == plain(root, tmp_path / "plain")

    # A study that no other file names, removed: its page and its folder go.
    texts = {p: p.read_text(encoding="utf-8") for p in (root / "content").rglob("*.md")}
    slug = next(
        study_slug(i)
        for i in range(STUDIES)
        if not any(study_slug(i) in text for p, text in texts.items() if p.stem != study_slug(i))
    )
    (root / "content" / "studies" / f"{slug}.md").unlink()
    said = save(preview)
    assert not any("error" in line for line in said), said
    assert not (served / "studies" / slug).exists()
    assert pages_of(served) == plain(root, tmp_path / "plain")

    # Broken content: nothing is written; once fixed, the site is whole again.
    before = pages_of(served)
    study = min((root / "content" / "studies").glob("*.md"))
    good = study.read_text(encoding="utf-8")
    study.write_text(good.replace("certainty:", "certanity:", 1), encoding="utf-8")
    said = save(preview)
    assert "still serving the last good pages" in said[0]
    assert pages_of(served) == before
    study.write_text(good, encoding="utf-8")
    said = save(preview)
    assert said[0].endswith("no page changed; the errors are fixed")
    assert pages_of(served) == plain(root, tmp_path / "plain")


def index_of(folder: Path) -> dict[str, bytes]:
    """Every file of the search index under `folder`, with its bytes."""
    return {
        path.relative_to(folder).as_posix(): path.read_bytes()
        for path in sorted((folder / "pagefind").rglob("*"))
        if path.is_file()
    }


def test_the_deferred_search_index_runs_pagefind_on_changed_shards_only(
    generated: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(search_index, "PAGES_PER_SHARD", 10)  # several shards at 40 studies
    root = tmp_path / "project"
    shutil.copytree(generated, root)
    preview = Preview(root, tmp_path / "served", echo=lambda line: None)
    preview.first_build()
    shards = json.loads((preview.out / search_index.MANIFEST).read_bytes())["merge"]
    assert len(shards) >= 3
    indexed: list[list[str]] = []
    run_pagefind = writer._run_pagefind

    def recorded(stale: Iterable[search_index.Shard], read: Callable[[str], bytes]) -> Any:
        stale = list(stale)
        indexed.append([shard.folder for shard in stale])
        return run_pagefind(stale, read)

    monkeypatch.setattr(writer, "_run_pagefind", recorded)
    slug = study_slug(7)
    edit(
        root / "content" / "studies" / f"{slug}.md",
        "## What it means for you\n",
        "## What it means for you\n\nA zebrafinch sentence added in the preview.\n",
    )
    save(preview)
    assert indexed == []  # the pages first; the index once saving stops
    preview._update_index()
    assert len(indexed) == 1 and len(indexed[0]) == 1  # the edited page's shard alone
    # The same index as a full build of the same pages: new words in, old ones out.
    plain(root, tmp_path / "plain")
    assert index_of(preview.out) == index_of(tmp_path / "plain")
    # Nothing changed since: nothing is indexed again.
    indexed.clear()
    preview._update_index()
    assert indexed == [[]]


def reference(title: str) -> Reference:
    return Reference("a2020", "article", (("title", title),), (), (), 3)


def test_digests_carried_into_a_later_build_follow_content() -> None:
    first = Fingerprints()
    kept = reference("A")
    year = 2020
    closure = lambda: year  # noqa: E731 - a closure: its digest follows what it closes over
    digest = first.of({"kept": kept, "closure": closure})
    later = Fingerprints(first)
    # The same objects give the same digest; an equal new object too; a changed one does not.
    assert later.of({"kept": kept, "closure": closure}) == digest
    assert Fingerprints(later).of({"kept": reference("A"), "closure": closure}) == digest
    assert Fingerprints(later).of({"kept": reference("B"), "closure": closure}) != digest
    # Only frozen dataclasses are carried over: a closure is digested again in every build.
    year = 2021
    assert Fingerprints(later).of({"kept": kept, "closure": closure}) != digest


def test_polled_stats_are_those_of_every_input_file(tmp_path: Path) -> None:
    root = tmp_path / "project"
    for relative in (
        "content/studies/a.md",
        "content/studies/.a.md.swp",  # an editor's swap file: not an input
        "content/.hidden/b.md",
        "static/.well-known/security.txt",  # hidden names count in static/
        "templates/base.html",
        "elsewhere/c.md",
    ):
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_text(relative, encoding="utf-8")
    (root / "content/linked-folder").symlink_to(root / "elsewhere")  # not followed
    (root / "content/linked.md").symlink_to(root / "elsewhere/c.md")  # a file: followed
    stats = PolledInputs(root).stats()
    assert sorted(stats) == [
        "content/linked.md",
        "content/studies/a.md",
        "static/.well-known/security.txt",
        "templates/base.html",
    ]
    assert sorted(stats) == sorted(input_files(root))
    target = os.stat(root / "elsewhere/c.md")
    assert stats["content/linked.md"] == (target.st_mtime_ns, target.st_size, target.st_ino)


def test_a_save_of_one_file_is_built_once_that_file_is_quiet(preview: Preview) -> None:
    """The first tick that sees a small save checks its files again a moment later, instead of
    waiting for a whole second tick; a file still being written waits for the ticks."""
    page = preview.out / "studies" / study_slug(5) / "index.html"
    source = preview.root / "content" / "studies" / f"{study_slug(5)}.md"

    async def saved_once() -> None:
        preview.poll()  # nothing changed since the first build
        edit(source, "## What it means for you\n", "## What it means for you\n\nSaved once.\n")
        preview.poll()  # sees the save; no second tick follows in this test
        assert not preview.building
        await asyncio.sleep(QUICK_SETTLE_SECONDS * 10)
        assert preview._task is not None  # built with no second tick
        await preview._task

    in_a_loop_of_its_own(saved_once)
    assert "Saved once." in page.read_text(encoding="utf-8")

    async def still_being_written() -> None:
        done = preview._task
        edit(source, "Saved once.", "Saved twice.")
        preview.poll()
        edit(source, "Saved twice.", "Saved three times, the last one longer.")
        await asyncio.sleep(QUICK_SETTLE_SECONDS * 10)
        assert preview._task is done  # the file changed since the tick: not built yet
        preview.poll()  # the next tick sees the newest bytes, and the one after settles them
        preview.poll()
        assert preview._task is not done and preview._task is not None
        await preview._task

    in_a_loop_of_its_own(still_being_written)
    assert "Saved three times, the last one longer." in page.read_text(encoding="utf-8")
