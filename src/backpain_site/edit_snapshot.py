"""What the fast edit path (edit_path.py) needs of the last build, kept beside its record.

Input: a clean build's loaded and resolved site and its options. Output: an `EditSnapshot`:
the settings, conditions, pages, citation style and every internal address of that build once,
and for each study page what its text resolved to (its citations as numbered, its reference
list, the in-text labels and titles of its sources, its sources themselves), so that one edited
study can be resolved and rendered again without loading the other ten thousand. On disk it is
a pack (cache.pack_parts): a study's entry is unpickled only when that study is edited.

A study is stored without its text: the fast path compares an edited study with the stored one
field by field, text left out, and never needs the old text.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .cache import PackReader
from .citations import CitationMarks
from .content import Condition, Page, SiteConfig, Study

if TYPE_CHECKING:
    # Imported where used: only a whole build, which takes the snapshot, needs the resolve
    # stage (0.08 s of imports); a fast edit reads the snapshot without it.
    from .bibliography import Reference
    from .resolve import CitedReference, PageCitations, ResolvedSite

BASE = "base"
TEMPLATES = "templates"  # the templates as compiled (render.compile_templates), added by build.py
# The hyphenation dictionary reading grades count syllables with (readability.hyphenator):
# loading it from its source took 50 to 150 ms of a fast edit, and unpickling it takes 15 ms.
HYPHENATOR = "hyphenator"
_STUDY = "study:"
_REFERENCE = "reference:"


@dataclass(frozen=True)
class EditBase:
    """The site-wide part: what every study page is resolved and rendered with."""

    options: object  # incremental.Options of the build (a snapshot is for those options only)
    config: SiteConfig
    conditions: tuple[Condition, ...]
    pages: tuple[Page, ...]
    marks: CitationMarks
    templates_dir: str
    reference_keys: tuple[str, ...]  # in the bibliography's order (the order of `references`)
    known_paths: frozenset[str]  # every internal address a link may point to


@dataclass(frozen=True)
class StudyEntry:
    """One study page as the last build resolved it."""

    study: Study  # its text left out (Study.without_text)
    citations: PageCitations
    references: tuple[CitedReference, ...]  # the page's reference list
    labels: tuple[tuple[str, str], ...]  # in-text labels of the page's keys (author-date)
    titles: tuple[tuple[str, str], ...]  # plain titles of the page's keys


def take(resolved: ResolvedSite, options: object) -> dict[str, Any]:
    """The snapshot of a clean build, as named entries (a pack's, or kept in memory)."""
    from .readability import hyphenator
    from .resolve import internal_paths

    site = resolved.site
    labels = {key: f.in_text for key, f in resolved.formatted.items() if f.in_text}
    entries: dict[str, Any] = {
        BASE: EditBase(
            options,
            site.config,
            site.conditions,
            site.pages,
            resolved.marks,
            site.templates_dir,
            tuple(r.key for r in site.references),
            frozenset(internal_paths(site, resolved.urls)),
        ),
        HYPHENATOR: hyphenator(),
    }
    for reference in site.references:
        entries[_REFERENCE + reference.key] = reference
    for study in site.studies:
        citations = resolved.citations.get(("studies", study.slug))
        if citations is None:
            continue
        numbered = [key for key, _ in citations.numbers]
        entries[_STUDY + study.slug] = StudyEntry(
            study.without_text(),
            citations,
            resolved.bodies[("studies", study.slug)].references,
            tuple((k, labels[k]) for k in numbered if k in labels),
            tuple((k, resolved.formatted[k].text) for k in numbered if k in resolved.formatted),
        )
    return entries


class EditSnapshot:
    """The entries of the last build's snapshot: from memory (the live preview) or a pack."""

    def __init__(self, entries: Mapping[str, Any] | PackReader) -> None:
        self._entries = entries

    def base(self) -> EditBase | None:
        found = self._entries.get(BASE)
        return found if isinstance(found, EditBase) else None

    def study(self, slug: str) -> StudyEntry | None:
        found = self._entries.get(_STUDY + slug)
        return found if isinstance(found, StudyEntry) else None

    def templates(self) -> dict[str, bytes] | None:
        found = self._entries.get(TEMPLATES)
        return found if isinstance(found, dict) else None

    def hyphenator(self) -> Any:
        """The build's hyphenation dictionary (readability.hyphenator), or None."""
        return self._entries.get(HYPHENATOR)

    def reference(self, key: str) -> Reference | None:
        from .bibliography import Reference  # loaded by the entry itself anyway

        found = self._entries.get(_REFERENCE + key)
        return found if isinstance(found, Reference) else None


class SnapshotReferences(Mapping[str, "Reference"]):
    """The site's references by key, as render gives them to templates, for one study page:
    each read from the snapshot when a template first asks for it (the same mapping, in the
    same order, as a whole build's)."""

    def __init__(self, keys: tuple[str, ...], snapshot: EditSnapshot) -> None:
        self._keys = keys
        self._known = frozenset(keys)
        self._snapshot = snapshot
        self._read: dict[str, Reference] = {}

    def __getitem__(self, key: str) -> Reference:
        found = self._read.get(key)
        if found is None:
            if key not in self._known:
                raise KeyError(key)
            found = self._snapshot.reference(key)
            if found is None:
                raise LookupError(f"the snapshot has lost reference {key}")
            self._read[key] = found
        return found

    def __contains__(self, key: object) -> bool:
        return key in self._known

    def __iter__(self) -> Iterator[str]:
        return iter(self._keys)

    def __len__(self) -> int:
        return len(self._keys)
