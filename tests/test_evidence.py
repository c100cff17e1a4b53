"""Evidence: GRADE wording, summary-of-findings rows, the evidence map, design badges, JSON-LD."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path, PurePosixPath

import pytest
from bs4 import BeautifulSoup, Tag

from backpain_site.build import BuildResult, build
from backpain_site.content import Study
from backpain_site.evidence import (
    DESIGNS,
    LEVELS,
    caveats,
    level_of,
    who_took_part,
    wording_problem,
)
from backpain_site.evidence_map import build_map, svg
from backpain_site.load import load_site
from backpain_site.problems import error

from conftest import CONDITION, REPO, STUDY, TODAY

CONDITION_PATH = "content/conditions/low-back-pain.md"


def study_file(**fields: object) -> str:
    """conftest's study with some front-matter fields replaced or added."""
    text = STUDY
    for key, value in fields.items():
        line = f"{key}: {value}"
        if re.search(rf"^{key}:", text, flags=re.MULTILINE):
            text = re.sub(rf"^{key}:.*$", line, text, count=1, flags=re.MULTILINE)
        else:
            text = text.replace("\nlast_reviewed:", f"\n{line}\nlast_reviewed:", 1)
    return text


def condition_file(findings: str | None) -> str:
    """conftest's condition with its `findings:` block replaced (None removes it)."""
    head, _ = CONDITION.split("findings:\n", 1)
    body = CONDITION.split("\n---\n", 1)[1]
    block = f"findings:\n{findings}" if findings is not None else ""
    return f"{head}{block}---\n{body}"


def finding(outcome: str, effect: str, certainty: str, studies: str, *extra: str) -> str:
    """One `findings` row; `extra` lines (e.g. "rating_from: guideline") are added to it."""
    return (
        f"  - outcome: {outcome}\n"
        "    comparison: Acupuncture compared with no acupuncture\n"
        f"    effect: {effect}\n"
        f"    certainty: {certainty}\n"
        f"    studies: [{studies}]\n"
    ) + "".join(f"    {line}\n" for line in extra)


def html(result: BuildResult, path: str) -> BeautifulSoup:
    return BeautifulSoup(result.outputs[PurePosixPath(path)].decode("utf-8"), "html.parser")


def text(element: Tag | None) -> str:
    assert element is not None
    return " ".join(element.get_text(" ").split())


# --- GRADE wording -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("effect", "certainty", "problem"),
    [
        ("Acupuncture results in less pain.", "high", None),
        ("Acupuncture probably eases pain.", "moderate", None),
        ("Probably a small benefit.", "moderate", None),
        ("Acupuncture may ease pain a little.", "low", None),
        ("We are very uncertain whether acupuncture eases pain.", "very-low", None),
        # GRADE's own very-low sentence uses 'may' and then says how uncertain it is.
        ("Acupuncture may ease pain, but the evidence is very\nuncertain.", "very-low", None),
        ("Whatever the text says.", "not-graded", None),
        (
            "Acupuncture eases pain.",
            "low",
            "the effect is rated low certainty, so it must say 'may'",
        ),
        (
            "The mayhem eased.",
            "low",
            "the effect is rated low certainty, so it must say 'may'",
        ),
        (
            "Acupuncture may ease pain.",
            "high",
            "the effect is rated high certainty, so it must say 'results in'",
        ),
        (
            "Acupuncture probably eases pain.",
            "very-low",
            "the effect is rated very low certainty, so it must say 'very uncertain'",
        ),
        (
            "Acupuncture may ease pain and results in better sleep.",
            "low",
            "'results in' is the wording for high certainty, but the effect is rated low",
        ),
        (
            "Acupuncture probably eases pain, and the benefit may last.",
            "moderate",
            "'may' is the wording for low certainty, but the effect is rated moderate",
        ),
        (
            "Acupuncture results in less pain; it probably lasts.",
            "high",
            "'probably' is the wording for moderate certainty, but the effect is rated high",
        ),
        (
            "It is very uncertain, but it probably helps.",
            "very-low",
            "'probably' is the wording for moderate certainty, but the effect is rated very low",
        ),
    ],
)
def test_wording_must_match_the_grade_rating(
    effect: str, certainty: str, problem: str | None
) -> None:
    assert wording_problem(effect, certainty) == problem


