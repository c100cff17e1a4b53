"""A build killed (SIGKILL) while writing leaves the previous site exactly as it was, and the
next build recovers: it publishes the new site, the same as a clean build of the same content.
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from backpain_site.build import build

from conftest import REPO, STUDY, TODAY, write_project
from sitecheck import snapshot

# Runs a build whose file writes pause for good after the N-th one, so it can be killed there.
DRIVER = textwrap.dedent(
    """
    import pathlib, sys, time
    from backpain_site.cli import main

    stop_after, source = int(sys.argv[1]), sys.argv[2]
    written = 0
    write_bytes = pathlib.Path.write_bytes

    def pausing_write(self, data):
        global written
        size = write_bytes(self, data)
        written += 1
        if written == stop_after:
            print("paused", self, flush=True)
            time.sleep(600)
        return size

    pathlib.Path.write_bytes = pausing_write
    sys.exit(main(["build", "--source", source]))
    """
)


def killed_while_writing(root: Path, stop_after: int) -> str:
    """Run the build until its `stop_after`-th file write, then SIGKILL it; the paused file."""
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    process = subprocess.Popen(
        [sys.executable, "-c", DRIVER, str(stop_after), str(root)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert process.stdout is not None
    ready, _, _ = select.select([process.stdout], [], [], 120)
    line = process.stdout.readline() if ready else ""
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    assert line.startswith("paused"), f"the build never reached write {stop_after}: {line!r}"
    return line.split(" ", 1)[1].strip()


@pytest.mark.parametrize("stop_after", [1, 12, 30])
def test_a_build_killed_while_writing_leaves_the_previous_site(
    tmp_path: Path, stop_after: int
) -> None:
    root = write_project(tmp_path / "project")
    first = build(root, root / "_site", today=TODAY)
    assert first.written, first.problems
    before = snapshot(root / "_site")
    changed = STUDY.replace("Pain may have eased a little.", "Pain eased a little, for a while.")
    (root / "content/studies/smith-2020.md").write_text(changed, encoding="utf-8")

    paused_at = killed_while_writing(root, stop_after)

    # Killed mid-write: the new file was being written somewhere, but not into the site.
    assert not Path(paused_at).is_relative_to(root / "_site")
    assert snapshot(root / "_site") == before
    left = [p for p in root.iterdir() if p.name.startswith(("._site.new-", "._site.spill-"))]
    assert left and Path(paused_at).parent in left
    for folder in left:  # a minute later (writer.py: a younger folder may be a build's own)
        os.utime(folder, (0, 0))

    again = build(root, root / "_site", today=TODAY)
    assert again.written, again.problems
    assert [p for p in left if p.exists()] == []  # what the killed build left is removed
    clean = write_project(tmp_path / "clean", {"content/studies/smith-2020.md": changed})
    assert build(clean, clean / "_site", today=TODAY).written
    assert {k: v[0] for k, v in snapshot(root / "_site").items()} == {
        k: v[0] for k, v in snapshot(clean / "_site").items()
    }
