"""Links on every page: each internal link and #anchor resolves to a built file and an element
with that id; each external link is a well-formed URL (checked offline: no network at test time).
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
from bs4 import BeautifulSoup

from .support import BASE_URL, REPO, BuiltSite

# RFC 3986: the characters a URL may hold without percent-encoding.
URL_CHARACTERS = re.compile(r"^[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]+$")
HOST_NAME = re.compile(r"^(?=.{4,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
BAD_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")
# Identifier links have a known shape; a typo in a DOI or a PMID makes a link that looks fine.
KNOWN_SHAPES = {
    "doi.org": re.compile(r"^/10\.\d{4,9}/\S+$"),
    "pubmed.ncbi.nlm.nih.gov": re.compile(r"^/\d{1,9}/$"),
    "www.ncbi.nlm.nih.gov": re.compile(r"^/pmc/articles/PMC\d+/$"),
    "clinicaltrials.gov": re.compile(r"^/study/NCT\d{8}$"),
}


def external_problem(url: str) -> str | None:
    """Why `url` is not a well-formed external link, or None when it is."""
    if url != url.strip() or not URL_CHARACTERS.match(url):
        return "has characters a URL may not hold unencoded"
    if BAD_PERCENT.search(url):
        return "has a '%' that is not a percent-escape"
    parts = urlsplit(url)
    if parts.scheme == "mailto":
        return None if re.match(r"^[^@\s]+@[^@\s]+\.[a-z]{2,}$", parts.path) else "bad address"
    if parts.scheme not in ("https", "http"):
        return f"scheme '{parts.scheme}' is not http(s) or mailto"
    if parts.username or parts.password:
        return "holds a user name or password"
    try:
        parts.port  # noqa: B018  (raises on a port that is not a number)
    except ValueError:
        return "has a bad port"
    if not HOST_NAME.match(parts.hostname or ""):
        return f"host '{parts.hostname}' is not a domain name"
    shape = KNOWN_SHAPES.get(parts.hostname or "")
    if shape and not shape.match(parts.path):
        return f"path '{parts.path}' does not look like a {parts.hostname} identifier"
    return None


def link_targets(soup: BeautifulSoup) -> list[str]:
    targets = [str(el["href"]) for el in soup.select("[href]")]
    targets += [str(el["src"]) for el in soup.select("[src]")]
    targets += [str(el["action"]) for el in soup.select("form[action]")]
    targets += [
        str(el["content"])
        for el in soup.select('meta[property="og:url"], meta[property="og:image"]')
        + soup.select('meta[name="twitter:image"]')
    ]
    return targets


def check_links(site: BuiltSite) -> tuple[list[str], int, int]:
    """Every broken internal link and malformed external link, and how many of each kind."""
    ids: dict[Path, set[str]] = {}

    def ids_of(file: Path) -> set[str]:
        if file not in ids:
            soup = BeautifulSoup(file.read_text(encoding="utf-8"), "html.parser")
            ids[file] = {str(el["id"]) for el in soup.select("[id]")}
        return ids[file]

    problems, internal, external = [], 0, 0
    for page in site.pages:
        file = site.file(page)
        soup = BeautifulSoup(file.read_text(encoding="utf-8"), "html.parser")
        for target in link_targets(soup):
            where = f"{page} -> {target}"
            if target.startswith(BASE_URL):
                target = "/" + target[len(BASE_URL) :]  # the site's own absolute URLs
            parts = urlsplit(target)
            if parts.scheme or parts.netloc:
                external += 1
                problem = external_problem(target)
                if problem:
                    problems.append(f"{where}: {problem}")
                continue
            internal += 1
            if parts.path and not parts.path.startswith("/"):
                problems.append(f"{where}: relative link (breaks when the page moves)")
                continue
            linked = site.file(unquote(parts.path)) if parts.path else file
            if not linked.is_file():
                problems.append(f"{where}: no such file")
            elif (
                parts.fragment
                and linked.suffix == ".html"
                and unquote(parts.fragment) not in ids_of(linked)
            ):
                problems.append(f"{where}: no element with id '{parts.fragment}'")
    return problems, internal, external


def test_every_internal_link_and_anchor_resolves_and_every_external_link_is_well_formed(
    built_site: BuiltSite,
) -> None:
    problems, internal, external = check_links(built_site)
    assert problems == []
    # Every page links to the others, and the references link out to their sources.
    assert internal > 20 * len(built_site.pages)
    assert external > len(list((REPO / "content" / "studies").glob("*.md")))


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("https://doi.org/10.1155/2015/192808", None),
        ("https://pubmed.ncbi.nlm.nih.gov/12345678/", None),
        ("https://clinicaltrials.gov/study/NCT03350789", None),
        ("mailto:editors@example.org", None),
        ("https://doi.org/10.1155 2015", "has characters a URL may not hold unencoded"),
        ("https://example.org/a%zzb", "has a '%' that is not a percent-escape"),
        ("javascript:alert(1)", "scheme 'javascript' is not http(s) or mailto"),
        ("ftp://example.org/file", "scheme 'ftp' is not http(s) or mailto"),
        ("https://user:secret@example.org/", "holds a user name or password"),
        ("https://example.org:http/", "has a bad port"),
        ("https://localhost/", "host 'localhost' is not a domain name"),
        ("https:/example.org/", "host 'None' is not a domain name"),
        ("https://doi.org/1155/2015", "path '/1155/2015' does not look like a doi.org identifier"),
        (
            "https://pubmed.ncbi.nlm.nih.gov/PMC123/",
            "path '/PMC123/' does not look like a pubmed.ncbi.nlm.nih.gov identifier",
        ),
        (
            "https://clinicaltrials.gov/study/NCT0335",
            "path '/study/NCT0335' does not look like a clinicaltrials.gov identifier",
        ),
        ("mailto:nobody", "bad address"),
    ],
)
def test_external_link_check_names_what_is_wrong(url: str, problem: str | None) -> None:
    assert external_problem(url) == problem


def test_link_check_finds_a_broken_link_and_a_missing_anchor(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "index.html").write_text(
        '<p id="top"><a href="/a/">fine</a> <a href="/a/#top">no anchor</a>'
        ' <a href="/gone/">gone</a> <a href="b.html">relative</a> <a href="#top">here</a>'
        f' <a href="{BASE_URL}a/">own absolute</a> <a href="https://doi.org/xyz">bad doi</a></p>',
        encoding="utf-8",
    )
    (tmp_path / "a" / "index.html").write_text("<p>no ids here</p>", encoding="utf-8")
    problems, internal, external = check_links(BuiltSite(tmp_path, ("/", "/a/")))
    assert problems == [
        "/ -> /a/#top: no element with id 'top'",
        "/ -> /gone/: no such file",
        "/ -> b.html: relative link (breaks when the page moves)",
        "/ -> https://doi.org/xyz: path '/xyz' does not look like a doi.org identifier",
    ]
    assert (internal, external) == (6, 1)
