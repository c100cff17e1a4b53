"""The search index at scale (search_index.py): which pages are indexed, in which shard, and that
an incremental build indexes again only the shards holding changed pages, with the same bytes as
a cold build, so that an edited page is found by its new words and not its old ones and a
removed page is gone. Checked on Pagefind's own files (no browser): each page's fragment holds
the text Pagefind indexed for it.
"""

from __future__ import annotations

import gzip
import json
import os
import re
import shutil
import sys
from pathlib import Path, PurePosixPath

import pytest
from bs4 import BeautifulSoup

from backpain_site import search_index, writer
from backpain_site.bibliography import load_bibliography
from backpain_site.build import BuildResult, build
from backpain_site.incremental import BuildCache
from backpain_site.output_tree import (
    FileRecord,
    TreeRecord,
    check_tree,
    file_digest,
    record_of,
    tree_record,
)
from backpain_site.search_index import MANIFEST, indexed, plan, shard_count, shard_of

from conftest import REPO, TODAY, tree

sys.path.insert(0, str(REPO / "benchmarks"))
from generate import study_slug

STUDIES = 40
PAGES_PER_SHARD = 8  # so that 40 studies make several shards


def index_files(site: Path) -> dict[str, bytes]:
    return {p: data for p, data in tree(site).items() if p.startswith("pagefind/")}


def fragments(site: Path) -> dict[str, str]:
    """The text Pagefind indexed for each page, by URL, from every shard's fragments."""
    found = {}
    for path in sorted(site.glob("pagefind/**/fragment/*.pf_fragment")):
        data = gzip.decompress(path.read_bytes())
        assert data[:12] == b"pagefind_dcd"
        fragment = json.loads(data[12:])
        assert fragment["url"] not in found
        found[fragment["url"]] = fragment["content"]
    return found


def bundle_holding(site: Path, url: str) -> str | None:
    """The shard folder whose fragment is the page at `url`."""
    for path in site.glob("pagefind/**/fragment/*.pf_fragment"):
        if json.loads(gzip.decompress(path.read_bytes())[12:])["url"] == url:
            return search_index.bundle_of(path.relative_to(site).as_posix())
    return None


def page_counts(site: Path) -> list[int]:
    entries = sorted(site.glob("pagefind/**/pagefind-entry.json"))
    return [json.loads(e.read_text())["languages"]["en"]["page_count"] for e in entries]


