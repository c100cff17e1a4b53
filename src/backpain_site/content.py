"""The content model: typed, immutable values for everything an editor writes.

Input: validated front matter (`schema.Validated`) plus a document's body.
Output: `SiteConfig`, `Condition`, `Study`, `Claim`, `Page` and the `Site` that holds them all.
These values cross every later stage; nothing downstream reads raw YAML.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from pathlib import PurePosixPath
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    # Only named in annotations: the build's record holds the site's settings (these classes),
    # and a build that finds nothing changed reads them back without importing BibTeX or YAML.
    from .bibliography import Reference
    from .schema import Validated


@dataclass(frozen=True)
class Editor:
    name: str
    role: str


@dataclass(frozen=True)
class SiteConfig:
    path: str
    title: str
    tagline: str
    base_url: str
    language: str
    citation_style: str
    reading_grade_target: int
    review_interval_months: int
    publisher: str
    editors: tuple[Editor, ...]
    funding: str
    conflicts: str
    advertising: str
    contact: str

    @classmethod
    def from_validated(cls, path: str, v: Validated) -> SiteConfig:
        from .schema import Validated  # see the imports above

        values = v.values
        editors = tuple(
            Editor(e.values["name"], e.values["role"])
            for e in values["editors"] or ()
            if isinstance(e, Validated)
        )
        return cls(path=path, editors=editors, **{k: values[k] for k in values if k != "editors"})


@dataclass(frozen=True)
class Source:
    """Where a content file came from; every problem about it points here."""

    kind: str  # 'conditions', 'studies', 'claims', 'pages'
    slug: str
    path: str
    body: str
    body_line: int
    meta: Validated

    def line_of(self, key: str) -> int:
        return self.meta.line_of(key)

    def item_line(self, key: str, index: int) -> int:
        lines = self.meta.item_lines.get(key, ())
        return lines[index] if index < len(lines) else self.line_of(key)


@dataclass(frozen=True)
class ReviewDates:
    last_reviewed: dt.date
    next_review: dt.date


@dataclass(frozen=True)
class Finding:
    outcome: str
    comparison: str
    effect: str
    certainty: str
    studies: tuple[str, ...]
    line: int
    # Who rated the evidence: one of the row's studies (a guideline or review), or the editors,
    # who then say why. Empty when not given.
    rating_from: str = ""
    editors_rating_reason: str = ""

    @property
    def rated_by_editors(self) -> bool:
        return bool(self.editors_rating_reason)


@dataclass(frozen=True)
class Condition:
    source: Source
    title: str
    summary: str
    bottom_line: str
    order: int
    review: ReviewDates
    findings: tuple[Finding, ...]

    @property
    def slug(self) -> str:
        return self.source.slug


@dataclass(frozen=True)
class Study:
    source: Source
    title: str
    design: str
    subjects: str
    population: str
    conditions: tuple[str, ...]
    participants: int | None
    included_studies: int | None
    intervention: str
    comparison: str
    outcomes: tuple[str, ...]
    follow_up: str
    key_finding: str
    certainty: str
    status: str
    references: tuple[str, ...]
    limits: tuple[str, ...]
    review: ReviewDates
    draft: bool

    @property
    def slug(self) -> str:
        return self.source.slug

    def without_text(self) -> Study:
        """This study with its Markdown text and its front matter as read (the values by name,
        the line of each) left out: what the stages after resolve and the reading grade need
        of it, and what must match for an edit to be local (edit_snapshot.py). No template
        reads a raw text or the front matter: every value is in the study's own fields, and
        the lines are for problems, which the stages before rendering report. At 10,000
        studies the texts were about 35 MB, the front matter about 30 MB, that the build and
        every render worker forked from it held."""
        from .schema import Validated  # see the imports above

        read = Validated({}, {}, {}, self.source.meta.line)
        return replace(self, source=replace(self.source, body="", meta=read))


@dataclass(frozen=True)
class Claim:
    source: Source
    claim: str
    verdict: str
    check_id: str
    references: tuple[str, ...]
    order: int
    review: ReviewDates

    @property
    def slug(self) -> str:
        return self.source.slug


@dataclass(frozen=True)
class Page:
    source: Source
    title: str
    summary: str
    nav_order: int | None
    review: ReviewDates

    @property
    def slug(self) -> str:
        return self.source.slug


ContentItem = Condition | Study | Claim | Page


@dataclass(frozen=True)
class StaticFile:
    path: PurePosixPath  # relative to the output folder
    data: bytes


@dataclass(frozen=True)
class Site:
    """Everything the build read, validated. The input of `resolve`."""

    root: str
    config: SiteConfig
    conditions: tuple[Condition, ...]
    studies: tuple[Study, ...]  # published only; drafts are in `drafts`
    drafts: tuple[Study, ...]
    claims: tuple[Claim, ...]
    pages: tuple[Page, ...]
    references: tuple[Reference, ...]
    bibliography_path: str
    static_files: tuple[StaticFile, ...]
    templates_dir: str
    # Files that exist but failed validation: their bodies are still checked (citations,
    # links) so that one build reports every problem, and links to them are not "broken".
    invalid_sources: tuple[Source, ...] = ()
    file_slugs: tuple[tuple[str, str], ...] = ()  # (kind, slug) of every content file


def _review(v: Validated) -> ReviewDates:
    return ReviewDates(v.values["last_reviewed"], v.values["next_review"])


def condition_from(source: Source) -> Condition:
    from .schema import Validated  # see the imports above

    v = source.meta.values
    findings = tuple(
        Finding(
            f.values["outcome"],
            f.values["comparison"],
            f.values["effect"],
            f.values["certainty"],
            tuple(s for s in f.values["studies"] or () if s),
            f.line,
            f.values["rating_from"] or "",
            f.values["editors_rating_reason"] or "",
        )
        for f in v["findings"] or ()
        if isinstance(f, Validated)
    )
    return Condition(
        source,
        v["title"],
        v["summary"],
        v["bottom_line"],
        v["order"],
        _review(source.meta),
        findings,
    )


def study_from(source: Source) -> Study:
    v = source.meta.values
    return Study(
        source=source,
        title=v["title"],
        design=v["design"],
        subjects=v["subjects"],
        population=v["population"],
        conditions=tuple(v["conditions"] or ()),
        participants=v["participants"],
        included_studies=v["included_studies"],
        intervention=v["intervention"],
        comparison=v["comparison"],
        outcomes=tuple(v["outcomes"] or ()),
        follow_up=v["follow_up"],
        key_finding=v["key_finding"],
        certainty=v["certainty"],
        status=v["status"],
        references=tuple(v["references"] or ()),
        limits=tuple(v["limits"] or ()),
        review=_review(source.meta),
        draft=bool(v["draft"]),
    )


def claim_from(source: Source) -> Claim:
    v = source.meta.values
    return Claim(
        source,
        v["claim"],
        v["verdict"],
        v["check_id"] or "",
        tuple(v["references"] or ()),
        v["order"],
        _review(source.meta),
    )


def page_from(source: Source) -> Page:
    v = source.meta.values
    return Page(source, v["title"], v["summary"], v["nav_order"], _review(source.meta))
