"""Words, stems and stop words shared by lexical statistics and the answerer; cleaning of
untrusted text (questions, reports, metadata) so control characters never reach the index."""

from __future__ import annotations

import difflib
import re
import threading
import time
import unicodedata
from collections.abc import Iterable
from functools import lru_cache

from .answer_weights import WEIGHTS

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


_local = threading.local()


def stemmer():
    """This thread's stemmer (PyStemmer, a small C extension, loaded on first use): its stemmers
    are not safe to share between threads, and questions and the views' updates stem at once."""
    stemmer = getattr(_local, "stemmer", None)
    if stemmer is None:
        import Stemmer

        stemmer = _local.stemmer = Stemmer.Stemmer("english")
    return stemmer


# Forms a stemmer cannot join, read as one word: irregular past forms of verbs reports use
# ("began" is "begin"). Country adjectives ("British" for Britain) were tried and left out: joining
# "Turkish" to "Turkey" let "How many people died in the earthquake in Turkey?" be answered from
# the PKK campaign's "Turkish state ... 40,000 people killed".
SAME_WORD = {
    **dict.fromkeys(("began", "begun", "begins"), "begin"),
    **dict.fromkeys(("took", "taken"), "take"),
    **dict.fromkeys(("fled",), "flee"),
    **dict.fromkeys(("broke", "broken"), "break"),
    **dict.fromkeys(("fought",), "fight"),
    **dict.fromkeys(("met",), "meet"),
    **dict.fromkeys(("held",), "hold"),
    **dict.fromkeys(("struck", "stricken"), "strike"),
    **dict.fromkeys(("shot",), "shoot"),
    **dict.fromkeys(("seized",), "seize"),
    **dict.fromkeys(("drove", "driven"), "drive"),
    **dict.fromkeys(("threw", "thrown"), "throw"),
    **dict.fromkeys(("died", "dead", "deaths", "death"), "die"),
}


@lru_cache(maxsize=200_000)
def stem(word: str) -> str:
    """The English stem of a lower-case word ("killed" -> "kill"; "began" -> "begin", see SAME_WORD)."""
    return stemmer().stemWord(SAME_WORD.get(word, word))


@lru_cache(maxsize=4096)
def tokens(text: str) -> tuple[tuple[str, int, int], ...]:
    """(lower-case word, start, end) for every word or number in the text (kept for the texts seen
    last: the answerer reads each candidate sentence's words several times)."""
    return tuple((m.group().lower(), m.start(), m.end()) for m in WORD.finditer(text))


def quantity(n: int, noun: str) -> str:
    """ "1 chunk", "11 chunks": a count with its noun in the number it takes."""
    return f"{n:,} {noun}" if n == 1 else f"{n:,} {noun}s"


def per_second(done: int, started: float) -> str:
    """ "12.5": the rate of `done` items since `started` (a time.monotonic()), as progress shows it."""
    return f"{done / max(time.monotonic() - started, 1e-6):.1f}"


def spelled_like(term: str, known: Iterable[str]) -> bool:
    """Whether a known stem is a spelling variant of `term` (Maaret / Maarat, a typo): the same
    first two letters and a close match."""
    near = [k for k in known if k[:2] == term[:2]]
    return bool(difflib.get_close_matches(term, near, n=1, cutoff=WEIGHTS.spelling_cutoff))


@lru_cache(maxsize=4096)  # the answerer reads the same candidate sentences several times a question
def content_terms(text: str) -> tuple[str, ...]:
    """Stems of the words that carry meaning (no stop words), in order."""
    return tuple(stem(word) for word in map(str.lower, WORD.findall(text)) if word not in STOPWORDS)


# Terminal escape sequences (colours, cursor moves, window titles), dropped whole so no "[31m"
# is left behind: CSI, OSC (ended by BEL or ST) and two-character escapes, in 7- and 8-bit form.
_ESCAPES = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)?|[@-Z\\-_])?|\x9b[0-?]*[ -/]*[@-~]")
# C0 and C1 controls other than tab and newline; lone surrogates cannot be stored as UTF-8.
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_SURROGATES = re.compile(r"[\ud800-\udfff]")
_LINE_BREAKS = str.maketrans({"\r": "\n", "\x0b": "\n", "\x0c": "\n", "\x85": "\n"})
# Invisible characters a question gains when pasted: format characters (zero-width spaces and
# joiners, soft hyphens, bidi marks and overrides, BOM, tag characters), surrogates, private use
# and unassigned code points. They would split or hide words.
_INVISIBLE = frozenset({"Cf", "Cs", "Co", "Cn"})


def clean_text(text: str) -> str:
    """A report's text with escape sequences and control characters removed.

    Line breaks become "\\n" (also form feeds and vertical tabs), tabs stay, lone surrogates
    become U+FFFD; everything else, zero-width and bidi characters included, is kept as written.
    """
    text = text.replace("\r\n", "\n").translate(_LINE_BREAKS)
    text = _CONTROLS.sub("", _ESCAPES.sub("", text))
    return _SURROGATES.sub("\ufffd", text)


# Controls that are not whitespace to str.split(): removed, so "T\x07itle" stays one word.
_HIDDEN_CONTROLS = re.compile(r"[\x00-\x08\x0e-\x1b\x7f-\x84\x86-\x9f]")


def one_line(text: str) -> str:
    """Text as a single line: escape sequences and control characters dropped, line breaks and
    runs of whitespace made one space, lone surrogates (which UTF-8 cannot store) made U+FFFD."""
    return _SURROGATES.sub("\ufffd", " ".join(_HIDDEN_CONTROLS.sub("", _ESCAPES.sub("", text)).split()))


def clean_question(text: str) -> str:
    """A question as typed or pasted, reduced to what it says: one line, NFKC-normalised, with
    escape sequences, control and invisible characters gone (a zero-width space inside a word
    does not split it)."""
    text = _ESCAPES.sub("", text)
    text = "".join(ch for ch in text if unicodedata.category(ch) not in _INVISIBLE)
    return one_line(unicodedata.normalize("NFKC", text))
