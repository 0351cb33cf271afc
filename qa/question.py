"""What a question asks for: its answer type, key terms, the thing it counts or names, its dates.

Read once per question (`analyse_question`) into a `QuestionInfo` that the span readers, the
features and the answerer share.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .text import STOPWORDS, content_terms, stem, tokens

if TYPE_CHECKING:
    from .lexical import TermStats

# The calendar's words, one definition for the question, date and number patterns.
MONTHS = r"January|February|March|April|May|June|July|August|September|October|November|December|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept?|Oct|Nov|Dec"
DAYS = r"Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday"

# The cues of each answer type. A question's type is decided by all of them together: the cue that
# starts earliest (its question word), and of cues starting there the longest ("how long ago" is a
# date, though "how long" is a number; "When did the number of refugees peak?" is a date).
QUESTION_TYPES = (
    ("number", re.compile(r"\bhow (?:many|much|long|old|far|large|big|tall|high|often|deep|wide|heavy)\b|\bwhat (?:number|percentage|percent|proportion|amount|size|age|population)\b|^\s*(?:what|which)\s+(?:is|was|are|were)\s+the\s+(?:\w+\s+)?(?:number|population|death toll|toll)\s+of\b", re.I)),
    # "When" asks for a date where it opens the question (or a clause of it); "What happened
    # when warplanes struck ...?" asks what happened.
    ("date", re.compile(r"(?:^|[,;:]\s*|\b(?:and|but|so|then)\s+)(?:(?:and|but|so)\s+)?when\b|\b(?:(?:on|in) )?(?:what|which) (?:year|date|day|month|time|century|decade|period|season)\b|\bhow long ago\b|\bsince when\b|\bhow (?:many|long) (?:days|weeks|months|years) ago\b", re.I)),
    ("place", re.compile(r"\bwhere\b|\b(?:what|which|in what|in which) (?:city|country|town|village|province|region|place|area|location|state|district|neighbou?rhood|continent|county|island|river)\b", re.I)),
    # "Who" asks for a person where it opens the question or a clause ("the people who fled" is
    # no question about a person), or after a preposition ("by whom").
    ("entity", re.compile(r"(?:^\s*|[,;:]\s*|\b(?:and|but|so|then|by|to|for|with|from|of)\s+)(?:(?:and|but|so)\s+)?who(?:m|se)?\b|\b(?:what|which) (?:organi[sz]ation|group|company|person|man|woman|agency|party|team|monitor|body|force|forces|militia|country's|newspaper|outlet|university|institution|army)\b", re.I)),
    # Who the report says is the source of a claim: answered from the sentence's attribution.
    ("source", re.compile(r"\baccording to (?:whom|who|what|which)\b|\bwho (?:said|says|say|reported|reports|claimed|claims|stated|told)\b|\b(?:what|which) (?:source|sources|monitor|monitors) (?:said|says|say|reported|gave|give|counted)\b|\bwho gave (?:the|that|this|these)\b", re.I)),
)


# Headings and credit lines (see chunking.sentence_kind) are quoted only for questions about them;
# otherwise they only lend their words to the sentences after them, as context.
# A question asks for a heading when it asks which heading or section ("Under which heading ..."),
# not when it names one ("What happened in the humanitarian crisis section?").
_SECTION_NAMES = r"(?:sub-?)?headings?|headlines?|sections?|sub-?titles?"
_HEADING_NAMES = rf"{_SECTION_NAMES}|titles?"
ASKS_ABOUT = {
    # (A bare "title" is a report's only where it is the title of one of its parts: "the title of
    # ABC's film program" asks for a name.)
    "heading": re.compile(
        rf"\b(?:what|which)(?:'s|\s+(?:is|are|was|were))?\s+(?:the\s+)?(?:{_SECTION_NAMES})\b"
        rf"|\b(?:{_SECTION_NAMES})\s+(?:of|for|is|are|was)\b"
        rf"|\b(?:sub-?)?titles?\s+(?:of|for)\s+(?:the|this|its)\s+(?:section|part|paragraph|report|article|story|piece)\b",
        re.I,
    ),
    "credit": re.compile(
        r"\b(?:sources?|credits?|credited|agency|agencies|photographers?|bylines?|authors?|who wrote|written by|reporting by)\b",
        re.I,
    ),
}
# What a question asks about the report itself rather than its events: the heading of a section,
# the credit of a photo, or the sources the report names for itself ("Source: TRTWorld and
# agencies"). These are answered from the report's structure, not by how well a sentence matches.
_PICTURE = r"(?:photos?|photographs?|pictures?|images?|captions?)"
_WHOLE = r"(?:report|article|story|piece)"
ASKS_FOR = {
    "heading": ASKS_ABOUT["heading"],
    # (Each part a lookahead from the start, so a long question is read once per part, not
    # once per pair of its words.)
    "photo-credit": re.compile(
        rf"^(?=.*\bphotographers?\b)|^(?=.*\b(?:who|which \w+)\s+(?:took|shot)\b)(?=.*\b{_PICTURE}\b)"
        rf"|^(?=.*\b(?:credit(?:ed)?|taken by|by whom)\b)(?=.*\b{_PICTURE}\b)",
        re.I | re.S,
    ),
    "report-credit": re.compile(
        rf"^(?=.*\b{_WHOLE}\b)(?=.*\b(?:based on|draws? on|drawn from|compiled from|credited to)\b)"
        rf"|\bbyline\b|\bwho (?:wrote|is the author of)\b|\bwritten by\b",
        re.I | re.S,
    ),
}
# Words about the report rather than its content ("quoted in the report", "does the article say"):
# no sentence is about them, so they are not key terms of the question.
_ABOUT_REPORT = re.compile(
    rf"\b(?:(?:quoted|mentioned|named|cited|described|given|reported|listed)\s+)?(?:in|by|from)\s+(?:the|this)\s+{_WHOLE}\b"
    rf"|\b(?:does|did|do)\s+(?:the|this)\s+{_WHOLE}\s+(?:say|give|mention|list|name|cite|quote|report|describe)\b"
    rf"|\baccording to (?:the|this) {_WHOLE}\b|\b(?:the|this) {_WHOLE}\s+(?:says?|gives?|mentions?|names?|quotes?)\b",
    re.I,
)
_STRUCTURE_WORDS = re.compile(rf"\b(?:{_HEADING_NAMES}|under|credit(?:ed)?|agency|agencies|sources?|{_PICTURE}|photographers?|took|shot|taken|byline|authors?|wrote|written|based|{_WHOLE})\b", re.I)
# "What is the name of the UN spokesman ...?": the role whose holder is asked for ("spokesman").
_NAME_OF = re.compile(
    r"\bnames?\s+of\s+(?:the\s+|a\s+|an\s+|this\s+|that\s+)?(?P<np>(?:[\w'’-]+\s+){0,3}?[\w'’-]+?)"
    r"(?=\s+(?:who|whom|whose|that|which|in|on|at|from|of|with|north|south|east|west|near|said|by|for|to|\w+ed)\b|\s*[?,.;]|\s*$)",
    re.I,
)
# "Which villages did ...?", "Which heavy weapons ...": the kind of thing whose name is asked for.
# ("What problem ...?" and "What color ...?" ask for a description, not a name: only "which".)
_WHICH = re.compile(
    r"^\s*(?i:(?:and|but|so|then)\s+)?(?i:which)\s+(?P<np>(?:[\w'’-]+\s+){0,2}?[a-z][\w'’-]*)(?:,\s*if any,)?"
    r"\s+(?:did|does|do|is|are|was|were|has|have|had|will|would|can|could|\w+ed|said|says|took|gave|led|told|won|began)\b"
)
# Heads too general to need naming ("What kind of ...", "Which one ...").
_GENERAL_HEADS = set("type kind sort part way one thing name term word event side role".split())


@dataclass
class QuestionInfo:
    text: str
    kind: str  # number | date | place | entity | source | other
    terms: dict[str, float] = field(default_factory=dict)  # stem -> IDF weight
    words: set[str] = field(default_factory=set)  # lower-case words of the question
    cue: str = ""  # the words that ask for it ("how many", "which group")
    # What a number question asks for, read once (see asked_count, asked_measure, asked_action).
    count: str = field(init=False, default="")
    units: set[str] = field(init=False, default_factory=set)
    action: int | None = field(init=False, default=None)
    # What it asks of the report itself (a key of ASKS_FOR, see asked_of_report) or "".
    asks: str = ""
    # The noun whose named holder is asked for ("spokesman" in "the name of the UN spokesman",
    # "village" in "Which villages ...", singular and lower-case), and whether it asks for a name outright.
    head: str = field(init=False, default="")
    names_role: bool = field(init=False, default=False)
    # The days, months and years the question dates its event by ("thursday", "july", "2016").
    dated: set[str] = field(init=False, default_factory=set)

    def __post_init__(self) -> None:
        if self.kind == "number":
            self.count, self.units, self.action = asked_count(self.text), asked_measure(self.text), asked_action(self.text)
        self.dated = calendar_words(self.text)
        named = _NAME_OF.search(self.text)
        which = _WHICH.match(self.text) if self.kind not in ("number", "date") else None
        found = named or which
        written = found.group("np").split() if found else []
        words = [w.lower() for w in written]
        # Not "Which danger to civilians ...", nor a name ("the name of the Doctor Who play").
        if words and not self.asks and written[-1][:1].islower() and not (which and not named and set(words) & STOPWORDS):
            head = singular(words[-1])
            if head not in _GENERAL_HEADS and words[-1] not in STOPWORDS:
                self.head, self.names_role = head, bool(named)


# A when-question that asks for a point on the calendar: without one in the sentence, the report
# does not say. ("When do ctenophores glow?" may be answered by a condition, not a date.)
CALENDAR = re.compile(r"\b(?:what|which)\s+(?:date|day|year|month|week)\b|\bon what\b", re.I)
_EVENT_VERBS = re.compile(r"\b(?:happen(?:ed|s|ing)?|occur(?:red|s|ring)?|t(?:ook|akes?|aking) place|go(?:es|ing)? on|went on)\b", re.I)


def question_kind(question: str) -> tuple[str, str]:
    """The answer type a question asks for, and the words that ask for it ("how far").

    Every type's cues are found; the earliest wins, and of those starting together the longest.
    """
    found = [(m.start(), -len(m.group()), kind, m.group()) for kind, pattern in QUESTION_TYPES for m in pattern.finditer(question)]
    # "When forces come from two objects, what law ...?": a clause that opens with "when" and a
    # question word after its comma; that question word decides.
    if re.match(r"\s*when\b[^,?]*,\s*(?:what|which|who|whom|whose|how|where|why)\b", question, re.I):
        found = [f for f in found if f[0] > 0]
    if not found:
        return "other", ""
    _, _, kind, cue = min(found)
    return kind, cue


def analyse_question(question: str, stats: "TermStats", shown: str | None = None) -> QuestionInfo:
    """What the question asks for; `shown` is the question as asked where `question` adds an
    earlier question's topic (a follow-up): only the asked words are "already said" by it."""
    kind, cue = question_kind(question)
    # "how far", "what year": the cue names the answer's type, not something the answer mentions.
    topic = question.replace(cue, " ") if kind in ("number", "date", "source") else question
    # "What happened on Thursday?": the verb asks for an event; the rest says which.
    topic = _ABOUT_REPORT.sub(" ", _EVENT_VERBS.sub(" ", topic))
    asks = asked_of_report(question)
    if asks:
        topic = _STRUCTURE_WORDS.sub(" ", topic)  # "Under which heading ...": the rest says which section
    terms = {t: stats.idf(t) for t in content_terms(topic)}
    words = {w for w, _, _ in tokens(shown or question)}
    return QuestionInfo(question, kind, terms=terms, words=words, cue=cue, asks=asks)


