"""Every URL and output path of the site, made in one place.

Input: the site's base URL and the slugs/keys of its content. Output: root-relative URLs
(prefixed with the base URL's path, so the site can live in a sub-folder), absolute URLs for
canonical links, and the output file path for each URL.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import PurePosixPath
from urllib.parse import urlsplit

_NOT_URL_SAFE = re.compile(r"[^a-z0-9_-]+")


# Asked for every link to a reference page (some 35 times per reference in a build): the
# regular expression once per key.
@cache
def reference_slug(key: str) -> str:
    """The URL segment of a BibTeX key (keys may hold ':' or capitals; URLs should not)."""
    return _NOT_URL_SAFE.sub("-", key.lower()).strip("-") or "reference"


# Every link of every page starts with these (some 60 a page): worked out once per base URL.
@lru_cache(maxsize=16)
def _prefix(base_url: str) -> str:
    return urlsplit(base_url).path.rstrip("/")


@lru_cache(maxsize=16)
def _origin(base_url: str) -> str:
    parts = urlsplit(base_url)
    return f"{parts.scheme}://{parts.netloc}"


@dataclass(frozen=True)
class Urls:
    base_url: str  # absolute, ends with '/'

    @property
    def prefix(self) -> str:
        """The base URL's path without its trailing slash: '' or '/sub/folder'."""
        return _prefix(self.base_url)

    def _path(self, path: str) -> str:
        return f"{self.prefix}{path}"

    def home(self) -> str:
        return self._path("/")

    def condition(self, slug: str) -> str:
        return self._path(f"/conditions/{slug}/")

    def study(self, slug: str) -> str:
        return self._path(f"/studies/{slug}/")

    def studies(self) -> str:
        return self._path("/studies/")

    def reference(self, key: str) -> str:
        return self._path(f"/references/{reference_slug(key)}/")

    def references(self) -> str:
        return self._path("/references/")

    def references_by(self, kind: str, slug: str) -> str:
        """A filtered bibliography: kind is 'designs' or 'conditions'."""
        return self._path(f"/references/{kind}/{slug}/")

    def reference_download(self, key: str, extension: str) -> str:
        slug = reference_slug(key)
        return self._path(f"/references/{slug}/{slug}.{extension}")

    def references_download(self, extension: str, kind: str = "", slug: str = "") -> str:
        """The whole bibliography's file, or a filtered list's (`kind`, `slug`)."""
        if kind:
            return self._path(f"/references/{kind}/{slug}/{slug}-references.{extension}")
        return self._path(f"/references/all-references.{extension}")

    def condition_references_download(self, slug: str, extension: str) -> str:
        """The references listed on one condition page."""
        return self._path(f"/conditions/{slug}/{slug}-references.{extension}")

    def claims(self) -> str:
        return self._path("/claims/")

    def page(self, slug: str) -> str:
        return self._path(f"/pages/{slug}/")

    def static(self, name: str) -> str:
        return self._path(f"/static/{name}")

    def not_found(self) -> str:
        return self._path("/404.html")

    def search(self) -> str:
        return self._path("/search/")

    def sitemap(self) -> str:
        return self._path("/sitemap.xml")

    def robots(self) -> str:
        return self._path("/robots.txt")

    def feed(self) -> str:
        return self._path("/feed.xml")

    def for_item(self, kind: str, slug: str) -> str:
        if kind == "claims":
            return f"{self.claims()}#{slug}"
        by_kind = {"conditions": self.condition, "studies": self.study, "pages": self.page}
        return by_kind[kind](slug)

    def absolute(self, url: str) -> str:
        """Root-relative site URL -> absolute URL for canonical links and feeds."""
        return f"{_origin(self.base_url)}{url}"

    def site_relative(self, url: str) -> str:
        """An editor's '/studies/x/' link -> the same link under the base URL's path."""
        return self._path(url) if url.startswith("/") and not url.startswith("//") else url

    def output_path(self, url: str) -> PurePosixPath:
        """Root-relative URL -> file path inside the output folder."""
        path = url[len(self.prefix) :] if self.prefix and url.startswith(self.prefix) else url
        path = path.split("#", 1)[0].lstrip("/")
        if path == "" or path.endswith("/"):
            path += "index.html"
        return PurePosixPath(path)
