"""Cached, incremental builds make exactly the site a plain build makes.

A 200-study synthetic site (benchmarks/generate.py) is built once plainly and once with the
cache; then it is edited in every way an editor can (a study's text, its front matter, a
reference, a template, the site settings, a new study, a removed one) and each incremental
build is compared, byte for byte and file for file, with a plain build of the same content.
Damaged caches and output folders must be detected and repaired, never trusted.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

import jinja2
import pytest

from backpain_site.bibliography import load_bibliography
from backpain_site.bibliography_parts import load_bibliography_in_parts
from backpain_site.build import BuildResult, build
from backpain_site.cache import CACHE_FOLDER, Memo
from backpain_site.incremental import BuildCache
from backpain_site.page_memo import Fingerprints, PageMemo, ReferenceReads
from backpain_site.progress import Progress
from backpain_site.writer import spare_folder

from conftest import REPO, tree

sys.path.insert(0, str(REPO / "benchmarks"))
from generate import reference_key, study_slug

STUDIES = 200
TODAY = dt.date(2026, 11, 21)


def plain(project: Path, out: Path) -> BuildResult:
    shutil.rmtree(out, ignore_errors=True)
    return build(project, out, today=TODAY)


def cached(project: Path) -> BuildResult:
    return build(project, project / "_site", today=TODAY, cache=BuildCache.for_project(project))


def assert_same_site(project: Path, reference: Path) -> None:
    plain(project, reference)
    built, expected = tree(project / "_site"), tree(reference)
    assert sorted(built) == sorted(expected)
    assert [name for name in sorted(built) if built[name] != expected[name]] == []


@pytest.fixture
def project(generated: Path, tmp_path: Path) -> Iterator[Path]:
    root = tmp_path / "project"
    shutil.copytree(generated, root)
    yield root


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def study_file(project: Path, index: int) -> Path:
    return project / "content" / "studies" / f"{study_slug(index)}.md"


def test_cold_warm_and_edited_builds_match_plain_builds(project: Path, tmp_path: Path) -> None:
    reference = tmp_path / "plain"
    first = cached(project)
    assert first.ok, first.problems
    assert first.changed is not None and first.changed >= first.files
    assert_same_site(project, reference)

    # Nothing changed: nothing is read again, rendered or written, and the report is the same.
    before = {p: os.stat(project / "_site" / p).st_ino for p in tree(project / "_site")}
    again = cached(project)
    assert (again.changed, again.outputs, again.files) == (0, {}, first.files)
    assert again.problems == first.problems
    assert again.reading_grades == first.reading_grades
    assert {p: os.stat(project / "_site" / p).st_ino for p in before} == before

    # A study's text: only its own page is rendered again, not the lists it appears in (by
    # the fast edit path, edit_path.py: tests/test_edit_path.py has the edits it refuses).
    edit(
        study_file(project, 10), "## What it means for you\n", "## What it means for you\n\nNew.\n"
    )
    body_edit = cached(project)
    assert body_edit.fast_edit
    rendered = {str(p) for p in body_edit.outputs if p.suffix == ".html"}
    assert rendered == {f"studies/{study_slug(10)}/index.html"}
    assert_same_site(project, reference)

    # A study's front matter: its page and every page that shows its title.
    edit(study_file(project, 11), 'title: "Synthetic', 'title: "Renamed synthetic')
    title_edit = cached(project)
    rendered = {p for p in title_edit.made if p.endswith(".html")}
    assert f"studies/{study_slug(11)}/index.html" in rendered
    assert "studies/index.html" in rendered
    assert_same_site(project, reference)

    # A reference's title: its formatted entry, and the pages that cite it.
    bib = project / "content" / "references.bib"
    key = reference_key(12)
    text = bib.read_text(encoding="utf-8")
    start = text.index(f"@article{{{key},")
    title = text.index("title   = {A ", start)
    bib.write_text(text[: title + 13] + "revised " + text[title + 13 :], encoding="utf-8")
    assert cached(project).ok
    assert_same_site(project, reference)


def test_added_and_removed_files_templates_and_settings(project: Path, tmp_path: Path) -> None:
    reference = tmp_path / "plain"
    assert cached(project).ok
    # A new study (a copy of one, under a new name).
    new = project / "content" / "studies" / "new-study-00001.md"
    new.write_text(study_file(project, 20).read_text(encoding="utf-8"), encoding="utf-8")
    assert cached(project).ok
    assert_same_site(project, reference)
    # A study removed again, and one that no other file links to.
    new.unlink()
    linked = "\n".join(p.read_text() for p in (project / "content").rglob("*.md"))
    lonely = next(i for i in range(STUDIES) if f"/studies/{study_slug(i)}/" not in linked)
    study_file(project, lonely).unlink()
    result = cached(project)
    assert result.ok, result.problems
    assert not (project / "_site" / "studies" / study_slug(lonely)).exists()
    assert_same_site(project, reference)
    # A template: every page shows it, so every page is rendered again.
    edit(project / "templates" / "base.html", "</footer>", "<p>Changed.</p>\n</footer>")
    result = cached(project)
    assert result.pages == sum(1 for p in result.made if p.endswith(".html"))
    assert_same_site(project, reference)
    # The site settings.
    edit(project / "content" / "site.yaml", 'title: "Synthetic', 'title: "Renamed')
    assert cached(project).ok
    assert_same_site(project, reference)


def test_a_build_that_undoes_the_last_one_counts_what_changed(
    project: Path, tmp_path: Path
) -> None:
    """Undone, an edit writes nothing (the previous site, kept beside the live one, already
    holds every file) yet changes every page of the live site back: that is what is counted,
    so the report never says the site was up to date."""
    assert cached(project).ok
    base = project / "templates" / "base.html"
    original = base.read_text(encoding="utf-8")
    edit(base, "</footer>", "<p>Changed.</p>\n</footer>")
    changed = cached(project)
    assert changed.ok, changed.problems
    base.write_text(original, encoding="utf-8")
    undone = cached(project)
    assert undone.ok, undone.problems
    assert undone.changed == changed.changed >= changed.pages
    assert_same_site(project, tmp_path / "plain")


def test_errors_write_nothing_and_the_next_build_recovers(project: Path, tmp_path: Path) -> None:
    assert cached(project).ok
    site = tree(project / "_site")
    edit(study_file(project, 30), "design: ", "desing: ")
    broken = cached(project)
    assert not broken.ok
    assert tree(project / "_site") == site
    edit(study_file(project, 30), "desing: ", "design: ")
    edit(study_file(project, 31), "## What was done\n", "## What was done\n\nFixed.\n")
    assert cached(project).ok
    assert_same_site(project, tmp_path / "plain")


def test_a_damaged_cache_is_rebuilt_not_trusted(project: Path, tmp_path: Path) -> None:
    assert cached(project).ok
    folder = project / CACHE_FOLDER
    shards = sorted(folder.glob("*.bin"))
    assert shards
    # Cut one shard short, flip a byte in another, fill a third (and the record) with junk.
    shards[0].write_bytes(shards[0].read_bytes()[:100])
    data = bytearray(shards[1].read_bytes())
    data[-10] ^= 0xFF
    shards[1].write_bytes(bytes(data))
    shards[2].write_bytes(b"not a cache")
    (folder / "build.record").write_bytes(b"\x00" * 50)
    edit(study_file(project, 40), "## What was done\n", "## What was done\n\nAfter damage.\n")
    cache = BuildCache.for_project(project)
    result = build(project, project / "_site", today=TODAY, cache=cache)
    assert result.ok
    assert sorted(cache.discarded) == sorted(
        [shards[0].name, shards[1].name, shards[2].name, "build.record"]
    )
    assert_same_site(project, tmp_path / "plain")
    # A cache written by other code is stale: ignored, whatever it holds.
    for shard in folder.glob("*.bin"):
        shard.write_bytes(shard.read_bytes().replace(b"\n", b"-other-code\n", 2))
    assert cached(project).ok
    assert_same_site(project, tmp_path / "plain")


def test_a_changed_output_folder_is_repaired(project: Path, tmp_path: Path) -> None:
    assert cached(project).ok
    site = project / "_site"
    page = site / "studies" / study_slug(50) / "index.html"
    with page.open("ab") as handle:  # changed in place: same inode, new size and time
        handle.write(b"<!-- edited by hand -->")
    (site / "studies" / study_slug(51) / "index.html").unlink()
    (site / "stray.txt").write_text("left here by hand")
    result = cached(project)
    assert result.ok
    assert result.changed == 2
    assert_same_site(project, tmp_path / "plain")
    # The previous site is kept beside the live one, sharing its unchanged files.
    spare = spare_folder(site)
    assert spare.is_dir()
    assert os.stat(site / "index.html").st_ino == os.stat(spare / "index.html").st_ino


def test_bibliography_read_in_parts_equals_read_whole(generated: Path) -> None:
    text = (generated / "content" / "references.bib").read_text(encoding="utf-8")
    real = (REPO / "content" / "references.bib").read_text(encoding="utf-8")
    first_entry = text.index("@article")
    cases = [
        text,
        real,
        "@misc{inserted,\n  title = {Moved everything down}\n}\n" + text,  # lines move
        text + text[first_entry:].split("\n}\n", 1)[0] + "\n}\n",  # a duplicate key
        '@string{j = "Journal"}\n' + text,  # a macro other entries may use
        text.replace("  journal", "  journal = {x},\n  journal", 1),  # an error in one entry
        text[:first_entry] + "@article{broken,\n title = {no end\n" + text[first_entry:],
    ]
    for case in cases:
        memo = Memo()
        whole = load_bibliography(case, "content/references.bib")
        assert load_bibliography_in_parts(case, "content/references.bib", memo) == whole
        # and again from the memo, as the next build reads it
        again = load_bibliography_in_parts(case, "content/references.bib", memo.next_build())
        assert again == whole


def test_page_fingerprints_follow_content_not_identity() -> None:
    first, second = Fingerprints(), Fingerprints()
    value = {"a": (1, "x", dt.date(2020, 1, 2)), "b": [PurePosixPath("p")]}
    same = {"a": (1, "x", dt.date(2020, 1, 2)), "b": [PurePosixPath("p")]}
    assert first.of(value) == second.of(same)
    assert first.of(value) != second.of({**same, "a": (2, "x", dt.date(2020, 1, 2))})
    references = {"k": 1}
    year_of = lambda study: references[study]  # noqa: E731 - a closure, as render makes
    before = Fingerprints().of(year_of)
    references["k"] = 2
    assert Fingerprints().of(year_of) != before
    # A value that cannot be told apart by content makes its page render every time.
    pages = PageMemo(b"", {"a.html": (b"", ())}, {"a.html"})
    unpicklable = {"stream": (x for x in ())}
    found = pages.check(PurePosixPath("a.html"), "t.html", {}, unpicklable, ReferenceReads({}))
    assert found == (None, None)


STAND_INS_IN_WORKERS = """
import json, os
from dataclasses import dataclass
from backpain_site import page_memo
from backpain_site.forked import MIN_ITEMS, forked_map
from backpain_site.page_memo import Fingerprints

