"""Build-speed benchmark: synthetic sites of N studies, each build a separate process.

    python3 benchmarks/run.py                     # N = 1,000 and 10,000, 3 runs each
    python3 benchmarks/run.py --studies 200 --runs 5 --results benchmarks/RESULTS.md

For each N the synthetic site (benchmarks/generate.py, with the project's real templates and
static files) is built, in each run, in this order:

    cold            no cache, no output folder
    warm            nothing changed
    first edit      one study's text changed, just after the cold build (the first
                    incremental build also makes the hidden copy of the site it swaps with)
    study edited    another study's text changed
    reference       one reference's title changed in references.bib

Each build runs as `python3 -m backpain_site build` in its own process; the table gives the
median wall time of the runs, the peak resident memory of the largest process of the build
(the build or one of its workers, from `wait4`), the peak of all its processes together
(their proportional set size, PSS, sampled from /proc every 250 ms: memory a forked worker
shares with the build is counted once), and pages written
per second. Nothing here is needed to build the site.
"""

from __future__ import annotations

import argparse
import compileall
import datetime as dt
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from generate import REPO, generate, reference_key, study_slug

STEPS = ("cold", "warm", "first edit", "study edited", "reference edited")
TARGETS = {  # at N = 10,000 (issue 7)
    "cold": 20.0,
    "warm": 1.0,
    "study edited": 1.5,
}
MEMORY_TARGET_MB = 400
PSS_EVERY_SECONDS = 0.25
LINEAR_TARGET = 11.0


@dataclass
class Measure:
    step: str
    seconds: float
    max_rss_mb: float  # largest single process
    tree_rss_mb: float  # all processes of the build together (PSS), sampled
    pages: int
    output: str


def _machine() -> dict[str, str]:
    cpu = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = ""
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f"{kb / 1024 / 1024:.1f} GB"
    except (OSError, ValueError, IndexError):
        pass
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:
        cores = os.cpu_count() or 1
    load = os.getloadavg() if hasattr(os, "getloadavg") else (0.0, 0.0, 0.0)
    return {
        "date": dt.datetime.now().strftime("%Y-%m-%d %H:%M"),
        "cpu": cpu,
        "cores": str(cores),
        "memory": memory,
        "python": platform.python_version(),
        "system": f"{platform.system()} {platform.release()}",
        "load before": ", ".join(f"{x:.1f}" for x in load),
    }


