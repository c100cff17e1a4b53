"""How long the live preview takes to show a saved edit: save to rebuilt page, over HTTP.

    python3 benchmarks/serve_latency.py                      # N = 1,000 and 10,000, 5 saves each
    python3 benchmarks/serve_latency.py --studies 200 --saves 3

For each N a synthetic site (benchmarks/generate.py, with the project's real templates and
static files) is served by `python3 -m backpain_site serve` in its own process. Once the first
build is served and the server is idle (its Pagefind run included), one study's text is changed
(each save a different study, a sentence that was never there before), and the edited page is
asked for over HTTP every 5 ms until it holds the new sentence. The time from the end of the
save to that response is the figure the issue sets a target for (300 ms at N = 10,000). Between
saves the server is left to settle: a second after the last rebuild it indexes the changed
shards of its search index again, and a save made meanwhile waits for that (not measured here).
The server's own "rebuilt ... in X s" line is given too, as is the peak memory (PSS) of the
server and its children. Nothing here is needed to build the site.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from generate import REPO, generate, study_slug
from run import PSS_EVERY_SECONDS, _machine, _tree_rss

TARGET_MS = 300.0
POLL_SECONDS = 0.005
SETTLE_TIMEOUT = 600.0
IDLE_CORES = 0.9


@dataclass
class Save:
    milliseconds: float  # from the end of the save to the first response with the new text
    rebuild_line: str  # what the server printed for that rebuild


def _tree_cpu_seconds(root_pid: int) -> float:
    """CPU time used so far by `root_pid` and its living descendants, from /proc."""
    ticks = os.sysconf("SC_CLK_TCK")
    parents: dict[int, int] = {}
    used: dict[int, float] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(entry)] = int(fields[1])
        used[int(entry)] = (int(fields[11]) + int(fields[12])) / ticks
    children: dict[int, list[int]] = {}
    for pid, parent in parents.items():
        children.setdefault(parent, []).append(pid)
    total, stack = 0.0, [root_pid]
    while stack:
        pid = stack.pop()
        total += used.get(pid, 0.0)
        stack.extend(children.get(pid, ()))
    return total


def _children(pid: int) -> list[int]:
    try:
        listed = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return []
    return [int(child) for child in listed]


def _wait_idle(pid: int, folder: Path) -> None:
    """Until the server runs no child process (Pagefind), has no folder but the served one
    being written or removed beside it, and uses less than IDLE_CORES, for two seconds in a row
    (an idle server still polls its input files' times, 20 times a second)."""
    deadline = time.monotonic() + SETTLE_TIMEOUT
    before, quiet = _tree_cpu_seconds(pid), 0
    while time.monotonic() < deadline:
        time.sleep(1.0)
        now = _tree_cpu_seconds(pid)
        alone = os.listdir(folder.parent) == [folder.name]
        quiet = quiet + 1 if now - before < IDLE_CORES and alone and not _children(pid) else 0
        if quiet >= 2:
            return
        before = now
    raise SystemExit("the server never settled")


class Server:
    """`backpain-site serve` in its own process, with its output lines collected."""

    def __init__(self, project: Path, code: Path) -> None:
        command = [sys.executable, "-m", "backpain_site", "serve", "--source", str(project)]
        command += ["--port", "0"]
        env = {**os.environ, "PYTHONPATH": str(code)}
        self.process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
        )
        self.lines: list[str] = []
        self.url = ""
        self.folder: Path | None = None  # what the server serves from
        self.peak_rss = 0
        self._ready = threading.Event()
        self._stop = threading.Event()
        threading.Thread(target=self._read, daemon=True).start()
        threading.Thread(target=self._sample, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))
            if line.startswith("serving "):
                self.url = line.split()[1].rstrip("/")
            if line.startswith("  built into "):
                self.folder = Path(line.split()[2])
                self._ready.set()
        self._ready.set()

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak_rss = max(self.peak_rss, _tree_rss(self.process.pid))
            self._stop.wait(PSS_EVERY_SECONDS)  # reading PSS is not free: not too often

    def wait_ready(self) -> float:
        started = time.perf_counter()
        self._ready.wait()
        if not self.url:
            raise SystemExit("the server did not start:\n" + "\n".join(self.lines))
        return time.perf_counter() - started

    def stop(self) -> None:
        self._stop.set()
        self.process.terminate()
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()


