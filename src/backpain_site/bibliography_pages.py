"""What the bibliography's pages and files show: a `ResolvedSite` -> `BibliographyPages`.

Input: `ResolvedSite`. Output: one `ReferencePage` per reference (formatted citation, kind of
source and study design, DOI/PubMed/PMC/registry links, every citing place, downloads, JSON-LD
and Highwire `citation_*` meta), the filtered lists of `/references/` (by study design and by
condition, each its own page so they work without JavaScript), and the bytes of every download
(BibTeX, RIS, CSL-JSON), made one at a time when render asks for them (`files`): at 10,000
references they are about 90 MB, which no build need hold at once. Render turns these into
HTML; nothing is written here.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath
from types import MappingProxyType
from typing import Any, NamedTuple

from .bibliography import Name, Reference
from .content import Study
from .csl import FormattedReference
from .csl_data import IdentifierLink, date_parts, identifier_links
from .evidence import DESIGNS
from .exports import FORMATS, MEDIA_TYPES, export_key, make_export
from .resolve import Backlink, ResolvedSite
from .urls import Urls

NOT_A_STUDY = "other-sources"
SOURCE_KINDS = {
    "article": "Journal article",
    "book": "Book",
    "booklet": "Booklet",
    "inbook": "Part of a book",
    "incollection": "Chapter in a book",
    "inproceedings": "Conference paper",
    "conference": "Conference paper",
    "proceedings": "Conference proceedings",
    "manual": "Manual",
    "mastersthesis": "Master's thesis",
    "phdthesis": "Doctoral thesis",
    "online": "Web page",
    "electronic": "Web page",
    "www": "Web page",
    "report": "Report",
    "techreport": "Report",
    "unpublished": "Unpublished manuscript",
    "software": "Software",
    "dataset": "Data set",
    "misc": "Document",
}


@dataclass(frozen=True)
class Download:
    """A download as pages link to it; its bytes are made by `BibliographyPages.files`."""

    label: str  # "BibTeX", "RIS", "CSL-JSON"
    extension: str
    url: str
    path: PurePosixPath  # inside the output folder
    media_type: str


# The references a set of downloads (one per format) is made of.
_Exported = tuple[tuple[Download, ...], tuple[Reference, ...]]


@dataclass(frozen=True)
class ListFilter:
    kind: str  # 'designs' or 'conditions'
    slug: str
    label: str
    url: str
    keys: tuple[str, ...]  # in bibliography order
    downloads: tuple[Download, ...]


@dataclass(frozen=True)
class ListLink:
    """A filtered list as a reference page links to it: only what the link shows, so the page
    does not depend on the list's other references (page_memo.py fingerprints what it is given)."""

    kind: str  # 'designs' or 'conditions'
    label: str
    url: str


@dataclass(frozen=True)
class ReferencePage:
    key: str
    url: str
    title: str
    reference: Reference
    formatted: FormattedReference
    source_kind: str  # in plain words: "Journal article", "Web page (NINDS fact sheet)"
    studies: tuple[Study, ...]  # our summaries of it (their designs describe the source)
    links: tuple[IdentifierLink, ...]
    cited_by: tuple[Backlink, ...]
    downloads: tuple[Download, ...]
    structured_data: dict[str, Any]  # schema.org JSON-LD, serialised (escaped) by the template
    meta: tuple[tuple[str, str], ...]  # Highwire Press `citation_*` tags for Google Scholar
    filters: tuple[ListLink, ...]  # the filtered lists it appears in


