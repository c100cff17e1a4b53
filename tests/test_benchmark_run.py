"""The benchmark's structure (benchmarks/run.py): which builds are timed, which are sampled.

Input: a tiny synthetic site and a fake `backpain_site` package whose "build" only prints a
summary line. Output: assertions that the memory (PSS) sampler runs in the separate memory pass
only, that the table's times come from the unsampled passes only, and that each copy of the
site is flushed to disk before its cold build. Nothing here is timed.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parent.parent

# It lives a moment so the memory pass's sampler finds it running (the sampler's first reading
# is taken as the process starts, so this is not a timing assumption of the assertions).
FAKE_MAIN = 'import time\ntime.sleep(0.2)\nprint("Built 7 pages into _site")\n'


def _load_run() -> ModuleType:
    """benchmarks/run.py under a name of its own (`run` alone is too common a module name)."""
    spec = importlib.util.spec_from_file_location("benchmark_run", REPO / "benchmarks" / "run.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["benchmark_run"] = module
    spec.loader.exec_module(module)
    return module


run = _load_run()


def _fake_package(code: Path) -> None:
    """A `backpain_site` whose build prints a summary line and does nothing else."""
    package = code / "backpain_site"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("", encoding="utf-8")
    (package / "__main__.py").write_text(FAKE_MAIN, encoding="utf-8")


def _measure(step: str, seconds: float, pss: float | None) -> object:
    return run.Measure(step, seconds, 100.0, pss, 7, "Built 7 pages", pss is not None)


def test_memory_pass_comes_first_and_alone_is_sampled(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    events: list[tuple[str, ...]] = []
    monkeypatch.setattr(run.os, "sync", lambda: events.append(("sync",)))

    def build(project: Path, step: str, code: Path, sample_pss: bool) -> object:
        assert (project / "content" / "references.bib").is_file()
        events.append((step, "sampled" if sample_pss else "timed"))
        return _measure(step, 1.0, 50.0 if sample_pss else None)

    measures = run.benchmark(3, 2, tmp_path, build)

    one_pass = list(run.STEPS)
    expected = [("sync",), *[(step, "sampled") for step in one_pass]]
    for _ in range(2):
        expected += [("sync",), *[(step, "timed") for step in one_pass]]
    assert events == expected
    assert all(len(measures[step]) == 3 for step in run.STEPS)


def test_no_copy_is_deleted_until_the_benchmark_ends(tmp_path: Path) -> None:
    """Deleting a pass's files just before the next cold build slowed it by 40% (run.FINISHED):
    every pass's copy stays, put aside, until every size has run, and then goes."""
    aside: list[int] = []

    def build(project: Path, step: str, code: Path, sample_pss: bool) -> object:
        if step == "cold":
            finished = tmp_path / run.FINISHED
            aside.append(len(list(finished.iterdir())) if finished.exists() else 0)
        (project.parent / f".{project.name}.previous").mkdir(exist_ok=True)  # as a build makes
        return _measure(step, 1.0, 50.0 if sample_pss else None)

    run.run_all([3, 4], 2, tmp_path, build)

    assert aside == [0, 1, 2, 3, 4, 5]  # three passes (memory, two timed) of each size
    assert not (tmp_path / run.FINISHED).exists()
    assert not list(tmp_path.glob("*run-*"))


def test_table_times_only_the_timed_passes_and_pss_only_the_memory_pass() -> None:
    results = {
        1_000: {
            step: [_measure(step, 999.0, 321.0), *[_measure(step, s, None) for s in (1, 2, 3)]]
            for step in run.STEPS
        }
    }

    table = run.table(results)

    assert "999" not in table
    cold = next(line for line in table.splitlines() if "| cold |" in line)
    assert "| 2.00 s | 1.00, 2.00, 3.00 |" in cold
    assert "| 100 MB | 321 MB |" in cold
    assert "(sampled separately)" in table.splitlines()[0]


def test_run_build_samples_pss_only_when_asked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    samples: list[int] = []

    def tree_rss(pid: int) -> int:
        samples.append(pid)
        return 64 * 1024 * 1024

    monkeypatch.setattr(run, "_tree_rss", tree_rss)
    _fake_package(tmp_path / "code")

    timed = run.run_build(tmp_path, "cold", tmp_path / "code", False)
    assert samples == []
    assert timed.tree_pss_mb is None and not timed.sampled
    assert timed.pages == 7

    sampled = run.run_build(tmp_path, "cold", tmp_path / "code", True)
    assert samples, "the memory pass never sampled"
    assert sampled.tree_pss_mb == 64.0 and sampled.sampled


def test_whole_benchmark_through_separate_processes(tmp_path: Path) -> None:
    """The real command path (`run.py --one ... [--sample-pss]`) with the fake package."""
    _fake_package(tmp_path / "src")

    measures = run.benchmark(3, 3, tmp_path)

    for step in run.STEPS:
        got = measures[step]
        assert [m.sampled for m in got] == [True, False, False, False]
        assert got[0].tree_pss_mb is not None and got[0].tree_pss_mb > 0
        assert all(m.tree_pss_mb is None for m in got[1:])
        assert all(m.pages == 7 for m in got)
    assert not (tmp_path / "run-3").exists()
    assert os.listdir(tmp_path / "site-3" / "content")
