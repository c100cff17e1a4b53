"""Currency and credibility: review dates on every patient page, overdue reviews, JAMA marks."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path, PurePosixPath

import pytest
from bs4 import BeautifulSoup, Tag

from backpain_site.build import BuildResult, build
from backpain_site.cli import main
from backpain_site.content import ReviewDates
from backpain_site.problems import Severity, error, warning

from conftest import CONDITION, REPO, TODAY

CONDITION_PATH = "content/conditions/low-back-pain.md"


def text(element: Tag | None) -> str:
    assert element is not None
    return " ".join(element.get_text(" ").split())


def long_date(day: dt.date) -> str:
    return f"{day.day} {day.strftime('%B')} {day.year}"


@pytest.fixture(scope="module")
def real_site() -> BuildResult:
    result = build(REPO, None, today=TODAY)
    assert [str(p) for p in result.problems] == []
    return result


def pages(result: BuildResult) -> dict[str, BeautifulSoup]:
    return {
        str(path): BeautifulSoup(data.decode("utf-8"), "html.parser")
        for path, data in sorted(result.outputs.items())
        if path.suffix == ".html"
    }


def own_review(result: BuildResult, path: str) -> ReviewDates | None:
    """The review dates an editor wrote for the page at `path`, if it is one item's page."""
    site = result.site
    assert site is not None
    items = {
        **{f"conditions/{c.slug}/index.html": c.review for c in site.conditions},
        **{f"studies/{s.slug}/index.html": s.review for s in site.studies},
        **{f"pages/{p.slug}/index.html": p.review for p in site.pages},
    }
    if path == "claims/index.html":  # as current as its least recently checked claim
        return ReviewDates(
            min(c.review.last_reviewed for c in site.claims),
            min(c.review.next_review for c in site.claims),
        )
    return items.get(path)


# Pages that are not patient information: the 404 page and the search tool.
NOT_PATIENT_PAGES = {"404.html", "search/index.html"}


def test_every_patient_page_shows_last_reviewed_and_next_review(real_site: BuildResult) -> None:
    checked = 0
    for path, soup in pages(real_site).items():
        if path in NOT_PATIENT_PAGES:
            continue
        dates = soup.select_one("main .review-dates")
        assert dates is not None, path
        times = dates.find_all("time")
        assert len(times) == 2, path
        last, due = (dt.date.fromisoformat(t["datetime"]) for t in times)
        assert due > last, path
        assert text(dates) == (
            f"Last reviewed: {long_date(last)} . Next review due: {long_date(due)} ."
        ), path
        review = own_review(real_site, path)
        if review is not None:
            assert (last, due) == (review.last_reviewed, review.next_review), path
        checked += 1
    site = real_site.site
    assert site is not None
    assert checked >= 1 + len(site.conditions) + len(site.studies) + len(site.pages) + 1


def test_an_overdue_review_is_a_warning(project: Callable[..., Path]) -> None:
    result = build(project(), None, today=dt.date(2029, 11, 2))
    overdue = [p for p in result.problems if "overdue" in p.message]
    assert overdue == [
        warning("content/claims/cures.md", 8, "review overdue since 2029-11-01"),
        warning(CONDITION_PATH, 7, "review overdue since 2029-11-01"),
        warning("content/pages/disclaimer.md", 6, "review overdue since 2029-11-01"),
        warning("content/studies/smith-2020.md", 18, "review overdue since 2029-11-01"),
    ]
    assert result.ok


def test_an_overdue_review_is_an_error_with_strict(
    project: Callable[..., Path], tmp_path: Path
) -> None:
    root = project()
    result = build(root, tmp_path / "out", strict=True, today=dt.date(2029, 11, 2))
    assert error(CONDITION_PATH, 7, "review overdue since 2029-11-01") in result.problems
    assert all(p.severity is Severity.ERROR for p in result.problems)
    assert not result.ok and not (tmp_path / "out").exists()


def test_cli_strict_fails_on_an_overdue_page(project: Callable[..., Path], capsys: object) -> None:
    root = project(
        {
            CONDITION_PATH: CONDITION.replace(
                "last_reviewed: 2026-11-01", "last_reviewed: 2020-01-01"
            ).replace("next_review: 2029-11-01", "next_review: 2023-01-01")
        }
    )
    assert main(["check", "--source", str(root)]) == 0
    assert main(["check", "--source", str(root), "--strict"]) == 1
    err = capsys.readouterr().err.splitlines()  # type: ignore[attr-defined]
    assert f"{CONDITION_PATH}:7: review overdue since 2023-01-01" in err


def test_a_review_interval_longer_than_three_years_is_an_error(
    project: Callable[..., Path],
) -> None:
    root = project(
        {CONDITION_PATH: CONDITION.replace("next_review: 2029-11-01", "next_review: 2029-11-02")}
    )
    assert build(root, None, today=TODAY).problems == [
        error(
            CONDITION_PATH,
            7,
            "'next_review' is more than 36 months after 'last_reviewed' (at the latest 2029-11-01)",
        )
    ]


def test_every_page_shows_authorship_attribution_disclosure_and_currency(
    real_site: BuildResult,
) -> None:
    site = real_site.site
    assert site is not None
    config = site.config
    for path, soup in pages(real_site).items():
        block = soup.select_one("footer .credibility")
        assert block is not None, path
        assert text(block.find("h2")) == "About this information"
        assert [text(dt) for dt in block.select("dt")] == [
            "Who wrote it",
            "Where it comes from",
            "Money and interests",
            "When it was checked",
        ], path
        editors = ", ".join(f"{e.name} ({e.role})" for e in config.editors)
        assert text(block.select_one(".authorship")) == (
            f"Written and checked by {editors}. Published by {config.publisher}."
        )
        assert [a["href"] for a in block.select(".attribution a")] == ["/references/", "/claims/"]
        assert text(block.select_one(".disclosure")) == (
            f"{config.funding} {config.conflicts} {config.advertising}"
        )
        currency = text(block.select_one(".currency"))
        assert currency.endswith("We review every page at least every 3 years."), path
        dates = soup.select_one("main .review-dates time")
        if dates is not None:
            day = dt.date.fromisoformat(dates["datetime"])
            assert currency.startswith(f"This page was last reviewed on {long_date(day)} ."), path


def test_currency_follows_the_review_interval_setting(project: Callable[..., Path]) -> None:
    from conftest import SITE_YAML

    root = project({"content/site.yaml": SITE_YAML + "review_interval_months: 40\n"})
    result = build(root, None, today=TODAY)
    assert result.problems == []
    soup = BeautifulSoup(
        result.outputs[PurePosixPath("studies/smith-2020/index.html")].decode("utf-8"),
        "html.parser",
    )
    assert text(soup.select_one("footer .currency")) == (
        "This page was last reviewed on 1 November 2026 . We review every page at least every "
        "40 months."
    )
