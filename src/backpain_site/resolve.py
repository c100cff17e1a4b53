"""Stage 2, resolve: a validated `Site` -> a `ResolvedSite` ready to render.

Input: `Site`. Output: every Markdown body as safe HTML with its page's numbered reference list,
every reference formatted once in the site's CSL style, "cited by" backlinks, studies grouped by
condition, and the problems found on the way (unknown citation keys, broken internal links,
links with forbidden schemes, references nobody cites). Nothing is written or rendered here.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from urllib.parse import urlsplit

from .bibliography import Reference
from .cache import NO_MEMO, Memo
from .citations import CitationMarks, CitationUse, find_citations
from .content import Site, Source, Study
from .csl import (
    FormattedReference,
    bibliography_order,
    load_style,
    page_numbers,
)
from .evidence import DESIGNS
from .markdown_body import BodyHtml, cite_anchor, html_of, sanitise_citation
from .markdown_checks import browser_url
from .problems import Problem, did_you_mean, error, warning
from .remembered import RememberedConverter, format_references_remembered
from .urls import Urls, reference_slug


@dataclass(frozen=True)
class CitedReference:
    number: int
    key: str
    html: str
    text: str
    url: str
    anchor: str  # where on the citing page the reference is first cited
    # What the search index holds of it (`searched_words`): the formatted citation is not indexed.
    searched: str = ""


def searched_words(reference: Reference) -> str:
    """The words of a cited work a reader may search for, the citing page's search index holds:
    its authors' names and its title, not its journal, volume, pages or identifiers (numbers and
    identifiers made about a quarter of Pagefind's work at 10,000 studies, and a search for a
    journal's name would find every page citing any of its papers)."""
    names = reference.authors or reference.editors
    people = ", ".join(
        name.literal
        or " ".join(p for p in (name.given, name.particle, name.family, name.suffix) if p)
        for name in names
    )
    return ". ".join(part for part in (people, reference.get("title")) if part)


@dataclass(frozen=True)
class ResolvedBody:
    """A page's body as it is shown, with its reference list. The HTML is the converted body's
    own UTF-8 bytes (markdown_body.BodyHtml says why), decoded when a page is rendered."""

    utf8: bytes
    references: tuple[CitedReference, ...]

    @property
    def html(self) -> str:
        return html_of(self.utf8)


@dataclass(frozen=True)
class PageCitations:
    """A page's citations as resolve numbered them: what the fast edit path (edit_path.py)
    must find again in an edited text for no other page to change."""

    keys: tuple[str, ...]  # cited keys in order of first use, then the item's own sources
    numbers: tuple[tuple[str, int], ...]  # the page's numbering, in its order
    occurrences: tuple[tuple[str, int], ...]  # how often the text cites each key


@dataclass(frozen=True)
class Backlink:
    title: str
    url: str  # the first place the page cites the reference
    places: tuple[str, ...] = ()  # every place, in page order (url is the first)


@dataclass(frozen=True)
class ResolvedSite:
    site: Site
    urls: Urls
    formatted: Mapping[str, FormattedReference]
    bodies: Mapping[tuple[str, str], ResolvedBody]  # (kind, slug) -> body
    claims_references: tuple[CitedReference, ...]
    cited_by: Mapping[str, tuple[Backlink, ...]]
    studies_by_condition: Mapping[str, tuple[Study, ...]]
    studies_by_reference: Mapping[str, tuple[Study, ...]]
    bibliography_order: tuple[str, ...]  # as the citation style sorts the whole bibliography
    # How the style writes a citation in the text.
    marks: CitationMarks = field(default_factory=CitationMarks)
    # (kind, slug) -> the page's citations, for conditions, studies and pages.
    citations: Mapping[tuple[str, str], PageCitations] = field(default_factory=dict)

    def without_study_texts(self) -> ResolvedSite:
        """This site with its studies' Markdown texts left out (Study.without_text), for a
        build done with them: resolve and the reading grade have read them, no template reads
        them, and page fingerprints leave them out (page_memo.py). At 10,000 studies they are
        about 35 MB that the build and every render worker forked from it would hold."""
        textless = {id(study): study.without_text() for study in self.site.studies}

        def each(studies: tuple[Study, ...]) -> tuple[Study, ...]:
            return tuple(textless.get(id(study), study) for study in studies)

        return dataclasses.replace(
            self,
            site=dataclasses.replace(self.site, studies=each(self.site.studies)),
            studies_by_condition=MappingProxyType(
                {k: each(v) for k, v in self.studies_by_condition.items()}
            ),
            studies_by_reference=MappingProxyType(
                {k: each(v) for k, v in self.studies_by_reference.items()}
            ),
        )


