"""Reproducible builds: the real site built twice, from copies in different folders, at different
times, with different clocks, time zones, locales and hash seeds, is byte-for-byte the same,
and holds no trace of where or when it was built.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

from backpain_site.build import build

from conftest import REPO

INPUTS = ("content", "templates", "static")


def copy_project(target: Path, mtime: float) -> Path:
    for folder in INPUTS:
        shutil.copytree(REPO / folder, target / folder)
    for path in target.rglob("*"):
        os.utime(path, (mtime, mtime))  # the files' own times must not reach the output
    return target


def build_in_subprocess(root: Path, env: dict[str, str]) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "backpain_site", "build", "--source", str(root)],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "PYTHONPATH": str(REPO / "src"), **env},
        timeout=600,
    )
    assert done.returncode == 0, done.stderr


def site_files(out: Path) -> dict[str, bytes]:
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in out.rglob("*") if p.is_file()}


def test_two_builds_of_the_real_site_are_byte_identical(tmp_path: Path) -> None:
    first = copy_project(tmp_path / "a" / "project", mtime=1_000_000_000)
    second = copy_project(tmp_path / "b" / "elsewhere" / "copy of the site", mtime=1_700_000_000)

    build_in_subprocess(
        first, {"TZ": "UTC", "LC_ALL": "C.UTF-8", "PYTHONHASHSEED": "1", "LANG": "C.UTF-8"}
    )
    time.sleep(1.1)  # any clock reading at one-second resolution now differs
    build_in_subprocess(
        second,
        {"TZ": "Pacific/Kiritimati", "LC_ALL": "C", "PYTHONHASHSEED": "2", "LANG": "C"},
    )

    one, two = site_files(first / "_site"), site_files(second / "_site")
    assert sorted(one) == sorted(two)
    assert [name for name in sorted(one) if one[name] != two[name]] == []
    assert len(one) > 50
    for name, data in one.items():
        assert str(tmp_path).encode() not in data, f"{name} names the folder it was built in"


def test_the_day_of_the_build_changes_no_output() -> None:
    """Only the content's own dates may show; the day a build runs may only add warnings."""
    reviewed = [
        dt.date.fromisoformat(day)
        for path in sorted((REPO / "content").rglob("*.md"))
        for day in re.findall(r"^last_reviewed: (\S+)$", path.read_text(encoding="utf-8"), re.M)
    ]
    first_day = max(reviewed)
    a = build(REPO, None, today=first_day)
    b = build(REPO, None, today=first_day + dt.timedelta(days=3 * 365))
    assert a.outputs and a.outputs == b.outputs
