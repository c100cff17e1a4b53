"""Our formatted references against pandoc's citeproc, for the same CSL-JSON and the same style.

Both processors get the same input: the CSL-JSON that `to_csl_json` makes and the normalised
.csl file that `load_style` makes (the very bytes citeproc-py reads). pandoc 3 comes from the
`pypandoc_binary` package (the test extra), so this runs offline on a clean machine.

Only presentation-equivalent differences are normalised, each one below:

1. Markup names. citeproc-py writes `<i>`, `<b>` and `<span style="font-variant:small-caps;">`;
   pandoc writes `<em>`, `<strong>` and `<span class="smallcaps">`. Each pair is the same CSL
   formatting (font-style italic, font-weight bold, font-variant small-caps), so both become
   `<i>`, `<b>` and `<sc>`; `<sup>` and `<sub>` are kept as they are.
2. The bibliography number. pandoc puts it in `<div class="csl-left-margin">`; our pages number
   their lists themselves (`<ol>`), so only pandoc's `csl-right-inline` part is compared.
3. Links. pandoc is run with `link-bibliography=false`, and our identifier links (an addition
   tested in test_csl.py) are unwrapped to their text: the link text is compared, not the href.
4. Line breaks. pandoc runs with `--wrap=none`; leading and trailing spaces are stripped.

Everything else (punctuation, spacing, case, quotes, entities decoded to characters) must be
identical. pandoc formats the whole list in one run: for these numeric styles an entry's text
does not depend on the others (no disambiguation, no author substitution), and each entry is
found by its id.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterable
from pathlib import Path

import pypandoc
import pytest
from bs4 import BeautifulSoup, NavigableString, Tag

from backpain_site.bibliography import Reference, load_bibliography
from backpain_site.csl import format_reference, load_style
from backpain_site.csl_data import to_csl_json

REPO = Path(__file__).resolve().parent.parent
DATA = Path(__file__).parent / "data"
STYLES = ("american-medical-association", "vancouver-nlm")


def canonical(node: Tag) -> str:
    """HTML -> text with only the formatting CSL can express, named one way (see above)."""
    out = []
    for child in node.children:
        if isinstance(child, NavigableString):
            out.append(str(child))
            continue
        if not isinstance(child, Tag):
            continue
        inner = canonical(child)
        classes = child.get("class") or []
        if child.name in ("i", "em"):
            out.append(f"<i>{inner}</i>")
        elif child.name in ("b", "strong"):
            out.append(f"<b>{inner}</b>")
        elif child.name in ("sup", "sub"):
            out.append(f"<{child.name}>{inner}</{child.name}>")
        elif "small-caps" in str(child.get("style") or "") or "smallcaps" in classes:
            out.append(f"<sc>{inner}</sc>")
        else:  # <a>, and spans that carry no formatting
            out.append(inner)
    return "".join(out)


def pandoc_bibliography(items: list[dict[str, object]], style: str, tmp: Path) -> dict[str, str]:
    csl = tmp / f"{style}.csl"
    csl.write_bytes(load_style(style).xml)
    data = tmp / f"{style}.json"
    data.write_text(json.dumps(items, ensure_ascii=False), encoding="utf-8")
    html = subprocess.run(
        [
            pypandoc.get_pandoc_path(),
            "--from=markdown",
            "--to=html",
            "--wrap=none",
            "--citeproc",
            f"--csl={csl}",
            f"--bibliography={data}",
            "--metadata=link-bibliography=false",
        ],
        input='---\nnocite: "@*"\n---\n',
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout
    soup = BeautifulSoup(html, "html.parser")
    found = {}
    for entry in soup.select("div.csl-entry"):
        body = entry.select_one(".csl-right-inline") or entry
        found[str(entry["id"]).removeprefix("ref-")] = canonical(body).strip()
    return found


def differences(references: Iterable[Reference], style: str, tmp: Path) -> list[str]:
    references = list(references)
    theirs = pandoc_bibliography([to_csl_json(r) for r in references], style, tmp)
    wrong = []
    for reference in references:
        html = format_reference(reference, style).html
        ours = canonical(BeautifulSoup(html, "html.parser")).strip()
        if ours != theirs.get(reference.key):
            wrong.append(
                f"{reference.key}\n  ours:   {ours}\n  pandoc: {theirs.get(reference.key)}"
            )
    return wrong


def load(path: Path) -> list[Reference]:
    references, problems = load_bibliography(path.read_text(encoding="utf-8"), path.name)
    assert problems == []
    return references


def test_pandoc_is_pandoc_3() -> None:
    assert int(pypandoc.get_pandoc_version().split(".")[0]) >= 3


def test_the_tricky_entries_are_varied() -> None:
    references = load(DATA / "csl_entries.bib")
    assert len(references) >= 30
    types = {r.entry_type for r in references}
    assert {"article", "book", "incollection", "misc", "online", "software"} <= types
    assert any(len(r.authors) > 7 for r in references)  # et al. in both styles
    assert any(n.literal for r in references for n in r.authors)  # corporate authors
    assert any(not r.get("pages") and r.entry_type == "article" for r in references)


@pytest.mark.parametrize("style", STYLES)
def test_tricky_entries_match_pandoc(style: str, tmp_path: Path) -> None:
    assert differences(load(DATA / "csl_entries.bib"), style, tmp_path) == []


@pytest.mark.parametrize("style", STYLES)
def test_the_sites_own_references_match_pandoc(style: str, tmp_path: Path) -> None:
    assert differences(load(REPO / "content" / "references.bib"), style, tmp_path) == []


def test_the_comparison_sees_formatting(tmp_path: Path) -> None:
    """Not a blind comparison: italics and punctuation count, so AMA is not Vancouver."""
    (reference,), _ = load_bibliography(
        "@article{a, author={Smith, Jane}, title={T}, journal={J}, year=2020, pages={1--9}}",
        "a.bib",
    )
    vancouver = pandoc_bibliography([to_csl_json(reference)], "vancouver-nlm", tmp_path)
    assert vancouver == {"a": "Smith J. T. J. 2020;1\u20139."}
    ama = canonical(BeautifulSoup(format_reference(reference, STYLES[0]).html, "html.parser"))
    assert ama == "Smith J. T. <i>J</i>. Published online 2020:1-9."
