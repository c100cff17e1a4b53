"""`python build.py [args]`: the same as `backpain-site build [args]` (a thin shim)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent / "src"))

from backpain_site.cli import run

if __name__ == "__main__":
    run(["build", *sys.argv[1:]])