def asked_of_report(question: str) -> str:
    """What the question asks of the report itself: "heading", "photo-credit", "report-credit" or ""."""
    return next((name for name, pattern in ASKS_FOR.items() if pattern.search(question)), "")


_CALENDAR_WORD = re.compile(rf"\b(?:{DAYS}|January|February|March|April|May|June|July|August|September|October|November|December)\b|\b(?:1[89]|20)\d\d\b")
WEEKDAYS = {d.lower() for d in DAYS.split("|")}


def calendar_words(text: str) -> set[str]:
    """The weekdays, months and years a text names, lower-case ("Thursday's" -> "thursday")."""
    return {m.group().lower() for m in _CALENDAR_WORD.finditer(text)}


def singular(word: str) -> str:
    """A noun's singular, roughly: "villages" -> "village", "militias" -> "militia", "casualties" ->
    "casualty". Not a stem: the noun "crossing" must not match the verb "crossed"."""
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith(("ches", "shes", "sses", "xes")):
        return word[:-2]
    return word[:-1] if word.endswith("s") and not word.endswith(("ss", "us", "is")) else word


def stem_groups(*groups: str) -> tuple[set[str], ...]:
    return tuple({stem(w) for w in group.split()} for group in groups)


# What a "how long / how far / how old / how much time" question measures, and the units that measure it.
_UNITS = {
    "length": {stem(w) for w in "km kilometre kilometres kilometer kilometers mile miles metre metres meter meters feet foot yards".split()},
    "time": {stem(w) for w in "second seconds minute minutes hour hours day days week weeks month months year years decade decades".split()},
}
_MEASURES = (
    (re.compile(r"\bhow (?:far|tall|high|deep|wide)\b", re.I), "length"),
    (re.compile(r"\bhow long (?:is|are|was|were)\b", re.I), "length"),  # "How long is the M5?"
    (re.compile(r"\bhow old\b|\bhow much time\b|\bhow long (?:did|does|do|will|would|has|have|had)\b", re.I), "time"),
    (re.compile(r"\bhow long\b", re.I), "length time"),
)
# Casualty actions: "How many were injured?" is not answered by a count of the killed.
ACTIONS = stem_groups(
    "killed kill killing died dead death deaths toll lives",
    "injured injuring injuries wounded wounding hurt",
    "displaced displacing fled flee uprooted refugees homeless",
    "captured arrested detained abducted kidnapped seized",
)