page_memo.WORKER_STAND_INS = 50


@dataclass(frozen=True)
class Item:
    number: int
    parts: tuple = ()


values = Fingerprints()
# Seen by many pages, as a cited reference is, and holding an object of its own, as a
# reference holds its authors' names (a leaf, holding none, is digested each time it is met).
shared = [Item(-n, (Item(-n - 1000),)) for n in range(20)]


def page(index):
    return {"made": Item(index, (Item(index + 1), shared[index % 20])), "n": index}


digested = []  # the shared items digested, each time one is
real_stand_in = values._stand_in


def counting(obj):
    if any(obj is item for item in shared):
        digested.append(obj.number)
    return real_stand_in(obj)


values._stand_in = counting


def work(index):
    digest = values.of(page(index)).hex()
    return digest, len(values._stand_ins), os.getpid(), len(digested)


found = list(forked_map(work, MIN_ITEMS, 2))
expected = [Fingerprints().of(page(i)).hex() for i in range(MIN_ITEMS)]
here = [work(index) for index in range(MIN_ITEMS)]
print(json.dumps({"found": found, "expected": expected, "here": here, "pid": os.getpid()}))
"""


def test_a_render_worker_keeps_few_stand_ins_and_the_same_digests() -> None:
    """Render makes new objects for every page, and each stand-in keeps its object alive:
    every WORKER_STAND_INS new ones, a forked worker lets go of those only their stand-ins
    hold, and keeps those of objects the site still holds (shared by pages, digested once);
    the build's own process (the live preview carries them to its next build) keeps all.
    Either way, the same values give the same digests. Run in a process of its own:
    forked_map forks only while no other thread runs."""
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    done = subprocess.run(
        [sys.executable, "-c", STAND_INS_IN_WORKERS], capture_output=True, text=True, env=env
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    found, here = result["found"], result["here"]
    workers = {pid for _, _, pid, _ in found} - {result["pid"]}
    assert workers  # made by forked workers
    assert [digest for digest, _, _, _ in found] == result["expected"]
    assert max(held for _, held, _, _ in found) <= 20 + 50 + 1  # the shared ones, 50 new, 1
    for worker in workers:  # the shared items stay: each is digested once in a worker
        assert max(times for _, _, pid, times in found if pid == worker) <= 20
    assert [digest for digest, _, _, _ in here] == result["expected"]
    assert here[-1][1] > 20 + 50  # not a worker: every stand-in kept


def test_a_leaf_is_digested_each_time_and_only_what_holds_objects_is_kept() -> None:
    """A frozen dataclass holding no object that stands in (a reference's author name, a
    study's review dates) is digested again wherever it is met, for nothing is kept of it;
    what holds such objects is kept, with its digest. Either way, the digest is the same."""
    from dataclasses import dataclass

    @dataclass(frozen=True)
    class Name:
        family: str

    @dataclass(frozen=True)
    class Cited:
        key: str
        names: tuple[Name, ...]

    names = (Name("Smith"), Name("Jones"))
    cited = Cited("smith2020", names)
    values = Fingerprints()
    first = values.of({"cited": cited, "names": names})
    kept = {id(obj) for obj, _ in values._stand_ins.values()}
    assert kept == {id(cited)}
    assert values.of({"cited": cited, "names": names}) == first
    assert Fingerprints().of({"cited": cited, "names": names}) == first
    assert values.of({"cited": Cited("smith2020", (Name("Smith"), Name("Jonas")))}) != (
        values.of({"cited": cited})
    )


def test_no_template_reads_a_raw_body() -> None:
    """Page fingerprints leave out `Source.body` (page_memo.py): templates show bodies only
    as resolved HTML, never as the Markdown an editor wrote."""
    env = jinja2.Environment()
    readers = []
    for template in sorted((REPO / "templates").glob("*.html")):
        parsed = env.parse(template.read_text(encoding="utf-8"))
        for node in parsed.find_all(jinja2.nodes.Getattr):
            inner = node.node
            if node.attr == "body" and isinstance(inner, jinja2.nodes.Getattr):
                readers += [template.name] if inner.attr == "source" else []
    assert readers == []


def test_progress_is_one_line_on_a_terminal_and_nothing_elsewhere() -> None:
    shown = io.StringIO()
    progress = Progress(shown, interactive=True)
    progress.stage("converting Markdown", 2_000)
    progress.advance(1_500)
    progress.stage("rendering pages")
    progress.close()
    assert shown.getvalue().split("\r") == [
        "",
        "converting Markdown: 0/2,000",
        "rendering pages: 0          ",
        " " * 28,
        "",
    ]
    quiet = io.StringIO()
    piped = Progress(quiet, interactive=False)
    piped.stage("converting Markdown", 2_000)
    piped.advance(2_000)
    piped.close()
    assert quiet.getvalue() == ""


def test_a_check_keeps_what_only_builds_use(project: Path) -> None:
    """`check` renders nothing: the rendered-page parts of the cache stay for the next build."""
    assert cached(project).ok
    exports = sorted((project / CACHE_FOLDER).glob("exports-*.bin"))
    assert exports
    before = {path: path.stat().st_mtime_ns for path in exports}
    checked = build(project, None, today=TODAY, cache=BuildCache.for_project(project))
    assert checked.ok
    assert {path: path.stat().st_mtime_ns for path in exports} == before


def test_a_planted_cache_shard_is_never_unpickled(tmp_path: Path) -> None:
    """A shard written without this machine's secret (e.g. committed by a pull request) must be
    rejected before pickle ever sees it."""

    from backpain_site.cache import decode_shard, encode_shard

    class Boom:
        def __reduce__(self) -> tuple[object, tuple[str]]:
            return (exec, ("raise SystemExit('pickle ran')",))

    planted = encode_shard("v1", {b"k" * 16: Boom()}, b"attacker-guess".ljust(32, b"x"))
    assert decode_shard(planted, "v1", b"s" * 32) is None
    assert decode_shard(planted, "v1", b"") is None
    honest = encode_shard("v1", {b"k" * 16: 7}, b"s" * 32)
    assert decode_shard(honest, "v1", b"s" * 32) == {b"k" * 16: 7}