def test_a_wrong_certainty_word_fails_the_build(
    project: Callable[..., Path], tmp_path: Path
) -> None:
    rows = finding("Pain", "Acupuncture reduces pain a little.", "low", "smith-2020") + finding(
        "Function", "Acupuncture may improve function and results in sleep.", "low", "smith-2020"
    )
    root = project({CONDITION_PATH: condition_file(rows)})
    result = build(root, tmp_path / "out", today=TODAY)
    assert result.problems == [
        error(
            CONDITION_PATH,
            9,
            "finding 'Pain': the effect is rated low certainty, so it must say 'may'",
        ),
        error(
            CONDITION_PATH,
            14,
            "finding 'Function': 'results in' is the wording for high certainty, "
            "but the effect is rated low",
        ),
    ]
    assert not (tmp_path / "out").exists()


# --- the evidence behind a row ---------------------------------------------------------------

CASE_REPORT = study_file(design="case-report", participants=1)
ANIMALS = study_file(design="animal-study", subjects="animals", participants=13)
PROTOCOL = study_file(design="trial-protocol", status="protocol", participants=68)
ABOUT_SCIATICA = study_file(conditions="[sciatica]")
SCIATICA = (
    CONDITION.replace("title: Low back pain", "title: Sciatica")
    .replace("order: 1", "order: 2")
    .split("findings:")[0]
    + "---\nLeg pain.\n"
)


def test_rows_must_rest_on_studies_that_can_carry_them(
    project: Callable[..., Path],
) -> None:
    rows = (
        finding("Pain", "Acupuncture probably eases pain.", "moderate", "smith-2020")
        + finding("Function", "Acupuncture probably helps.", "moderate", "one-case")
        + finding("Sleep", "Acupuncture may help sleep.", "low", "mice")
        + finding("Walking", "Acupuncture may help walking.", "low", "plan")
        + finding("Mood", "Acupuncture may help mood.", "low", "leg-study")
    )
    root = project(
        {
            CONDITION_PATH: condition_file(rows),
            "content/conditions/sciatica.md": SCIATICA,
            "content/studies/one-case.md": CASE_REPORT,
            "content/studies/mice.md": ANIMALS,
            "content/studies/plan.md": PROTOCOL,
            "content/studies/leg-study.md": ABOUT_SCIATICA,
        }
    )
    result = build(root, None, today=TODAY)
    assert result.problems == [
        error(
            CONDITION_PATH,
            14,
            "finding 'Function': moderate certainty needs a randomised trial, a systematic "
            "review or a guideline among its studies; without one, GRADE starts at low",
        ),
        error(
            CONDITION_PATH,
            19,
            "finding 'Sleep': study 'mice' is animal research and cannot back a finding "
            "about people",
        ),
        error(
            CONDITION_PATH,
            24,
            "finding 'Walking': study 'plan' has no results yet (protocol) and cannot back "
            "a finding",
        ),
        error(
            CONDITION_PATH,
            29,
            "finding 'Mood': study 'leg-study' is not about low-back-pain (add "
            "'low-back-pain' to its conditions, or remove it from the row)",
        ),
    ]


# --- the summary-of-findings table -----------------------------------------------------------

REVIEW_A = study_file(
    title="Review A", design="meta-analysis", participants=1842, included_studies=12
)
REVIEW_B = study_file(title="Review B", design="systematic-review", included_studies=5).replace(
    "participants: 120\n", ""
)
GUIDELINE = study_file(title="A guideline", design="guideline").replace("participants: 120\n", "")


def findings_rows(soup: BeautifulSoup) -> list[list[str]]:
    table = soup.select_one("table.findings")
    assert table is not None
    return [[text(cell) for cell in row.find_all(["th", "td"])] for row in table.select("tbody tr")]


