"""What the generator knows about evidence: study designs, certainty ratings, claim verdicts.

Input: none (vocabulary). Output: lookup tables used by the schema (allowed values), by the
resolver (ordering, wording checks) and by templates (plain-language labels and caveats).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Design:
    id: str
    label: str
    explanation: str
    rank: int  # position in the evidence hierarchy: lower is stronger
    caveat: str = ""
    group: str = ""


_NOT_IN_PEOPLE = "Not tested in people."
_ONE_PERSON = "One person's story: cannot show that the treatment caused the change."
_NO_RESULTS = "No results yet."

DESIGNS: dict[str, Design] = {
    d.id: d
    for d in (
        Design(
            "systematic-review",
            "Systematic review",
            "Researchers searched for all studies on a question and judged them together.",
            1,
            group="Reviews",
        ),
        Design(
            "meta-analysis",
            "Meta-analysis",
            "A review that combines the numbers from several studies into one result.",
            1,
            group="Reviews",
        ),
        Design(
            "overview-of-reviews",
            "Overview of reviews",
            "A study of other reviews. It sums up what many reviews found.",
            1,
            group="Reviews",
        ),
        Design(
            "guideline",
            "Clinical guideline",
            "Advice for doctors, written by experts after reviewing the research.",
            1,
            group="Reviews",
        ),
        Design(
            "rct",
            "Randomised controlled trial",
            "People were put into groups by chance and the groups were compared.",
            2,
            group="Trials",
        ),
        Design(
            "non-randomised-trial",
            "Non-randomised trial",
            "Groups were compared, but people were not put into groups by chance.",
            3,
            group="Trials",
        ),
        Design(
            "narrative-review",
            "Narrative review",
            "Authors described studies they chose. They did not search for all of them.",
            3,
            group="Reviews",
        ),
        Design(
            "uncontrolled-study",
            "Study without a comparison group",
            "People were measured before and after treatment, with no group to compare.",
            4,
            "Without a comparison group, we cannot tell if the treatment caused the change.",
            group="Other studies in people",
        ),
        Design(
            "imaging-study",
            "Brain or body scan study",
            "Researchers used scans to look at the body or brain.",
            4,
            "Scan changes do not show that people feel better.",
            group="Other studies in people",
        ),
        Design(
            "case-series",
            "Case series",
            "A report on a small group of people who all had the same treatment.",
            5,
            "No comparison group: cannot show that the treatment caused the change.",
            group="Other studies in people",
        ),
        Design(
            "case-report",
            "Case report",
            "A report about one person.",
            6,
            _ONE_PERSON,
            group="Other studies in people",
        ),
        Design(
            "cross-sectional-survey",
            "Survey",
            "People answered questions at one point in time.",
            7,
            "A survey shows what people do, not whether a treatment works.",
            group="Surveys and counts",
        ),
        Design(
            "prevalence-review",
            "Review of how common a condition is",
            "A review of studies that counted how many people have a condition.",
            7,
            "It says how common a condition is, not how to treat it.",
            group="Surveys and counts",
        ),
        Design(
            "bibliometric-analysis",
            "Count of research papers",
            "Researchers counted published papers on a topic.",
            7,
            "It counts papers. It says nothing about whether a treatment works.",
            group="Surveys and counts",
        ),
        Design(
            "laboratory-study",
            "Laboratory study",
            "Research on cells or tissue in a laboratory.",
            8,
            _NOT_IN_PEOPLE,
            group="Animal and laboratory research",
        ),
        Design(
            "animal-study",
            "Animal research",
            "Research done on animals, not people.",
            8,
            _NOT_IN_PEOPLE,
            group="Animal and laboratory research",
        ),
        Design(
            "trial-protocol",
            "Trial protocol",
            "A plan for a trial, written before the trial starts.",
            9,
            _NO_RESULTS,
            group="Plans and ongoing trials",
        ),
    )
}


@dataclass(frozen=True)
class Certainty:
    id: str
    label: str
    meaning: str
    wording: str  # the GRADE phrase a plain-words effect must use; empty when not graded
    rank: int


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

STATUSES = ("published", "protocol", "ongoing")
SUBJECTS = ("people", "animals")


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


def wording_problem(effect: str, certainty: str) -> str | None:
    """Why a plain-words effect does not match its GRADE certainty, or None if it does.

    GRADE's plain-language convention: high -> "results in", moderate -> "probably",
    low -> "may", very low -> "very uncertain". A stronger rating's phrase in a weaker
    row (e.g. "results in" at low certainty) is also wrong.
    """
    rating = CERTAINTIES.get(certainty)
    if rating is None or not rating.wording:
        return None
    text = " " + " ".join(effect.lower().split()) + " "
    if f" {rating.wording} " not in text and f" {rating.wording}," not in text:
        return f"a {rating.label.lower()}-certainty effect must say '{rating.wording}'"
    for other in CERTAINTIES.values():
        if other.wording and other.rank < rating.rank and f" {other.wording} " in text:
            return (
                f"'{other.wording}' claims {other.label.lower()} certainty, but the rating is "
                f"{rating.label.lower()}"
            )
    return None
