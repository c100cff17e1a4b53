"""citeproc-py's known rough edges, fixed in one place so its output is what the CSL spec says.

Input: the citeproc-py classes. Output: the same classes with these behaviours corrected
(applied once, by `apply()`, before any style is loaded). Each fix is checked against pandoc's
citeproc by tests/test_csl_pandoc.py; pyproject.toml pins citeproc-py to the minor release they
were written for, because they replace internals.

1. Substituted variables are suppressed in the rest of the entry (CSL 1.0.2, "Substitution"):
   citeproc-py printed an edited book's editors twice and a title-only entry's title twice.
2. Given names are initialised per hyphen segment and a segment that starts in lower case is
   dropped with its hyphen, as pandoc does: "Jing-cheng" -> "J", not "J cheng".
3. A localized date is joined with the locale's own delimiter: "2020 Mar", not "2020Mar".
4. A period that follows a question or exclamation mark is dropped: "Does it work?", not
   "Does it work?.".
5. Title case works on the whole string: protected (nocase) words stay as written without
   splitting the words around them ("NHS: A Guide", not "NHS : A Guide"), each part of a
   hyphenated word is a word, and labels and terms (no language of their own) are English.

And one for speed, which changes no output:

6. Each XPath look-up in the style (the layout, a macro, a term, a parent's options) is made
   once per element and expression, not for every reference: the style's tree never changes
   after loading, and the look-ups were a fifth of the time spent formatting.

Other fixes live where they belong: the style normaliser and the output post-processing
(numbers, quotes, links) in csl.py.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from citeproc import model
from citeproc import string as citeproc_string
from citeproc.source import VariableError

_CS = "{http://purl.org/net/xbiblio/csl}"
_SUPPRESSIBLE = tuple(f"{_CS}{tag}" for tag in ("text", "names", "number", "date"))
_applied = False


def _variables_in(element: Any, seen: frozenset[str] = frozenset()) -> Iterator[str]:
    """Every variable an element can print, following macros (conditions are not printing)."""
    if element.tag in _SUPPRESSIBLE:
        yield from (element.get("variable") or "").split()
    macro = element.get("macro")
    if macro and macro not in seen:
        yield from _variables_in(element.get_macro(macro), seen | {macro})
    for child in element.iterchildren():
        yield from _variables_in(child, seen)


def _add_to_repressed_list(self: Any, child: Any, context: Any) -> None:
    layout = context.get_layout()
    for variable in _variables_in(child):
        for tag in _SUPPRESSIBLE:
            layout.repressed.setdefault(tag, []).append(variable)


def _layout_of(element: Any, context: Any) -> Any:
    try:
        return (context if context is not None else element).get_layout()
    except IndexError:  # a macro rendered outside a layout (sort keys): nothing is suppressed
        return None


_original_names_process = model.Names.process


def _names_process(
    self: Any, item: Any, names_context: Any = None, context: Any = None, **kwargs: Any
) -> Any:
    layout = _layout_of(self, context)
    repressed = (getattr(layout, "repressed", None) or {}).get(f"{_CS}names", ())
    roles = self.get("variable").split()
    kept = [role for role in roles if role not in repressed]
    if names_context is not None or kept == roles:
        return _original_names_process(self, item, names_context, context, **kwargs)
    if not kept:
        raise VariableError
    # Some roles were substituted earlier: render the others only ("editor translator").
    self.set("variable", " ".join(kept))
    try:
        return _original_names_process(self, item, names_context, context, **kwargs)
    finally:
        self.set("variable", " ".join(roles))


def _initialize(self: Any, given: str, mark: str, context: Any) -> str:
    hyphenate = self.get_option("initialize-with-hyphen", context)
    text = ""
    for word in re.sub(r"\.\s*-", "-", given).replace(".", " ").split():
        if word.islower():  # a particle ("de", "del") or a name written in lower case
            text += f" {word} "
            continue
        initials = [s[0] + mark for s in word.split("-") if s and not s[0].islower()]
        if hyphenate and initials:
            text += "-".join(i.rstrip() for i in initials) + mark[len(mark.rstrip()) :]
        else:
            text += "".join(initials)
    return " ".join(text.split())


def _render_single_date(self: Any, date: Any, show_parts: Any = None, context: Any = None) -> Any:
    if context is not self:
        parts = self.parts(date, show_parts, context)
    else:
        parts = self.parts(date, show_parts)
    if not parts:
        return None
    # A localized date (cs:date inside cs:locale) carries its own delimiter.
    return self.join(parts)


_original_normalize_seam = citeproc_string.normalize_seam


def _normalize_seam(left: Any, other: Any) -> Any:
    left_text, other_text = str(left), str(other)
    if left_text and other_text and left_text[-1] in "?!" and other_text[0] == ".":
        return citeproc_string._strip_first_char(other)
    return _original_normalize_seam(left, other)


_original_case = model.TextCased.case
_WORD = re.compile(r"\S+")
_PART = re.compile(r"[^-\u2010\u2013/]+")


def _case(self: Any, text: Any, language: Any = None) -> Any:
    # Terms and labels come without a language: they are in the style's (English) locale.
    if self.get("text-case") != "title" or language not in ("en", None):
        return _original_case(self, text, language)
    return _title_case(text)


def _title_case(text: Any) -> Any:
    """CSL title case over the whole string, protected (nocase) runs untouched and spacing kept.

    citeproc-py split words at every nocase run and joined them with spaces ("NHS : A Guide");
    this follows pandoc: each part of a hyphenated word is a word, stop words stay lower case
    unless they open the title or follow a colon or full stop, a one-letter word stays as it is
    unless it opens the title, and a word with any capital letter is left alone."""
    segments = list(text) if isinstance(text, citeproc_string.MixedString) else [text]
    full = "".join(str(s) for s in segments)
    protected = [isinstance(s, citeproc_string.NoCase) for s in segments for _ in str(s)]
    chars = list(full)
    opens = True
    for word in _WORD.finditer(full):
        for part in _PART.finditer(word.group()):
            start = word.start() + part.start()
            letters = [i for i in range(start, word.start() + part.end()) if chars[i].isalpha()]
            bare = "".join(chars[i] for i in letters)
            if not letters or any(protected[i] for i in letters) or not bare.islower():
                continue
            stop = bare in model.TextCased._stop_words or len(bare) == 1
            if opens or not stop:
                first = letters[0]
                upper = chars[first].upper()
                chars[first] = upper if len(upper) == 1 else chars[first]
            opens = False
        opens = word.group()[-1] in ":.?!"
    out: list[Any] = []
    position = 0
    for segment in segments:
        length = len(str(segment))
        out.append(type(segment)("".join(chars[position : position + length])))
        position += length
    return citeproc_string.MixedString(out) if len(out) != 1 else out[0]


_original_xpath_search = model.CitationStylesElement.xpath_search
# (element, expression) -> the elements found. The key holds the element, which keeps lxml's
# proxy for it alive, so the same node always comes back as the same (hashable) object.
_found: dict[tuple[Any, str], list[Any]] = {}


def _xpath_search(self: Any, expression: str) -> list[Any]:
    key = (self, expression)
    found = _found.get(key)
    if found is None:
        found = _found[key] = _original_xpath_search(self, expression)
    return list(found)  # a copy: a caller may change the list it is given


def apply() -> None:
    """Install the fixes (idempotent)."""
    global _applied
    if _applied:
        return
    model.Substitute.add_to_repressed_list = _add_to_repressed_list
    model.Names.process = _names_process
    model.Name.initialize = _initialize
    model.Date.render_single_date = _render_single_date
    model.TextCased.case = _case
    model.CitationStylesElement.xpath_search = _xpath_search
    citeproc_string.normalize_seam = _normalize_seam
    model.normalize_seam = _normalize_seam
    _applied = True
