"""Where a sentence holds the short answer: a number, a date, a name or place, the name it gives
the asked noun ("spokesman Stephane Dujarric"), or the credit a question about the report asks for.
"""

from __future__ import annotations

import re
from functools import lru_cache

from .answer_counts import DATE, counted, number_fit, numbers_in, repeats_number
from .answer_weights import WEIGHTS
from .question import WEEKDAYS, QuestionInfo, calendar_words, singular
from .text import STOPWORDS, stem, tokens

_CONNECT = r"(?:\s+(?:of|al|el|ad|as|ash|ar|an|de|du|da|del|la|le|bin|ibn|van|von|the|and|for)(?=\s+[A-Z]))?"
# (A name may open with a lower-case particle: "al-Foua", "el-Sisi", "ad-Dana".)
_PARTICLE = r"(?:(?:al|el|ad|as|ash|ar|an|at|az|ibn|bin|abu)[-‑])?"
ENTITY = re.compile(rf"\b{_PARTICLE}[A-Z][\w'’.-]*(?:{_CONNECT}[\s-]+{_PARTICLE}[A-Z][\w'’.-]*)*")
_PLACE_CUE = re.compile(r"\b(?:in|at|near|from|to|into|across|outside|inside|towards?|around|of)\s+(?:the\s+)?$", re.IGNORECASE)


# A photo's credit: "(AFP)" or "(Photo: Reuters)" closing a caption, or a line "Photo: AFP".
_CAPTION_CREDIT = re.compile(r"\((?:(?:photo|picture|image)s?\s*(?:by\s+|:\s*))?(?P<who>[A-Z][\w&.'’/ -]{0,40}?)\)\s*$", re.I)
_PHOTO_LINE = re.compile(r"^\s*(?:(?:photo(?:graph)?s?|pictures?|images?|credits?)\s*(?:by\s+|:\s*)(?P<who>.+?)|\((?P<bracketed>[^()]{2,40})\))\s*$", re.I)
# The report's own sources or author: "Source: TRTWorld and agencies", "By Jane Doe".
_SOURCE_LINE = re.compile(r"^\s*(?:sources?|by|reporting by|written by|compiled by)\s*:?\s+(?P<who>.+?)\s*\.?\s*$", re.I)


def _calendar_kind(word: str) -> str:
    return "year" if word.isdigit() else "day" if word in WEEKDAYS else "month"


def dated_otherwise(asked: set[str], sentence: str) -> bool:
    """Whether the sentence dates its event by other days, months or years than the question,
    and by none of them: "On Saturday ..." for a question about Thursday."""
    said = calendar_words(sentence)
    if not said or said & asked:
        return False
    kinds = {_calendar_kind(w) for w in asked}
    return any(_calendar_kind(w) in kinds for w in said)


def credit_span(asks: str, sentence: str, kind: str) -> tuple[int, int] | None:
    """Where the sentence gives the credit a question asks for (see ASKS_FOR), if it does."""
    if asks == "photo-credit":
        found = _CAPTION_CREDIT.search(sentence) if kind == "text" else _PHOTO_LINE.match(sentence)
    elif asks == "report-credit" and kind == "credit":
        found = _SOURCE_LINE.match(sentence)
    else:
        return None
    if found is None or "pictured" in found.group().lower():  # "(pictured)" says where, not who
        return None
    return found.span("bracketed" if found.groupdict().get("bracketed") else "who")


def mentions_noun(sentence: str, head: str) -> bool:
    return any(singular(w) == head for w, _, _ in tokens(sentence))


# Where a name stands for the noun it names: "spokesman Stephane Dujarric", "war monitor, Syrian
# Observatory ...", "the villages of Telmenes" (after it); "Diklabas, a village", "Telmenes village" (before).
_NAMED_AFTER = re.compile(
    # "operations in northwestern Syria — X", "green space in Newcastle is the Town Moor"
    r"(?:\s+(?:in|on|at|of|from)\s+(?:[\w'’-]+\s+){0,2}?(?:[\w'’-]+\s*[—–:]|(?:is|was|are|were))|\s+(?:is|was|are|were)|\s*[—–:]|\s*,)?"
    r"\s*(?:(?:of|named|called|such as|including|like)\s+)?(?:the\s+)?[\"“‘']?"
)
_NAMED_BEFORE = re.compile(r"[\"”’']?(?:,\s*(?:an?|the)\s+(?:[\w'’-]+\s+){0,3}|\s+(?:[\w'’-]+\s+)?)")
# A quoted title names what it follows: the single "Hymn for the Weekend".
_QUOTED = re.compile(r"[\"“‘'](?P<name>[A-Z0-9][^\"”’']{1,60}?)[\"”’']")


_ABBREVIATION = re.compile(r"(?:\b[A-Z]|\b(?:St|Mr|Mrs|Ms|Dr|Jr|Gen|Col|Lt|Maj|Capt|Sgt|Co|Inc|Ltd))\.$")


