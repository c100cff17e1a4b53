"""A cold build: pages rendered on every core (forked.py) and handed to the writer as they are
made (writer.StagedSite), the same site byte for byte, and nothing left behind on an error."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from backpain_site import forked
from backpain_site.build import BuildResult, build
from backpain_site.incremental import BuildCache
from backpain_site.problems import Problem, Severity

from conftest import TODAY, tree

STUDIES = 200  # 424 pages: enough for the pages to be rendered by forked workers


@pytest.fixture
def project(generated: Path, tmp_path: Path) -> Iterator[Path]:
    root = tmp_path / "project"
    shutil.copytree(generated, root)
    yield root


def _square_and_pid(index: int) -> tuple[int, int]:
    return index * index, os.getpid()


def in_a_fresh_process(code: str) -> None:
    """Run `code` in a new Python process: forking needs a process in which no other thread
    runs, and earlier tests (the browser tests' servers) leave threads in this one."""
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_forked_map_gives_every_result_in_order_from_other_processes() -> None:
    in_a_fresh_process(
        """
        import os
        from backpain_site import forked

        def square_and_pid(index):
            return index * index, os.getpid()

        count = forked.MIN_ITEMS + 3 * forked.CHUNK + 5
        results = list(forked.forked_map(square_and_pid, count, 2))
        assert [square for square, _ in results] == [i * i for i in range(count)]
        assert os.getpid() not in {pid for _, pid in results}
        """
    )


def test_a_worker_that_dies_is_an_error_not_a_wait() -> None:
    in_a_fresh_process(
        """
        import os
        from concurrent.futures.process import BrokenProcessPool
        from backpain_site import forked

        def dies_at_seven(index):
            if index == 7:
                os._exit(9)  # as a worker killed for memory would
            return index

        try:
            list(forked.forked_map(dies_at_seven, forked.MIN_ITEMS, 2))
        except BrokenProcessPool:
            pass
        else:
            raise AssertionError("no BrokenProcessPool")
        """
    )


def test_forked_map_runs_here_when_forking_is_not_safe_or_not_worth_it() -> None:
    few = list(forked.forked_map(_square_and_pid, forked.MIN_ITEMS - 1, 2))
    assert {pid for _, pid in few} == {os.getpid()}
    one_core = list(forked.forked_map(_square_and_pid, forked.MIN_ITEMS, 1))
    assert {pid for _, pid in one_core} == {os.getpid()}
    # Another thread running (as in the live preview's server): forking could copy a held lock.
    stop = threading.Event()
    server = threading.Thread(target=stop.wait)
    server.start()
    try:
        threaded = list(forked.forked_map(_square_and_pid, forked.MIN_ITEMS, 2))
    finally:
        stop.set()
        server.join()
    assert [s for s, _ in threaded] == [i * i for i in range(forked.MIN_ITEMS)]
    assert {pid for _, pid in threaded} == {os.getpid()}


def test_a_cold_build_streams_its_pages_and_makes_the_same_site(
    project: Path, tmp_path: Path
) -> None:
    plain = build(project, tmp_path / "plain", today=TODAY)  # every page held, then written
    streamed = build(project, project / "_site", today=TODAY, cache=BuildCache.for_project(project))
    assert streamed.ok and plain.ok, (streamed.problems, plain.problems)
    built, expected = tree(project / "_site"), tree(tmp_path / "plain")
    assert sorted(built) == sorted(expected)
    assert any(name.startswith("pagefind/") for name in built)
    assert [name for name in sorted(built) if built[name] != expected[name]] == []
    # The pages went to the writer as they were rendered: the result does not hold them.
    assert [p for p in streamed.outputs if p.suffix == ".html"] == []
    assert (streamed.pages, streamed.files) == (plain.pages, plain.files) == (424, 1083)
    assert streamed.changed == len(streamed.paths) + len(
        [name for name in built if name.startswith("pagefind/")]
    )
    assert sorted(p.name for p in project.iterdir() if p.name.startswith(".")) == [
        "._site.lock",
        ".cache",
    ]


def test_a_build_without_a_cache_streams_its_pages_when_asked(
    project: Path, tmp_path: Path
) -> None:
    plain = build(project, tmp_path / "plain", today=TODAY)  # every page held, then written
    out = tmp_path / "streamed"
    (out / "studies").mkdir(parents=True)
    (out / "studies" / "gone.html").write_text("from an earlier build", encoding="utf-8")
    streamed = build(project, out, today=TODAY, stream=True)
    assert streamed.ok and plain.ok, (streamed.problems, plain.problems)
    built, expected = tree(out), tree(tmp_path / "plain")
    assert sorted(built) == sorted(expected)  # the old folder's file is gone with it
    assert [name for name in sorted(built) if built[name] != expected[name]] == []
    assert [p for p in streamed.outputs if p.suffix == ".html"] == []
    assert (streamed.pages, streamed.files) == (plain.pages, plain.files) == (424, 1083)
    # Nothing left beside the site: no staging folder, no retired old folder.
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        ".streamed.lock",
        "plain",
        "project",
        "streamed",
    ]


