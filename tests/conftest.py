"""Shared test helpers: small projects written into tmp_path with the real templates/static."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import shutil
import sys
import textwrap
import threading
from collections.abc import Callable, Coroutine, Mapping
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

# In CI the property tests draw the same examples every run, so a commit passes or fails on
# its own merits; on an editor's machine they keep exploring new examples (failures are kept
# in .hypothesis/ and replayed first).
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "benchmarks"))
from generate import generate  # noqa: E402 - the benchmark's site generator, found above


@pytest.fixture(scope="module")
def generated(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A synthetic site of the test module's `STUDIES` studies, made once per module."""
    studies: int = request.module.STUDIES
    return generate(tmp_path_factory.mktemp("generated") / "site", studies)


def tree(folder: Path) -> dict[str, bytes]:
    """Every file under `folder` with its bytes (the comparison is of whole sites)."""
    found = {}
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames.sort()
        for name in filenames:
            path = Path(dirpath, name)
            found[path.relative_to(folder).as_posix()] = path.read_bytes()
    return found


TODAY = dt.date(2026, 11, 21)

SITE_YAML = """\
title: "Test site"
tagline: "A small site for tests."
base_url: "https://example.org/"
language: "en"
publisher: "Test editors"
editors:
  - name: "Ann Editor"
    role: "editor"
funding: "No funding."
conflicts: "No conflicts."
advertising: "No adverts."
contact: "Write to us."
"""

BIB = """\
@article{smith2020trial,
  author  = {Smith, Jane and Y{\\"u}ksel, Kamil},
  title   = {A randomised trial of acupuncture for {MRI}-confirmed back pain},
  journal = {Pain Journal},
  year    = {2020},
  volume  = {10},
  number  = {2},
  pages   = {100--110},
  doi     = {10.1000/pj.2020.1},
  pmid    = {12345678}
}

@misc{agency2019facts,
  author       = {{National Back Pain Agency}},
  title        = {Back pain facts},
  howpublished = {Fact sheet},
  year         = {2019}
}
"""

CONDITION = """\
---
title: Low back pain
summary: Pain in the lower back.
bottom_line: Acupuncture may help a little for a short time.
order: 1
last_reviewed: 2026-11-01
next_review: 2029-11-01
findings:
  - outcome: Pain
    comparison: Acupuncture compared with no acupuncture
    effect: Acupuncture may reduce pain a little.
    certainty: low
    studies: [smith-2020]
---
Back pain is common [@agency2019facts]. One trial tested acupuncture [@smith2020trial].

See [the trial](/studies/smith-2020/) and [the disclaimer](/pages/disclaimer/).
"""

STUDY = """\
---
title: A trial of acupuncture for back pain
design: rct
subjects: people
population: Adults with back pain
conditions: [low-back-pain]
participants: 120
intervention: Acupuncture
comparison: Usual care
outcomes: [Pain]
follow_up: 12 weeks
key_finding: Pain may have eased a little.
certainty: not-graded
status: published
references: [smith2020trial]
limits: [One small trial.]
last_reviewed: 2026-11-01
next_review: 2029-11-01
---
The trial compared acupuncture with usual care [@smith2020trial; @agency2019facts].
Later we cite the trial again [@smith2020trial].
"""

CLAIM = """\
---
claim: Acupuncture cures back pain.
verdict: overstated
check_id: T-1
references: [smith2020trial]
order: 1
last_reviewed: 2026-11-01
next_review: 2029-11-01
---
The trial found a small effect [@smith2020trial].
"""

PAGE = """\
---
title: Disclaimer
summary: This is not medical advice.
nav_order: 1
last_reviewed: 2026-11-01
next_review: 2029-11-01
---
Talk to a doctor.
"""

BASE_FILES: dict[str, str] = {
    "content/site.yaml": SITE_YAML,
    "content/references.bib": BIB,
    "content/conditions/low-back-pain.md": CONDITION,
    "content/studies/smith-2020.md": STUDY,
    "content/claims/cures.md": CLAIM,
    "content/pages/disclaimer.md": PAGE,
}


def write_project(root: Path, files: Mapping[str, str | bytes | None] | None = None) -> Path:
    """Write a project: the base files, overridden (or removed, with None) by `files`."""
    merged: dict[str, str | bytes | None] = {**BASE_FILES, **(files or {})}
    shutil.copytree(REPO / "templates", root / "templates", dirs_exist_ok=True)
    shutil.copytree(REPO / "static", root / "static", dirs_exist_ok=True)
    for relative, text in merged.items():
        if text is None:
            continue
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(textwrap.dedent(text), encoding="utf-8")
    return root


@pytest.fixture
def project(tmp_path: Path) -> Callable[..., Path]:
    def make(files: Mapping[str, str | bytes | None] | None = None) -> Path:
        return write_project(tmp_path / "project", files)

    return make


def in_a_loop_of_its_own(work: Callable[[], Coroutine[Any, Any, None]]) -> None:
    """Run `work` in a new event loop on a thread of its own (as the server runs the preview):
    earlier tests (the browser tests) can leave an event loop running on this thread."""
    failed: list[BaseException] = []

    def run() -> None:
        try:
            asyncio.run(work())
        except BaseException as exc:  # handed to the test's thread
            failed.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    if failed:
        raise failed[0]
