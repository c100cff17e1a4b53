"""Starting files for `backpain-site new`: a content type's `Schema` -> a commented file.

Input: the `Schema` of a content type, the values already known (from a BibTeX entry, the
project's conditions, today's date) and the slug. Output: the text of a Markdown file whose
front matter holds every field of the schema, in the schema's order, each under a comment that
says what it means and what it may hold. Whatever an editor still has to write or check is
marked `FILL IN`; `placeholder_problems` finds any left in a file that is about to be published.
Nothing here reads or writes files.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import textwrap
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from .bibliography import Reference
from .fieldhelp import choice_meaning, field_help
from .problems import Problem, error
from .schema import CLAIM, CONDITION, PAGE, STUDY, Field, Kind, Schema

PLACEHOLDER = "FILL IN"
_WIDTH = 100


@dataclass(frozen=True)
class Known:
    """A value `new` can write for a field, and why an editor must still check it (if so)."""

    yaml: str  # what follows 'key:'; a list starts with a newline
    check: str = ""


def quoted(text: str) -> str:
    """`text` as a YAML double-quoted scalar (JSON's escapes are a subset of YAML's)."""
    return json.dumps(text, ensure_ascii=False)


def listed(items: Iterable[str]) -> str:
    return "".join(f"\n  - {item}" for item in items)


def _comment(text: str, indent: str = "") -> list[str]:
    return textwrap.wrap(
        text,
        _WIDTH,
        initial_indent=f"{indent}# ",
        subsequent_indent=f"{indent}#   ",
        break_on_hyphens=False,
        break_long_words=False,
    )


def _field_comment(field: Field, indent: str = "") -> list[str]:
    meanings = [(choice, choice_meaning(choice)) for choice in field.choices]
    if not any(meaning for _, meaning in meanings):
        return _comment(f"{field.name}: {field_help(field)}", indent)
    need = "required" if field.required else "optional"
    lines = _comment(f"{field.name}: {field.description} ({need}; one of these values)", indent)
    for choice, meaning in meanings:
        lines += _comment(f"  {choice} = {meaning}" if meaning else f"  {choice}", indent)
    return lines


def _fill(what: str) -> str:
    return quoted(f"{PLACEHOLDER}: {what}")


def _default_value(field: Field) -> Known:
    """What a required field gets when nothing better is known: valid, but marked."""
    choose = "choose the right value"
    if field.kind is Kind.TEXT:
        return Known(_fill(field.description))
    if field.kind is Kind.CHOICE:
        return Known(field.choices[0], choose)
    if field.kind is Kind.INTEGER:
        return Known(str(field.minimum or 0), "write the right number")
    if field.kind is Kind.BOOLEAN:
        return Known("false", choose)
    if field.kind is Kind.LIST:
        assert field.item is not None
        what = field.description if field.item.kind is Kind.TEXT else field.item.description
        return Known(listed([_fill(what)] * max(field.min_items, 1)))
    return Known(_fill(field.description))


def _example(field: Field, indent: str) -> list[str]:
    """An optional field as commented-out lines to uncomment (no FILL IN: leaving it out is
    a choice, not an omission)."""
    lines = _field_comment(field, indent)
    lines += _comment("to use it, delete the '# ' at the start of the lines below", indent)
    if field.kind is Kind.LIST and field.item is not None and field.item.kind is Kind.OBJECT:
        lines.append(f"{indent}# {field.name}:")
        for position, sub in enumerate(field.item.fields):
            lead = "  - " if position == 0 else "    "
            lines += [f"{indent}# {line}" for line in _field_comment(sub, "    ")]
            lines.append(f"{indent}# {lead}{sub.name}: {_sample(sub)}")
        return lines
    lines.append(f"{indent}# {field.name}: {_sample(field)}")
    return lines


def _sample(field: Field) -> str:
    if field.kind is Kind.INTEGER:
        return str(field.minimum or 0)
    if field.kind is Kind.CHOICE:
        return field.choices[0]
    if field.kind is Kind.LIST:
        assert field.item is not None
        return f"[{_sample(field.item)}]"
    if field.kind is Kind.BOOLEAN:
        return "false"
    if field.kind is Kind.DATE:
        return "2025-01-31"
    return quoted(field.description)


def front_matter(schema: Schema, known: Mapping[str, Known]) -> str:
    """Every field of `schema`, commented, with `known` values or marked placeholders."""
    lines = ["---"]
    for field in schema.fields:
        value = known.get(field.name)
        if value is None and not field.required:
            lines += _example(field, "")
            continue
        value = value or _default_value(field)
        lines += _field_comment(field)
        mark = f"  # {PLACEHOLDER}: {value.check}" if value.check else ""
        if value.yaml.startswith("\n"):
            lines.append(f"{field.name}:{mark}")
            lines += value.yaml[1:].split("\n")
        else:
            lines.append(f"{field.name}: {value.yaml}{mark}")
    lines.append("---")
    return "\n".join(lines) + "\n"


# What a paper's title (or keywords) says about its design, strongest signal first. Only a
# hint: `new` marks the value for an editor to check against the paper.
_DESIGN_HINTS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (design, re.compile(pattern))
    for design, pattern in (
        ("trial-protocol", r"\bprotocol\b"),
        ("overview-of-reviews", r"\boverview of (?:systematic )?reviews\b|\bumbrella review\b"),
        ("meta-analysis", r"\bmeta-?analys[ie]s\b"),
        ("systematic-review", r"\bsystematic review\b"),
        ("guideline", r"\bguidelines?\b"),
        ("bibliometric-analysis", r"\bbibliometric"),
        ("prevalence-review", r"\bprevalence\b.*\breview\b|\breview\b.*\bprevalence\b"),
        ("case-report", r"\bcase report\b|\ba case of\b"),
        ("case-series", r"\bcase series\b"),
        ("animal-study", r"\b(?:rats?|mice|mouse|murine|rabbits?|animals?|dogs?|horses?)\b"),
        ("non-randomised-trial", r"\bnon-?randomi[sz]ed\b"),
        ("rct", r"\brandomi[sz]ed\b|\brandomi[sz]ation\b|\brct\b"),
        ("cross-sectional-survey", r"\bsurvey\b|\bquestionnaire\b"),
        (
            "imaging-study",
            r"\bf?mri\b|\bmagnetic resonance\b|\bimag(?:es|ing)\b|\bconnectivity\b|"
            r"\bdefault mode network\b",
        ),
        ("laboratory-study", r"\bin vitro\b|\bcell cultures?\b"),
        ("narrative-review", r"\breview\b"),
    )
)


def design_hint(reference: Reference) -> str | None:
    """The design a paper's title suggests, or None when it says nothing clear."""
    text = " ".join((reference.get("title"), reference.get("keywords"))).lower()
    return next((design for design, pattern in _DESIGN_HINTS if pattern.search(text)), None)


