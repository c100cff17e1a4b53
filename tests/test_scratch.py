"""Scratch folders: held while a build works in them, removed once a killed build left them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from backpain_site.writer import HeldFolder, remove_abandoned, remove_abandoned_beside

HOUR_AGO = time.time() - 3600


def aged(folder: str | Path) -> None:
    os.utime(folder, (HOUR_AGO, HOUR_AGO))


def test_a_held_folder_is_kept_and_a_released_one_removed(tmp_path: Path) -> None:
    held = HeldFolder(tmp_path, "work-")
    (Path(held.path) / "page.html").write_text("half written")
    aged(held.path)
    assert remove_abandoned(tmp_path, ["work-"]) == []
    assert os.path.isdir(held.path)
    held.release()
    held.release()  # idempotent
    assert remove_abandoned(tmp_path, ["work-"]) == [os.path.basename(held.path)]
    assert not os.path.exists(held.path)


def test_only_old_folders_with_the_prefixes_are_taken(tmp_path: Path) -> None:
    young = tmp_path / "work-young"
    young.mkdir()  # made an instant ago: its build may not have held it yet
    other = tmp_path / "mine"
    other.mkdir()
    aged(other)
    plain_file = tmp_path / "work-file"
    plain_file.write_text("not a folder")
    os.utime(plain_file, (HOUR_AGO, HOUR_AGO))
    target = tmp_path / "elsewhere"
    target.mkdir()
    aged(target)
    (tmp_path / "work-link").symlink_to(target)
    assert remove_abandoned(tmp_path, ["work-"]) == []
    assert young.is_dir() and other.is_dir() and plain_file.is_file() and target.is_dir()


def test_a_killed_holder_lets_its_folder_go(tmp_path: Path) -> None:
    """The system drops the hold when the process dies, however it dies (SIGKILL here)."""
    script = (
        "import sys, time\n"
        "from backpain_site.writer import HeldFolder\n"
        f"held = HeldFolder({str(tmp_path)!r}, 'work-')\n"
        "print(held.path, flush=True)\n"
        "time.sleep(600)\n"
    )
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None
    path = child.stdout.readline().strip()
    aged(path)
    assert remove_abandoned(tmp_path, ["work-"]) == []  # its build is still running
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=30)
    assert remove_abandoned(tmp_path, ["work-"]) == [os.path.basename(path)]


def test_a_previous_site_is_removed_only_beside_a_site(tmp_path: Path) -> None:
    """A build killed between moving the old site aside and putting the new one in place leaves
    the old site as `.{site}.old-*`: with no site, it is all there is, so it stays."""
    old = tmp_path / "._site.old-abc"
    old.mkdir()
    (old / "index.html").write_text("the only copy")
    spill = tmp_path / "._site.spill-abc"
    spill.mkdir()
    for folder in (old, spill):
        aged(folder)
    assert remove_abandoned_beside(tmp_path / "_site") == ["._site.spill-abc"]
    assert old.is_dir()
    (tmp_path / "_site").mkdir()
    assert remove_abandoned_beside(tmp_path / "_site") == ["._site.old-abc"]
