"""The whole build as one readable function: load, resolve, render, then (only if clean) write.

Input: a project folder and an output folder. Output: a `BuildResult` with the outputs, the
sorted problems and timing. Nothing is written when any problem is an error.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from .load import load_site
from .problems import Problem, Severity, errors_in
from .render import render
from .resolve import resolve
from .writer import write_site


@dataclass(frozen=True)
class BuildResult:
    problems: list[Problem]
    outputs: dict[PurePosixPath, bytes] = field(default_factory=dict)
    seconds: float = 0.0
    written: bool = False

    @property
    def ok(self) -> bool:
        return not errors_in(self.problems)

    @property
    def pages(self) -> int:
        return sum(1 for path in self.outputs if path.suffix == ".html")


def build(
    source: Path, out_dir: Path | None, *, strict: bool = False, today: dt.date | None = None
) -> BuildResult:
    """Build the site under `source`; write into `out_dir` unless it is None (a check)."""
    started = time.perf_counter()
    # Gather and check all data first, then render, then write (MkDocs' order).
    site, problems = load_site(source, today=today)
    outputs: dict[PurePosixPath, bytes] = {}
    if site is not None:
        # Resolve even when loading found errors, so one run reports every problem.
        resolved, found = resolve(site)
        problems += found
        if not errors_in(problems):
            outputs, found = render(resolved)
            problems += found
    if strict:
        problems = [Problem(p.path, p.line, p.message, Severity.ERROR) for p in problems]
    problems = sorted(set(problems))
    written = False
    if outputs and not errors_in(problems) and out_dir is not None:
        write_site(outputs, out_dir)
        written = True
    return BuildResult(
        problems, outputs if not errors_in(problems) else {}, time.perf_counter() - started, written
    )
