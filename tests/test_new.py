"""`backpain-site new`: files made from the schema; a new study builds at once as a draft."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from backpain_site.bibliography import load_bibliography
from backpain_site.build import build
from backpain_site.cli import _parser, main
from backpain_site.new import KINDS, new_file
from backpain_site.problems import errors_in
from backpain_site.scaffold import PLACEHOLDER, design_hint
from backpain_site.schema import CLAIM, CONDITION, PAGE, STUDY, Kind, Schema

from conftest import BIB, TODAY

NEW_BIB = (
    BIB
    + """
@article{lee2021acupuncture,
  author  = {Lee, Min and Park, Ji},
  title   = {Acupuncture for chronic low back pain: a randomized controlled trial},
  journal = {Spine Journal},
  year    = {2021}
}
"""
)
SLUG = "lee-2021-acupuncture-trial"
STUDY_FILE = f"content/studies/{SLUG}.md"
FILL = f"'{PLACEHOLDER}' left from `backpain-site new`: write the real text or value (and delete "
FILL += "the FILL IN note) before this is published"


@pytest.fixture
def root(project: Callable[..., Path]) -> Path:
    return project({"content/references.bib": NEW_BIB})


def new(capsys: pytest.CaptureFixture[str], root: Path, *args: str) -> tuple[int, str, str]:
    """`backpain-site new ARGS` on the fixed test day (as the build checks review dates)."""
    parsed = _parser().parse_args(["new", *args, "--source", str(root)])
    code = new_file(root, parsed.kind, parsed.slug, reference=parsed.reference, today=TODAY)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def front_matter(text: str) -> dict[str, object]:
    loaded = yaml.safe_load(text.split("---\n")[1])
    assert isinstance(loaded, dict)
    return loaded


def fill_lines(text: str, path: str) -> list[tuple[str, int, str]]:
    return [
        (path, number, FILL)
        for number, line in enumerate(text.split("\n"), start=1)
        if PLACEHOLDER in line
    ]


def problems_of(root: Path) -> list[tuple[str, int, str]]:
    result = build(root, None, today=TODAY)
    return [(p.path, p.line, p.message) for p in errors_in(result.problems)]


def test_new_study_from_a_reference_is_a_draft_that_builds(
    root: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, out, err = new(capsys, root, "study", SLUG, "--reference", "lee2021acupuncture")
    assert (code, err) == (0, "")
    text = (root / STUDY_FILE).read_text(encoding="utf-8")
    marks = len(fill_lines(text, STUDY_FILE))
    assert out.splitlines() == [
        f"wrote {STUDY_FILE}",
        f"it is a draft (draft: true), left out of the published site. Replace the {marks} "
        "'FILL IN' notes, then set draft: false.",
        "see it as you write: backpain-site serve --drafts",
    ]
    meta = front_matter(text)
    assert meta["title"] == "Acupuncture for chronic low back pain: a randomized controlled trial"
    assert meta["design"] == "rct"
    assert meta["subjects"] == "people"
    assert meta["conditions"] == ["low-back-pain"]
    assert meta["references"] == ["lee2021acupuncture"]
    assert meta["certainty"] == "not-graded"
    assert meta["draft"] is True
    assert "(2021)" in text.split("\n")[1]
    assert "[@lee2021acupuncture]" in text
    result = build(root, tmp_path / "out", today=TODAY)
    assert result.problems == [] and result.written
    assert not (tmp_path / "out/studies" / SLUG).exists()
    assert (tmp_path / "out/studies/smith-2020/index.html").is_file()
    assert main(["check", "--source", str(root)]) == 0
    assert capsys.readouterr().out.splitlines()[0] == (
        f"{STUDY_FILE}: a draft, left out of the published site until 'draft' is false"
    )


@pytest.mark.parametrize(
    ("schema", "kind"),
    [(STUDY, "study"), (CONDITION, "condition"), (PAGE, "page"), (CLAIM, "claim")],
)
def test_every_field_of_the_schema_is_in_the_file_with_its_help(
    root: Path, capsys: pytest.CaptureFixture[str], schema: Schema, kind: str
) -> None:
    options = ("--reference", "lee2021acupuncture") if kind in ("study", "claim") else ()
    assert new(capsys, root, kind, "a-new-one", *options)[0] == 0
    text = (root / f"content/{KINDS[kind]}/a-new-one.md").read_text(encoding="utf-8")
    meta = front_matter(text)
    for field in schema.fields:
        assert f"# {field.name}: {field.description} (" in text, field.name
        if field.required:
            assert field.name in meta, field.name
        else:
            assert field.name in meta or f"\n# {field.name}: " in text, field.name
        for choice in field.choices:
            assert re.search(rf"^#   {re.escape(choice)} = \S", text, re.MULTILINE), choice
    assert set(meta) <= {f.name for f in schema.fields}


def test_publishing_before_filling_in_reports_every_placeholder(
    root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    new(capsys, root, "study", SLUG, "--reference", "lee2021acupuncture")
    path = root / STUDY_FILE
    text = path.read_text(encoding="utf-8").replace("draft: true", "draft: false")
    path.write_text(text, encoding="utf-8")
    expected = fill_lines(text, STUDY_FILE)
    assert len(expected) >= 10
    assert problems_of(root) == expected


def test_a_filled_in_study_is_published(
    root: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    new(capsys, root, "study", SLUG, "--reference", "lee2021acupuncture")
    path = root / STUDY_FILE
    text = path.read_text(encoding="utf-8")
    text = re.sub(r"  # FILL IN: .*", "", text)
    text = text.replace('"FILL IN: ', '"Checked: ')
    text = re.sub(
        r"^FILL IN: .*$", "People had acupuncture. Pain may ease a little.", text, flags=re.M
    )
    text = text.replace("draft: true", "draft: false")
    path.write_text(text, encoding="utf-8")
    assert problems_of(root) == []
    result = build(root, tmp_path / "out", today=TODAY)
    assert result.written
    assert (tmp_path / "out/studies" / SLUG / "index.html").is_file()


def test_without_reference_the_slug_names_the_source(
    root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = new(capsys, root, "study", SLUG)
    assert code == 0
    assert out.splitlines()[0] == (
        "using reference 'lee2021acupuncture' (it matches the name); --reference picks another"
    )
    assert front_matter((root / STUDY_FILE).read_text(encoding="utf-8"))["references"] == [
        "lee2021acupuncture"
    ]


def test_without_reference_and_no_match_nothing_is_written(
    root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = new(capsys, root, "study", "nobody-2030-trial")
    assert (code, out) == (2, "")
    assert err == (
        "backpain-site: error: which source does this study summarise? no entry matches "
        "'nobody-2030-trial'; add the paper's BibTeX entry to content/references.bib if needed "
        "and give its key: backpain-site new study nobody-2030-trial --reference KEY; "
        "nothing was written\n"
    )
    assert not (root / "content/studies/nobody-2030-trial.md").exists()


def test_an_ambiguous_slug_names_the_candidates(
    project: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    second = "\n@misc{lee2021survey,\n  title = {A survey},\n  year = {2021}\n}\n"
    root = project({"content/references.bib": NEW_BIB + second})
    code, _, err = new(capsys, root, "study", "lee-2021-something")
    assert code == 2
    assert "'lee-2021-something' could be lee2021acupuncture, lee2021survey;" in err


def test_never_overwrites(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    existing = root / "content/studies/smith-2020.md"
    before = existing.read_bytes()
    code, out, err = new(capsys, root, "study", "smith-2020", "--reference", "smith2020trial")
    assert (code, out) == (2, "")
    assert err == (
        "backpain-site: error: content/studies/smith-2020.md already exists; choose another "
        "name or edit that file; nothing was written\n"
    )
    assert existing.read_bytes() == before


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ("study", SLUG, "--reference", "lee2021acupunctur"),
            "no entry 'lee2021acupunctur' in content/references.bib (did you mean "
            "'lee2021acupuncture'?): add the paper's BibTeX entry first",
        ),
        (
            ("study", "Lee 2021", "--reference", "lee2021acupuncture"),
            "'Lee 2021' cannot be a file name: use lower-case letters, digits and single "
            "hyphens, e.g. 'smith-2020-acupuncture-trial'",
        ),
        (
            ("page", "about-us", "--reference", "lee2021acupuncture"),
            "--reference is for a study or a claim, not a page",
        ),
        (
            ("page", "con"),
            "'con' cannot be a file name: it uses 'CON', a device name reserved on Windows",
        ),
    ],
)
def test_usage_errors(
    root: Path, capsys: pytest.CaptureFixture[str], args: tuple[str, ...], message: str
) -> None:
    before = sorted(root.rglob("*"))
    assert new(capsys, root, *args) == (
        2,
        "",
        f"backpain-site: error: {message}; nothing was written\n",
    )
    assert sorted(root.rglob("*")) == before


@pytest.mark.parametrize(
    ("kind", "relative"),
    [
        ("condition", "content/conditions/sciatica.md"),
        ("page", "content/pages/sciatica.md"),
        ("claim", "content/claims/sciatica.md"),
    ],
)
def test_conditions_pages_and_claims_are_refused_until_filled_in(
    root: Path, capsys: pytest.CaptureFixture[str], kind: str, relative: str
) -> None:
    code, out, _ = new(capsys, root, kind, "sciatica")
    text = (root / relative).read_text(encoding="utf-8")
    marks = fill_lines(text, relative)
    assert code == 0
    assert out.splitlines() == [
        f"wrote {relative}",
        f"replace the {len(marks)} 'FILL IN' notes: until then the build reports each one.",
    ]
    assert problems_of(root) == marks


def test_orders_follow_the_existing_ones_and_reviews_the_site_interval(
    root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert new_file(root, "condition", "sciatica", today=dt.date(2024, 2, 29)) == 0
    new(capsys, root, "claim", "a-claim", "--reference", "smith2020trial")
    condition = front_matter((root / "content/conditions/sciatica.md").read_text(encoding="utf-8"))
    claim = front_matter((root / "content/claims/a-claim.md").read_text(encoding="utf-8"))
    assert (condition["order"], claim["order"], claim["references"]) == (2, 2, ["smith2020trial"])
    # 36 months (review_interval_months) on from a leap day ends on the last day of February.
    assert (condition["last_reviewed"], condition["next_review"]) == (
        dt.date(2024, 2, 29),
        dt.date(2027, 2, 28),
    )


def test_the_command_line_runs_new_and_the_site_then_builds(
    root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["new", "study", SLUG, "--source", str(root)]) == 0
    assert main(["build", "--source", str(root)]) == 0
    assert (root / "_site/index.html").is_file() and not (root / "_site/studies" / SLUG).exists()
    assert main(["new", "page", "about-us", "--source", str(root)]) == 0
    assert "wrote content/pages/about-us.md\n" in capsys.readouterr().out
    assert main(["new", "poem", "x", "--source", str(root)]) == 2


@pytest.mark.parametrize(
    ("title", "design"),
    [
        ("Acupuncture for Low Back Pain: An Overview of Systematic Reviews", "overview-of-reviews"),
        (
            "The Efficacy of Acupuncture for Sciatica: A Systematic Review and Meta-Analysis",
            "meta-analysis",
        ),
        (
            "Acupuncture for chronic nonspecific low back pain: a systematic review",
            "systematic-review",
        ),
        ("Noninvasive Treatments for Low Back Pain: A Clinical Practice Guideline", "guideline"),
        (
            "Effect of acupuncture in chronic sciatica: protocol for a randomized controlled trial",
            "trial-protocol",
        ),
        ("Acupuncture before and after disc surgery\u2013a randomized control study", "rct"),
        ("Acupuncture in a non-randomized controlled study", "non-randomised-trial"),
        (
            "Pudendal nerve electroacupuncture for spinal canal stenosis \u2013 a case series",
            "case-series",
        ),
        ("Spontaneous regression of a disc herniation: a case report", "case-report"),
        ("Electroacupuncture reduces inflammatory pain in mice", "animal-study"),
        ("Electrical stimulation of the pudendal nerve in rats", "animal-study"),
        (
            "Acupuncture use in the United States: findings from the National Health "
            "Interview Survey",
            "cross-sectional-survey",
        ),
        (
            "Sciatica: review of epidemiological studies and prevalence estimates",
            "prevalence-review",
        ),
        (
            "Acupuncture for low back pain in recent 20 years: a bibliometric analysis",
            "bibliometric-analysis",
        ),
        ("Acupuncture reverses an abnormal brain default mode network on fMRI", "imaging-study"),
        ("Therapeutic Approach of Acupuncture for Sciatica: A Brief Review", "narrative-review"),
        ("Spontaneously disappearing lumbar disc protrusion", None),
    ],
)
def test_design_hint_from_the_title(title: str, design: str | None) -> None:
    entry = f"@article{{k2020,\n  title = {{{title}}},\n  year = {{2020}}\n}}\n"
    references, problems = load_bibliography(entry, "references.bib")
    assert problems == []
    assert design_hint(references[0]) == design


def test_hint_values_are_allowed_designs() -> None:
    from backpain_site.scaffold import _DESIGN_HINTS

    design = STUDY.field("design")
    assert design is not None and design.kind is Kind.CHOICE
    assert {name for name, _ in _DESIGN_HINTS} <= set(design.choices)
