"""Stage: validation of front matter against the schema. Exact messages with lines."""

import datetime as dt

from backpain_site.frontmatter import split_document
from backpain_site.problems import Problem, error
from backpain_site.schema import PAGE, STUDY, validate


def check(text: str, schema=PAGE) -> tuple[dict, list[Problem]]:  # type: ignore[no-untyped-def]
    doc, problems = split_document(text.encode(), "p.md")
    assert doc is not None, problems
    found: list[Problem] = []
    validated = validate(doc.meta, schema, "p.md", found)
    return validated.values, found


PAGE_OK = "---\ntitle: T\nsummary: S\nlast_reviewed: 2026-01-01\nnext_review: 2027-01-01\n---\n"


def test_valid_page() -> None:
    values, problems = check(PAGE_OK)
    assert problems == []
    assert values["title"] == "T" and values["last_reviewed"] == dt.date(2026, 1, 1)
    assert values["nav_order"] is None


def test_unknown_field_with_suggestion() -> None:
    _, problems = check(PAGE_OK.replace("summary: S", "sumary: S"))
    assert problems == [
        error("p.md", 3, "unknown field 'sumary' in a page (did you mean 'summary'?)"),
        error("p.md", 2, "missing required field 'summary' in a page"),
    ]


def test_wrong_types() -> None:
    text = PAGE_OK.replace("title: T", "title: no").replace("2027-01-01", "soon")
    _, problems = check(text + "")
    assert problems == [
        error(
            "p.md",
            2,
            "'title' must be text, but YAML reads 'no' as a yes/no value; put it in quotes",
        ),
        error("p.md", 5, "'next_review' must be a date written YYYY-MM-DD, not 'soon'"),
    ]


def test_time_and_number_where_text_is_expected() -> None:
    _, problems = check(
        PAGE_OK.replace("title: T", "title: 10:00").replace("summary: S", "summary: 12")
    )
    assert [p.message for p in problems] == [
        "'title' must be text, but YAML reads '10:00' as a number; put it in quotes",
        "'summary' must be text, but YAML reads '12' as a number; put it in quotes",
    ]


def test_choice_outside_enumeration_with_suggestion() -> None:
    study = (
        "---\ntitle: T\ndesign: rtc\nsubjects: people\npopulation: P\nconditions: [x]\n"
        "intervention: I\ncomparison: C\noutcomes: [O]\nfollow_up: F\nkey_finding: K\n"
        "certainty: lowish\nstatus: published\nreferences: [k]\nlimits: [L]\n"
        "last_reviewed: 2026-01-01\nnext_review: 2027-01-01\n---\n"
    )
    _, problems = check(study, STUDY)
    assert [(p.line, p.message.split(",")[0]) for p in problems] == [
        (3, "'design' is 'rtc'"),
        (12, "'certainty' is 'lowish'"),
    ]
    assert problems[0].message.endswith("(did you mean 'rct'?)")
    assert problems[1].message.endswith("(did you mean 'low'?)")


def test_list_expected_and_mapping_expected() -> None:
    study = (
        "---\ntitle: T\ndesign: rct\nsubjects: people\npopulation: P\nconditions: x\n"
        "intervention: I\ncomparison: C\noutcomes: [O]\nfollow_up: {a: b}\nkey_finding: K\n"
        "certainty: low\nstatus: published\nreferences: [k]\nlimits: []\n"
        "last_reviewed: 2026-01-01\nnext_review: 2027-01-01\n---\n"
    )
    _, problems = check(study, STUDY)
    assert problems == [
        error("p.md", 6, "'conditions' must be a list (lines starting with '- '), not text"),
        error("p.md", 10, "'follow_up' must be text, not a set of 'key: value' lines"),
        error("p.md", 15, "'limits' needs at least 1 item"),
    ]


def test_files_share_the_schema_s_names_and_choices() -> None:
    """Ten thousand studies name the same fields and choose from the same few values: each
    file's front matter is keyed by the schema's own strings, and a choice is the schema's
    string, not a copy per file (about 1 KB a study, held by a whole build from start to end)."""
    documents = [split_document(PAGE_OK.encode(), f"p{n}.md")[0] for n in range(2)]
    read = [validate(d.meta, PAGE, d.path, []) for d in documents if d is not None]
    for one, other in zip(read[0].values, read[1].values, strict=True):
        assert one is other
    for one, other in zip(read[0].lines, read[1].lines, strict=True):
        assert one is other
    study = STUDY.field("design")
    assert study is not None and study.choices
    chosen = "".join(study.choices[0])  # the same text, another string
    doc, _ = split_document(
        PAGE_OK.replace("title: T", f"title: T\ndesign: {chosen}").encode(), "s.md"
    )
    assert doc is not None
    values = validate(doc.meta, STUDY, "s.md", []).values
    assert values["design"] is study.choices[0]
