"""Words, stems and stop words shared by lexical statistics and the answerer."""

from __future__ import annotations

import re
from functools import lru_cache

# Letters of Latin, Cyrillic and Arabic scripts, digits, with inner apostrophes, dots in numbers.
WORD = re.compile(r"[0-9]+(?:[.,][0-9]+)*%?|[^\W\d_]+(?:['’][^\W\d_]+)*", re.UNICODE)

STOPWORDS = frozenset(
    """
    a about above after again against all also am an and any are aren't as at be because been
    before being below between both but by can cannot could did didn't do does doesn't doing
    don't down during each few for from further had has have having he her here hers herself him
    himself his how i if in into is isn't it it's its itself just let me more most my myself no
    nor not of off on once only or other ought our ours ourselves out over own same she should so
    some such than that that's the their theirs them themselves then there there's these they this
    those through to too under until up upon very was wasn't we were weren't what when where which
    while who whom whose why will with won't would you your yours yourself yourselves
    according many much say said says tell told name named called kind type one ones another
    s t
    """.split()
)


@lru_cache(maxsize=1)
def _stemmer():
    import Stemmer  # PyStemmer: small C extension, loaded on first use

    return Stemmer.Stemmer("english")


@lru_cache(maxsize=200_000)
def stem(word: str) -> str:
    """The English stem of a lower-case word ("killed" -> "kill")."""
    return _stemmer().stemWord(word)


def tokens(text: str) -> list[tuple[str, int, int]]:
    """(lower-case word, start, end) for every word or number in the text."""
    return [(m.group().lower(), m.start(), m.end()) for m in WORD.finditer(text)]


def content_terms(text: str) -> list[str]:
    """Stems of the words that carry meaning (no stop words), in order."""
    return [stem(word) for word, _, _ in tokens(text) if word not in STOPWORDS]
