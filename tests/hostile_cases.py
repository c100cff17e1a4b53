"""The bad-input corpus of tests/hostile/: its cases, and the projects they make.

Input: the case folders (see tests/hostile/README.md). Output: `Case` values and, for one case,
the small project of tests/conftest.py with the case's files put over it.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from conftest import STUDY, write_project

CASES_DIR = Path(__file__).resolve().parent / "hostile"
DEFAULT_BUDGET = 5.0  # CPU seconds for a build; every case takes well under one
_NOT_OVERLAY = {"case.toml", "expected.txt"}
# A study outside the project, valid in every way: if a link to it were followed, it would build.
OUTSIDE_STUDY = STUDY


@dataclass(frozen=True)
class Case:
    name: str
    folder: Path
    about: str
    builds: bool
    budget: float
    files: dict[str, str] = field(default_factory=dict)
    symlinks: dict[str, str] = field(default_factory=dict)
    fifos: tuple[str, ...] = ()
    generated: tuple[dict[str, Any], ...] = ()

    @property
    def expected(self) -> list[str]:
        path = self.folder / "expected.txt"
        return path.read_text(encoding="utf-8").splitlines() if path.exists() else []


def load_case(folder: Path) -> Case:
    spec = tomllib.loads((folder / "case.toml").read_text(encoding="utf-8"))
    return Case(
        name=folder.name,
        folder=folder,
        about=spec["about"],
        builds=spec.get("outcome", "error") == "builds",
        budget=float(spec.get("budget_seconds", DEFAULT_BUDGET)),
        files=dict(spec.get("files", {})),
        symlinks=dict(spec.get("symlinks", {})),
        fifos=tuple(spec.get("fifos", ())),
        generated=tuple(spec.get("generated", ())),
    )


CASES = [load_case(p) for p in sorted(CASES_DIR.iterdir()) if (p / "case.toml").is_file()]
ERROR_CASES = [c for c in CASES if not c.builds]
BUILDING_CASES = [c for c in CASES if c.builds]


def make_project(case: Case, root: Path) -> Path:
    """The conftest project with the case's files over it."""
    write_project(root)
    outside = root.parent / "outside"
    outside.mkdir(exist_ok=True)
    (outside / "secret.md").write_text(OUTSIDE_STUDY, encoding="utf-8")
    for source in sorted(case.folder.rglob("*")):
        relative = source.relative_to(case.folder)
        if source.is_file() and str(relative) not in _NOT_OVERLAY:
            target = root / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(source.read_bytes())
    for relative, text in case.files.items():
        target = root / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(text.encode("utf-8"))
    for spec in case.generated:
        text = spec.get("head", "") + spec["text"] * int(spec["times"]) + spec.get("tail", "")
        (root / spec["path"]).write_bytes(text.encode("utf-8"))
    for relative, target_text in case.symlinks.items():
        link = root / relative
        link.parent.mkdir(parents=True, exist_ok=True)
        link.unlink(missing_ok=True)
        link.symlink_to(target_text.replace("{outside}", str(outside)))
    for relative in case.fifos:
        (root / relative).unlink(missing_ok=True)
        os.mkfifo(root / relative)
    return root
