"""How long the search-index step of a one-page edit takes, on a built site (a microbenchmark).

    python3 benchmarks/search_step.py SITE [--runs 7] [--early] [--work DIR] [--src DIR]

SITE is a built site (`_site/` of `backpain-site build`, with its `pagefind/` index); it is
copied into a scratch folder and never changed (with `--work DIR` the copy is kept there and
used again by the next run). Each run then does the write stage of an incremental build after
one study was edited: the live copy checked against its record (output_tree.check_tree), then
`writer.update_site` with that study's page changed (a word added to its text, another word
each run) and every other page kept, the search index brought up to date on the way (Pagefind
indexes again the one shard holding the page; the other shards are carried over).

It prints the medians of the whole stage, of its CPU time (this process and Pagefind's: less
sensitive to other work on the machine than wall time) and of its search part (the time the
build waits in the writer's search-index functions, found by name and wrapped for this run
only, so that `--src` can point at an older copy of the code), beside the floor of the step:
Pagefind's binary alone on that shard's pages in a memory-backed folder. It also checks that
the shard's index in the site is byte for byte what Pagefind alone makes of those pages. With
`--early`, Pagefind is started before the check (`writer.start_search_index`), so it runs while
the folder is checked and the pages written. The first run makes the hidden previous-site
folder (as the first edit after a cold build does) and is left out. Run it on a quiet machine:
the load average is printed with every run.
"""

from __future__ import annotations

import argparse
import functools
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from typing import Any

REPO = Path(__file__).resolve().parent.parent
_WORDS = ("Quintessentially", "Xylophonically", "Zebrafinchlike", "Marmaladeish")
# The writer's functions that make up the search step, in either version of the code: the
# step's own functions (now) or the search functions of the code before them.
_STEP_FUNCTIONS = (
    "start_search_index",
    "_start_search_index",
    "_join_search_index",
    "_search_index_files",
)


def _tree(folder: Path) -> dict[str, bytes]:
    found = {}
    for dirpath, _, filenames in os.walk(folder):
        for name in filenames:
            path = Path(dirpath, name)
            found[path.relative_to(folder).as_posix()] = path.read_bytes()
    return found