def test_summary_of_findings_counts_come_from_the_study_files(
    project: Callable[..., Path],
) -> None:
    rows = (
        finding("Pain", "Acupuncture may ease pain.", "low", "smith-2020")
        + finding(
            "Pain at 1 year", "Acupuncture probably eases pain.", "moderate", "review-a, smith-2020"
        )
        + finding("Function", "Acupuncture may help.", "low", "review-a, review-b")
        + finding("Sleep", "We are very uncertain whether it helps.", "very-low", "guideline")
    )
    root = project(
        {
            CONDITION_PATH: condition_file(rows),
            "content/studies/review-a.md": REVIEW_A,
            "content/studies/review-b.md": REVIEW_B,
            "content/studies/guideline.md": GUIDELINE,
        }
    )
    result = build(root, None, today=TODAY)
    assert result.problems == []
    soup = html(result, "conditions/low-back-pain/index.html")
    section = soup.select_one("section.summary-of-findings")
    assert section is not None and section["aria-labelledby"] == "findings-heading"
    assert [text(th) for th in section.select("thead th")] == [
        "Outcome",
        "Comparison",
        "Effect in plain words",
        "How sure we are",
        "Evidence behind it",
    ]
    comparison = "Acupuncture compared with no acupuncture"
    one, several = (
        "Rated by the source in the next column.",
        "Rated by the sources in the next column.",
    )
    assert findings_rows(soup) == [
        ["Pain", comparison, "Acupuncture may ease pain.", f"Low {one}",
         "1 study, 120 people A trial of acupuncture for back pain (Randomised controlled trial)"],
        ["Pain at 1 year", comparison, "Acupuncture probably eases pain.", f"Moderate {several}",
         "13 studies, 1,962 people Review A (Meta-analysis) "
         "A trial of acupuncture for back pain (Randomised controlled trial)"],
        ["Function", comparison, "Acupuncture may help.", f"Low {several}",
         "Up to 17 studies, number of people not reported (the reviews may include the same "
         "studies) Review A (Meta-analysis) Review B (Systematic review)"],
        ["Sleep", comparison, "We are very uncertain whether it helps.", f"Very low {one}",
         "Number of studies and people not reported in the sources we checked "
         "A guideline (Clinical guideline)"],
    ]  # fmt: skip
    assert text(section.select_one("p")) == (
        "What the best studies in people found, and how sure we can be. The ratings are the "
        "ones the sources gave."
    )
    links = [a["href"] for a in soup.select("table.findings .sources a")]
    assert links == [
        "/studies/smith-2020/",
        "/studies/review-a/",
        "/studies/smith-2020/",
        "/studies/review-a/",
        "/studies/review-b/",
        "/studies/guideline/",
    ]
    # GRADE's circles are drawn, and hidden from screen readers, which hear the rating's name.
    circles = [
        "".join("⊕" if c.get("fill") == "currentColor" else "◯" for c in svg.find_all("circle"))
        for svg in section.select("table.findings .grade-symbols")
    ]
    assert circles == ["⊕⊕◯◯", "⊕⊕⊕◯", "⊕⊕◯◯", "⊕◯◯◯"]
    assert all(s["aria-hidden"] == "true" for s in soup.select(".grade-symbols"))
    key = [text(dd) for dd in section.select(".certainty-key dd")]
    assert key == [
        "We are confident in this result. We say “results in”.",
        "The result is probably close to the truth. We say “probably”.",
        "The true result may be quite different. We say “may”.",
        "We are very unsure about this result. We say “very uncertain”.",
    ]


def test_a_condition_without_rated_findings_says_so(project: Callable[..., Path]) -> None:
    root = project({CONDITION_PATH: condition_file(None)})
    result = build(root, None, today=TODAY)
    assert result.problems == []
    soup = html(result, "conditions/low-back-pain/index.html")
    assert soup.select("table.findings") == []
    assert text(soup.select_one(".summary-of-findings .no-findings")) == (
        "We have not yet rated how sure we can be about acupuncture for low back pain, and no "
        "source we checked has rated it. So there is no summary of findings yet. The evidence "
        "map and the list of studies below show what research there is."
    )


