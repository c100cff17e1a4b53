"""The preview's inotify watcher (watch.py), the stats it updates (preview.Fingerprints.updated)
and the preview driven by its events (serve.Preview), without a server process.

The kernel queues an inotify event while the file system call that causes it runs, so a read
right after a change sees it: nothing here waits for time to pass, except for the rebuilds.
"""

from __future__ import annotations

import asyncio
import errno
import os
import random
import shutil
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from backpain_site import serve, watch
from backpain_site.preview import Fingerprints
from backpain_site.serve import Preview
from backpain_site.watch import IN_Q_OVERFLOW, Changes, Watcher, WatchUnavailable

from conftest import REPO, in_a_loop_of_its_own

sys.path.insert(0, str(REPO / "benchmarks"))
from generate import study_slug

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="inotify: Linux")

STUDIES = 12


def put(root: Path, relative: str, text: str = "x") -> None:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    for relative in (
        "content/site.yaml",
        "content/studies/a.md",
        "content/studies/b.md",
        "templates/base.html",
        "static/site.css",
        "static/.well-known/security.txt",
        "elsewhere/c.md",
    ):
        put(root, relative, relative)
    return root


@pytest.fixture
def watcher(project: Path) -> Any:
    watching = Watcher(project)
    assert watching.read() == Changes()  # nothing happened yet
    yield watching
    watching.close()


def test_a_created_modified_and_deleted_file_is_named(project: Path, watcher: Watcher) -> None:
    put(project, "content/studies/new.md")
    assert "content/studies/new.md" in watcher.read().paths
    put(project, "content/studies/a.md", "edited")
    assert watcher.read().paths == {"content/studies/a.md"}
    (project / "templates/base.html").unlink()
    assert watcher.read().paths == {"templates/base.html"}
    os.utime(project / "static/site.css", (1, 1))
    assert watcher.read().paths == {"static/site.css"}
    assert watcher.read() == Changes()


def test_renames_within_into_and_out_of_the_project(project: Path, watcher: Watcher) -> None:
    (project / "content/studies/a.md").rename(project / "content/studies/renamed.md")
    assert watcher.read().paths == {"content/studies/a.md", "content/studies/renamed.md"}
    (project / "elsewhere/c.md").rename(project / "content/studies/c.md")  # an editor's save
    assert watcher.read().paths == {"content/studies/c.md"}
    (project / "content/studies/b.md").rename(project.parent / "b.md")
    assert watcher.read().paths == {"content/studies/b.md"}


def test_a_new_folder_is_watched_and_what_landed_in_it_first_is_named(
    project: Path, watcher: Watcher
) -> None:
    # The file is written before the watcher has read the folder's creation, so before the
    # folder has a watch of its own: only looking into the new folder finds it.
    put(project, "content/new/deeper/first.md")
    assert {"content/new", "content/new/deeper", "content/new/deeper/first.md"} <= set(
        watcher.read().paths
    )
    put(project, "content/new/deeper/second.md")
    assert watcher.read().paths == {"content/new/deeper/second.md"}
    (project / "content/new").rename(project / "content/moved")
    assert {"content/new", "content/moved"} <= watcher.read().paths
    put(project, "content/moved/deeper/third.md")
    assert watcher.read().paths == {"content/moved/deeper/third.md"}
    shutil.rmtree(project / "content/moved")
    assert "content/moved" in watcher.read().paths


def test_hidden_names_are_ignored_outside_static_and_symlinked_folders_are_not_followed(
    project: Path, watcher: Watcher
) -> None:
    put(project, "content/studies/.a.md.swp")
    put(project, "content/.hidden/b.md")
    put(project, "templates/.base.html~")
    assert watcher.read() == Changes()
    put(project, "content/.hidden/c.md")  # a hidden folder is not watched at all
    assert watcher.read() == Changes()
    put(project, "static/.well-known/security.txt", "edited")
    put(project, "static/.nojekyll")
    assert watcher.read().paths == {"static/.well-known/security.txt", "static/.nojekyll"}
    (project / "content/linked").symlink_to(project / "elsewhere", target_is_directory=True)
    assert watcher.read().paths == {"content/linked"}
    put(project, "elsewhere/d.md")  # inside the symlinked folder: the build does not see it
    assert watcher.read() == Changes()
    put(project, "not-an-input.md")
    assert watcher.read() == Changes()