def internal_paths(site: Site, urls: Urls) -> set[str]:
    paths = {urls.home(), urls.references(), urls.claims(), urls.studies()}
    paths |= {urls.condition(c.slug) for c in site.conditions}
    paths |= {urls.study(s.slug) for s in site.studies}
    paths |= {urls.page(p.slug) for p in site.pages}
    paths |= {urls.reference(r.key) for r in site.references}
    paths |= {urls.static(f.path.name) for f in site.static_files}
    paths |= {urls.for_item(kind, slug) for kind, slug in site.file_slugs if kind != "claims"}
    return paths


def _line_of_link(source: Source, href: str) -> int:
    for offset, line in enumerate(source.body.split("\n")):
        if href in line:
            return source.body_line + offset
    return source.body_line


def check_links(
    source: Source, body: BodyHtml, known: set[str], urls: Urls, problems: list[Problem]
) -> None:
    """Every link in a body, and what the body may not hold (raw HTML, open comments...)."""
    for offset, message in body.refused:
        problems.append(error(source.path, source.body_line + offset, message))
    for href in body.links:
        parts = urlsplit(browser_url(href))
        line = _line_of_link(source, href)
        if parts.scheme:
            if parts.scheme.lower() not in ("http", "https", "mailto"):
                problems.append(
                    error(
                        source.path,
                        line,
                        f"link '{href}' uses a scheme that is "
                        "not allowed (use https:// or a site link)",
                    )
                )
            continue
        if href.startswith("#") or not href:
            continue
        if not href.startswith("/") or href.startswith("//"):
            problems.append(
                error(
                    source.path,
                    line,
                    f"link '{href}': write site links from the root, e.g. '/studies/wang-2000/'",
                )
            )
            continue
        target = urls.site_relative(parts.path)
        if target not in known:
            problems.append(
                error(
                    source.path,
                    line,
                    f"broken link '{href}': no such page{did_you_mean(target, known)}",
                )
            )


