"""Pickling a str that is not all ASCII makes CPython keep its UTF-8 form beside it for as
long as the str lives. The build pickles every page body more than once (to save the cache,
to fingerprint the pages it renders): those bodies are held as UTF-8 bytes, and the texts a
fingerprint digests must not grow for it."""

from __future__ import annotations

import pickle
import sys
from dataclasses import dataclass

from backpain_site.markdown_body import BodyHtml
from backpain_site.page_memo import Fingerprints

TEXT = "<p>Muñoz and Ødegård found that pain eased — a little.</p>" * 40


def fresh_text() -> str:
    return "".join(reversed(TEXT[::-1]))  # a new str, with no UTF-8 form made yet


def test_a_body_holds_its_html_as_utf8_and_pickles_as_it_is() -> None:
    text = fresh_text()
    body = BodyHtml.of(text, ("/studies/x/",), ((1, "raw HTML"),))
    assert body.html == text
    # Not all ASCII: as a str, two bytes a character; as UTF-8, about one.
    assert sys.getsizeof(body.utf8) < 0.6 * sys.getsizeof(text)
    again = pickle.loads(pickle.dumps(body, protocol=5))
    assert again == body and again.html == text
    plain = fresh_text()
    size = sys.getsizeof(plain)
    pickle.dumps(plain, protocol=5)
    assert sys.getsizeof(plain) > size  # what a str would have cost once pickled


@dataclass(frozen=True)
class Page:
    title: str
    body: str


def test_a_fingerprint_leaves_the_text_it_digests_as_it_was() -> None:
    page = Page("Ødegård", fresh_text())
    size = sys.getsizeof(page.body)
    found = Fingerprints().of({"page": page})
    assert sys.getsizeof(page.body) == size
    assert found == Fingerprints().of({"page": Page("Ødegård", fresh_text())})
    assert found != Fingerprints().of({"page": Page("Ødegård", fresh_text() + "!")})
    assert found != Fingerprints().of({"page": Page("Odegard", fresh_text())})
