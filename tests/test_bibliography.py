"""Stage: references.bib -> Reference values, with problems at the .bib's own lines."""

from backpain_site.bibliography import Name, load_bibliography
from backpain_site.problems import error, warning


def test_latex_is_decoded_and_protective_braces_dropped() -> None:
    refs, problems = load_bibliography(
        '@article{a,\n  author = {Y{\\"u}ksel, K. and {World Health Organization}},\n'
        "  title = {{MRI} and 50% of {\\&} pain},\n  doi = {10.1000/a_b%20c},\n}\n",
        "r.bib",
    )
    assert problems == []
    (ref,) = refs
    assert ref.authors == (
        Name(family="Yüksel", given="K."),
        Name(literal="World Health Organization"),
    )
    assert ref.get("title") == "MRI and 50% of & pain"
    assert ref.get("doi") == "10.1000/a_b%20c"
    assert ref.line == 1


def test_every_bad_entry_is_reported_at_its_line() -> None:
    text = (
        "@article{ok, title={Fine}, doi={10.1000/x}}\n"  # 1
        "@article{dupdoi, title={Same DOI}, doi={10.1000/X}}\n"  # 2
        "@article{ok, title={Again}}\n"  # 3
        "@article{twice, title={A}, title={B}}\n"  # 4
        "@article{badids, title={T}, doi={doi.org/1}, pmid={PM1}}\n"  # 5
        "@artcle{typo, title={T}}\n"  # 6
        "@article{comma,\n title={T}\n year={2020}\n}\n"  # 7-10
        "@article{field, title={T}, jurnal={J}}\n"  # 11
    )
    _, problems = load_bibliography(text, "r.bib")
    assert sorted(problems) == sorted(
        [
            error("r.bib", 2, "entry 'dupdoi' has the same DOI as 'ok'"),
            error("r.bib", 3, "duplicate entry key 'ok'"),
            error("r.bib", 4, "entry 'twice' gives title more than once"),
            error(
                "r.bib",
                5,
                "entry 'badids': doi 'doi.org/1' is not well-formed (a DOI looks like 10.1234/abc)",
            ),
            error("r.bib", 5, "entry 'badids': pmid 'PM1' is not well-formed (a PMID is a number)"),
            error("r.bib", 6, "entry 'typo' has unknown type '@artcle' (did you mean 'article'?)"),
            error("r.bib", 9, "entry 'comma': missing comma before field 'year'"),
            warning(
                "r.bib",
                11,
                "entry 'field': unknown field 'jurnal' is ignored (did you mean 'journal'?)",
            ),
        ]
    )


def test_unbalanced_braces() -> None:
    _, problems = load_bibliography("@article{a, title={T}\n@article{b, title={U}}\n", "r.bib")
    assert len(problems) == 1
    assert problems[0].line == 1 and problems[0].message.startswith("entry 'a' could not be read")


def test_references_share_field_names_and_plain_values_are_held_once() -> None:
    """A reference keeps each field as shown and as written (for downloads): a value written
    plainly is one string for both, and every reference names its fields with the same
    strings (together about 0.8 KB a reference, held by a whole build from start to end)."""
    refs, problems = load_bibliography(
        "@article{a,\n  title = {Plain title},\n  journal = {{MRI} Journal},\n  year = {2020},\n}\n"
        "@article{b,\n  title = {Other title},\n  year = {2021},\n}\n",
        "r.bib",
    )
    assert problems == []
    first, second = refs
    assert first.fields[0][0] is second.fields[0][0] and first.fields[0][0] == "title"
    written = dict(first.source_fields)
    for name, shown in first.fields:
        assert (shown is written[name]) == (shown == written[name]), name
    assert first.get("journal") == "MRI Journal" and written["journal"] == "{MRI} Journal"
