"""The fast paths of a cold build give exactly what the code they stand in for gives.

Each is compared with what it replaces, on the real site's content, every hostile case and
seeded generated text: the open-mark count of markdown_checks, LaTeX decoding without pylatexenc
(bibliography), remembered XPath look-ups in the citation style (csl_fixes) and the quick inline
step of Python-Markdown (markdown_body). Speed itself is shown by benchmarks/, never timed here.
"""

from __future__ import annotations

import random
import re
import sys
import xml.etree.ElementTree as etree
from pathlib import Path

import pytest
from citeproc import model

from backpain_site import csl_fixes
from backpain_site.bibliography import (
    MAX_ENTRY_CHARS,
    MAX_FIELD_CHARS,
    _latex,
    _plain_latex,
    load_bibliography,
)
from backpain_site.citations import CitationMarks, find_citations, number_in_order
from backpain_site.csl import format_references
from backpain_site.frontmatter import split_document
from backpain_site.markdown_body import _NEEDS, QUICK_INLINE, MarkdownConverter
from backpain_site.markdown_checks import MAX_OPEN, _open_marks, _too_many
from backpain_site.urls import Urls

from conftest import REPO
from hostile_cases import CASES, make_project

sys.path.insert(0, str(REPO / "benchmarks"))
from generate import generate


def _pylatexenc(text: str) -> str:
    decoder, context = _latex()
    decoded: str = decoder.latex_to_text(text, latex_context=context)
    return decoded


def test_plain_latex_is_what_pylatexenc_makes_of_it() -> None:
    rng = random.Random(11)
    alphabets = [
        "ab {}-",
        "a{}--- '",
        "a {} \u00a0\u2003\r\n-",
        "{{{}}}-a",
        "x-{}'\"!?<>.,;:()*@=+|/1",
    ]
    compared = 0
    for alphabet in alphabets:
        for _ in range(1500):
            text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 16)))
            plain = _plain_latex(text)
            if plain is not None:
                compared += 1
                assert plain == _pylatexenc(text), repr(text)
    assert compared > 2000  # a third of the strings are plain: the comparison is not empty
    assert _plain_latex("A trial in {MRI}-checked pain, pages 12--20") == (
        "A trial in MRI-checked pain, pages 12\u201320"
    )
    assert _plain_latex("a---b----c{-}-") == "a\u2014b\u2014-c--"


@pytest.mark.parametrize(
    "text",
    [
        'M{\\"u}ller',  # a command: pylatexenc's
        "a ~ b",  # a non-breaking space
        "50% of $x$",
        "``quoted''",
        "{unclosed",
        "}{",
        "{" * 21 + "deep" + "}" * 21,  # deeper than bibliography reads without stripping
    ],
)
def test_anything_but_braces_and_dashes_is_left_to_pylatexenc(text: str) -> None:
    assert _plain_latex(text) is None


def _open_marks_one_character_at_a_time(first: int, lines: list[str]) -> list[tuple[int, str]]:
    """The count as markdown_checks first wrote it: every character, every mark checked."""
    open_count = {"[": 0, "(": 0, "<": 0}
    closer = {"]": "[", ")": "("}
    for offset, line in enumerate(lines):
        escaped = False
        for char in line:
            if escaped:
                escaped = False
                continue
            if char == "\\":
                escaped = True
            elif char in "[(":
                open_count[char] += 1
            elif char in closer:
                open_count[closer[char]] = max(0, open_count[closer[char]] - 1)
            elif char == "<":
                open_count["<"] += 1
            elif char == ">":
                open_count["<"] = 0
            for mark, count in open_count.items():
                if count > MAX_OPEN:
                    return [(first + offset, _too_many(mark))]
    return []


def test_open_marks_counts_as_a_character_by_character_scan() -> None:
    rng = random.Random(5)
    refused = 0
    for _ in range(20_000):
        lines = [
            "".join(rng.choice("[]()<>\\ab \r") for _ in range(rng.randint(0, 40)))
            for _ in range(rng.randint(1, 4))
        ]
        if rng.random() < 0.4:
            lines[0] = rng.choice("[(<") * rng.randint(12, 20) + lines[0]
        expected = _open_marks_one_character_at_a_time(3, lines)
        assert _open_marks(3, lines) == expected, lines
        refused += bool(expected)
    assert refused > 1000  # both outcomes are compared