def test_a_replaced_top_folder_is_everything_and_is_watched_again(
    project: Path, watcher: Watcher
) -> None:
    (project / "content").rename(project / "content-old")
    put(project, "content/studies/a.md")
    assert watcher.read().everything
    put(project, "content/studies/b.md")
    assert watcher.read().paths == {"content/studies/b.md"}
    put(project, "content-old/studies/b.md", "old")  # moved away: no longer an input
    assert watcher.read() == Changes()
    # Removed, then made again after the watcher saw it go: only the root's watch sees that.
    shutil.rmtree(project / "content")
    assert watcher.read().everything
    put(project, "content/studies/c.md")
    assert watcher.read().everything
    put(project, "content/studies/d.md")
    assert watcher.read().paths == {"content/studies/d.md"}


def test_lost_events_are_everything_and_the_folders_are_watched_again(
    project: Path, watcher: Watcher, monkeypatch: pytest.MonkeyPatch
) -> None:
    overflow = watch._EVENT.pack(-1, IN_Q_OVERFLOW, 0, 0)
    queued = [overflow]
    real_read = os.read

    def read(fd: int, size: int) -> bytes:
        if queued:
            return queued.pop()
        return real_read(fd, size)

    # A folder made while the kernel dropped its events (here: the read that would see the
    # folder's creation is replaced by the overflow) is watched once the overflow is read.
    put(project, "content/lost/a.md")
    with monkeypatch.context() as patched:
        patched.setattr(watch.os, "read", read)
        assert watcher.read().everything
    watcher.read()  # the real events of the folder, queued before it was watched again
    put(project, "content/lost/b.md")
    assert watcher.read().paths == {"content/lost/b.md"}


