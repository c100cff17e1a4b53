"""Stage 4, write: `{output path: bytes}` -> the output folder, atomically.

Input: the rendered outputs and the output folder. Output: the folder holds exactly those files.
This is the only module that writes the site. Files go into a temporary sibling folder that
replaces the old one only when every file is written, so a failed or killed build leaves the
previous site untouched.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path, PurePosixPath


class UnsafeOutputPath(ValueError):
    """An output path would land outside the output folder."""


def _target(root: Path, relative: PurePosixPath) -> Path:
    if relative.is_absolute() or ".." in relative.parts or not relative.parts:
        raise UnsafeOutputPath(str(relative))
    return root.joinpath(*relative.parts)


def write_site(outputs: Mapping[PurePosixPath, bytes], out_dir: Path) -> None:
    out_dir = out_dir.absolute()
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.new-", dir=out_dir.parent))
    try:
        for relative in sorted(outputs):
            target = _target(staging, relative)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(outputs[relative])
        os.chmod(staging, 0o755)
        _swap(staging, out_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _swap(staging: Path, out_dir: Path) -> None:
    """Put `staging` where `out_dir` is; the old folder is removed only after the rename."""
    if not out_dir.exists():
        staging.rename(out_dir)
        return
    retired = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.old-", dir=out_dir.parent))
    retired.rmdir()
    out_dir.rename(retired)
    try:
        staging.rename(out_dir)
    except BaseException:
        retired.rename(out_dir)
        raise
    shutil.rmtree(retired, ignore_errors=True)
