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

from .content import ReviewDates, Study
from .evidence import CERTAINTIES, DESIGNS, VERDICTS
from .problems import Problem, error
from .resolve import ResolvedSite, study_year

Outputs = dict[PurePosixPath, bytes]


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
    )
    env.filters["date"] = _format_date
    env.filters["number"] = lambda n: f"{n:,}"
    return env


def render(resolved: ResolvedSite) -> tuple[Outputs, list[Problem]]:
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
        "conditions": site.conditions,
        "references": references,
        "year_of": lambda study: study_year(study, references),
        "livereload": False,
    }
    outputs: Outputs = {}
    problems: list[Problem] = []

    def emit(template: str, url: str, review: ReviewDates | None, **context: Any) -> None:
        path = urls.output_path(url)
        try:
            html = env.get_template(template).render(
                **common, **context, url=url, canonical=urls.absolute(url), review=review
            )
        except jinja2.TemplateError as exc:
            line = getattr(exc, "lineno", 0) or 0
            name = getattr(exc, "filename", None) or f"templates/{template}"
            problems.append(
                error(
                    _template_path(name, site.templates_dir),
                    line,
                    f"template error while rendering {url}: {exc}",
                )
            )
            return
        if path in outputs:
            problems.append(error(f"templates/{template}", 0, f"two pages write {path}"))
        outputs[path] = html.encode("utf-8")

    by_condition = resolved.studies_by_condition
    emit(
        "home.html",
        urls.home(),
        site_review,
        title=site.config.title,
        description=site.config.tagline,
        strongest=_strongest(site.studies, references),
        newest=_newest(site.studies, references),
    )
    for condition in site.conditions:
        emit(
            "condition.html",
            urls.condition(condition.slug),
            condition.review,
            title=condition.title,
            description=condition.summary,
            condition=condition,
            body=resolved.bodies[("conditions", condition.slug)],
            studies=by_condition[condition.slug],
            finding_studies={s.slug: s for s in site.studies},
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
    claims_review = (
        _combined_review(c.review for c in site.conditions) if site.conditions else site_review
    )
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
    for key in resolved.bibliography_order:
        reference = references[key]
        citing = resolved.studies_by_reference.get(key, ())
        emit(
            "reference.html",
            urls.reference(key),
            _review_for(citing, site_review),
            title=resolved.formatted[key].text,
            description=f"Reference: {reference.get('title')}",
            reference=reference,
            formatted=resolved.formatted[key],
            summarised_by=citing,
            cited_by=resolved.cited_by.get(key, ()),
        )
    emit(
        "references.html",
        urls.references(),
        site_review,
        title="References",
        description="Every source this site cites.",
        order=resolved.bibliography_order,
        formatted=resolved.formatted,
        cited_by=resolved.cited_by,
    )
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
        "404.html",
        urls.not_found(),
        None,
        title="Page not found",
        description="This page does not exist.",
    )
    for static in site.static_files:
        outputs[static.path] = static.data
    return outputs, problems


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
