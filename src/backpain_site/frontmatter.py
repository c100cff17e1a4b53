"""Reading content files: bytes -> text -> (front-matter node tree, Markdown body).

Input: a file's bytes and its display path. Output: a `SourceDocument` whose YAML is kept as
located nodes (every value knows its line in the *file*), or a list of `Problem`s.
YAML is composed with PyYAML's safe (C where available) composer and never constructed into
Python objects here: the schema decides what type each value must have, so `no` where text is
expected is reported instead of silently becoming False.
"""

from __future__ import annotations

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
    """UTF-8 (with or without BOM, any line endings) -> text with `\\n` line endings."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        before = data[: exc.start]
        line = before.count(b"\n") + 1
        column = exc.start - (before.rfind(b"\n") + 1) + 1
        return None, [
            error(
                path,
                line,
                f"column {column}: not valid UTF-8 (byte 0x{data[exc.start]:02x}); "
                "save the file as UTF-8",
            )
        ]
    if "\x00" in text:
        line = text[: text.index("\x00")].count("\n") + 1
        return None, [error(path, line, "the file contains a NUL character")]
    return text.replace("\r\n", "\n").replace("\r", "\n"), []


def parse_yaml(text: str, path: str, first_line: int = 1) -> tuple[Mapping | None, list[Problem]]:
    """Compose YAML text into located nodes; the top level must be a mapping."""
    try:
        root = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = first_line + (mark.line if mark else 0)
        what = exc.problem or "invalid YAML"
        return None, [error(path, line, f"YAML syntax error: {what}")]
    except yaml.YAMLError as exc:
        return None, [error(path, first_line, f"YAML error: {exc}")]
    alias = _first_alias(text) if "*" in text else None
    if alias is not None:
        message = "YAML aliases (*name) are not allowed; write the value"
        return None, [error(path, first_line + alias, message)]
    if root is None:
        return None, [error(path, first_line, "front matter is empty; expected 'key: value' lines")]
    problems: list[Problem] = []
    node = _convert(root, path, first_line, set(), problems)
    if problems:
        return None, problems
    if not isinstance(node, Mapping):
        return None, [error(path, node.line, "expected 'key: value' lines (a mapping) at the top")]
    return node, []


def _first_alias(text: str) -> int | None:
    """Line (0-based) of the first alias; composing hides where an alias was written."""
    for event in yaml.parse(text, Loader=_Loader):
        if isinstance(event, yaml.AliasEvent) and event.start_mark is not None:
            return int(event.start_mark.line)
    return None


def _convert(
    node: yaml.Node, path: str, offset: int, seen: set[int], problems: list[Problem]
) -> Node:
    line = offset + node.start_mark.line
    # Composed aliases are the same node object twice; refusing them stops alias bombs.
    if id(node) in seen:
        problems.append(error(path, line, "YAML aliases (*name) are not allowed; write the value"))
        return Scalar("", STR_TAG, line, False)
    seen.add(id(node))
    if len(seen) > _MAX_NODES:
        problems.append(error(path, line, f"front matter has more than {_MAX_NODES} values"))
        return Scalar("", STR_TAG, line, False)
    if node.tag not in _STANDARD_TAGS:
        problems.append(error(path, line, f"YAML tag '{node.tag}' is not allowed"))
        return Scalar("", STR_TAG, line, False)
    if isinstance(node, yaml.ScalarNode):
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
