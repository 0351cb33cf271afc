"""Numbers in a sentence and what they count: the spans of numbers that are not dates, the words
a number counts ("12 observation posts"), its casualty action ("killed at least 16"), and whether
a sentence's numbers count what a how-many question asks.
"""

from __future__ import annotations

import re
from functools import lru_cache

from .answer_weights import WEIGHTS
from .question import DAYS, MONTHS, QuestionInfo, named_action, stem_groups
from .text import STOPWORDS, stem, tokens

_NUM_WORDS = (
    r"one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|fifteen|sixteen|"
    r"seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety|hundreds?|"
    r"thousands?|millions?|billions?|dozens?|half|a dozen|a hundred|a thousand|a million|several"
)

_QUALIFIER = r"(?:(?:at least|at most|more than|less than|fewer than|about|around|nearly|almost|over|some|up to|roughly|approximately|an estimated|as many as)\s+)?"
NUMBER = re.compile(
    rf"\b{_QUALIFIER}(?:\d[\d,.]*(?:\s*(?:%|percent|per cent))?|(?:{_NUM_WORDS})(?:[\s-](?:{_NUM_WORDS}|and))*)"
    rf"(?:\s+(?:million|billion|thousand|hundred))?\b",
    re.IGNORECASE,
)
DATE = re.compile(
    rf"\b(?:(?:early|late|mid)[\s-])?(?:(?:{DAYS})(?:,?\s+(?:{MONTHS})\.?\s+\d{{1,2}})?"
    rf"|\d{{1,2}}\s+(?:{MONTHS})\.?(?:,?\s+\d{{4}})?"
    rf"|(?:{MONTHS})\.?(?:\s+\d{{1,2}}(?:st|nd|rd|th)?)?(?:,?\s+\d{{4}})?"
    rf"|(?:1[0-9]|20)\d{{2}}s?"
    rf"|\d{{1,2}}(?:st|nd|rd|th)[\s-]century|(?:first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth|eleventh|twelfth|thirteenth|fourteenth|fifteenth|sixteenth|seventeenth|eighteenth|nineteenth|twentieth|twenty-first)\s+century"
    rf"|yesterday|today|tonight|overnight|midnight|(?:last|this|next)\s+(?:week|month|year|night|weekend)"
    rf"|(?:morning|afternoon|evening|night))\b",
    re.IGNORECASE,
)


def number_fit(info: QuestionInfo, sentence: str, span: tuple[int, int]) -> int:
    """How well one number answers a number question: one point for counting (or measuring)
    what it asks, `Weights.action_points` (two) for the asked casualty action ("over 400,000 people displaced", asked
    how many were displaced, beats "over 550 civilians have been killed")."""
    words = counted(sentence, span)
    asked, units, action = info.count, info.units, info.action
    points = int(bool((asked and _same_count(asked, words)) or (units and words & units)))
    # The asked action weighs most: "34 others" injured beats "16 civilians" killed, asked for the injured.
    return points + WEIGHTS.action_points * int(action is not None and number_action(sentence, span) == action)


# Words that count the same thing: a question about "people" is answered by "16 civilians".
_SAME_COUNT = stem_groups(
    "people civilians persons residents individuals inhabitants",
    "children kids minors boys girls",
    "soldiers troops servicemen",
    "fighters militants rebels combatants jihadists insurgents gunmen",
    "km kilometre kilometres kilometer kilometers",
    "m metre metres meter meters",
    "mile miles mi",
    "strikes airstrikes raids airraids sorties bombings",
)
# A count of "people" may be given in any word for people ("50 members", "300 residents"): not judged
# by the noun, only by the action ("people killed" is not "people displaced").
ANY_PEOPLE = {stem("people"), stem("persons")}
NUMBER_WORDS = {stem(w) for w in "number numbers toll tolls total".split()}
# Words for a report and its telling ("according to the aid report"): no event's.
TELLING_WORDS = {stem(w) for w in "report reports reported article story piece according said say says".split()}
_OF = {"of", "the", "a", "an", "its", "their", "his", "her"}
OTHERS = {stem("others"), stem("other"), stem("more")}


_ASIDE = re.compile(r",\s*(?:including|among them|among whom|mostly|most of them|many of them|some of them)\b[^,;:—]*,")


def number_action(sentence: str, span: tuple[int, int]) -> int | None:
    """The casualty action nearest the number: "killed at least 16", "seven civilians were killed"."""
    clause_before = re.split(r"[,;:—]|\band\b", sentence[: span[0]])[-1]
    before = [stem(w) for w, _, _ in tokens(clause_before)][-WEIGHTS.action_look_back :]
    # "more than 40,000 people, including women and children, have been killed": past the aside.
    clause = re.split(r"[,;:—]|\band\b", _ASIDE.sub(" ", sentence[span[1] :]), maxsplit=1)[0]
    after = [stem(w) for w, _, _ in tokens(clause)][: WEIGHTS.action_look_ahead]
    nearest_before = named_action(list(reversed(before)))
    return nearest_before if nearest_before is not None else named_action(after)