def test_each_rating_says_who_gave_it(project: Callable[..., Path]) -> None:
    rows = finding(
        "Pain", "Acupuncture probably eases pain.", "moderate", "guideline, review-a",
        "rating_from: guideline",
    ) + finding(
        "Sleep", "We are very uncertain whether it helps sleep.", "very-low", "smith-2020",
        "editors_rating_reason: It rests on one small trial with no sham group.",
    )  # fmt: skip
    root = project(
        {
            CONDITION_PATH: condition_file(rows),
            "content/studies/review-a.md": REVIEW_A,
            "content/studies/guideline.md": GUIDELINE,
        }
    )
    result = build(root, None, today=TODAY)
    assert result.problems == []
    soup = html(result, "conditions/low-back-pain/index.html")
    section = soup.select_one("section.summary-of-findings")
    assert section is not None
    assert text(section.select_one("p")) == (
        "What the best studies in people found, and how sure we can be. Where a guideline or "
        "review rated the evidence, we use its rating. Where none did, our editors rated it "
        "and say why."
    )
    assert [text(p) for p in section.select("table.findings .rated-by")] == [
        "Rating from: A guideline .",
        "Our editors\u2019 rating. It rests on one small trial with no sham group.",
    ]
    link = section.select_one("table.findings .rated-by a")
    assert link is not None and link["href"] == "/studies/guideline/"
    # The editors' reasons are patient-facing text, so the reading grade counts them: the
    # same page without the reason has one sentence and ten words fewer.
    reason = "    editors_rating_reason: It rests on one small trial with no sham group.\n"
    plain = project(
        {
            CONDITION_PATH: condition_file(rows.replace(reason, "")),
            "content/studies/review-a.md": REVIEW_A,
            "content/studies/guideline.md": GUIDELINE,
        }
    )
    without = build(plain, None, today=TODAY)
    page = "/conditions/low-back-pain/"
    with_reason = next(g for g in result.reading_grades if g.url == page)
    without_reason = next(g for g in without.reading_grades if g.url == page)
    assert (
        with_reason.sentences - without_reason.sentences,
        with_reason.words - without_reason.words,
    ) == (1, 10)


def test_who_rated_a_finding_is_checked(project: Callable[..., Path]) -> None:
    rows = (
        finding(
            "Pain", "Acupuncture probably eases pain.", "moderate", "guideline",
            "editors_rating_reason: We think so.",
        )
        + finding(
            "Sleep", "Acupuncture may help sleep.", "low", "guideline",
            "rating_from: guidline",
        )
        + finding(
            "Mood", "Acupuncture may help mood.", "low", "guideline",
            "rating_from: guideline", "editors_rating_reason: Two raters.",
        )
    )  # fmt: skip
    root = project(
        {CONDITION_PATH: condition_file(rows), "content/studies/guideline.md": GUIDELINE}
    )
    result = build(root, None, today=TODAY)
    assert result.problems == [
        error(
            CONDITION_PATH,
            9,
            "finding 'Pain': our editors' own rating can be low or very low, not moderate; a "
            "higher rating must come from a source that rated the evidence (remove "
            "'editors_rating_reason' if a source did)",
        ),
        error(
            CONDITION_PATH,
            15,
            "finding 'Sleep': 'rating_from' names 'guidline', which is not one of the row's "
            "studies (did you mean 'guideline'?)",
        ),
        error(
            CONDITION_PATH,
            21,
            "finding 'Mood': give either 'rating_from' (a source rated the evidence) or "
            "'editors_rating_reason' (our editors did), not both",
        ),
    ]


# --- the evidence map ---------------------------------------------------------------------

MAP_FILES = {
    "content/conditions/sciatica.md": SCIATICA,
    "content/studies/review-a.md": REVIEW_A,
    "content/studies/review-b.md": REVIEW_B.replace("[low-back-pain]", "[low-back-pain, sciatica]"),
    "content/studies/mice.md": ANIMALS.replace("[low-back-pain]", "[sciatica]"),
    "content/studies/plan.md": PROTOCOL.replace("[low-back-pain]", "[sciatica]"),
    "content/studies/one-case.md": CASE_REPORT.replace("participants: 1\n", ""),
}


def map_table(soup: BeautifulSoup) -> list[list[str]]:
    table = soup.select_one("table.evidence-map-table")
    assert table is not None
    return [[text(cell) for cell in row.find_all(["th", "td"])] for row in table.select("tr")]


