"""Reading grade: prose extraction, textstat scoring, the warning, and the real content."""

from __future__ import annotations

import pickle
from collections.abc import Callable
from pathlib import Path

import pytest
import textstat

from backpain_site import readability
from backpain_site.build import build
from backpain_site.cli import main
from backpain_site.load import load_site
from backpain_site.problems import Severity, warning
from backpain_site.readability import (
    Sentence,
    grade,
    markdown_sentences,
    page_texts,
    scored_text,
    sentences_from,
    sentences_of,
)

from conftest import REPO, SITE_YAML, STUDY, TODAY

MARKDOWN = """\
## A heading is not prose

First paragraph with a [link](/studies/x/) and a citation [@smith2020trial].
It goes on **over** two *lines*, see Fig. 2 e.g. here. Rates were 1.2% to 43%!

- a list item without a full stop
- another [@a; @b]

| a table | is not prose |
|---|---|

```
code. is. not. prose.
```

> A quoted sentence.

<span>Raw HTML</span> keeps its words. Doctors said: "Go slowly." Then stop:
1. numbered item
"""


def test_markdown_is_stripped_to_sentences_with_their_lines() -> None:
    found = [(s.line, s.text) for s in markdown_sentences(MARKDOWN, "p.md", 10)]
    assert found == [
        (12, "First paragraph with a link and a citation."),
        (13, "It goes on over two lines, see Fig. 2 e.g. here."),
        (13, "Rates were 1.2% to 43%!"),
        (15, "a list item without a full stop."),
        (16, "another."),
        (25, "A quoted sentence."),
        (27, "Raw HTML keeps its words."),
        (27, 'Doctors said: "Go slowly."'),
        (27, "Then stop."),
        (28, "numbered item."),
    ]


def test_word_counts_ignore_punctuation() -> None:
    assert Sentence("p", 1, "It's a well-known, 2-part test (see 1.2).").words == 7
    assert Sentence("p", 1, "In 8,270 people, 63% improved.").words == 5


def test_grade_is_textstat_flesch_kincaid_of_the_clean_prose() -> None:
    sentences = markdown_sentences(MARKDOWN, "p.md", 1)
    clean = (
        "First paragraph with a link and a citation. It goes on over two lines, see Fig 2 "
        "eg here. Rates were 12% to 43%! a list item without a full stop. another. A quoted "
        'sentence. Raw HTML keeps its words. Doctors said: "Go slowly." Then stop. '
        "numbered item."
    )
    assert grade(sentences) == textstat.flesch_kincaid_grade(clean)
    assert grade([]) == 0.0


TRICKY = [
    'Doctors said: "Go slowly." It works?! Maybe.',
    "See Fig. 2 e.g. here, in U.S. adults, i.e. people.",
    "Rates were 1.2% to 43%! Short one. A list item",
    "Ellipsis… then more words here. (Bracketed sentence here.) — a dash — and more.",
    "Twelve-year-old children's well-being: 8,270 people, 63% of them.",
]


def test_fast_grade_equals_textstat_on_tricky_text() -> None:
    sentences = [s for t in TRICKY for s in sentences_of(t, "p.md", 1)]
    assert len(sentences) == 11
    assert grade(sentences) == textstat.flesch_kincaid_grade(scored_text(sentences))
    for sentence in sentences:
        assert grade([sentence]) == textstat.flesch_kincaid_grade(scored_text([sentence]))
        assert sentence.words == textstat.lexicon_count(sentence.text), sentence


def test_an_adopted_hyphenator_counts_as_the_loaded_one(monkeypatch: pytest.MonkeyPatch) -> None:
    # A fast edit adopts the dictionary its snapshot kept, unpickled, instead of loading it.
    sentences = [s for t in TRICKY for s in sentences_of(t, "p.md", 1)]
    kept = pickle.dumps(readability.hyphenator())
    monkeypatch.setattr(readability, "_loaded_hyphenator", [])
    readability._token.cache_clear()
    readability.adopt_hyphenator(pickle.loads(kept))
    try:
        assert readability.hyphenator() is readability._loaded_hyphenator[0]
        assert grade(sentences) == textstat.flesch_kincaid_grade(scored_text(sentences))
        for sentence in sentences:
            assert grade([sentence]) == textstat.flesch_kincaid_grade(scored_text([sentence]))
    finally:
        readability._token.cache_clear()  # counted with the adopted copy: not for later tests


