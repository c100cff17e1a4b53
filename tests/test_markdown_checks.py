"""Stage helper: what a Markdown body may hold beyond Markdown. Exact offsets and messages."""

import time

from backpain_site.markdown_body import MarkdownConverter
from backpain_site.markdown_checks import (
    browser_url,
    comment_problems,
    locate,
    raw_html_problems,
    unconvertible,
)
from backpain_site.urls import Urls


def test_allowed_raw_html_passes_and_everything_else_is_named() -> None:
    fragments = ['<abbr title="trial">', "</abbr>", "<sub>", "<br>", '<ol start="3">', "&amp;"]
    assert raw_html_problems(fragments) == []
    assert raw_html_problems(
        [
            "<script>",
            '<a href="/x/">',
            '<span class="caveat" onclick="x()">',
            '<th scope="col" style="color: red">',
            "<?php echo 1 ?>",
            "<!DOCTYPE html>",
            "<![CDATA[x]]>",
            "<!-- a note -->",
        ]
    ) == [
        ("<script", "raw HTML <script> is not allowed; write Markdown"),
        ("<a", "raw HTML links (<a>) are not allowed; write [text](/studies/slug/)"),
        ("<span", "raw HTML <span> may not have 'class', 'onclick'"),
        ("<th", "raw HTML <th> may not have 'style'"),
        ("<?", "raw HTML '<?php echo 1 ?' is not allowed"),
        ("<!", "raw HTML '<!DOCTYPE html>' is not allowed"),
        ("<![", "raw HTML '<![CDATA[x' is not allowed"),
    ]


def test_html_the_parser_cannot_read_is_refused_not_a_traceback() -> None:
    # Python's HTML parser raises AssertionError on '<![' with no name after it.
    assert raw_html_problems(["<iframe src=//x><![\n\n"]) == [
        ("<!", "raw HTML '<iframe src=//x><![' cannot be read")
    ]
    body = MarkdownConverter(Urls("https://example.org/")).convert("<iframe src=//x><![", {}, {})
    assert (body.html, body.refused) == (
        "",
        ((0, "raw HTML '<iframe src=//x><![' cannot be read"),),
    )


def test_locate_skips_code_spans_and_counts_occurrences() -> None:
    text = "`<script>` is code\n<script>a</script>\ntext\n<script>b</script>"
    found = [("<script", "first"), ("<script", "second"), ("<iframe", "missing")]
    assert locate(text, found) == [(1, "first"), (3, "second"), (0, "missing")]


def test_open_brackets_parentheses_and_angles_are_counted_per_paragraph() -> None:
    assert unconvertible("[" * 16 + "\n\n" + "[" * 16) == []
    assert unconvertible("ok\n\n" + "[a " * 17) == [
        (2, "square brackets are left open or nested more than 16 deep in one paragraph")
    ]
    assert unconvertible("a\nb\n" + "(" * 17) == [
        (2, "parentheses are left open or nested more than 16 deep in one paragraph")
    ]
    assert unconvertible("x < y " * 17) == [
        (
            0,
            "more than 16 '<' without a closing '>' in one paragraph; "
            "write '&lt;' for a less-than sign",
        )
    ]
    # Closed, escaped or in code, they do not count.
    assert unconvertible("[a](b) " * 40 + "\\[" * 40 + "`" + "[" * 40 + "`" + "<b> " * 40) == []


def test_long_paragraphs_and_bodies() -> None:
    assert unconvertible("a" * 5_000) == []
    assert unconvertible("a" * 5_001) == [
        (0, "a paragraph of 5,001 characters is too long (at most 5,000); split it")
    ]
    assert unconvertible(("a" * 4_000 + "\n\n") * 13) == [
        (0, "the text is 52,026 characters long (at most 50,000); split it")
    ]


def test_code_spans_are_found_in_one_pass() -> None:
    # A regular expression takes minutes on a long run of backticks; the scan takes no time.
    started = time.perf_counter()
    assert comment_problems("`" * 49_000) == []
    assert time.perf_counter() - started < 1
    assert locate("`[` and `` ` `` then [", [("[", "m")]) == [(0, "m")]
    assert locate("`[` and `` ` ``\n[", [("[", "m")]) == [(1, "m")]


def test_comments_must_close_where_python_markdown_looks_for_the_end() -> None:
    # A comment that starts a line may run over blank lines (Python-Markdown hides it all).
    assert comment_problems("<!-- fine -->\n\n<!--\nnote\n\nmore notes\n-->\n\nText.") == []
    assert comment_problems("a <!-- inline --> b") == []
    assert comment_problems("a <!-- open\n\nlater -->\n\n<!--> x\n\n<!--\nnever closed") == [
        (
            0,
            "an HTML comment opened here is not closed with '-->' in the same paragraph, "
            "so readers would see it",
        ),
        (4, "malformed HTML comment '<!-->'; write '<!-- note -->'"),
        (6, "an HTML comment opened here is never closed with '-->', so readers would see it"),
    ]
    assert comment_problems("`<!--` is how a comment starts") == []


def test_urls_as_a_browser_reads_them() -> None:
    assert browser_url("jav&#x09;ascript:alert(1)") == "javascript:alert(1)"
    assert browser_url("\x01 java\nscript:x ") == "javascript:x"
    assert browser_url("&#106;avascript:x") == "javascript:x"
    assert browser_url("/studies/a&amp;b/") == "/studies/a&b/"


def test_the_converter_reports_refusals_with_their_lines() -> None:
    converter = MarkdownConverter(Urls("https://example.org/"))
    body = converter.convert(
        'Intro.\n\n<span onclick="x()">a</span>\n\n![t](https://evil.example/t.gif)\n', {}, {}
    )
    assert body.refused == (
        (2, "raw HTML <span> may not have 'onclick'"),
        (
            4,
            "images are not allowed in the text ('https://evil.example/t.gif'); "
            "link to the picture",
        ),
    )
    assert body.html == "<p>Intro.</p>\n<p><span>a</span></p>\n<p></p>"
    deep = converter.convert("*" * 2400 + "x" + "*" * 2400, {}, {})
    assert deep.refused == (
        (0, "the text is nested too deeply to convert (emphasis, lists or quotes)"),
    )
    assert deep.html == ""
