"""The cache's code version reads the installed libraries' versions from their metadata folders'
names: the same versions importlib.metadata gives, and a changed one changes the version."""

from __future__ import annotations

import sys
from importlib import metadata
from pathlib import Path

import pytest

from backpain_site import cache
from backpain_site.cache import _installed_distributions, _normalised, _required_by


def test_every_library_has_the_version_importlib_metadata_gives() -> None:
    installed = _installed_distributions()
    names = set(cache._LIBRARIES)
    own = installed.get("backpain_site")
    if own is not None:
        names |= _required_by(own[1])
        declared = {
            cache._requirement_name(r)
            for r in metadata.requires("backpain_site") or ()
            if "extra ==" not in r
        }
        assert _required_by(own[1]) == declared
    for name in sorted(names):
        try:
            expected = metadata.version(name)
        except metadata.PackageNotFoundError:
            expected = "-"
        found = installed.get(_normalised(name))
        assert (found[0] if found else "-") == expected, name


_PATH = list(sys.path)


def _version_with(folder: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """The code version with `folder` first on the import path (and the path as it was)."""
    monkeypatch.setattr(sys, "path", [str(folder), *_PATH])
    _forget()
    try:
        return cache.code_version()
    finally:
        _forget()


def _forget() -> None:
    """Both are worked out once a process (the code that runs does not change meanwhile)."""
    cache.code_version.cache_clear()
    _installed_distributions.cache_clear()


def test_a_library_found_first_on_the_path_with_another_version_changes_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    before = _version_with(empty, monkeypatch)
    shadow = tmp_path / "shadow"
    (shadow / "Markdown-0.0.1.dist-info").mkdir(parents=True)
    monkeypatch.setattr(sys, "path", [str(shadow), *_PATH])
    _forget()
    assert _installed_distributions()["markdown"] == ("0.0.1", shadow / "Markdown-0.0.1.dist-info")
    assert _version_with(shadow, monkeypatch) != before
    assert _version_with(empty, monkeypatch) == before
    assert cache.installed_version("Markdown") == metadata.version("markdown")


def test_requirements_are_read_without_their_extras(tmp_path: Path) -> None:
    folder = tmp_path / "example-1.0.dist-info"
    folder.mkdir()
    (folder / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: example\nRequires-Dist: Jinja2<3.2,>=3.1\n"
        "Requires-Dist: pytest>=8; extra == 'test'\nRequires-Dist: py-yaml (>=6)\n\n"
        "Requires-Dist: not-a-header-any-more\n",
        encoding="utf-8",
    )
    assert _required_by(folder) == {"jinja2", "py-yaml"}
    assert _normalised("Py.YAML") == _normalised("py-yaml") == "py_yaml"