def test_home_page_map_counts_studies_and_people_per_condition_and_design(
    project: Callable[..., Path],
) -> None:
    result = build(project(MAP_FILES), None, today=TODAY)
    assert result.problems == []
    soup = html(result, "index.html")
    rows = map_table(soup)
    explanations = {level.label: level.explanation for level in LEVELS.values()}

    def label(name: str) -> str:
        return f"{name} {explanations[name]}"

    trial = "A trial of acupuncture for back pain"
    assert rows == [
        ["Kind of study", "Low back pain", "Sciatica"],
        [label("Systematic reviews and guidelines"),
         "2 studies, at least 1,842 people Review A Review B", "1 study, number of people "
         "not reported Review B"],
        [label("Randomised trials"), f"1 study, 120 people {trial}", "No studies"],
        [label("Non-randomised and uncontrolled studies"), "No studies", "No studies"],
        [label("Case series"), "No studies", "No studies"],
        [label("Case reports"), "1 study, number of people not reported "
         f"{trial}", "No studies"],
        [label("Narrative reviews"), "No studies", "No studies"],
        [label("Surveys and counts"), "No studies", "No studies"],
        [label("Animal and laboratory studies"), "No studies",
         f"1 study, 13 animals {trial}"],
        [label("Trial plans and ongoing trials"), "No studies", f"1 study, 68 people {trial}"],
    ]  # fmt: skip

    drawing = soup.select_one(".evidence-map-figure svg")
    assert drawing is not None
    # The drawing is for sighted readers; the table is its text equivalent.
    assert drawing["aria-hidden"] == "true"
    cells = {td["id"] for td in soup.select("table.evidence-map-table td")}
    links = drawing.find_all("a")
    assert [a["href"] for a in links] == [
        "#evidence-map-low-back-pain-reviews",
        "#evidence-map-sciatica-reviews",
        "#evidence-map-low-back-pain-randomised",
        "#evidence-map-low-back-pain-case-reports",
        "#evidence-map-sciatica-animal-laboratory",
        "#evidence-map-sciatica-protocols",
    ]
    assert {a["href"][1:] for a in links} <= cells
    assert all(a["tabindex"] == "-1" for a in links)
    assert [text(a.find("title")) for a in links] == [
        "Low back pain, Systematic reviews and guidelines: 2 studies, at least 1,842 people",
        "Sciatica, Systematic reviews and guidelines: 1 study, number of people not reported",
        "Low back pain, Randomised trials: 1 study, 120 people",
        "Low back pain, Case reports: 1 study, number of people not reported",
        "Sciatica, Animal and laboratory studies: 1 study, 13 animals",
        "Sciatica, Trial plans and ongoing trials: 1 study, 68 people",
    ]
    assert [" ".join(t.get_text() for t in a.find_all("text")) for a in links] == [
        "2 studies 1,842+ people",
        "1 study not reported",
        "1 study 120 people",
        "1 study not reported",
        "1 study 13 animals",
        "1 study 68 people",
    ]
    assert text(soup.select_one(".evidence-map-figure figcaption")) == (
        "Evidence map of 6 studies. The same information is in the table below."
    )


def test_condition_page_map_shows_only_that_condition(project: Callable[..., Path]) -> None:
    result = build(project(MAP_FILES), None, today=TODAY)
    soup = html(result, "conditions/sciatica/index.html")
    rows = map_table(soup)
    assert rows[0] == ["Kind of study", "Sciatica"]
    assert [row[1] for row in rows[1:]] == [
        "1 study, number of people not reported Review B",
        "No studies",
        "No studies",
        "No studies",
        "No studies",
        "No studies",
        "No studies",
        "1 study, 13 animals A trial of acupuncture for back pain",
        "1 study, 68 people A trial of acupuncture for back pain",
    ]
    drawing = soup.select_one(".evidence-map svg")
    assert drawing is not None and "evidence-map-single" in drawing["class"]