def test_when_inotify_cannot_start_the_watcher_says_why(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def too_many(self: object) -> int:
        raise OSError(errno.EMFILE, "Too many open files")

    with monkeypatch.context() as patched:
        patched.setattr(watch._Inotify, "init", too_many)
        with pytest.raises(WatchUnavailable, match="too many inotify instances"):
            Watcher(project)

    def no_watches_left(self: object, fd: int, path: str, mask: int) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    with monkeypatch.context() as patched:
        patched.setattr(watch._Inotify, "add_watch", no_watches_left)
        with pytest.raises(WatchUnavailable, match="max_user_watches"):
            Watcher(project)
    monkeypatch.setattr(watch.sys, "platform", "darwin")
    with pytest.raises(WatchUnavailable, match="Linux only"):
        Watcher(project)


# The stats updated from named paths are those a whole listing gives.


def scramble(root: Path, rng: random.Random, step: int) -> set[str]:
    """A few random edits of the kinds editors, tools and `git checkout` make; returns the
    paths they touched (files and folders, relative to `root`)."""
    touched: set[str] = set()
    folders = ["content", "content/studies", "content/pages/deep", "templates", "static/img"]
    folders += ["static/.well-known", "content/.hidden", "content/gone"]
    for _ in range(rng.randint(1, 6)):
        folder = rng.choice(folders)
        name = rng.choice(["a.md", "b.md", ".swp", "c.html", "d.css", "sub"])
        relative = f"{folder}/{name}"
        path = root / relative
        action = rng.choice(["write", "write", "delete", "rename", "folder", "link", "rmtree"])
        touched.add(relative)
        if path.is_dir() and not path.is_symlink() and action in ("write", "link"):
            action = "rmtree"
        if action == "write":
            path.parent.mkdir(parents=True, exist_ok=True)
            if path.is_symlink():
                path.unlink()
            path.write_text(f"{relative} {step} {rng.random()}", encoding="utf-8")
            touched.add(folder)  # the folders it may have made
        elif action == "delete" and (path.is_file() or path.is_symlink()):
            path.unlink()
        elif action == "rename" and path.exists():
            target = rng.choice(folders) + "/" + rng.choice(["r.md", "s.md"])
            (root / target).parent.mkdir(parents=True, exist_ok=True)
            if (root / target).is_dir() and not (root / target).is_symlink():
                shutil.rmtree(root / target)
            elif (root / target).exists() or (root / target).is_symlink():
                (root / target).unlink()
            path.rename(root / target)
            touched |= {target, target.rsplit("/", 1)[0]}
        elif action == "folder":
            if path.is_file() or path.is_symlink():
                path.unlink()
            (path / "inner").mkdir(parents=True, exist_ok=True)
            (path / "inner" / "x.md").write_text(f"{step}", encoding="utf-8")
            (path / ".y.md").write_text(f"{step}", encoding="utf-8")
        elif action == "link" and not path.exists() and path.parent.is_dir():
            # A symlinked file is followed, a symlinked folder is not.
            path.symlink_to(root / rng.choice(["outside/file.md", "outside"]))
        elif action == "rmtree" and path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
    return touched


def test_updated_stats_equal_a_whole_listing_after_random_edits(project: Path) -> None:
    put(project, "outside/file.md")
    inputs = Fingerprints(project)
    stats = inputs.stats()
    rng = random.Random(20240607)
    for step in range(150):
        touched = scramble(project, rng, step)
        stats = inputs.updated(stats, touched)
        assert stats == inputs.stats(), step
    # Paths no listing has, and a whole top folder, named too.
    put(project, "outside/other.md")
    put(project, "content/.hidden/a.md")
    (project / "content/linked").symlink_to(project / "outside", target_is_directory=True)
    named = {"outside/other.md", "content/.hidden/a.md", "content/linked/other.md", "x"}
    assert inputs.updated(stats, named) == stats
    assert inputs.updated(stats, {"content/linked"}) == stats == inputs.stats()
    shutil.rmtree(project / "content")
    assert inputs.updated(stats, {"content"}) == inputs.stats()


def test_the_watchers_paths_give_the_stats_of_a_whole_listing(
    project: Path, watcher: Watcher
) -> None:
    put(project, "outside/file.md")
    inputs = Fingerprints(project)
    stats = inputs.stats()
    rng = random.Random(7)
    for step in range(150):
        scramble(project, rng, step)  # what it touched is not told: the events must say it
        changes = watcher.read()
        stats = inputs.stats() if changes.everything else inputs.updated(stats, changes.paths)
        assert stats == inputs.stats(), step


# The preview, driven by the watcher's events in an event loop of its own.


async def until(check: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    """Let the event loop run until `check` holds (a generous bound: only a hang fails)."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"never happened: {what}")
        await asyncio.sleep(0.01)


def edit(path: Path, sentence: str) -> None:
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("## What it means for you\n", f"{sentence}\n", 1), "utf-8")


@pytest.fixture
def preview(generated: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    root = tmp_path / "project"
    shutil.copytree(generated, root)
    # Only events may tell the preview about a save here: no safety listing comes.
    monkeypatch.setattr(serve, "SAFETY_LISTING_SECONDS", 3600.0)
    said: list[str] = []
    preview = Preview(root, tmp_path / "served", echo=said.append)
    assert preview.watch() == ""
    preview.first_build()
    assert preview.has_site and not preview.errors
    yield preview
    preview.stop_watching()


def study(preview: Preview, number: int) -> tuple[Path, Path]:
    slug = study_slug(number)
    return (
        preview.root / "content" / "studies" / f"{slug}.md",
        preview.out / "studies" / slug / "index.html",
    )


def test_a_save_is_rebuilt_from_events_and_the_index_follows(
    preview: Preview, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(serve, "INDEX_DELAY_SECONDS", 0.05)
    indexed: list[bool] = []
    real_index = preview._update_index

    def update_index() -> None:
        indexed.append(True)
        real_index()

    monkeypatch.setattr(preview, "_update_index", update_index)
    real_build = preview._build

    def build_outlasting_the_quiet_timer(**options: Any) -> Any:
        # The index must follow even when the rebuild ends after the quiet timer has fired.
        deadline = time.monotonic() + 30
        while preview._quiet is not None and time.monotonic() < deadline:
            time.sleep(0.005)
        return real_build(**options)

    monkeypatch.setattr(preview, "_build", build_outlasting_the_quiet_timer)
    source, page = study(preview, 3)
    watcher = preview.watcher
    assert watcher is not None

    async def work() -> None:
        preview.start_watching()
        assert preview._tickers[0].callback == preview._list_all  # no 50 ms polling
        edit(source, "Seen through inotify.")
        await until(lambda: "Seen through inotify." in page.read_text("utf-8"), "the rebuild")
        await until(lambda: bool(indexed) and not preview.building, "the search index")
        preview.stop_watching()

    in_a_loop_of_its_own(work)
    assert watcher.fd == -1 and preview.watcher is None


def test_a_save_during_the_first_build_is_built_once_the_loop_runs(preview: Preview) -> None:
    source, page = study(preview, 5)
    edit(source, "Saved while the first build ran.")  # after its listing, before the loop

    async def work() -> None:
        preview.start_watching()
        await until(lambda: "first build ran" in page.read_text("utf-8"), "the rebuild")

    in_a_loop_of_its_own(work)


def test_saves_during_a_build_are_built_after_it(
    preview: Preview, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, first_page = study(preview, 2)
    second, second_page = study(preview, 7)
    gate = threading.Event()
    real_build = preview._build

    def held_build(**options: Any) -> Any:
        gate.wait(30)  # the rebuild runs until the test has saved the second file
        return real_build(**options)

    monkeypatch.setattr(preview, "_build", held_build)
    said: list[str] = []
    preview.echo = said.append

    async def work() -> None:
        preview.start_watching()
        edit(first, "First save.")
        await until(lambda: preview.building, "the first rebuild")
        edit(second, "Second save, during the first rebuild.")
        await until(lambda: bool(preview._dirty), "the second save's events, read and kept")
        gate.set()
        # The first rebuild may read the second file's new bytes already; the second save must
        # still be taken in afterwards, as a rebuild of its own.
        named = f"] content/studies/{second.name} changed: rebuilt"
        await until(lambda: any(named in line for line in said), "the second rebuild")
        await until(lambda: not preview.building, "the end of the second rebuild")

    in_a_loop_of_its_own(work)
    assert "First save." in first_page.read_text(encoding="utf-8")
    assert "Second save, during" in second_page.read_text(encoding="utf-8")
    assert preview._settled == preview.inputs.stats()


def test_without_inotify_the_preview_polls(
    generated: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def unavailable(self: object, root: Path) -> None:
        raise WatchUnavailable("inotify is Linux only (this is plan9)")

    monkeypatch.setattr(serve.Watcher, "__init__", unavailable)
    root = tmp_path / "project"
    shutil.copytree(generated, root)
    preview = Preview(root, tmp_path / "served", echo=lambda line: None)
    assert preview.watch() == "inotify is Linux only (this is plan9)"
    preview.first_build()
    source, page = study(preview, 4)

    async def work() -> None:
        preview.start_watching()
        assert preview.watcher is None
        assert [t.callback for t in preview._tickers] == [preview.poll]
        edit(source, "Seen by polling.")
        await until(lambda: "Seen by polling." in page.read_text("utf-8"), "the rebuild")
        preview.stop_watching()

    in_a_loop_of_its_own(work)
