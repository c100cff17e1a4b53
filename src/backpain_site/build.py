"""The whole build as one readable function: load, resolve, render, then (only if clean) write.

Input: a project folder and an output folder. Output: a `BuildResult` with the outputs, the
sorted problems and timing. Nothing is written when any problem is an error.
"""

from __future__ import annotations

import datetime as dt
import operator
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from .cache import no_cyclic_gc
from .incremental import BuildCache, Options, Summary, summary_site
from .problems import Problem, Severity, error, errors_in
from .progress import NO_PROGRESS, Progress

if TYPE_CHECKING:
    from .content import Site
    from .readability import PageGrade
    from .writer import SpillFolder, StagedSite

# The memo's namespaces that rendering never asks for: what loading, resolving and grading
# remembered (parsed content files and BibTeX parts, formatted references, converted Markdown,
# its checks, and reading grades). A build with a cache folder saves them before it
# renders and lets them go (BuildCache.save_early): at 10,000 studies each render worker of a
# cold build then held about 50 MB less (490 to 437 MB), with the studies' texts let go too.
RENDERED_WITHOUT = ("readability", "content", "bibliography", "csl", "markdown", "markdown-checks")


_IS_PAGE = operator.methodcaller("endswith", ".html")


@dataclass(frozen=True)
class BuildResult:
    problems: list[Problem]
    # The files rendered by this build and held: every file, unless the build used a cache
    # (then only those whose inputs changed; `paths` lists every file of the site). A build
    # with a cache on disk, or with `stream`, hands its pages and downloads to the writer as
    # they are rendered (`_staging`): they are not here then (`made` names them).
    outputs: dict[PurePosixPath, bytes] = field(default_factory=dict)
    seconds: float = 0.0
    written: bool = False
    # What was loaded (None when the site settings could not be read): `serve` needs the base
    # URL and `check` lists the drafts. After a cached build that found nothing changed, only
    # the settings and drafts are given.
    site: Site | None = None
    # Flesch-Kincaid grade of every patient-facing page (readability.py), for the report.
    reading_grades: Sequence[PageGrade] = ()
    paths: tuple[str, ...] = ()  # every file of the site (posix paths), for a cached build
    # Files a cached build changed in the live site (the others were already there as they are).
    changed: int | None = None
    # Made by the fast edit path (edit_path.py): only these study pages were rendered.
    edited: frozenset[PurePosixPath] = frozenset()
    # The files this build made anew: those in `outputs` and those it wrote as it made them
    # (into a new folder, or a spill folder: see `_staging`); the others were kept as they were.
    made: frozenset[str] = frozenset()

    @property
    def fast_edit(self) -> bool:
        return bool(self.edited)

    @property
    def ok(self) -> bool:
        return not errors_in(self.problems)

    @property
    def files(self) -> int:
        return len(self.paths) if self.paths else len(self.outputs)

    @property
    def pages(self) -> int:
        paths = self.paths or list(map(str, self.outputs))
        return sum(map(_IS_PAGE, paths))  # in C: about 6 ms less at 10,000 studies