def _add_months(day: dt.date, months: int) -> dt.date:
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    for last in (day.day, 30, 29, 28):
        try:
            return dt.date(year, month, last)
        except ValueError:
            continue
    raise AssertionError("unreachable")  # pragma: no cover


def _review_dates(today: dt.date, months: int) -> dict[str, Known]:
    return {
        "last_reviewed": Known(
            today.isoformat(), "the day an editor checked this page against its sources"
        ),
        "next_review": Known(_add_months(today, months).isoformat()),
    }


@dataclass(frozen=True)
class Condition:
    """What `new` knows of an existing condition page."""

    slug: str
    title: str


def _conditions_for(text: str, conditions: Sequence[Condition]) -> list[str]:
    lowered = text.lower()
    return [c.slug for c in conditions if c.title.lower() in lowered]


def study_file(
    reference: Reference,
    conditions: Sequence[Condition],
    today: dt.date,
    review_months: int,
) -> str:
    """A draft study summarising `reference`, filled with what its BibTeX entry says."""
    hint = design_hint(reference)
    design = Known(hint, "check the design against the paper") if hint else None
    subjects = None
    if hint is not None:
        in_animals = hint == "animal-study"
        subjects = Known("animals" if in_animals else "people", "check against the paper")
    status = None
    if hint == "trial-protocol":
        status = Known("protocol", "check: a protocol has no results yet")
    matched = _conditions_for(reference.get("title"), conditions)
    chosen = matched or [c.slug for c in conditions[:1]]
    known: dict[str, Known] = {
        "title": Known(
            quoted(reference.get("title") or f"{PLACEHOLDER}: plain title"),
            "rewrite the paper's title in plain words for patients",
        ),
        "conditions": Known(
            listed(chosen),
            "keep only the conditions the study is about"
            if matched
            else "choose the conditions the study is about",
        ),
        "certainty": Known(
            "not-graded",
            "keep not-graded unless the source itself rated the evidence with GRADE",
        ),
        "references": Known(listed([reference.key])),
        "draft": Known("true"),
        **_review_dates(today, review_months),
    }
    for name, value in (("design", design), ("subjects", subjects), ("status", status)):
        if value is not None:
            known[name] = value
    year = f" ({reference.year})" if reference.year else ""
    head = _comment(
        f"A new study summarising '{reference.key}'{year} from content/references.bib: "
        "its authors, year and journal are shown from there, so they are not written here. "
        "It stays a draft (left out of the published site) until 'draft' is false. "
        "See docs/editing.md."
    )
    body = (
        "\n## What was done\n\n"
        f"{PLACEHOLDER}: who took part and what was compared, in short plain sentences "
        f"[@{reference.key}].\n\n"
        "## What was found\n\n"
        f"{PLACEHOLDER}: what the study found, in the certainty words of docs/editing.md.\n\n"
        "## What it means for you\n\n"
        f"{PLACEHOLDER}: what this means for a person with back pain.\n"
    )
    return _with_head(front_matter(STUDY, known), head) + body


