"""forked.Ahead: values made by a forked child, taken in order; where the child sends none
(it failed, or forking is not possible), the caller is told to work the value out itself."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from backpain_site import forked
from backpain_site.forked import Ahead

CAN_FORK = forked.can_fork


@pytest.fixture(autouse=True)
def forking(monkeypatch: pytest.MonkeyPatch) -> None:
    """Forking as the command line does. Other tests' servers (the browser tests') keep a
    thread for the whole session, which makes `can_fork` refuse; these children only pickle
    and write to a pipe, which takes no lock such a thread may hold."""
    monkeypatch.setattr(forked, "can_fork", lambda: True)


def test_values_come_in_order_from_another_process() -> None:
    def work() -> Iterator[tuple[int, int]]:
        yield (1, os.getpid())
        yield (2, os.getpid())

    ahead = Ahead(work)
    first, second = ahead.take(), ahead.take()
    assert first is not None and second is not None
    assert first[0][0] == 1 and second[0][0] == 2
    assert first[0][1] != os.getpid()  # made in the child
    assert ahead.take() is None  # no more
    ahead.discard()


def test_a_child_that_fails_sends_what_it_made_before() -> None:
    def work() -> Iterator[str]:
        yield "made"
        raise OSError("disk gone")

    ahead = Ahead(work)
    assert ahead.take() == ("made",)
    assert ahead.take() is None


def test_a_large_value_comes_back_whole() -> None:
    big = frozenset(f"studies/{n:05d}/index.html" for n in range(60_000))
    ahead = Ahead(lambda: iter([big]))
    assert ahead.take() == (big,)
    ahead.discard()


def test_without_fork_nothing_is_sent_and_the_work_is_not_done(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    marker = tmp_path / "done"

    def work() -> Iterator[int]:
        marker.write_text("done")
        yield 1

    monkeypatch.setattr(forked, "can_fork", lambda: False)
    ahead = Ahead(work)
    assert ahead.take() is None
    assert not marker.exists()


def test_a_live_preview_with_threads_does_not_fork(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(forked, "can_fork", CAN_FORK)
    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    try:
        assert Ahead(lambda: iter([1])).take() is None
    finally:
        stop.set()
        other.join()


def test_discard_stops_a_child_still_working() -> None:
    def work() -> Iterator[int]:
        time.sleep(60)
        yield 1

    ahead = Ahead(work)
    child = ahead._child
    started = time.monotonic()
    ahead.discard()
    assert time.monotonic() - started < 5
    with pytest.raises(ChildProcessError):  # stopped and waited for already
        os.waitpid(child, os.WNOHANG)
    assert ahead.take() is None