def asked_measure(question: str) -> set[str]:
    """The units a how-long/far/old question's number must carry ("hours" for "how much time")."""
    for pattern, kinds in _MEASURES:
        if pattern.search(question):
            return set().union(*(_UNITS[k] for k in kinds.split()))
    return set()


def named_action(words: list[str]) -> int | None:
    """Which casualty action (index into ACTIONS) the words name first, if any."""
    for word in words:
        for i, group in enumerate(ACTIONS):
            if word in group:
                return i
    return None


def asked_action(question: str) -> int | None:
    return named_action([stem(w) for w, _, _ in tokens(question)])


def asked_count(question: str) -> str:
    """What a how-many question counts, as a stem ("How many Turkish soldiers died?" -> "soldier"),
    or "" when it names nothing ("How many were injured?")."""
    asked = re.search(r"\bhow many\s+(?:more\s+|of\s+the\s+)?((?:[^\W\d_]+\s*){1,4})", question, re.IGNORECASE)
    if not asked:
        return ""
    # "Turkish soldiers died", "trucks reached Saraqib", "displaced people": the head is the last
    # word before a verb form, a stop word or a name (a leading "-ed" word is an adjective).
    nouns = []
    for i, word in enumerate(asked.group(1).split()):
        low = word.lower()
        if low in STOPWORDS or (nouns and word[:1].isupper()):
            break
        if low.endswith("ed"):
            if i == 0:
                continue
            break
        nouns.append(low)
    return stem(nouns[-1]) if nouns else ""


def entity_terms(question: str) -> list[str]:
    """Names and numbers in the question (capitalised words after the first, digits)."""
    out = []
    for i, (word, start, end) in enumerate(tokens(question)):
        original = question[start:end]
        if word.isdigit() or (i > 0 and original[:1].isupper() and word not in STOPWORDS):
            out.append(word)
    return out


def joined_compounds(question: str) -> dict[str, list[str]]:
    """For each word of a hyphenated or two-part name, the name written as one word: "Deir
    ez-Zor" may be spelled "Deir Ezzor", "al-Qaeda" "alQaeda" (spelling variants of names)."""
    out: dict[str, list[str]] = {}
    for match in re.finditer(r"\b\w+(?:-\w+)+\b", question):
        parts = [p.lower() for p in match.group().split("-")]
        for part in parts:
            out.setdefault(part, []).append("".join(parts))
    return out

