"""The reading grades as the build record keeps them (readability.GradeTable): the same grades
as the objects they were made from, read back, replaced one at a time, and summed up.

Input: a few made-up grades. Output: assertions only.
"""

from __future__ import annotations

import pickle

import pytest

from backpain_site.readability import (
    GradeTable,
    PageGrade,
    Sentence,
    grade_lines,
    grade_summary,
    scores_of,
)


def _grade(n: int, shown: int) -> PageGrade:
    path = f"content/studies/s{n}.md"
    longest = tuple(Sentence(path, 10 * n + i, f"Sentence {i} of page {n}.") for i in range(shown))
    return PageGrade(f"/studies/s{n}/", path, 4.0 + n / 3, 100 + n, 10 + n, longest)


GRADES = tuple(_grade(n, n % 4) for n in range(7))  # 0 to 3 sentences shown


def test_a_table_is_the_grades_it_was_made_from() -> None:
    table = GradeTable.of(GRADES)
    assert GradeTable.of(table) is table
    assert table == GRADES and GRADES == table  # noqa: SIM300 (a tuple on the left, too)
    assert list(table) == list(GRADES) and len(table) == len(GRADES)
    assert table[0] == GRADES[0] and table[-1] == GRADES[-1]
    assert table[2:5] == GRADES[2:5]
    with pytest.raises(IndexError):
        table[len(GRADES)]
    assert table != GRADES[:-1] and table != (*GRADES[:-1], _grade(99, 1))
    assert hash(table) == hash(GRADES)


def test_a_table_reads_back_as_it_was() -> None:
    table = GradeTable.of(GRADES)
    back = pickle.loads(pickle.dumps(table, protocol=5))
    assert isinstance(back, GradeTable)
    assert back == table and list(back) == list(GRADES)


@pytest.mark.parametrize("at, shown", [(0, 2), (3, 1), (3, 0), (6, 3), (1, 3)])
def test_a_grade_replaced_in_its_place(at: int, shown: int) -> None:
    new = PageGrade(
        GRADES[at].url,
        GRADES[at].path,
        9.5,
        1,
        2,
        tuple(Sentence(GRADES[at].path, i, f"New {i}.") for i in range(shown)),
    )
    expected = (*GRADES[:at], new, *GRADES[at + 1 :])

    replaced = GradeTable.of(GRADES).replaced(new)

    assert replaced == expected and list(replaced) == list(expected)
    assert pickle.loads(pickle.dumps(replaced)) == expected
    assert GradeTable.of(GRADES) == GRADES  # the table it came from is unchanged


def test_a_grade_of_no_page_in_the_table_changes_nothing() -> None:
    table = GradeTable.of(GRADES)
    assert table.replaced(_grade(99, 2)) is table


def test_the_report_reads_the_columns_as_it_reads_the_grades() -> None:
    table = GradeTable.of(GRADES)
    assert scores_of(table) == scores_of(GRADES) == [(g.grade, g.url) for g in GRADES]
    for target in (4, 5, 8):
        assert grade_summary(table, target) == grade_summary(GRADES, target)
        assert grade_lines(table, target) == grade_lines(GRADES, target)