def test_fast_grade_equals_textstat_on_every_real_page() -> None:
    site, _ = load_site(REPO, today=TODAY)
    assert site is not None
    for url, _path, parts in page_texts(site):
        sentences = sentences_from(parts)
        assert grade(sentences) == textstat.flesch_kincaid_grade(scored_text(sentences)), url


def test_front_matter_text_without_end_punctuation_is_one_sentence() -> None:
    assert sentences_of("Not reported", "p.md", 4) == [Sentence("p.md", 4, "Not reported.")]
    assert sentences_of("", "p.md", 4) == []


HARD = (
    "Electroacupuncture administered perioperatively demonstrated statistically significant "
    "improvements regarding postoperative radicular symptomatology, notwithstanding considerable "
    "methodological heterogeneity, inadequate allocation concealment and substantial attrition."
)


def hard_study() -> str:
    return STUDY + f"\n{HARD}\n"


def test_a_page_above_the_target_is_a_warning_naming_it_and_its_longest_sentences(
    project: Callable[..., Path],
) -> None:
    root = project({"content/studies/smith-2020.md": hard_study()})
    result = build(root, None, today=TODAY)
    clean = (
        "Pain may have eased a little. One small trial. The trial compared acupuncture with "
        f"usual care. Later we cite the trial again. {HARD}"
    )
    expected = textstat.flesch_kincaid_grade(clean)
    assert expected > 8
    path = "content/studies/smith-2020.md"
    assert result.problems == [
        warning(
            path,
            23,
            f"reading grade {expected:.1f} of /studies/smith-2020/ is above the target of 8; "
            "shorten its longest sentences: "
            f'{path}:23 (21 words) "Electroacupuncture administered perioperatively '
            "demonstrated statistically significant improvements regarding postoperative "
            'radicular symptomatology, notwithstanding …"; '
            f'{path}:20 (7 words) "The trial compared acupuncture with usual care."; '
            f'{path}:12 (6 words) "Pain may have eased a little."',
        )
    ]
    assert result.ok
    grades = {g.url: g.grade for g in result.reading_grades}
    assert grades["/studies/smith-2020/"] == expected
    assert sorted(grades) == [
        "/",
        "/claims/#cures",
        "/conditions/low-back-pain/",
        "/pages/disclaimer/",
        "/studies/smith-2020/",
    ]


def test_the_target_comes_from_site_settings(project: Callable[..., Path]) -> None:
    root = project(
        {
            "content/studies/smith-2020.md": hard_study(),
            "content/site.yaml": SITE_YAML + "reading_grade_target: 30\n",
        }
    )
    assert build(root, None, today=TODAY).problems == []


def test_strict_makes_a_hard_page_an_error(project: Callable[..., Path], tmp_path: Path) -> None:
    root = project({"content/studies/smith-2020.md": hard_study()})
    result = build(root, tmp_path / "out", strict=True, today=TODAY)
    assert [p.severity for p in result.problems] == [Severity.ERROR]
    assert result.problems[0].message.startswith("reading grade ")
    assert not (tmp_path / "out").exists()


def test_cli_reports_every_grade(project: Callable[..., Path], capsys: object) -> None:
    root = project()
    assert main(["check", "--source", str(root), "--reading-grades"]) == 0
    out = capsys.readouterr().out.splitlines()  # type: ignore[attr-defined]
    site, _ = load_site(root, today=TODAY)
    assert site is not None
    listed = [line.split()[1] for line in out[1:-1]]
    assert sorted(listed) == [
        "/",
        "/claims/#cures",
        "/conditions/low-back-pain/",
        "/pages/disclaimer/",
        "/studies/smith-2020/",
    ]
    grades = [float(line.split()[0]) for line in out[1:-1]]
    assert grades == sorted(grades, reverse=True)
    assert out[-1].startswith("reading grade (Flesch-Kincaid) of 5 pages and claims: median ")
    assert out[-1].endswith("; target 8")


def test_every_real_patient_page_is_at_or_below_the_target() -> None:
    result = build(REPO, None, today=TODAY)
    site = result.site
    assert site is not None
    assert [str(p) for p in result.problems] == []
    target = site.config.reading_grade_target
    assert target == 8
    expected = 1 + len(site.conditions) + len(site.studies) + len(site.claims) + len(site.pages)
    assert len(result.reading_grades) == expected
    too_hard = [(g.url, g.grade) for g in result.reading_grades if g.grade > target]
    assert too_hard == []
    assert all(g.words > 50 for g in result.reading_grades)
