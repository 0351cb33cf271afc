"""The casualty and displacement figures a report states: "at least 16 civilians were killed".

`claims_in` reads every sentence of a report (photo credits aside) at ingest. A figure is a
number that is no date, time, age or share (see `qa.answer_counts.numbers_in`), read as a value
or range (`read_figure`: "at least 16" is 16 or more, "hundreds" 100-999, "tens of thousands"
10,000-99,999), that counts people (`WHO`: "16 civilians", "three others" of the count before
it, "killed hundreds") to whom one of the casualty actions happened (`WHAT`, the action nearest
the number: "killed at least 16", "seven civilians were killed", "... and injured 34 others").
Each claim keeps its place (the one named in its clause, else the one the report is about), its
event date (resolved against the report's date, see `qa.eventdates`) and its attribution (see
`qa.attribution`).

Rules, not a model: what they read is listed in tests/test_claims.py for the bundled report, and
measured on FA-KES in docs/claims.md.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from .answer_counts import OTHERS, counted, number_action, numbers_in
from .question import ACTIONS, named_action
from .text import stem, tokens
from .statements import WHAT, Claim

if TYPE_CHECKING:
    from .types import Sentence

# Stems of the words for whom a figure counts, by kind (the first that a figure's words name).
_WHO = [
    ("children", "children child kids kid minors minor boys boy girls girl babies baby infants students pupils schoolchildren"),
    ("women", "women woman"),
    ("soldiers", "soldiers soldier troops servicemen personnel officers policemen police guards conscripts army"),
    (
        "fighters",
        "fighters fighter militants militant rebels rebel combatants jihadists jihadist insurgents gunmen terrorists "
        "terrorist extremists members mercenaries snipers",
    ),
    ("civilians", "civilians civilian citizens citizen residents inhabitants worshippers passersby"),
    ("people", "people persons person individuals others bodies victims refugees families casualties"),
]
WHO_STEMS = {kind: {stem(w) for w in words.split()} for kind, words in _WHO}
_ACTION_STEMS = set().union(*ACTIONS)
# Words between a number and what it counts that say nothing of who: "16 Syrian soldiers".
_DESCRIBING = {
    stem(w)
    for w in (
        "more other syrian turkish russian iranian kurdish regime government army pro-government opposition rebel "
        "islamist is isis daesh al-qaeda nusra fsa sdf ypg hezbollah foreign local young old elderly unarmed innocent "
        "armed wounded injured dead killed displaced civilian women children men people"
    ).split()
}
# "tens of thousands", "hundreds of thousands": a multiple the number pattern reads as two numbers.
_MULTIPLE = re.compile(r"\b(tens|dozens|scores|hundreds)\s+of\s+$", re.IGNORECASE)
_WORD_VALUES = {
    w: i
    for i, w in enumerate(
        "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
        "seventeen eighteen nineteen".split()
    )
} | {w: 10 * (i + 2) for i, w in enumerate("twenty thirty forty fifty sixty seventy eighty ninety".split())}
_SCALES = {"hundred": 100, "thousand": 1_000, "million": 1_000_000, "billion": 1_000_000_000}
# Plurals that say a range: "hundreds" is 100-999 ("two hundred" is not one of them).
_PLURAL_RANGES = {
    "dozens": (24, 99),  # more than 99 is "more than a hundred" or "hundreds"
    "scores": (40, 99),
    "hundreds": (100, 999),
    "thousands": (1_000, 9_999),
    "millions": (1_000_000, 9_999_999),
}
_MULTIPLE_RANGES = {"tens": (10, 99), "dozens": (24, 99), "scores": (40, 99), "hundreds": (100, 999)}
_AT_LEAST = re.compile(r"^(?:at least|no fewer than|no less than|a minimum of)\s+", re.IGNORECASE)
_MORE_THAN = re.compile(r"^(?:more than|over|upwards of|in excess of)\s+", re.IGNORECASE)
_AT_MOST = re.compile(r"^(?:at most|up to|as many as|no more than|fewer than|less than)\s+", re.IGNORECASE)
_ABOUT = re.compile(r"^(?:about|around|some|roughly|approximately|an estimated|estimated|nearly|almost|close to)\s+", re.IGNORECASE)
_STRICT = re.compile(r"^(?:more than|over|upwards of|in excess of|fewer than|less than)\s+", re.IGNORECASE)
# A number of years, hours or per cent is no head count; nor "a 10-year-old" (its own words).
_NOT_COUNT = re.compile(r"^(?:\s*(?:%|percent|per cent)|-(?:year|month|day|week|hour|km|mile|metre|meter))", re.IGNORECASE)
# A place named in a figure's clause: "in Maarat al Numan", "on the village of Alteh", "near Aleppo".
_CONNECTORS = "al el ad ar as ash at az an ez es ed en ibn bin abu of de".split()
_PLACE = re.compile(
    r"\b(?i:in|at|near|outside|around|across|on|of|from)\s+(?:the\s+)?"
    r"(?:(?:[a-z]+\s+)?(?:village|town|city|province|district|neighbou?rhood|countryside|area|suburb|region|camp|"
    r"governorate)s?\s+(?:of\s+)?)?"
    rf"(?P<place>[A-Z][\w'’-]*[\w'’](?:(?:\s+|-)(?:(?:{'|'.join(_CONNECTORS)})(?:\s+|-))?[A-Z][\w'’-]*[\w'’])*)"
)
# Capitalised words that end a place: "in Hama Human Rights Watch said", "in International
# Coalition Airstrikes", "in Syrian regime strikes", "on Wednesday".
_NOT_PLACE = {
    w.lower()
    for w in (
        "The A An Syrian Syrians Russian Russians Turkish Iranian Israeli US U.S. American Kurdish Assad Regime Government "
        "Monday Tuesday Wednesday Thursday Friday Saturday Sunday January February March April May June July August "
        "September October November December Islamic State Daesh ISIS IS UN SOHR SANA Reuters AFP AP Human Rights Watch "
        "Observatory Coalition International Forces Army Council Ministry Airstrikes Airstrike Strikes Strike Militants "
        "Rebels Killed Kill Kills Dead Attack Attacks Bombing Shelling Related Tags Published Posted Source News Agency "
        "Media Said Says Monitor Terrorist Terrorists Civil Defence Defense White Helmets Red Crescent Cross Democratic Free "
        "Opposition"
    ).split()
}
# Numbers in a dated line: "31-07-2015", "05.02.2015", "2015/07/31".
_NUMERIC_DATE = re.compile(r"\b\d{1,4}[-./]\d{1,2}[-./]\d{2,4}\b")
# Words that end the clause a figure's action is read in: "claimed 191000 lives while more than
# three million Syrians have become refugees".
_CLAUSE_BREAK = re.compile(r"\b(?:while|whereas|but|after|since|as|when|which|who)\b|[,;:—]", re.IGNORECASE)
# What lets a figure take the action of the one before it: "... and three others in Alteh",
# "At least eight died including two children", "killed 16, among them three children".
_SHARES_ACTION = re.compile(r"\b(?:including|among|of whom|of them|of which|mostly|most of them)\b", re.IGNORECASE)


def read_figure(figure: str) -> tuple[int | None, int | None, bool] | None:
    """A figure's value as (low, high, approx): "at least 16" (16, None, False), "more than 550"
    (551, None, False), "up to 20" (None, 20, False), "about 300" (300, 300, True), "hundreds"
    (100, 999, False), "tens of thousands" (10,000, 99,999, False); None for what is no count."""
    words = figure.strip()
    low_only = bool(_AT_LEAST.match(words) or _MORE_THAN.match(words))
    high_only = bool(_AT_MOST.match(words))
    approx = bool(_ABOUT.match(words))
    strict = bool(_STRICT.match(words))
    core = re.sub(r"^(?:(?:at least|at most|more than|less than|fewer than|no fewer than|no less than|no more than|about|"
                  r"around|nearly|almost|close to|over|some|up to|roughly|approximately|an estimated|estimated|as many as|"
                  r"upwards of|in excess of|a minimum of)\s+)+", "", words, flags=re.IGNORECASE)
    span = _core_range(core.lower())
    if span is None:
        return None
    low, high = span
    if low != high:  # "hundreds", "at least hundreds": the range, whatever qualifies it
        return (low, None, False) if low_only else (low, high, False)
    if low_only:
        return (low + 1 if strict else low, None, False)
    if high_only:
        return (None, high - 1 if strict else high, False)
    return (low, high, approx)


def _core_range(core: str) -> tuple[int, int] | None:
    """The value of a figure without its qualifier, as an inclusive range."""
    core = core.replace("-", " ").strip()
    multiple = re.match(r"^(tens|dozens|scores|hundreds)\s+of\s+(thousands|millions)$", core)
    if multiple:
        lo, hi = _MULTIPLE_RANGES[multiple.group(1)]
        scale = _SCALES[multiple.group(2)[:-1]]
        return lo * scale, (hi + 1) * scale - 1
    if core in _PLURAL_RANGES:
        return _PLURAL_RANGES[core]
    if core in ("a dozen", "dozen"):
        return 12, 12
    if core == "several":
        return 3, 9
    digits = re.fullmatch(r"(\d[\d,]*(?:\.\d+)?)\s*(hundred|thousand|million|billion)?", core)
    if digits:
        number, scale = digits.groups()
        if re.search(r",\d{1,2}(?:\D|$)", number):  # "1,5": no thousands separator
            return None
        value = float(number.replace(",", "")) * _SCALES.get(scale or "", 1)
        return (int(value), int(value)) if value == int(value) else None
    return _word_range(core)


def _word_range(core: str) -> tuple[int, int] | None:
    """ "twenty five", "three hundred", "a hundred", "several hundred" (300-999)."""
    words = [w for w in core.split() if w != "and"]
    if not words:
        return None
    if words[0] == "several" and len(words) == 2 and words[1] in _SCALES:
        return 3 * _SCALES[words[1]], 10 * _SCALES[words[1]] - 1
    total = current = 0
    for word in words:
        if word in ("a", "one") and current == 0:
            current = 1
        elif word in _WORD_VALUES:
            current += _WORD_VALUES[word]
        elif word in _SCALES:
            current = max(current, 1) * _SCALES[word]
            if _SCALES[word] >= 1000:
                total, current = total + current, 0
        else:
            return None
    value = total + current
    return (value, value) if value > 0 else None


def who_of(words: list[str]) -> str | None:
    """The kind of people a figure counts (see `WHO`) from the stems of the words that follow it,
    in order (`qa.answer_counts.counted`): its head, the last of them, decides ("16 Syrian
    soldiers"); None when that counts something else ("three terrorist explosions", "12
    observation posts"). Words that only describe or tell the action ("20 dead") are people."""
    for word in reversed(words):
        if word in _ACTION_STEMS - WHO_STEMS["people"]:
            continue  # "16 civilians died": the action, not who
        for kind, stems in WHO_STEMS.items():
            if word in stems:
                return kind
        if word not in _ACTION_STEMS | _DESCRIBING | OTHERS:
            return None
    return "people" if words else None


def _counted_words(sentence: str, span: tuple[int, int], until: int) -> list[str]:
    """The stems of what a figure counts, in the sentence's order: up to three words after it,
    to its clause's end or the next figure (`until`), read as `qa.answer_counts.counted` reads
    them; a leading "other" or "more" is kept as "others" ("29 other people", "three others")."""
    clause = sentence[: min(until, len(sentence))]
    after = re.split(r"[,.;:()!?\"“”—]|\b(?:including|among|mostly)\b", clause[span[1] :], maxsplit=1)[0]
    lead = re.match(r"\s*(?:other|more|others)\b", after, re.IGNORECASE)
    if lead and not re.fullmatch(r"\s*others", lead.group(), re.IGNORECASE):
        rest = after[lead.end() :]
        return [stem("others"), *_counted_words(" " + rest, (0, 0), len(rest) + 1)]
    stems = counted(clause, span)
    ordered = [stem(w) for w, _, _ in tokens(after)]
    # A headline's capitalised noun ("Kills 5 Soldiers", "34 Terrorists Killed"), which `counted`
    # passes over as a name, still says who when it is a word for people.
    if ordered and ordered[0] not in stems and any(ordered[0] in kind for kind in WHO_STEMS.values()):
        stems = {*stems, ordered[0]}
    return [w for w in dict.fromkeys(ordered) if w in stems]


def sentence_claims(sentence: str) -> list[tuple[int, int, int, int | None, int | None, bool, str, str, str]]:
    """The figures of one sentence: (start, end of the figure in the sentence, its clause's end,
    low, high, approx, who, what, place) for each, in order."""
    found: list = []
    last_who = last_what = last_place = None
    dates = [m.span() for m in _NUMERIC_DATE.finditer(sentence)]
    spans = [(a, b) for a, b in _merged(sentence, numbers_in(sentence)) if not any(x < b and a < y for x, y in dates)]
    # "No fewer than 8": the number pattern leaves the "no" out.
    spans = [(a - len(m.group()), b) if (m := _NO_BEFORE.search(sentence[:a])) else (a, b) for a, b in spans]
    for k, (a, b) in enumerate(spans):
        figure = sentence[a:b]
        if _NOT_COUNT.match(sentence[b:]) or not re.search(r"[\w]", figure):
            continue
        value = read_figure(figure)
        if value is None:
            continue
        if k + 1 < len(spans) and _QUALIFIER_ONLY.match(sentence[b : spans[k + 1][0]]):
            continue  # "Get short URL 113 At least nine people were killed": a number before a figure
        ordered = _counted_words(sentence, (a, b), spans[k + 1][0] if k + 1 < len(spans) else len(sentence))
        words = set(ordered)
        action = _action(sentence, a, b, found[-1][1] if found else 0)
        named = who_of([w for w in ordered if w not in OTHERS])
        if words & OTHERS and last_who and named in (None, "people") and not words & WHO_STEMS["people"] - OTHERS:
            who = last_who  # "four civilians ... and three others": others of the same count
        elif not words or (named == "people" and not any(words & stems for stems in WHO_STEMS.values())):
            who = last_who or "people"  # "has killed hundreds", "injured 32 in the district", "22 injured"
        else:
            who = who_of(ordered)
        if who is None:
            continue
        between = sentence[found[-1][1] if found else 0 : a]
        if action is None and (words & OTHERS or _SHARES_ACTION.search(between) or _AND_ONLY.match(between)):
            action = last_what  # "four civilians were killed in X and three others in Y", "... and 16 in Z"
        if action is None:
            continue
        clause_end = spans[k + 1][0] if k + 1 < len(spans) else len(sentence)
        clause_start = found[-1][2] if found else 0
        # Its own clause's place, else the one before it, else (for the first figure) the next:
        # "At least 16 civilians were killed and 34 others injured in Maarat al Numan".
        place = place_in(sentence[b:clause_end]) or place_in(sentence[clause_start:a]) or last_place
        if not place and not found:
            place = place_in(sentence[clause_end:])
        found.append((a, b, clause_end, *value, who, WHAT[action], place or ""))
        last_who, last_what, last_place = who, action, place or last_place
    return found


_NO_BEFORE = re.compile(r"\b(?:no|not)\s+$", re.IGNORECASE)
# Between two figures, only "and" and what places or dates the first ("killed 6 civilians in
# Ariha and 16 in Maarat al Numan", "5 on Monday and 7 on Tuesday"): the second shares the action.
_AND_ONLY = re.compile(r"^[^,;:.!?]{0,60}\band\s+$", re.IGNORECASE)


def _action(sentence: str, a: int, b: int, since: int) -> int | None:
    """The casualty action (index into WHAT) of the figure at a:b: the word right after it ("22
    injured"), else the one nearest it in its clause, read from the end of the figure before it
    (`since`) or the last clause break, whichever is later (see qa.answer_counts.number_action)."""
    right_after = re.match(r"[\s-]*([^\W\d_]+)", sentence[b:])
    if right_after:
        named = named_action([stem(right_after.group(1).lower())])
        if named is not None:
            return named
    breaks = [m.end() for m in _CLAUSE_BREAK.finditer(sentence, since, a)]
    start = max([since, *breaks])
    # "where some 400000 people live": the verb is no loss of lives.
    read = _LIVE.sub(lambda m: "x" * len(m.group()), sentence[start:])
    return number_action(read, (a - start, b - start))


_LIVE = re.compile(r"\b(?:live|living|lived)\b", re.IGNORECASE)
_QUALIFIER_ONLY = re.compile(
    r"^\s*(?:(?:at least|at most|more than|less than|fewer than|about|around|nearly|almost|over|some|up to|as many as)\s*)?$",
    re.IGNORECASE,
)


def _merged(sentence: str, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Number spans with their multiples joined: "tens of thousands", "hundreds of thousands"."""
    out: list[tuple[int, int]] = []
    for a, b in spans:
        b = a + len(re.sub(r"(?:[\s-]+and)+$", "", sentence[a:b]))  # "killed hundreds and displaced ..."
        multiple = _MULTIPLE.search(sentence[:a])
        if multiple:
            start = multiple.start(1)
            while out and out[-1][0] >= start:  # "hundreds" read on its own before "of thousands"
                out.pop()
            out.append((start, b))
        else:
            out.append((a, b))
    return out


def place_in(clause: str) -> str:
    """The first place a clause names ("in Maarat al Numan"), or ""."""
    for match in _PLACE.finditer(clause):
        words = re.split(r"(\s+|-)", match.group("place"))
        kept: list[str] = []
        for word in words[::2]:
            if word.lower() in _NOT_PLACE:
                break
            kept.append(word)
        while kept and kept[-1].lower() in _CONNECTORS:
            kept.pop()
        if kept and not (len(kept) == 1 and kept[0].isupper()):
            place = match.group("place")[: sum(len(w) for w in words[: 2 * len(kept) - 1])]
            return place.rstrip("'’")
    return ""


def claims_in(
    text: str, doc_id: str, report_date: str = "", report_place: str = "", sentences: "list[Sentence] | None" = None
) -> list[Claim]:
    """Every casualty and displacement figure the report states, in reading order (`sentences`:
    the text's, where the caller has them already; see qa.chunking.split_sentences)."""
    from .attribution import attribution_in_context
    from .chunking import split_sentences
    from .eventdates import event_date

    out: list[Claim] = []
    sentences = split_sentences(text) if sentences is None else sentences
    for i, sentence in enumerate(sentences):
        if sentence.kind == "credit":
            continue
        said = text[sentence.start : sentence.end]
        figures = sentence_claims(said) if any(ch.isdigit() for ch in said) or _HAS_NUMBER_WORD.search(said) else []
        if not figures:
            continue
        before = text[sentences[i - 1].start : sentences[i - 1].end] if i else ""
        source = attribution_in_context(said, before)
        when = event_date(said, report_date)
        for a, b, _, low, high, approx, who, what, place in figures:
            out.append(
                Claim(
                    doc_id=doc_id,
                    start=sentence.start,
                    end=sentence.end,
                    text=said,
                    figure=said[a:b],
                    figure_start=sentence.start + a,
                    figure_end=sentence.start + b,
                    low=low,
                    high=high,
                    approx=approx,
                    who=who,
                    what=what,
                    place=place or report_place,
                    event_date=when.value if when else "",
                    event_date_words=when.words if when else "",
                    attributed_to=source.source if source else "",
                    attribution=source.words if source else "",
                )
            )
    return out


# A sentence without a digit or one of these words states no figure (read before the rules).
_HAS_NUMBER_WORD = re.compile(
    r"\b(?:" + "|".join([*_WORD_VALUES, *_SCALES, *_PLURAL_RANGES, "tens", "dozen", "several"]) + r")s?\b", re.IGNORECASE
)
