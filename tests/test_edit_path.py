"""The fast edit path (edit_path.py): an edit to a study's text that no other page can see is
built for that page alone, and the site it leaves is byte for byte a plain build's (search
index included); every other edit goes the whole way, with the same site and problems."""

from __future__ import annotations

import gc
import os
import re
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backpain_site.build import BuildResult, build
from backpain_site.cache import CACHE_FOLDER
from backpain_site.incremental import BuildCache
from backpain_site.serve import Preview

from conftest import REPO, TODAY

sys.path.insert(0, str(REPO / "benchmarks"))
from generate import reference_key, study_slug

STUDIES = 30
SECTION = "## What it means for you\n\n"


def files_of(folder: Path, *, search_index: bool = True) -> dict[str, bytes]:
    found = {}
    for dirpath, dirnames, filenames in os.walk(folder):
        if not search_index:
            dirnames[:] = [d for d in dirnames if Path(dirpath, d) != folder / "pagefind"]
        for name in filenames:
            path = Path(dirpath, name)
            found[path.relative_to(folder).as_posix()] = path.read_bytes()
    return found


def plain(project: Path, out: Path) -> tuple[dict[str, bytes], BuildResult]:
    shutil.rmtree(out, ignore_errors=True)
    result = build(project, out, today=TODAY)
    return (files_of(out) if result.written else {}), result


def cached(project: Path) -> BuildResult:
    return build(project, project / "_site", today=TODAY, cache=BuildCache.for_project(project))


def study_file(root: Path, index: int) -> Path:
    return root / "content/studies" / f"{study_slug(index)}.md"


def rewrite(path: Path, change: Callable[[str], str]) -> None:
    before = path.read_text(encoding="utf-8")
    after = change(before)
    assert after != before
    path.write_text(after, encoding="utf-8")


def in_body(change: Callable[[str], str]) -> Callable[[str], str]:
    """`change` applied to a study's text only (after its front matter)."""

    def changed(before: str) -> str:
        _, front, body = before.split("---\n", 2)
        return f"---\n{front}---\n{change(body)}"

    return changed


def add_text(text: str) -> Callable[[str], str]:
    return lambda before: before.replace(SECTION, SECTION + text + "\n\n", 1)