def counted(sentence: str, span: tuple[int, int]) -> set[str]:
    """The stems of the words a number counts: up to three words after it, to the clause's end
    ("12 observation posts" -> observ, post; "two of Turkey's 12 observation posts" the same);
    empty when nothing follows it ("killed 16 and ...")."""
    after = re.split(r"[,.;:()!?\"“”—]", sentence[span[1] :], maxsplit=1)[0]
    out: set[str] = set()
    for word, start, _ in tokens(after)[: WEIGHTS.counted_tokens]:
        original = after[start : start + 1]
        if not out and (word in _OF or word.isdigit() or original.isupper() or word == "s"):
            continue  # "two of Turkey's 12 observation posts": what the two are two of
        if word in STOPWORDS or word.isdigit() or len(out) == WEIGHTS.counted_words:
            break
        out.add(stem(word))
    return out


# A measure's multiples and fractions: "1.5 gigatons" is a number of tons, "3 kilowatts" of watts.
_UNIT_PREFIXES = ("kilo", "mega", "giga", "tera", "milli", "micro", "nano", "centi")


def _same_count(asked: str, words: set[str]) -> bool:
    if asked in words or any(prefix + asked in words for prefix in _UNIT_PREFIXES):
        return True
    return any(asked in group and words & group for group in _SAME_COUNT)


def count_fit(info: QuestionInfo, sentence: str) -> str:
    """Whether the sentence's numbers count or measure what a number question asks for: "fits"
    (one does), "other" (each number counts something named and different: observation posts for
    soldiers, "three others" of a count of civilians for children, the killed for the injured,
    cities for a length), "" (unknown: nothing asked, or a number that names nothing)."""
    if info.kind != "number":
        return ""
    asked, units, action = info.count, info.units, info.action
    asked = "" if asked in ANY_PEOPLE else asked
    if not (asked or units or action is not None):
        return ""
    spans = numbers_in(sentence)
    if not spans:
        return "other"
    named: set[str] = set()
    verdict = "other"
    last_action = None
    for span in spans:
        words = counted(sentence, span)
        done = number_action(sentence, span)
        if words & OTHERS:
            words = named or words  # "four civilians ... and three others": others of the same count
        # "... killed, and three others", "killed 16 people, among them three children": the
        # action said before it in the sentence.
        done = last_action if done is None else done
        last_action = done
        if not words and done is not None:
            words = {stem("people")}  # "has killed hundreds": people
        if action is not None and done != action and (done is not None or words):
            named |= words - OTHERS
            continue  # a count of the killed (or of hospitals, or of people who were not hurt), asked for the injured
        if not words:
            verdict = ""
            continue
        if (units and words & units) or (asked and _same_count(asked, words)) or not (asked or units):
            return "fits"
        named |= words - OTHERS
    return verdict


# "10:07", "10.30 am", "3 pm" (not "4.81 million").
_CLOCK = re.compile(r"\b\d{1,2}:\d{2}\b(?:\s*[ap]\.?m\.?)?|\b\d{1,2}(?:\.\d{2})?\s*[ap]\.?m\b\.?", re.I)
# A date names its month or day with a capital: "40 may have died" and "60 march" are counts.
_LOWER_CALENDAR = re.compile(rf"\b(?!(?:{MONTHS}|{DAYS})\b)(?i:{MONTHS}|{DAYS})\b")


def numbers_in(sentence: str) -> list[tuple[int, int]]:
    """The spans of the numbers that are not (part of) dates or times: not the 2 and 2016 of
    "2 July 2016", nor the 07 of "10:07"."""
    return list(_numbers_in(sentence))


@lru_cache(maxsize=4096)  # the answerer reads the same candidate sentences several times a question
def _numbers_in(sentence: str) -> tuple[tuple[int, int], ...]:
    # A bare year ("2000") may as well be a count ("at most 2000 km"): only a number that is nothing
    # but a year is left out for it, as before dates within dates were.
    dates = [m.span() for m in DATE.finditer(sentence) if not m.group().isdigit() and not _LOWER_CALENDAR.search(m.group())]
    dates += [m.span() for m in _CLOCK.finditer(sentence)]
    return tuple(
        (a, b)
        for m in NUMBER.finditer(sentence)
        for a, b in [m.span()]
        if not DATE.fullmatch(m.group()) and not any(x < b and a < y for x, y in dates)
    )


def repeats_number(info: QuestionInfo, number: str) -> bool:
    return all(w in info.words or w in STOPWORDS for w, _, _ in tokens(number))


def counts_asked_thing(info: QuestionInfo, sentence: str, span: tuple[int, int]) -> bool:
    """Whether a number answers "how many X" by counting X itself ("28 civilians")."""
    return info.kind == "number" and bool(info.count) and _same_count(info.count, counted(sentence, span))


