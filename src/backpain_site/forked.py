"""Work shared between forked copies of this process, merged back in its own order.

Input: a function of an item's index, how many items there are, and how many processes to use.
Output: the function's result for every index, in index order, exactly as one process would
have made them one after the other (and made here, one after the other, when forking is not
possible or not worth it). Used to render pages on every core once the site is resolved:
a forked worker starts with everything the parent holds (the resolved site, the templates), so
nothing but each page's small result is sent between processes.
"""

from __future__ import annotations

import ctypes
import functools
import gc
import multiprocessing
import os
import pickle
import signal
import threading
import weakref
from collections.abc import Callable, Generator, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager, suppress
from typing import Any, Generic, TypeVar

T = TypeVar("T")

# Below this many items one process is quicker: starting and joining workers costs ~30 ms.
MIN_ITEMS = 200
# Items a worker takes at a time: small enough that two workers finish together (pages differ in
# size), large enough that sending results back is a small share of the work.
CHUNK = 32

# The work of the map now running: set before the workers are forked, so they inherit it
# rather than receive it (it closes over the whole resolved site).
_work: Callable[[int], Any] | None = None
_parent = 0  # the process that forked the workers of the map now running


def in_worker() -> bool:
    """Whether this process is a forked worker of `forked_map` (it ends with the map, and
    nothing it keeps outlives it)."""
    return _work is not None and os.getpid() != _parent


def cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def give_back_memory() -> None:
    """Return the C heap's free pages to the system (glibc's malloc_trim; nothing elsewhere).

    Freed Python objects leave their memory with the allocator, which returns only what lies
    at the top of the heap: after a big transient phase, tens of MB stay resident though free
    (about 35 MB before rendering and 50 MB before the cache is saved, at 10,000 studies).
    Before a fork it matters twice: each worker starts with every page the parent holds."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    try:
        found: Callable[[int], int] = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):  # not glibc
        return None
    return found


def can_fork() -> bool:
    """Forking is safe only while no other thread runs (the live preview's server does)."""
    return "fork" in multiprocessing.get_all_start_methods() and threading.active_count() == 1


def _run_chunk(bounds: tuple[int, int]) -> list[Any]:
    work = _work
    assert work is not None  # set by forked_map before the fork
    return [work(index) for index in range(*bounds)]


@contextmanager
def _inherited(work: Callable[[int], Any]) -> Iterator[None]:
    global _work, _parent
    _work, _parent = work, os.getpid()
    # Objects that exist before the fork are never collected in the workers: frozen, the cycle
    # collector leaves them alone, and the workers do not copy every page of memory it touches.
    gc.freeze()
    try:
        yield
    finally:
        _work = None
        gc.unfreeze()


def forked_map(
    work: Callable[[int], T],
    count: int,
    processes: int,
) -> Generator[T, None, None]:
    """`work(0), ..., work(count - 1)` in index order, computed by `processes` forked workers
    (or here, one after the other, when forking is not possible or not worth it).

    `work` must depend only on what exists when the first result is asked for and on its index,
    and must not change anything the caller keeps (a worker's changes stay in the worker): its
    results are all that come back. They arrive as the workers make them, a chunk at a time.
    A worker that dies (killed for memory, say) raises BrokenProcessPool here
    rather than leaving the build waiting for it.
    """
    if processes < 2 or count < MIN_ITEMS or not can_fork():
        for index in range(count):
            yield work(index)
        return
    bounds = [(start, min(start + CHUNK, count)) for start in range(0, count, CHUNK)]
    give_back_memory()
    with _inherited(work):
        context = multiprocessing.get_context("fork")
        pool = ProcessPoolExecutor(min(processes, len(bounds)), mp_context=context)
        try:
            chunks = [pool.submit(_run_chunk, chunk) for chunk in bounds]
            for chunk in chunks:
                yield from chunk.result()
        finally:
            # Stopped early (an error, or Ctrl-C): no worker goes on working for nobody.
            pool.shutdown(wait=True, cancel_futures=True)


class Ahead(Generic[T]):
    """The values of `work()`, an iterator, made meanwhile by a forked copy of this process on
    a core this process leaves idle, and taken one at a time when they are needed (`take`).

    `take` gives None where the child sent no next value (forking was not possible, because
    the live preview's threads run, or the child failed in any way): the caller then works it
    out itself, so an error is raised where it would have been without this. Each value must
    be small to pickle (it comes back through a pipe), and `work` must change nothing the
    caller keeps. Fork before reading anything large: every page the parent writes to while
    the child lives (if only an object's reference count) is copied first.
    """

    def __init__(self, work: Callable[[], Iterable[T]]) -> None:
        self._child = 0
        self._pipe = -1
        if not can_fork():
            return
        reading, writing = os.pipe()
        child = os.fork()
        if child == 0:  # pragma: no cover (the child; coverage is not collected there)
            try:
                os.close(reading)
                for value in work():
                    sent = pickle.dumps(value, pickle.HIGHEST_PROTOCOL)
                    _write_all(writing, len(sent).to_bytes(8, "little") + sent)
            finally:  # an error ends the values: the parent works out the rest itself
                os._exit(0)
        os.close(writing)
        self._child, self._pipe = child, reading
        # Never left running, or unwaited for, by a caller that drops it without `discard`.
        self._finalizer = weakref.finalize(self, _stop, child, reading)

    def take(self) -> tuple[T] | None:
        """The next value (in a tuple), or None: there is none from the child."""
        if not self._child:
            return None
        size = self._read(8)
        data = self._read(int.from_bytes(size, "little")) if len(size) == 8 else b""
        if data:
            try:
                return (pickle.loads(data),)
            except Exception:  # damaged: the caller works it out itself
                pass
        self.discard()
        return None

    def discard(self) -> None:
        """No more values are wanted: the child is stopped and waited for."""
        if self._child:
            self._child = 0
            self._finalizer()

    def _read(self, size: int) -> bytes:
        chunks, left = [], size
        while left > 0:
            chunk = os.read(self._pipe, min(left, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)


def _stop(child: int, pipe: int) -> None:
    with suppress(OSError):  # ended already
        os.kill(child, signal.SIGKILL)
    os.close(pipe)
    with suppress(ChildProcessError):
        os.waitpid(child, 0)


def _write_all(descriptor: int, data: bytes) -> None:  # pragma: no cover (in the child)
    view = memoryview(data)
    while view:
        view = view[os.write(descriptor, view) :]
