"""The cheaper memo keys of downloads and reading grades: a changed input is never answered
with an old result, and an equal one is answered without computing again."""

from __future__ import annotations

import dataclasses

import pytest

from backpain_site.bibliography import Reference, load_bibliography
from backpain_site.cache import Memo, remembering
from backpain_site.exports import FORMATS, _reference_digest, export
from backpain_site.readability import (
    MARKDOWN,
    PLAIN,
    Sentence,
    grade_key,
    page_grade,
    score_page,
    sentences_from,
)

BIB = """@article{smith2020,
  author  = {Smith, Anna and M{\\"u}ller, Bernd},
  title   = {Acupuncture for {MRI}-confirmed back pain},
  journal = {Spine},
  year    = {2020},
  volume  = {12},
  pages   = {1--9},
}

@book{lee2019,
  author    = {Lee, Chen},
  title     = {Back pain},
  publisher = {Press},
  year      = {2019},
}
"""


@pytest.fixture(scope="module")
def references() -> list[Reference]:
    found, problems = load_bibliography(BIB, "r.bib")
    assert problems == []
    return found


def _with_journal(reference: Reference, journal: str) -> Reference:
    # Downloads are made from the fields as written, the formatter from the decoded ones.
    return dataclasses.replace(
        reference,
        fields=tuple((k, journal if k == "journal" else v) for k, v in reference.fields),
        source_fields=tuple(
            (k, journal if k == "journal" else v) for k, v in reference.source_fields
        ),
    )


@pytest.mark.parametrize(
    "change",
    [
        lambda r: _with_journal(r, "Pain"),
        lambda r: dataclasses.replace(r, key="other2020"),
        lambda r: dataclasses.replace(r, entry_type="misc"),
        lambda r: dataclasses.replace(r, authors=r.authors[:1]),
        lambda r: dataclasses.replace(r, line=r.line + 1),
        lambda r: dataclasses.replace(r, source_fields=r.source_fields[1:]),
        lambda r: dataclasses.replace(r, cased=()),
    ],
)
def test_a_reference_digest_changes_with_any_field(
    references: list[Reference], change: object
) -> None:
    reference = references[0]
    changed = change(reference)  # type: ignore[operator]
    assert changed != reference
    assert _reference_digest(changed) != _reference_digest(reference)
    assert _reference_digest(dataclasses.replace(reference)) == _reference_digest(reference)


def test_remembered_downloads_follow_their_references(references: list[Reference]) -> None:
    memo = Memo()
    retitled = [_with_journal(references[0], "Pain Medicine"), references[1]]
    with remembering(memo):
        first = {ext: export(references, ext) for ext, _ in FORMATS}
        again = {ext: export(list(references), ext) for ext, _ in FORMATS}
        changed = {ext: export(retitled, ext) for ext, _ in FORMATS}
        reordered = {ext: export(references[::-1], ext) for ext, _ in FORMATS}
    assert again == first
    assert memo.misses == 3 * len(FORMATS) and memo.hits == len(FORMATS)
    for ext, _ in FORMATS:
        assert first[ext] == export(references, ext)  # no memo: computed afresh
        assert changed[ext] == export(retitled, ext)
        assert changed[ext] != first[ext]
        assert reordered[ext] == export(references[::-1], ext)
    assert all(b"Pain Medicine" in changed[ext] for ext, _ in FORMATS)


def test_a_grade_key_changes_with_the_page_and_every_part_of_its_text() -> None:
    parts = [
        (PLAIN, "Needles help some people.", "a.md", 3),
        (MARKDOWN, "Ask.\n\n- a list item\n", "a.md", 5),
    ]
    key = grade_key("/a/", "a.md", parts)
    assert grade_key("/a/", "a.md", tuple(parts)) == key
    others = [grade_key("/b/", "a.md", parts), grade_key("/a/", "b.md", parts)]
    others.append(grade_key("/a/", "a.md", parts[::-1]))
    for index in range(4):  # kind, text, file, line: each of them
        changed = list(parts[0])
        changed[index] = {0: MARKDOWN, 1: "No.", 2: "b.md", 3: 4}[index]
        others.append(grade_key("/a/", "a.md", [tuple(changed), parts[1]]))
    assert len({key, *others}) == len(others) + 1


def test_a_remembered_grade_is_the_computed_one() -> None:
    parts = [(PLAIN, "Needles help some people with long-lasting back pain.", "a.md", 3)]
    memo = Memo()
    with remembering(memo):
        first = page_grade("/a/", "a.md", parts)
        again = page_grade("/a/", "a.md", tuple(parts))
        other = page_grade("/a/", "a.md", [(PLAIN, "Rest.", "a.md", 3)])
    assert first == again == score_page("/a/", "a.md", sentences_from(parts))
    assert first.longest == (Sentence("a.md", 3, parts[0][1]),)
    assert other == score_page("/a/", "a.md", [Sentence("a.md", 3, "Rest.")])
    assert (memo.misses, memo.hits) == (2, 1)
