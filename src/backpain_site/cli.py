"""The `backpain-site` command line: a thin shell around `build()`.

Input: command-line arguments. Output: printed report and an exit code:
0 success, 1 content errors, 2 usage errors.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from .build import build
from .cache import no_cyclic_gc
from .incremental import BuildCache
from .problems import Problem, errors_in, warnings_in
from .progress import Progress
from .readability import grade_lines, grade_summary
from .report import FORMATS, draft_lines, github_lines, json_text, summary
from .writer import discard_stdout

# The kinds of file `new` starts (new.KINDS), named here so that the parser does not import
# `new`, and with it every stage: a build with nothing to do needs none of them.
NEW_KINDS = ("study", "condition", "page", "claim")

EXIT_OK, EXIT_CONTENT, EXIT_USAGE = 0, 1, 2
EXIT_BROKEN_PIPE = 141


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
        command.add_argument(
            "--no-cache",
            action="store_true",
            help="do everything afresh, without reading or writing .cache/backpain_site/",
        )
        command.add_argument(
            "--reading-grades",
            action="store_true",
            help="list the reading grade of every patient-facing page, hardest first",
        )
        if name == "check":
            command.add_argument(
                "--format",
                choices=FORMATS,
                default="text",
                help="text for people (default), json for tools, github for pull-request "
                "annotations",
            )
        if name == "build":
            command.add_argument(
                "--out",
                type=Path,
                default=None,
                help="output folder (default: _site/ in the project folder)",
            )
    _editor_commands(commands)
    return parser


def _editor_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    source_help = "project folder holding content/, templates/ and static/"
    serve = commands.add_parser("serve", help="preview the site, rebuilt as you save")
    serve.add_argument("--source", type=Path, default=Path("."), help=source_help)
    serve.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default: %(default)s)"
    )
    serve.add_argument(
        "--port", type=int, default=8000, help="port (default: %(default)s; 0 picks a free one)"
    )
    serve.add_argument("--drafts", action="store_true", help="show draft studies too")
    new = commands.add_parser("new", help="start a new study, condition, page or claim file")
    new.add_argument("kind", choices=list(NEW_KINDS))
    new.add_argument("slug", help="the file name without .md, e.g. smith-2020-acupuncture-trial")
    new.add_argument("--reference", metavar="KEY", help="BibTeX key of the source (study, claim)")
    new.add_argument("--source", type=Path, default=Path("."), help=source_help)
    schema = commands.add_parser(
        "schema", help="write JSON Schemas of the front matter for text editors"
    )
    schema.add_argument("--source", type=Path, default=Path("."), help=source_help)
    schema.add_argument(
        "--out", type=Path, default=None, help="folder (default: schemas/ in the project)"
    )


def _out_folder_problem(out: Path, source: Path) -> str | None:
    """Why the output folder must not be replaced by the site (the build swaps it whole)."""
    out, project = out.resolve(), source.resolve()
    if out == project or out in project.parents:
        return "it holds the project itself; choose a folder of its own, such as _site"
    for folder in ("content", "templates", "static"):
        if out == project / folder or project / folder in out.parents:
            return f"it is inside the project's {folder}/ folder, which the build reads"
    if out.is_dir() and any(out.iterdir()) and not (out / "index.html").is_file():
        return "it holds files but no built site (no index.html), so replacing it would lose them"
    return None


def run(argv: Sequence[str] | None = None) -> NoReturn:
    """The `backpain-site` command (and `python -m backpain_site`): `main`, then exit.

    Everything the command does is done, written and closed by the time `main` returns, so
    the process ends there, without Python taking down, object by object, what the build
    holds: at 10,000 studies that took about 45 ms of a two-second edit, and the system takes
    back the memory at once. For the same reason what the build made is `held` to the end
    rather than let go when `main` returns (about 20 ms). Tests call `main`, which returns.
    """
    held: list[object] = []
    code = main(argv, held=held)
    try:
        sys.stderr.flush()
        sys.stdout.flush()
    except BrokenPipeError:  # the reader went away after `main` flushed: as `main` does
        code = EXIT_BROKEN_PIPE
    os._exit(code)


def main(argv: Sequence[str] | None = None, *, held: list[object] | None = None) -> int:
    """Run the command `argv` (the process's arguments when None); its exit code.

    `held` (cli.run): the process ends right after, so the build's result and cache are put
    there, not let go, and the build is told so (`build`'s `ending`)."""
    try:
        code = _run(argv, held)
        sys.stdout.flush()  # a closed pipe shows here, not at interpreter exit
    except BrokenPipeError:
        # Whoever read our output stopped early (`backpain-site check | head -1`): exit
        # quietly, as a process killed by SIGPIPE would (128 + 13).
        discard_stdout()
        return EXIT_BROKEN_PIPE
    return code


def _run(argv: Sequence[str] | None, held: list[object] | None) -> int:
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on usage errors, 0 on --help
        return int(exc.code or 0)
    source: Path = args.source
    if not source.is_dir():
        print(f"backpain-site: error: --source {source} is not a folder", file=sys.stderr)
        return EXIT_USAGE
    if args.command == "serve":
        from .serve import serve  # tornado and livereload load only when serving

        return serve(source, host=args.host, port=args.port, drafts=args.drafts)
    if args.command == "new":
        from .new import new_file

        return new_file(source, args.kind, args.slug, reference=args.reference)
    if args.command == "schema":
        from .schema_export import write_schemas

        return write_schemas(args.out if args.out is not None else source / "schemas")
    out = None
    if args.command == "build":
        out = args.out if args.out is not None else source / "_site"
        refused = _out_folder_problem(out, source)
        if refused:
            print(f"backpain-site: error: --out {out}: {refused}", file=sys.stderr)
            return EXIT_USAGE
    # The cache makes rebuilds incremental (incremental.py); progress shows only on a terminal.
    cache = None
    if not args.no_cache:
        with no_cyclic_gc():
            cache = BuildCache.for_project(source)
            if held is not None:
                # The process keeps the build record to its end: frozen (before the collector
                # is on again), the collector never walks it (8 to 15 ms of a fast edit at
                # 10,000 studies, each time it did).
                gc.freeze()
    progress = Progress(sys.stderr, sys.stderr.isatty())
    # Without a cache every file is written afresh: the pages go to disk as they are rendered
    # (at 10,000 studies, holding them all took the build from 660 MB to over 1 GB).
    result = build(
        source,
        out,
        strict=args.strict,
        cache=cache,
        progress=progress,
        stream=cache is None,
        ending=held is not None,
    )
    if held is not None:
        held += (cache, result)
    drafts = [s.source.path for s in result.site.drafts] if result.site else []
    if args.command == "check" and args.format != "text":
        return _report_for_tools(args.format, result.problems, drafts, source)
    for problem in result.problems:
        print(problem, file=sys.stderr)
    if args.command == "check":
        for line in draft_lines(drafts):
            print(line)
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
        _written(result.pages, result.files, result.changed, out)
        if out is not None
        else f"checked {result.pages} pages"
    )
    print(
        f"{verb}; {len(warnings)} warning{'s' if len(warnings) != 1 else ''}; "
        f"{result.seconds:.2f} s"
    )
    target = result.site.config.reading_grade_target if result.site else 0
    if args.reading_grades:
        for line in grade_lines(result.reading_grades, target):
            print(line)
    print(grade_summary(result.reading_grades, target))
    return EXIT_OK


def _written(pages: int, files: int, changed: int | None, out: Path) -> str:
    if changed == 0:
        return f"{pages} pages ({files} files) in {out} are up to date"
    done = f"wrote {pages} pages ({files} files) to {out}"
    return done if changed is None or changed >= files else f"{done}; {changed} changed"


def _report_for_tools(
    format_name: str, problems: list[Problem], drafts: list[str], source: Path
) -> int:
    if format_name == "json":
        print(json_text(problems, drafts))
    else:
        for line in github_lines(problems, drafts, _from_here(source)):
            print(line)
        print(summary(len(errors_in(problems)), len(warnings_in(problems))), file=sys.stderr)
    return EXIT_CONTENT if errors_in(problems) else EXIT_OK


def _from_here(source: Path) -> str:
    """The project folder relative to the current one ('' when the same), for GitHub's `file=`."""
    try:
        relative = source.resolve().relative_to(Path.cwd().resolve())
    except ValueError:
        return ""
    return "" if relative == Path(".") else relative.as_posix()
