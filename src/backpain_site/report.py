"""Problems as text for people, JSON for tools, or GitHub annotations for pull requests.

Input: the sorted problems of a build or check, the drafts it left out, and where the project
folder is relative to the folder the command runs in. Output: the lines to print. GitHub shows
`::error file=...,line=...::message` on the changed line of a pull request; its values are
escaped as the Actions runner expects (`%`, CR, LF, and in properties `:` and `,`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import PurePosixPath

from .problems import Problem, Severity

FORMATS = ("text", "json", "github")
DRAFT_NOTE = "a draft, left out of the published site until 'draft' is false"


def text_lines(problems: Iterable[Problem]) -> list[str]:
    return [str(problem) for problem in problems]


def draft_lines(drafts: Iterable[str]) -> list[str]:
    return [f"{path}: {DRAFT_NOTE}" for path in drafts]


def json_text(problems: Iterable[Problem], drafts: Iterable[str] = ()) -> str:
    """A JSON list: one object per problem, then one 'notice' per draft."""
    items = [
        {
            "path": p.path,
            "line": p.line,
            "severity": p.severity.value,
            "message": p.message,
        }
        for p in problems
    ]
    items += [
        {"path": path, "line": 0, "severity": "notice", "message": DRAFT_NOTE} for path in drafts
    ]
    return json.dumps(items, indent=2, ensure_ascii=False)


def _data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _property(text: str) -> str:
    return _data(text).replace(":", "%3A").replace(",", "%2C")


def _annotation(level: str, path: str, line: int, message: str, base: str) -> str:
    file = str(PurePosixPath(base, path)) if base else path
    place = f"file={_property(file)}"
    if line:
        place += f",line={line}"
    return f"::{level} {place}::{_data(message)}"


def github_lines(
    problems: Iterable[Problem], drafts: Sequence[str] = (), base: str = ""
) -> list[str]:
    """One workflow command per problem (and a notice per draft).

    `base` is the project folder relative to the repository root (where the Actions runner
    resolves `file=`), empty when they are the same folder.
    """
    lines = [
        _annotation(
            "error" if p.severity is Severity.ERROR else "warning", p.path, p.line, p.message, base
        )
        for p in problems
    ]
    lines += [_annotation("notice", path, 0, DRAFT_NOTE, base) for path in drafts]
    return lines


def summary(errors: int, warnings: int) -> str:
    return (
        f"{errors} error{'s' if errors != 1 else ''}, "
        f"{warnings} warning{'s' if warnings != 1 else ''}"
    )
