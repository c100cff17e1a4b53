"""What the generator knows about evidence: study designs, certainty ratings, claim verdicts.

Input: none (vocabulary). Output: lookup tables used by the schema (allowed values), by the
loader and resolver (ordering, wording checks), by the summary-of-findings and evidence-map
builders (levels of the evidence hierarchy) and by templates (plain-language labels, caveats).
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Level:
    """One step of the evidence hierarchy: a column group of the evidence map."""

    id: str
    label: str
    explanation: str
    rank: int  # lower is stronger


# Ordered as the evidence hierarchy the site explains to readers: syntheses of fair tests
# first, then single fair tests, weaker designs in people, then work that cannot show
# benefit in people at all, and last plans that have no results yet.
LEVELS: dict[str, Level] = {
    level.id: level
    for level in (
        Level(
            "reviews",
            "Systematic reviews and guidelines",
            "Reviews that searched for all the studies on a question, and advice built on them.",
            1,
        ),
        Level(
            "randomised",
            "Randomised trials",
            "Fair tests: people were put into groups by chance.",
            2,
        ),
        Level(
            "non-randomised",
            "Non-randomised and uncontrolled studies",
            "Studies in people with no groups made by chance, or with no group to compare.",
            3,
        ),
        Level(
            "case-series", "Case series", "Reports on a few people who all had one treatment.", 4
        ),
        Level("case-reports", "Case reports", "Reports about one person.", 5),
        Level(
            "narrative",
            "Narrative reviews",
            "Authors described studies they chose, without searching for all of them.",
            6,
        ),
        Level(
            "surveys",
            "Surveys and counts",
            "Studies of how common something is, or of how many papers exist.",
            7,
        ),
        Level(
            "animal-laboratory",
            "Animal and laboratory studies",
            "Research on animals or cells. Not tested in people.",
            8,
        ),
        Level("protocols", "Trial plans and ongoing trials", "No results yet.", 9),
    )
}


@dataclass(frozen=True)
class Design:
    id: str
    label: str
    explanation: str
    level: str  # a key of LEVELS
    caveat: str = ""
    # True when the design sums up other studies: its own `included_studies` is what counts.
    synthesis: bool = False
    # True when one such study can support a moderate or high GRADE rating (fair tests and
    # systematic syntheses of them); see findings.py.
    can_rate_above_low: bool = False

    @property
    def rank(self) -> int:
        return LEVELS[self.level].rank


NOT_IN_PEOPLE = "Not tested in people."
ONE_PERSON = "One person's story: cannot show that the treatment caused the change."
NO_RESULTS = "No results yet."

DESIGNS: dict[str, Design] = {
    d.id: d
    for d in (
        Design(
            "systematic-review",
            "Systematic review",
            "Researchers searched for all studies on a question and judged them together.",
            "reviews",
            synthesis=True,
            can_rate_above_low=True,
        ),
        Design(
            "meta-analysis",
            "Meta-analysis",
            "A review that combines the numbers from several studies into one result.",
            "reviews",
            synthesis=True,
            can_rate_above_low=True,
        ),
        Design(
            "overview-of-reviews",
            "Overview of reviews",
            "A study of other reviews. It sums up what many reviews found.",
            "reviews",
            synthesis=True,
            can_rate_above_low=True,
        ),
        Design(
            "guideline",
            "Clinical guideline",
            "Advice for doctors, written by experts after reviewing the research.",
            "reviews",
            synthesis=True,
            can_rate_above_low=True,
        ),
        Design(
            "rct",
            "Randomised controlled trial",
            "People were put into groups by chance and the groups were compared.",
            "randomised",
            can_rate_above_low=True,
        ),
        Design(
            "non-randomised-trial",
            "Non-randomised trial",
            "Groups were compared, but people were not put into groups by chance.",
            "non-randomised",
        ),
        Design(
            "uncontrolled-study",
            "Study without a comparison group",
            "People were measured before and after treatment, with no group to compare.",
            "non-randomised",
            "Without a comparison group, we cannot tell if the treatment caused the change.",
        ),
        Design(
            "imaging-study",
            "Brain or body scan study",
            "Researchers used scans to look at the body or brain.",
            "non-randomised",
            "Scan changes do not show that people feel better.",
        ),
        Design(
            "case-series",
            "Case series",
            "A report on a small group of people who all had the same treatment.",
            "case-series",
            "No comparison group: cannot show that the treatment caused the change.",
        ),
        Design(
            "case-report",
            "Case report",
            "A report about one person.",
            "case-reports",
            ONE_PERSON,
        ),
        Design(
            "narrative-review",
            "Narrative review",
            "Authors described studies they chose. They did not search for all of them.",
            "narrative",
            synthesis=True,
        ),
        Design(
            "cross-sectional-survey",
            "Survey",
            "People answered questions at one point in time.",
            "surveys",
            "A survey shows what people do, not whether a treatment works.",
        ),
        Design(
            "prevalence-review",
            "Review of how common a condition is",
            "A review of studies that counted how many people have a condition.",
            "surveys",
            "It says how common a condition is, not how to treat it.",
            synthesis=True,
        ),
        Design(
            "bibliometric-analysis",
            "Count of research papers",
            "Researchers counted published papers on a topic.",
            "surveys",
            "It counts papers. It says nothing about whether a treatment works.",
        ),
        Design(
            "laboratory-study",
            "Laboratory study",
            "Research on cells or tissue in a laboratory.",
            "animal-laboratory",
            NOT_IN_PEOPLE,
        ),
        Design(
            "animal-study",
            "Animal research",
            "Research done on animals, not people.",
            "animal-laboratory",
            NOT_IN_PEOPLE,
        ),
        Design(
            "trial-protocol",
            "Trial protocol",
            "A plan for a trial, written before the trial starts.",
            "protocols",
            NO_RESULTS,
        ),
    )
}

STATUSES = ("published", "protocol", "ongoing")
SUBJECTS = ("people", "animals")
WITHOUT_RESULTS = ("protocol", "ongoing")


def level_of(design: str, subjects: str, status: str) -> Level:
    """Where a study sits in the hierarchy: what it can show, not only how it was run.

    A review of animal work is animal research, and a trial without results yet is a plan,
    whatever its design.
    """
    if status in WITHOUT_RESULTS:
        return LEVELS["protocols"]
    if subjects == "animals":
        return LEVELS["animal-laboratory"]
    return LEVELS[DESIGNS[design].level]


def who_took_part(
    participants: int | None, included_studies: int | None, subjects: str, status: str
) -> str:
    """How many took part, in plain words: "1,204 people (planned); 12 studies".

    A function, not a template macro: study tables show it for every study, and a macro call
    for each row cost about a tenth of a condition page's rendering.
    """
    told = []
    if participants is not None:
        planned = " (planned)" if status != "published" else ""
        told.append(f"{participants:,} {'animals' if subjects == 'animals' else 'people'}{planned}")
    if included_studies is not None:
        told.append(f"{included_studies:,} studies")
    return "; ".join(told) or "Not reported"


def caveats(design: str, subjects: str, status: str) -> tuple[str, ...]:
    """Every warning a reader needs before trusting a study, strongest first, no repeats."""
    found = [DESIGNS[design].caveat]
    if subjects == "animals":
        found.append(NOT_IN_PEOPLE)
    if status in WITHOUT_RESULTS:
        found.append(NO_RESULTS)
    return tuple(dict.fromkeys(c for c in found if c))


@dataclass(frozen=True)
class Certainty:
    id: str
    label: str
    meaning: str
    wording: str  # the GRADE phrase a plain-words effect must use; empty when not graded
    rank: int

    @property
    def symbols(self) -> str:
        """GRADE's circles: four filled for high, one for very low; none when not graded."""
        if not self.wording:
            return ""
        return "⊕" * (5 - self.rank) + "◯" * (self.rank - 1)


