"""What rendering never asks the memo for (parsed files, formatted references, converted
Markdown, reading grades) is saved to the cache before rendering and let go, and so
are the studies' texts, so neither the build nor its forked render workers hold them; what is
saved is what a build saving them at the end saves, the site is the same, and the next build
uses what was saved."""

from __future__ import annotations

import gc
import pickle
from pathlib import Path
from typing import Any

import pytest

from backpain_site import render
from backpain_site.build import RENDERED_WITHOUT, build
from backpain_site.cache import _ACTIVE as ACTIVE_MEMO
from backpain_site.cache import CACHE_FOLDER, Memo, code_version, decode_shard
from backpain_site.incremental import BuildCache
from backpain_site.resolve import ResolvedBody
from backpain_site.writer import machine_secret

from conftest import TODAY, write_project


def active_memo() -> Any:
    return ACTIVE_MEMO.get()


def saved(root: Path, namespace: str) -> dict[bytes, bytes]:
    """The cache's entries of one namespace, each as its pickle."""
    found: dict[bytes, bytes] = {}
    for shard in sorted((root / CACHE_FOLDER).glob(f"{namespace}-[0-9][0-9].bin")):
        entries = decode_shard(shard.read_bytes(), code_version(), machine_secret())
        assert entries is not None, shard
        for key, value in entries.items():
            found[key] = pickle.dumps(value, protocol=5)
    return found


def site_files(root: Path) -> dict[str, bytes]:
    site = root / "_site"
    return {str(p.relative_to(site)): p.read_bytes() for p in site.rglob("*") if p.is_file()}


def test_what_rendering_never_reads_is_saved_before_it_and_let_go(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = write_project(tmp_path / "early")
    seen: list[tuple[set[str], list[str]]] = []  # at render: the memo's namespaces, the texts
    asked: list[str] = []  # namespaces asked of the memo while rendering
    real_render = render.render
    real_get = Memo.get
    real_save_early = BuildCache.save_early

    def watching(resolved: Any, *args: Any, **kwargs: Any) -> Any:
        studies = resolved.site.studies
        if not any(s.source.body for s in studies):
            # Nor is the front matter as read (its values are the study's own fields).
            assert all(not (s.source.meta.values or s.source.meta.lines) for s in studies)
        seen.append((set(active_memo().used()), [s.source.body for s in studies]))
        monkeypatch.setattr(Memo, "get", asking)
        try:
            return real_render(resolved, *args, **kwargs)
        finally:
            monkeypatch.setattr(Memo, "get", real_get)

    def asking(self: Memo, namespace: str, *args: Any) -> Any:
        asked.append(namespace)
        return real_get(self, namespace, *args)

    monkeypatch.setattr(render, "render", watching)
    assert build(root, root / "_site", today=TODAY, cache=BuildCache.for_project(root)).ok
    [(held, texts)] = seen
    assert held.isdisjoint(RENDERED_WITHOUT) and texts and set(texts) == {""}
    assert not set(asked) & set(RENDERED_WITHOUT)
    early = {namespace: saved(root, namespace) for namespace in RENDERED_WITHOUT}
    assert all(early.values())

    # Saved at the end instead (as the live preview keeps them): the same entries, the same site.
    late = write_project(tmp_path / "late")
    monkeypatch.setattr(BuildCache, "save_early", lambda self, *namespaces: False)
    seen.clear()
    assert build(late, late / "_site", today=TODAY, cache=BuildCache.for_project(late)).ok
    [(held, texts)] = seen
    assert set(RENDERED_WITHOUT) <= held and all(texts)
    assert {namespace: saved(late, namespace) for namespace in RENDERED_WITHOUT} == early
    assert site_files(late) == site_files(root)

    # The next build with something changed uses what was saved early: only the changed
    # page's results are computed again.
    monkeypatch.setattr(BuildCache, "save_early", real_save_early)
    memos: list[Memo] = []
    monkeypatch.setattr(
        render, "render", lambda *a, **k: (memos.append(active_memo()), real_render(*a, **k))[1]
    )
    page = next((root / "content" / "pages").glob("*.md"))
    page.write_text(page.read_text(encoding="utf-8") + "\nOne more line.\n", encoding="utf-8")
    assert build(root, root / "_site", today=TODAY, cache=BuildCache.for_project(root)).ok
    [memo] = memos
    assert 0 < memo.misses <= 4 and memo.hits > 10


def test_what_only_rendering_read_is_let_go_before_the_writer_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Once the pages are rendered (and the fast edit path's snapshot taken), the converted
    bodies go: the writer makes its records of every file in their room, not on top of them
    (at 10,000 studies, the build's largest moment). This site is small enough to be rendered
    in the build's own process, whose page memo keeps what it digested until it lets go."""
    root = write_project(tmp_path / "site")
    bodies_while_writing: list[int] = []
    real_write = BuildCache.write

    def writing(self: BuildCache, *args: Any, **kwargs: Any) -> Any:
        gc.collect()
        bodies_while_writing.append(
            sum(1 for obj in gc.get_objects() if isinstance(obj, ResolvedBody))
        )
        return real_write(self, *args, **kwargs)

    monkeypatch.setattr(BuildCache, "write", writing)
    for change in ("", "\nOne more line.\n"):  # a cold build, then a whole one after an edit
        page = next((root / "content" / "pages").glob("*.md"))
        page.write_text(page.read_text(encoding="utf-8") + change, encoding="utf-8")
        assert build(root, root / "_site", today=TODAY, cache=BuildCache.for_project(root)).ok
    assert bodies_while_writing == [0, 0]
