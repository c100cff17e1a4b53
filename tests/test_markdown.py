"""Stage: Markdown bodies -> sanitised HTML with numbered citation links."""

from backpain_site.markdown_body import MarkdownConverter
from backpain_site.urls import Urls


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
