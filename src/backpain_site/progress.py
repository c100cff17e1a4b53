"""How far a long build has got, on an interactive terminal: one line, rewritten in place.

Input: the stages a build goes through, each with its count of things to do. Output: on a
terminal, a line such as `converting Markdown: 4,210/10,000`, rewritten at most ten times a
second and cleared when the build ends; anywhere else (a CI log, a pipe) nothing, so the
build's one-line summary stands alone.
"""

from __future__ import annotations

import time
from typing import TextIO

_INTERVAL = 0.1


class Progress:
    def __init__(self, stream: TextIO | None = None, interactive: bool = False) -> None:
        self._stream = stream if interactive else None
        self._stage = ""
        self._total: int | None = None
        self._done = 0
        self._shown_at = 0.0
        self._width = 0

    def stage(self, name: str, total: int | None = None) -> None:
        self._stage, self._total, self._done = name, total, 0
        self._show(force=True)

    def advance(self, count: int = 1) -> None:
        self._done += count
        self._show()

    def close(self) -> None:
        if self._stream is not None and self._width:
            self._stream.write("\r" + " " * self._width + "\r")
            self._stream.flush()
            self._width = 0

    def _show(self, force: bool = False) -> None:
        if self._stream is None:
            return
        now = time.monotonic()
        if not force and now - self._shown_at < _INTERVAL:
            return
        self._shown_at = now
        count = f"{self._done:,}" + (f"/{self._total:,}" if self._total else "")
        line = f"{self._stage}: {count}"
        self._stream.write("\r" + line.ljust(self._width))
        self._stream.flush()
        self._width = max(self._width, len(line))  # what is on screen, padding included


NO_PROGRESS = Progress()
