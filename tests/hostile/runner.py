"""Runs the command line for tests/test_hostile.py, one forked child per case.

Started once per test session (so the package is imported once), this process has no threads,
which makes `fork` safe. For each request read from stdin (one JSON object per line: argv, stdout
and stderr file names, time budget), a child sets a memory limit, runs `backpain_site.cli.main`
with its output going to those files and exits with its exit code. One JSON line per request
goes back on stdout: exit code (None if killed), the child's CPU seconds, wall-clock seconds, and
whether it was killed. The budget is for CPU time, which other work on a busy machine does not
stretch; the child is killed once it has had several times its budget in wall-clock time.
"""

from __future__ import annotations

import datetime
import json
import os
import resource
import signal
import sys
import time
import traceback
import types
from typing import Any

from backpain_site import load
from backpain_site.cli import main

# Headroom above what the process already maps: a real build needs far less than this, so a
# MemoryError (a traceback in the output) means a case tried to blow memory up.
MEMORY_HEADROOM = 1 << 30
EXIT_CRASHED = 70
WALL_CLOCK_FACTOR, MIN_WALL_CLOCK = 6, 60.0


def _mapped_bytes() -> int:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    return 0


def _pin_today(day: datetime.date) -> None:
    """Review dates are checked against today; pinned, so the corpus does not age."""

    class PinnedDate(datetime.date):
        @classmethod
        def today(cls) -> PinnedDate:
            return cls(day.year, day.month, day.day)

    load.dt = types.SimpleNamespace(**{**vars(datetime), "date": PinnedDate})  # type: ignore[assignment]


def _child(request: dict[str, Any]) -> None:
    code = EXIT_CRASHED
    _pin_today(datetime.date.fromisoformat(request["today"]))
    limit = _mapped_bytes() + MEMORY_HEADROOM
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    with (
        open(request["stdout"], "w", encoding="utf-8") as out,
        open(request["stderr"], "w", encoding="utf-8") as err,
    ):
        sys.stdout, sys.stderr = out, err
        try:
            code = main(request["argv"])
        except BaseException:  # a traceback is exactly what the tests look for
            traceback.print_exc(file=err)
        out.flush()
        err.flush()
    os._exit(code)


def run(request: dict[str, Any]) -> dict[str, Any]:
    started = time.perf_counter()
    pid = os.fork()
    if pid == 0:
        try:
            _child(request)
        finally:
            os._exit(EXIT_CRASHED)
    deadline = started + max(WALL_CLOCK_FACTOR * float(request["budget"]), MIN_WALL_CLOCK)
    while True:
        done, status, usage = os.wait4(pid, os.WNOHANG)
        if done:
            return {
                "exit": os.waitstatus_to_exitcode(status),
                "cpu": usage.ru_utime + usage.ru_stime,
                "seconds": time.perf_counter() - started,
                "timed_out": False,
            }
        if time.perf_counter() > deadline:
            os.kill(pid, signal.SIGKILL)
            _, _, usage = os.wait4(pid, 0)
            return {
                "exit": None,
                "cpu": usage.ru_utime + usage.ru_stime,
                "seconds": time.perf_counter() - started,
                "timed_out": True,
            }
        time.sleep(0.005)


if __name__ == "__main__":
    for line in sys.stdin:
        print(json.dumps(run(json.loads(line))), flush=True)
