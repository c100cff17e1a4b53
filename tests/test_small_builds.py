"""Small builds (issue 7): a build with nothing to do, and a fast edit, take short cuts that
must never change what they find or write. The record of an output folder, checked straight
from its columns and rewritten from the folders a build touched, describes the folder exactly;
syllables are counted as textstat counts them; a build with nothing to do loads no stage."""

from __future__ import annotations

import os
import pickle
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import textstat  # a dependency of the package: the comparison always runs

from backpain_site import cli, new
from backpain_site.build import build
from backpain_site.cache import PACK_FORMAT, PackReader, joined, pack_parts
from backpain_site.incremental import BuildCache, BuildRecord
from backpain_site.output_tree import (
    FileRecord,
    TreeRecord,
    check_tree,
    file_digest,
    folders_of,
    inodes_of,
    record_of,
    tree_record,
)
from backpain_site.readability import _token

from conftest import REPO, TODAY

sys.path.insert(0, str(REPO / "benchmarks"))
from generate import study_slug

STUDIES = 12
SECTION = "## What it means for you\n\n"


def _tree(folder: Path, files: dict[str, bytes]) -> TreeRecord:
    records = {}
    for relative, data in files.items():
        target = folder / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        records[relative] = record_of(str(target), file_digest(data))
    return tree_record(folder, records)


FILES = {
    "index.html": b"<p>home</p>",
    "studies/a/index.html": b"<p>a</p>",
    "studies/b/index.html": b"<p>b</p>",
    "studies/b/extra.txt": b"b",
    "references/k/index.bib": b"@misc{k}",
}