def resolve(site: Site, memo: Memo = NO_MEMO) -> tuple[ResolvedSite, list[Problem]]:
    """`memo` (cache.py) remembers formatted references and converted bodies between builds."""
    problems: list[Problem] = []
    urls = Urls(site.config.base_url)
    by_key = {r.key: r for r in site.references}
    known_keys = set(by_key)
    style_id = site.config.citation_style
    style = load_style(style_id)
    formatted = {
        key: dataclasses.replace(f, html=sanitise_citation(f.html))
        for key, f in format_references_remembered(site.references, style_id, memo).items()
    }
    titles = {key: f.text for key, f in formatted.items()}
    searched = {key: searched_words(reference) for key, reference in by_key.items()}
    # A style that sorts its bibliography (alphabetical numeric, author-date) orders each page's
    # list the same way; otherwise pages number in order of first citation.
    rank = (
        {k: i for i, k in enumerate(bibliography_order(site.references, style_id))}
        if style.sorts_bibliography
        else {}
    )
    converter = RememberedConverter(
        memo, urls, style.marks, {key: f.in_text for key, f in formatted.items() if f.in_text}
    )
    site_citation_order: list[str] = []

    def number_in_order(keys: Iterable[str]) -> dict[str, int]:
        keys = list(keys)
        site_citation_order.extend(keys)
        return page_numbers(keys, style_id, rank)

    known_paths = internal_paths(site, urls)

    slugs: dict[str, str] = {}
    for reference in site.references:
        slug = reference_slug(reference.key)
        if slug in slugs:
            problems.append(
                error(
                    site.bibliography_path,
                    reference.line,
                    f"key '{reference.key}' gives the same page address as "
                    f"'{slugs[slug]}' (/references/{slug}/)",
                )
            )
        slugs[slug] = reference.key

    def checked_uses(source: Source) -> list[CitationUse]:
        uses = find_citations(source.body, source.body_line)
        for use in uses:
            if use.key not in known_keys:
                problems.append(
                    error(
                        source.path,
                        use.line,
                        f"unknown reference '{use.key}'{did_you_mean(use.key, known_keys)}",
                    )
                )
        return [u for u in uses if u.key in known_keys]

    def cited(numbers: dict[str, int], occurrences: dict[str, int]) -> tuple[CitedReference, ...]:
        if not style.marks.numeric:  # an author-date list is in bibliography order
            numbers = dict(sorted(numbers.items(), key=lambda kv: rank.get(kv[0], kv[1])))
        return tuple(
            CitedReference(
                number,
                key,
                formatted[key].html,
                formatted[key].text,
                urls.reference(key),
                cite_anchor(key, 1) if occurrences.get(key) else f"ref-{number}",
                searched[key],
            )
            for key, number in numbers.items()
        )

    bodies: dict[tuple[str, str], ResolvedBody] = {}
    citations: dict[tuple[str, str], PageCitations] = {}
    cited_by: dict[str, list[tuple[int, str, Backlink]]] = {key: [] for key in known_keys}
    kind_order = {"conditions": 0, "studies": 1, "claims": 2, "pages": 3}

    def backlink(
        title: str, url: str, ref: CitedReference, occurrences: dict[str, int]
    ) -> Backlink:
        count = occurrences.get(ref.key, 0)
        places = tuple(f"{url}#{cite_anchor(ref.key, i)}" for i in range(1, count + 1))
        places = places or (f"{url}#{ref.anchor}",)
        return Backlink(title, places[0], places)

    def add_page(source: Source, title: str, url: str, extra_keys: Iterable[str] = ()) -> None:
        uses = checked_uses(source)
        keys = [u.key for u in uses] + [k for k in extra_keys if k in known_keys]
        numbers = number_in_order(keys)
        occurrences: dict[str, int] = {}
        body = converter.convert(source.body, numbers, titles, occurrences)
        check_links(source, body, known_paths, urls, problems)
        references = cited(numbers, occurrences)
        bodies[(source.kind, source.slug)] = ResolvedBody(body.utf8, references)
        citations[(source.kind, source.slug)] = PageCitations(
            tuple(keys), tuple(numbers.items()), tuple(occurrences.items())
        )
        for ref in references:
            cited_by[ref.key].append(
                (kind_order[source.kind], title, backlink(title, url, ref, occurrences))
            )

    for condition in site.conditions:
        add_page(condition.source, condition.title, urls.condition(condition.slug))
    for study in site.studies:
        add_page(study.source, study.title, urls.study(study.slug), study.references)
    for page in site.pages:
        add_page(page.source, page.title, urls.page(page.slug))

    # All claims share one page, so they share one numbering and one reference list.
    claim_uses = {c.slug: checked_uses(c.source) for c in site.claims}
    claim_numbers = number_in_order(
        key
        for c in site.claims
        for key in [u.key for u in claim_uses[c.slug]]
        + [k for k in c.references if k in known_keys]
    )
    claim_occurrences: dict[str, int] = {}
    for claim in site.claims:
        body = converter.convert(claim.source.body, claim_numbers, titles, claim_occurrences)
        check_links(claim.source, body, known_paths, urls, problems)
        bodies[("claims", claim.slug)] = ResolvedBody(body.utf8, ())
    claims_references = cited(claim_numbers, claim_occurrences)
    for ref in claims_references:
        cited_by[ref.key].append(
            (
                kind_order["claims"],
                "Checking the claims",
                backlink("Checking the claims", urls.claims(), ref, claim_occurrences),
            )
        )

    # Not rendered, but their problems are still reported: invalid files, and drafts (so an
    # editor hears of a mistyped key while writing, not on publishing day).
    drafts = [d.source for d in site.drafts if d not in site.studies]  # `serve --drafts` renders
    for source in [*site.invalid_sources, *drafts]:
        checked_uses(source)
        body = converter.convert(source.body, {}, {})
        check_links(source, body, known_paths, urls, problems)

    # A draft's sources are in use: the study is on its way (`backpain-site new` makes drafts).
    drafted = {key for study in site.drafts for key in study.references}
    for reference in site.references:
        if cited_by[reference.key] or site.invalid_sources or reference.key in drafted:
            continue
        problems.append(
            warning(
                site.bibliography_path,
                reference.line,
                f"reference '{reference.key}' is not cited by any page",
            )
        )

    by_condition = {
        c.slug: tuple(
            sorted(
                (s for s in site.studies if c.slug in s.conditions),
                key=lambda s: _strength(s, by_key),
            )
        )
        for c in site.conditions
    }
    by_reference: dict[str, list[Study]] = {}
    for study in site.studies:
        for key in study.references:
            by_reference.setdefault(key, []).append(study)

    resolved = ResolvedSite(
        site=site,
        urls=urls,
        formatted=MappingProxyType(formatted),
        bodies=MappingProxyType(bodies),
        claims_references=claims_references,
        cited_by=MappingProxyType(
            {k: tuple(b for _, _, b in sorted(v, key=lambda x: x[:2])) for k, v in cited_by.items()}
        ),
        studies_by_condition=MappingProxyType(by_condition),
        studies_by_reference=MappingProxyType({k: tuple(v) for k, v in by_reference.items()}),
        bibliography_order=bibliography_order(site.references, style_id, site_citation_order),
        marks=style.marks,
        citations=MappingProxyType(citations),
    )
    return resolved, problems


def _year(reference: Reference) -> int:
    return int(reference.year) if reference.year.isdigit() else 0


def study_year(study: Study, references: Mapping[str, Reference]) -> int:
    """A study's year is its newest reference's year (written once, in the .bib)."""
    return max((_year(references[k]) for k in study.references if k in references), default=0)


def _strength(study: Study, references: Mapping[str, Reference]) -> tuple[int, int, str]:
    """Strongest designs first; within a design, newest first."""
    return (DESIGNS[study.design].rank, -study_year(study, references), study.slug)