def test_the_command_line_streams_a_build_without_a_cache(
    project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from backpain_site import cli

    results = []

    def spy(*args: object, **kwargs: object) -> object:
        result = build(*args, **kwargs)  # type: ignore[arg-type]
        results.append(result)
        return result

    monkeypatch.setattr(cli, "build", spy)
    source = ["build", "--source", str(project)]
    assert cli.main([*source, "--no-cache", "--out", str(project / "nc")]) == 0
    assert cli.main([*source, "--out", str(project / "cached")]) == 0
    uncached, cached = results
    assert [p for p in uncached.outputs if p.suffix == ".html"] == []
    assert cached.ok
    assert tree(project / "nc") == tree(project / "cached")
    assert capsys.readouterr().out.splitlines()[0].startswith("wrote 424 pages (1083 files) to ")


def test_a_whole_build_into_the_existing_site_spills_its_pages_instead_of_holding_them(
    project: Path, tmp_path: Path
) -> None:
    def cached() -> BuildResult:
        return build(project, project / "_site", today=TODAY, cache=BuildCache.for_project(project))

    assert cached().ok
    # A template every page shows: every page is rendered again, and every one differs.
    base = project / "templates" / "base.html"
    base.write_text(
        base.read_text(encoding="utf-8").replace("</footer>", "<p>Changed.</p>\n</footer>"),
        encoding="utf-8",
    )
    edited = cached()
    assert edited.ok, edited.problems
    assert [p for p in edited.outputs if p.suffix == ".html"] == []
    assert sum(1 for p in edited.made if p.endswith(".html")) == edited.pages == 424
    plain = build(project, tmp_path / "plain", today=TODAY)
    assert plain.ok and tree(project / "_site") == tree(tmp_path / "plain")
    # The spill folder is gone; the previous site is kept beside the new one, as ever.
    assert sorted(p.name for p in project.iterdir() if p.name.startswith(".")) == [
        "._site.lock",
        "._site.previous",
        ".cache",
    ]


def test_pages_values_are_made_by_the_workers_that_render_them(
    project: Path, tmp_path: Path
) -> None:
    """A study's values and a reference page are made in the forked worker that renders the
    page, never for every page in the build's own process (memory: render._Job)."""
    log = tmp_path / "made-in.txt"
    in_a_fresh_process(
        f"""
        import os
        from pathlib import Path
        from backpain_site import render
        from backpain_site.bibliography_pages import BibliographyPages
        from backpain_site.build import build
        from backpain_site.incremental import BuildCache

        log = {str(log)!r}

        def noted(real):
            def made(*args, **kwargs):
                with open(log, "a") as handle:
                    handle.write(f"{{os.getpid()}} {{real.__name__}}\\n")
                return real(*args, **kwargs)
            return made

        render.study_values = noted(render.study_values)
        BibliographyPages.page = noted(BibliographyPages.page)
        render.cores = lambda: 2  # forked workers even on a one-core machine
        project = Path({str(project)!r})
        cache = BuildCache.for_project(project)
        assert build(project, project / "_site", cache=cache).ok
        with open(log, "a") as handle:
            handle.write(f"{{os.getpid()}} build\\n")
        """
    )
    lines = [line.split() for line in log.read_text().splitlines()]
    names = [name for _, name in lines]
    # One a study page and one a reference page (the synthetic site has as many of each).
    assert names.count("study_values") == names.count("page") == STUDIES
    builder = {pid for pid, name in lines if name == "build"}
    makers = {pid for pid, name in lines if name != "build"}
    assert len(builder) == 1 and len(makers) == 2 and not builder & makers


def test_a_template_error_in_a_cold_build_leaves_nothing_behind(project: Path) -> None:
    page = project / "templates" / "404.html"
    page.write_text(
        page.read_text(encoding="utf-8").replace("{% block main %}", "{% block main %}{{ nah }}"),
        encoding="utf-8",
    )
    result = build(project, project / "_site", today=TODAY, cache=BuildCache.for_project(project))
    # Rendered by a forked worker, reported as one process reports it (Jinja gives no line for
    # an undefined name: it is found while rendering, not while compiling).
    assert result.problems == [
        Problem(
            "templates/404.html",
            0,
            "template error while rendering /404.html: 'nah' is undefined",
            Severity.ERROR,
        )
    ]
    assert not result.written
    assert sorted(p.name for p in project.iterdir() if p.name.startswith((".", "_"))) == [".cache"]
