"""docs/editing.md is run, not just read: every block in it is carried out in order on a copy of
the real project, and every command's output must be what the guide shows.

The guide's blocks, by their fence's info string:
  sh                   `$ command` lines, each followed by the output it prints; `...` inside a
                       line stands for any text, and a line of just `...` for any lines. A
                       command ending in `# exits with N` must exit with N (otherwise 0).
  bibtex               appended to content/references.bib
  <language> file=P    written to P (a whole file)
  diff file=P          applied to P: ' ' lines stay, '-' lines go, '+' lines come
"""

from __future__ import annotations

import http.client
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from backpain_site.schema import STUDY

from conftest import REPO

DOC = REPO / "docs" / "editing.md"
FENCE = re.compile(r"^```([^\n]*)\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)
PROGRAM = [sys.executable, "-m", "backpain_site"]


@dataclass(frozen=True)
class Block:
    language: str
    attributes: dict[str, str]
    text: str
    line: int


def blocks(markdown: str) -> list[Block]:
    found = []
    for match in FENCE.finditer(markdown):
        language, *rest = match.group(1).split() or [""]
        attributes = dict(item.split("=", 1) for item in rest)
        line = markdown[: match.start()].count("\n") + 1
        found.append(Block(language, attributes, match.group(2), line))
    return found


@dataclass(frozen=True)
class Command:
    text: str
    expected: list[str]
    exit_code: int


def commands(block: Block) -> list[Command]:
    found: list[Command] = []
    for line in block.text.splitlines():
        if line.startswith("$ "):
            text = line[2:]
            exits = re.search(r"\s+# exits with (\d+)$", text)
            if exits:
                text = text[: exits.start()]
            found.append(Command(text, [], int(exits.group(1)) if exits else 0))
        else:
            assert found, f"docs/editing.md:{block.line}: output before any command"
            found[-1].expected.append(line)
    return found


def matches(expected: list[str], actual: list[str]) -> bool:
    """Line-by-line match where `...` is any text in a line, and a `...` line any lines."""
    if not expected:
        return not actual
    head, rest = expected[0], expected[1:]
    if head == "...":
        return any(matches(rest, actual[i:]) for i in range(len(actual) + 1))
    if not actual:
        return False
    pattern = ".*?".join(re.escape(part) for part in head.split("..."))
    return re.fullmatch(pattern, actual[0]) is not None and matches(rest, actual[1:])


def argv(command: str) -> list[str]:
    words = shlex.split(command)
    assert words[0] == "backpain-site", f"the guide runs only backpain-site, not {words[0]}"
    return PROGRAM + words[1:]


def run(command: Command, cwd: Path) -> None:
    done = subprocess.run(
        argv(command.text),
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        timeout=300,
        check=False,
    )
    actual = done.stdout.splitlines()
    assert matches(command.expected, actual), (
        f"$ {command.text}\nexpected:\n"
        + "\n".join(command.expected)
        + "\nprinted:\n"
        + done.stdout
    )
    assert done.returncode == command.exit_code, (command.text, done.stdout)


def serve(command: Command, cwd: Path) -> None:
    """A server runs until stopped: read what the guide shows, fetch the page, stop it."""
    process = subprocess.Popen(
        [*argv(command.text), "--port", "0"],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert process.stdout is not None
        printed = [process.stdout.readline().rstrip("\n") for _ in command.expected]
        port = next(m.group(1) for m in map(re.compile(r":(\d+)/").search, printed) if m)
        shown = [line.replace(f":{port}/", ":8000/") for line in printed]
        assert matches(command.expected, shown), (command.expected, printed)
        connection = http.client.HTTPConnection("127.0.0.1", int(port), timeout=10)
        connection.request("GET", "/studies/example-2024-acupuncture-trial/")
        assert connection.getresponse().status == 200
        connection.close()
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=30)


def apply_diff(block: Block, path: Path) -> None:
    lines = block.text.splitlines()
    assert all(line[:1] in (" ", "-", "+") for line in lines), f"docs/editing.md:{block.line}"
    old = "".join(line[1:] + "\n" for line in lines if line[:1] in (" ", "-"))
    new = "".join(line[1:] + "\n" for line in lines if line[:1] in (" ", "+"))
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"docs/editing.md:{block.line}: lines not found once in {path}"
    path.write_text(text.replace(old, new), encoding="utf-8")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    for folder in ("content", "templates", "static"):
        shutil.copytree(REPO / folder, root / folder)
    return root


def test_every_block_of_the_guide_runs_as_shown(project: Path) -> None:
    found = blocks(DOC.read_text(encoding="utf-8"))
    ran = 0
    for block in found:
        where = f"docs/editing.md:{block.line}"
        if block.language == "sh":
            for command in commands(block):
                (serve if command.text.startswith("backpain-site serve") else run)(command, project)
                ran += 1
        elif block.language == "bibtex":
            with (project / "content/references.bib").open("a", encoding="utf-8") as bib:
                bib.write("\n" + block.text)
        elif block.language == "diff":
            apply_diff(block, project / block.attributes["file"])
        elif "file" in block.attributes:
            (project / block.attributes["file"]).write_text(block.text, encoding="utf-8")
        else:
            raise AssertionError(f"{where}: a block the test cannot run ({block.language!r})")
    assert ran >= 8
    # The walk-through ends with the example study published.
    assert (project / "_site/studies/example-2024-acupuncture-trial/index.html").is_file()


def test_the_guide_explains_every_study_field() -> None:
    text = DOC.read_text(encoding="utf-8")
    table = {m.group(1) for m in re.finditer(r"^\| `(\w+)` \|", text, re.MULTILINE)}
    assert table == {field.name for field in STUDY.fields}


def test_matching_rules() -> None:
    assert matches(["wrote ... pages", "..."], ["wrote 12 pages", "a", "b"])
    assert matches(["a", "...", "z"], ["a", "z"])
    assert not matches(["wrote ... pages"], ["wrote 12 pages", "more"])
    assert not matches(["a.c"], ["abc"])
