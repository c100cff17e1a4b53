"""Two parts of the search step of an edit: Pagefind runs are taken up as they end (not in the
order they started), and an edit's records are read from the record's columns
(output_tree.records_of) as from its mapping.
"""

from __future__ import annotations

import os
import pickle
import textwrap
from pathlib import Path

import pytest

from backpain_site import writer
from backpain_site.output_tree import records_of
from backpain_site.search_index import Shard, index_files_among, indexed, indexed_among
from test_search_index import (  # the same project and helpers as the other search tests
    STUDIES,
    cached,
    pagefind_runs,
    project,
    recorded,
)

__all__ = ["STUDIES", "pagefind_runs", "project"]  # read by conftest; fixtures, used by name

PAGE = '<html lang="en"><body><main data-pagefind-body><p>{}</p></main></body></html>'


def test_a_shard_done_early_makes_room_for_the_next_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Shard 0's Pagefind waits until shard 2's has started: run in the order they started
    (waiting for shard 0 before starting shard 2), it would never finish."""
    log = tmp_path / "log"
    released = tmp_path / "released"
    real = writer._pagefind_command()[0]
    wrapper = tmp_path / "pagefind"
    wrapper.write_text(
        textwrap.dedent(
            f"""\
            #!/bin/sh
            shard=$(basename "$(dirname "$2")")
            echo "start $shard" >> {log}
            if [ "$shard" = 2 ]; then touch {released}; fi
            if [ "$shard" = 0 ]; then
                tries=0
                while [ ! -e {released} ] && [ $tries -lt 600 ]; do
                    sleep 0.1; tries=$((tries + 1))
                done
            fi
            {real} "$@"
            status=$?
            echo "end $shard" >> {log}
            exit $status
            """
        )
    )
    wrapper.chmod(0o755)
    monkeypatch.setenv("PAGEFIND_BINARY_PATH", str(wrapper))
    monkeypatch.setattr(writer, "_PAGEFIND_PROCESSES", 2)
    words = {f"s{n}/index.html": PAGE.format(f"Shard{n} words").encode() for n in range(3)}
    shards = [Shard(n, f"pagefind/part-{n:03d}", (f"s{n}/index.html",), False) for n in range(3)]
    runs = writer._PagefindRuns(shards, words.__getitem__)
    found = runs.result()
    assert sorted(found) == [0, 1, 2]
    events = log.read_text().split("\n")
    assert events.index("start 2") < events.index("end 0")
    assert released.exists()


def test_records_read_from_columns_are_the_records(project: Path) -> None:
    cached(project)
    site = project / "_site"
    record = recorded(site)
    read_back = pickle.loads(pickle.dumps(record))  # as the next build reads it: columns
    expected = {p: r for p, r in record.files.items() if indexed(p)}
    assert records_of(read_back.files, indexed_among) == expected
    assert records_of(record.files, indexed_among) == expected
    assert records_of(read_back.files, lambda paths: []) == {}
    index = {p: r for p, r in record.files.items() if p.startswith("pagefind/")}
    assert index and records_of(read_back.files, index_files_among) == index
    assert len(os.listdir(site)) > 0


def test_a_run_keeps_its_files_on_disk_when_asked(tmp_path: Path) -> None:
    """With `keep_in`, each shard's files are written there as its run ends, not held: the
    same bytes as a run that holds them."""
    pages = {f"s{n}/index.html": PAGE.format(f"Shard{n} words").encode() for n in range(3)}
    shards = [Shard(n, f"pagefind/part-{n:03d}", (f"s{n}/index.html",), False) for n in range(3)]
    held = writer._PagefindRuns(shards, pages.__getitem__).result()
    (tmp_path / "kept").mkdir()
    kept = writer._PagefindRuns(shards, pages.__getitem__, keep_in=str(tmp_path / "kept")).result()
    assert sorted(kept) == sorted(held) == [0, 1, 2]
    for number, files in kept.items():
        assert sorted(files) == sorted(held[number])
        for name, spilled in files.items():
            assert isinstance(spilled, writer.Spilled), name
            assert Path(spilled.file).parent == tmp_path / "kept"
            assert Path(spilled.file).read_bytes() == held[number][name]
            assert spilled.size == len(held[number][name])


def test_a_whole_build_holds_no_index_file(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A build of several shards takes each shard's index files from disk (linked into
    place), and removes the folder they were kept in."""
    joined: list[dict[str, object]] = []
    real = writer._join_search_index

    def keeping(pending: object) -> object:
        wanted = real(pending)  # type: ignore[arg-type]
        joined.append(dict(wanted))
        return wanted

    monkeypatch.setattr(writer, "_join_search_index", keeping)
    result = cached(project)
    assert len(joined) == 1
    index = {path: made for path, made in joined[0].items() if path != "pagefind/shards.json"}
    assert len({path.split("/")[1] for path in index if "/part-" in path}) > 1  # shards
    assert [path for path, made in index.items() if isinstance(made, bytes)] == []
    assert all(isinstance(made, writer.Spilled) for made in index.values())
    assert [p.name for p in project.iterdir() if ".spill-" in p.name] == []
    site = project / "_site"
    for path, made in index.items():
        assert isinstance(made, writer.Spilled)
        assert (site / path).stat().st_size == made.size
    assert result.ok