def test_a_record_read_back_is_checked_from_its_columns_as_the_record_itself(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "site"
    record = _tree(folder, FILES)
    read_back = pickle.loads(pickle.dumps(record, protocol=5))
    assert dict(read_back.files) == dict(record.files)
    assert read_back.folders == record.folders
    assert list(read_back.files) == list(record.files)  # the same order
    assert inodes_of(read_back) == inodes_of(record) == {r.inode for r in record.files.values()}
    again = pickle.loads(pickle.dumps(read_back, protocol=5))  # columns pickled as they are
    assert dict(again.files) == dict(record.files)
    whole = check_tree(folder, read_back)
    assert whole.exact and whole.intact is read_back.files  # all intact: not copied

    (folder / "studies/a/index.html").write_bytes(b"<p>A</p>")  # same folder entries
    (folder / "studies/b/extra.txt").unlink()
    for checked in (record, read_back):
        check = check_tree(folder, checked)
        assert sorted(check.intact) == [
            "index.html",
            "references/k/index.bib",
            "studies/b/index.html",
        ]
        assert check.intact["index.html"] == record.files["index.html"]
        assert check.changed_folders == {"studies/b"}


def test_a_record_with_unusual_digests_is_kept_whole(tmp_path: Path) -> None:
    folder = tmp_path / "site"
    folder.mkdir()
    (folder / "f").write_bytes(b"x")
    record = tree_record(folder, {"f": record_of(str(folder / "f"), b"short")})
    read_back = pickle.loads(pickle.dumps(record))
    assert dict(read_back.files) == {"f": record.files["f"]}
    assert check_tree(folder, read_back).intact == {"f": record.files["f"]}


def test_a_record_made_from_known_folder_times_reads_again_only_those_touched(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "site"
    record = _tree(folder, FILES)
    (folder / "studies/a/index.html").unlink()
    (folder / "studies/a/index.html").write_bytes(b"<p>A</p>")
    files = dict(record.files)
    files["studies/a/index.html"] = record_of(str(folder / "studies/a/index.html"), b"d" * 16)
    made = tree_record(folder, files, record.folders, folders_of({"studies/a/index.html"}))
    assert made == tree_record(folder, files)  # as if every folder were read again
    # A folder not said to be touched keeps its recorded time, even if it changed since: the
    # next check then finds it changed (never the other way round).
    (folder / "studies/b/new.txt").write_bytes(b"new")
    stale = tree_record(folder, files, record.folders, folders_of({"studies/a/index.html"}))
    assert check_tree(folder, stale).changed_folders == {"studies/b"}
    # Other folders than those recorded: every one is read.
    fewer = {k: v for k, v in files.items() if not k.startswith("references/")}
    assert tree_record(folder, fewer, record.folders, ()) == tree_record(folder, fewer)


def test_a_pack_head_damaged_in_any_way_reads_as_empty() -> None:
    secret, version = b"s" * 32, "v1"
    data = bytes(joined(pack_parts(version, {"a": 1, "b": [2]}, secret)))
    assert PackReader(data, version, secret).get("b") == [2]
    head_end = data.index(b"\n", data.index(b"\n", data.index(b"\n") + 1) + 1)
    damaged = [
        data[:10],
        data.replace(PACK_FORMAT, b"backpain-site-pack 0", 1),
        data.replace(b"\n", b" ", 1),
        data[: head_end + 1] + b"x" + data[head_end + 2 :],  # the length line
        data[:-3],
    ]
    for broken in damaged[:-1]:
        assert "a" not in PackReader(broken, version, secret)
    assert PackReader(data, "v2", secret).get("a") is None
    assert PackReader(damaged[-1], version, secret).get("b") is None  # cut short: entry lost


def _tokens() -> set[str]:
    found = set()
    for path in sorted((REPO / "content").rglob("*.md")):
        found.update(path.read_text(encoding="utf-8").split())
    tricky = "it's well-known e.g. 1.2% 8,270 naïve Ünïcödé — -- '' \"quoted\" (a) [1] x_y"
    found.update([*tricky.split(), "İstanbul", "ÆSIR", "coöperate", "3D", "mid-2020s"])
    return found


def test_syllables_and_words_are_counted_as_textstat_counts_them() -> None:
    different = []
    for token in sorted(_tokens()):
        words = len(textstat.remove_punctuation(token).split())
        theirs = (words, textstat.syllable_count(token) if words else 0)
        if _token(token) != theirs:
            different.append((token, _token(token), theirs))
    assert different == []


def test_the_new_command_offers_every_kind_of_file_new_makes() -> None:
    assert tuple(new.KINDS) == cli.NEW_KINDS


def _edit(root: Path, index: int, sentence: str) -> None:
    path = root / "content/studies" / f"{study_slug(index)}.md"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace(SECTION, SECTION + sentence + "\n\n", 1), encoding="utf-8")


def _cached(root: Path) -> bool:
    result = build(root, root / "_site", today=TODAY, cache=BuildCache.for_project(root))
    assert result.ok and result.written
    return result.fast_edit


def _folder_as_it_is(folder: Path) -> tuple[dict[str, FileRecord], dict[str, int]]:
    """Every file of `folder` (its digest, size, time, inode) and every folder's time."""
    files = {}
    folders = {".": os.stat(folder).st_mtime_ns}
    for dirpath, dirnames, filenames in os.walk(folder):
        for name in dirnames:
            path = Path(dirpath, name)
            folders[path.relative_to(folder).as_posix()] = os.stat(path).st_mtime_ns
        for name in filenames:
            path = Path(dirpath, name)
            files[path.relative_to(folder).as_posix()] = record_of(
                str(path), file_digest(path.read_bytes())
            )
    return files, folders


def _edited_twice(generated: Path, tmp_path: Path) -> Path:
    """A copy of the generated project, built whole, then two of its studies edited (each a
    fast edit): the live site and the spare folder both exist, as the record says."""
    root = tmp_path / "project"
    shutil.copytree(generated, root)
    assert not _cached(root)
    for index in (2, 5):
        _edit(root, index, f"A new sentence in study {index}.")
        assert _cached(root)
    return root


def _assert_the_record_describes_both_folders(root: Path) -> None:
    cache = BuildCache.for_project(root)
    record, spare = cache.record, cache.spare_tree()
    assert isinstance(record, BuildRecord) and spare is not None
    for folder, recorded in ((root / "_site", record.live), (root / "._site.previous", spare)):
        files, folders = _folder_as_it_is(folder)
        assert dict(recorded.files) == files
        assert dict(recorded.folders) == folders
        stat = os.stat(folder)
        assert (recorded.device, recorded.inode) == (stat.st_dev, stat.st_ino)


def test_after_fast_edits_the_record_describes_both_folders_exactly(
    generated: Path, tmp_path: Path
) -> None:
    root = tmp_path / "project"
    shutil.copytree(generated, root)
    assert not _cached(root)
    for number, index in enumerate((2, 5, 2, 7)):
        _edit(root, index, f"A short new sentence, number {number}.")
        assert _cached(root)
        _assert_the_record_describes_both_folders(root)


def test_a_fast_edit_renames_the_live_tree_file_and_an_unmatched_set_is_no_record(
    generated: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "project"
    shutil.copytree(generated, root)
    folder = root / ".cache" / "backpain_site"
    assert not _cached(root)
    _edit(root, 2, "A first new sentence.")
    assert _cached(root)
    live_before = (folder / "live.record").read_bytes()
    head_before = (folder / "build.record").read_bytes()
    _edit(root, 5, "A second new sentence.")
    assert _cached(root)
    # The last live tree is the spare one now: its file renamed, not written again.
    assert (folder / "spare.record").read_bytes() == live_before
    # A fast edit whose Pagefind fails leaves the record as it was, and no scratch file.
    live_now = (folder / "live.record").read_bytes()
    head_now = (folder / "build.record").read_bytes()
    monkeypatch.setenv("PAGEFIND_BINARY_PATH", "/bin/false")
    _edit(root, 7, "A third new sentence.")
    failed = build(root, root / "_site", today=TODAY, cache=BuildCache.for_project(root))
    assert not failed.ok and failed.fast_edit
    assert (folder / "live.record").read_bytes() == live_now
    assert (folder / "build.record").read_bytes() == head_now
    assert sorted(p.name for p in folder.iterdir() if p.name.startswith(".")) == []
    monkeypatch.delenv("PAGEFIND_BINARY_PATH")
    # Files of two different records (a build killed between writing them) are no record.
    (folder / "build.record").write_bytes(head_before)
    assert BuildCache.for_project(root).record is None
    assert not _cached(root)  # the whole build does the work, and writes a record again
    assert BuildCache.for_project(root).record is not None


def test_a_spare_tree_file_not_the_records_is_not_used(generated: Path, tmp_path: Path) -> None:
    root = _edited_twice(generated, tmp_path)
    folder = root / ".cache" / "backpain_site"
    # The spare tree is read only when needed: one that is not the record's is not used, and
    # the writer compares the spare folder's files themselves, as for a folder it never saw.
    (folder / "spare.record").write_bytes((folder / "live.record").read_bytes())
    cache = BuildCache.for_project(root)
    assert cache.record is not None and cache.spare_tree() is None
    _edit(root, 7, "A third new sentence.")
    assert _cached(root)
    _assert_the_record_describes_both_folders(root)


def test_an_edit_after_the_spare_folder_changed_by_hand_publishes_no_scratch_file(
    generated: Path, tmp_path: Path
) -> None:
    # Its record no longer trusted, the spare folder is compared file by file; one that is
    # already a link to the live file must not be linked again: renaming a link over another
    # link to the same file does nothing, and the staging name stayed, in the published site
    # (339 of them at 40 studies, before).
    root = _edited_twice(generated, tmp_path)
    (root / "._site.previous" / "stray.txt").write_text("left here by hand", encoding="utf-8")
    _edit(root, 7, "A third new sentence.")
    assert _cached(root)
    for site in (root / "_site", root / "._site.previous"):
        assert [p.name for p in site.rglob(".*")] == []
    assert not (root / "_site" / "stray.txt").exists()
    _assert_the_record_describes_both_folders(root)


def test_a_build_with_nothing_to_do_imports_no_stage(generated: Path, tmp_path: Path) -> None:
    root = tmp_path / "project"
    shutil.copytree(generated, root)
    command = [sys.executable, "-m", "backpain_site", "build", "--source", str(root)]
    subprocess.run(command, capture_output=True, check=True)  # today's date, as the next one
    script = (
        "import sys\n"
        "from backpain_site.cli import main\n"
        f"code = main(['build', '--source', {str(root)!r}])\n"
        "heavy = ('markdown', 'jinja2', 'citeproc', 'bibtexparser', 'yaml', 'textstat',\n"
        "         'backpain_site.render', 'backpain_site.resolve', 'backpain_site.load')\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in heavy or m in heavy))\n"
        "sys.exit(code)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=False, cwd=root
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert re.fullmatch(
        r"\d+ pages \(\d+ files\) in .*_site are up to date; 0 warnings; .* s", lines[0]
    )
    assert lines[-1] == "[]"


def test_the_summary_reads_back_as_it_was(generated: Path, tmp_path: Path) -> None:
    root = tmp_path / "project"
    shutil.copytree(generated, root)
    assert not _cached(root)
    record = BuildCache.for_project(root).record
    assert isinstance(record, BuildRecord)
    summary = record.summary
    assert len(summary.reading_grades) == STUDIES + 9
    assert any(grade.longest for grade in summary.reading_grades)
    assert pickle.loads(pickle.dumps(summary, protocol=5)) == summary
