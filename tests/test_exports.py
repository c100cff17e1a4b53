"""Downloads: references -> BibTeX, RIS and CSL-JSON bytes that load back in their tools."""

from __future__ import annotations

import json
from io import BytesIO
from pathlib import Path

import bibtexparser
import pytest
import rispy
from citeproc import Citation, CitationItem, CitationStylesBibliography, CitationStylesStyle
from citeproc import formatter as citeproc_formatter
from citeproc.source.json import CiteProcJSON

from backpain_site.bibliography import Reference, load_bibliography
from backpain_site.csl import load_style
from backpain_site.csl_data import to_csl_json
from backpain_site.exports import bibtex, csl_json, export, ris

DATA = Path(__file__).parent / "data"
REPO = Path(__file__).resolve().parent.parent


def load(text: str) -> list[Reference]:
    references, problems = load_bibliography(text, "r.bib")
    assert problems == []
    return references


@pytest.fixture(scope="module")
def tricky() -> list[Reference]:
    return load((DATA / "csl_entries.bib").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def real() -> list[Reference]:
    return load((REPO / "content" / "references.bib").read_text(encoding="utf-8"))


def without_note(reference: Reference) -> tuple[object, ...]:
    fields = tuple((k, v) for k, v in reference.fields if k != "note")
    return (reference.key, reference.entry_type, fields, reference.authors, reference.editors)


@pytest.mark.parametrize("which", ["tricky", "real"])
def test_bibtex_loads_back_in_bibtexparser_unchanged(
    which: str, request: pytest.FixtureRequest
) -> None:
    references: list[Reference] = request.getfixturevalue(which)
    text = bibtex(references).decode("utf-8")
    library = bibtexparser.parse_string(text)
    assert library.failed_blocks == []
    assert [e.key for e in library.entries] == [r.key for r in references]
    # Read back by the site's own loader: every decoded field, name and type is the same.
    assert [without_note(r) for r in load(text)] == [without_note(r) for r in references]


def test_bibtex_keeps_latex_and_protective_braces_and_drops_editors_notes() -> None:
    (reference,) = load(
        "@article{m2015,\n"
        '  author = {M{\\"u}ller, J{\\"o}rg and {World Health Organization}},\n'
        '  title = {{MRI} in {Z}{\\"u}rich},\n'
        "  journal = {Acta},\n"
        "  year = 2015,\n"
        "  month = mar,\n"
        "  note = {UNVERIFIED: the pages},\n"
        "  doi = {10.1000/a_b%20c},\n"
        "}\n"
    )
    assert bibtex([reference]).decode() == (
        "@article{m2015,\n"
        '  author  = {M{\\"u}ller, J{\\"o}rg and {World Health Organization}},\n'
        '  title   = {{MRI} in {Z}{\\"u}rich},\n'
        "  journal = {Acta},\n"
        "  year    = {2015},\n"
        "  month   = mar,\n"
        "  doi     = {10.1000/a_b%20c},\n"
        "}\n"
    )


def test_ris_has_a_ty_and_er_per_record_and_loads_in_rispy(tricky: list[Reference]) -> None:
    text = ris(tricky).decode("utf-8")
    records = text.strip("\n").split("\n\n")
    assert len(records) == len(tricky)
    for record in records:
        lines = record.split("\n")
        assert lines[0].startswith("TY  - ") and lines[-1] == "ER  - ", record
        assert all(line[2:6] == "  - " and line[:2].isalnum() for line in lines), record
    loaded = rispy.loads(text)
    assert [r["id"] for r in loaded] == [r.key for r in tricky]
    by_id = {r["id"]: r for r in loaded}
    assert by_id["articlenumber2019"] == {
        "type_of_reference": "JOUR",
        "authors": ["Yen, Chia-Ming", "Lin, Yi-Wen"],
        "title": "An article number instead of pages",
        "secondary_title": "International Journal of Examples",
        "year": "2019",
        "volume": "20",
        "number": "18",
        "start_page": "4471",
        "doi": "10.3390/ije20184471",
        "name_of_database": "PubMed",
        "accession_number": "31510092",
        "notes": ["PMCID: PMC6769885"],
        "id": "articlenumber2019",
    }
    assert by_id["chapter2011"]["type_of_reference"] == "CHAP"
    # ED is the RIS spec's editor tag, which Zotero reads; rispy keeps it as an unknown tag.
    assert by_id["chapter2011"]["unknown_tag"] == {"ED": ["Dagenais, Simon", "Haldeman, Scott"]}
    assert by_id["vonparticle2013"]["authors"][0] == "van der Berg, Anna"
    assert by_id["vonparticle2013"]["authors"][3] == "Smith, John, Jr."
    assert by_id["ninds2023online"]["type_of_reference"] == "ELEC"
    assert by_id["software2022"]["type_of_reference"] == "COMP"
    assert by_id["protocol2019trial"]["notes"] == [
        "PMCID: PMC6335765",
        "Trial registration: NCT03350789",
    ]
    assert (by_id["pagerange2008"]["start_page"], by_id["pagerange2008"]["end_page"]) == (
        "2464",
        "2472",
    )


def test_ris_of_the_real_bibliography_loads(real: list[Reference]) -> None:
    loaded = rispy.loads(ris(real).decode("utf-8"))
    assert [r["id"] for r in loaded] == [r.key for r in real]
    assert all(r["title"] and r["type_of_reference"] for r in loaded)
    assert not any("UNVERIFIED" in json.dumps(r) for r in loaded)


def test_csl_json_loads_in_citeproc_py(tricky: list[Reference]) -> None:
    items = json.loads(csl_json(tricky))
    assert items == [to_csl_json(r) for r in tricky]
    source = CiteProcJSON(items)
    assert sorted(source) == sorted(r.key.lower() for r in tricky)  # citeproc-py lowercases ids
    bibliography = CitationStylesBibliography(
        CitationStylesStyle(BytesIO(load_style("vancouver-nlm").xml), validate=False),
        source,
        citeproc_formatter.plain,
    )
    bibliography.register(Citation([CitationItem(r.key) for r in tricky]))
    assert len(bibliography.bibliography()) == len(tricky)


def test_export_chooses_the_format_by_extension(real: list[Reference]) -> None:
    assert export(real[:2], "bib") == bibtex(real[:2])
    assert export(real[:2], "ris") == ris(real[:2])
    assert export(real[:2], "json") == csl_json(real[:2])
    for extension in ("bib", "ris", "json"):
        assert b"UNVERIFIED" not in export(real, extension)
