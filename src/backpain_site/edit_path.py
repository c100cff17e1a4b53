"""The fast edit path: a build after an edit to the text of studies only, done for their pages
alone.

Input: the project folder, the build's cache (incremental.BuildCache, which has just compared
the inputs with the last build's) and its options. Output: a `BuildResult` for the whole site,
with only the edited study pages rendered and written (every other file carried over as the
last build wrote it, the search index made again for their shard), or None: then this edit is
not one the fast path can prove local, and the whole build does the work.

An edit is local when every changed input is the Markdown file of a study the last build
rendered, the file parses with no problem, everything but its text is as before (every front
matter value, and the line the text starts on; no page shows where in the front matter a value
was written), its text cites the same sources in the same order the same number of times (so
every number, anchor, reference page, "cited by" list and the bibliography's order stay as they
are), its links all lead somewhere, and its reading grade is within the target. Those are the
only ways a study's text reaches another page or a whole-site check (render gives other pages
a study's fields, never its text: tests/test_incremental.py); so the site it writes is, byte
for byte, the one a whole build would write (tests/test_edit_path.py compares the two). Any
other edit, a problem found on the way, or an output folder not exactly as recorded sends the
build down the whole path, which reports problems as always.
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import replace
from pathlib import Path, PurePosixPath

import jinja2

from .citations import find_citations
from .edit_snapshot import EditBase, EditSnapshot, SnapshotReferences, StudyEntry
from .incremental import BuildCache, Options, Summary
from .load import reload_study
from .markdown_body import MarkdownConverter
from .problems import Problem, error
from .readability import (
    PLAIN,
    PageGrade,
    adopt_hyphenator,
    page_grade,
    readability_problems,
    study_texts,
)
from .render import environment, page_common, page_values, study_values
from .resolve import ResolvedBody, check_links
from .urls import Urls
from .writer import SearchIndexError

_STUDY_FILE = re.compile(r"content/studies/([^/]+)\.md")


def edit_build(
    root: Path, out_dir: Path | None, cache: BuildCache, options: Options
) -> tuple[dict[PurePosixPath, bytes], Summary, list[Problem], int | None] | None:
    """The fast path (see the module's docstring): the pages it made, the build's summary,
    its problems and how many files of the live site it changed; None when the whole build must run.

    `out_dir` is None for the live preview (it writes its own folder, from the outputs)."""
    if (out_dir is None) != (cache.disk is None):
        return None  # a check (no output folder) always does the whole work
    changed = cache.changed_inputs()
    summary = cache.last_summary()
    if not changed or summary is None:
        return None
    slugs = []
    for name in changed:
        matched = _STUDY_FILE.fullmatch(name)
        if matched is None:
            return None
        slugs.append(matched.group(1))
    snapshot = cache.edit_snapshot(options)
    base = snapshot.base() if snapshot is not None else None
    if snapshot is None or base is None:
        return None
    root = root.resolve()
    if (loaded := snapshot.hyphenator()) is not None:
        adopt_hyphenator(loaded)  # what grading the page would otherwise load (see HYPHENATOR)
    compiled = snapshot.templates()
    env = cache.environment(base.templates_dir, lambda where: environment(where, compiled))
    outputs: dict[PurePosixPath, bytes] = {}
    grades = summary.reading_grades
    for name, slug in zip(changed, slugs, strict=True):
        if any(problem.path == name for problem in summary.problems):
            return None  # its problems would have to be told apart from the others'
        entry = snapshot.study(slug)
        if entry is None:
            return None
        page = _study_page(root, root / name, entry, base, snapshot, env)
        if page is None:
            return None
        path, html, grade = page
        outputs[path] = html
        grades = grades.replaced(grade)
    summary = replace(summary, reading_grades=grades)
    problems = list(summary.problems)
    files_changed: int | None = None  # in the live site
    if out_dir is not None:
        try:
            updated = cache.write_edit(outputs, out_dir, summary)
        except SearchIndexError as exc:
            # The staged folder is discarded, so the previous site stays as it was.
            return outputs, summary, [*problems, error("pagefind", 0, str(exc))], None
        if updated is None:
            return None
        files_changed = updated.changed
    else:
        cache.finish_edit(summary, outputs)
    return outputs, summary, problems, files_changed


def _study_page(
    root: Path,
    path: Path,
    entry: StudyEntry,
    base: EditBase,
    snapshot: EditSnapshot,
    env: jinja2.Environment,
) -> tuple[PurePosixPath, bytes, PageGrade] | None:
    """One edited study's page, its output path and reading grade; None unless local."""
    study, problems = reload_study(root, path)
    if study is None or problems or study.without_text() != entry.study:
        return None
    source = study.source
    known = frozenset(base.reference_keys)
    uses = find_citations(source.body, source.body_line)
    if any(use.key not in known for use in uses):
        return None
    keys = [u.key for u in uses] + [k for k in study.references if k in known]
    if tuple(keys) != entry.citations.keys:
        return None
    urls = Urls(base.config.base_url)
    numbers = dict(entry.citations.numbers)
    occurrences: dict[str, int] = {}
    converter = MarkdownConverter(urls, base.marks, dict(entry.labels))
    body = converter.convert(source.body, numbers, dict(entry.titles), occurrences)
    if occurrences != dict(entry.citations.occurrences):
        return None
    found: list[Problem] = []
    check_links(source, body, set(base.known_paths), urls, found)
    grade = page_grade(urls.study(study.slug), source.path, study_texts(source))
    found += readability_problems([grade], base.config.reading_grade_target)
    if found:
        return None
    references = SnapshotReferences(base.reference_keys, snapshot)
    common = page_common(base.config, urls, base.conditions, base.pages, references, base.marks)
    conditions = {c.slug: c for c in base.conditions}
    resolved = ResolvedBody(body.utf8, entry.references)
    template, url, review, context = study_values(
        study, resolved, base.config, urls, references, conditions
    )
    try:
        html = env.get_template(template).render(
            **common, **page_values(urls, url, review, context)
        )
    except (jinja2.TemplateError, LookupError):
        return None  # the whole build reports it where it happens
    return urls.output_path(url), html.encode("utf-8"), grade


def warm(cache: BuildCache, templates_dir: str) -> None:
    """Make ready what a first fast edit would otherwise make while the editor waits (the live
    preview calls this after each whole build): the compiled templates and the syllable
    counter that reading grades use."""
    env = cache.environment(templates_dir, environment)
    for name in env.list_templates():
        with contextlib.suppress(jinja2.TemplateError, UnicodeDecodeError, OSError):
            env.get_template(name)
    page_grade("/", "", [(PLAIN, "Ready.", "", 0)])
