"""Stage: finding citations in Markdown and numbering them per page."""

from backpain_site.citations import CitationUse, find_citations, number_in_order


def test_finds_single_and_grouped_citations_with_lines() -> None:
    body = "First [@a].\nThen [@b; @a] and [@c].\n"
    assert find_citations(body, 10) == [
        CitationUse("a", 10),
        CitationUse("b", 11),
        CitationUse("a", 11),
        CitationUse("c", 11),
    ]


def test_code_is_not_cited() -> None:
    body = "```\n[@inside]\n```\nUse `[@inline]` to cite; [@real].\n"
    assert find_citations(body, 1) == [CitationUse("real", 4)]


def test_links_are_not_citations() -> None:
    assert find_citations("[@handle](https://example.org)", 1) == []


def test_numbering_follows_first_use() -> None:
    assert number_in_order(["b", "a", "b", "c", "a"]) == {"b": 1, "a": 2, "c": 3}
