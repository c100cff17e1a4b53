"""The `backpain-site` command line: a thin shell around `build()`.

Input: command-line arguments. Output: printed report and an exit code:
0 success, 1 content errors, 2 usage errors.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from .build import build
from .problems import errors_in, warnings_in

EXIT_OK, EXIT_CONTENT, EXIT_USAGE = 0, 1, 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="backpain-site",
        description="Build the acupuncture-for-back-pain evidence site from content/.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    for name, help_text in (
        ("build", "build the site into an output folder"),
        ("check", "validate everything and write nothing"),
    ):
        command = commands.add_parser(name, help=help_text)
        command.add_argument(
            "--source",
            type=Path,
            default=Path("."),
            help="project folder holding content/, templates/ and static/",
        )
        command.add_argument("--strict", action="store_true", help="treat warnings as errors")
        if name == "build":
            command.add_argument(
                "--out",
                type=Path,
                default=None,
                help="output folder (default: _site/ in the project folder)",
            )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on usage errors, 0 on --help
        return int(exc.code or 0)
    source: Path = args.source
    if not source.is_dir():
        print(f"backpain-site: error: --source {source} is not a folder", file=sys.stderr)
        return EXIT_USAGE
    out = None
    if args.command == "build":
        out = args.out if args.out is not None else source / "_site"
    result = build(source, out, strict=args.strict)
    for problem in result.problems:
        print(problem, file=sys.stderr)
    errors, warnings = errors_in(result.problems), warnings_in(result.problems)
    if errors:
        print(
            f"{len(errors)} error{'s' if len(errors) != 1 else ''}, {len(warnings)} warning"
            f"{'s' if len(warnings) != 1 else ''}; nothing was written, "
            "the previous site is unchanged",
            file=sys.stderr,
        )
        return EXIT_CONTENT
    verb = (
        f"wrote {result.pages} pages ({len(result.outputs)} files) to {out}"
        if out is not None
        else f"checked {result.pages} pages"
    )
    print(
        f"{verb}; {len(warnings)} warning{'s' if len(warnings) != 1 else ''}; "
        f"{result.seconds:.2f} s"
    )
    return EXIT_OK
