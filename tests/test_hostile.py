"""The bad-input corpus (tests/hostile/): every case refused with its exact messages, in time,
without a traceback and without touching the previous site; and the hostile input that may
build (escaped or sanitised) builds into pages where nothing can run or load from elsewhere.

Each case is a folder: `case.toml` (what it covers, what it needs that git cannot hold: links,
pipes, names unsafe on Windows), `expected.txt` (the exact error output) and the files it puts
over the small project of tests/conftest.py. See tests/hostile/README.md. Set
UPDATE_HOSTILE=1 to rewrite `expected.txt` from the current output (and review the diff).
"""

from __future__ import annotations

import json
import os
import select
import shutil
import subprocess
import sys
import tomllib
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from backpain_site.build import build

from conftest import REPO, TODAY, write_project
from sitecheck import snapshot, unsafe_markup

CASES_DIR = Path(__file__).resolve().parent / "hostile"
DEFAULT_BUDGET = 10.0  # seconds for fork + build; every case takes well under one
_NOT_OVERLAY = {"case.toml", "expected.txt"}
# A study outside the project, valid in every way: if a link to it were followed, it would build.
OUTSIDE_STUDY = (REPO / "tests" / "conftest.py").read_text(encoding="utf-8")


@dataclass(frozen=True)
class Case:
    name: str
    folder: Path
    about: str
    builds: bool
    budget: float
    remove: tuple[str, ...] = ()
    files: dict[str, str] = field(default_factory=dict)
    symlinks: dict[str, str] = field(default_factory=dict)
    fifos: tuple[str, ...] = ()
    generated: tuple[dict[str, Any], ...] = ()

    @property
    def expected(self) -> list[str]:
        path = self.folder / "expected.txt"
        return path.read_text(encoding="utf-8").splitlines() if path.exists() else []


def load_case(folder: Path) -> Case:
    spec = tomllib.loads((folder / "case.toml").read_text(encoding="utf-8"))
    return Case(
        name=folder.name,
        folder=folder,
        about=spec["about"],
        builds=spec.get("outcome", "error") == "builds",
        budget=float(spec.get("budget_seconds", DEFAULT_BUDGET)),
        remove=tuple(spec.get("remove", ())),
        files=dict(spec.get("files", {})),
        symlinks=dict(spec.get("symlinks", {})),
        fifos=tuple(spec.get("fifos", ())),
        generated=tuple(spec.get("generated", ())),
    )


CASES = [load_case(p) for p in sorted(CASES_DIR.iterdir()) if (p / "case.toml").is_file()]
ERROR_CASES = [c for c in CASES if not c.builds]
BUILDING_CASES = [c for c in CASES if c.builds]


def make_project(case: Case, root: Path) -> Path:
    """The conftest project with the case's files over it."""
    write_project(root)
    outside = root.parent / "outside"
    outside.mkdir(exist_ok=True)
    (outside / "secret.md").write_text(OUTSIDE_STUDY, encoding="utf-8")
    for source in sorted(case.folder.rglob("*")):
        relative = source.relative_to(case.folder)
        if source.is_file() and str(relative) not in _NOT_OVERLAY:
            target = root / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(source.read_bytes())
    for relative in case.remove:
        (root / relative).unlink()
    for relative, text in case.files.items():
        target = root / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(text.encode("utf-8"))
    for spec in case.generated:
        text = spec.get("head", "") + spec["text"] * int(spec["times"]) + spec.get("tail", "")
        (root / spec["path"]).write_bytes(text.encode("utf-8"))
    for relative, target_text in case.symlinks.items():
        link = root / relative
        link.parent.mkdir(parents=True, exist_ok=True)
        link.unlink(missing_ok=True)
        link.symlink_to(target_text.replace("{outside}", str(outside)))
    for relative in case.fifos:
        (root / relative).unlink(missing_ok=True)
        os.mkfifo(root / relative)
    return root


@dataclass(frozen=True)
class Run:
    exit: int | None
    seconds: float
    timed_out: bool
    stdout: str
    stderr: str


