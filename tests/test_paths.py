"""Stage helper: file names safe on every system, and names that would be one file elsewhere."""

import pytest

from backpain_site.paths import collisions, unsafe_name


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("wang-2000.md", None),
        ("café.txt", None),
        ("console.md", None),
        ("..", "'..' is not a file name"),
        ("a\\b.md", "contains a backslash, which Windows reads as a folder separator"),
        ("a:b.md", "contains ':', which Windows does not allow in file names"),
        ('say"hi".md', "contains '\"', which Windows does not allow in file names"),
        ("x\x1b[2J.md", "contains the control character U+001B"),
        ("a\x00b.md", "contains the control character U+0000"),
        ("notes.", "ends with a space or a dot, which Windows drops"),
        ("notes ", "ends with a space or a dot, which Windows drops"),
        ("con.md", "uses 'CON', a device name reserved on Windows"),
        ("AUX", "uses 'AUX', a device name reserved on Windows"),
        ("lpt9.tar.gz", "uses 'LPT9', a device name reserved on Windows"),
        ("com1 .txt", "uses 'COM1', a device name reserved on Windows"),
    ],
)
def test_unsafe_names(name: str, why: str | None) -> None:
    assert unsafe_name(name) == why


def test_collisions_in_case_and_normalisation() -> None:
    paths = ["static/Site.css", "static/site.css", "static/caf\u00e9.txt", "static/cafe\u0301.txt"]
    paths += ["static/CAFE\u0301.TXT", "static/other.css"]
    # In code-point order: 'e' + U+0301 sorts before the composed U+00E9.
    assert collisions(paths) == [
        ("static/cafe\u0301.txt", "static/CAFE\u0301.TXT", "letter case"),
        ("static/caf\u00e9.txt", "static/CAFE\u0301.TXT", "letter case and Unicode normalisation"),
        ("static/site.css", "static/Site.css", "letter case"),
    ]
    assert collisions(["static/caf\u00e9.txt", "static/cafe\u0301.txt"]) == [
        ("static/caf\u00e9.txt", "static/cafe\u0301.txt", "Unicode normalisation")
    ]
    assert collisions(["a", "a", "b"]) == []
