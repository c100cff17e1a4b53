"""The evidence map: how much research there is, of which kind, for each condition.

Input: the conditions to show and the published studies. Output: an `EvidenceMap` (one cell per
level of the evidence hierarchy and condition, with its studies and the number of people or
animals in them) and its drawing as inline SVG markup, made at build time: no JavaScript, no
image files. The SVG is decoration for sighted readers (`aria-hidden`); templates render the
same cells as a table, which is what screen readers get, and every SVG cell links to its row.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from html import escape

from .content import Condition, Study
from .evidence import LEVELS, Level, level_of


@dataclass(frozen=True)
class MapColumn:
    slug: str
    title: str


@dataclass(frozen=True)
class MapCell:
    level: Level
    column: MapColumn
    studies: tuple[Study, ...]
    participants: int  # people (or animals) in the studies that report a number
    unreported: int  # studies that do not report how many took part
    subjects: str  # 'people', 'animals' or 'people and animals'
    anchor: str  # id of the matching table cell

    @property
    def summary(self) -> str:
        """The cell in words, e.g. '2 studies, 1,851 people' (the SVG's and the table's text)."""
        if not self.studies:
            return "No studies"
        return f"{_studies(len(self.studies))}, {self.people}"

    @property
    def people(self) -> str:
        if self.unreported == len(self.studies):
            return f"number of {self.subjects} not reported"
        amount = f"{self.participants:,} {self.subjects}"
        return f"at least {amount}" if self.unreported else amount


@dataclass(frozen=True)
class EvidenceMap:
    id: str  # prefix of every id the map puts on a page
    columns: tuple[MapColumn, ...]
    levels: tuple[Level, ...]
    cells: tuple[tuple[MapCell, ...], ...]  # one row per level, one cell per column

    @property
    def total(self) -> int:
        return len({s.slug for row in self.cells for cell in row for s in cell.studies})


def _studies(count: int) -> str:
    return f"{count} study" if count == 1 else f"{count} studies"


def _subjects(studies: Iterable[Study]) -> str:
    kinds = {s.subjects for s in studies}
    if kinds == {"animals"}:
        return "animals"
    return "people and animals" if len(kinds) > 1 else "people"


def build_map(
    map_id: str, conditions: Iterable[Condition], studies: Mapping[str, Sequence[Study]]
) -> EvidenceMap:
    """`studies` holds each condition's studies, strongest first; each cell keeps that order."""
    columns = tuple(MapColumn(c.slug, c.title) for c in conditions)
    levels = tuple(sorted(LEVELS.values(), key=lambda level: level.rank))
    rows = []
    for level in levels:
        row = []
        for column in columns:
            found = tuple(
                s
                for s in studies.get(column.slug, ())
                if level_of(s.design, s.subjects, s.status).id == level.id
            )
            row.append(
                MapCell(
                    level,
                    column,
                    found,
                    sum(s.participants or 0 for s in found),
                    sum(1 for s in found if s.participants is None),
                    _subjects(found),
                    f"{map_id}-{column.slug}-{level.id}",
                )
            )
        rows.append(tuple(row))
    return EvidenceMap(map_id, columns, levels, tuple(rows))


# Layout, in SVG user units. Sized so that on a 375 px phone, where the drawing shrinks to
# about 340 px, the smallest text is still about 10 px high.
_LABEL_WIDTH = 176
_HEADER_HEIGHT = 52
_ROW_HEIGHT = 50
_GAP = 4
_LABEL_CHARS = 21  # wrap level labels longer than this
_LINE = 17  # distance between wrapped lines


def _column_width(columns: int) -> int:
    return 110 if columns > 1 else 150


def _wrap(text: str, width: int) -> list[str]:
    lines: list[str] = []
    for word in text.split():
        if lines and len(lines[-1]) + 1 + len(word) <= width:
            lines[-1] += " " + word
        else:
            lines.append(word)
    return lines


def _shade(count: int) -> int:
    """0 for an empty cell, then 1-3: one study, two or three, four or more."""
    return 0 if count == 0 else 1 if count == 1 else 2 if count <= 3 else 3


def svg(evidence: EvidenceMap) -> str:
    """The map as inline SVG markup; every text is escaped here, once."""
    column_width = _column_width(len(evidence.columns))
    width = _LABEL_WIDTH + len(evidence.columns) * column_width
    height = _HEADER_HEIGHT + len(evidence.levels) * _ROW_HEIGHT
    single = " evidence-map-single" if len(evidence.columns) == 1 else ""
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="evidence-map-svg{single}" '
        f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'font-size="14" aria-hidden="true" focusable="false">'
    ]
    for index, column in enumerate(evidence.columns):
        x = _LABEL_WIDTH + index * column_width + column_width // 2
        lines = _wrap(column.title, column_width // 8)
        parts.append(
            _lines("map-heading", x, _HEADER_HEIGHT - 10 - (len(lines) - 1) * _LINE, lines)
        )
    for row_index, (level, row) in enumerate(zip(evidence.levels, evidence.cells, strict=True)):
        top = _HEADER_HEIGHT + row_index * _ROW_HEIGHT
        lines = _wrap(level.label, _LABEL_CHARS)
        first = top + _ROW_HEIGHT // 2 + 5 - (len(lines) - 1) * _LINE // 2
        parts.append(_lines("map-label", 4, first, lines))
        for column_index, cell in enumerate(row):
            x = _LABEL_WIDTH + column_index * column_width
            middle = x + column_width // 2
            box = (
                f'<rect class="map-cell map-shade-{_shade(len(cell.studies))}" '
                f'x="{x + _GAP // 2}" y="{top + _GAP // 2}" '
                f'width="{column_width - _GAP}" height="{_ROW_HEIGHT - _GAP}" rx="4"/>'
            )
            title = (
                f"<title>{escape(f'{cell.column.title}, {level.label}: {cell.summary}')}</title>"
            )
            if not cell.studies:
                parts.append(
                    f'<g>{title}{box}<text class="map-none" x="{middle}" y="{top + 30}" '
                    'text-anchor="middle">None</text></g>'
                )
                continue
            # Out of the Tab order: keyboard and screen-reader users get the same cell, with
            # its study links, in the table (a pointer click jumps there).
            parts.append(
                f'<a href="#{cell.anchor}" tabindex="-1">{title}{box}'
                f'<text class="map-count" x="{middle}" y="{top + 22}" '
                f'text-anchor="middle">{escape(_studies(len(cell.studies)))}</text>'
                f'<text class="map-people" x="{middle}" y="{top + 40}" '
                f'text-anchor="middle">{escape(_short_people(cell))}</text></a>'
            )
    parts.append("</svg>")
    return "".join(parts)


def _lines(css_class: str, x: int, y: int, lines: list[str]) -> str:
    """A text of one or more lines; headings are centred on x, labels start at it."""
    anchor = ' text-anchor="middle"' if css_class == "map-heading" else ""
    spans = "".join(
        f'<tspan x="{x}" dy="{0 if i == 0 else _LINE}">{escape(line)}</tspan>'
        for i, line in enumerate(lines)
    )
    return f'<text class="{css_class}" x="{x}" y="{y}"{anchor}>{spans}</text>'


def _short_people(cell: MapCell) -> str:
    """The people line of a cell, short enough for the drawing (the table has it in full)."""
    if cell.unreported == len(cell.studies):
        return "not reported"
    more = "+" if cell.unreported else ""
    subjects = "in all" if cell.subjects == "people and animals" else cell.subjects
    return f"{cell.participants:,}{more} {subjects}"
