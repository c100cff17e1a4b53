"""Where one build's time and memory go, stage by stage (for finding what to make faster).

    python3 benchmarks/stages.py PROJECT [--no-cache]

Builds PROJECT into PROJECT/_site with its cache (as `backpain-site build` does) and prints,
for each stage as it ends, the time since the start, the stage's own time and the resident
memory of this process. The stage functions are wrapped from outside, for this run only;
nothing here is needed to build the site.
"""

from __future__ import annotations

import argparse
import functools
import resource
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from backpain_site import build as build_module
from backpain_site import (
    edit_path,
    incremental,
    load,
    prefetch,
    readability,
    render,
    resolve,
    writer,
)
from backpain_site.incremental import BuildCache

STARTED = time.perf_counter()


def _resident_mb() -> float:
    return int(Path("/proc/self/statm").read_text().split()[1]) * 4096 / 1e6


def _timed(module: Any, name: str, label: str) -> None:
    function: Callable[..., Any] = getattr(module, name)

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        began = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            now = time.perf_counter()
            print(
                f"{now - STARTED:8.2f} s  {label:<30} {now - began:8.2f} s  "
                f"{_resident_mb():6.0f} MB",
                flush=True,
            )

    setattr(module, name, wrapper)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("project", type=Path)
    parser.add_argument("--no-cache", action="store_true")
    args = parser.parse_args()
    for module, name, label in (
        (incremental, "scan_inputs", "inputs noted"),
        (prefetch, "run_jobs", "pool jobs (see progress order)"),
        # build() imports its stages when it runs, from their own modules: wrapped there.
        (load, "load_site", "load"),
        (resolve, "resolve", "resolve"),
        (readability, "check_readability", "reading grades"),
        (render, "render", "render"),
        (edit_path, "edit_build", "fast edit path (None: not taken) incl. its write"),
        (writer, "_join_search_index", "waiting for the search index (Pagefind runs alongside)"),
        (writer, "update_site", "write (incl. search index), without a cache"),
        (incremental, "update_site", "write (incl. search index), with the cache"),
        (incremental.BuildCache, "finish", "the cache saved"),
    ):
        _timed(module, name, label)
    cache = None if args.no_cache else BuildCache.for_project(args.project)
    result = build_module.build(args.project, args.project / "_site", cache=cache)
    largest = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(
        f"{time.perf_counter() - STARTED:8.2f} s  done: {result.pages} pages, "
        f"{result.changed if result.changed is not None else result.files} files written; "
        f"peak {largest:.0f} MB here, {children:.0f} MB in the largest child process"
    )


if __name__ == "__main__":
    main()
