"""Property test of the whole build: the small project of tests/conftest.py with one file mutated
(values swapped for hostile ones, markup inserted, pieces cut out) builds into a site in which
nothing can run, or fails with problems that each name a file of the project and a line in it.
Never an exception.
"""

from __future__ import annotations

import json
import re
import shutil
from collections import Counter
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path, PurePosixPath

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from backpain_site.build import build
from backpain_site.markdown_checks import browser_url

from conftest import BASE_FILES, TODAY, write_project

HOSTILE = ["no", "10:00", "2020-01-01", "~", "&a x", "*a", "!!python/name:os.system", "[", "{"]
HOSTILE += ["'</script><script>window.__pwned=1</script>'", "'\" onmouseover=\"x'", "\\u202e"]
HOSTILE += ["<script>x</script>", "<img src=x onerror=x>", "[a](javascript:x)", "[@zz]"]
HOSTILE += ["[a](/studies/../../x)", "<!--", "`", "*", "_", "}", "{", "\\", '"', "@misc{", ","]
HOSTILE += ["\\textbf{", "--", "%", "&", "#", "é", "e\u0301", "\t", "\r\n", "\n", "---\n", " "]


class _Unsafe(HTMLParser):
    """What could run or load from elsewhere in a page (templates make no such thing)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []
        self._data_script = False
        self._script_text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag in ("iframe", "object", "embed", "form", "base", "frame"):
            self.found.append(f"<{tag}>")
        if tag == "script":
            kind = values.get("type") or ""
            src = values.get("src") or ""
            self._data_script = kind == "application/ld+json"
            self._script_text = []
            if not self._data_script and not src.startswith("/static/"):
                self.found.append(f"<script {attrs}>")
        for name, value in attrs:
            url = browser_url(value or "")
            if name.startswith("on"):
                self.found.append(f"<{tag} {name}>")
            elif (
                name in ("href", "src")
                and re.match(r"[a-zA-Z][\w+.-]*:", url)
                and url.split(":", 1)[0].lower() not in ("http", "https", "mailto")
            ):
                self.found.append(f"<{tag} {name}={value}>")

    def handle_data(self, data: str) -> None:
        if self._data_script:
            self._script_text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "script" and self._data_script:
            self._data_script = False
            try:
                json.loads("".join(self._script_text))
            except ValueError:
                self.found.append("a JSON-LD block that does not parse (ended early?)")


def unsafe_in(outputs: dict[PurePosixPath, bytes]) -> dict[PurePosixPath, Counter[str]]:
    found = {}
    for path, output in outputs.items():
        if path.suffix == ".html":
            checker = _Unsafe()
            checker.feed(output.decode("utf-8"))
            checker.close()
            found[path] = Counter(checker.found)
    return found


@st.composite
def mutated_projects(draw: st.DrawFn) -> tuple[str, bytes]:
    """(one of the project's files, its mutated bytes)."""
    name = draw(st.sampled_from(sorted(BASE_FILES)))
    text = BASE_FILES[name]
    for _ in range(draw(st.integers(1, 3))):
        at = draw(st.integers(0, len(text)))
        operation = draw(st.integers(0, 3))
        if operation == 0:  # replace a line's value
            lines = text.split("\n")
            index = draw(st.integers(0, len(lines) - 1))
            head = lines[index].split(":", 1)[0]
            lines[index] = f"{head}: {draw(st.sampled_from(HOSTILE))}"
            text = "\n".join(lines)
        elif operation == 1:
            text = text[:at] + draw(st.sampled_from(HOSTILE)) + text[at:]
        elif operation == 2:
            text = text[:at] + text[at + draw(st.integers(1, 8)) :]
        else:
            text += "\n" + "".join(draw(st.lists(st.sampled_from(HOSTILE), max_size=6)))
    return name, text.encode("utf-8")


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    root = write_project(tmp_path_factory.mktemp("property") / "project")
    yield root
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def made_by_templates(project: Path) -> dict[PurePosixPath, Counter[str]]:
    """What the templates themselves put on each page of the clean project (a search form)."""
    clean = build(project, None, today=TODAY)
    assert clean.ok, clean.problems
    return unsafe_in(clean.outputs)


@settings(max_examples=250, deadline=None, suppress_health_check=list(HealthCheck))
@given(mutated_projects())
def test_the_build_gives_a_safe_site_or_located_errors(
    project: Path, made_by_templates: dict[PurePosixPath, Counter[str]], mutation: tuple[str, bytes]
) -> None:
    name, data = mutation
    for relative, text in BASE_FILES.items():
        (project / relative).write_text(text, encoding="utf-8")
    (project / name).write_bytes(data)

    result = build(project, None, today=TODAY)

    if result.ok:
        event("built")
        assert "index.html" in {str(path) for path in result.outputs}
        for path, found in unsafe_in(result.outputs).items():
            assert sorted((found - made_by_templates.get(path, Counter())).elements()) == [], path
        return
    event("refused")
    for problem in result.problems:
        assert str(problem).isprintable(), problem
        file = project / problem.path
        assert problem.path in BASE_FILES or file.exists(), problem
        if file.is_file():
            assert 0 <= problem.line <= file.read_bytes().count(b"\n") + 1, problem