def _cpu_seconds() -> float:
    """CPU time used so far by this process and the children it waited for (Pagefind)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _edited(page: bytes, word: str) -> bytes:
    """The page with `word` added to the first paragraph of its indexed text."""
    body = page.index(b"data-pagefind-body")
    paragraph = page.index(b"<p>", body) + len(b"<p>")
    return page[:paragraph] + word.encode() + b" " + page[paragraph:]


class _Clock:
    """Wall time spent in the wrapped functions (not counting calls made inside each other)."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self._depth = 0

    def wrap(self, function: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(function)
        def timed(*args: Any, **kwargs: Any) -> Any:
            self._depth += 1
            began = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                self._depth -= 1
                if self._depth == 0:
                    self.seconds += time.perf_counter() - began

        return timed


@contextmanager
def _search_clock(writer: Any) -> Iterator[_Clock]:
    """Time the writer's search-index step: its functions, and its sync of the index files."""
    clock = _Clock()
    saved: dict[str, Any] = {}
    for name in _STEP_FUNCTIONS:
        if hasattr(writer, name):
            saved[name] = getattr(writer, name)
            setattr(writer, name, clock.wrap(saved[name]))
    run = writer._Sync.run
    timed_run = clock.wrap(run)

    def sync_run(self: Any, wanted: Any, in_scope: Callable[[str], bool]) -> Any:
        if in_scope is writer._in_search_index:
            return timed_run(self, wanted, in_scope)
        return run(self, wanted, in_scope)

    writer._Sync.run = sync_run
    try:
        yield clock
    finally:
        writer._Sync.run = run
        for name, function in saved.items():
            setattr(writer, name, function)


def _pagefind_alone(
    site: Path, pages: list[str], runs: int
) -> tuple[list[float], dict[str, bytes]]:
    """Pagefind's binary on just these pages, in a memory-backed folder: the step's floor.
    Also returns the files it made (by path in its output folder)."""
    from backpain_site import writer

    scratch = Path(tempfile.mkdtemp(prefix="search-step-", dir=writer._scratch_parent()))
    try:
        for page in pages:
            target = scratch / "site" / page
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes((site / page).read_bytes())
        binary = _binary()
        times = []
        for _ in range(runs):
            shutil.rmtree(scratch / "index", ignore_errors=True)
            began = time.perf_counter()
            command = [*binary, "--site", str(scratch / "site")]
            subprocess.run(
                [*command, "--output-path", str(scratch / "index"), "--silent"], check=True
            )
            times.append(time.perf_counter() - began)
        return times, _tree(scratch / "index")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _binary() -> list[str]:
    from pagefind.service import get_executable

    found = get_executable()
    return [str(found)] if found is not None else [sys.executable, "-m", "pagefind"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("site", type=Path, help="a built site (with pagefind/); not changed")
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--work", type=Path, default=None, help="scratch folder (default: temp)")
    parser.add_argument("--src", type=Path, default=REPO / "src", help="the code to measure")
    parser.add_argument("--page", default=None, help="the page to edit (default: a study's)")
    parser.add_argument("--early", action="store_true", help="start Pagefind before the check")
    args = parser.parse_args()
    sys.path.insert(0, str(args.src.resolve()))
    from backpain_site import search_index, writer
    from backpain_site.output_tree import check_tree, file_digest, record_of, tree_record

    def _indexing(path: str) -> bool:
        return path.startswith(search_index.INDEX_FOLDER + "/")

    if args.early and not hasattr(writer, "start_search_index"):
        parser.error("--early: this code has no writer.start_search_index")

    work = Path(tempfile.mkdtemp(prefix="search-step-")) if args.work is None else args.work
    work.mkdir(parents=True, exist_ok=True)
    live = work / "_site"
    try:
        if live.is_dir():  # a --work folder used before: its copy is a site as the runs left it
            print(f"load average {os.getloadavg()[0]:.2f}; reusing {live}", flush=True)
        else:
            print(f"load average {os.getloadavg()[0]:.2f}; copying {args.site} ...", flush=True)
            shutil.rmtree(writer.spare_folder(live), ignore_errors=True)
            shutil.copytree(args.site, live)
        files = _tree(live)
        base = str(live)
        records = {p: record_of(f"{base}/{p}", file_digest(d)) for p, d in files.items()}
        record = tree_record(live, records)
        pages = sorted(p for p in files if search_index.indexed(p))
        page = args.page or next(p for p in pages if re.fullmatch(r"studies/[^/]+/index\.html", p))
        original = files[page]
        del files
        planned = search_index.plan(dict.fromkeys(pages, b""))
        shard = next(s for s in planned.shards if page in s.pages)
        print(
            f"{len(records)} files, {len(pages)} pages indexed in {len(planned.shards)} shards; "
            f"editing {page} (shard {shard.folder}, {len(shard.pages)} pages)",
            flush=True,
        )
        spare = None
        totals: list[float] = []
        steps: list[float] = []
        cpus: list[float] = []
        for run in range(args.runs + 1):
            outputs = {PurePosixPath(page): _edited(original, _WORDS[run % len(_WORDS)])}
            with _search_clock(writer) as clock:
                cpu = _cpu_seconds()
                began = time.perf_counter()
                early = {}
                if args.early:
                    early["started"] = writer.start_search_index(outputs, live, record)
                intact = check_tree(live, record).intact
                kept = {p: r for p, r in intact.items() if p != page and not _indexing(p)}
                updated = writer.update_site(
                    outputs, kept, live, record, spare, intact=intact, search_index=True, **early
                )
                total = time.perf_counter() - began
                cpu = _cpu_seconds() - cpu
            record, spare = updated.live, updated.spare
            if run:  # the first run makes the previous-site folder: left out
                totals.append(total)
                steps.append(clock.seconds)
                cpus.append(cpu)
            print(
                f"  run {run}: write stage {total:.3f} s, search part {clock.seconds:.3f} s, "
                f"CPU {cpu:.3f} s"
                f"{' (first edit, left out)' if not run else ''}; "
                f"load {os.getloadavg()[0]:.2f}",
                flush=True,
            )
        floor, alone = _pagefind_alone(live, list(shard.pages), args.runs)
        # The speed may never change the index: the edited shard's files in the site are
        # Pagefind's own for its pages, byte for byte.
        index = {f"{search_index.INDEX_FOLDER}/{p}": d for p, d in _tree(live / "pagefind").items()}
        made = {p: d for p, d in index.items() if search_index.bundle_of(p) == shard.folder}
        if made != search_index.bundle_files(shard, alone):
            raise SystemExit(f"the index of {shard.folder} is not Pagefind's own for its pages")
        print(f"the index of {shard.folder}: byte for byte Pagefind's own for its pages")
        print()
        print(f"| measure ({args.runs} runs, median) | seconds |")
        print("|---|---:|")
        mode = "Pagefind started first" if args.early else "check_tree, then update_site"
        print(f"| write stage of a one-page edit ({mode}) | {statistics.median(totals):.3f} |")
        print(f"| of which the search-index step | {statistics.median(steps):.3f} |")
        print(f"| CPU time of the stage, with Pagefind's | {statistics.median(cpus):.3f} |")
        print(f"| Pagefind binary alone on the shard | {statistics.median(floor):.3f} |")
        print(f"\nload average at the end {os.getloadavg()[0]:.2f}")
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)
            shutil.rmtree(writer.spare_folder(live), ignore_errors=True)


if __name__ == "__main__":
    main()
