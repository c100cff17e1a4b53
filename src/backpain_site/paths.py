"""File names that are safe on every system the site is edited, built or served from.

Input: file names and project-relative paths. Output: why a name is unsafe, and which paths name
the same file where letter case or Unicode normalisation is ignored (Windows, macOS), even when
Linux keeps them apart. Nothing here touches the disk.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

# Device names: Windows opens the device, not a file, for these with any extension ('con.md').
WINDOWS_RESERVED = frozenset(
    {
        "con",
        "prn",
        "aux",
        "nul",
        *(f"com{i}" for i in range(1, 10)),
        *(f"lpt{i}" for i in range(1, 10)),
    }
)
_NOT_ON_WINDOWS = re.compile(r'[<>:"|?*\\\x00-\x1f\x7f]')


def unsafe_name(name: str) -> str | None:
    """Why `name` (one path segment) cannot be a file everywhere, or None when it can."""
    if name in ("", ".", ".."):
        return f"'{name}' is not a file name"
    bad = _NOT_ON_WINDOWS.search(name)
    if bad:
        char = bad.group()
        if char == "\\":
            return "contains a backslash, which Windows reads as a folder separator"
        if char in ("\x00", "\x7f") or char < " ":
            return f"contains the control character U+{ord(char):04X}"
        return f"contains '{char}', which Windows does not allow in file names"
    if name.endswith((" ", ".")):
        return "ends with a space or a dot, which Windows drops"
    device = name.split(".", 1)[0].rstrip(" ").lower()
    if device in WINDOWS_RESERVED:
        return f"uses '{device.upper()}', a device name reserved on Windows"
    return None


def folded(path: str) -> str:
    """The form under which Windows and macOS compare names: composed, and in one letter case."""
    return unicodedata.normalize("NFC", path).lower()


def collisions(paths: Iterable[str]) -> list[tuple[str, str, str]]:
    """`(path, other, what differs)` for each path naming the same file as an earlier `other`."""
    seen: dict[str, str] = {}
    found: list[tuple[str, str, str]] = []
    for path in sorted(set(paths)):
        key = folded(path)
        other = seen.setdefault(key, path)
        if other == path:
            continue
        same_letters = unicodedata.normalize("NFC", path) == unicodedata.normalize("NFC", other)
        same_case = path.lower() == other.lower()
        if same_letters:
            what = "Unicode normalisation"
        elif same_case:
            what = "letter case"
        else:
            what = "letter case and Unicode normalisation"
        found.append((path, other, what))
    return found