def _page_holds(url: str, text: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return text in response.read().decode("utf-8", "replace")
    except (urllib.error.URLError, OSError):
        return False


def _save(path: Path, sentence: str) -> None:
    text = path.read_text(encoding="utf-8")
    edited = text.replace(
        "## What it means for you\n", f"## What it means for you\n\n{sentence}\n", 1
    )
    path.write_text(edited, encoding="utf-8")


def measure(project: Path, studies: int, saves: int, code: Path) -> tuple[float, list[Save], int]:
    server = Server(project, code)
    try:
        first = server.wait_ready()
        assert server.folder is not None
        _wait_idle(server.process.pid, server.folder)
        results: list[Save] = []
        for number in range(saves):
            slug = study_slug((studies * (number + 1)) // (saves + 1))
            sentence = f"Benchmark save number {number} on {slug} was seen."
            page = f"{server.url}/studies/{slug}/"
            seen = len(server.lines)
            _save(project / "content" / "studies" / f"{slug}.md", sentence)
            saved = time.perf_counter()
            while not _page_holds(page, sentence):
                if server.process.poll() is not None:
                    raise SystemExit("the server stopped:\n" + "\n".join(server.lines))
                if time.perf_counter() - saved > SETTLE_TIMEOUT:
                    raise SystemExit(f"{page} never showed the edit")
                time.sleep(POLL_SECONDS)
            elapsed = (time.perf_counter() - saved) * 1000
            # The search index follows a second after the rebuild (the shards holding the
            # edited page, indexed again in place): the next save waits for it.
            assert server.folder is not None
            _wait_idle(server.process.pid, server.folder)
            line = next((x for x in server.lines[seen:] if "rebuilt" in x), "")
            results.append(Save(elapsed, line))
            print(f"  N={studies:,} save {number + 1}: {elapsed:8.0f} ms  {line}", flush=True)
        return first, results, server.peak_rss
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--studies", type=int, nargs="+", default=[1_000, 10_000])
    parser.add_argument("--saves", type=int, default=5)
    parser.add_argument("--work", type=Path, default=None, help="scratch folder (default: temp)")
    parser.add_argument(
        "--code", type=Path, default=REPO / "src", help="the package's source folder to run"
    )
    args = parser.parse_args()
    machine = _machine()
    work = args.work or Path(tempfile.mkdtemp(prefix="backpain-serve-bench-"))
    rows = []
    try:
        for studies in args.studies:
            project = work / f"serve-{studies}"
            shutil.rmtree(project, ignore_errors=True)
            generate(project, studies)
            first, saves, peak = measure(project, studies, args.saves, args.code)
            times = [s.milliseconds for s in saves]
            rows.append((studies, first, statistics.median(times), times, peak))
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    machine["load after"] = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print()
    print("Machine: " + "; ".join(f"{k} {v}" for k, v in machine.items()))
    print()
    print("| studies | first build served | save to page, median | saves (ms) | peak PSS |")
    print("|---:|---:|---:|---|---:|")
    for studies, first, median, times, peak in rows:
        shown = ", ".join(f"{t:.0f}" for t in times)
        print(
            f"| {studies:,} | {first:.1f} s | {median:.0f} ms | {shown} | "
            f"{peak / 1024 / 1024:.0f} MB |"
        )
    for studies, _, median, _, _ in rows:
        if studies == 10_000:
            verdict = "met" if median <= TARGET_MS else "NOT met"
            print(f"\nserve, edited page within {TARGET_MS:.0f} ms at 10,000: {verdict}")


if __name__ == "__main__":
    main()
