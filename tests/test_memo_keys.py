"""The cheaper memo keys of downloads and reading grades: a changed input is never answered
with an old result, and an equal one is answered without computing again."""

from __future__ import annotations

import dataclasses

import pytest

from backpain_site.bibliography import Reference, load_bibliography
from backpain_site.cache import Memo, remembering
from backpain_site.exports import FORMATS, _reference_digest, export
from backpain_site.readability import Sentence, page_grade, score_key, score_page

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
        lambda r: dataclasses.replace(r, raw=r.raw + " "),
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


def test_a_grade_key_changes_with_the_page_and_every_sentence_field() -> None:
    # score_key keys a sentence by these fields: a new one must be added to the key.
    assert [f.name for f in dataclasses.fields(Sentence)] == ["path", "line", "text"]
    sentences = [Sentence("a.md", 3, "Needles help some people."), Sentence("a.md", 5, "Ask.")]
    key = score_key("/a/", "a.md", sentences)
    assert score_key("/a/", "a.md", list(sentences)) == key
    for other in (
        score_key("/b/", "a.md", sentences),
        score_key("/a/", "b.md", sentences),
        score_key("/a/", "a.md", sentences[::-1]),
        score_key("/a/", "a.md", [dataclasses.replace(sentences[0], path="b.md"), sentences[1]]),
        score_key("/a/", "a.md", [dataclasses.replace(sentences[0], line=4), sentences[1]]),
        score_key("/a/", "a.md", [dataclasses.replace(sentences[0], text="No."), sentences[1]]),
    ):
        assert other != key


def test_a_remembered_grade_is_the_computed_one() -> None:
    sentences = [Sentence("a.md", 3, "Needles help some people with long-lasting back pain.")]
    memo = Memo()
    with remembering(memo):
        first = page_grade("/a/", "a.md", sentences)
        again = page_grade("/a/", "a.md", list(sentences))
        other = page_grade("/a/", "a.md", [Sentence("a.md", 3, "Rest.")])
    assert first == again == score_page("/a/", "a.md", sentences)
    assert other == score_page("/a/", "a.md", [Sentence("a.md", 3, "Rest.")])
    assert (memo.misses, memo.hits) == (2, 1)