def test_map_drawing_is_well_formed_svg_with_every_text_escaped(
    project: Callable[..., Path],
) -> None:
    hostile = 'Back & <neck> "pain" </svg><script>alert(1)</script>'
    root = project(
        {CONDITION_PATH: CONDITION.replace("title: Low back pain", f"title: '{hostile}'")}
    )
    site, problems = load_site(root, today=TODAY)
    assert problems == [] and site is not None
    by_condition = {"low-back-pain": site.studies}
    markup = svg(build_map("m", site.conditions, by_condition))
    tree = ET.fromstring(markup)
    namespace = "{http://www.w3.org/2000/svg}"
    assert tree.tag == f"{namespace}svg"
    heading = tree.find(f"{namespace}text")
    assert heading is not None
    assert " ".join(heading.itertext()) == hostile  # wrapped onto lines at spaces
    assert "<script>" not in markup
    titles = ["".join(t.itertext()) for t in tree.iter(f"{namespace}title")]
    assert titles[1] == f"{hostile}, Randomised trials: 1 study, 120 people"


# --- the real site ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def real_site() -> BuildResult:
    result = build(REPO, None, today=TODAY)
    assert [str(p) for p in result.problems] == []
    return result


@pytest.fixture(scope="module")
def real_studies() -> list[Study]:
    site, _ = load_site(REPO, today=TODAY)
    assert site is not None
    return list(site.studies)


def test_every_real_condition_page_has_findings_and_an_evidence_map(
    real_site: BuildResult, real_studies: list[Study]
) -> None:
    conditions = sorted(p.stem for p in (REPO / "content" / "conditions").glob("*.md"))
    assert conditions == ["low-back-pain", "sciatica", "spinal-stenosis"]
    for slug in conditions:
        soup = html(real_site, f"conditions/{slug}/index.html")
        section = soup.select_one("section.summary-of-findings")
        assert section is not None, slug
        # Every real condition has rated rows, each saying who rated it (editorial policy).
        rows = section.select("table.findings tbody tr")
        assert rows and not section.select(".no-findings"), slug
        assert all(row.select_one(".rated-by") for row in rows), slug
        drawing = soup.select_one(".evidence-map svg")
        assert drawing is not None and drawing["aria-hidden"] == "true", slug
        listed = [
            a["href"] for a in soup.select("table.evidence-map-table td a[href^='/studies/']")
        ]
        expected = {f"/studies/{s.slug}/" for s in real_studies if slug in s.conditions}
        assert sorted(listed) == sorted(expected), slug  # each study once, in its level
        ids = {td["id"] for td in soup.select("table.evidence-map-table td")}
        assert {a["href"][1:] for a in drawing.find_all("a")} <= ids, slug


def test_real_low_back_pain_findings_are_derived_from_named_studies(
    real_site: BuildResult,
) -> None:
    soup = html(real_site, "conditions/low-back-pain/index.html")
    rows = findings_rows(soup)
    assert [row[0] for row in rows] == ["Pain", "Pain"]
    guideline = "Rating from: American College of Physicians guideline on treating low back pain ."
    assert [row[3] for row in rows] == [f"Moderate {guideline}", f"Low {guideline}"]
    for row in rows:
        # Neither the guideline nor its review file reports its number of trials or people.
        assert row[4].startswith(
            "Number of studies and people not reported in the sources we checked"
        )


def test_real_sciatica_and_stenosis_findings_are_the_editors_very_low_ratings(
    real_site: BuildResult,
) -> None:
    # No checked source rated this evidence; the editors did, and never above low.
    for slug, outcomes in [
        ("sciatica", ["Symptoms, as the review measured them",
                      "Pain in the first hours after acupuncture"]),
        ("spinal-stenosis", ["Leg pain", "Walking distance", "Low back pain"]),
    ]:  # fmt: skip
        soup = html(real_site, f"conditions/{slug}/index.html")
        rows = soup.select("table.findings tbody tr")
        assert [text(row.find("th")) for row in rows] == outcomes, slug
        for row in rows:
            cells = row.find_all("td")
            rating = "Very low Our editors\u2019 rating. It rests on one "
            assert text(cells[2]).startswith(rating), slug
            assert "very uncertain" in text(cells[1]), slug


