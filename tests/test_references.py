"""Citation pages, /references/ and its filters, downloads, structured data and in-text citations,
on the real site and on small fixture sites, parsed with BeautifulSoup."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Mapping
from pathlib import Path, PurePosixPath

import bibtexparser
import pytest
import rispy
from bs4 import BeautifulSoup

from backpain_site.bibliography import Reference, load_bibliography
from backpain_site.build import build
from backpain_site.csl import bibliography_order, format_reference
from backpain_site.csl_data import identifier_links
from backpain_site.load import load_site
from backpain_site.render import render
from backpain_site.resolve import resolve
from backpain_site.urls import reference_slug

from conftest import BIB, REPO, SITE_YAML, STUDY, TODAY
from sitecheck import broken_links

Outputs = Mapping[PurePosixPath, bytes]


def page(outputs: Outputs, url: str) -> BeautifulSoup:
    path = url.lstrip("/").split("#")[0]
    path = path + "index.html" if path.endswith("/") or not path else path
    return BeautifulSoup(outputs[PurePosixPath(path)].decode("utf-8"), "html.parser")


def text(element: object) -> str:
    return " ".join(str(element.get_text()).split())  # type: ignore[attr-defined]


def site_outputs(root: Path) -> Outputs:
    result = build(root, None, today=TODAY)
    assert result.ok, [str(p) for p in result.problems]
    return result.outputs


@pytest.fixture(scope="module")
def real() -> Outputs:
    return site_outputs(REPO)


@pytest.fixture(scope="module")
def real_references() -> list[Reference]:
    references, problems = load_bibliography(
        (REPO / "content" / "references.bib").read_text(encoding="utf-8"),
        "content/references.bib",
    )
    assert problems == []
    return references


def write(outputs: Outputs, folder: Path) -> Path:
    for relative, data in outputs.items():
        target = folder / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    return folder


# -- the real site ---------------------------------------------------------------------------


def test_every_real_reference_has_a_full_citation_page(
    real: Outputs, real_references: list[Reference]
) -> None:
    for reference in real_references:
        slug = reference_slug(reference.key)
        soup = page(real, f"/references/{slug}/")
        formatted = format_reference(reference, "american-medical-association")
        assert text(soup.select_one("p.citation")) == " ".join(formatted.text.split()), slug
        assert text(soup.select_one("h1")) == reference.get("title")
        # Every identifier the entry has is a link.
        shown = [(a["href"], text(a)) for a in soup.select(".identifiers a")]
        assert shown == [(link.url, link.value) for link in identifier_links(reference)], slug
        # Cited by: at least one page, each link to an anchor that exists on that page.
        places = [a["href"] for a in soup.select(".cited-by a")]
        assert places, slug
        for href in places:
            target, anchor = href.split("#")
            assert page(real, target).find(id=anchor) is not None, href
        # Three downloads, each present and loading back in its tool.
        downloads = {a["href"]: a for a in soup.select(".downloads a")}
        assert sorted(downloads) == [
            f"/references/{slug}/{slug}.{ext}" for ext in ("bib", "json", "ris")
        ]
        bib = real[PurePosixPath(f"references/{slug}/{slug}.bib")].decode()
        assert [e.key for e in bibtexparser.parse_string(bib).entries] == [reference.key]
        ris = rispy.loads(real[PurePosixPath(f"references/{slug}/{slug}.ris")].decode())
        assert [r["id"] for r in ris] == [reference.key]
        items = json.loads(real[PurePosixPath(f"references/{slug}/{slug}.json")])
        assert [i["id"] for i in items] == [reference.key]


def test_real_citation_pages_carry_structured_data(
    real: Outputs, real_references: list[Reference]
) -> None:
    for reference in real_references:
        soup = page(real, f"/references/{reference_slug(reference.key)}/")
        (script,) = soup.select('script[type="application/ld+json"]')
        data = json.loads(script.string)
        assert data["@type"] in ("MedicalScholarlyArticle", "ScholarlyArticle")
        assert data["name"] == reference.get("title")
        meta = [(m["name"], m["content"]) for m in soup.select('meta[name^="citation_"]')]
        assert meta[0] == ("citation_title", reference.get("title"))
        assert len([m for m in meta if m[0] == "citation_author"]) == len(reference.authors)
        if reference.get("doi"):
            assert ("citation_doi", reference.get("doi")) in meta
            assert f"https://doi.org/{reference.get('doi')}" in data["sameAs"]
        if reference.get("pmid"):
            assert ("citation_pmid", reference.get("pmid")) in meta


def test_study_design_is_named_with_clear_labels(real: Outputs) -> None:
    animal = page(real, "/references/yen2019distal/")
    assert text(animal.select_one(".study-kind .badges")) == "Animal research"
    assert text(animal.select_one(".study-kind .caveat")) == "Please note: Not tested in people."
    protocol = page(real, "/references/kim2019effect/")
    assert text(protocol.select_one(".study-kind .badges")) == "Trial protocol"
    assert text(protocol.select_one(".study-kind .caveat")) == "Please note: No results yet."
    case = page(real, "/references/tu2008elderly/")
    assert text(case.select_one(".study-kind .badges")) == "Case report"
    fact_sheet = page(real, "/references/ninds_lbp_factsheet/")
    assert text(fact_sheet.select_one(".kicker")) == (
        "Reference · Document (NINDS (NIH) patient fact sheet)"
    )


def test_bibliography_page_lists_everything_in_style_order_with_filters(
    real: Outputs,
    real_references: list[Reference],
) -> None:
    soup = page(real, "/references/")
    entries = soup.select("ol.bibliography > li")
    hrefs = [li.select_one("a.reference-page")["href"] for li in entries]
    assert len(hrefs) == len(real_references)
    assert {h.split("/")[2] for h in hrefs} == {reference_slug(r.key) for r in real_references}
    # AMA lists in order of first citation; the condition pages come first on the site.
    first_condition = page(real, "/conditions/low-back-pain/")
    first_cited = first_condition.select_one("a.cite")["href"]
    first_entry = first_condition.select_one(f"li{first_cited} a.reference-page")["href"]
    assert hrefs[0] == first_entry
    filters = {a["href"]: text(a) for a in soup.select(".reference-filters a")}
    assert filters["/references/designs/animal-study/"] == "Animal research"
    assert filters["/references/conditions/sciatica/"] == "Sciatica"
    assert soup.select_one('.reference-filters a[aria-current="page"]')["href"] == "/references/"


def test_design_and_condition_filters_are_pages_without_javascript(real: Outputs) -> None:
    animal = page(real, "/references/designs/animal-study/")
    listed = {li.select_one("a.reference-page")["href"] for li in animal.select(".bibliography li")}
    assert listed == {
        "/references/yen2019distal/",
        "/references/inoue2008effect/",
        "/references/inoue2005effects/",
    }
    current = animal.select_one('.reference-filters a[aria-current="page"]')
    assert current["href"] == "/references/designs/animal-study/"
    sciatica = page(real, "/references/conditions/sciatica/")
    keys = {li.select_one("a.reference-page")["href"] for li in sciatica.select(".bibliography li")}
    cited_on_page = {
        a["href"]
        for a in page(real, "/conditions/sciatica/").select(".references a.reference-page")
    }
    assert cited_on_page <= keys
    bib = real[PurePosixPath("references/conditions/sciatica/sciatica-references.bib")]
    assert len(bibtexparser.parse_string(bib.decode()).entries) == len(keys)


def test_condition_pages_offer_their_references_for_download(real: Outputs) -> None:
    soup = page(real, "/conditions/sciatica/")
    listed = [a["href"] for a in soup.select(".references li a.reference-page")]
    links = [a["href"] for a in soup.select(".references .downloads a")]
    assert links == [
        f"/conditions/sciatica/sciatica-references.{e}" for e in ("bib", "ris", "json")
    ]
    bib = real[PurePosixPath("conditions/sciatica/sciatica-references.bib")].decode()
    keys = [reference_slug(e.key) for e in bibtexparser.parse_string(bib).entries]
    assert [f"/references/{k}/" for k in keys] == listed
    whole = rispy.loads(real[PurePosixPath("references/all-references.ris")].decode())
    assert len(whole) == len(page(real, "/references/").select("ol.bibliography > li"))


def test_real_site_links_and_anchors_resolve(real: Outputs, tmp_path: Path) -> None:
    out = write(real, tmp_path / "site")
    assert [b for b in broken_links(out) if "/pagefind/" not in b] == []


def test_citation_previews_are_a_deferred_script_from_the_site(real: Outputs) -> None:
    for url in ("/conditions/sciatica/", "/studies/wang-2000-acupuncture-disc-surgery/"):
        soup = page(real, url)
        (script,) = soup.select('script[src$="citations.js"]')
        assert script["src"] == "/static/citations.js" and script.has_attr("defer")
        assert soup.select("a.cite[href^='#ref-'][title]")
    source = real[PurePosixPath("static/citations.js")].decode()
    assert "a.cite[href^='#ref-']" in source and '"Escape"' in source


# -- fixture sites ---------------------------------------------------------------------------


def test_highwire_meta_exactly(project: Callable[..., Path]) -> None:
    soup = page(site_outputs(project()), "/references/smith2020trial/")
    meta = [(m["name"], m["content"]) for m in soup.select('meta[name^="citation_"]')]
    assert meta == [
        ("citation_title", "A randomised trial of acupuncture for MRI-confirmed back pain"),
        ("citation_author", "Smith, Jane"),
        ("citation_author", "Yüksel, Kamil"),
        ("citation_publication_date", "2020"),
        ("citation_journal_title", "Pain Journal"),
        ("citation_volume", "10"),
        ("citation_issue", "2"),
        ("citation_firstpage", "100"),
        ("citation_lastpage", "110"),
        ("citation_doi", "10.1000/pj.2020.1"),
        ("citation_pmid", "12345678"),
    ]


def test_json_ld_cannot_be_closed_by_a_title(project: Callable[..., Path]) -> None:
    # The loader refuses HTML in a .bib title; the page must be safe even without that check,
    # so the stages run here by hand with a hostile title put into the loaded site.
    hostile = "Needles </script><script>alert(1)</script> & more"
    site, problems = load_site(project(), today=TODAY)
    assert site is not None and problems == []
    site = dataclasses.replace(
        site,
        references=tuple(
            dataclasses.replace(
                r, fields=tuple((k, hostile if k == "title" else v) for k, v in r.fields)
            )
            if r.key == "agency2019facts"
            else r
            for r in site.references
        ),
    )
    outputs, problems = render(resolve(site)[0])
    assert problems == []
    html = outputs[PurePosixPath("references/agency2019facts/index.html")].decode()
    soup = BeautifulSoup(html, "html.parser")
    (script,) = soup.select('script[type="application/ld+json"]')
    assert "</script" not in script.string and "<script" not in script.string
    assert json.loads(script.string)["name"] == hostile
    assert len(soup.select("script")) == 2  # the JSON-LD and the deferred citations.js
    assert soup.select_one('meta[name="citation_title"]')["content"] == hostile
    assert text(soup.select_one("h1")) == hostile


def test_cited_by_lists_every_place_in_a_stable_order(project: Callable[..., Path]) -> None:
    outputs = site_outputs(project())
    soup = page(outputs, "/references/smith2020trial/")
    items = soup.select(".cited-by > li")
    assert [text(li) for li in items] == [
        "Low back pain",
        "A trial of acupuncture for back pain: cited 2 times, at place 1 on A trial of "
        "acupuncture for back pain, place 2 on A trial of acupuncture for back pain",
        "Checking the claims",
    ]
    assert [a["href"] for a in soup.select(".cited-by a")] == [
        "/conditions/low-back-pain/#cite-smith2020trial-1",
        "/studies/smith-2020/#cite-smith2020trial-1",
        "/studies/smith-2020/#cite-smith2020trial-1",
        "/studies/smith-2020/#cite-smith2020trial-2",
        "/claims/#cite-smith2020trial-1",
    ]
    study = page(outputs, "/studies/smith-2020/")
    assert study.find(id="cite-smith2020trial-2").name == "a"


def study_citations(outputs: Outputs) -> list[str]:
    body = page(outputs, "/studies/smith-2020/").select_one(".body")
    return [str(c) for c in body.select(".citation")]


def test_ama_citations_are_superscripts_after_punctuation(project: Callable[..., Path]) -> None:
    outputs = site_outputs(project())
    body = page(outputs, "/studies/smith-2020/").select_one(".body p")
    assert str(body).startswith(
        '<p>The trial compared acupuncture with usual care.<sup class="citation">'
        '<a class="cite" href="#ref-1" id="cite-smith2020trial-1"'
    )
    assert [text(BeautifulSoup(c, "html.parser")) for c in study_citations(outputs)] == [
        "1,2",
        "1",
    ]


def test_vancouver_numbers_in_brackets_of_its_own(project: Callable[..., Path]) -> None:
    site_yaml = "citation_style: vancouver-nlm\n" + SITE_YAML
    outputs = site_outputs(project({"content/site.yaml": site_yaml}))
    citations = [BeautifulSoup(c, "html.parser").span for c in study_citations(outputs)]
    assert [text(c) for c in citations] == ["(1,2)", "(1)"]
    assert all(c.name == "span" for c in citations)
    entry = page(outputs, "/references/smith2020trial/").select_one("p.citation")
    assert text(entry) == (
        "Smith J, Yüksel K. A randomised trial of acupuncture for MRI-confirmed back pain. "
        "Pain Journal. 2020;10(2):100\u201310. doi:10.1000/pj.2020.1 PubMed PMID: 12345678."
    )


def test_author_date_style_drives_the_whole_site(project: Callable[..., Path]) -> None:
    site_yaml = "citation_style: apa\n" + SITE_YAML
    outputs = site_outputs(project({"content/site.yaml": site_yaml}))
    assert [text(BeautifulSoup(c, "html.parser")) for c in study_citations(outputs)] == [
        "(Smith & Yüksel, 2020; National Back Pain Agency, 2019)",
        "(Smith & Yüksel, 2020)",
    ]
    study = page(outputs, "/studies/smith-2020/")
    assert study.select_one(".references ol") is None
    listed = [a["href"] for a in study.select(".references ul li a.reference-page")]
    assert listed == ["/references/agency2019facts/", "/references/smith2020trial/"]
    everything = page(outputs, "/references/")
    assert [a["href"] for a in everything.select("ul.bibliography a.reference-page")] == listed


def test_collapsed_ranges_keep_an_anchor_for_every_reference(
    project: Callable[..., Path],
) -> None:
    bib = BIB + "\n@book{third2018, author={Third, Tom}, title={Third}, year={2018}}\n"
    study = STUDY.replace(
        "Later we cite the trial again [@smith2020trial].",
        "All three [@agency2019facts; @third2018; @smith2020trial].",
    )
    outputs = site_outputs(
        project({"content/references.bib": bib, "content/studies/smith-2020.md": study})
    )
    sup = page(outputs, "/studies/smith-2020/").select(".body sup.citation")[-1]
    assert str(sup) == (
        '<sup class="citation"><a class="cite" href="#ref-1" id="cite-smith2020trial-2" '
        'title="Smith J, Yüksel K. A randomised trial of acupuncture for MRI-confirmed back '
        'pain. Pain Journal. 2020;10(2):100-110. doi:10.1000/pj.2020.1">1</a><span '
        'id="cite-agency2019facts-2"></span>\u2013<a class="cite" href="#ref-3" '
        'id="cite-third2018-1" title="Third T. Third. 2018.">3</a></sup>'
    )
    assert page(outputs, "/references/agency2019facts/").select(".cited-by a")[-1]["href"] == (
        "/studies/smith-2020/#cite-agency2019facts-2"
    )


def test_whole_bibliography_follows_the_site_citation_order(project: Callable[..., Path]) -> None:
    outputs = site_outputs(project())
    everything = page(outputs, "/references/")
    listed = [a["href"] for a in everything.select("ol.bibliography a.reference-page")]
    references, _ = load_bibliography(BIB, "r.bib")
    order = bibliography_order(
        references, "american-medical-association", ["agency2019facts", "smith2020trial"]
    )
    assert listed == [f"/references/{k}/" for k in order]
    assert listed == ["/references/agency2019facts/", "/references/smith2020trial/"]
