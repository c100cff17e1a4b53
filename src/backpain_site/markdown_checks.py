"""What a Markdown body may hold beyond Markdown, checked before and after conversion.

Input: a body's Markdown text, and the raw HTML fragments Python-Markdown set aside while
converting it. Output: `(line offset in the body, message)` for each thing refused. The sanitiser
(nh3, in markdown_body) removes anything unsafe whatever this module says; these checks make the
removal visible, so an editor learns that a script, a style or a hidden note was in the text
instead of the site silently dropping it. They also refuse the shapes of text that make
Python-Markdown slow (its inline parser rescans a paragraph for every unclosed '[' or '<') or
recurse past Python's limit, so a hostile body costs milliseconds, not minutes.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from html.parser import HTMLParser

from .cache import remembered

MAX_BODY_CHARS = 50_000  # ten times the longest page on the site
MAX_PARAGRAPH_CHARS = 5_000  # Python-Markdown's worst cases grow with the square of this
MAX_OPEN = 16  # unclosed '[', '(' or '<' in one paragraph; prose needs one or two

# Raw HTML an editor may write: inline markup Markdown has no syntax for. Links are refused so
# every link goes through the link check, and id/class so no text can pose as part of the page.
RAW_HTML_TAGS = frozenset(
    {"abbr", "sub", "sup", "br", "em", "strong", "code", "span", "dl", "dt", "dd", "table"}
    | {"thead", "tbody", "tr", "th", "td", "ol", "ul", "li", "p", "blockquote", "hr", "pre"}
)
RAW_HTML_ATTRIBUTES = {
    "abbr": frozenset({"title"}),
    "ol": frozenset({"start"}),
    "th": frozenset({"scope"}),
}

_BACKTICKS = re.compile(r"`+")
_COMMENT_OPEN = re.compile(r"<!--")
_ABRUPT_COMMENT = re.compile(r"<!--->|<!-->")
_BLANK_LINE = re.compile(r"\n[ \t]*\n")


@remembered("markdown-checks")  # cache.py: 2 ms a body, so not again for unchanged text
def unconvertible(text: str) -> list[tuple[int, str]]:
    """Text too long or too open to convert in good time; if any, do not convert it."""
    if len(text) > MAX_BODY_CHARS:
        return [
            (0, f"the text is {len(text):,} characters long (at most {MAX_BODY_CHARS:,}); split it")
        ]
    found: list[tuple[int, str]] = []
    for first, lines in _paragraphs(text):
        size = sum(len(line) + 1 for line in lines) - 1
        if size > MAX_PARAGRAPH_CHARS:
            found.append(
                (
                    first,
                    f"a paragraph of {size:,} characters is too long "
                    f"(at most {MAX_PARAGRAPH_CHARS:,}); split it",
                )
            )
        else:
            found.extend(_open_marks(first, lines))
    return found


def comment_problems(text: str) -> list[tuple[int, str]]:
    """HTML comments that would show: malformed (`<!-->`), or not closed where Python-Markdown
    looks for the end. A comment that starts a line may run over blank lines; one inside a line
    ends with its paragraph."""
    plain = _without_code_spans(text)
    found: list[tuple[int, str]] = []
    for match in _COMMENT_OPEN.finditer(plain):
        offset = plain.count("\n", 0, match.start())
        abrupt = _ABRUPT_COMMENT.match(plain, match.start())
        if abrupt:
            found.append(
                (offset, f"malformed HTML comment '{abrupt.group()}'; write '<!-- note -->'")
            )
            continue
        line_start = plain.rfind("\n", 0, match.start()) + 1
        if not plain[line_start : match.start()].strip(" ") and match.start() - line_start < 4:
            if plain.find("-->", match.end()) < 0:
                found.append(
                    (
                        offset,
                        "an HTML comment opened here is never closed with '-->', "
                        "so readers would see it",
                    )
                )
            continue
        blank = _BLANK_LINE.search(plain, match.end())
        if plain.find("-->", match.end(), blank.start() if blank else len(plain)) < 0:
            found.append(
                (
                    offset,
                    "an HTML comment opened here is not closed with '-->' in the same "
                    "paragraph, so readers would see it",
                )
            )
    return found


def _without_code_spans(text: str) -> str:
    """`text` with each code span blanked to spaces: what is inside one is never markup.
    (Fences are not blanked: the site's converter has no fenced-code extension, so a ``` block
    is read as Markdown like any other.)"""
    return "\n".join(_blank_code_spans(line) for line in text.split("\n"))


def _blank_code_spans(line: str) -> str:
    """A run of n backticks opens a span that the next run of exactly n closes. Found in one
    pass over the runs: a regular expression for this backtracks for minutes on a long run."""
    if "`" not in line:  # most lines: nothing to blank
        return line
    runs = [(m.start(), m.end()) for m in _BACKTICKS.finditer(line)]
    later: dict[int, list[int]] = {}  # run length -> indexes of the runs of that length, reversed
    for index in range(len(runs) - 1, -1, -1):
        later.setdefault(runs[index][1] - runs[index][0], []).append(index)
    blanked = list(line)
    index = 0
    while index < len(runs):
        start, end = runs[index]
        same = later[end - start]
        while same and same[-1] <= index:
            same.pop()
        if same:
            closing = same.pop()
            blanked[start : runs[closing][1]] = " " * (runs[closing][1] - start)
            index = closing + 1
        else:
            index += 1
    return "".join(blanked)


def _paragraphs(text: str) -> Iterable[tuple[int, list[str]]]:
    """(line offset, lines) of each blank-line-separated block, code spans blanked."""
    block: list[str] = []
    start = 0
    for offset, line in enumerate(_without_code_spans(text).split("\n")):
        if line.strip():
            if not block:
                start = offset
            block.append(line)
        elif block:
            yield start, block
            block = []
    if block:
        yield start, block


_MARK = re.compile(r"\\.|[\[\]()<>]")  # an escaped character, or one that opens or closes
_OPENS = {"[": "[", "(": "(", "<": "<"}
_CLOSES = {"]": "[", ")": "("}


def _open_marks(first: int, lines: list[str]) -> list[tuple[int, str]]:
    # Only the marks are visited (found by one regex), not every character: this runs on every
    # body. A count only goes over the limit as it grows, so only the mark just opened is
    # compared; an escaped character, matched with its backslash, counts for nothing.
    open_count = {"[": 0, "(": 0, "<": 0}
    for offset, line in enumerate(lines):
        for match in _MARK.finditer(line):
            char = match.group()
            if char in _OPENS:
                open_count[char] += 1
                if open_count[char] > MAX_OPEN:
                    return [(first + offset, _too_many(char))]
            elif char in _CLOSES:
                opened = _CLOSES[char]
                open_count[opened] = max(0, open_count[opened] - 1)
            elif char == ">":
                open_count["<"] = 0
    return []


def _too_many(mark: str) -> str:
    if mark == "<":
        return (
            f"more than {MAX_OPEN} '<' without a closing '>' in one paragraph; "
            "write '&lt;' for a less-than sign"
        )
    what = "square brackets" if mark == "[" else "parentheses"
    return f"{what} are left open or nested more than {MAX_OPEN} deep in one paragraph"


def printable(text: str, limit: int = 20) -> str:
    """The start of what an editor wrote, safe to print: control characters escaped."""
    return "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in text[:limit])


class _RawHtml(HTMLParser):
    """Collects what a raw HTML fragment holds beyond `RAW_HTML_TAGS` and their attributes."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.refused: list[tuple[str, str]] = []  # (text to find it by, message)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        needle = f"<{tag}"
        if tag == "a":
            self.refused.append(
                (needle, "raw HTML links (<a>) are not allowed; write [text](/studies/slug/)")
            )
        elif tag not in RAW_HTML_TAGS:
            self.refused.append(
                (needle, f"raw HTML <{printable(tag)}> is not allowed; write Markdown")
            )
        else:
            allowed = RAW_HTML_ATTRIBUTES.get(tag, frozenset())
            refused = ", ".join(f"'{printable(name)}'" for name, _ in attrs if name not in allowed)
            if refused:
                self.refused.append((needle, f"raw HTML <{tag}> may not have {refused}"))

    def handle_pi(self, data: str) -> None:
        self.refused.append(("<?", f"raw HTML '<?{printable(data)}' is not allowed"))

    def handle_decl(self, decl: str) -> None:
        self.refused.append(("<!", f"raw HTML '<!{printable(decl)}>' is not allowed"))

    def unknown_decl(self, data: str) -> None:
        self.refused.append(("<![", f"raw HTML '<![{printable(data)}' is not allowed"))