class Worker:
    """tests/hostile/runner.py: one process, a forked child per build."""

    def __init__(self, env: dict[str, str]) -> None:
        self.process = subprocess.Popen(
            [sys.executable, str(CASES_DIR / "runner.py")],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            encoding="utf-8",
            env=env,
        )

    def run(self, argv: list[str], folder: Path, budget: float) -> Run:
        assert self.process.stdin is not None and self.process.stdout is not None
        out, err = folder / "stdout.txt", folder / "stderr.txt"
        request = {
            "argv": argv,
            "stdout": str(out),
            "stderr": str(err),
            "budget": budget,
            "today": TODAY.isoformat(),
        }
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()
        ready, _, _ = select.select([self.process.stdout], [], [], budget + 30)
        assert ready, "the hostile-case runner stopped answering"
        answer = json.loads(self.process.stdout.readline())
        return Run(
            answer["exit"],
            answer["seconds"],
            answer["timed_out"],
            out.read_text(encoding="utf-8") if out.exists() else "",
            err.read_text(encoding="utf-8") if err.exists() else "",
        )

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(timeout=30)


@pytest.fixture(scope="module")
def worker() -> Iterator[Worker]:
    # A locale with no UTF-8 at all: reading content must never depend on the machine's.
    env = {
        **os.environ,
        "LC_ALL": "C",
        "LANG": "C",
        "PYTHONUTF8": "0",
        "PYTHONCOERCECLOCALE": "0",
        "PYTHONPATH": os.pathsep.join([str(REPO / "src"), os.environ.get("PYTHONPATH", "")]),
    }
    running = Worker(env)
    yield running
    running.close()


@pytest.fixture(scope="module")
def previous_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A site built from the clean project: what every failed build must leave alone."""
    root = write_project(tmp_path_factory.mktemp("previous") / "project")
    result = build(root, root / "_site", today=TODAY)
    assert result.written, [str(p) for p in result.problems]
    return root / "_site"


def _check_expected(case: Case, output: str) -> None:
    if os.environ.get("UPDATE_HOSTILE"):
        (case.folder / "expected.txt").write_text(output, encoding="utf-8")
    assert output.splitlines() == case.expected


def test_the_corpus_is_big_enough() -> None:
    areas = {c.name.split("-", 1)[0] for c in ERROR_CASES}
    assert areas == {"yaml", "bib", "md", "path", "enc"}
    assert len(ERROR_CASES) >= 40
    assert all(c.about for c in CASES)


@pytest.mark.parametrize("case", ERROR_CASES, ids=[c.name for c in ERROR_CASES])
def test_bad_input_is_refused_and_the_previous_site_kept(
    case: Case, worker: Worker, previous_site: Path, tmp_path: Path
) -> None:
    root = make_project(case, tmp_path / "project")
    shutil.copytree(previous_site, root / "_site", symlinks=True)
    os.utime(root / "_site" / "index.html", ns=(1_000_000_000, 1_000_000_000))
    before = snapshot(root / "_site")

    run = worker.run(["build", "--source", str(root)], tmp_path, case.budget)

    assert not run.timed_out, f"{case.name} took more than {case.budget} s"
    _check_expected(case, run.stderr)
    assert run.stdout == ""
    assert run.exit == 1
    assert run.seconds < case.budget
    assert snapshot(root / "_site") == before
    # No half-written copy left beside it either.
    assert sorted(p.name for p in root.iterdir() if p.name.startswith("._site")) == []


@pytest.mark.parametrize("case", BUILDING_CASES, ids=[c.name for c in BUILDING_CASES])
def test_hostile_input_that_builds_cannot_run_or_load_anything(
    case: Case, worker: Worker, previous_site: Path, tmp_path: Path
) -> None:
    root = make_project(case, tmp_path / "project")

    run = worker.run(["build", "--source", str(root)], tmp_path, case.budget)

    assert not run.timed_out, f"{case.name} took more than {case.budget} s"
    _check_expected(case, run.stderr)
    assert run.exit == 0, run.stderr
    assert run.stdout.startswith("wrote ")
    # What the templates themselves make (an inline SVG, a button) is in the clean site too.
    added = Counter(unsafe_markup(root / "_site")) - Counter(unsafe_markup(previous_site))
    assert sorted(added.elements()) == []
