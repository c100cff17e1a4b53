"""Stage: reading files -> located YAML nodes. Exact problems, exact lines."""

from backpain_site.frontmatter import Mapping, Scalar, Sequence, decode, split_document
from backpain_site.problems import error


def test_front_matter_lines_are_file_lines() -> None:
    doc, problems = split_document(b"---\ntitle: Hi\nlist:\n  - a\n  - b\n---\nBody\n", "x.md")
    assert problems == []
    assert doc is not None
    title = doc.meta.get("title")
    assert isinstance(title, Scalar) and (title.text, title.line) == ("Hi", 2)
    items = doc.meta.get("list")
    assert isinstance(items, Sequence) and [i.line for i in items.items] == [4, 5]
    assert doc.body == "Body\n" and doc.body_line == 7


def test_bom_and_crlf_are_accepted() -> None:
    doc, problems = split_document(b"\xef\xbb\xbf---\r\ntitle: Hi\r\n---\r\nBody\r\n", "x.md")
    assert problems == [] and doc is not None and doc.body == "Body\n"


def test_yaml_syntax_error_is_reported_at_the_file_line() -> None:
    _, problems = split_document(b"---\ntitle: Hi\nbad: [unclosed\nnext: 1\n---\n", "x.md")
    assert len(problems) == 1
    assert problems[0].path == "x.md" and problems[0].line in (4, 5)
    assert problems[0].message.startswith("YAML syntax error")


def test_unterminated_front_matter() -> None:
    assert split_document(b"---\ntitle: Hi\n", "x.md")[1] == [
        error("x.md", 1, "the front matter opened on line 1 is never closed with a '---' line")
    ]


def test_empty_file() -> None:
    assert split_document(b"", "x.md")[1] == [
        error("x.md", 1, "the file is empty; expected front matter between '---' lines")
    ]


def test_missing_opening_line() -> None:
    assert split_document(b"title: Hi\n", "x.md")[1] == [
        error("x.md", 1, "the file must start with a '---' line opening the front matter")
    ]


def test_duplicate_keys() -> None:
    assert split_document(b"---\ntitle: A\ntitle: B\n---\n", "x.md")[1] == [
        error("x.md", 3, "duplicate key 'title' (first given on line 2)")
    ]


def test_aliases_are_refused() -> None:
    text = b"---\na: &x [1, 2]\nb: *x\n---\n"
    assert split_document(text, "x.md")[1] == [
        error("x.md", 3, "YAML aliases (*name) are not allowed; write the value")
    ]


def test_python_tags_are_refused() -> None:
    text = b"---\na: !!python/object/apply:os.system ['echo hi']\n---\n"
    problems = split_document(text, "x.md")[1]
    assert problems == [
        error(
            "x.md", 2, "YAML tag 'tag:yaml.org,2002:python/object/apply:os.system' is not allowed"
        )
    ]


def test_list_at_top_level_is_refused() -> None:
    assert split_document(b"---\n- a\n- b\n---\n", "x.md")[1] == [
        error("x.md", 2, "expected 'key: value' lines (a mapping) at the top")
    ]


def test_invalid_utf8_names_line_and_column() -> None:
    text, problems = decode(b"---\ntitle: caf" + b"\xe9\n", "x.md")
    assert text is None
    assert problems == [
        error("x.md", 2, "column 11: not valid UTF-8 (byte 0xe9); save the file as UTF-8")
    ]


def test_yes_no_stay_scalars_with_their_yaml_type() -> None:
    doc, _ = split_document(b"---\na: no\nb: 'no'\n---\n", "x.md")
    assert doc is not None
    a, b = doc.meta.get("a"), doc.meta.get("b")
    assert isinstance(a, Scalar) and a.tag.endswith(":bool")
    assert isinstance(b, Scalar) and b.tag.endswith(":str")
    assert isinstance(doc.meta, Mapping)


def test_decode_counts_lines_and_columns_as_an_editor_does() -> None:
    # Characters, not bytes; CR-only line endings; a BOM is not a column.
    assert decode("---\rtitle: é".encode() + b"\xff", "x.md")[1] == [
        error("x.md", 2, "column 9: not valid UTF-8 (byte 0xff); save the file as UTF-8")
    ]
    assert decode(b"\xef\xbb\xbf\xff", "x.md")[1] == [
        error("x.md", 1, "column 1: not valid UTF-8 (byte 0xff); save the file as UTF-8")
    ]
    assert decode(b"a\r\nbb\x00", "x.md")[1] == [
        error("x.md", 2, "column 3: a NUL character; save the file as UTF-8 text")
    ]
    assert decode("a\nb \u202e c".encode(), "x.md")[1] == [
        error(
            "x.md",
            2,
            "column 3: invisible character U+202E (RIGHT-TO-LEFT OVERRIDE) is not allowed; "
            "delete it",
        )
    ]
    assert decode("\ufeffcafe\u0301\r\n".encode(), "x.md") == ("caf\u00e9\n", [])


def test_yaml_errors_stay_on_lines_of_the_file() -> None:
    # libyaml can point just past the end; the problem stays on the file's last line.
    assert split_document(b"---\ntitle: A\nno\n---\n", "x.md")[1] == [
        error("x.md", 3, "YAML syntax error: could not find expected ':'")
    ]
    deep = b"---\ntitle: " + b"[" * 50 + b"]" * 50 + b"\n---\n"
    assert split_document(deep, "x.md")[1] == [
        error("x.md", 2, "values are nested more than 20 levels deep")
    ]
