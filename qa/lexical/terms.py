"""Texts into BM25 terms, as bm25s tokenizes them; vocabularies of term ids; strings as arrays."""

from __future__ import annotations

import functools
import json
import re
from typing import TYPE_CHECKING, Any

from ..text import stemmer

if TYPE_CHECKING:
    import numpy as np

TOKENS = r"(?u)\b\w\w+\b"  # BM25Retriever's token pattern
_SPLIT = re.compile(TOKENS)


@functools.lru_cache(maxsize=1)
def _stop_words() -> frozenset[str]:
    from bm25s.stopwords import STOPWORDS_EN  # the list bm25s.tokenize(stopwords="en") uses

    return frozenset(STOPWORDS_EN)


def tokenize(texts: list[str]) -> tuple[list[list[int]], list[str]]:
    """The texts as bm25s.tokenize(texts, stopwords="en", stemmer=English) reads them: lower case,
    words of two or more characters, no stop words, stemmed; returned as each text's term numbers
    and the term of each number. (bm25s itself builds a set of its stop words once per text: a
    fifth of a build at 100k chunks. tests/test_lexical.py holds the two to the same terms.)"""
    stop = _stop_words()
    numbers: dict[str, int] = {}
    rows = []
    for text in texts:
        row = []
        for token in _SPLIT.findall(text.lower()):
            if token not in stop:
                number = numbers.get(token)
                if number is None:
                    number = numbers[token] = len(numbers)
                row.append(number)
        rows.append(row)
    return rows, stemmer().stemWords(list(numbers))  # qa.text's: one stemmer per thread


def bm25_terms(texts: list[str]) -> list[list[str]]:
    """Each text's BM25 terms (see `tokenize`)."""
    rows, terms = tokenize(texts)
    return [[terms[n] for n in row] for row in rows]


class Vocabulary:
    """Term -> id, shared by every snapshot; only ever grows (a snapshot ignores ids past its own statistics)."""

    def __init__(self) -> None:
        self.ids: dict[str, int] = {}
        self.terms: list[str] = []

    def id_of(self, term: str) -> int:
        got = self.ids.get(term)
        if got is None:
            got = self.ids[term] = len(self.terms)
            self.terms.append(term)
        return got

    def __len__(self) -> int:
        return len(self.terms)


def packed(value: Any) -> "np.ndarray":
    """Strings (a list, a dict, lists of them) as bytes of JSON in an array: savez without pickles."""
    import numpy as np

    return np.frombuffer(json.dumps(value, ensure_ascii=False).encode("utf-8"), dtype=np.uint8)


def unpacked(array: "np.ndarray") -> Any:
    return json.loads(array.tobytes().decode("utf-8"))
