"""The reading-grade sentences are saved to the cache before rendering and let go, so neither
the build nor its forked render workers hold them; what is saved is what a build saving them
at the end saves, and the next build uses it."""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import pytest

from backpain_site import render
from backpain_site.build import build
from backpain_site.cache import _ACTIVE as ACTIVE_MEMO
from backpain_site.cache import CACHE_FOLDER, Packed, code_version, decode_shard
from backpain_site.incremental import BuildCache
from backpain_site.writer import machine_secret

from conftest import TODAY, write_project


def active_memo() -> Any:
    return ACTIVE_MEMO.get()


def saved_sentences(root: Path) -> dict[bytes, bytes]:
    """The cache's reading-grade entries, each as its pickle."""
    found: dict[bytes, bytes] = {}
    for shard in sorted((root / CACHE_FOLDER).glob("readability-*.bin")):
        entries = decode_shard(shard.read_bytes(), code_version(), machine_secret())
        assert entries is not None, shard
        for key, value in entries.items():
            found[key] = (
                value.data if isinstance(value, Packed) else pickle.dumps(value, protocol=5)
            )
    return found


def test_sentences_are_saved_before_rendering_and_let_go(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = write_project(tmp_path / "early")
    held_at_render: list[bool] = []
    real_render = render.render

    def watching(*args: Any, **kwargs: Any) -> Any:
        held_at_render.append("readability" in active_memo().used())
        return real_render(*args, **kwargs)

    monkeypatch.setattr(render, "render", watching)
    assert build(root, root / "_site", today=TODAY, cache=BuildCache.for_project(root)).ok
    assert held_at_render == [False]
    early = saved_sentences(root)
    assert early

    # Saved at the end instead (as before), the same entries.
    late = write_project(tmp_path / "late")
    monkeypatch.setattr(BuildCache, "save_early", lambda self, namespace: False)
    held_at_render.clear()
    assert build(late, late / "_site", today=TODAY, cache=BuildCache.for_project(late)).ok
    assert held_at_render == [True]
    assert saved_sentences(late) == early
