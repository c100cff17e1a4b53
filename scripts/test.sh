#!/usr/bin/env bash
# Install everything the tests need, then run every test (lint, types, unit, integration, and
# the browser tests over every page of the built site).
# Used by README.md and by .ci/run; safe to run again (each step skips what is already there).
set -euo pipefail
cd "$(dirname "$0")/.."

# System packages the browser tests need, installed only when missing: Debian's Chromium (the
# browser tests and Lighthouse drive /usr/bin/chromium; no step downloads a browser of its own),
# a Java runtime for the Nu Html Checker, and Node.js with npm for the npm tools.
missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
command -v java >/dev/null 2>&1 || missing+=(default-jre-headless)
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
if [ "${#missing[@]}" -gt 0 ]; then
  echo "== apt-get install ${missing[*]}"
  as_root=()
  [ "$(id -u)" -eq 0 ] || as_root=(sudo)
  "${as_root[@]}" apt-get update -qq
  "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
fi

# npm tools (axe-core, vnu-jar, lighthouse) at the versions package-lock.json pins. Install
# scripts are skipped: vnu-jar's would download a Java runtime, and Java is already here.
if ! cmp -s package-lock.json node_modules/.installed-package-lock.json; then
  echo "== npm ci"
  npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
  cp package-lock.json node_modules/.installed-package-lock.json
fi

python3 -m pip install --quiet --disable-pip-version-check -e ".[test]"

echo "== ruff"
python3 -m ruff check src tests build.py
python3 -m ruff format --check src tests build.py
echo "== mypy"
python3 -m mypy
echo "== pytest"
python3 -m pytest -q "$@"
