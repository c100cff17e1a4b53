"""The command line: exit codes, messages, and a failed build leaving the old site untouched."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from backpain_site.build import build
from backpain_site.cli import main

from conftest import REPO, STUDY


def snapshot(folder: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


def test_build_then_broken_content_leaves_previous_site_untouched(
    project: Callable[..., Path], capsys: object
) -> None:
    root = project()
    assert main(["build", "--source", str(root)]) == 0
    before = snapshot(root / "_site")
    assert before
    broken = (
        STUDY.replace("certainty: not-graded", "certanity: not-graded")
        .replace("participants: 120", "participants: many")
        .replace("[@smith2020trial; @agency2019facts]", "[@smith2020trail]")
    )
    (root / "content/studies/smith-2020.md").write_text(broken, encoding="utf-8")
    assert main(["build", "--source", str(root)]) == 1
    captured = capsys.readouterr()  # type: ignore[attr-defined]
    assert captured.err.splitlines() == [
        "content/studies/smith-2020.md:2: missing required field 'certainty' in a study",
        "content/studies/smith-2020.md:7: 'participants' must be a whole number, not 'many'",
        "content/studies/smith-2020.md:13: unknown field 'certanity' in a study "
        "(did you mean 'certainty'?)",
        "content/studies/smith-2020.md:20: unknown reference 'smith2020trail' "
        "(did you mean 'smith2020trial'?)",
        "4 errors, 0 warnings; nothing was written, the previous site is unchanged",
    ]
    assert snapshot(root / "_site") == before


def test_unknown_citation_key_is_an_error_with_suggestion(
    project: Callable[..., Path], capsys: object
) -> None:
    root = project()
    broken = STUDY.replace("[@smith2020trial; @agency2019facts]", "[@smith2020trail]")
    (root / "content/studies/smith-2020.md").write_text(broken, encoding="utf-8")
    assert main(["check", "--source", str(root)]) == 1
    err = capsys.readouterr().err  # type: ignore[attr-defined]
    assert (
        "content/studies/smith-2020.md:20: unknown reference 'smith2020trail' "
        "(did you mean 'smith2020trial'?)"
    ) in err.splitlines()


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    assert main(["build", "--source", str(tmp_path / "missing")]) == 2
    assert main(["frobnicate"]) == 2


def test_entry_points_agree(project: Callable[..., Path]) -> None:
    root = project()
    # Every page and file the build makes (pages, downloads, static files), counted in-process.
    made = build(root, None)
    for index, command in enumerate(
        (
            [sys.executable, str(REPO / "build.py")],
            [sys.executable, "-m", "backpain_site", "build"],
        )
    ):
        # Separate folders: into the same one, the second build finds it up to date.
        done = subprocess.run(
            [*command, "--source", str(root), "--out", str(root / f"o{index}")],
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        assert (made.pages, len(made.outputs)) == (14, 43)
        assert done.stdout.startswith(f"wrote {made.pages} pages ({len(made.outputs)} files) to ")
        # The command ends without tearing Python down (cli.run): its report is still whole.
        assert done.stdout.splitlines()[-1].startswith("reading grade (Flesch-Kincaid) of ")


def test_the_command_reports_whole_and_exits_with_the_build_code(
    project: Callable[..., Path],
) -> None:
    root = project()
    study = next((root / "content" / "studies").glob("*.md"))
    study.write_text(study.read_text(encoding="utf-8") + "\nSee [@no-such-key].\n", "utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "backpain_site", "build", "--source", str(root)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1
    assert "no-such-key" in done.stderr
    assert done.stderr.rstrip().endswith("the previous site is unchanged")


def test_a_reader_that_stops_early_gets_no_traceback() -> None:
    # As with `| head -1` once head has exited: the pipe has no reader left.
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        writer = subprocess.run(
            [sys.executable, "-m", "backpain_site", "check", "--source", str(REPO)],
            stdout=write_end,
            stderr=subprocess.PIPE,
        )
    finally:
        os.close(write_end)
    assert writer.stderr == b""
    assert writer.returncode == 141  # as a process stopped by SIGPIPE
