"""Stage: Markdown bodies -> sanitised HTML with numbered citation links."""

import re
from collections.abc import Callable
from pathlib import Path, PurePosixPath

from bs4 import BeautifulSoup

from backpain_site.build import build
from backpain_site.markdown_body import TEMPLATE_ID_PREFIXES, TEMPLATE_IDS, MarkdownConverter
from backpain_site.urls import Urls

from conftest import REPO, STUDY, TODAY


def convert(text: str, numbers: dict[str, int] | None = None) -> str:
    converter = MarkdownConverter(Urls("https://example.org/"))
    numbers = numbers or {}
    return converter.convert(text, numbers, {k: f"Title {k}" for k in numbers}).html


def test_citations_link_to_the_page_reference_list() -> None:
    # AMA (the default style): superscripts right after the word, outside a period or comma.
    assert convert("Text [@a; @b] again [@a].", {"a": 1, "b": 2}) == (
        '<p>Text<sup class="citation"><a class="cite" href="#ref-1" id="cite-a-1" '
        'title="Title a">1</a>,<a class="cite" href="#ref-2" id="cite-b-1" title="Title b">2</a>'
        '</sup> again.<sup class="citation"><a class="cite" href="#ref-1" id="cite-a-2" '
        'title="Title a">1</a></sup></p>'
    )


def test_raw_html_and_script_links_never_survive() -> None:
    html = convert(
        "<script>alert(1)</script>\n\n[x](javascript:alert(1)) [y](JaVaScRiPt:alert(1)) "
        '<a href="jav&#x09;ascript:alert(1)">z</a> <img src=x onerror="alert(1)"> '
        "<iframe src='https://evil.example'></iframe>"
    )
    assert "script" not in html.lower() and "onerror" not in html
    assert "iframe" not in html and "<img" not in html
    assert html.count("<a>") == 3


def test_site_links_get_the_base_path() -> None:
    converter = MarkdownConverter(Urls("https://example.org/sub/"))
    body = converter.convert("[a](/studies/x/) [b](https://example.com/)", {}, {})
    assert (
        body.html == '<p><a href="/sub/studies/x/">a</a> <a href="https://example.com/">b</a></p>'
    )
    assert body.links == ("/studies/x/", "https://example.com/")


def test_body_h1_becomes_h2() -> None:
    assert convert("# Top") == '<h2 id="top">Top</h2>'


def test_body_headings_never_take_an_id_the_templates_use() -> None:
    html = convert(
        "## Main\n\n## Main\n\n## Bottom line\n\n## Ref 1\n\n## Evidence map\n\n## What it is\n"
    )
    assert re.findall(r'<h2 id="([^"]+)"', html) == [
        "main-section",
        "main-section_1",
        "bottom-line-section",
        "ref-1-section",
        "evidence-map-section",
        "what-it-is",
    ]


# Ids made from content rather than a fixed prefix, and why no body heading can take them.
_GENERATED_IDS = {
    "{{ cell.anchor }}": "evidence-map cells: the map's id, 'evidence-map', starts each one",
    "{{ map.id }}-caption": "the map's id is 'evidence-map'",
    "{{ map.id }}-heading": "the map's id is 'evidence-map'",
    "{{ claim.slug }}": "claims page only, where bodies are claims' own short texts",
    "{{ claim.slug }}-heading": "claims page only",
    "{{ claim.slug }}-source": "claims page only",
}


def test_every_template_id_is_reserved_from_body_headings() -> None:
    literal, generated = set(), set()
    for template in sorted((REPO / "templates").glob("*.html")):
        for value in re.findall(r'\bid="([^"]*)"', template.read_text(encoding="utf-8")):
            if "{{" not in value:
                literal.add(value)
            elif value.split("{{", 1)[0]:
                generated.add(value.split("{{", 1)[0])
            else:
                assert value in _GENERATED_IDS, f"{template.name}: id {value!r} is not reserved"
    assert literal - TEMPLATE_IDS == set()
    assert {prefix for prefix in generated if not prefix.startswith(TEMPLATE_ID_PREFIXES)} == set()


def test_a_study_page_with_a_heading_named_like_the_template_has_unique_ids(
    project: Callable[..., Path],
) -> None:
    body = "\n## Main\n\nText.\n\n## Key finding\n\nMore text.\n"
    root = project({"content/studies/smith-2020.md": STUDY + body})
    result = build(root, None, today=TODAY)
    assert [p for p in result.problems if p.severity.name == "ERROR"] == []
    page = result.outputs[PurePosixPath("studies/smith-2020/index.html")].decode("utf-8")
    ids = [tag["id"] for tag in BeautifulSoup(page, "html.parser").find_all(id=True)]
    assert len(ids) == len(set(ids))
    assert {"main", "main-section", "key-finding", "key-finding-section"} <= set(ids)
