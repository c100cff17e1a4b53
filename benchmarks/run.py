"""Build-speed benchmark: synthetic sites of N studies, each build a separate process.

    python3 benchmarks/run.py                     # N = 1,000 and 10,000, 3 runs each
    python3 benchmarks/run.py --studies 200 --runs 5 --results benchmarks/RESULTS.md

For each N the synthetic site (benchmarks/generate.py, with the project's real templates and
static files) is built, in each pass, in this order:

    cold            no cache, no output folder
    warm            nothing changed
    first edit      one study's text changed, just after the cold build (the first
                    incremental build also makes the hidden copy of the site it swaps with)
    study edited    another study's text changed
    reference       one reference's title changed in references.bib
    template edited a line added to templates/base.html: every page is rendered again and
                    differs, so the whole site is written into the existing folder

Each build runs as `python3 -m backpain_site build` in its own process. For each N there are
`--runs` timed passes of these steps and, before them, one memory pass of the same steps; each
pass starts from a fresh copy of the site, flushed to disk (`os.sync`) before its cold build so
that writing the copy back is not charged to the build, and the copies are deleted only at the
end (see FINISHED: deleting one just before a cold build slowed the build by about 40% here).
The table's columns:

    median time         median wall time of the timed passes (their times in "runs (s)")
    peak RSS, largest   peak resident memory of the biggest single process of the build (the
      process           build or one of its workers), median of the timed passes; it comes
                        from `wait4`, which costs the build nothing
    peak PSS, all       the peak of all the build's processes together (their proportional
      processes         set size, PSS: memory a forked worker shares with the build is counted
                        once), sampled from /proc every 250 ms in the memory pass only
                        ("sampled separately"): reading PSS walks every process's page tables
                        and slowed a 10,000-study cold build by about 12%, so no timed build
                        is sampled and the memory pass's times are printed but never counted
    pages/s             pages written per second of the cold build's median time

The memory pass adds one pass per N to the benchmark's duration (a third more at 3 runs).
Nothing here is needed to build the site.
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
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from generate import REPO, generate, reference_key, study_slug

STEPS = ("cold", "warm", "first edit", "study edited", "reference edited", "template edited")
TARGETS = {  # at N = 10,000 (issue 7)
    "cold": 20.0,
    "warm": 1.0,
    "study edited": 1.5,
}
MEMORY_TARGET_MB = 400
PSS_EVERY_SECONDS = 0.25
LINEAR_TARGET = 11.0
# Each pass's copy of the site, once measured, is put aside in this folder of the scratch folder
# and deleted only when the benchmark ends: deleting the last pass's 100,000 files just before
# a cold build made that build about 40% slower here (74 s against 103 s at 10,000 studies,
# system time 12 s against 51 s). On an ext4 file system without a journal, as this machine's
# is, the kernel will not reuse an inode freed in the last minute or more (ialloc.c,
# `recently_deleted`), so after a mass deletion every file created scans past the freed ones.
# The benchmark's own clean-up is not the build's work. A copy takes about 1 GB at 10,000.
FINISHED = "finished"
QUIET_AFTER_REMOVING = 90.0  # seconds: past that window, once the freed inodes are written back


@dataclass
class Measure:
    step: str
    seconds: float
    max_rss_mb: float  # largest single process, from wait4
    tree_pss_mb: float | None  # all processes of the build together (PSS), if sampled
    pages: int
    output: str
    sampled: bool  # the memory pass: its PSS is counted, its time is not


# How one build of the benchmark is run: (project, step, code folder, sample PSS) -> Measure.
Build = Callable[[Path, str, Path, bool], Measure]


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


def _build_command(project: Path) -> list[str]:
    return [sys.executable, "-m", "backpain_site", "build", "--source", str(project)]


def _wait_sampled(process: subprocess.Popen[bytes]) -> tuple[bytes, bytes, int]:
    """Wait for `process`, sampling the PSS of its process tree; its output and the peak PSS."""
    peak_tree = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak_tree
        while not done.is_set():
            peak_tree = max(peak_tree, _tree_rss(process.pid))
            # Reading PSS walks each process's page tables: every 20 ms it took 40% of a core
            # from the build being measured; every 250 ms it still costs several per cent,
            # which is why only the memory pass samples.
            done.wait(PSS_EVERY_SECONDS)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, err = process.communicate()
    done.set()
    sampler.join()
    return out, err, peak_tree


def run_build(project: Path, step: str, code: Path, sample_pss: bool) -> Measure:
    """Build `project` once in a child process: its wall time, peak memory and summary line.

    With `sample_pss` the child's process tree is also sampled for PSS (the memory pass);
    otherwise nothing but the wait for the child runs beside the build."""
    env = {**os.environ, "PYTHONPATH": str(code)}
    started = time.perf_counter()
    process = subprocess.Popen(
        _build_command(project), stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env
    )
    peak_tree: int | None = None
    if sample_pss:
        out, err, peak_tree = _wait_sampled(process)
    else:
        out, err = process.communicate()
    seconds = time.perf_counter() - started
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
    tree_pss = None if peak_tree is None else peak_tree / 1024 / 1024
    return Measure(step, seconds, max_rss, tree_pss, pages, summary, sample_pss)


def _isolated(project: Path, step: str, code: Path, sample_pss: bool) -> Measure:
    """Run one build from a fresh interpreter, so RUSAGE_CHILDREN holds only that build."""
    flags = ["--sample-pss"] if sample_pss else []
    done = subprocess.run(
        [sys.executable, __file__, "--one", str(project), step, str(code), *flags],
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


def _edit_template(project: Path) -> None:
    path = project / "templates" / "base.html"
    text = path.read_text(encoding="utf-8")
    path.write_text(
        text.replace("</footer>", "<p>Added by the benchmark.</p>\n</footer>", 1),
        encoding="utf-8",
    )


def _one_pass(
    source: Path, work: Path, studies: int, label: str, sample_pss: bool, build: Build
) -> list[Measure]:
    """Every step once, in order, on a fresh copy of `source`: one Measure per step."""
    project = work / f"run-{studies}"
    shutil.rmtree(project, ignore_errors=True)
    shutil.copytree(source, project)
    # The copy (and the removal of the last one) would otherwise be written back to disk while
    # the cold build runs, and charged to it.
    os.sync()
    found: list[Measure] = []
    for step in STEPS:
        if step == "first edit":
            _edit_study(project, studies // 3)
        elif step == "study edited":
            _edit_study(project, studies // 2)
        elif step == "reference edited":
            _edit_reference(project, studies // 2)
        elif step == "template edited":
            _edit_template(project)
        measure = build(project, step, work / "src", sample_pss)
        found.append(measure)
        pss = "" if measure.tree_pss_mb is None else f" PSS {measure.tree_pss_mb:5.0f} MB"
        print(
            f"  N={studies:,} {label}: {step:<16} {measure.seconds:7.2f} s "
            f"{measure.max_rss_mb:6.0f} MB{pss}  {measure.output}",
            flush=True,
        )
    # Put aside, not deleted: see FINISHED.
    aside = work / FINISHED / f"{studies}-{len(list((work / FINISHED).glob(f'{studies}-*')))}"
    aside.mkdir(parents=True)
    for made in (project, *work.glob(f".run-{studies}*")):
        made.rename(aside / made.name)
    return found


def benchmark(
    studies: int, runs: int, work: Path, build: Build = _isolated
) -> dict[str, list[Measure]]:
    """The memory pass, then `runs` timed passes, on a site of `studies` studies in `work`."""
    source = work / f"site-{studies}"
    if not source.exists():
        generate(source, studies)
    else:  # the generated content is reused; the theme is always the project's current one
        for folder in ("templates", "static"):
            shutil.rmtree(source / folder)
            shutil.copytree(REPO / folder, source / folder)
    measures: dict[str, list[Measure]] = {step: [] for step in STEPS}
    # The memory pass goes first, so every timed pass follows a full pass as the later ones do
    # (the same files in the operating system's cache).
    passes = [("memory pass (PSS sampled, time not counted)", True)]
    passes += [(f"run {run + 1}", False) for run in range(runs)]
    for label, sample_pss in passes:
        for measure in _one_pass(source, work, studies, label, sample_pss, build):
            measures[measure.step].append(measure)
    return measures


def run_all(
    sizes: list[int], runs: int, work: Path, build: Build = _isolated
) -> dict[int, dict[str, list[Measure]]]:
    """`benchmark` for each number of studies in `sizes`; the copies put aside are deleted at
    the end (FINISHED), whether it ends well or not."""
    results: dict[int, dict[str, list[Measure]]] = {}
    try:
        for studies in sizes:
            results[studies] = benchmark(studies, runs, work, build)
    finally:
        shutil.rmtree(work / FINISHED, ignore_errors=True)
    return results


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else 0.0


def _timed(got: list[Measure]) -> list[Measure]:
    """The measures of the timed passes (the memory pass's time is never counted)."""
    return [m for m in got if not m.sampled]


def _sampled_pss(got: list[Measure]) -> float:
    """Peak PSS of all processes (MB) from the memory pass, 0 if there was none."""
    return max((m.tree_pss_mb for m in got if m.tree_pss_mb is not None), default=0.0)


def table(results: dict[int, dict[str, list[Measure]]]) -> str:
    lines = [
        "| studies | build | median time | runs (s) | peak RSS, largest process | peak PSS, "
        "all processes (sampled separately) | pages/s |",
        "|---:|---|---:|---|---:|---:|---:|",
    ]
    for studies, measures in results.items():
        for step in STEPS:
            got = _timed(measures[step])
            if not got:
                continue
            seconds = _median([m.seconds for m in got])
            pages = got[0].pages
            rate = f"{pages / seconds:,.0f}" if step == "cold" and seconds else ""
            lines.append(
                f"| {studies:,} | {step} | {seconds:.2f} s | "
                + ", ".join(f"{m.seconds:.2f}" for m in got)
                + f" | {_median([m.max_rss_mb for m in got]):.0f} MB"
                + f" | {_sampled_pss(measures[step]):.0f} MB | {rate} |"
            )
    return "\n".join(lines)


def verdicts(results: dict[int, dict[str, list[Measure]]]) -> list[str]:
    found: list[str] = []
    big = results.get(10_000)
    if big:
        for step, limit in TARGETS.items():
            seconds = _median([m.seconds for m in _timed(big[step])])
            found.append(
                f"- {step} at 10,000: {seconds:.2f} s (target {limit:g} s): "
                + ("met" if seconds <= limit else "NOT met")
            )
        peak = max(
            max(_median([m.max_rss_mb for m in _timed(big[s])]), _sampled_pss(big[s]))
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
        ratio = _median([m.seconds for m in _timed(big["cold"])]) / _median(
            [m.seconds for m in _timed(small["cold"])]
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
    parser.add_argument("--sample-pss", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        project, step, code = Path(args.one[0]), args.one[1], Path(args.one[2])
        print(json.dumps(asdict(run_build(project, step, code, args.sample_pss))))
        return
    machine = _machine()
    work = args.work or Path(tempfile.mkdtemp(prefix="backpain-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    # Left by a benchmark that was interrupted: removed, then a pause before the first build.
    leftovers = [work / FINISHED, *work.glob("run-*"), *work.glob(".run-*")]
    leftovers = [path for path in leftovers if path.exists()]
    for leftover in leftovers:
        if leftover.is_dir():
            shutil.rmtree(leftover)
        else:
            leftover.unlink()
    if leftovers:
        time.sleep(QUIET_AFTER_REMOVING)
    # One version of the code for the whole benchmark, even if the working tree changes meanwhile
    # (a cache is only valid for the code that wrote it).
    shutil.rmtree(work / "src", ignore_errors=True)
    shutil.copytree(REPO / "src", work / "src", ignore=shutil.ignore_patterns("__pycache__"))
    # Compiled once, as installing a package does: with PYTHONDONTWRITEBYTECODE set, every
    # measured build would otherwise compile the package's modules again (about 0.1 s).
    compileall.compile_dir(work / "src", quiet=1)
    try:
        results = run_all(args.studies, args.runs, work)
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