@dataclass(frozen=True)
class BibliographyPages:
    keys: tuple[str, ...]  # a reference page each (`page`), in bibliography order
    filters: tuple[ListFilter, ...]
    downloads: tuple[Download, ...]  # the whole bibliography
    condition_downloads: Mapping[str, tuple[Download, ...]]  # a condition page's references
    # Every set of downloads with its references, in the order `files` makes them.
    exported: tuple[_Exported, ...]
    resolved: ResolvedSite  # what `page` makes the pages of
    references: Mapping[str, Reference]  # by key
    member_of: Mapping[str, tuple[ListLink, ...]]  # the filtered lists each reference is in
    # Each reference page's downloads, made once with `exported` (which holds them anyway):
    # making them again for every page took about a third of a reference page's values.
    page_downloads: Mapping[str, tuple[Download, ...]]

    def page(self, key: str) -> ReferencePage:
        """The reference page of `key`, made when asked for: render asks in the worker that
        renders the page, so the build's own process never holds every one of them (their
        JSON-LD, citation tags and links: about 76 MB at 10,000 references)."""
        reference = self.references[key]
        filters = self.member_of.get(key, ())
        return _reference_page(self.resolved, reference, filters, self.page_downloads[key])

    def listing(self) -> tuple[DownloadFile, ...]:
        """Every download, not yet made: the whole bibliography's files first, then each
        reference's, each filtered list's and each condition page's."""
        return tuple(
            DownloadFile(download.path, download.extension, references)
            for downloads, references in self.exported
            for download in downloads
        )

    def files(self) -> Iterator[tuple[PurePosixPath, bytes]]:
        """Every download's path and bytes, in `listing` order, each made only when asked
        for (and then let go by the caller)."""
        for file in self.listing():
            yield file.path, file.data()


class DownloadFile(NamedTuple):
    """A download still to be made (render makes them in its forked workers)."""

    path: PurePosixPath  # inside the output folder
    extension: str
    references: tuple[Reference, ...]

    def data(self) -> bytes:
        return make_export(self.references, self.extension)

    def key(self) -> bytes:
        """What the file is made from, digested (exports.export_key)."""
        return export_key(self.references, self.extension)


def _downloads(
    references: Sequence[Reference], urls: Urls, url_of: Any, exported: list[_Exported]
) -> tuple[Download, ...]:
    """The downloads (one per format) of `references`, noted in `exported` to be made later."""
    made = tuple(
        Download(label, ext, url_of(ext), urls.output_path(url_of(ext)), MEDIA_TYPES[ext])
        for ext, label in FORMATS
    )
    exported.append((made, tuple(references)))
    return made


def source_kind(reference: Reference) -> str:
    kind = SOURCE_KINDS.get(reference.entry_type, "Document")
    detail = reference.get("howpublished") or reference.get("type")
    return f"{kind} ({detail})" if detail and not detail.startswith("http") else kind


def bibliography_pages(resolved: ResolvedSite) -> BibliographyPages:
    site, urls = resolved.site, resolved.urls
    by_key = {r.key: r for r in site.references}
    order = resolved.bibliography_order
    position = {key: index for index, key in enumerate(order)}

    def in_order(keys: Iterable[str]) -> tuple[str, ...]:
        return tuple(sorted(set(keys) & set(by_key), key=position.__getitem__))

    designs: dict[str, set[str]] = {}
    for key in order:
        studies = resolved.studies_by_reference.get(key, ())
        for design in {s.design for s in studies} or {NOT_A_STUDY}:
            designs.setdefault(design, set()).add(key)
    filters: list[ListFilter] = []
    # What each kind of download is made of, kept apart to be made in `files`' order.
    of_filters: list[_Exported] = []
    of_conditions: list[_Exported] = []
    of_pages: list[_Exported] = []
    whole: list[_Exported] = []
    for design in [*DESIGNS, NOT_A_STUDY]:
        if design in designs:
            label = DESIGNS[design].label if design in DESIGNS else "Not one of our study summaries"
            chosen = in_order(designs[design])
            filters.append(_filter(resolved, "designs", design, label, chosen, of_filters))
    for condition in site.conditions:
        page = resolved.bodies.get(("conditions", condition.slug))
        keys = [ref.key for ref in page.references] if page else []
        for study in resolved.studies_by_condition.get(condition.slug, ()):
            keys += study.references
        filters.append(
            _filter(
                resolved, "conditions", condition.slug, condition.title, in_order(keys), of_filters
            )
        )

    condition_downloads = {
        condition.slug: _downloads(
            [by_key[ref.key] for ref in resolved.bodies[("conditions", condition.slug)].references],
            urls,
            lambda ext, slug=condition.slug: urls.condition_references_download(slug, ext),
            of_conditions,
        )
        for condition in site.conditions
        if ("conditions", condition.slug) in resolved.bodies
    }
    member_of: dict[str, list[ListLink]] = {}
    for listed in filters:
        link = ListLink(listed.kind, listed.label, listed.url)
        for key in listed.keys:
            member_of.setdefault(key, []).append(link)
    # Each reference page's downloads, noted in order; the page is made later (`page`).
    page_downloads = {key: _page_downloads(urls, by_key[key], of_pages) for key in order}
    return BibliographyPages(
        keys=tuple(order),
        filters=tuple(filters),
        downloads=_downloads(
            [by_key[k] for k in order], urls, lambda ext: urls.references_download(ext), whole
        ),
        condition_downloads=MappingProxyType(condition_downloads),
        exported=(*whole, *of_pages, *of_filters, *of_conditions),
        resolved=resolved,
        references=MappingProxyType(by_key),
        member_of=MappingProxyType({k: tuple(v) for k, v in member_of.items()}),
        page_downloads=MappingProxyType(page_downloads),
    )


