"""Plain-words help for every front-matter field, read off the schema.

Input: a `schema.Field`. Output: what kind of value it takes and what each allowed value means,
in words an editor who is not a programmer can follow. The scaffolds of `backpain-site new` and
the exported JSON Schemas both use this, so the help an editor sees is the same everywhere and
always matches what the build accepts.
"""

from __future__ import annotations

from .evidence import CERTAINTIES, DESIGNS, VERDICTS
from .schema import Field, Kind

_CHOICE_MEANINGS: dict[str, str] = {
    **{d.id: f"{d.label}: {d.explanation}" for d in DESIGNS.values()},
    **{c.id: f"{c.label}: {c.meaning}" for c in CERTAINTIES.values()},
    **{v.id: f"{v.label}: {v.explanation}" for v in VERDICTS.values()},
    "people": "the study was done in people",
    "animals": "the study was done in animals",
    "published": "the results are published",
    "protocol": "a plan for a study, published before its results",
    "ongoing": "the study is still running; no results yet",
}


def choice_meaning(choice: str) -> str:
    """What an allowed value means, or an empty string when it speaks for itself."""
    return _CHOICE_MEANINGS.get(choice, "")


def kind_help(field: Field) -> str:
    """What an editor must write for `field`, e.g. 'a date written YYYY-MM-DD'."""
    if field.kind is Kind.TEXT:
        return "text" if field.required else "text (may be left empty)"
    if field.kind is Kind.INTEGER:
        if field.minimum is not None:
            return f"a whole number, {field.minimum} or more"
        return "a whole number"
    if field.kind is Kind.DATE:
        return "a date written YYYY-MM-DD"
    if field.kind is Kind.BOOLEAN:
        return "true or false"
    if field.kind is Kind.CHOICE:
        return "one of: " + ", ".join(field.choices)
    if field.kind is Kind.LIST:
        assert field.item is not None
        least = f" of at least {field.min_items}" if field.min_items else ""
        return f"a list{least}, one item per line starting with '- ', each {field.item.description}"
    return "a group of 'key: value' lines"


def field_help(field: Field) -> str:
    """One line: the field's meaning, whether it is required, and what to write."""
    need = "required" if field.required else "optional"
    return f"{field.description} ({need}; {kind_help(field)})"
