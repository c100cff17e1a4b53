"""The "checking the claims" page: every row of the editors' claim check, with verdict and sources.

The claim check lives outside the project (../shared/data/claims-check.md) while editors work;
tests/data/claims-check.md is the copy a clean clone tests against, and must not drift from it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path, PurePosixPath

import pytest
from bs4 import BeautifulSoup, Tag

from backpain_site.build import build
from backpain_site.evidence import VERDICTS

from conftest import CLAIM, REPO, TODAY

CHECK = REPO / "tests" / "data" / "claims-check.md"
SHARED_CHECK = REPO.parent / "shared" / "data" / "claims-check.md"
ROW = re.compile(r"^\|\s*(S\d+-\d+)\s*\|", re.MULTILINE)


def check_ids(path: Path) -> list[str]:
    return ROW.findall(path.read_text(encoding="utf-8"))


def text(element: Tag | None) -> str:
    assert element is not None
    return " ".join(element.get_text(" ").split())


@pytest.fixture(scope="module")
def claims_page() -> BeautifulSoup:
    result = build(REPO, None, today=TODAY)
    assert [str(p) for p in result.problems] == []
    html = result.outputs[PurePosixPath("claims/index.html")].decode("utf-8")
    return BeautifulSoup(html, "html.parser")


def test_the_claim_check_has_the_rows_we_expect() -> None:
    ids = check_ids(CHECK)
    assert ids == [f"S0-{n}" for n in range(1, 20)] + [f"S4-{n}" for n in range(1, 7)]


def test_the_copy_of_the_claim_check_matches_the_editors_file() -> None:
    if not SHARED_CHECK.is_file():
        pytest.skip("the editors' shared folder is not next to this clone (as in CI)")
    assert CHECK.read_bytes() == SHARED_CHECK.read_bytes()


def test_every_row_of_the_claim_check_is_on_the_claims_page(claims_page: BeautifulSoup) -> None:
    shown = [text(span).removeprefix("Claim check ") for span in claims_page.select(".check-id")]
    missing = [row for row in check_ids(CHECK) if row not in shown]
    assert missing == []
    assert len(shown) == len(set(shown))  # one section per row
    index = [
        text(row.find_all("td")[1]) for row in claims_page.select("table.claims-index tbody tr")
    ]
    assert sorted(index) == sorted(shown)


def test_every_claim_has_a_verdict_what_the_source_says_and_its_sources(
    claims_page: BeautifulSoup,
) -> None:
    sections = claims_page.select("section.claim")
    assert len(sections) == len(list((REPO / "content" / "claims").glob("*.md")))
    labels = {v.label for v in VERDICTS.values()}
    numbered = {li["id"] for li in claims_page.select(".references li")}
    for section in sections:
        slug = section["id"]
        heading = text(section.find("h2"))
        assert heading.startswith("Claim: “") and heading.endswith("”"), slug
        verdict = text(section.select_one(".claim-verdict .verdict"))
        assert verdict in labels, slug
        body = section.select_one(f"[id='{slug}-source']")
        assert body is not None and body.find_next_sibling("p") is not None, slug
        sources = text(section.select_one(".claim-sources"))
        links = [a["href"] for a in section.select(".claim-sources a")]
        if verdict == "Source not found":
            assert sources == "Sources: none found. We do not publish this claim as fact.", slug
            assert links == []
        else:
            assert sources.startswith("Sources: ") and "about this source" in sources, slug
            assert {h[1:] for h in links if h.startswith("#")} <= numbered, slug
            assert any(h.startswith("/references/") for h in links), slug


def test_claims_page_on_a_small_site(project: Callable[..., Path]) -> None:
    not_found = CLAIM.replace("verdict: overstated", "verdict: source-not-found").replace(
        "check_id: T-1", "check_id: T-2"
    )
    not_found = not_found.replace("references: [smith2020trial]", "references: []").replace(
        "order: 1", "order: 2"
    )
    not_found = not_found.replace(
        "The trial found a small effect [@smith2020trial].", "We found no source."
    )
    root = project({"content/claims/unfound.md": not_found})
    result = build(root, None, today=TODAY)
    assert result.problems == []
    soup = BeautifulSoup(
        result.outputs[PurePosixPath("claims/index.html")].decode("utf-8"), "html.parser"
    )
    assert [text(dt) for dt in soup.select(".verdict-key dt")] == [
        "Supported 0 claims",
        "Partly supported 0 claims",
        "Overstated 1 claim",
        "Not supported 0 claims",
        "Source not found 1 claim",
    ]
    rows = [
        [text(cell) for cell in row.find_all(["th", "td"])]
        for row in soup.select("table.claims-index tbody tr")
    ]
    assert rows == [
        ["Acupuncture cures back pain.", "Overstated", "T-1"],
        ["Acupuncture cures back pain.", "Source not found", "T-2"],
    ]
    assert [a["href"] for a in soup.select("table.claims-index a")] == ["#cures", "#unfound"]
    first = soup.select_one("section.claim[id='cures']")
    assert text(first.select_one(".claim-verdict")) == (  # type: ignore[union-attr]
        "Our verdict: Overstated . The source says less than the claim. Claim check T-1"
    )
    assert text(first.select_one(".claim-sources")) == (  # type: ignore[union-attr]
        "Sources: Smith et al. (2020) ( about this source : Smith 2020 )."
    )
    assert [a["href"] for a in first.select(".claim-sources a")] == [  # type: ignore[union-attr]
        "#ref-1",
        "/references/smith2020trial/",
    ]
    second = soup.select_one("section.claim[id='unfound']")
    assert text(second.select_one(".claim-sources")) == (  # type: ignore[union-attr]
        "Sources: none found. We do not publish this claim as fact."
    )
