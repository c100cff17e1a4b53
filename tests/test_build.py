"""End to end: a small fixture site and the real content, built and parsed."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from backpain_site.build import build

from conftest import REPO, TODAY
from sitecheck import broken_links, parse


def test_fixture_site_builds_every_page(project: Callable[..., Path], tmp_path: Path) -> None:
    root = project()
    out = tmp_path / "out"
    result = build(root, out, today=TODAY)
    assert result.problems == []
    assert sorted(str(p) for p in result.outputs) == [
        "404.html",
        "claims/index.html",
        "conditions/low-back-pain/index.html",
        "conditions/low-back-pain/low-back-pain-references.bib",
        "conditions/low-back-pain/low-back-pain-references.json",
        "conditions/low-back-pain/low-back-pain-references.ris",
        "feed.xml",
        "index.html",
        "pages/disclaimer/index.html",
        "references/agency2019facts/agency2019facts.bib",
        "references/agency2019facts/agency2019facts.json",
        "references/agency2019facts/agency2019facts.ris",
        "references/agency2019facts/index.html",
        "references/all-references.bib",
        "references/all-references.json",
        "references/all-references.ris",
        "references/conditions/low-back-pain/index.html",
        "references/conditions/low-back-pain/low-back-pain-references.bib",
        "references/conditions/low-back-pain/low-back-pain-references.json",
        "references/conditions/low-back-pain/low-back-pain-references.ris",
        "references/designs/other-sources/index.html",
        "references/designs/other-sources/other-sources-references.bib",
        "references/designs/other-sources/other-sources-references.json",
        "references/designs/other-sources/other-sources-references.ris",
        "references/designs/rct/index.html",
        "references/designs/rct/rct-references.bib",
        "references/designs/rct/rct-references.json",
        "references/designs/rct/rct-references.ris",
        "references/index.html",
        "references/smith2020trial/index.html",
        "references/smith2020trial/smith2020trial.bib",
        "references/smith2020trial/smith2020trial.json",
        "references/smith2020trial/smith2020trial.ris",
        "robots.txt",
        "search/index.html",
        "sitemap.xml",
        "static/citations.js",
        "static/favicon.svg",
        "static/search.js",
        "static/site.css",
        "static/social-card.png",
        "studies/index.html",
        "studies/smith-2020/index.html",
    ]
    assert broken_links(out) == []


def test_citations_are_numbered_per_page_in_order_of_first_use(
    project: Callable[..., Path], tmp_path: Path
) -> None:
    build(project(), tmp_path / "out", today=TODAY)
    study = parse(tmp_path / "out/studies/smith-2020/index.html")
    cites = [(a.text, a["href"], a["id"]) for a in study.select("sup.citation a")]
    assert cites == [
        ("1", "#ref-1", "cite-smith2020trial-1"),
        ("2", "#ref-2", "cite-agency2019facts-1"),
        ("1", "#ref-1", "cite-smith2020trial-2"),
    ]
    entries = study.select(".references li")
    assert [li["id"] for li in entries] == ["ref-1", "ref-2"]
    assert entries[0].select_one("a.reference-page")["href"] == "/references/smith2020trial/"
    assert "Smith J, Yüksel K." in entries[0].text
    condition = parse(tmp_path / "out/conditions/low-back-pain/index.html")
    assert [a.text for a in condition.select("sup.citation a")] == ["1", "2"]
    assert [a["id"] for a in condition.select("sup.citation a")] == [
        "cite-agency2019facts-1",
        "cite-smith2020trial-1",
    ]


def test_reference_page_lists_citing_pages_with_anchors(
    project: Callable[..., Path], tmp_path: Path
) -> None:
    build(project(), tmp_path / "out", today=TODAY)
    page = parse(tmp_path / "out/references/smith2020trial/index.html")
    assert [a["href"] for a in page.select(".cited-by > li > a:first-child")] == [
        "/conditions/low-back-pain/#cite-smith2020trial-1",
        "/studies/smith-2020/#cite-smith2020trial-1",
        "/claims/#cite-smith2020trial-1",
    ]
    links = [a["href"] for a in page.select(".identifiers a")]
    assert links == [
        "https://doi.org/10.1000/pj.2020.1",
        "https://pubmed.ncbi.nlm.nih.gov/12345678/",
    ]


def test_every_page_has_the_shared_frame(project: Callable[..., Path], tmp_path: Path) -> None:
    build(project(), tmp_path / "out", today=TODAY)
    for html in sorted((tmp_path / "out").rglob("*.html")):
        soup = parse(html)
        assert soup.html["lang"] == "en", html
        assert soup.select_one("a.skip-link")["href"] == "#main", html
        assert soup.select_one("main#main") is not None, html
        assert len(soup.select("h1")) == 1, html
        assert "not medical advice" in soup.select_one("footer").text, html
        # Structured data (JSON-LD) is not code; no page runs inline script (CSP: 'self').
        assert not soup.select('script:not([type="application/ld+json"]):not([src])'), html
        if html.name != "404.html":
            assert "Last reviewed" in soup.select_one(".review-dates").text, html


def test_same_input_gives_byte_identical_output(
    project: Callable[..., Path], tmp_path: Path
) -> None:
    root = project()
    first = build(root, tmp_path / "a", today=TODAY).outputs
    second = build(root, tmp_path / "b", today=TODAY).outputs
    assert first == second
    files_a = {
        p.relative_to(tmp_path / "a"): p.read_bytes()
        for p in (tmp_path / "a").rglob("*")
        if p.is_file()
    }
    files_b = {
        p.relative_to(tmp_path / "b"): p.read_bytes()
        for p in (tmp_path / "b").rglob("*")
        if p.is_file()
    }
    assert files_a == files_b


def test_drafts_are_left_out(project: Callable[..., Path], tmp_path: Path) -> None:
    from conftest import STUDY

    draft = STUDY.replace("status: published", "status: published\ndraft: true")
    root = project({"content/studies/draft-one.md": draft})
    result = build(root, tmp_path / "out", today=TODAY)
    assert result.ok
    assert not (tmp_path / "out/studies/draft-one/index.html").exists()


def test_real_site_builds_and_every_link_resolves(tmp_path: Path) -> None:
    out = tmp_path / "site"
    result = build(REPO, out)
    assert [str(p) for p in result.problems] == []
    content = REPO / "content"
    expected = [
        "index.html",
        "404.html",
        "references/index.html",
        "claims/index.html",
        "studies/index.html",
    ]
    expected += [f"conditions/{p.stem}/index.html" for p in (content / "conditions").glob("*.md")]
    expected += [f"studies/{p.stem}/index.html" for p in (content / "studies").glob("*.md")]
    expected += [f"pages/{p.stem}/index.html" for p in (content / "pages").glob("*.md")]
    for path in expected:
        assert (out / path).is_file(), path
    assert {p.stem for p in (content / "conditions").glob("*.md")} == {
        "low-back-pain",
        "sciatica",
        "spinal-stenosis",
    }
    bib = (content / "references.bib").read_text(encoding="utf-8")
    keys = [
        line.split("{", 1)[1].rstrip(",").strip()
        for line in bib.splitlines()
        if line.startswith("@")
    ]
    for key in keys:
        assert (out / "references" / key.lower() / "index.html").is_file(), key
    assert broken_links(out) == []