def build(
    source: Path,
    out_dir: Path | None,
    *,
    strict: bool = False,
    today: dt.date | None = None,
    drafts: bool = False,
    cache: BuildCache | None = None,
    progress: Progress = NO_PROGRESS,
    stream: bool = False,
    ending: bool = False,
) -> BuildResult:
    """Build the site under `source`; write into `out_dir` unless it is None (a check).

    `drafts` renders draft studies as if published: only `serve --drafts` asks for that.
    `cache` (incremental.py) makes the build incremental: nothing is parsed, formatted,
    converted or rendered again for unchanged inputs, and only changed files are written.
    `stream`, for a build without a cache (which writes every file afresh, comparing none):
    pages go into the new folder as they are rendered, not into the result's outputs.
    `ending`: the process ends right after this build (the command line, cli.run): a fast
    edit leaves the cycle collector off (CollectorOff.stay_off).
    """
    started = time.perf_counter()
    where = str(out_dir.absolute()) if out_dir is not None else ""
    options = Options(where, strict, drafts, (today or dt.date.today()).isoformat(), True)
    if cache is not None:
        # The cycle collector stays off until the build knows whether it is a fast edit.
        with no_cyclic_gc() as collector:
            try:
                unchanged = cache.begin(options)
                if unchanged is not None and out_dir is not None:  # nothing changed since
                    return BuildResult(
                        list(unchanged.problems),
                        seconds=time.perf_counter() - started,
                        site=unchanged.site,
                        reading_grades=unchanged.reading_grades,
                        paths=unchanged.paths,
                        changed=0,
                    )
                # The stages are imported only when needed: a build that finds nothing changed
                # needs none of them, a fast edit only its own (at 10,000 studies, importing them
                # all took about 0.15 s of a build with nothing to do).
                from .edit_path import edit_build

                # An edit to study texts that no other page can see: only their pages.
                edited = edit_build(source, out_dir, cache, options)
                if edited is not None and ending:
                    collector.stay_off()
            finally:
                # The folder checks begun ahead for a fast edit (incremental._checked_ahead).
                cache.end_checks()
        if edited is not None:
            edited_pages, last, found_problems, changed = edited
            progress.close()
            return BuildResult(
                found_problems,
                edited_pages if not errors_in(found_problems) else {},
                time.perf_counter() - started,
                changed is not None,
                last.site,
                last.reading_grades,
                last.paths if not errors_in(found_problems) else (),
                changed,
                edited=frozenset(edited_pages),
                made=frozenset(map(str, edited_pages)),
            )
    from .cache import NO_MEMO, paused_collection, remembering
    from .edit_snapshot import TEMPLATES, take
    from .forked import give_back_memory
    from .load import load_site
    from .prefetch import Prefetcher, cores
    from .readability import GradeTable, check_readability
    from .render import compile_templates, render
    from .resolve import resolve
    from .writer import SearchIndexError, StagedSite, update_site, write_site

    memo = cache.read_memo() if cache is not None else NO_MEMO
    # Gather and check all data first, then render, then write (MkDocs' order). With a cache,
    # the slow steps of a cold build run ahead on every core (prefetch.py), same results.
    # The cycle collector waits until rendering (cache.paused_collection: seconds at scale).
    with (
        Prefetcher(memo, cores(), progress) as ahead,
        remembering(memo),
        paused_collection() as collection,
    ):
        ahead.before_load(source)
        site, problems = load_site(source, today=today, memo=memo)
        if site is not None and drafts:
            previewed = sorted(site.studies + site.drafts, key=lambda s: s.slug)
            site = replace(site, studies=tuple(previewed))
        outputs: dict[PurePosixPath, bytes] = {}
        grades: GradeTable = GradeTable.of(())
        pages = None
        resolved = None
        staged = None
        if site is not None:
            # Resolve even when loading found errors, so one run reports every problem.
            ahead.before_resolve(site)
            ahead.close()  # the workers' memory is given back before rendering
            resolved, found = resolve(site, memo)
            problems += found
            graded, found = check_readability(site)
            problems += found
            # As columns (GradeTable) from here on: as the record keeps them, and as a fast edit
            # (the live preview's too) replaces one, so that neither turns 10,000 of them into
            # columns then; and 40,000 fewer objects for every render worker to start with.
            grades = GradeTable.of(graded)
            del graded
            # What rendering never asks for is saved now and let go, before render's workers
            # are forked (each starts with all the build holds), and then so are the studies'
            # texts (about 35 MB at 10,000), which the memo's parsed files held until then.
            if out_dir is not None and cache is not None and cache.save_early(*RENDERED_WITHOUT):
                resolved = resolved.without_study_texts()
                site = resolved.site
            collection.end()
            if not errors_in(problems):
                if cache is not None:
                    progress.stage("rendering pages", cache.expected_pages())
                    pages = cache.page_memo(out_dir, progress.advance)
                    staged = _staging(cache, out_dir)
                elif stream and out_dir is not None:
                    staged = StagedSite(out_dir)
                try:
                    outputs, found = render(resolved, pages, staged)
                except BaseException:
                    if staged is not None:
                        staged.discard()
                    raise
                problems += found
    if strict:
        problems = [Problem(p.path, p.line, p.message, Severity.ERROR) for p in problems]
    problems = sorted(set(problems))
    written = False
    updated = None
    clean = not errors_in(problems)
    # What the fast edit path needs of this build (edit_snapshot.py), after a clean one (kept
    # only if it is written, too). A check (no output folder, a cache on disk) keeps nothing.
    kept = cache is not None and (out_dir is not None or cache.disk is None)
    snapshot = take(resolved, options) if resolved is not None and kept and clean else None
    if snapshot is not None and site is not None and cache is not None and cache.disk is not None:
        # Compiled for the next process's fast edit (the preview keeps its own environment).
        snapshot[TEMPLATES] = compile_templates(site.templates_dir)
    # Taken before writing, so that what only rendering read goes now (the converted bodies,
    # about 33 MB at 10,000 studies, the backlinks): the writer then makes its records of
    # 60,000 files in that room, not on top of it.
    resolved = None
    if pages is not None and cache is not None and cache.disk is not None:
        pages.let_go_of_values()  # no later build in this process carries them over
    if clean and out_dir is not None and (outputs or pages is not None):
        progress.stage("writing")
        give_back_memory()
        try:
            if cache is not None and pages is not None:
                updated = cache.write(outputs, pages, out_dir, search_index=True, staged=staged)
            elif staged is not None:  # a build without a cache, streamed (`stream`)
                update_site(outputs, {}, out_dir, None, None, search_index=True, staged=staged)
            else:
                write_site(outputs, out_dir, search_index=True)
            written = True
        except SearchIndexError as exc:
            # The staged folder is discarded, so the previous site stays as it was.
            problems.append(error("pagefind", 0, str(exc)))
            updated = None
    if staged is not None:
        staged.discard()  # when the build had errors (once published, the folder is gone)
    made = {*map(str, outputs), *(staged.files if staged is not None else ())}
    every = made | {*map(str, pages.kept if pages else ())}
    paths = tuple(sorted(every)) if cache or staged is not None else ()
    # A check (no output folder) reads the cache but never writes it: it writes nothing at all.
    summary = Summary(tuple(problems), grades, summary_site(site), paths)
    if cache is not None and out_dir is not None:
        give_back_memory()  # what render and the writer freed, before the cache is pickled
        cache.finish(options, pages, updated if written else None, summary, snapshot)
    elif cache is not None and cache.disk is None and pages is not None and clean:
        # The live preview writes, and keeps, every page of this build.
        cache.served(pages, summary, snapshot)
    progress.close()
    return BuildResult(
        problems,
        outputs if not errors_in(problems) else {},
        time.perf_counter() - started,
        written,
        site,
        grades,
        paths if not errors_in(problems) else (),
        updated.changed if updated is not None else None,
        made=frozenset(made) if not errors_in(problems) else frozenset(),
    )


def _staging(cache: BuildCache, out_dir: Path | None) -> StagedSite | SpillFolder | None:
    """Where a build's pages go as they are rendered, instead of all being held until the end
    (about 560 MB of HTML at 10,000 studies), for a build with a cache on disk (not the live
    preview, which keeps every page): a new folder when the site's folder does not exist yet;
    otherwise a spill folder beside it, from which the writer links the files that changed
    (a page with the live file's very bytes is not even written there: render keeps it)."""
    if out_dir is None or cache.disk is None:
        return None
    from .writer import SpillFolder, StagedSite  # imported with the other stages (see `build`)

    return SpillFolder(out_dir) if out_dir.exists() else StagedSite(out_dir)