def _filter(
    resolved: ResolvedSite,
    kind: str,
    slug: str,
    label: str,
    keys: tuple[str, ...],
    exported: list[_Exported],
) -> ListFilter:
    urls = resolved.urls
    by_key = {r.key: r for r in resolved.site.references}
    return ListFilter(
        kind,
        slug,
        label,
        urls.references_by(kind, slug),
        keys,
        _downloads(
            [by_key[k] for k in keys],
            urls,
            lambda ext: urls.references_download(ext, kind, slug),
            exported,
        ),
    )


def reference_title(reference: Reference) -> str:
    """What a reference page is called: the title, or the key of an untitled source."""
    return reference.get("title") or reference.key


def _page_downloads(
    urls: Urls, reference: Reference, exported: list[_Exported]
) -> tuple[Download, ...]:
    key = reference.key
    return _downloads([reference], urls, lambda ext: urls.reference_download(key, ext), exported)


def _reference_page(
    resolved: ResolvedSite,
    reference: Reference,
    filters: tuple[ListLink, ...],
    downloads: tuple[Download, ...],
) -> ReferencePage:
    urls = resolved.urls
    key = reference.key
    url = urls.reference(key)
    studies = resolved.studies_by_reference.get(key, ())
    # Each made once for the page, its JSON-LD and its citation tags.
    links = identifier_links(reference)
    date = _iso_date(reference)
    return ReferencePage(
        key=key,
        url=url,
        title=reference_title(reference),
        reference=reference,
        formatted=resolved.formatted[key],
        source_kind=source_kind(reference),
        studies=studies,
        links=links,
        cited_by=resolved.cited_by.get(key, ()),
        downloads=downloads,
        structured_data=structured_data(reference, urls.absolute(url), studies, links, date),
        meta=highwire_meta(reference, date),
        filters=filters,
    )


# -- metadata for machines -----------------------------------------------------------------


def _person(name: Name) -> dict[str, str]:
    if name.literal:
        return {"@type": "Organization", "name": name.literal}
    family = " ".join(p for p in (name.particle, name.family) if p)
    person = {"@type": "Person", "name": " ".join(p for p in (name.given, family) if p)}
    person["familyName"] = family
    if name.given:
        person["givenName"] = name.given
    return person


def _iso_date(reference: Reference) -> str:
    # Not from the CSL item: made for every reference page a render worker renders, and kept
    # in their cache, those items were about 10 MB of each worker at 10,000 studies.
    parts = date_parts(reference) or []
    return "-".join(f"{p:02d}" if i else str(p) for i, p in enumerate(parts))


