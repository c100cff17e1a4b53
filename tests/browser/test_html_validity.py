"""Valid HTML on every page: the current Nu Html Checker (vnu, from npm's `vnu-jar`) reports no
error and no warning on any page of the built site, nor in its stylesheet and SVG files.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from .support import VNU, BuiltSite, require

# Two of vnu's Content-Security-Policy warnings are artefacts, and only these are set aside:
# - vnu checks files (it refuses to fetch from 127.0.0.1), and from a file: URL it cannot match
#   'self' against the site's root-relative /static/ links, so it warns that the site's own
#   stylesheet and scripts would be blocked;
# - it warns that JSON-LD blocks (<script type="application/ld+json">) are inline scripts, but
#   browsers never run data blocks, so no policy applies to them.
# Neither happens in a browser: the browser tests load every page over HTTP and fail on any CSP
# violation.
FILE_ORIGIN_CSP_WARNING = "Resource violates Content Security Policy (meta tag): external "
INLINE_CSP_WARNING = "Inline script violates Content Security Policy (meta tag)"
DATA_BLOCK = '<script type="application/ld+json">'


@dataclass(frozen=True)
class NuReport:
    checked: list[str]  # every file vnu read (it names each one with --verbose)
    messages: list[dict[str, object]]


def nu_checker(java: str, paths: list[Path]) -> NuReport:
    require(VNU, "the Nu Html Checker (npm vnu-jar)")
    done = subprocess.run(
        [
            java,
            "-jar",
            str(VNU),
            "--format",
            "json",
            "--verbose",
            "--also-check-css",
            "--also-check-svg",
        ]
        + [str(path) for path in paths],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    # The report is JSON on stderr; the names of the files read are on stdout.
    return NuReport(done.stdout.splitlines(), json.loads(done.stderr)["messages"])


def is_csp_artefact(message: dict[str, object]) -> bool:
    text = str(message["message"])
    if text.startswith(FILE_ORIGIN_CSP_WARNING):
        return "“/static/" in text
    if text.startswith(INLINE_CSP_WARNING):
        start = int(str(message.get("hiliteStart", 0)))
        end = start + int(str(message.get("hiliteLength", 0)))
        return str(message.get("extract", ""))[start:end] == DATA_BLOCK
    return False


BROKEN_PAGE = (
    '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>x</title></head>'
    '<body><p id="a">one</p><p id="a">two</div></body></html>'
)


@pytest.fixture(scope="module")
def checked(
    java: str, built_site: BuiltSite, tmp_path_factory: pytest.TempPathFactory
) -> tuple[list[Path], Path, NuReport]:
    """One run of the checker (its JVM starts in seconds) over the site and a broken page."""
    files = [built_site.file(path) for path in built_site.pages]
    files += sorted((built_site.root / "static").rglob("*.css"))
    files += sorted((built_site.root / "static").rglob("*.svg"))
    broken = tmp_path_factory.mktemp("nu") / "broken.html"
    broken.write_text(BROKEN_PAGE, encoding="utf-8")
    return files, broken, nu_checker(java, [*files, broken])


def test_nu_checker_finds_no_error_or_warning_on_any_page(
    checked: tuple[list[Path], Path, NuReport], built_site: BuiltSite
) -> None:
    files, broken, report = checked
    found = [
        f"{m['type']}/{m.get('subType', '')} {str(m.get('url', '')).removeprefix('file:')}"
        f":{m.get('lastLine', 0)}: {m['message']}"
        for m in report.messages
        if m.get("url") != about_url(broken) and not is_csp_artefact(m)
    ]
    assert found == []
    assert sorted(report.checked) == sorted(str(path) for path in [*files, broken])
    assert len(files) > len(built_site.pages)


def about_url(path: Path) -> str:
    """How vnu names a file it checked: `file:/abs/path`."""
    return "file:" + str(path)


def test_nu_checker_reports_a_broken_page(checked: tuple[list[Path], Path, NuReport]) -> None:
    """The checker really runs: a page with a duplicate id and a stray end tag fails."""
    _, broken, report = checked
    found = [
        (m["type"], m["message"]) for m in report.messages if m.get("url") == about_url(broken)
    ]
    assert found == [
        ("error", "Duplicate ID “a”."),
        ("info", "The first occurrence of ID “a” was here."),
        ("error", "Stray end tag “div”."),
    ]


def test_only_the_two_csp_artefacts_are_set_aside() -> None:
    def warning(message: str, extract: str = "", start: int = 0, length: int = 0) -> bool:
        return is_csp_artefact(
            {"message": message, "extract": extract, "hiliteStart": start, "hiliteLength": length}
        )

    blocked = "Resource violates Content Security Policy (meta tag): external script "
    assert warning(blocked + "“/static/search.js” blocked by “script-src” directive.")
    assert not warning(blocked + "“https://cdn.example.com/x.js” blocked by “script-src”.")
    inline = "Inline script violates Content Security Policy (meta tag): blocked by “script-src”."
    assert warning(inline, 'x">\n<script type="application/ld+json">{"@', 4, 35)
    assert not warning(inline, 'x">\n<script>alert(1)</script>', 4, 8)
    assert not warning("Duplicate ID “a”.")