CERTAINTIES: dict[str, Certainty] = {
    c.id: c
    for c in (
        Certainty("high", "High", "We are confident in this result.", "results in", 1),
        Certainty(
            "moderate", "Moderate", "The result is probably close to the truth.", "probably", 2
        ),
        Certainty("low", "Low", "The true result may be quite different.", "may", 3),
        Certainty(
            "very-low", "Very low", "We are very unsure about this result.", "very uncertain", 4
        ),
        Certainty(
            "not-graded",
            "Not graded",
            "Nobody has rated how sure we can be about this result.",
            "",
            5,
        ),
    )
}
GRADED = tuple(c for c in CERTAINTIES if c != "not-graded")

# GRADE's own very-low statement reads "X may ... but the evidence is very uncertain", so the
# low-certainty word is allowed there; everywhere else another level's phrase is a mismatch.
_ALSO_ALLOWED = {"very-low": {"low"}}


@dataclass(frozen=True)
class Verdict:
    id: str
    label: str
    explanation: str


VERDICTS: dict[str, Verdict] = {
    v.id: v
    for v in (
        Verdict("supported", "Supported", "The source says this."),
        Verdict(
            "partly-supported",
            "Partly supported",
            "The source says some of this, but not all of it.",
        ),
        Verdict("overstated", "Overstated", "The source says less than the claim."),
        Verdict(
            "not-supported", "Not supported", "The source does not say this, or says the opposite."
        ),
        Verdict(
            "source-not-found",
            "Source not found",
            "We could not find where this comes from. Treat it as unproven.",
        ),
    )
}


def _says(text: str, phrase: str) -> bool:
    words = r"\s+".join(re.escape(word) for word in phrase.split())
    return re.search(rf"(?<![\w-]){words}(?![\w-])", text) is not None


def wording_problem(effect: str, certainty: str) -> str | None:
    """Why a plain-words effect does not match its GRADE certainty, or None if it does.

    GRADE's plain-language convention (Santesso et al. 2020): high -> "results in",
    moderate -> "probably", low -> "may", very low -> "very uncertain". The effect must use
    its own level's phrase and no other level's phrase: "results in" in a low-certainty row
    claims too much, "may" in a moderate-certainty row too little.
    """
    rating = CERTAINTIES.get(certainty)
    if rating is None or not rating.wording:
        return None
    text = effect.lower()
    if not _says(text, rating.wording):
        return (
            f"the effect is rated {rating.label.lower()} certainty, "
            f"so it must say '{rating.wording}'"
        )
    for other in CERTAINTIES.values():
        if (
            other.wording
            and other.id != rating.id
            and other.id not in _ALSO_ALLOWED.get(rating.id, ())
            and _says(text, other.wording)
        ):
            return (
                f"'{other.wording}' is the wording for {other.label.lower()} certainty, "
                f"but the effect is rated {rating.label.lower()}"
            )
    return None
