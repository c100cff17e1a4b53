"""A cold build's slow steps on every core, done ahead of the stages that need them.

Input: the project folder (or the loaded `Site`), a `Memo` and a process pool. Output: the memo
holding what the stages are about to ask for: parsed content files and bibliography entries
(before loading); formatted references, converted bodies and each page's reading grade
(before resolving). The stages then run exactly as on a warm build, in
their own fixed order, so the output is byte for byte what one process makes: the pool changes
when the work is done, never what is done. Anything the prefetch does not foresee is simply
computed by the stage itself.

Converted bodies are foreseen by resolving once with a planning memo, which collects each
conversion resolve asks for instead of doing it; the pool converts them, then resolve runs for
real. That pass costs a tenth of the conversions it plans, so it is made only when many files
or references changed (a cold build, new code), not for an edit or two.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import stat
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from .bibliography_parts import parse_part, part_key, split_parts
from .cache import Memo, call_key, digest, remembering
from .citations import CitationMarks
from .content import Site
from .frontmatter import decode
from .load import (
    CONTENT_KINDS,
    MAX_BIBLIOGRAPHY_BYTES,
    MAX_TEXT_BYTES,
    ParsedFile,
    _display,
    _parse_content,
)
from .markdown_body import MarkdownConverter
from .markdown_checks import unconvertible
from .progress import NO_PROGRESS, Progress
from .readability import grade_key, grade_page, page_texts
from .remembered import Conversion, convert_counting, format_one, reference_key
from .resolve import resolve
from .urls import Urls

# Fewer misses than this are computed in the build's own process: starting workers costs more.
MIN_JOBS = 64
_BATCH = 24  # jobs sent to a worker at once: fewer round trips, still even shares

Job = tuple[str, bytes, Callable[..., Any], tuple[Any, ...]]  # namespace, key, function, args


def cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


@contextmanager
def process_pool(processes: int) -> Iterator[Executor | None]:
    """A pool of `processes` workers, or None when one process is all there is to use."""
    if processes < 2:
        yield None
        return
    # Forking copies the loaded modules for free; it is only safe while no other thread runs.
    method = "fork" if threading.active_count() == 1 else "spawn"
    if method not in multiprocessing.get_all_start_methods():
        method = "spawn"
    context = multiprocessing.get_context(method)
    with ProcessPoolExecutor(processes, mp_context=context, initializer=_collecting) as pool:
        yield pool


def _collecting() -> None:
    """A worker's start. It is forked while the build has the cycle collector paused
    (cache.paused_collection), but makes garbage of its own (Markdown's trees), so it collects
    as usual; what it inherited is frozen, never walked."""
    gc.freeze()
    gc.enable()


def run_jobs(
    jobs: Sequence[Job],
    memo: Memo,
    pool: Executor | None,
    done: Callable[[int], None] | None = None,
) -> int:
    """Compute `jobs` on the pool (or here, if few) and put each result into `memo`."""
    if not jobs:
        return 0
    if pool is None or len(jobs) < MIN_JOBS:
        for namespace, key, function, args in jobs:
            memo.put(namespace, key, function(*args))
            if done is not None:
                done(1)
        return len(jobs)
    batches = [jobs[i : i + _BATCH] for i in range(0, len(jobs), _BATCH)]
    for batch, results in zip(batches, pool.map(_run_batch, batches), strict=True):
        for (namespace, key, _, _), value in zip(batch, results, strict=True):
            memo.put(namespace, key, value)
        if done is not None:
            done(len(batch))
    return len(jobs)


class Prefetcher:
    """Fills the memo ahead of each stage, on a pool started only when there is enough to do."""

    def __init__(self, memo: Memo, processes: int, progress: Progress = NO_PROGRESS) -> None:
        self._memo = memo
        self._processes = processes
        self._progress = progress
        self._pool: ExitStack | None = None
        self._executor: Executor | None = None
        self._changed = 0  # files and references the memo did not know

    def __enter__(self) -> Prefetcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop the workers, if any were started (they are not needed after prefetching)."""
        if self._pool is not None:
            self._pool.close()
            self._pool = self._executor = None

    def before_load(self, root: Path) -> None:
        if self._memo.enabled:
            self._changed = self._run("reading files", load_jobs(root, self._memo))

    def before_resolve(self, site: Site) -> None:
        if not self._memo.enabled:
            return
        self._changed += self._run("formatting references", format_jobs(site, self._memo))
        # Foreseeing conversions and grades takes a pass over the whole site: worth it when
        # many files or references changed (a cold build, new code), not for an edit or two.
        if self._changed >= MIN_JOBS:
            self._run("converting Markdown", conversion_jobs(site, self._memo))
            self._run("checking texts", check_jobs(site, self._memo))
            self._run("scoring reading grades", grade_jobs(site, self._memo))

    def _run(self, stage: str, jobs: Sequence[Job]) -> int:
        if not jobs:
            return 0
        self._progress.stage(stage, len(jobs))
        if len(jobs) >= MIN_JOBS and self._pool is None and self._processes > 1:
            self._pool = ExitStack()
            self._executor = self._pool.enter_context(process_pool(self._processes))
        return run_jobs(jobs, self._memo, self._executor, self._progress.advance)


def _run_batch(batch: Sequence[Job]) -> list[Any]:
    return [function(*args) for _, _, function, args in batch]


# --- before loading ---------------------------------------------------------------------------


def _parse_job(kind: str, slug: str, shown: str, data: bytes) -> ParsedFile:
    schema, build = CONTENT_KINDS[kind]
    return _parse_content(kind, schema, build, slug, shown, data)


def load_jobs(root: Path, memo: Memo) -> list[Job]:
    """Parsing every content file and bibliography entry the memo does not hold yet.

    Files are found as `load_site` finds them; files it would refuse are left to it (their
    problems come from load_site, which reads every file again anyway).
    """
    root = root.resolve()
    jobs: list[Job] = []
    for kind in CONTENT_KINDS:
        folder = root / "content" / kind
        if not folder.is_dir():
            continue
        for path in sorted(folder.iterdir()):
            if not _plain_file(path, ".md", MAX_TEXT_BYTES):
                continue
            shown = _display(path, root)
            data = path.read_bytes()
            key = digest(kind, path.stem, shown, data)
            if not memo.has("content", key):
                jobs.append(("content", key, _parse_job, (kind, path.stem, shown, data)))
    bib = root / "content" / "references.bib"
    if _plain_file(bib, ".bib", MAX_BIBLIOGRAPHY_BYTES):
        shown = _display(bib, root)
        text, _ = decode(bib.read_bytes(), shown)
        for part in split_parts(text or ""):
            key = part_key(part, shown)
            if not memo.has("bibliography", key):
                jobs.append(("bibliography", key, parse_part, (part.text, shown)))
    return jobs


def _plain_file(path: Path, suffix: str, limit: int) -> bool:
    """A file load_site reads as it is: no link, no hidden name, not over its size limit."""
    if path.suffix != suffix or path.name.startswith(".") or path.is_symlink():
        return False
    try:
        status = path.stat()
    except OSError:
        return False
    return stat.S_ISREG(status.st_mode) and status.st_size <= limit


# --- before resolving -------------------------------------------------------------------------


def format_jobs(site: Site, memo: Memo) -> list[Job]:
    style = site.config.citation_style
    jobs: list[Job] = []
    for reference in site.references:
        key = reference_key(reference, style)
        if not memo.has("csl", key):
            jobs.append(("csl", key, format_one, (reference, style)))
    return jobs


class PlanningMemo(Memo):
    """Answers from `inner`, but collects the conversions asked for instead of doing them."""

    def __init__(self, inner: Memo) -> None:
        super().__init__()
        self._inner = inner
        self._planned: set[bytes] = set()
        self.jobs: list[Job] = []

    def get(self, namespace: str, key: bytes, compute: Callable[[], Any]) -> Any:
        return self._inner.get(namespace, key, compute)

    def has(self, namespace: str, key: bytes) -> bool:
        return self._inner.has(namespace, key)

    def plan(self, namespace: str, key: bytes, job: Callable[[], tuple[Any, ...]]) -> bool:
        if namespace != "markdown" or self._inner.has(namespace, key):
            return False
        if key not in self._planned:
            self._planned.add(key)
            self.jobs.append((namespace, key, convert_job, job()))
        return True


_converters: dict[bytes, MarkdownConverter] = {}  # one per settings, in each worker


def convert_job(
    urls: Urls,
    marks: CitationMarks | None,
    labels: dict[str, str],
    text: str,
    numbers: dict[str, int],
    titles: dict[str, str],
    occurrences: dict[str, int] | None,
) -> Conversion:
    settings = digest(urls, marks, labels)
    converter = _converters.get(settings)
    if converter is None:
        converter = _converters[settings] = MarkdownConverter(urls, marks, labels)
    return convert_counting(converter, text, numbers, titles, occurrences)


def conversion_jobs(site: Site, memo: Memo) -> list[Job]:
    planner = PlanningMemo(memo)
    resolve(site, planner)
    return planner.jobs


# --- reading grades (readability.py remembers them per page) ------------------------------------


def check_jobs(site: Site, memo: Memo) -> list[Job]:
    """Checking every body the memo has not checked (resolve and the grades both ask)."""
    jobs: list[Job] = []
    sources = [c.source for c in site.conditions] + [s.source for s in site.studies]
    sources += [c.source for c in site.claims] + [p.source for p in site.pages]
    for source in sources:
        check = call_key(unconvertible, (source.body,), {})
        if not memo.has("markdown-checks", check):
            jobs.append(("markdown-checks", check, unconvertible, (source.body,)))
    return jobs


def grade_jobs(site: Site, memo: Memo) -> list[Job]:
    """Grading every page whose grade the memo does not hold: its text split into sentences
    and scored where the job runs, so only the grade comes back."""
    jobs: list[Job] = []
    with remembering(memo):  # the bodies' checks (check_jobs) are read from the memo
        for url, path, parts in page_texts(site):
            key = grade_key(url, path, parts)
            if not memo.has("readability", key):
                jobs.append(("readability", key, grade_page, (url, path, tuple(parts))))
    return jobs