def raw_html_problems(fragments: Iterable[str]) -> list[tuple[str, str]]:
    """`(text to find it by, message)` for each tag or attribute refused in raw HTML."""
    refused: list[tuple[str, str]] = []
    for fragment in fragments:
        parser = _RawHtml()
        try:
            parser.feed(fragment)
            parser.close()
        except AssertionError:
            # Python's HTML parser gives up on some broken declarations ('<![' followed by no
            # name raises AssertionError in _markupbase): HTML it cannot read is refused whole.
            needle = "<!" if "<!" in fragment else "<"
            refused.append((needle, f"raw HTML '{printable(fragment.strip())}' cannot be read"))
            continue
        refused.extend(parser.refused)
    return refused


def locate(text: str, found: Iterable[tuple[str, str]]) -> list[tuple[int, str]]:
    """`(line offset, message)` for `(needle, message)` pairs: the n-th message about a needle
    points at its n-th occurrence outside code spans (or at the first line if not found)."""
    searched = _without_code_spans(text).lower()
    cursor: dict[str, int] = {}
    located = []
    for needle, message in found:
        at = searched.find(needle.lower(), cursor.get(needle, 0))
        cursor[needle] = at + 1 if at >= 0 else cursor.get(needle, 0)
        located.append((searched.count("\n", 0, at) if at >= 0 else 0, message))
    return located


def browser_url(href: str) -> str:
    """An href as a browser reads it: entities decoded, tabs and line breaks dropped anywhere,
    control characters and spaces trimmed at the ends (`jav&#x09;ascript:` is `javascript:`)."""
    decoded = re.sub(r"[\t\n\r]", "", html.unescape(href))
    return decoded.strip("".join(chr(c) for c in range(0x21)))