def _bodies(tmp_path: Path) -> list[str]:
    """Every Markdown body of the real site, of the hostile cases and of a generated site."""
    projects = [REPO, generate(tmp_path / "generated", 40, copy_theme=False)]
    projects += [
        make_project(case, tmp_path / case.name)
        for case in CASES
        if case.name.startswith(("md-", "ok-", "enc-"))
    ]
    bodies = []
    for project in projects:
        for path in sorted((project / "content").glob("*/*.md")):
            if path.is_file() and not path.is_symlink():
                document, _ = split_document(path.read_bytes(), str(path))
                if document is not None:
                    bodies.append(document.body)
    return bodies


def test_quick_inline_converts_every_body_as_python_markdown(tmp_path: Path) -> None:
    assert QUICK_INLINE  # the installed Python-Markdown has the step it replaces
    urls = Urls("https://example.org/sub/")
    bodies = _bodies(tmp_path)
    assert len(bodies) > 100
    for marks in (CitationMarks(), CitationMarks(numeric=False, superscript=False)):
        quick = MarkdownConverter(urls, marks, {}, quick_inline=True)
        plain = MarkdownConverter(urls, marks, {}, quick_inline=False)
        assert type(quick._md.treeprocessors["inline"]).__name__ == "_QuickInline"
        assert type(plain._md.treeprocessors["inline"]).__name__ == "InlineProcessor"
        for body in bodies:
            numbers = number_in_order(use.key for use in find_citations(body, 0))
            titles = {key: f"Title of {key}" for key in numbers}
            assert quick.convert(body, numbers, titles) == plain.convert(body, numbers, titles)


def test_every_inline_pattern_is_known_by_the_characters_it_needs() -> None:
    converter = MarkdownConverter(Urls("https://example.org/"))
    inline = converter._md.treeprocessors["inline"]
    inline.run(etree.Element("div"))  # reads the patterns, as each conversion does
    assert [needs for _, _, needs in inline._patterns] == [
        *("`", "\\", "[", "[", "[", "[", "[", "[", "["),
        *("<", "<", "\n", "<", "&", "*_"),
    ]


@pytest.mark.parametrize("expression", sorted(_NEEDS))
def test_an_inline_pattern_never_matches_text_without_what_it_needs(expression: str) -> None:
    compiled = re.compile(expression, re.DOTALL | re.UNICODE)  # as Python-Markdown compiles
    rng = random.Random(expression)
    alphabet = [c for c in "`\\[]()<>&*_!@#;:/.-=\"' \n\tab1" if c not in _NEEDS[expression]]
    for _ in range(3000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 30)))
        assert compiled.search(text) is None, repr(text)
    assert compiled.search("x " + _example(_NEEDS[expression]) + " y") is not None


def _example(needs: str) -> str:
    """Text that each pattern matches, so that the test above also sees a match."""
    return {
        "`": "`code`",
        "\\": "\\*",
        "[": "[@key] [a](/b/) ![c](/d.png)",
        "<": "<https://example.org/> <a@b.org> <b>",
        "\n": "line  \nbreak",
        "&": "&amp;",
        "*_": "*em*",
    }[needs]


@pytest.mark.parametrize("style", ["american-medical-association", "apa", "ieee"])
def test_remembered_style_look_ups_format_as_citeproc(
    style: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = (REPO / "content" / "references.bib").read_text(encoding="utf-8")
    text += (REPO / "tests" / "data" / "csl_entries.bib").read_text(encoding="utf-8")
    references, _ = load_bibliography(text, "references.bib")
    remembered = format_references(references, style)
    assert model.CitationStylesElement.xpath_search is csl_fixes._xpath_search
    monkeypatch.setattr(
        model.CitationStylesElement, "xpath_search", csl_fixes._original_xpath_search
    )
    assert format_references(references, style) == remembered


def test_entry_and_field_caps_leave_real_entries_alone() -> None:
    abstract = "Pain was scored every week. " * 500  # 14,000 characters: a very long abstract
    entry = f"@article{{long2020,\n  title = {{A long one}},\n  abstract = {{{abstract}}}\n}}\n"
    assert len(abstract) < MAX_FIELD_CHARS and len(entry) < MAX_ENTRY_CHARS
    references, problems = load_bibliography(entry, "references.bib")
    assert problems == []
    assert references[0].get("abstract") == abstract.strip()