@pytest.fixture
def project(generated: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(search_index, "PAGES_PER_SHARD", PAGES_PER_SHARD)
    root = tmp_path / "project"
    shutil.copytree(generated, root)
    return root


def cold(project: Path, out: Path) -> BuildResult:
    shutil.rmtree(out, ignore_errors=True)
    result = build(project, out, today=TODAY)
    assert result.written, result.problems
    return result


def cached(project: Path) -> BuildResult:
    cache = BuildCache.for_project(project)
    result = build(project, project / "_site", today=TODAY, cache=cache)
    assert result.ok, result.problems
    return result


def study(project: Path, index: int) -> Path:
    return project / "content" / "studies" / f"{study_slug(index)}.md"


def test_which_pages_are_indexed() -> None:
    assert indexed("index.html")
    assert indexed("studies/index.html")
    assert indexed("studies/smith-2020/index.html")
    assert indexed("conditions/sciatica/index.html")
    assert indexed("claims/index.html")
    assert indexed("pages/about/index.html")
    assert not indexed("404.html")
    assert not indexed("search/index.html")
    assert not indexed("references/index.html")
    assert not indexed("references/smith2020trial/index.html")
    assert not indexed("references/designs/trial/index.html")
    assert not indexed("pagefind/x.html")
    assert not indexed("feed.xml")
    paths = [
        "index.html",
        "404.html",
        "search/index.html",
        "references/index.html",
        "feed.xml",
        "studies/a/index.html",
        "pagefind/x.html",
        "claims/index.html",
        "references/r/x.bib",
    ]
    # The same choice, made for a whole list at once (a fast edit's, before Pagefind starts).
    assert search_index.indexed_among(paths) == [at for at, p in enumerate(paths) if indexed(p)]
    assert search_index.indexed_among(paths) == [0, 5, 7]


def test_shards_grow_with_the_site_and_a_page_keeps_its_shard() -> None:
    per = search_index.PAGES_PER_SHARD
    assert [shard_count(n) for n in (0, 1, per, per + 1, 10 * per, 10 * per + 1)] == [
        1, 1, 1, 2, 10, 11,
    ]  # fmt: skip
    # A small site like the real one (77 pages) is one index.
    assert shard_count(77) == 1
    pages = [f"studies/s{i:05d}/index.html" for i in range(20_000)]
    counts = [0] * 21
    for page in pages:
        counts[shard_of(page, 21)] += 1
    # Even shards: none differs from the mean by more than 10 per cent.
    assert max(abs(c - 20_000 / 21) for c in counts) < 0.1 * 20_000 / 21
    # The same path, the same shard, whatever else the site holds.
    assert shard_of(pages[7], 21) == shard_of(pages[7], 21)


def record(data: bytes, inode: int) -> FileRecord:
    return FileRecord(file_digest(data), len(data), 1, inode)


def test_a_plan_carries_over_every_shard_whose_pages_did_not_change(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(search_index, "PAGES_PER_SHARD", 4)
    pages = {f"studies/s{i}/index.html": file_digest(b"%d" % i) for i in range(16)}
    pages["references/r/index.html"] = file_digest(b"r")
    first = plan(pages)
    assert [len(s.pages) for s in first.shards] and sum(len(s.pages) for s in first.shards) == 16
    assert first.stale == first.shards and first.carried == {}
    assert [s.primary for s in first.shards] == [True] + [False] * (len(first.shards) - 1)
    assert first.shards[0].folder == "pagefind"
    assert [s.folder for s in first.shards[1:]] == [
        f"pagefind/part-{s.number:03d}" for s in first.shards[1:]
    ]
    assert json.loads(first.manifest) == {
        "format": search_index.FORMAT,
        "pagefind": json.loads(first.manifest)["pagefind"],
        "merge": [f"part-{s.number:03d}/" for s in first.shards[1:]],
    }
    # The previous build's index: an entry file and a fragment in every shard, and the manifest.
    previous = {MANIFEST: record(first.manifest, 1)}
    for shard in first.shards:
        for name in ("pagefind-entry.json", "fragment/a.pf_fragment"):
            previous[f"{shard.folder}/{name}"] = record(shard.folder.encode(), len(previous) + 1)
    intact = dict(previous)

    same = plan(pages, pages, previous, intact)
    assert same.stale == () and same.carried == {p: r for p, r in previous.items() if p != MANIFEST}

    edited = dict(pages, **{"studies/s3/index.html": file_digest(b"new")})
    changed = plan(edited, pages, previous, intact)
    (shard,) = changed.stale
    assert "studies/s3/index.html" in shard.pages
    assert changed.carried == {
        p: r
        for p, r in previous.items()
        if p != MANIFEST and search_index.bundle_of(p) != shard.folder
    }

    # A page removed: its shard again, the others kept.
    removed = {p: d for p, d in pages.items() if p != "studies/s5/index.html"}
    assert [s.number for s in plan(removed, pages, previous, intact).stale] == [
        shard_of("studies/s5/index.html", shard_count(15))
    ]
    # A reference page is not indexed: changing it changes no shard.
    other = dict(pages, **{"references/r/index.html": file_digest(b"r2")})
    assert plan(other, pages, previous, intact).stale == ()
    # A damaged index file is never carried over: its shard is indexed again.
    damaged = dict(intact)
    damaged[f"{first.shards[-1].folder}/fragment/a.pf_fragment"] = record(b"x", 999)
    assert plan(pages, pages, previous, damaged).stale == (first.shards[-1],)
    # An index made otherwise (another manifest: Pagefind version, format, shard count) is
    # indexed again whole.
    other_manifest = dict(previous, **{MANIFEST: record(b"{}", 1)})
    assert plan(pages, pages, other_manifest, intact).stale == first.shards
    assert plan(pages, None, None, None).stale == first.shards


def test_reference_pages_are_found_through_the_pages_that_cite_them(tmp_path: Path) -> None:
    """Not indexing the bibliography loses nothing a reader can search for: the real site's
    every reference title and author is in the indexed text of a page that cites it, while
    the formatted citations (journals, volumes, pages, identifiers) and the boilerplate
    around them are not indexed."""
    site = tmp_path / "site"
    cold(REPO, site)
    indexed_text = fragments(site)
    assert set(indexed_text) == {
        "/" + p.removesuffix("index.html")
        for p in tree(site)
        if indexed(p) and (site / p).read_text(encoding="utf-8").count("data-pagefind-body")
    }
    assert not any(url.startswith("/references/") for url in indexed_text)
    text = " ".join(" ".join(t.split()) for t in indexed_text.values())
    references = sorted(site.glob("references/*/index.html"))
    titles = []
    for path in references:
        if path.parent.name in {"designs", "conditions"}:
            continue
        soup = BeautifulSoup(path.read_text(encoding="utf-8"), "html.parser")
        heading = soup.select_one("h1")
        assert heading is not None
        titles.append(" ".join(heading.get_text(" ").split()))
    assert len(titles) >= 20
    assert [t for t in titles if t not in text] == []
    bib = REPO / "content" / "references.bib"
    references, _ = load_bibliography(bib.read_text(encoding="utf-8"), str(bib))
    families = {n.family or n.literal for r in references for n in r.authors or r.editors}
    assert len(families) >= 20
    assert sorted(f for f in families if f not in text) == []
    for left_out in ("doi.org", "doi:", "About this source", "Download these references"):
        assert left_out not in text
    # A formatted citation's "2009;18(1):610-627", and journals' names (of more than one word:
    # "Trials" is also a word of the text).
    assert re.search(r"\b(19|20)\d\d;\d", text) is None
    journals = {j for r in references if len((j := r.get("journal")).split()) > 1}
    assert len(journals) >= 5
    assert sorted(j for j in journals if j in text and j not in " ".join(titles)) == []
    assert page_counts(site) == [len(indexed_text)]
    assert json.loads((site / MANIFEST).read_text())["merge"] == []


def test_shards_are_deterministic_and_an_edit_indexes_only_its_shard(
    project: Path, tmp_path: Path
) -> None:
    first = cold(project, tmp_path / "a")
    assert first.ok
    index = index_files(tmp_path / "a")
    cold(project, tmp_path / "b")
    assert index_files(tmp_path / "b") == index  # deterministic, byte for byte
    manifest = json.loads(index[MANIFEST])
    assert len(manifest["merge"]) >= 3
    assert sum(page_counts(tmp_path / "a")) == len(fragments(tmp_path / "a"))
    # Merged shards hold only what Pagefind's mergeIndex loads.
    part = manifest["merge"][0]
    assert sorted({p.split("/")[2] for p in index if p.startswith(f"pagefind/{part}")}) == [
        "fragment",
        "index",
        "pagefind-entry.json",
        next(
            p.split("/")[2]
            for p in index
            if p.startswith(f"pagefind/{part}pagefind.") and p.endswith(".pf_meta")
        ),
    ]
    assert (tmp_path / "a" / "pagefind" / "pagefind.js").is_file()

    cached(project)
    site = project / "_site"
    assert index_files(site) == index

    target = study(project, 7)
    url = f"/studies/{study_slug(7)}/"
    front, body = target.read_text(encoding="utf-8").split("\n---\n", 1)
    target.write_text(f"{front}\n---\nQuintessentially {body}", encoding="utf-8")
    cached(project)
    assert [u for u, t in fragments(site).items() if "Quintessentially" in t] == [url]
    before = {p: os.stat(site / p).st_ino for p in index_files(site)}
    target.write_text(f"{front}\n---\nXylophonically {body}", encoding="utf-8")
    cached(project)

    found = fragments(site)
    assert [u for u, t in found.items() if "Xylophonically" in t] == [url]
    assert [u for u, t in found.items() if "Quintessentially" in t] == []
    # The same index a cold build of the edited content makes.
    cold(project, tmp_path / "c")
    assert index_files(site) == index_files(tmp_path / "c")
    # Only the edited page's shard was indexed again: every other shard's files are the
    # previous build's (the same files, carried over), and the manifest is unchanged.
    folders = {search_index.bundle_of(p) for p in index_files(site)}
    changed = {
        search_index.bundle_of(p)
        for p in index_files(site)
        if p not in before or os.stat(site / p).st_ino != before[p]
    }
    assert len(folders) >= 4
    assert changed == {bundle_holding(site, url)}

    # A removed study (one no other file names) is gone from the index; the others stay.
    others = "\n".join(p.read_text() for p in (project / "content").rglob("*.md") if p != target)
    lonely = next(i for i in range(STUDIES) if i != 7 and study_slug(i) not in others)
    study(project, lonely).unlink()
    cached(project)
    found = fragments(site)
    assert f"/studies/{study_slug(lonely)}/" not in found
    assert url in found
    cold(project, tmp_path / "d")
    assert index_files(site) == index_files(tmp_path / "d")


# --- The search step of an edit (writer.py): Pagefind started early, and run directly ----------


def recorded(site: Path) -> TreeRecord:
    """A record of `site` as a build keeps it (output_tree.tree_record)."""
    files = {p: record_of(str(site / p), file_digest(data)) for p, data in tree(site).items()}
    return tree_record(site, files)


def with_word(page: bytes, word: str) -> bytes:
    """The page with `word` at the start of the first paragraph of its indexed text."""
    paragraph = page.index(b"<p>", page.index(b"data-pagefind-body")) + len(b"<p>")
    return page[:paragraph] + word.encode() + b" " + page[paragraph:]


def publish(
    site: Path, outputs: dict[PurePosixPath, bytes], started: writer.SearchIndexRun | None
) -> None:
    """`update_site` as an incremental build calls it: `outputs` changed, every other page kept."""
    record = recorded(site)
    intact = check_tree(site, record).intact
    changed = {str(p) for p in outputs}
    kept = {p: r for p, r in intact.items() if p not in changed and not p.startswith("pagefind/")}
    writer.update_site(
        outputs, kept, site, record, None, intact=intact, search_index=True, started=started
    )


def cold_index(site: Path, tmp_path: Path) -> dict[str, bytes]:
    """The index a cold build makes of the pages now in `site`."""
    pages = {PurePosixPath(p): d for p, d in tree(site).items() if not p.startswith("pagefind/")}
    writer.write_site(pages, tmp_path / "cold", search_index=True)
    return index_files(tmp_path / "cold")


@pytest.fixture
def pagefind_runs(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """The command of every Pagefind process the writer starts, from now on."""
    started: list[list[str]] = []
    command = writer._pagefind_command

    def counted() -> list[str]:
        started.append(command())
        return started[-1]

    monkeypatch.setattr(writer, "_pagefind_command", counted)
    return started


def test_pagefind_is_run_as_its_binary_the_one_python_m_pagefind_runs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from pagefind.service import get_executable

    binary = get_executable()
    assert binary is not None
    assert writer._pagefind_command() == [str(binary.resolve().absolute())]
    assert os.access(writer._pagefind_command()[0], os.X_OK)
    monkeypatch.setenv("PAGEFIND_BINARY_PATH", "/opt/pagefind")
    assert writer._pagefind_command() == ["/opt/pagefind"]


def test_an_index_started_before_the_write_is_used_and_is_the_cold_builds(
    project: Path, tmp_path: Path, pagefind_runs: list[list[str]]
) -> None:
    cached(project)
    pagefind_runs.clear()
    site = project / "_site"
    page = f"studies/{study_slug(7)}/index.html"
    outputs = {PurePosixPath(page): with_word((site / page).read_bytes(), "Quintessentially")}
    started = writer.start_search_index(outputs, site, recorded(site))
    assert [s.folder for s in started.stale] == [bundle_holding(site, f"/studies/{study_slug(7)}/")]
    before = index_files(site)
    publish(site, outputs, started)
    # Pagefind ran once, on the edited page's shard, started before update_site was called.
    assert len(pagefind_runs) == 1
    found = fragments(site)
    assert [u for u, t in found.items() if "Quintessentially" in t] == [
        f"/studies/{study_slug(7)}/"
    ]
    after = index_files(site)
    assert {search_index.bundle_of(p) for p in set(after) ^ set(before)} == {
        started.stale[0].folder
    }
    assert after == cold_index(site, tmp_path)


def test_an_index_started_for_other_pages_is_not_used(
    project: Path, tmp_path: Path, pagefind_runs: list[list[str]]
) -> None:
    cached(project)
    pagefind_runs.clear()
    site = project / "_site"
    page = f"studies/{study_slug(7)}/index.html"
    html = (site / page).read_bytes()
    guessed = {PurePosixPath(page): with_word(html, "Quintessentially")}
    started = writer.start_search_index(guessed, site, recorded(site))
    assert started.runs is not None and len(started.runs.result()) == 1  # it indexed its guess
    publish(site, {PurePosixPath(page): with_word(html, "Xylophonically")}, started)
    assert len(pagefind_runs) == 2  # the guess was left, and the shard indexed again
    found = fragments(site)
    assert [u for u, t in found.items() if "Xylophonically" in t] == [f"/studies/{study_slug(7)}/"]
    assert [u for u, t in found.items() if "Quintessentially" in t] == []
    assert index_files(site) == cold_index(site, tmp_path)


def test_a_started_run_never_indexes_a_page_read_otherwise_than_expected(
    project: Path, tmp_path: Path, pagefind_runs: list[list[str]]
) -> None:
    """A page of the live folder that does not hold what the record says (changed behind the
    build's back) is not indexed by the run started from the record: update_site indexes its
    shard again from the pages it publishes."""
    cached(project)
    site = project / "_site"
    page = f"studies/{study_slug(7)}/index.html"
    outputs = {PurePosixPath(page): with_word((site / page).read_bytes(), "Quintessentially")}
    planned = writer.start_search_index(outputs, site, recorded(site))
    planned.cancel()
    pagefind_runs.clear()
    (shard,) = planned.stale
    other = next(p for p in shard.pages if p != page)

    def read(path: str) -> bytes:
        data = outputs.get(PurePosixPath(path)) or (site / path).read_bytes()
        return with_word(data, "Zebrafinchlike") if path == other else data

    runs = writer._PagefindRuns(planned.stale, read, planned.pages)
    publish(site, outputs, writer.SearchIndexRun(planned.stale, planned.pages, runs))
    assert runs.result() == {}  # the shard was left out
    assert len(pagefind_runs) == 1  # and indexed by update_site
    assert "Zebrafinchlike" not in " ".join(fragments(site).values())
    assert index_files(site) == cold_index(site, tmp_path)


def test_a_cancelled_run_stops_and_leaves_no_scratch_folder(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cached(project)
    site = project / "_site"
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(writer, "_scratch_parent", lambda: str(scratch))
    page = f"studies/{study_slug(7)}/index.html"
    outputs = {PurePosixPath(page): with_word((site / page).read_bytes(), "Quintessentially")}
    started = writer.start_search_index(outputs, site, recorded(site))
    assert started.runs is not None
    started.cancel()
    assert list(scratch.iterdir()) == []
    assert started.runs.result() == {}  # stopped: nothing indexed


def test_when_pagefind_fails_in_an_edit_the_live_site_is_unchanged(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cached(project)
    site = project / "_site"
    before = tree(site)
    page = f"studies/{study_slug(7)}/index.html"
    outputs = {PurePosixPath(page): with_word(before[page], "Quintessentially")}
    monkeypatch.setenv("PAGEFIND_BINARY_PATH", "/bin/false")
    with pytest.raises(writer.SearchIndexError) as raised:
        publish(site, outputs, writer.start_search_index(outputs, site, recorded(site)))
    assert str(raised.value) == "pagefind could not index the site: exit status 1"
    assert tree(site) == before


def test_a_pagefind_that_cannot_be_run_is_a_search_index_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    missing = tmp_path / "no-pagefind"
    monkeypatch.setenv("PAGEFIND_BINARY_PATH", str(missing))
    page = b'<html lang="en"><body><main data-pagefind-body><p>Words</p></main></body></html>'
    with pytest.raises(writer.SearchIndexError) as raised:
        writer.write_site({PurePosixPath("index.html"): page}, tmp_path / "out", search_index=True)
    assert str(raised.value) == (
        f"pagefind could not index the site: {missing}: No such file or directory"
    )
    assert [p.name for p in tmp_path.iterdir()] == []  # nothing published, nothing left
