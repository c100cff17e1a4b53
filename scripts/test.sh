#!/usr/bin/env bash
# Install everything the tests need, then run every test (lint, types, unit, integration).
# Used by README.md and by .ci/run; safe to run again (each step skips what is already there).
set -euo pipefail
cd "$(dirname "$0")/.."

python3 -m pip install --quiet --disable-pip-version-check -e ".[test]"

echo "== ruff"
python3 -m ruff check src tests build.py
python3 -m ruff format --check src tests build.py
echo "== mypy"
python3 -m mypy
echo "== pytest"
python3 -m pytest -q "$@"
