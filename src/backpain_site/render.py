"""Stage 3, render: a `ResolvedSite` -> the bytes of every output file.

Input: `ResolvedSite` and the project's `templates/`. Output: `{output path: bytes}` for every
page and static file; no disk writes. Jinja runs with autoescape and `StrictUndefined`, so an
undefined variable is a build error, not an empty string. Output is byte-for-byte deterministic:
no clocks, stable orders.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

import jinja2

from .bibliography_pages import BibliographyPages, ListFilter, bibliography_pages
from .content import ReviewDates, Study
from .csl import load_style
from .discovery import ListedPage, discovery_files, sections
from .evidence import CERTAINTIES, DESIGNS, LEVELS, VERDICTS, caveats, level_of
from .evidence_map import build_map, svg
from .findings import summarise
from .jsonld import condition_page, study_page
from .page_memo import PageMemo
from .problems import Problem, error
from .resolve import ResolvedSite, study_year

Outputs = dict[PurePosixPath, bytes]

# Pages that search engines should not list (and that the sitemap leaves out).
_UNLISTED = {"404.html", "search.html"}


@dataclass(frozen=True)
class Nav:
    label: str
    url: str


def _combined_review(reviews: Iterable[ReviewDates]) -> ReviewDates:
    """A page built from many items is as fresh as its oldest review."""
    items = list(reviews)
    return ReviewDates(min(r.last_reviewed for r in items), min(r.next_review for r in items))


def _format_date(value: dt.date) -> str:
    return f"{value.day} {value.strftime('%B')} {value.year}"


def _environment(templates_dir: str) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(templates_dir),
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
    return env


def render(resolved: ResolvedSite, pages: PageMemo | None = None) -> tuple[Outputs, list[Problem]]:
    """`pages` (page_memo.py): in an incremental build, pages it keeps are not rendered."""
    site = resolved.site
    urls = resolved.urls
    env = _environment(site.templates_dir)
    references = {r.key: r for r in site.references}
    all_reviews = (
        [c.review for c in site.conditions]
        + [s.review for s in site.studies]
        + [p.review for p in site.pages]
    )
    site_review = _combined_review(all_reviews) if all_reviews else None
    nav = [Nav(c.title, urls.condition(c.slug)) for c in site.conditions] + [
        Nav("All studies", urls.studies()),
        Nav("Checking the claims", urls.claims()),
        Nav("References", urls.references()),
        Nav("Search", urls.search()),
    ]
    footer_nav = [
        Nav(p.title, urls.page(p.slug))
        for p in sorted(
            (p for p in site.pages if p.nav_order is not None), key=lambda p: (p.nav_order, p.slug)
        )
    ]
    common: dict[str, Any] = {
        "site": site.config,
        "urls": urls,
        "nav": nav,
        "footer_nav": footer_nav,
        "designs": DESIGNS,
        "certainties": CERTAINTIES,
        "verdicts": VERDICTS,
        "levels": LEVELS,
        "caveats": caveats,
        "level_of": level_of,
        "conditions": site.conditions,
        "references": references,
        "year_of": lambda study: study_year(study, references),
        "livereload": False,
    }
    # Citation pages, the filtered bibliographies and every download (bibliography_pages.py).
    bibliography = bibliography_pages(resolved)
    common["citation_marks"] = resolved.marks
    common["citation_style"] = load_style(site.config.citation_style)
    outputs: Outputs = {}
    problems: list[Problem] = []
    listed: list[ListedPage] = []

    def emit(template: str, url: str, review: ReviewDates | None, **context: Any) -> None:
        path = urls.output_path(url)
        values = {**context, "url": url, "canonical": urls.absolute(url), "review": review}
        if pages is not None and pages.unchanged(path, template, common, values):
            html = None  # the same template and values as the file on disk: the writer keeps it
        else:
            html = _render_page(template, values)
            if html is None:
                return
        if path in outputs or (pages is not None and path in pages.kept and html is not None):
            problems.append(error(f"templates/{template}", 0, f"two pages write {path}"))
        if html is not None:
            outputs[path] = html.encode("utf-8")
        if template not in _UNLISTED:
            title = str(context.get("title", ""))
            listed.append(ListedPage(url, review.last_reviewed if review else None, title))

    def _render_page(template: str, values: dict[str, Any]) -> str | None:
        try:
            return env.get_template(template).render(**common, **values)
        except jinja2.TemplateError as exc:
            line = getattr(exc, "lineno", 0) or 0
            name = getattr(exc, "filename", None) or f"templates/{template}"
            problems.append(
                error(
                    _template_path(name, site.templates_dir),
                    line,
                    f"template error while rendering {values['url']}: {exc}",
                )
            )
            return None

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
        emit(
            "study.html",
            urls.study(study.slug),
            study.review,
            title=study.title,
            description=study.key_finding,
            study=study,
            body=resolved.bodies[("studies", study.slug)],
            structured_data=study_page(study, site.config, urls, references, conditions_by_slug),
        )
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
        bodies=resolved.bodies,
        cited=resolved.claims_references,
    )
    for reference_page in bibliography.pages:
        emit(
            "reference.html",
            reference_page.url,
            _review_for(reference_page.studies, site_review),
            title=reference_page.title,
            description=f"Reference: {reference_page.formatted.text}",
            page=reference_page,
        )
    for filtered in (None, *bibliography.filters):
        _emit_references(emit, resolved, bibliography, filtered, site_review)
    outputs.update(bibliography.files())
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
    for static in site.static_files:
        outputs[static.path] = static.data
    outputs.update(discovery_files(site.config, urls, site.studies, listed))
    return outputs, problems


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