# A one-word nationality or creed before a noun is an adjective, not a name: "the Turkish military's
# Operation ...", "two Shiite villages", "the official Syrian news agency"; so is "the YPG-led militia".
_DEMONYMS = (
    "Syrian|Turkish|Kurdish|Russian|Iranian|Iraqi|Lebanese|Jordanian|Israeli|Palestinian|Saudi|Qatari|Emirati|Egyptian|"
    "Libyan|Yemeni|Afghan|Pakistani|American|British|French|German|Italian|Chinese|Ukrainian|European|Arab|Arabic|"
    "Western|Eastern|Northern|Southern|Shiite|Shia|Sunni|Alawite|Druze|Christian|Muslim|Islamic|Islamist|Jihadist|"
    "Armenian|Assyrian|Turkmen|Circassian|Yazidi|Ismaili|Kurd|Baathist"
)
_DEMONYM = re.compile(
    rf"(?:(?:{_DEMONYMS})|[\w'’.-]+-(?:affiliated|backed|led|based|linked|controlled|held|run|allied|aligned|dominated))(?=\s+[a-z])"
)


def names_in(sentence: str) -> list[tuple[int, int]]:
    """The spans of capitalised names, without the full stop that ends a sentence after one
    ("... of Kafr Sajna." -> "Kafr Sajna"; "U.S." keeps its own), nor nationalities used as
    adjectives ("Turkish military")."""
    return list(_names_in(sentence))


@lru_cache(maxsize=4096)  # the answerer reads the same candidate sentences several times a question
def _names_in(sentence: str) -> tuple[tuple[int, int], ...]:
    spans = []
    for m in ENTITY.finditer(sentence):
        a, b = m.span()
        if sentence[b - 1] == "." and not _ABBREVIATION.search(sentence, a, b):
            b -= 1
        first = re.match(r"([^\W\d_]+)\s+", sentence[a:b])
        if a == 0 and first and first.group(1).lower() in STOPWORDS - {"the"}:
            a = first.end()  # "But Stephen Eilmann argues": the capital of a sentence's first word is no name's
        bare = a + 4 if sentence.startswith("The ", a) else a  # "The Turkish military"
        adjective = _DEMONYM.match(sentence, bare)
        if adjective and adjective.end() == b:
            continue
        spans.append((a, b))
    return tuple(spans)


def named_as(sentence: str, info: QuestionInfo) -> tuple[int, int] | None:
    """The name the sentence gives the question's asked noun (`info.head`), if it gives one that
    the question does not already say."""
    quoted = [m.span("name") for m in _QUOTED.finditer(sentence)]
    names = [
        (a, b)
        for a, b in quoted + names_in(sentence)
        if (a > 0 or " " in sentence[a:b]) and any(w not in info.words and w not in STOPWORDS for w, _, _ in tokens(sentence[a:b]))
    ]
    for word, start, end in tokens(sentence):
        if singular(word) != info.head:
            continue
        for a, b in names:
            if (a >= end and _NAMED_AFTER.fullmatch(sentence, end, a)) or (b <= start and _NAMED_BEFORE.fullmatch(sentence, b, start)):
                return a, b
            if a <= start and end <= b and " " in sentence[a:b]:  # the noun in the name: "Newcastle University", "Operation X"
                return a, b
    return None


def find_answer_span(info: QuestionInfo, sentence: str) -> tuple[int, int] | None:
    """The short answer of the question's type inside the sentence, nearest its key terms."""
    if info.kind == "other":
        return None
    if info.kind == "number":
        found = numbers_in(sentence)
    elif info.kind == "date":
        found = [m.span() for m in DATE.finditer(sentence)]
    else:
        found = []
        for a, b in names_in(sentence):
            if a == 0 and " " not in sentence[a:b]:
                continue  # a capital at the start of a sentence is no sign of a name
            if info.kind == "place" and not _PLACE_CUE.search(sentence[max(0, a - WEIGHTS.place_look_back) : a]):
                continue
            found.append((a, b))
    # An answer is something the question does not already say: for a number, the number with
    # what it counts ("two largest cities" repeats "Syria's two biggest cities"; "two hours" is new).
    asked = {stem(w) for w in info.words}
    found = [
        (a, b)
        for a, b in found
        if (
            not (repeats_number(info, sentence[a:b]) and (counted(sentence, (a, b)) & asked or not counted(sentence, (a, b))))
            if info.kind == "number"
            else any(w not in info.words and w not in STOPWORDS for w, _, _ in tokens(sentence[a:b]))
        )
    ]
    if not found:
        return None
    anchors = [s for w, s, _ in tokens(sentence) if stem(w) in info.terms]
    fit = (lambda span: -number_fit(info, sentence, span)) if info.kind == "number" else (lambda span: 0)
    if not anchors:
        return min(found, key=lambda span: (fit(span), span[0]))
    return min(found, key=lambda span: (fit(span), min(abs(span[0] - a) for a in anchors)))


