"""`backpain-site new <kind> <slug>`: write a starting file for an editor to fill in.

Input: the project folder, a content kind (study, condition, page, claim), a slug and, for a
study or claim, the BibTeX key of its source. Output: a new file under content/ made by
`scaffold` from the content type's schema (never written over an existing file), and the next
steps, printed. A new study is a draft, so the site builds at once and leaves it out.
"""

from __future__ import annotations

import datetime as dt
import re
import sys
import unicodedata
from pathlib import Path
from typing import TextIO

from .bibliography import Reference
from .load import load_site
from .paths import unsafe_name
from .problems import did_you_mean, errors_in
from .scaffold import PLACEHOLDER, Condition, claim_file, condition_file, page_file, study_file
from .schema import is_slug
from .writer import write_new_file

KINDS = {"study": "studies", "condition": "conditions", "page": "pages", "claim": "claims"}
EXIT_OK, EXIT_CONTENT, EXIT_USAGE = 0, 1, 2


def _plain(text: str) -> str:
    """'Yüksel' -> 'yuksel': how a family name is written in a slug or a BibTeX key."""
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z]", "", folded.lower())


def references_for_slug(slug: str, references: list[Reference]) -> list[Reference]:
    """The entries a slug like 'wang-2000-acupuncture' names: first author (or key) and year."""
    parts = slug.split("-")
    if len(parts) < 2 or not parts[1].isdigit():
        return []
    name, year = parts[0], parts[1]

    def matches(reference: Reference) -> bool:
        first = reference.authors[0] if reference.authors else None
        family = _plain(first.family or first.literal) if first else ""
        by_author = family == name and reference.year == year
        return by_author or reference.key.lower().startswith(f"{name}{year}")

    return [r for r in references if matches(r)]


def new_file(
    source: Path,
    kind: str,
    slug: str,
    *,
    reference: str | None = None,
    today: dt.date | None = None,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    stdout, stderr = out or sys.stdout, err or sys.stderr

    def fail(message: str, code: int = EXIT_USAGE) -> int:
        print(f"backpain-site: error: {message}; nothing was written", file=stderr)
        return code

    today = today or dt.date.today()
    if not is_slug(slug):
        return fail(
            f"'{slug}' cannot be a file name: use lower-case letters, digits and single "
            "hyphens, e.g. 'smith-2020-acupuncture-trial'"
        )
    unsafe = unsafe_name(f"{slug}.md")
    if unsafe:
        return fail(f"'{slug}' cannot be a file name: it {unsafe}")
    if reference is not None and kind not in ("study", "claim"):
        return fail(f"--reference is for a study or a claim, not a {kind}")
    relative = f"content/{KINDS[kind]}/{slug}.md"
    target = source / relative
    if target.exists():
        return fail(f"{relative} already exists; choose another name or edit that file")
    site, problems = load_site(source, today=today)
    if site is None:
        for problem in errors_in(problems):
            print(problem, file=stderr)
        return fail("the project's settings cannot be read", EXIT_CONTENT)
    by_key = {r.key: r for r in site.references}
    chosen: Reference | None = None
    if reference is not None:
        if reference not in by_key:
            return fail(
                f"no entry '{reference}' in {site.bibliography_path}"
                f"{did_you_mean(reference, by_key)}: add the paper's BibTeX entry first"
            )
        chosen = by_key[reference]
    elif kind == "study":
        found = references_for_slug(slug, list(site.references))
        if len(found) != 1:
            named = ", ".join(r.key for r in found)
            why = f"'{slug}' could be {named}" if found else f"no entry matches '{slug}'"
            return fail(
                f"which source does this study summarise? {why}; add the paper's BibTeX entry "
                f"to {site.bibliography_path} if needed and give its key: "
                f"backpain-site new study {slug} --reference KEY"
            )
        chosen = found[0]
        print(
            f"using reference '{chosen.key}' (it matches the name); --reference picks another",
            file=stdout,
        )
    months = site.config.review_interval_months
    if kind == "study":
        assert chosen is not None
        conditions = [Condition(c.slug, c.title) for c in site.conditions]
        text = study_file(chosen, conditions, today, months)
    elif kind == "condition":
        text = condition_file(max((c.order for c in site.conditions), default=0) + 1, today, months)
    elif kind == "page":
        text = page_file(today, months)
    else:
        order = max((c.order for c in site.claims), default=0) + 1
        text = claim_file(order, chosen, today, months)
    if not write_new_file(target, text.encode("utf-8")):
        return fail(f"{relative} already exists; choose another name or edit that file")
    marks = sum(1 for line in text.split("\n") if PLACEHOLDER in line)
    print(f"wrote {relative}", file=stdout)
    if kind == "study":
        print(
            f"it is a draft (draft: true), left out of the published site. Replace the "
            f"{marks} '{PLACEHOLDER}' notes, then set draft: false.",
            file=stdout,
        )
        print("see it as you write: backpain-site serve --drafts", file=stdout)
    else:
        print(
            f"replace the {marks} '{PLACEHOLDER}' notes: until then the build reports each one.",
            file=stdout,
        )
    return EXIT_OK
