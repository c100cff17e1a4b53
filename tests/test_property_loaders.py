"""Property tests of the loaders: whatever bytes an editor saves, reading them gives a value or a
list of problems, each placed in the file (a line that exists), never an exception.

Inputs are small and built from the pieces that break parsers: YAML's retyped words, tags,
anchors and flow brackets; BibTeX's braces, quotes, commas and LaTeX; Markdown's brackets,
emphasis, raw HTML, entities and `javascript:` links; control and invisible characters; BOMs
and every kind of line ending. 2,000 examples per loader.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from backpain_site.bibliography import ENTRY_TYPES, FIELDS, load_bibliography
from backpain_site.frontmatter import split_document
from backpain_site.markdown_body import MarkdownConverter
from backpain_site.markdown_checks import browser_url
from backpain_site.problems import Problem
from backpain_site.schema import CLAIM, CONDITION, PAGE, SITE, STUDY, validate
from backpain_site.urls import Urls

LOADER = settings(
    max_examples=2000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
SCHEMAS = (STUDY, CONDITION, CLAIM, PAGE, SITE)

ODD_CHARACTERS = [
    "\t",
    "\x00",
    "\x07",
    "\x1b",
    "\x85",
    "\u2028",
    "\u202e",
    "\ufeff",
    "é",
    "e\u0301",
]
ODD_CHARACTERS += ["\\", '"', "'", " ", "\n", "\r\n", "\r"]


def text_from(tokens: list[str], max_size: int) -> st.SearchStrategy[str]:
    pieces = st.sampled_from(tokens + ODD_CHARACTERS) | st.text(max_size=4)
    return st.lists(pieces, max_size=max_size).map("".join)


def line_count(data: bytes) -> int:
    return len(re.split(rb"\r\n|\r|\n", data))


def assert_located(problems: list[Problem], path: str, lines: int) -> None:
    for problem in problems:
        assert problem.path == path, problem
        assert 0 <= problem.line <= lines, (problem, lines)
        assert problem.message and str(problem).isprintable(), problem


# -- front matter -----------------------------------------------------------------------------

YAML_VALUES = ["no", "yes", "On", "true", "~", "null", "10:00", "1:2:3", "2020-01-01", "2020-02-30"]
YAML_VALUES += ["1e3", "0x1F", "-1", "1_000", ".inf", "'quoted'", '"\\u202e"', '"\\x00"', '"\\t"']
YAML_VALUES += ["&a x", "*a", "!!python/object/apply:os.system ['x']", "!!binary aGk=", "!x y"]
YAML_VALUES += ["!!str 5", "<<", "[", "]", "{", "}", ",", ": ", "- ", "? ", "|", ">", "#", "%"]
YAML_VALUES += ["[a, b]", "{a: b}", "[[[[[[x]]]]]]", "<script>", "text", "low", "rct", "people"]
FIELD_NAMES = sorted({f.name for schema in SCHEMAS for f in schema.fields} | {"x", "Title"})


CLEAN_VALUES = ["Pain may ease.", "low", "rct", "people", "published", "2026-11-01", "12"]
CLEAN_VALUES += ["[low-back-pain]", "[Pain, Function]", "'quoted text'", "T-1"]


@st.composite
def front_matter_files(draw: st.DrawFn) -> bytes:
    """Mostly well-formed 'key: value' lines (so validation is reached), some hostile."""
    lines = []
    keys = draw(st.lists(st.sampled_from(FIELD_NAMES), max_size=12, unique=True))
    for key in keys + draw(st.lists(st.sampled_from(FIELD_NAMES), max_size=1)):
        indent = draw(st.sampled_from([""] * 9 + ["  ", "  - ", "- "]))
        hostile = draw(st.integers(0, 9))
        if hostile == 0:
            value = draw(st.sampled_from(YAML_VALUES))
        elif hostile == 1:
            value = draw(text_from(YAML_VALUES, 3))
        else:
            value = draw(st.sampled_from(CLEAN_VALUES))
        lines.append(f"{indent}{key}: {value}")
    opening = draw(st.sampled_from(["---\n"] * 6 + ["--- \n", "", "...\n"]))
    closing = draw(st.sampled_from(["---\n"] * 6 + ["...\n", ""]))
    body = draw(text_from(["[@a]", "text", "# h"], 6))
    text = opening + "\n".join(lines) + "\n" + closing + body
    if draw(st.integers(0, 3)) == 0:
        text = text.replace("\n", draw(st.sampled_from(["\r\n", "\r"])))
    encoding = draw(st.sampled_from(["utf-8"] * 6 + ["utf-8-sig", "utf-16", "cp1252"]))
    data = text.encode(encoding, errors="replace")
    if draw(st.integers(0, 5)) == 0:
        data += draw(st.binary(max_size=6))
    return data


@LOADER
@given(front_matter_files())
def test_front_matter_gives_a_document_or_located_problems(data: bytes) -> None:
    lines = line_count(data)
    document, problems = split_document(data, "x.md")
    assert (document is None) == bool(problems)
    assert_located(problems, "x.md", lines)
    if document is None:
        return
    event("front matter parsed")
    assert 1 <= document.body_line <= lines + 1
    for schema in SCHEMAS:
        found: list[Problem] = []
        validated = validate(document.meta, schema, "x.md", found)
        assert_located(found, "x.md", lines)
        assert set(validated.values) >= {f.name for f in schema.fields}


# -- Markdown bodies --------------------------------------------------------------------------

MARKDOWN = ["[", "]", "(", ")", "*", "**", "_", "`", "<", ">", "!", "#", "## ", "-", "\n\n"]
MARKDOWN += ["    ", "> ", "1. ", "- ", "|", "|-|", "&", "&#106;", "&lt;", "&#x09;", "&amp;"]
MARKDOWN += ["javascript:", "JaVaScRiPt:", "data:text/html,", "vbscript:", "http://x.org/"]
MARKDOWN += ["/studies/x/", "//evil.example/", "[@a]", "[@a; @b]", "[@zz]", "[x](", "](/a)"]
MARKDOWN += ["<script>", "</script>", "<img src=x onerror=alert(1)>", "<a href=javascript:x>"]
MARKDOWN += ["<!--", "-->", "<!-->", "<svg onload=alert(1)>", "<abbr title=x>", "<span class=y>"]
MARKDOWN += ["<sup>", "</sup>", "<iframe src=//x>", "<style>", "<p style=x>", "<?php", "<!DOCTYPE"]
MARKDOWN += ["![i](http://x/y.png)", "```", "word", "Pain may ease."]
CONVERTER = MarkdownConverter(Urls("https://example.org/"))
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*):")
_UNSAFE_TAGS = {"script", "iframe", "object", "embed", "svg", "math", "style", "img", "form"}


class _Markup(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.unsafe: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _UNSAFE_TAGS:
            self.unsafe.append(f"<{tag}>")
        for name, value in attrs:
            # A browser reads a scheme only where the URL standard allows one (a letter, then
            # letters, digits, '+', '-' or '.'); anything else is a relative address.
            scheme_match = _SCHEME.match(browser_url(value or ""))
            scheme = scheme_match.group(1).lower() if scheme_match else ""
            if name.startswith("on") or name == "style":
                self.unsafe.append(f"<{tag} {name}>")
            elif name in ("href", "src") and scheme not in ("", "http", "https", "mailto"):
                self.unsafe.append(f"<{tag} {name}={value}>")


@LOADER
@given(text_from(MARKDOWN, 40))
@example(body="[x](![i](http://x/y.png))")  # a relative address that only looks like a scheme
@example(body="[x](java&#x09;script:alert(1))")
@example(body="<iframe src=//x><![")  # the HTML parser raises on '<![' with no name after it
def test_markdown_gives_safe_html_and_located_refusals(body: str) -> None:
    body = body.replace("\r\n", "\n").replace("\r", "\n")
    converted = CONVERTER.convert(body, {"a": 1, "b": 2}, {"a": "A", "b": "B"}, {})
    for offset, message in converted.refused:
        assert 0 <= offset <= body.count("\n"), (offset, message)
        assert message.isprintable()
    markup = _Markup()
    markup.feed(converted.html)
    markup.close()
    assert markup.unsafe == []
    assert all(isinstance(link, str) for link in converted.links)


# -- BibTeX -----------------------------------------------------------------------------------

BIB_TEXT = ["{", "}", "\\", "\\'e", '\\"u', "\\textbf{x}", "\\begin{quote}", "\\end{quote}", "%"]
BIB_TEXT += ["&", "#", "$x$", "~", "--", "<b>", "</script>", "javascript:x", "10.1000/x", "and"]
BIB_TEXT += [",", "=", "@", "{{MRI}}", "Smith, J.", "Smith, Jane and Doe, A.", "2020", "PMC1"]
BIB_TEXT += ["NCT12345678", "https://x.org/a", "word", '"']
BIB_KEYS = ["a", "b", "A", "smith2020", "a b", "<x>", "..", "m\u00fcller", "mu\u0308ller", "", "k,"]


@st.composite
def bibliographies(draw: st.DrawFn) -> str:
    entries = []
    for _ in range(draw(st.integers(0, 5))):
        kind = draw(st.sampled_from([*sorted(ENTRY_TYPES)[:6], "artcle", "string", "comment", ""]))
        fields = []
        for _ in range(draw(st.integers(0, 5))):
            name = draw(
                st.sampled_from([*sorted(FIELDS)[:12], "title", "doi", "url", "Title", "x"])
            )
            value = draw(text_from(BIB_TEXT, 6))
            wrapped = draw(st.sampled_from(["{%s}", '"%s"', "%s", "{%s", "%s}"])) % value
            fields.append(f"  {name} = {wrapped}")
        separator = draw(st.sampled_from([",\n", ",\n", "\n", ", "]))
        opening, closing = draw(st.sampled_from([("{", "}"), ("{", "}"), ("(", ")"), ("{", "")]))
        key = draw(st.sampled_from(BIB_KEYS))
        entries.append(f"@{kind}{opening}{key},\n{separator.join(fields)}\n{closing}")
    between = draw(st.sampled_from(["\n\n", "\n", "}\n", "\nfree text\n", "\n@\n"]))
    return between.join(entries) + draw(text_from(BIB_TEXT, 3))


@LOADER
@given(bibliographies())
def test_bibtex_gives_references_or_located_problems(text: str) -> None:
    references, problems = load_bibliography(text, "r.bib")
    assert_located(problems, "r.bib", text.count("\n") + 1)
    for reference in references:
        assert 1 <= reference.line <= text.count("\n") + 1
        assert all(isinstance(value, str) for _, value in reference.fields)
    if not [p for p in problems if p.severity == "error"]:
        assert len({r.key for r in references}) == len(references)