def structured_data(
    reference: Reference,
    page_url: str,
    studies: Sequence[Study],
    links: Sequence[IdentifierLink],
    date: str,
) -> dict[str, Any]:
    """schema.org JSON-LD: a MedicalScholarlyArticle when we summarise it as a study of
    medicine or it appeared in a journal, otherwise a ScholarlyArticle. `links` and `date`:
    the reference's `identifier_links` and `_iso_date`."""
    medical = bool(studies) or reference.entry_type == "article"
    item: dict[str, Any] = {
        "@context": "https://schema.org",
        "@type": "MedicalScholarlyArticle" if medical else "ScholarlyArticle",
        "@id": f"{page_url}#reference",
        "mainEntityOfPage": page_url,
        "name": reference.get("title"),
        "headline": reference.get("title")[:110],
    }
    if reference.authors:
        item["author"] = [_person(n) for n in reference.authors]
    if reference.editors:
        item["editor"] = [_person(n) for n in reference.editors]
    if date:
        item["datePublished"] = date
    container = reference.get("journal") or reference.get("journaltitle")
    if container:
        periodical: dict[str, Any] = {"@type": "Periodical", "name": container}
        if reference.get("issn"):
            periodical["issn"] = reference.get("issn")
        item["isPartOf"] = periodical
    elif reference.get("booktitle"):
        item["isPartOf"] = {"@type": "Book", "name": reference.get("booktitle")}
    for field, prop in (("volume", "volumeNumber"), ("number", "issueNumber")):
        if reference.get(field) and container:
            item[prop] = reference.get(field)
    if reference.get("pages"):
        item["pagination"] = reference.get("pages")
    publisher = reference.get("publisher") or reference.get("institution")
    if publisher:
        item["publisher"] = {"@type": "Organization", "name": publisher}
    identifiers = [
        {"@type": "PropertyValue", "propertyID": link.label, "value": link.value}
        for link in links
        if link.kind != "url"
    ]
    if identifiers:
        item["identifier"] = identifiers
    if links:
        item["sameAs"] = [link.url for link in links]
    if reference.get("url"):
        item["url"] = reference.get("url")
    if studies:
        item["about"] = [
            {"@type": "MedicalWebPage", "name": s.title, "description": DESIGNS[s.design].label}
            for s in studies
        ]
    if reference.get("language"):
        item["inLanguage"] = reference.get("language")
    return item


def highwire_meta(reference: Reference, date: str) -> tuple[tuple[str, str], ...]:
    """Highwire Press tags, as Google Scholar's inclusion guidelines name them. `date`: the
    reference's `_iso_date`."""
    meta: list[tuple[str, str]] = [("citation_title", reference.get("title"))]
    for name in reference.authors:
        if name.literal:
            meta.append(("citation_author", name.literal))
        else:
            family = " ".join(p for p in (name.particle, name.family) if p)
            meta.append(("citation_author", ", ".join(p for p in (family, name.given) if p)))
    if date:
        meta.append(("citation_publication_date", date.replace("-", "/")))
    container_tag = {
        "article": "citation_journal_title",
        "incollection": "citation_book_title",
        "inbook": "citation_book_title",
        "inproceedings": "citation_conference_title",
        "conference": "citation_conference_title",
    }.get(reference.entry_type)
    container = (
        reference.get("journal") or reference.get("journaltitle") or reference.get("booktitle")
    )
    if container_tag and container:
        meta.append((container_tag, container))
    pages = reference.get("pages") or reference.get("eid")
    first, _, last = pages.replace("\u2014", "\u2013").replace("-", "\u2013").partition("\u2013")
    for tag, value in (
        ("citation_volume", reference.get("volume")),
        ("citation_issue", reference.get("number") or reference.get("issue")),
        ("citation_firstpage", first.strip()),
        ("citation_lastpage", last.strip("\u2013 ")),
        ("citation_publisher", reference.get("publisher")),
        ("citation_doi", reference.get("doi")),
        ("citation_pmid", reference.get("pmid")),
        ("citation_issn", reference.get("issn")),
        ("citation_isbn", reference.get("isbn")),
        ("citation_language", reference.get("language")),
    ):
        if value:
            meta.append((tag, value))
    if reference.entry_type in ("phdthesis", "mastersthesis") and reference.get("school"):
        meta.append(("citation_dissertation_institution", reference.get("school")))
    if reference.entry_type in ("report", "techreport"):
        if reference.get("institution"):
            meta.append(("citation_technical_report_institution", reference.get("institution")))
        if reference.get("number"):
            meta.append(("citation_technical_report_number", reference.get("number")))
    return tuple((name, value) for name, value in meta if value)