def test_home_page_map_covers_every_real_study(
    real_site: BuildResult, real_studies: list[Study]
) -> None:
    soup = html(real_site, "index.html")
    table = soup.select_one("table.evidence-map-table")
    assert table is not None
    columns = [text(th) for th in table.select("thead th")]
    assert columns == ["Kind of study", "Low back pain", "Sciatica", "Spinal stenosis"]
    for index, slug in enumerate(["low-back-pain", "sciatica", "spinal-stenosis"]):
        listed = [
            a["href"]
            for row in table.select("tbody tr")
            for a in row.find_all("td")[index].select("a")
        ]
        expected = {f"/studies/{s.slug}/" for s in real_studies if slug in s.conditions}
        assert sorted(listed) == sorted(expected), slug


# The required wording, checked against every real study page.
NOT_IN_PEOPLE = "Please note: Not tested in people."
ONE_PERSON = "Please note: One person's story: cannot show that the treatment caused the change."
NO_RESULTS = "Please note: No results yet."


def test_every_real_study_shows_its_design_badge_explanation_and_caveats(
    real_site: BuildResult, real_studies: list[Study]
) -> None:
    assert len(real_studies) == len(list((REPO / "content" / "studies").glob("*.md")))
    for study in real_studies:
        soup = html(real_site, f"studies/{study.slug}/index.html")
        design = DESIGNS[study.design]
        badge = soup.select_one(".study-kind .badges .badge")
        assert badge is not None and text(badge) == design.label, study.slug
        assert badge["class"] == ["badge", f"badge-{study.design}"]
        assert text(soup.select_one(".study-kind .design-explanation")) == design.explanation
        shown = [text(p) for p in soup.select("article > p.caveat")]
        assert shown == [f"Please note: {c}" for c in caveats(*_kind(study))], study.slug
        if study.subjects == "animals" or study.design in ("animal-study", "laboratory-study"):
            assert NOT_IN_PEOPLE in shown, study.slug
        if study.design == "case-report":
            assert ONE_PERSON in shown, study.slug
        if study.status in ("protocol", "ongoing") or study.design == "trial-protocol":
            assert NO_RESULTS in shown, study.slug
        level = level_of(*_kind(study))
        facts = {text(dt): text(dt.find_next_sibling("dd")) for dt in soup.select("dl.facts dt")}
        assert facts["Where it sits among kinds of study"] == (
            f"{level.label}: level {level.rank} of {len(LEVELS)}, strongest first. "
            f"{level.explanation}"
        )


def _kind(study: Study) -> tuple[str, str, str]:
    return study.design, study.subjects, study.status


def test_caveats_and_levels_follow_what_a_study_can_show() -> None:
    assert caveats("animal-study", "animals", "published") == ("Not tested in people.",)
    assert caveats("narrative-review", "animals", "published") == ("Not tested in people.",)
    assert caveats("case-report", "people", "published") == (
        "One person's story: cannot show that the treatment caused the change.",
    )
    assert caveats("trial-protocol", "people", "protocol") == ("No results yet.",)
    assert caveats("rct", "people", "ongoing") == ("No results yet.",)
    assert caveats("rct", "people", "published") == ()
    assert level_of("narrative-review", "animals", "published").id == "animal-laboratory"
    assert level_of("rct", "people", "ongoing").id == "protocols"
    assert level_of("meta-analysis", "people", "published").id == "reviews"
    ranks = [LEVELS[DESIGNS[d].level].rank for d in ("meta-analysis", "rct", "case-series")]
    assert ranks == sorted(ranks)


def test_who_took_part_says_how_many_in_plain_words() -> None:
    assert who_took_part(1204, None, "people", "published") == "1,204 people"
    assert who_took_part(40, None, "animals", "published") == "40 animals"
    assert who_took_part(300, None, "people", "protocol") == "300 people (planned)"
    assert who_took_part(5210, 12, "people", "published") == "5,210 people; 12 studies"
    assert who_took_part(None, 1500, "people", "published") == "1,500 studies"
    assert who_took_part(None, None, "people", "published") == "Not reported"


# --- structured data (JSON-LD) ------------------------------------------------------------


def json_ld(soup: BeautifulSoup) -> dict[str, object]:
    blocks = soup.select('script[type="application/ld+json"]')
    assert len(blocks) == 1
    assert blocks[0].parent is not None and blocks[0].parent.name == "head"
    data = json.loads(blocks[0].string or "")
    assert isinstance(data, dict)
    return data


