"""Summary-of-findings rows in the GRADE manner, with their numbers derived from the studies.

Input: a `Condition` (its `findings` rows, as the editor wrote them) and the published studies
by slug. Output: `FindingSummary` rows whose number of studies and participants come from the
study files each row names (never typed twice), and the problems a row can have that only the
studies reveal: a study about another condition, animal research or a trial plan behind a
finding about people, and a moderate or high rating resting on nothing stronger than
observational work.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from .content import Condition, Finding, Study
from .evidence import CERTAINTIES, DESIGNS, WITHOUT_RESULTS
from .problems import Problem, did_you_mean, error


@dataclass(frozen=True)
class FindingSummary:
    finding: Finding
    sources: tuple[Study, ...]  # the row's study files, in the order the editor listed them
    studies: int | None  # None when a source does not report its number of studies
    participants: int | None  # None when a source does not report its number of people
    # Two or more reviews may include the same trials, so their sum is only an upper bound.
    overlapping: bool

    @property
    def rated_by(self) -> Study | None:
        """The source whose rating the row shows (`rating_from`), if the editor named one."""
        return next((s for s in self.sources if s.slug == self.finding.rating_from), None)

    @property
    def numbers(self) -> str:
        """The 'studies and people' cell in words."""
        if self.studies is None and self.participants is None:
            return "Number of studies and people not reported in the sources we checked"
        up_to = "up to " if self.overlapping else ""
        studies = (
            f"{up_to}{self.studies:,} {'study' if self.studies == 1 else 'studies'}"
            if self.studies is not None
            else "number of studies not reported"
        )
        people = (
            f"{up_to}{self.participants:,} {'person' if self.participants == 1 else 'people'}"
            if self.participants is not None
            else "number of people not reported"
        )
        text = f"{studies}, {people}"
        if self.overlapping:
            text += " (the reviews may include the same studies)"
        return text[0].upper() + text[1:]


def _studies_in(study: Study) -> int | None:
    if DESIGNS[study.design].synthesis:
        return study.included_studies
    return 1


def _total(values: list[int | None]) -> int | None:
    if not values or any(v is None for v in values):
        return None
    return sum(v for v in values if v is not None)


def summarise(condition: Condition, studies: Mapping[str, Study]) -> tuple[FindingSummary, ...]:
    """The condition's rows with their derived counts (unknown studies are skipped: load
    already reported them)."""
    rows = []
    for finding in condition.findings:
        sources = tuple(studies[slug] for slug in dict.fromkeys(finding.studies) if slug in studies)
        rows.append(
            FindingSummary(
                finding,
                sources,
                _total([_studies_in(s) for s in sources]),
                _total([s.participants for s in sources]),
                sum(1 for s in sources if DESIGNS[s.design].synthesis) > 1,
            )
        )
    return tuple(rows)


def finding_problems(condition: Condition, studies: Mapping[str, Study]) -> list[Problem]:
    """What is wrong with the evidence behind each row (wording is checked in load)."""
    problems: list[Problem] = []
    path = condition.source.path
    for finding in condition.findings:
        where = f"finding '{finding.outcome}'"
        sources = [studies[slug] for slug in dict.fromkeys(finding.studies) if slug in studies]
        for study in sources:
            if condition.slug not in study.conditions:
                problems.append(
                    error(
                        path,
                        finding.line,
                        f"{where}: study '{study.slug}' is not about {condition.slug} "
                        f"(add '{condition.slug}' to its conditions, or remove it from the row)",
                    )
                )
            if study.subjects == "animals":
                problems.append(
                    error(
                        path,
                        finding.line,
                        f"{where}: study '{study.slug}' is animal research and cannot back a "
                        "finding about people",
                    )
                )
            if study.status in WITHOUT_RESULTS:
                problems.append(
                    error(
                        path,
                        finding.line,
                        f"{where}: study '{study.slug}' has no results yet ({study.status}) "
                        "and cannot back a finding",
                    )
                )
        if finding.rating_from and finding.rated_by_editors:
            problems.append(
                error(
                    path,
                    finding.line,
                    f"{where}: give either 'rating_from' (a source rated the evidence) or "
                    "'editors_rating_reason' (our editors did), not both",
                )
            )
        elif finding.rating_from and finding.rating_from not in finding.studies:
            problems.append(
                error(
                    path,
                    finding.line,
                    f"{where}: 'rating_from' names '{finding.rating_from}', which is not one of "
                    f"the row's studies{did_you_mean(finding.rating_from, finding.studies)}",
                )
            )
        rating = CERTAINTIES.get(finding.certainty)
        # The editors read summaries, not every trial report, so a rating of their own stays
        # at low or below; a higher one must come from a guideline or review that rated it.
        if (
            rating is not None
            and finding.rated_by_editors
            and rating.rank < CERTAINTIES["low"].rank
        ):
            problems.append(
                error(
                    path,
                    finding.line,
                    f"{where}: our editors' own rating can be low or very low, not "
                    f"{rating.label.lower()}; a higher rating must come from a source that "
                    "rated the evidence (remove 'editors_rating_reason' if a source did)",
                )
            )
        if (
            rating is not None
            and rating.rank <= CERTAINTIES["moderate"].rank
            and sources
            and not any(DESIGNS[s.design].can_rate_above_low for s in sources)
        ):
            problems.append(
                error(
                    path,
                    finding.line,
                    f"{where}: {rating.label.lower()} certainty needs a randomised trial, "
                    "a systematic review or a guideline among its studies; without one, "
                    "GRADE starts at low",
                )
            )
    return problems
