"""`backpain-site check --format text|json|github`: one line (or object) per problem, exactly."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from backpain_site.cli import main
from backpain_site.problems import Problem, Severity
from backpain_site.report import github_lines, json_text

from conftest import BIB, PAGE, STUDY

CHECK = (sys.executable, "-m", "backpain_site", "check")
DRAFT = "a draft, left out of the published site until 'draft' is false"
BROKEN_SITE = {
    "content/studies/smith-2020.md": STUDY.replace(
        "[@smith2020trial; @agency2019facts]", "[@smith2020trail]"
    )
    .replace("last_reviewed: 2026-11-01", "last_reviewed: 2025-01-01")
    .replace("next_review: 2029-11-01", "next_review: 2026-01-01"),
    "content/references.bib": BIB
    + "\n@misc{unused2021note,\n  title = {Unused},\n  year = {2021}\n}\n",
    "content/pages/disclaimer.md": PAGE.replace("Talk to a doctor.", "See [it](/pages/missing/)."),
    "content/studies/draft-one.md": STUDY.replace(
        "status: published", "status: published\ndraft: true"
    ),
}
# (path, line, severity, message) of every problem the broken site has, in the order reported.
PROBLEMS = [
    (
        "content/pages/disclaimer.md",
        8,
        "error",
        "broken link '/pages/missing/': no such page (did you mean '/pages/disclaimer/'?)",
    ),
    (
        "content/references.bib",
        20,
        "warning",
        "reference 'unused2021note' is not cited by any page",
    ),
    ("content/studies/smith-2020.md", 18, "warning", "review overdue since 2026-01-01"),
    (
        "content/studies/smith-2020.md",
        20,
        "error",
        "unknown reference 'smith2020trail' (did you mean 'smith2020trial'?)",
    ),
]


def run(
    capsys: pytest.CaptureFixture[str], root: Path, *options: str
) -> tuple[int, list[str], list[str]]:
    code = main(["check", "--source", str(root), *options])
    captured = capsys.readouterr()
    return code, captured.out.splitlines(), captured.err.splitlines()


def test_github_format_gives_one_annotation_per_problem(
    project: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    root = project(BROKEN_SITE)
    code, out, err = run(capsys, root, "--format", "github")
    assert code == 1
    assert out == [
        "::error file=content/pages/disclaimer.md,line=8::broken link '/pages/missing/': "
        "no such page (did you mean '/pages/disclaimer/'?)",
        "::warning file=content/references.bib,line=20::reference 'unused2021note' is not cited "
        "by any page",
        "::warning file=content/studies/smith-2020.md,line=18::review overdue since 2026-01-01",
        "::error file=content/studies/smith-2020.md,line=20::unknown reference 'smith2020trail' "
        "(did you mean 'smith2020trial'?)",
        f"::notice file=content/studies/draft-one.md::{DRAFT}",
    ]
    assert err == ["2 errors, 2 warnings"]


def test_strict_turns_every_warning_into_an_error_annotation(
    project: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    root = project(BROKEN_SITE)
    code, out, err = run(capsys, root, "--format", "github", "--strict")
    assert code == 1
    assert [line.split(" ", 1)[0] for line in out] == ["::error"] * 4 + ["::notice"]
    assert err == ["4 errors, 0 warnings"]


def test_json_format_lists_every_problem_for_tools(
    project: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    root = project(BROKEN_SITE)
    code, out, err = run(capsys, root, "--format", "json")
    assert code == 1
    assert err == []
    assert json.loads("\n".join(out)) == [
        {"path": path, "line": line, "severity": severity, "message": message}
        for path, line, severity, message in PROBLEMS
    ] + [
        {"path": "content/studies/draft-one.md", "line": 0, "severity": "notice", "message": DRAFT}
    ]


def test_text_format_is_the_default(
    project: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    root = project(BROKEN_SITE)
    code, out, err = run(capsys, root)
    assert code == 1
    assert out == [f"content/studies/draft-one.md: {DRAFT}"]
    warning = {"error": "", "warning": "warning: "}
    assert err == [
        f"{path}:{line}: {warning[severity]}{message}" for path, line, severity, message in PROBLEMS
    ] + ["2 errors, 2 warnings; nothing was written, the previous site is unchanged"]


def test_a_clean_site_gives_no_annotations_and_exit_0(
    project: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    root = project()
    assert run(capsys, root, "--format", "github") == (0, [], ["0 errors, 0 warnings"])
    code, out, _ = run(capsys, root, "--format", "json")
    assert (code, json.loads("\n".join(out))) == (0, [])


def test_check_writes_nothing(
    project: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    root = project()
    before = sorted(p.relative_to(root) for p in root.rglob("*"))
    for options in ((), ("--format", "json"), ("--format", "github"), ("--strict",)):
        run(capsys, root, *options, "--no-cache")
    assert sorted(p.relative_to(root) for p in root.rglob("*")) == before
    # With a cache left by an earlier build, a check reads it and still changes no byte.
    assert main(["build", "--source", str(root), "--out", str(root / "_site")]) == 0
    capsys.readouterr()
    built = {p: p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}
    assert any(".cache" in p.parts for p in built)
    run(capsys, root)
    run(capsys, root, "--strict")
    assert {p: p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()} == built


def test_annotation_paths_are_relative_to_where_the_command_runs(
    project: Callable[..., Path], tmp_path: Path
) -> None:
    root = project(BROKEN_SITE)  # tmp_path/project
    done = subprocess.run(
        [*CHECK, "--source", "project", "--format", "github"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert root == tmp_path / "project"
    assert done.returncode == 1
    assert done.stdout.splitlines()[0].startswith(
        "::error file=project/content/pages/disclaimer.md,line=8::"
    )


def test_annotation_values_are_escaped_as_the_runner_expects() -> None:
    problem = Problem("content/a,b:c.md", 3, "100% sure:\nnot, really\r", Severity.ERROR)
    assert github_lines([problem]) == [
        "::error file=content/a%2Cb%3Ac.md,line=3::100%25 sure:%0Anot, really%0D"
    ]
    no_line = Problem("content/site.yaml", 0, "missing site settings file", Severity.WARNING)
    assert github_lines([no_line], base="site") == [
        "::warning file=site/content/site.yaml::missing site settings file"
    ]


def test_json_keeps_unicode_readable() -> None:
    problem = Problem("content/studies/y.md", 2, "Yüksel\u2019s entry", Severity.WARNING)
    assert json_text([problem]) == (
        '[\n  {\n    "path": "content/studies/y.md",\n    "line": 2,\n'
        '    "severity": "warning",\n    "message": "Yüksel\u2019s entry"\n  }\n]'
    )


def test_unknown_format_is_a_usage_error(
    project: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, project(), "--format", "xml")
    assert code == 2
    assert err[-1].startswith(
        "backpain-site check: error: argument --format: invalid choice: 'xml'"
    )