def test_condition_pages_describe_a_medical_web_page_about_the_condition(
    real_site: BuildResult,
) -> None:
    site, _ = load_site(REPO, today=TODAY)
    assert site is not None
    for condition in site.conditions:
        data = json_ld(html(real_site, f"conditions/{condition.slug}/index.html"))
        url = f"https://backpain-site.example.org/conditions/{condition.slug}/"
        assert data["@context"] == "https://schema.org"
        assert data["@type"] == "MedicalWebPage"
        assert data["url"] == url
        assert data["about"] == {
            "@type": "MedicalCondition",
            "name": condition.title,
            "url": url,
            "description": condition.summary,
        }
        assert data["lastReviewed"] == condition.review.last_reviewed.isoformat()
        assert data["reviewedBy"] == {
            "@type": "Organization",
            "name": "the backpain_site editorial team",
            "url": "https://backpain-site.example.org/",
        }
        assert data["audience"] == {"@type": "MedicalAudience", "audienceType": "Patient"}


def test_study_pages_describe_the_study_or_the_article(
    real_site: BuildResult, real_studies: list[Study]
) -> None:
    kinds = {}
    for study in real_studies:
        data = json_ld(html(real_site, f"studies/{study.slug}/index.html"))
        page, entity = data["@graph"]  # type: ignore[misc]
        assert page["@type"] == "MedicalWebPage"
        assert page["lastReviewed"] == study.review.last_reviewed.isoformat()
        assert page["mainEntity"] == {"@id": entity["@id"]}
        assert page["audience"] == {"@type": "MedicalAudience", "audienceType": "Patient"}
        kinds[study.slug] = entity["@type"]
        if entity["@type"] == "MedicalScholarlyArticle":
            assert DESIGNS[study.design].synthesis or study.design == "bibliometric-analysis"
        else:
            assert entity["status"] == (
                "https://schema.org/ResultsAvailable"
                if study.status == "published"
                else "https://schema.org/ResultsNotAvailable"
            )
    assert kinds["wang-2000-acupuncture-disc-surgery"] == "MedicalTrial"
    assert kinds["kim-2019-sciatica-trial-protocol"] == "MedicalTrial"
    assert kinds["mu-2020-cochrane-back-pain"] == "MedicalScholarlyArticle"
    assert kinds["tu-2008-elderly-case-report"] == "MedicalObservationalStudy"
    assert kinds["yen-2019-mouse-paw-pain"] == "MedicalStudy"
    cochrane = json_ld(html(real_site, "studies/mu-2020-cochrane-back-pain/index.html"))
    article = cochrane["@graph"][1]  # type: ignore[index]
    assert article["publicationType"] == "Systematic Review"
    trial = json_ld(html(real_site, "studies/kim-2019-sciatica-trial-protocol/index.html"))
    assert trial["@graph"][1]["identifier"] == {  # type: ignore[index]
        "@type": "PropertyValue",
        "propertyID": "registry",
        "value": "NCT03350789",
    }


def test_json_ld_cannot_be_ended_by_a_title(project: Callable[..., Path]) -> None:
    hostile = "Pain </script><script>alert(1)</script> & 'quotes' <!--"
    root = project(
        {
            CONDITION_PATH: CONDITION.replace("title: Low back pain", f'title: "{hostile}"'),
            "content/studies/smith-2020.md": STUDY.replace(
                "title: A trial of acupuncture for back pain", f'title: "{hostile}"'
            ),
        }
    )
    result = build(root, None, today=TODAY)
    assert result.problems == []
    for path in ("conditions/low-back-pain/index.html", "studies/smith-2020/index.html"):
        raw = result.outputs[PurePosixPath(path)].decode("utf-8")
        assert "<script>alert(1)" not in raw
        assert "<!--" not in raw.split("</head>")[0]
        soup = BeautifulSoup(raw, "html.parser")
        assert not soup.select('script:not([type="application/ld+json"]):not([src])')
        data = json_ld(soup)
        names = [data["name"]] if "name" in data else [n["name"] for n in data["@graph"]]  # type: ignore[attr-defined]
        assert hostile in names
