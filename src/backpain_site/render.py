"""Stage 3, render: a `ResolvedSite` -> the bytes of every output file.

Input: `ResolvedSite` and the project's `templates/`. Output: `{output path: bytes}` for every
page and static file; no disk writes of its own (a build with a cache on disk gives it a sink,
writer.StagedSite or writer.SpillFolder, that takes pages as they are rendered, instead).
Pages render on every core (forked.py), merged back in one fixed order. Jinja runs with
autoescape and `StrictUndefined`, so an undefined variable is a build error, not an empty
string; autoescaped output is written through `_escape_output` (markupsafe's escaping, without a
new Markup for every value). Output is byte-for-byte deterministic: no clocks, stable orders.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
from collections.abc import Callable, Iterable, Iterator, Mapping, MutableMapping, Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any, NamedTuple, Protocol

import jinja2
import markupsafe
from jinja2 import nodes
from jinja2.compiler import CodeGenerator, Frame

from .bibliography import Reference
from .bibliography_pages import (
    BibliographyPages,
    ListFilter,
    bibliography_pages,
    reference_title,
)
from .cache import note, recalled
from .citations import CitationMarks
from .content import Condition, Page, ReviewDates, SiteConfig, Study
from .csl import load_style
from .discovery import ListedPage, discovery_files, sections
from .evidence import CERTAINTIES, DESIGNS, LEVELS, VERDICTS, caveats, level_of, who_took_part
from .evidence_map import build_map, svg
from .exports import export
from .exports import let_go as let_go_of_download_entries
from .findings import summarise
from .forked import MIN_ITEMS, cores, forked_map, in_worker
from .jsonld import condition_page, study_page
from .output_tree import FileRecord, file_digest
from .page_memo import Fingerprint, PageMemo, ReferenceReads
from .problems import Problem, error
from .resolve import ResolvedBody, ResolvedSite, study_year
from .urls import Urls

Outputs = dict[PurePosixPath, bytes]

# Pages that search engines should not list (and that the sitemap leaves out).
_UNLISTED = {"404.html", "search.html"}


class PageSink(Protocol):
    """Where rendered pages go instead of the outputs: on disk (writer.StagedSite, a new site
    folder; writer.SpillFolder, a scratch folder beside an existing one).

    A page or download is written by the worker that made it (`write`), and noted in the
    build's own process in order (`note`).
    """

    def write(self, path: PurePosixPath, data: bytes) -> FileRecord: ...

    def note(self, path: PurePosixPath, record: FileRecord) -> None: ...


@dataclass(frozen=True)
class _Job:
    template: str
    path: PurePosixPath
    # The page's template values, made by the worker that renders it: a study's JSON-LD or a
    # reference page, made for every page at once in the build's own process, took about
    # 140 MB at 10,000 studies there, and every forked worker started with them.
    values: Callable[[], dict[str, Any]]


class _Rendered(NamedTuple):
    fingerprint: Fingerprint | None  # page_memo's, when there is a page memo
    keep: bool  # the file on disk is current: not rendered
    made: bytes | FileRecord | None  # the page, or the file a sink wrote; None: not made
    problems: list[Problem]


class _Made(NamedTuple):
    """A download made by a worker (render.make_file)."""

    key: bytes  # what it is made from (exports.export_key); b"": not remembered
    digest: bytes  # of its bytes (output_tree.file_digest), remembered under `key`
    keep: bool  # the live file has these bytes: not written
    made: bytes | FileRecord | None  # the file, or the record of the file a sink wrote


# Where the digests of downloads' bytes are remembered (render.make_file): the namespace of
# exports.export's bytes, under keys of their own (exports.export_key), so never mixed with them.
_EXPORTS = "exports"


@dataclass(frozen=True)
class Nav:
    label: str
    url: str


@dataclass(frozen=True)
class SiteLinks:
    """The addresses that the head, header and footer of every page show or compare with,
    made once a build: a call of `urls` from the template for each of them, on every page, was
    about 3% of the CPU time of rendering the pages."""

    home: str
    search: str
    not_found: str
    feed: str
    favicon: str
    stylesheet: str
    citations_script: str
    social_card: str  # absolute: cards are fetched by other sites
    disclaimer: str
    references: str
    claims: str

    @classmethod
    def of(cls, urls: Urls) -> SiteLinks:
        return cls(
            home=urls.home(),
            search=urls.search(),
            not_found=urls.not_found(),
            feed=urls.feed(),
            favicon=urls.static("favicon.svg"),
            stylesheet=urls.static("site.css"),
            citations_script=urls.static("citations.js"),
            social_card=urls.absolute(urls.static("social-card.png")),
            disclaimer=urls.page("disclaimer"),
            references=urls.references(),
            claims=urls.claims(),
        )


def _combined_review(reviews: Iterable[ReviewDates]) -> ReviewDates:
    """A page built from many items is as fresh as its oldest review."""
    items = list(reviews)
    return ReviewDates(min(r.last_reviewed for r in items), min(r.next_review for r in items))


def _format_date(value: dt.date) -> str:
    return f"{value.day} {value.strftime('%B')} {value.year}"


def _replaced(text: str) -> str:
    """Text escaped as markupsafe escapes it: the replacements of its pure-Python version."""
    return (
        text.replace("&", "&amp;")
        .replace(">", "&gt;")
        .replace("<", "&lt;")
        .replace("'", "&#39;")
        .replace('"', "&#34;")
    )


try:  # the C function that markupsafe.escape itself calls for text (markupsafe 3)
    from markupsafe._speedups import _escape_inner as _escaped_text
except ImportError:  # built without it, or an older markupsafe: the same replacements
    _escaped_text = _replaced


def _escape_output(value: object) -> str:
    """What a template writes for `{{ value }}`: text escaped exactly as markupsafe.escape
    escapes it, as a plain str; any other value (Markup, a number) through markupsafe.escape
    itself. markupsafe.escape makes a new Markup of every text, which a page then only joins:
    about a sixth of the time pages took to render."""
    if type(value) is str:
        return _escaped_text(value)
    return markupsafe.escape(value)


class _TemplateCode(CodeGenerator):
    """Jinja's compiler, with every autoescaped `{{ }}` written through `_escape_output`
    (`_output_child_pre` is where Jinja 3 writes the `escape(` before each output expression;
    `{% autoescape %}` blocks, decided at run time, keep Jinja's own)."""

    def _output_child_pre(self, node: nodes.Expr, frame: Frame, finalize: Any) -> None:
        if frame.eval_ctx.autoescape and not frame.eval_ctx.volatile:
            self.write("environment.escape_output(")
            if finalize.src is not None:
                self.write(finalize.src)
        else:
            super()._output_child_pre(node, frame, finalize)


class _Environment(jinja2.Environment):
    code_generator_class = _TemplateCode
    escape_output = staticmethod(_escape_output)  # called by the compiled templates

    def make_globals(self, d: MutableMapping[str, Any] | None) -> MutableMapping[str, Any]:
        """A template's globals in one dict, not Jinja's ChainMap over the environment's
        (`_environment` sets those before any template is loaded, and nothing changes them):
        each import of macros, twice a study page, compares the page's globals with the
        macros' (`globals_keys - globals.keys()`), which over a ChainMap is a Python loop
        over every key, about 6 microseconds an import."""
        return {**self.globals, **(d or {})}


def _environment(
    templates_dir: str, compiled: jinja2.BytecodeCache | None = None
) -> jinja2.Environment:
    env = _Environment(
        loader=jinja2.FileSystemLoader(templates_dir),
        bytecode_cache=compiled,
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        # One environment per build, so templates cannot change under it: no file check
        # (a stat of each template and import) for every page rendered.
        auto_reload=False,
    )
    env.filters["date"] = _format_date
    env.filters["number"] = lambda n: f"{n:,}"
    # The tables and wording of evidence.py, the same for every site: macros imported without
    # a page's context see them, and such an import is made once a build, not once a page
    # (making the macros of macros.html and evidence.html again for every study page was about
    # a tenth of its rendering).
    env.globals.update(
        designs=DESIGNS, certainties=CERTAINTIES, caveats=caveats, who_took_part=who_took_part
    )
    return env


def render(
    resolved: ResolvedSite, pages: PageMemo | None = None, sink: PageSink | None = None
) -> tuple[Outputs, list[Problem]]:
    """`pages` (page_memo.py): in an incremental build, pages it keeps are not rendered.

    `sink` (writer.StagedSite): pages go to it as they are rendered, instead of into the
    outputs, so a cold build never holds every page at once (the other files still do).
    """
    site = resolved.site
    urls = resolved.urls
    env = _environment(site.templates_dir)
    references = {r.key: r for r in site.references}
    # Templates see the references through this, which notes the keys each page reads.
    read = ReferenceReads(references)
    all_reviews = (
        [c.review for c in site.conditions]
        + [s.review for s in site.studies]
        + [p.review for p in site.pages]
    )
    site_review = _combined_review(all_reviews) if all_reviews else None
    common = page_common(site.config, urls, site.conditions, site.pages, read, resolved.marks)
    # Citation pages, the filtered bibliographies and every download (bibliography_pages.py).
    bibliography = bibliography_pages(resolved)
    outputs: Outputs = {}
    problems: list[Problem] = []
    listed: list[ListedPage] = []

    # Pages are listed here in a fixed order, then rendered (on every core: forked.py) and
    # merged back in that order, so outputs and problems are the same however many workers ran.
    jobs: list[_Job] = []

    def emit(template: str, url: str, review: ReviewDates | None, **context: Any) -> None:
        emit_later(template, url, review, str(context.get("title", "")), lambda: context)

    def emit_later(
        template: str,
        url: str,
        review: ReviewDates | None,
        title: str,
        context: Callable[[], dict[str, Any]],
    ) -> None:
        """A page whose values (`context`, with `title` among them) are made when rendered."""
        jobs.append(
            _Job(template, urls.output_path(url), lambda: page_values(urls, url, review, context()))
        )
        if template not in _UNLISTED:
            listed.append(ListedPage(url, review.last_reviewed if review else None, title))

    def _render_page(template: str, values: dict[str, Any], found: list[Problem]) -> str | None:
        try:
            return env.get_template(template).render(**common, **values)
        except jinja2.TemplateError as exc:
            line = getattr(exc, "lineno", 0) or 0
            name = getattr(exc, "filename", None) or f"templates/{template}"
            found.append(
                error(
                    _template_path(name, site.templates_dir),
                    line,
                    f"template error while rendering {values['url']}: {exc}",
                )
            )
            return None

    def render_job(index: int) -> _Rendered:
        """One page: kept (the file on disk is current), rendered, or a template error. In a
        forked worker, this is all that runs, and only its result comes back."""
        job = jobs[index]
        values = job.values()
        given, last = (
            pages.check(job.path, job.template, common, values, read)
            if pages is not None
            else (None, None)
        )
        if last is not None:
            return _Rendered(last, True, None, [])
        found: list[Problem] = []
        read.begin()
        html = _render_page(job.template, values, found)
        fingerprint = (
            pages.fingerprint(given, read) if pages is not None and given is not None else None
        )
        if html is None:
            return _Rendered(fingerprint, False, None, found)
        data = html.encode("utf-8")
        if pages is not None and pages.same_file(job.path, data):
            # The live file already holds these bytes: kept, as an unchanged page is, so the
            # page is neither sent back from a worker nor held until the writer compares it.
            return _Rendered(fingerprint, True, None, found)
        if sink is not None:
            # Written where it was rendered: only the file's record comes back.
            return _Rendered(fingerprint, False, sink.write(job.path, data), found)
        return _Rendered(fingerprint, False, data, found)

    def make_file(index: int) -> _Made:
        """One download, made (in a forked worker) before the pages: kept when the live file
        has its very bytes (known from an earlier build's digest without making it, or made
        and compared), written where it was made when there is a sink, else sent back. The
        build's own process never holds the downloads that did not change (about 90 MB at
        10,000 references), nor the garbage of making them."""
        file = downloads[index]
        if sink is None and pages is not None and not pages.compares_files:
            # The live preview, which holds every file anyway: its memo keeps the downloads'
            # bytes from one build to the next, so a rebuild does not make them all again.
            return _Made(b"", b"", False, export(file.references, file.extension))
        key = file.key()
        known = recalled(_EXPORTS, key)
        if pages is not None and isinstance(known, bytes) and pages.has_file(file.path, known):
            return _Made(key, known, True, None)
        data = file.data()
        digest = file_digest(data)
        if pages is not None and pages.has_file(file.path, digest):
            return _Made(key, digest, True, None)
        if sink is not None:
            return _Made(key, digest, False, sink.write(file.path, data))
        return _Made(key, digest, False, data)

    pages_begun = False  # in this process (each forked worker has its own)

    def make_or_render(index: int) -> _Rendered | _Made:
        nonlocal pages_begun
        # The downloads first: the whole bibliography's take longest, and are then done while
        # the other worker renders pages, not left for one worker at the end.
        if index < len(downloads):
            return make_file(index)
        if not pages_begun:
            pages_begun = True
            if in_worker():  # its downloads are made: their entries are of no more use to it
                let_go_of_download_entries()
        return render_job(index - len(downloads))

    def render_jobs() -> None:
        """Make every download, then render every page, on every core."""
        for template in sorted({job.template for job in jobs}):
            # Compiled once here, not once in every worker; an error shows when a page renders.
            with contextlib.suppress(jinja2.TemplateError):
                env.get_template(template)
        # Forked as before for the pages alone: downloads are quick to make, and are no reason
        # to fork for a small site.
        processes = cores() if len(jobs) >= MIN_ITEMS else 1
        results = forked_map(make_or_render, len(downloads) + len(jobs), processes)
        with contextlib.closing(results):  # on an error here, the workers stop at once
            place_files(itertools.islice(results, len(downloads)))
            merge(results)

    def place_files(results: Iterator[_Rendered | _Made]) -> None:
        """Each download's result, in order: kept, noted in the sink, or into the outputs;
        the digest of its bytes is remembered for the next build."""
        for file, result in zip(downloads, results, strict=True):
            assert isinstance(result, _Made)  # downloads come first
            if result.key:
                note(_EXPORTS, result.key, result.digest)
            if result.keep and pages is not None:
                pages.kept.add(file.path)
            elif isinstance(result.made, FileRecord) and sink is not None:
                sink.note(file.path, result.made)
            elif isinstance(result.made, bytes):
                outputs[file.path] = result.made

    def merge(results: Iterator[_Rendered | _Made]) -> None:
        """Each page's result, in page order, into the outputs (or the sink) and problems."""
        made: set[PurePosixPath] = set()
        taken = {file.path for file in downloads}  # no page may go where a download goes
        for job, result in zip(jobs, results, strict=True):
            assert isinstance(result, _Rendered)  # after the downloads
            if pages is not None:
                pages.note(job.path, result.fingerprint, result.keep)
            problems.extend(result.problems)
            if result.made is None and not result.keep:
                continue
            if job.path in made or job.path in outputs or job.path in taken:
                found = f"two pages write {job.path}"
                problems.append(error(f"templates/{job.template}", 0, found))
            made.add(job.path)
            if isinstance(result.made, FileRecord) and sink is not None:
                sink.note(job.path, result.made)
            elif isinstance(result.made, bytes):
                outputs[job.path] = result.made

    by_condition = resolved.studies_by_condition
    published = {s.slug: s for s in site.studies}
    conditions_by_slug = {c.slug: c for c in site.conditions}
    home_map = build_map("evidence-map", site.conditions, by_condition)
    emit(
        "home.html",
        urls.home(),
        site_review,
        title=site.config.title,
        description=site.config.tagline,
        strongest=_strongest(site.studies, references),
        newest=_newest(site.studies, references),
        evidence_map=home_map,
        evidence_svg=svg(home_map),
    )
    for condition in site.conditions:
        condition_map = build_map("evidence-map", [condition], by_condition)
        emit(
            "condition.html",
            urls.condition(condition.slug),
            condition.review,
            title=condition.title,
            description=condition.summary,
            condition=condition,
            body=resolved.bodies[("conditions", condition.slug)],
            studies=by_condition[condition.slug],
            finding_studies=published,
            findings=summarise(condition, published),
            evidence_map=condition_map,
            evidence_svg=svg(condition_map),
            structured_data=condition_page(condition, site.config, urls),
            reference_downloads=bibliography.condition_downloads.get(condition.slug, ()),
        )
    for study in site.studies:
        template, url, review = study_address(study, urls)

        def values(study: Study = study) -> dict[str, Any]:
            body = resolved.bodies[("studies", study.slug)]
            return study_values(study, body, site.config, urls, references, conditions_by_slug)[3]

        emit_later(template, url, review, study.title, values)
    all_studies = sorted(
        site.studies, key=lambda s: (DESIGNS[s.design].rank, -study_year(s, references), s.slug)
    )
    if site_review:
        emit(
            "studies.html",
            urls.studies(),
            site_review,
            title="All studies",
            description="Every study, review and guideline on this site.",
            studies=all_studies,
        )
    # The page is as current as its least recently checked claim.
    claims_review = _combined_review(c.review for c in site.claims) if site.claims else None
    emit(
        "claims.html",
        urls.claims(),
        claims_review,
        title="Checking the claims",
        description="Common claims about acupuncture for back pain, checked against their sources.",
        claims=site.claims,
        # Only the claims' own texts: the page can then never depend on another page's text.
        bodies={k: b for k, b in resolved.bodies.items() if k[0] == "claims"},
        cited=resolved.claims_references,
    )
    for key in bibliography.keys:
        studies = resolved.studies_by_reference.get(key, ())

        def reference_values(key: str = key) -> dict[str, Any]:
            page = bibliography.page(key)
            return {
                "title": page.title,
                "description": f"Reference: {page.formatted.text}",
                "page": page,
            }

        emit_later(
            "reference.html",
            urls.reference(key),
            _review_for(studies, site_review),
            reference_title(references[key]),
            reference_values,
        )
    for filtered in (None, *bibliography.filters):
        _emit_references(emit, resolved, bibliography, filtered, site_review)
    # The downloads (three files a reference), made by the workers before the pages.
    downloads = bibliography.listing()
    for page in site.pages:
        emit(
            "page.html",
            urls.page(page.slug),
            page.review,
            title=page.title,
            description=page.summary,
            page=page,
            body=resolved.bodies[("pages", page.slug)],
        )
    emit(
        "search.html",
        urls.search(),
        site_review,  # it lists every page, so it is as fresh as the oldest of them
        title="Search",
        description="Search every page of the site, or browse the full list of pages.",
        # Emitted after every listed page, so that its list without JavaScript has them all.
        sections=sections(urls, listed),
    )
    emit(
        "404.html",
        urls.not_found(),
        None,
        title="Page not found",
        description="This page does not exist.",
    )
    render_jobs()
    for static in site.static_files:
        outputs[static.path] = static.data
    outputs.update(discovery_files(site.config, urls, site.studies, listed))
    return outputs, problems


def page_common(
    config: SiteConfig,
    urls: Urls,
    conditions: Sequence[Condition],
    pages: Sequence[Page],
    references: Mapping[str, Reference],
    marks: CitationMarks,
) -> dict[str, Any]:
    """What every template is given besides its page's own values."""
    nav = [Nav(c.title, urls.condition(c.slug)) for c in conditions] + [
        Nav("All studies", urls.studies()),
        Nav("Checking the claims", urls.claims()),
        Nav("References", urls.references()),
        Nav("Search", urls.search()),
    ]
    footer_nav = [
        Nav(p.title, urls.page(p.slug))
        for p in sorted(
            (p for p in pages if p.nav_order is not None), key=lambda p: (p.nav_order, p.slug)
        )
    ]
    return {
        "site": config,
        "urls": urls,
        "links": SiteLinks.of(urls),
        "nav": nav,
        "footer_nav": footer_nav,
        "designs": DESIGNS,
        "certainties": CERTAINTIES,
        "verdicts": VERDICTS,
        "levels": LEVELS,
        "caveats": caveats,
        "level_of": level_of,
        "conditions": conditions,
        "references": references,
        "year_of": lambda study: study_year(study, references),
        "livereload": False,
        "citation_marks": marks,
        "citation_style": load_style(config.citation_style),
    }


def page_values(
    urls: Urls, url: str, review: ReviewDates | None, context: Mapping[str, Any]
) -> dict[str, Any]:
    """A page's own template values: what it was given, plus its address and review dates."""
    return {**context, "url": url, "canonical": urls.absolute(url), "review": review}


def study_address(study: Study, urls: Urls) -> tuple[str, str, ReviewDates]:
    """A study page's template, address and review dates (the start of `study_values`)."""
    return "study.html", urls.study(study.slug), study.review


def study_values(
    study: Study,
    body: ResolvedBody,
    config: SiteConfig,
    urls: Urls,
    references: Mapping[str, Reference],
    conditions_by_slug: Mapping[str, Condition],
) -> tuple[str, str, ReviewDates, dict[str, Any]]:
    """A study page's template, address, review dates and values (edit_path.py renders one
    study page alone with these, so the two can never differ)."""
    return (
        *study_address(study, urls),
        {
            "title": study.title,
            "description": study.key_finding,
            "study": study,
            "body": body,
            "structured_data": study_page(study, config, urls, references, conditions_by_slug),
        },
    )


class CompiledTemplates(jinja2.BytecodeCache):
    """Templates as Jinja compiles them, by Jinja's key (a template's name and file); Jinja
    checks each against a digest of its template's source before using it."""

    def __init__(self, known: Mapping[str, bytes] | None = None) -> None:
        self.compiled: dict[str, bytes] = dict(known or {})

    def load_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        found = self.compiled.get(bucket.key)
        if found is not None:
            bucket.bytecode_from_string(found)

    def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        self.compiled[bucket.key] = bucket.bytecode_to_string()


def environment(
    templates_dir: str, compiled: Mapping[str, bytes] | None = None
) -> jinja2.Environment:
    """The build's Jinja environment (one per build: templates cannot change under it), with
    the `compiled` templates of `compile_templates` (the fast edit path: compiling the
    templates would take a tenth of a second of its time)."""
    cache = CompiledTemplates(compiled) if compiled is not None else None
    return _environment(templates_dir, cache)


def compile_templates(templates_dir: str) -> dict[str, bytes]:
    """Every template of `templates_dir`, compiled (a template with errors is left out: a
    build that uses it reports it)."""
    code = CompiledTemplates()
    env = _environment(templates_dir, code)
    for name in env.list_templates():
        with contextlib.suppress(jinja2.TemplateError, UnicodeDecodeError, OSError):
            env.get_template(name)
    return code.compiled


def _emit_references(
    emit: Any,
    resolved: ResolvedSite,
    bibliography: BibliographyPages,
    listed: ListFilter | None,
    review: ReviewDates | None,
) -> None:
    """/references/ (the whole bibliography) or one of its filtered lists."""
    total = len(resolved.bibliography_order)
    if listed is None:
        url, heading, order, downloads = (
            resolved.urls.references(),
            "References",
            resolved.bibliography_order,
            bibliography.downloads,
        )
        lead = (
            "Every source this site cites, in the order of the citation style. Each one has its "
            "own page with links to the original and to every place that cites it."
        )
        list_heading = f"All {total} references"
    else:
        url, order, downloads = listed.url, listed.keys, listed.downloads
        if listed.kind == "conditions":
            heading = f"References on {listed.label.lower()}"
            lead = (
                f"The sources cited on the {listed.label.lower()} page and by the studies on "
                f"{listed.label.lower()}: {len(order)} of the {total} references."
            )
        else:
            heading = f"References: {listed.label.lower()}"
            lead = (
                f"The sources we summarise as {listed.label.lower()}: "
                f"{len(order)} of the {total} references."
                if listed.slug in DESIGNS
                else f"Sources that are not one of our study summaries: {len(order)} of {total}."
            )
        list_heading = f"{len(order)} reference{'s' if len(order) != 1 else ''}"
    emit(
        "references.html",
        url,
        review,
        title=heading,
        description=lead,
        heading=heading,
        lead=lead,
        list_heading=list_heading,
        order=order,
        formatted=resolved.formatted,
        filters=bibliography.filters,
        current=listed,
        total=total,
        downloads=downloads,
    )


def _template_path(name: str, templates_dir: str) -> str:
    return name if name.startswith("templates/") else f"templates/{PurePosixPath(name).name}"


def _review_for(studies: Iterable[Study], fallback: ReviewDates | None) -> ReviewDates | None:
    reviews = [s.review for s in studies]
    return _combined_review(reviews) if reviews else fallback


def _strongest(studies: Iterable[Study], references: Mapping[str, Any]) -> list[Study]:
    """Published studies in people, strongest design first: what a reader should weigh most."""
    in_people = [s for s in studies if s.subjects == "people" and s.status == "published"]
    return sorted(
        in_people, key=lambda s: (DESIGNS[s.design].rank, -study_year(s, references), s.slug)
    )[:5]


def _newest(studies: Iterable[Study], references: Mapping[str, Any]) -> list[Study]:
    return sorted(studies, key=lambda s: (-study_year(s, references), s.slug))[:5]