def condition_file(order: int, today: dt.date, review_months: int) -> str:
    known = {"order": Known(str(order)), **_review_dates(today, review_months)}
    head = _comment(
        "A new condition page. Conditions have no draft setting: the build refuses the page "
        "until every FILL IN is replaced. See docs/content-model.md."
    )
    body = f"\n{PLACEHOLDER}: what the evidence says about this condition, with citations.\n"
    return _with_head(front_matter(CONDITION, known), head) + body


def page_file(today: dt.date, review_months: int) -> str:
    head = _comment(
        "A new plain page (about, policy, ...). Pages have no draft setting: the build refuses "
        "the page until every FILL IN is replaced. See docs/content-model.md."
    )
    body = f"\n{PLACEHOLDER}: the text of the page.\n"
    return _with_head(front_matter(PAGE, _review_dates(today, review_months)), head) + body


def claim_file(order: int, reference: Reference | None, today: dt.date, review_months: int) -> str:
    known = {"order": Known(str(order)), **_review_dates(today, review_months)}
    if reference is not None:
        known["references"] = Known(listed([reference.key]))
    head = _comment(
        "A new claim for the 'Checking the claims' page. Claims have no draft setting: the "
        "build refuses the claim until every FILL IN is replaced. See docs/content-model.md."
    )
    cite = f" [@{reference.key}]" if reference is not None else ""
    body = f"\n{PLACEHOLDER}: what the source really says{cite}.\n"
    return _with_head(front_matter(CLAIM, known), head) + body


def _with_head(front: str, head: list[str]) -> str:
    """Put the file's opening comment inside the front matter, right after the first '---'."""
    return front.replace("---\n", "---\n" + "\n".join(head) + "\n", 1)


def placeholder_problems(text: str, path: str) -> list[Problem]:
    """An error for every line of a file to be published that still holds `FILL IN`."""
    return [
        error(
            path,
            number,
            f"'{PLACEHOLDER}' left from `backpain-site new`: write the real text or value "
            "(and delete the FILL IN note) before this is published",
        )
        for number, line in enumerate(text.split("\n"), start=1)
        if PLACEHOLDER in line
    ]
