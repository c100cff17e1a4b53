"""Templates escape `{{ }}` output through render._escape_output, not markupsafe.escape: the
same text, only without a Markup made for every value. Input: texts and a small template;
output: exactly what Jinja's own autoescaping writes."""

from __future__ import annotations

from pathlib import Path

import jinja2
import markupsafe
import pytest

from backpain_site.render import _environment, _escape_output, _escaped_text, _replaced

TEXTS = [
    "",
    "plain words",
    "A & B <c> \"d\" 'e' >",
    "&amp; already escaped once",
    "</script><script>alert(1)</script>",
    "Müller\u2019s\tline\r\nnext \u00a0",
    "lone \ud800 surrogate",
    "x" * 500 + "<" + "y" * 500,
]


@pytest.mark.parametrize("text", TEXTS)
def test_text_is_escaped_as_markupsafe_escapes_it(text: str) -> None:
    expected = str(markupsafe.escape(text))
    assert _escape_output(text) == expected
    assert _escaped_text(text) == expected
    assert _replaced(text) == expected  # the fallback, where markupsafe has no C escaping


def test_values_that_are_not_text_go_through_markupsafe() -> None:
    assert _escape_output(markupsafe.Markup("<b>safe</b>")) == "<b>safe</b>"
    assert _escape_output(1204) == "1204"
    assert _escape_output(None) == "None"

    class Html:
        def __html__(self) -> str:
            return "<i>own</i>"

    assert _escape_output(Html()) == "<i>own</i>"


TEMPLATE = """\
{% macro item(text) %}<li>{{ text }}</li>{% endmacro %}
<p title="{{ texts[2] }}">{{ texts|join(' | ') }}</p>
{% for text in texts %}{{ item(text) }}{{ text|safe if loop.first else text }}{% endfor %}
{% set block %}<b>{{ texts[4] }}</b>{% endset %}{{ block }} {{ block|length }}
{% filter upper %}{{ texts[2] }}{% endfilter %}
{% autoescape false %}{{ texts[1] }}{% endautoescape %}{{ texts[3] ~ texts[2] }}
{{ number }} {{ markup }} {{ none }}
"""


def test_pages_are_escaped_as_jinja_escapes_them(tmp_path: Path) -> None:
    (tmp_path / "page.html").write_text(TEMPLATE, encoding="utf-8")
    values = {
        "texts": ["first <", "a & b", "\"q\" 'q' <t>", "&lt;", "</script>"],
        "number": 3.5,
        "markup": markupsafe.Markup("<em>kept</em>"),
        "none": None,
    }
    ours = _environment(str(tmp_path)).get_template("page.html").render(**values)
    jinjas = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(tmp_path)),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    assert ours == jinjas.get_template("page.html").render(**values)
    assert "<em>kept</em>" in ours and "&lt;/script&gt;" in ours
