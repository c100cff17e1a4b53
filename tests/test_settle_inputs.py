"""The live preview trusts inputs saved just before a build by their times again, once they
are old enough, so the first save after starting does not hash every input again; a change
that their times cannot show is never missed for it."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from backpain_site import incremental
from backpain_site.build import build
from backpain_site.incremental import RACY_NS, BuildCache

from conftest import TODAY, write_project

STUDY_FILE = "content/studies/smith-2020.md"


def inputs_of(root: Path) -> list[Path]:
    return [p for top in ("content", "templates", "static") for p in (root / top).rglob("*")]


@pytest.fixture
def hashed(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    """Every input the cache hashes (incremental.py), as it hashes it."""
    seen: list[bytes] = []
    digest = incremental.file_digest

    def counting(data: bytes) -> bytes:
        seen.append(data)
        return digest(data)

    monkeypatch.setattr(incremental, "file_digest", counting)
    return seen


def later(monkeypatch: pytest.MonkeyPatch, seconds: float) -> None:
    """The cache's clock, `seconds` on (rather than waiting for it)."""
    real: Callable[[], int] = time.time_ns
    monkeypatch.setattr(incremental.time, "time_ns", lambda: real() + int(seconds * 1e9))


def saved_just_before(root: Path) -> None:
    """Every input modified a second ago: within RACY_NS of the build about to start."""
    moment = time.time() - 1
    for path in inputs_of(root):
        os.utime(path, (moment, moment))


def preview_build(root: Path, cache: BuildCache) -> str:
    """A build as the live preview makes it; the study's page, when it was made again."""
    result = build(root, None, today=TODAY, cache=cache)
    assert result.ok, result.problems
    pages = [p for p in result.outputs if str(p).startswith("studies/smith-2020/")]
    return result.outputs[pages[0]].decode() if pages else ""


def test_racy_inputs_are_settled_once_old_enough(
    tmp_path: Path, hashed: list[bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    root = write_project(tmp_path / "project")
    saved_just_before(root)
    cache = BuildCache.in_memory(root)
    preview_build(root, cache)
    files = len(hashed)
    assert files >= len([p for p in inputs_of(root) if p.is_file()]) > 5
    # Too soon: they were saved less than RACY_NS ago, so nothing can be settled yet.
    assert cache.settle_inputs() == 0

    hashed.clear()
    preview_build(root, cache)  # racy: every input is hashed again
    assert len(hashed) == files

    later(monkeypatch, RACY_NS / 1e9 + 1)
    hashed.clear()
    assert cache.settle_inputs() == files  # each checked once, now
    assert len(hashed) == files
    hashed.clear()
    preview_build(root, cache)
    assert hashed == []  # trusted by their times: none hashed again
    assert cache.settle_inputs() == 0  # nothing left to settle


def test_a_change_the_times_cannot_show_is_never_settled_away(
    tmp_path: Path, hashed: list[bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rewritten within the clock's granularity, a file keeps its size and time: only its
    bytes tell. Settling must see that, and leave the file for the next build to read."""
    root = write_project(tmp_path / "project")
    saved_just_before(root)
    cache = BuildCache.in_memory(root)
    assert "Pain may have eased a little." in preview_build(root, cache)
    study = root / STUDY_FILE
    status = study.stat()
    changed = study.read_text().replace(
        "Pain may have eased a little.", "Pain eased a little, we hope."
    )
    assert len(changed.encode()) == status.st_size
    study.write_text(changed, encoding="utf-8")
    os.utime(study, ns=(status.st_atime_ns, status.st_mtime_ns))  # the same time, as if racy

    later(monkeypatch, RACY_NS / 1e9 + 1)
    assert cache.settle_inputs() > 0
    hashed.clear()
    page = preview_build(root, cache)
    assert "Pain eased a little, we hope." in page
    # Read again by its bytes, as racy, so the build knew which file changed (the fast edit
    # path depends on it), not trusted by the time the change kept.
    assert changed.encode() in hashed