@pytest.fixture
def root(generated: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "project"
    shutil.copytree(generated, copy)
    assert cached(copy).written
    return copy


def cited_keys(path: Path) -> list[str]:
    return re.findall(r"@([A-Za-z0-9_:-]+)", path.read_text(encoding="utf-8").split("---", 2)[2])


LOCAL_EDITS: list[tuple[str, Callable[[str], str]]] = [
    ("a new sentence", add_text("A short new sentence.")),
    ("a word changed", in_body(lambda t: t.replace(" the ", " a ", 1))),
    ("a new heading", add_text("### A new part\n\nIt is short.")),
    ("a link to another study", add_text(f"See [this one](/studies/{study_slug(9)}/).")),
    ("text joined to a paragraph", lambda t: t.replace(SECTION, SECTION + "Also: ", 1)),
    # The same front matter, its lines in another order: no page shows where a value was written.
    (
        "two front matter lines swapped",
        lambda t: re.sub(r"(certainty: .*\n)(status: .*\n)", r"\2\1", t),
    ),
]


@pytest.mark.parametrize("name, edit", LOCAL_EDITS, ids=[n for n, _ in LOCAL_EDITS])
def test_a_local_edit_builds_one_page_and_the_site_of_a_plain_build(
    root: Path, tmp_path: Path, name: str, edit: Callable[[str], str]
) -> None:
    rewrite(study_file(root, 2), edit)
    result = cached(root)
    assert result.fast_edit, name
    assert result.written and result.ok
    assert len(result.outputs) == 1
    expected, plain_result = plain(root, tmp_path / "plain")
    assert files_of(root / "_site") == expected
    assert result.problems == plain_result.problems
    assert result.reading_grades == plain_result.reading_grades
    assert result.paths == tuple(
        sorted(expected.keys() - {p for p in expected if p.startswith("pagefind/")})
    )


def test_a_fast_edit_that_ends_the_process_leaves_the_cycle_collector_off(root: Path) -> None:
    # The command line ends its process right after the build (cli.run); the live preview
    # and whole builds go on collecting.
    assert gc.isenabled()
    rewrite(study_file(root, 2), add_text("One more plain sentence."))
    assert cached(root).fast_edit
    assert gc.isenabled()
    rewrite(study_file(root, 3), add_text("Another plain sentence."))
    try:
        ending = build(
            root, root / "_site", today=TODAY, cache=BuildCache.for_project(root), ending=True
        )
        assert ending.fast_edit and ending.ok
        assert not gc.isenabled()
    finally:
        gc.enable()
    rewrite(root / "templates" / "base.html", lambda text: text.replace("</footer>", " </footer>"))
    whole = build(
        root, root / "_site", today=TODAY, cache=BuildCache.for_project(root), ending=True
    )
    assert not whole.fast_edit and whole.ok
    assert gc.isenabled()


def cite_another_source(root: Path) -> None:
    path = study_file(root, 7)
    new = next(k for k in map(reference_key, range(20, 40)) if k not in cited_keys(path))
    rewrite(path, add_text(f"It agrees with another study [@{new}]."))


def cite_a_source_once_more(root: Path) -> None:
    path = study_file(root, 8)
    rewrite(path, add_text(f"As said before [@{cited_keys(path)[0]}]."))


def break_a_link(root: Path) -> None:
    rewrite(study_file(root, 10), add_text("See [nothing](/studies/no-such-study/)."))


def write_a_hard_sentence(root: Path) -> None:
    hard = " ".join(["Notwithstanding methodological heterogeneity, considerable"] * 12) + "."
    rewrite(study_file(root, 11), add_text(hard))


def change_the_title(root: Path) -> None:
    rewrite(study_file(root, 12), lambda t: t.replace('title: "', 'title: "Changed: ', 1))


def add_raw_html(root: Path) -> None:
    rewrite(study_file(root, 13), add_text("<script>alert(1)</script>"))


def edit_a_condition_too(root: Path) -> None:
    rewrite(study_file(root, 14), add_text("A short new sentence."))
    condition = next((root / "content/conditions").glob("*.md"))
    rewrite(condition, lambda t: t + "\nOne more line.\n")


WHOLE_EDITS = [
    cite_another_source,
    cite_a_source_once_more,
    break_a_link,
    write_a_hard_sentence,
    change_the_title,
    add_raw_html,
    edit_a_condition_too,
]


@pytest.mark.parametrize("edit", WHOLE_EDITS, ids=[e.__name__ for e in WHOLE_EDITS])
def test_an_edit_other_pages_can_see_takes_the_whole_path(
    root: Path, tmp_path: Path, edit: Callable[[Path], None]
) -> None:
    before = files_of(root / "_site")
    edit(root)
    result = cached(root)
    assert not result.fast_edit
    expected, plain_result = plain(root, tmp_path / "plain")
    assert result.problems == plain_result.problems
    if plain_result.ok:
        assert files_of(root / "_site") == expected
    else:
        assert files_of(root / "_site") == before  # nothing written, as for any failed build


def test_edits_after_a_fast_edit_and_its_undoing_match_plain_builds(
    root: Path, tmp_path: Path
) -> None:
    path = study_file(root, 2)
    original = path.read_text(encoding="utf-8")
    rewrite(path, add_text("A short new sentence."))
    assert cached(root).fast_edit
    path.write_text(original, encoding="utf-8")  # undone: the page must be the old one again
    assert cached(root).fast_edit
    assert files_of(root / "_site") == plain(root, tmp_path / "plain")[0]
    change_the_title(root)  # then a whole build, after two fast ones
    assert not cached(root).fast_edit
    assert files_of(root / "_site") == plain(root, tmp_path / "plain")[0]
    rewrite(path, add_text("Yet another sentence."))
    assert cached(root).fast_edit
    assert files_of(root / "_site") == plain(root, tmp_path / "plain")[0]


def test_a_damaged_or_foreign_snapshot_is_never_used(root: Path, tmp_path: Path) -> None:
    pack = root / CACHE_FOLDER / "edit.pack"
    data = bytearray(pack.read_bytes())
    # A byte of the edited study's entry changed (its file's name is only in its entry).
    where = bytes(data).rfind(f"content/studies/{study_slug(19)}.md".encode())
    assert where > 0
    data[where] ^= 0xFF
    pack.write_bytes(bytes(data))
    rewrite(study_file(root, 19), add_text("A short new sentence."))
    result = cached(root)
    assert not result.fast_edit and result.written
    assert files_of(root / "_site") == plain(root, tmp_path / "plain")[0]
    pack.write_bytes(pack.read_bytes().replace(b"backpain-site-pack 1", b"backpain-site-pack 0"))
    rewrite(study_file(root, 2), add_text("Another short sentence."))
    assert not cached(root).fast_edit
    pack.unlink()
    rewrite(study_file(root, 3), add_text("Another short sentence."))
    assert not cached(root).fast_edit
    assert files_of(root / "_site") == plain(root, tmp_path / "plain")[0]


def test_an_output_folder_changed_by_hand_takes_the_whole_path(root: Path, tmp_path: Path) -> None:
    (root / "_site/index.html").write_text("changed by hand", encoding="utf-8")
    rewrite(study_file(root, 2), add_text("A short new sentence."))
    assert not cached(root).fast_edit
    assert files_of(root / "_site") == plain(root, tmp_path / "plain")[0]


def test_the_preview_uses_the_fast_path_too(root: Path, tmp_path: Path) -> None:
    preview = Preview(root, tmp_path / "served", echo=lambda line: None)
    preview.first_build()
    for edit in (
        lambda: rewrite(study_file(root, 2), add_text("A short new sentence.")),
        lambda: cite_another_source(root),
        lambda: rewrite(study_file(root, 3), add_text("Another short sentence.")),
    ):
        edit()
        result, seconds = preview._build(search_index=False)
        assert result.ok, result.problems
        preview._record(result, seconds, preview.inputs.digests(preview.inputs.stats()), [])
        expected = plain(root, tmp_path / "plain")[0]
        assert files_of(preview.out, search_index=False) == {
            k: v for k, v in expected.items() if not k.startswith("pagefind/")
        }


SNIPPETS = st.sampled_from(
    [
        "Plain words here.",
        "A [link](/studies/{other}/) to a study.",
        "A [broken link](/studies/missing/).",
        "[@{cited}]",
        "[@{uncited}]",
        "[@no-such-key]",
        "<b>raw</b>",
        "### Heading",
        "- a list item",
        "A sentence with *emphasis* and `code`.",
        "Notwithstanding considerable methodological heterogeneity across the "
        "included randomised controlled trials, investigators nevertheless reported "
        "substantial improvements in functional disability measurements.",
    ]
)


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(st.lists(SNIPPETS, min_size=1, max_size=4))
def test_any_text_edit_leaves_the_site_of_a_plain_build(
    generated: Path, tmp_path_factory: pytest.TempPathFactory, snippets: list[str]
) -> None:
    work = tmp_path_factory.mktemp("edit")
    project = work / "project"
    shutil.copytree(generated, project)
    assert cached(project).written
    path = study_file(project, 2)
    cited = cited_keys(path)[0]
    uncited = next(
        reference_key(i) for i in range(20, 40) if reference_key(i) not in cited_keys(path)
    )
    text = " ".join(s.format(other=study_slug(9), cited=cited, uncited=uncited) for s in snippets)
    rewrite(path, add_text(text))
    result = cached(project)
    expected, plain_result = plain(project, work / "plain")
    assert result.problems == plain_result.problems
    if plain_result.ok:
        assert files_of(project / "_site") == expected


def test_a_fast_edit_takes_its_folder_checks_from_the_child_forked_ahead(
    root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The live and spare folders are checked by a child forked as the build begins
    (incremental._checked_ahead): checked here again, the edit fails."""
    from backpain_site import forked, incremental, writer

    rewrite(study_file(root, 2), add_text("A first sentence."))
    assert cached(root).fast_edit  # the spare folder now has a record
    # A process forks only while no other thread runs, as on the command line, where the
    # build is the process's first work. Here the browser tests' server keeps a thread for
    # the session: forking is allowed anyway (the child reads records and stats files,
    # taking no lock such a thread holds).
    monkeypatch.setattr(forked, "can_fork", lambda: True)

    def not_here(*args: object, **kwargs: object) -> object:
        raise AssertionError("checked again in the parent")

    # The parent's own checks (the child's are incremental's names, made before the fork).
    monkeypatch.setattr(incremental, "check_tree", not_here)
    monkeypatch.setattr(writer, "untrusted_in_spare", not_here)
    rewrite(study_file(root, 3), add_text("A second sentence."))
    result = cached(root)
    assert result.fast_edit and result.ok
    monkeypatch.undo()
    expected, _ = plain(root, tmp_path / "plain")
    assert files_of(root / "_site") == expected


@pytest.mark.parametrize("fork", [True, False], ids=["checked ahead", "checked in the build"])
def test_a_live_page_written_to_in_place_by_hand_is_made_again(
    root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fork: bool
) -> None:
    """The spare folder shares the live page's file (a hard link), so writing to it in place
    changes both: the next build, not fast, must not keep the spare folder's copy as it
    found it (it did: the spare folder's files shared with the live site were trusted
    whatever the live site's check found)."""
    from backpain_site import forked

    monkeypatch.setattr(forked, "can_fork", lambda: fork)
    for index in (2, 3):  # the spare folder then holds a record of its own
        rewrite(study_file(root, index), add_text(f"Sentence {index}."))
        assert cached(root).fast_edit
    page = root / "_site" / "studies" / study_slug(5) / "index.html"
    with page.open("ab") as handle:
        handle.write(b"<!-- changed by hand -->")
    rewrite(study_file(root, 4), add_text("A third sentence."))
    assert not cached(root).fast_edit
    expected, _ = plain(root, tmp_path / "plain")
    assert files_of(root / "_site") == expected
    rewrite(study_file(root, 6), add_text("A fourth sentence."))
    assert cached(root).ok
    expected, _ = plain(root, tmp_path / "plain")
    assert files_of(root / "_site") == expected
