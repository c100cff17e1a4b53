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
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from backpain_site.bibliography import load_bibliography
from backpain_site.build import build
from backpain_site.cli import main
from backpain_site.load import is_base_url
from backpain_site.problems import error

from conftest import REPO, TODAY, write_project
from hostile_cases import BUILDING_CASES, CASES, CASES_DIR, ERROR_CASES, Case, make_project
from sitecheck import parse, snapshot, unsafe_markup


@dataclass(frozen=True)
class Run:
    exit: int | None
    cpu: float  # the build's CPU seconds: what the time budget is for
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
        ready, _, _ = select.select([self.process.stdout], [], [], max(6 * budget, 60) + 30)
        assert ready, "the hostile-case runner stopped answering"
        answer = json.loads(self.process.stdout.readline())
        return Run(
            answer["exit"],
            answer["cpu"],
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

    assert not run.timed_out, f"{case.name} was still running after {run.seconds:.0f} s"
    _check_expected(case, run.stderr)
    assert run.stdout == ""
    assert run.exit == 1
    assert run.cpu < case.budget
    assert snapshot(root / "_site") == before
    # No half-written copy left beside it either.
    assert sorted(p.name for p in root.iterdir() if p.name.startswith("._site")) == []


@pytest.mark.parametrize("case", BUILDING_CASES, ids=[c.name for c in BUILDING_CASES])
def test_hostile_input_that_builds_cannot_run_or_load_anything(
    case: Case, worker: Worker, previous_site: Path, tmp_path: Path
) -> None:
    root = make_project(case, tmp_path / "project")

    run = worker.run(["build", "--source", str(root)], tmp_path, case.budget)

    assert not run.timed_out, f"{case.name} was still running after {run.seconds:.0f} s"
    _check_expected(case, run.stderr)
    assert run.exit == 0, run.stderr
    assert run.stdout.startswith("wrote ")
    # What the templates themselves make (an inline SVG, a button) is in the clean site too.
    added = Counter(unsafe_markup(root / "_site")) - Counter(unsafe_markup(previous_site))
    assert sorted(added.elements()) == []


PAYLOAD = '</script><script>window.__pwned=1</script><img src=x onerror="window.__pwned=2">'


def strings_in(value: object) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from strings_in(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings_in(item)


def test_front_matter_payloads_are_text_everywhere_json_ld_included(tmp_path: Path) -> None:
    case = next(c for c in BUILDING_CASES if c.name == "ok-escaped-front-matter")
    root = make_project(case, tmp_path / "project")
    assert build(root, root / "_site", today=TODAY).written
    soup = parse(root / "_site" / "studies" / "smith-2020" / "index.html")
    title = f"A trial {PAYLOAD}"
    assert soup.h1 is not None and soup.h1.get_text() == title
    assert soup.title is not None and soup.title.get_text().startswith(f"{title} · ")
    description = soup.select_one('meta[name="description"]')
    assert description is not None and description["content"] == f"Pain {PAYLOAD} eased"
    blocks = soup.select('script[type="application/ld+json"]')
    assert blocks
    for block in blocks:
        code = block.string or ""
        assert "<" not in code  # so no '</script>' can end the block early
        assert title in set(strings_in(json.loads(code)))


def test_a_large_bibliography_is_read_in_seconds_with_its_error_placed() -> None:
    entry = "@article{{k{0},\n  author = {{Smith, J. and Doe, A.}},\n  title = {{Trial {0}}},\n}}\n"
    text = "".join(entry.format(i) for i in range(10_000)) + "@article{broken,\n  title = {x\n"
    assert len(text) > 700_000
    started = time.perf_counter()
    references, problems = load_bibliography(text, "r.bib")
    assert time.perf_counter() - started < 10
    assert len(references) == 10_000
    assert problems == [
        error(
            "r.bib",
            40_001,
            "entry 'broken' could not be read: it is not closed before the file ends",
        )
    ]


@pytest.mark.parametrize(
    ("out", "message"),
    [
        (".", "it holds the project itself; choose a folder of its own, such as _site"),
        ("..", "it holds the project itself; choose a folder of its own, such as _site"),
        ("content", "it is inside the project's content/ folder, which the build reads"),
        ("static/site", "it is inside the project's static/ folder, which the build reads"),
        (
            "notes",
            "it holds files but no built site (no index.html), so replacing it would lose them",
        ),
    ],
)
def test_an_output_folder_that_would_replace_other_files_is_refused(
    tmp_path: Path, out: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    root = write_project(tmp_path / "project", {"notes/todo.txt": "Ask Ann about doses.\n"})
    before = snapshot(tmp_path)
    target = root / out
    assert main(["build", "--source", str(root), "--out", str(target)]) == 2
    assert capsys.readouterr().err == f"backpain-site: error: --out {target}: {message}\n"
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize(
    ("base_url", "accepted"),
    [
        ("https://example.org/", True),
        ("https://example.org/back-pain/", True),
        ("http://localhost:8000/", True),
        ("https://[example.org/", False),  # urlsplit raised on it: a traceback, not a problem
        ("https://!!python/name:os.systemexample.org/", False),  # a host that is not one
        ("https://example.org/a/../", False),
        ("https://user@example.org/", False),
        ("https://example.org/?q=1/", False),
        ("https://example.org", False),
        ("javascript:alert(1)//", False),
    ],
)
def test_only_a_site_address_is_a_base_url(base_url: str, accepted: bool) -> None:
    assert is_base_url(base_url) is accepted
