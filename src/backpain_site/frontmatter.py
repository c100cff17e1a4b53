"""Reading content files: bytes -> text -> (front-matter node tree, Markdown body).

Input: a file's bytes and its display path. Output: a `SourceDocument` whose YAML is kept as
located nodes (every value knows its line in the *file*), or a list of `Problem`s.
YAML is composed with PyYAML's safe (C where available) composer and never constructed into
Python objects here: the schema decides what type each value must have, so `no` where text is
expected is reported instead of silently becoming False.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

import yaml

from .problems import Problem, error

try:  # The C composer is much faster; both are safe (no arbitrary tags are constructed).
    _Loader: type = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - depends on how PyYAML was built
    _Loader = yaml.SafeLoader

STR_TAG = "tag:yaml.org,2002:str"
_STANDARD_TAGS = {
    STR_TAG,
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:null",
    "tag:yaml.org,2002:timestamp",
    "tag:yaml.org,2002:seq",
    "tag:yaml.org,2002:map",
}
_MAX_NODES = 10_000  # A front matter is a few dozen values; more means something hostile.
_MAX_DEPTH = 20  # The deepest real value (a finding's list of studies) is 4 levels down.
# Characters that no editor means to type: C0/C1 controls (tab and line breaks aside), Unicode
# line separators (YAML counts them as line breaks, so every later line number would be off),
# bidirectional overrides and isolates (they make text display in an order other than it is
# stored: "Trojan Source"), and a byte-order mark anywhere but at the start.
_INVISIBLE = re.compile(
    "[\x01-\x08\x0b-\x0c\x0e-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff]"
)
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")


@dataclass(frozen=True)
class Scalar:
    text: str
    tag: str  # what YAML would make of it: str, int, bool, timestamp, null, float
    line: int
    quoted: bool


@dataclass(frozen=True)
class Sequence:
    items: tuple[Node, ...]
    line: int


@dataclass(frozen=True)
class Mapping:
    entries: tuple[tuple[Scalar, Node], ...]
    line: int

    def get(self, key: str) -> Node | None:
        for k, v in self.entries:
            if k.text == key:
                return v
        return None


Node = Scalar | Sequence | Mapping


@dataclass(frozen=True)
class SourceDocument:
    path: str
    meta: Mapping
    body: str
    body_line: int  # file line of the body's first line


def decode(data: bytes, path: str) -> tuple[str | None, list[Problem]]:
    """UTF-8 (with or without BOM, any line endings) -> NFC text with `\\n` line endings."""
    if data.startswith(_UTF16_BOMS):
        return None, [error(path, 1, "the file is saved as UTF-16; save it as UTF-8")]
    data = data.removeprefix(b"\xef\xbb\xbf")  # so error positions count from the text
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        before = data[: exc.start].replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        line = before.count(b"\n") + 1
        # Columns in characters, as an editor counts them (everything before the byte is UTF-8).
        column = len(before[before.rfind(b"\n") + 1 :].decode("utf-8")) + 1
        return None, [
            error(
                path,
                line,
                f"column {column}: not valid UTF-8 (byte 0x{data[exc.start]:02x}); "
                "save the file as UTF-8",
            )
        ]
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if "\x00" in text:
        before_nul = text[: text.index("\x00")]
        line = before_nul.count("\n") + 1
        column = len(before_nul) - (before_nul.rfind("\n") + 1) + 1
        return None, [
            error(path, line, f"column {column}: a NUL character; save the file as UTF-8 text")
        ]
    hidden = _INVISIBLE.search(text)
    if hidden:
        before_text = text[: hidden.start()]
        line = before_text.count("\n") + 1
        column = hidden.start() - (before_text.rfind("\n") + 1) + 1
        return None, [
            error(
                path,
                line,
                f"column {column}: {_describe_invisible(hidden.group())} is not allowed; delete it",
            )
        ]
    # One spelling per character: 'é' typed as one code point or as 'e' plus an accent
    # must match when keys, slugs and citations are compared.
    return unicodedata.normalize("NFC", text), []


def _describe_invisible(char: str) -> str:
    return (
        f"invisible character U+{ord(char):04X} ({unicodedata.name(char, 'a control character')})"
    )


def parse_yaml(text: str, path: str, first_line: int = 1) -> tuple[Mapping | None, list[Problem]]:
    """Compose YAML text into located nodes; the top level must be a mapping."""
    try:
        hazard = _hazard(text)
        root = None if hazard else yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        # libyaml may place the mark just past the end of the text; keep it on a real line.
        line = first_line + min(mark.line if mark else 0, text.rstrip("\n").count("\n"))
        what = exc.problem or "invalid YAML"
        return None, [error(path, line, f"YAML syntax error: {what}")]
    except yaml.YAMLError as exc:
        what = str(exc).strip().splitlines()[0] if str(exc).strip() else "invalid YAML"
        return None, [error(path, first_line, f"YAML error: {what}")]
    if hazard is not None:
        return None, [error(path, first_line + hazard[0], hazard[1])]
    if root is None:
        return None, [error(path, first_line, "front matter is empty; expected 'key: value' lines")]
    problems: list[Problem] = []
    node = _convert(root, path, first_line, set(), problems)
    if problems:
        return None, problems
    if not isinstance(node, Mapping):
        return None, [error(path, node.line, "expected 'key: value' lines (a mapping) at the top")]
    return node, []


def _hazard(text: str) -> tuple[int, str] | None:
    """(0-based line, message) of the first alias, too-deep nesting or too many values.

    Read from the event stream, before anything is composed: composing hides where an alias was
    written, and a deeply nested or huge document is refused before it costs memory or recursion.
    """
    depth = values = 0
    for event in yaml.parse(text, Loader=_Loader):
        line = int(event.start_mark.line) if event.start_mark is not None else 0
        if isinstance(event, yaml.AliasEvent):
            return line, "YAML aliases (*name) are not allowed; write the value"
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > _MAX_DEPTH:
                return line, f"values are nested more than {_MAX_DEPTH} levels deep"
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1
        if isinstance(event, yaml.NodeEvent):
            values += 1
            if values > _MAX_NODES:
                return line, f"front matter has more than {_MAX_NODES} values"
    return None


def _convert(
    node: yaml.Node, path: str, offset: int, seen: set[int], problems: list[Problem]
) -> Node:
    line = offset + node.start_mark.line
    # Composed aliases are the same node object twice; refusing them stops alias bombs even if
    # one slipped past `_hazard`.
    if id(node) in seen:
        problems.append(error(path, line, "YAML aliases (*name) are not allowed; write the value"))
        return Scalar("", STR_TAG, line, False)
    seen.add(id(node))
    if node.tag == "tag:yaml.org,2002:merge":
        problems.append(error(path, line, "YAML merge keys ('<<') are not allowed; write the keys"))
        return Scalar("", STR_TAG, line, False)
    if node.tag not in _STANDARD_TAGS:
        problems.append(error(path, line, f"YAML tag '{node.tag}' is not allowed"))
        return Scalar("", STR_TAG, line, False)
    if isinstance(node, yaml.ScalarNode):
        # A quoted YAML escape ("\\u202e", "\\0") can spell what `decode` refuses in the file.
        hidden = _INVISIBLE.search(node.value) or re.search("\x00", node.value)
        if hidden:
            problems.append(
                error(path, line, f"{_describe_invisible(hidden.group())} is not allowed")
            )
            return Scalar("", STR_TAG, line, False)
        return Scalar(str(node.value), node.tag, line, node.style in ("'", '"', "|", ">"))
    if isinstance(node, yaml.SequenceNode):
        items = tuple(_convert(item, path, offset, seen, problems) for item in node.value)
        return Sequence(items, line)
    assert isinstance(node, yaml.MappingNode)
    entries: list[tuple[Scalar, Node]] = []
    keys_seen: dict[str, int] = {}
    for key_node, value_node in node.value:
        key = _convert(key_node, path, offset, seen, problems)
        value = _convert(value_node, path, offset, seen, problems)
        if not isinstance(key, Scalar):
            problems.append(error(path, key.line, "a key must be a plain word"))
            continue
        if key.text in keys_seen:
            problems.append(
                error(
                    path,
                    key.line,
                    f"duplicate key '{key.text}' (first given on line {keys_seen[key.text]})",
                )
            )
            continue
        keys_seen[key.text] = key.line
        entries.append((key, value))
    return Mapping(tuple(entries), line)


def split_document(data: bytes, path: str) -> tuple[SourceDocument | None, list[Problem]]:
    """A Markdown file with YAML front matter between `---` lines -> `SourceDocument`."""
    text, problems = decode(data, path)
    if text is None:
        return None, problems
    if not text.strip():
        return None, [
            error(path, 1, "the file is empty; expected front matter between '---' lines")
        ]
    lines = text.split("\n")
    if lines[0].rstrip() != "---":
        return None, [
            error(path, 1, "the file must start with a '---' line opening the front matter")
        ]
    for index in range(1, len(lines)):
        if lines[index].rstrip() in ("---", "..."):
            break
    else:
        return None, [
            error(path, 1, "the front matter opened on line 1 is never closed with a '---' line")
        ]
    meta, problems = parse_yaml("\n".join(lines[1:index]), path, first_line=2)
    if meta is None:
        return None, problems
    body = "\n".join(lines[index + 1 :])
    return SourceDocument(path, meta, body, body_line=index + 2), []