def _tree_rss(root_pid: int) -> int:
    """Proportional set size (PSS) of `root_pid` and all its descendants, from /proc: memory
    that forked workers share with the build is counted once, not once per process."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        parents[int(entry)] = int(stat.rsplit(")", 1)[1].split()[1])
    children: dict[int, list[int]] = {}
    for pid, parent in parents.items():
        children.setdefault(parent, []).append(pid)
    total, stack = 0, [root_pid]
    while stack:
        pid = stack.pop()
        total += _pss(pid)
        stack.extend(children.get(pid, ()))
    return total


def _pss(pid: int) -> int:
    try:
        rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except OSError:
        return 0
    for line in rollup.splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1]) * 1024
    return 0


def run_build(project: Path, step: str, code: Path) -> Measure:
    command = [sys.executable, "-m", "backpain_site", "build", "--source", str(project)]
    env = {**os.environ, "PYTHONPATH": str(code)}
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    peak_tree = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak_tree
        while not done.is_set():
            peak_tree = max(peak_tree, _tree_rss(process.pid))
            # Reading PSS walks each process's page tables: every 20 ms it took 40% of a core
            # from the build being measured; every 250 ms it costs a few per cent.
            done.wait(PSS_EVERY_SECONDS)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, err = process.communicate()
    seconds = time.perf_counter() - started
    done.set()
    sampler.join()
    # communicate() has reaped the child; its resource use (and that of every descendant it
    # waited for) is in RUSAGE_CHILDREN, whose ru_maxrss is the largest single process so far.
    import resource

    max_rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    if process.returncode != 0:
        raise SystemExit(f"{step} build failed:\n{err.decode()}")
    text = out.decode().strip().splitlines()
    summary = text[0] if text else ""
    pages = (
        int(summary.split(" pages")[0].split()[-1].replace(",", "")) if " pages" in summary else 0
    )
    return Measure(step, seconds, max_rss, peak_tree / 1024 / 1024, pages, summary)


def _isolated(function_args: list[str]) -> Measure:
    """Run one build from a fresh interpreter, so RUSAGE_CHILDREN holds only that build."""
    done = subprocess.run(
        [sys.executable, __file__, "--one", *function_args],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(done.stderr)
    return Measure(**json.loads(done.stdout))


def _edit_study(project: Path, index: int) -> None:
    path = project / "content" / "studies" / f"{study_slug(index)}.md"
    text = path.read_text(encoding="utf-8")
    path.write_text(
        text.replace(
            "## What it means for you\n",
            "## What it means for you\n\nThis sentence was added by the benchmark.\n",
            1,
        ),
        encoding="utf-8",
    )


def _edit_reference(project: Path, index: int) -> None:
    path = project / "content" / "references.bib"
    text = path.read_text(encoding="utf-8")
    start = text.index(f"@article{{{reference_key(index)},")
    title = text.index("title   = {A ", start)
    path.write_text(text[: title + 13] + "revised " + text[title + 13 :], encoding="utf-8")


def benchmark(studies: int, runs: int, work: Path) -> dict[str, list[Measure]]:
    source = work / f"site-{studies}"
    if not source.exists():
        generate(source, studies)
    else:  # the generated content is reused; the theme is always the project's current one
        for folder in ("templates", "static"):
            shutil.rmtree(source / folder)
            shutil.copytree(REPO / folder, source / folder)
    measures: dict[str, list[Measure]] = {step: [] for step in STEPS}
    for run in range(runs):
        project = work / f"run-{studies}"
        shutil.rmtree(project, ignore_errors=True)
        shutil.copytree(source, project)
        for step in STEPS:
            if step == "first edit":
                _edit_study(project, studies // 3)
            elif step == "study edited":
                _edit_study(project, studies // 2)
            elif step == "reference edited":
                _edit_reference(project, studies // 2)
            measure = _isolated([str(project), step, str(work / "src")])
            measures[step].append(measure)
            print(
                f"  N={studies:,} run {run + 1}: {step:<16} {measure.seconds:7.2f} s "
                f"{measure.max_rss_mb:6.0f} MB  {measure.output}",
                flush=True,
            )
        shutil.rmtree(project, ignore_errors=True)
        for leftover in work.glob(f".run-{studies}*"):
            shutil.rmtree(leftover, ignore_errors=True)
    return measures


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else 0.0


def table(results: dict[int, dict[str, list[Measure]]]) -> str:
    lines = [
        "| studies | build | median time | runs (s) | peak RSS, largest process | peak PSS, "
        "all processes | pages/s |",
        "|---:|---|---:|---|---:|---:|---:|",
    ]
    for studies, measures in results.items():
        for step in STEPS:
            got = measures[step]
            if not got:
                continue
            seconds = _median([m.seconds for m in got])
            pages = got[0].pages
            rate = f"{pages / seconds:,.0f}" if step == "cold" and seconds else ""
            lines.append(
                f"| {studies:,} | {step} | {seconds:.2f} s | "
                + ", ".join(f"{m.seconds:.2f}" for m in got)
                + f" | {_median([m.max_rss_mb for m in got]):.0f} MB"
                + f" | {_median([m.tree_rss_mb for m in got]):.0f} MB | {rate} |"
            )
    return "\n".join(lines)


def verdicts(results: dict[int, dict[str, list[Measure]]]) -> list[str]:
    found: list[str] = []
    big = results.get(10_000)
    if big:
        for step, limit in TARGETS.items():
            seconds = _median([m.seconds for m in big[step]])
            found.append(
                f"- {step} at 10,000: {seconds:.2f} s (target {limit:g} s): "
                + ("met" if seconds <= limit else "NOT met")
            )
        peak = max(
            max(_median([m.max_rss_mb for m in big[s]]), _median([m.tree_rss_mb for m in big[s]]))
            for s in STEPS
            if big[s]
        )
        found.append(
            f"- peak memory at 10,000 (largest process or all processes, whichever is more): "
            f"{peak:.0f} MB (target {MEMORY_TARGET_MB} MB): "
            + ("met" if peak <= MEMORY_TARGET_MB else "NOT met")
        )
    small = results.get(1_000)
    if big and small:
        ratio = _median([m.seconds for m in big["cold"]]) / _median(
            [m.seconds for m in small["cold"]]
        )
        found.append(
            f"- cold 10,000 / cold 1,000: {ratio:.1f} (target at most {LINEAR_TARGET:g}): "
            + ("met" if ratio <= LINEAR_TARGET else "NOT met")
        )
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--studies", type=int, nargs="+", default=[1_000, 10_000])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--work", type=Path, default=None, help="scratch folder (default: a temp one)"
    )
    parser.add_argument("--results", type=Path, default=None, help="also write the report here")
    parser.add_argument("--one", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(asdict(run_build(Path(args.one[0]), args.one[1], Path(args.one[2])))))
        return
    machine = _machine()
    work = args.work or Path(tempfile.mkdtemp(prefix="backpain-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    # One version of the code for the whole benchmark, even if the working tree changes meanwhile
    # (a cache is only valid for the code that wrote it).
    shutil.rmtree(work / "src", ignore_errors=True)
    shutil.copytree(REPO / "src", work / "src", ignore=shutil.ignore_patterns("__pycache__"))
    # Compiled once, as installing a package does: with PYTHONDONTWRITEBYTECODE set, every
    # measured build would otherwise compile the package's modules again (about 0.1 s).
    compileall.compile_dir(work / "src", quiet=1)
    results: dict[int, dict[str, list[Measure]]] = {}
    try:
        for studies in args.studies:
            results[studies] = benchmark(studies, args.runs, work)
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    machine["load after"] = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    report = "\n".join(
        [
            "Machine: " + "; ".join(f"{k} {v}" for k, v in machine.items()),
            "",
            table(results),
            "",
            *verdicts(results),
        ]
    )
    print()
    print(report)
    if args.results is not None:
        args.results.write_text(report + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
