"""Turning retrieved passages into a short cited answer, or an honest abstention.

The default answerer is extractive and offline: it ranks the sentences of the retrieved
chunks by how well they answer the question (meaning, shared key terms, an answer of the
expected type), quotes the best one or two, and cites each by its character span.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .chunking import read_section
from .text import STOPWORDS, content_terms, spelled_like, stem, tokens
from .types import Answer, Citation, Sentence

if TYPE_CHECKING:
    import numpy as np

    from .retrieval import Hit, TermStats

ABSTAIN_TEXT = "The reports don't say: nothing in the ingested reports answers this question."

_NUM_WORDS = (
    r"one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|fifteen|sixteen|"
    r"seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety|hundreds?|"
    r"thousands?|millions?|billions?|dozens?|half|a dozen|a hundred|a thousand|a million|several"
)
_MONTHS = r"January|February|March|April|May|June|July|August|September|October|November|December|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept?|Oct|Nov|Dec"
_DAYS = r"Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday"
_QUALIFIER = r"(?:(?:at least|at most|more than|less than|fewer than|about|around|nearly|almost|over|some|up to|roughly|approximately|an estimated|as many as)\s+)?"
NUMBER = re.compile(
    rf"\b{_QUALIFIER}(?:\d[\d,.]*(?:\s*(?:%|percent|per cent))?|(?:{_NUM_WORDS})(?:[\s-](?:{_NUM_WORDS}|and))*)"
    rf"(?:\s+(?:million|billion|thousand|hundred))?\b",
    re.IGNORECASE,
)
DATE = re.compile(
    rf"\b(?:(?:early|late|mid)[\s-])?(?:(?:{_DAYS})(?:,?\s+(?:{_MONTHS})\.?\s+\d{{1,2}})?"
    rf"|\d{{1,2}}\s+(?:{_MONTHS})\.?(?:,?\s+\d{{4}})?"
    rf"|(?:{_MONTHS})\.?(?:\s+\d{{1,2}}(?:st|nd|rd|th)?)?(?:,?\s+\d{{4}})?"
    rf"|(?:1[0-9]|20)\d{{2}}s?"
    rf"|\d{{1,2}}(?:st|nd|rd|th)[\s-]century|(?:first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth|eleventh|twelfth|thirteenth|fourteenth|fifteenth|sixteenth|seventeenth|eighteenth|nineteenth|twentieth|twenty-first)\s+century"
    rf"|yesterday|today|tonight|overnight|midnight|(?:last|this|next)\s+(?:week|month|year|night|weekend)"
    rf"|(?:morning|afternoon|evening|night))\b",
    re.IGNORECASE,
)
_CONNECT = r"(?:\s+(?:of|al|el|ad|as|ash|ar|an|de|du|da|del|la|le|bin|ibn|van|von|the|and|for)(?=\s+[A-Z]))?"
# (A name may open with a lower-case particle: "al-Foua", "el-Sisi", "ad-Dana".)
_PARTICLE = r"(?:(?:al|el|ad|as|ash|ar|an|at|az|ibn|bin|abu)[-‑])?"
ENTITY = re.compile(rf"\b{_PARTICLE}[A-Z][\w'’.-]*(?:{_CONNECT}[\s-]+{_PARTICLE}[A-Z][\w'’.-]*)*")
_PLACE_CUE = re.compile(r"\b(?:in|at|near|from|to|into|across|outside|inside|towards?|around|of)\s+(?:the\s+)?$", re.IGNORECASE)

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

# Two sentences of one report are one statement when the shorter is the longer with at most
# this share of its words missing (a caption printed twice, once with its credit): quoted once,
# the fuller one. Across reports a repeated sentence is another source saying it, and stays.
DUPLICATE_SLACK = 0.2

# A how-many answer's sentence (with the one before it) must hold this share of the question's
# words for the event, by IDF: chosen on the gold, held-out and FA-KES near-miss sets, where the
# right answers hold 0.46 or more and the near misses answered from another event 0.0-0.23.
EVENT_COVERAGE = 0.35

# Support (the abstention score) weighs shared key terms by this, independent of ranking weights.
SUPPORT_LEXICAL = 0.9
# Key terms found only in the sentence before count for less than terms in the sentence itself.
CONTEXT_DISCOUNT = 0.8


@dataclass
class Weights:
    """How the evidence for a sentence adds up.

    Chosen by a small grid search on 600 SQuAD questions (eval/README.md), checked on others.
    """

    dense: float = 1.0  # cosine of question and sentence
    lexical: float = 0.9  # IDF-weighted share of the question's key terms in the sentence
    typed: float = 0.15  # the sentence holds an answer of the expected type
    rank: float = 0.15  # prior from the rank of the chunk it came from
    neighbour: float = 0.2  # key terms found in the sentence just before (context)
    missing: float = 0.8  # abstention penalty: share of the question's names and numbers no report mentions
    second_margin: float = 0.2  # a second sentence is quoted when it scores this close


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
            head = _singular(words[-1])
            if head not in _GENERAL_HEADS and words[-1] not in STOPWORDS:
                self.head, self.names_role = head, bool(named)


@dataclass
class Candidate:
    doc_id: str
    index: int  # sentence index in the document
    start: int
    end: int
    text: str
    hit: "Hit"
    dense: float = 0.0
    lexical: float = 0.0
    context_lexical: float = 0.0  # the same, counting the sentence before it too ("the town" -> its name)
    context_terms: set[str] = field(default_factory=set)  # key terms of it and the sentence before it
    typed: float = 0.0  # 1 with an answer of the expected type; 2 when it counts what was asked ("28 civilians")
    score: float = 0.0
    span: tuple[int, int] | None = None  # short answer, offsets into `text`
    kind: str = "text"  # text | heading | credit (see chunking.sentence_kind)
    credit: bool = False  # its span is the credit asked for (a photo's, or the report's sources)
    heading: "tuple[Sentence, str] | None" = None  # the heading of its section, with its text


# A when-question that asks for a point on the calendar: without one in the sentence, the report
# does not say. ("When do ctenophores glow?" may be answered by a condition, not a date.)
_CALENDAR = re.compile(r"\b(?:what|which)\s+(?:date|day|year|month|week)\b|\bon what\b", re.I)
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


class ExtractiveAnswerer:
    """Picks and cites the sentence(s) that answer the question; abstains when none does."""

    def __init__(self, max_words: int = 60, max_sentences: int = 2, min_support: float = 0.45, weights: Weights | None = None) -> None:
        self.max_words = max_words
        self.max_sentences = max_sentences
        self.min_support = min_support
        self.weights = weights or Weights()

    def answer(
        self,
        question: str,
        query_vector: "np.ndarray",
        hits: list["Hit"],
        sentence_vectors: dict[str, "np.ndarray"],
        stats: "TermStats",
        mode: str = "hybrid",
        shown: str | None = None,
    ) -> Answer:
        """The answer to `question` (as searched); `shown` is the question as the user asked it,
        where a follow-up was searched with an earlier question's topic."""
        info = analyse_question(question, stats, shown)
        candidates = self.rank(info, query_vector, hits, sentence_vectors, stats)
        # A photo's credit or the report's sources: read off the report, as asked; where the
        # question says which photo ("of the camp"), a caption that says nothing of it is not it.
        credited = [c for c in candidates if c.credit and (not info.terms or max(c.lexical, c.context_lexical) > 0)]
        if credited:
            return self.compose(question, info, [credited[0]], mode, hits, credited[0])
        if info.asks == "heading":
            candidates = [c for c in candidates if c.kind in ("text", "heading")]
        if not candidates or self.support(candidates[0], info, stats) < self.min_support:
            return Answer(question=question, text=ABSTAIN_TEXT, abstained=True, mode=mode)
        if info.asks == "heading":
            return self.under_heading(shown or question, info, candidates[0], mode, hits)
        best = self.answering(info, candidates)
        if best is None:  # about the asked event, but without the detail asked for
            return self.not_said(shown or question, info, candidates[0], mode, hits)
        chosen = self.choose([best, *(c for c in candidates if c is not best)], info)
        return self.compose(question, info, chosen, mode, hits, best)

    def answering(self, info: QuestionInfo, candidates: list[Candidate]) -> Candidate | None:
        """The best candidate that holds what was asked, or None when those close to the best
        lack it (see `holding`); a how-many answer must also be about the asked event: the
        sentence, with the one before it, must share EVENT_COVERAGE of the question's words for
        the event ("in the barrel bomb attack on the camp"), besides what it counts."""
        found = self.holding(info, candidates)
        if found is not None and info.kind == "number" and event_coverage(info, found) < EVENT_COVERAGE:
            return None
        return found

    def holding(self, info: QuestionInfo, candidates: list[Candidate]) -> Candidate | None:
        """The best candidate that holds what was asked, or None when those close to the best
        lack it. A how-many question needs a number counting what it counts (soldiers, not
        observation posts); a when-question a date; a number question a number."""
        best = candidates[0]
        near = [c for c in candidates[:8] if c.score >= best.score - 2 * self.weights.second_margin]
        if info.kind != "date" and info.dated:
            # "How many were wounded in Thursday's strikes?" is not answered by "On Saturday an
            # air raid ... wounded five": a sentence that dates its event otherwise is about another.
            near = [c for c in near if not _dated_otherwise(info.dated, c.text)]
            if not near:
                return None
            best = near[0]
        if info.head:
            # "Which villages did the troops capture?" is not answered by "three small villages":
            # where the sentence names the asked kind of thing, it must also name which one.
            if info.names_role or _mentions(best.text, info.head):
                for cand in near:
                    span = named_as(cand.text, info)
                    if span is not None:
                        cand.span = span
                        return cand
                # A "which team / group / city" question may still be answered by a name the
                # sentence gives elsewhere; other kinds ("which weapons") need the naming.
                return best if info.kind in ("entity", "place") and best.span is not None and not info.names_role else None
            return best
        if info.kind == "entity" and best.span is None and re.match(r"(?i)\s*(?:which|what)\b", info.cue):
            # "Which group claimed the bombing?": a sentence that names none does not answer it.
            # ("Who ...?" may be answered by "the owner", "a doctor".)
            return next((c for c in near if c.span is not None), None)
        if info.kind not in ("number", "date"):
            return best
        if count_fit(info, best.text) == "other" or (info.kind == "date" and best.span is None and _CALENDAR.search(info.text)):
            return next((c for c in near if c.span is not None and count_fit(info, c.text) != "other"), None)
        if best.span is None and info.kind == "number" and count_fit(info, best.text) != "":
            return next((c for c in near if c.span is not None and count_fit(info, c.text) != "other"), None)
        return best

    def not_said(self, question: str, info: QuestionInfo, nearby: Candidate, mode: str, hits: list["Hit"]) -> Answer:
        """An abstention that points at what the reports do say nearby, cited and marked as not
        an answer: "The reports don't say how many Turkish soldiers died. They say ... [1]"."""
        asked = re.sub(r"^(?:and|but|also|so|then)\s+", "", question.strip().rstrip("?.! "), flags=re.I)
        asked = asked[0].lower() + asked[1:] if asked[:2] != asked[:2].upper() else asked
        citation = self._citation(1, [nearby], nearby.hit)
        said = f"The reports don't say {asked}. Not an answer, but nearby they say:"
        if self.max_words - _count_words(said) - 1 < _LEAST_QUOTE:  # a long question is not repeated
            said = "The reports don't say that. Not an answer, but nearby they say:"
        [quote] = _fit_all([(" ".join(nearby.text.split()), nearby.span, nearby.text)], self.max_words - _count_words(said) - 1)
        text = f"{said} {quote} [1]"
        return Answer(question=question, text=text, abstained=True, citations=[citation], mode=mode)

    def under_heading(self, question: str, info: QuestionInfo, best: Candidate, mode: str, hits: list["Hit"]) -> Answer:
        """The heading of the section holding what was asked about, cited with that sentence:
        'Under the heading "Humanitarian crisis" [1]: The UN says ... [2]'."""
        if best.kind == "heading":
            heading = Sentence(best.start, best.end, "heading"), best.text
        elif best.heading is not None:
            heading = best.heading
        else:
            return self.not_said(question, info, best, mode, hits)
        sentence, text = heading
        first = self._citation(1, [best], best.hit, span=(sentence.start, sentence.end, text))
        if best.kind == "heading":
            return Answer(question=question, text=f'"{text}" [1]', abstained=False, citations=[first], short_answer=text, mode=mode)
        second = self._citation(2, [best], best.hit)
        [quote] = _fit_all([(" ".join(best.text.split()), None, best.text)], self.max_words - 5 - _count_words(text))
        answer = f'Under the heading "{text}" [1]: {quote} [2]'
        return Answer(question=question, text=answer, abstained=False, citations=[first, second], short_answer=text, mode=mode)

    # -- ranking -------------------------------------------------------------------------
    def rank(
        self,
        info: QuestionInfo,
        query_vector: "np.ndarray",
        hits: list["Hit"],
        sentence_vectors: dict[str, "np.ndarray"],
        stats: "TermStats",
    ) -> list[Candidate]:
        import numpy as np

        w = self.weights
        total_idf = sum(info.terms.values()) or 1.0
        quotable = {"text"} | {kind for kind, asks in ASKS_ABOUT.items() if asks.search(info.text)}
        if info.asks.endswith("credit"):
            quotable.add("credit")  # "Photo: Reuters", "(AFP)" on a line of its own
        by_key: dict[tuple[str, int], Candidate] = {}
        lexical_of: dict[tuple[str, int], float] = {}
        terms_of: dict[tuple[str, int], set[str]] = {}
        for hit in hits:
            first = int(hit.metadata.get("first_sentence", 0))
            heading = read_section(hit.metadata)
            for offset, sentence in enumerate(hit.sentences):
                start, end, kind = sentence.start, sentence.end, sentence.kind
                key = (hit.doc_id, first + offset)
                text = hit.text[start - hit.start : end - hit.start]
                if kind == "heading":
                    heading = sentence, text
                if key not in lexical_of:
                    terms_of[key] = set(content_terms(text))
                    lexical_of[key] = sum(v for t, v in info.terms.items() if t in terms_of[key]) / total_idf
                if key in by_key or kind not in quotable or not any(ch.isalpha() for ch in text):  # "7." says nothing
                    continue
                cand = Candidate(hit.doc_id, first + offset, start, end, text, hit, kind=kind, heading=heading)
                vector = sentence_vectors.get(f"{hit.doc_id}:s{first + offset}")
                cand.dense = float(np.dot(vector, query_vector)) if vector is not None else 0.0
                cand.lexical = lexical_of[key]
                credit = credit_span(info.asks, text, kind)
                if credit is not None:
                    cand.span, cand.credit = credit, True
                else:
                    cand.span = find_answer_span(info, text)
                cand.typed = 0.0 if cand.span is None else 1.0 + (cand.credit or counts_asked_thing(info, text, cand.span))
                by_key[key] = cand
        for key, cand in by_key.items():
            previous = (key[0], key[1] - 1)
            before = lexical_of.get(previous, 0.0)
            cand.context_terms = both = terms_of[key] | terms_of.get(previous, set())
            cand.context_lexical = sum(v for t, v in info.terms.items() if t in both) / total_idf
            if _REFERS_BACK.match(cand.text):  # "He called on ...": the sentence before says who
                cand.lexical = max(cand.lexical, CONTEXT_DISCOUNT * cand.context_lexical)
            cand.score = (
                w.dense * cand.dense
                + w.lexical * cand.lexical
                + w.typed * cand.typed
                + w.rank / (1 + cand.hit.rank)
                + w.neighbour * before
            )
        return _one_per_statement(sorted(by_key.values(), key=lambda c: (-c.score, c.doc_id, c.index)))

    def support(self, best: Candidate, info: QuestionInfo, stats: "TermStats") -> float:
        """How strongly the best sentence supports an answer; below `min_support`, abstain.

        Names and numbers of the question that no report mentions at all (allowing spelling
        variants) count against it: the reports cannot be about them.
        """
        w = self.weights
        names = entity_terms(info.text)
        joined = _joined_compounds(info.text)
        missing = (
            sum(1 for name in names if not stats.mentions(name) and not any(map(stats.mentions, joined.get(name, ()))))
            / len(names)
            if names
            else 0.0
        )
        lexical = max(best.lexical, CONTEXT_DISCOUNT * best.context_lexical)
        return w.dense * best.dense + SUPPORT_LEXICAL * lexical - w.missing * missing

    def choose(self, candidates: list[Candidate], info: QuestionInfo) -> list[Candidate]:
        """The best sentence, and a second only where it may carry part of the answer: not when
        the best already holds a short answer of the asked type."""
        best = candidates[0]
        chosen = [best]
        if best.span is not None or (info.kind == "source" and _attributed(best.text)):
            # The same statement in another report is another source saying it; a sentence about
            # as strong that gives a different answer of the asked type is a rival answer the
            # reader must see. Both are quoted; nothing else is padded on.
            words = [w for w, _, _ in tokens(best.text)]
            close = best.score - self.weights.second_margin
            rivals = [
                c
                for c in candidates[1:8]
                if (c.doc_id != best.doc_id and [w for w, _, _ in tokens(c.text)] == words)
                or (c.span is not None and c.score >= close and _span_text(c) != _span_text(best)
                    and _count_words(best.text) + _count_words(c.text) + 2 <= self.max_words)
            ]
            chosen += rivals[: self.max_sentences - 1]
            if len({c.doc_id for c in chosen}) == 1:
                chosen.sort(key=lambda c: c.index)
            return chosen
        words = _count_words(best.text)
        for cand in candidates[1 : 8]:
            if len(chosen) >= self.max_sentences:
                break
            close = cand.score >= best.score - self.weights.second_margin
            adjacent = cand.doc_id == best.doc_id and abs(cand.index - best.index) == 1
            rescue = not best.typed and cand.typed and cand.score >= best.score - 2 * self.weights.second_margin
            # Each quoted sentence also carries its "[n]" marker, which counts as a word.
            if (close or rescue or (adjacent and cand.score >= best.score - 1.5 * self.weights.second_margin)) and (
                words + _count_words(cand.text) + len(chosen) + 1 <= self.max_words
            ):
                chosen.append(cand)
                words += _count_words(cand.text)
        # Quote in reading order when the sentences come from one report.
        if len({c.doc_id for c in chosen}) == 1:
            chosen.sort(key=lambda c: c.index)
        return chosen

    # -- composing -----------------------------------------------------------------------
    def compose(self, question: str, info: QuestionInfo, chosen: list[Candidate], mode: str, hits: list["Hit"], best: Candidate) -> Answer:
        """The answer text with its [n] markers; adjacent sentences share one citation where one
        retrieved chunk holds them both, so every citation is an exact slice of its report."""
        citations: list[Citation] = []
        pieces: list[str] = []
        i = 0
        while i < len(chosen):
            group = [chosen[i]]
            hit = group[0].hit
            while i + 1 < len(chosen) and chosen[i + 1].doc_id == group[-1].doc_id and chosen[i + 1].index == group[-1].index + 1:
                holder = _holding(hits, group[0].doc_id, group[0].start, chosen[i + 1].end)
                if holder is None:
                    break
                i += 1
                group.append(chosen[i])
                hit = holder
            i += 1
            n = len(citations) + 1
            citations.append(self._citation(n, group, hit))
            quote = " ".join(" ".join(c.text.split()) for c in group)
            pieces.append((quote, group[0], n))
            if best in group:
                best_citation = citations[-1]
        lead, short = self.lead(info, best, best_citation)
        # The lead and each quotation's "[n]" marker count as words too.
        fitted = _fit_all([(quote, first.span, first.text) for quote, first, _ in pieces], self.max_words - _count_words(lead) - len(pieces))
        quoted = " ".join(f"{quote} [{n}]" for quote, (_, _, n) in zip(fitted, pieces))
        text = f"{lead}. {quoted}" if lead else quoted
        return Answer(question=question, text=text, abstained=False, citations=citations, short_answer=short, mode=mode)

    def lead(self, info: QuestionInfo, best: Candidate, citation: Citation) -> tuple[str, str]:
        """The short answer the text leads with, and the span a person would underline: "At
        least 16 civilians, according to SOHR" / "at least 16"; "On Wednesday, 28 August 2019";
        for who-said questions the source ("SOHR"). ("", "") when no span answers."""
        if info.kind == "source" and citation.attributed_to:
            return f"According to {citation.attributed_to}", citation.attributed_to
        if best.span is None:
            return "", ""
        short = best.text[best.span[0] : best.span[1]]
        lead = short
        if info.kind == "date" and citation.event_date and citation.event_date_words:
            words = citation.event_date_words
            if short.lower() in words.lower() or words.lower().endswith(short.lower()):
                from .eventdates import event_date

                resolved = event_date(words, citation.date)
                lead = resolved.describe() if resolved else short
        if info.kind == "number":
            # "at least 16" + "civilians": what it counts, when the sentence says it right after.
            after = re.match(r"(?:\s+[^\W\d_][\w'’-]*){1,3}", best.text[best.span[1] :])
            words = counted(best.text, best.span)
            if after and words and not words & _OTHERS:
                named = []
                for word in after.group().split():
                    if word.lower() in STOPWORDS:
                        break
                    named.append(word)
                lead = " ".join([short, *named])
            if citation.attributed_to:
                lead = f"{lead}, according to {citation.attributed_to}"
        return _capital(lead), short

    def _citation(self, n: int, group: list[Candidate], hit: "Hit", span: tuple[int, int, str] | None = None) -> Citation:
        """The citation of a run of sentences of one chunk, or of `span` (start, end, text) of its
        report, such as its section's heading."""
        from .attribution import attribution_in_context
        from .eventdates import event_date

        start, end = group[0].start, group[-1].end
        text = hit.text[start - hit.start : end - hit.start]
        said_in = [(c.text, _sentence_before(c)) for c in group]
        if span is not None:
            (start, end, text), said_in = span, []
        meta = hit.metadata
        report_date = str(meta.get("date", ""))
        said = next((a for a in (attribution_in_context(t, before) for t, before in said_in) if a is not None), None)
        when = next((d for d in (event_date(t, report_date) for t, _ in said_in) if d is not None), None)
        return Citation(
            n=n,
            doc_id=hit.doc_id,
            title=str(meta.get("title", "")),
            source=str(meta.get("source", "")),
            date=report_date,
            text=text,
            start=start,
            end=end,
            score=round(max(c.score for c in group), 4),
            url=str(meta.get("url", "")),
            attribution=said.words if said else "",
            attributed_to=said.source if said else "",
            event_date=when.value if when else "",
            event_date_words=when.words if when else "",
        )


# A sentence that opens with a pronoun takes its subject from the sentence before.
_REFERS_BACK = re.compile(r"\s*(?:He|She|They|It|His|Her|Their|Its|This|These)\b")
# A photo's credit: "(AFP)" or "(Photo: Reuters)" closing a caption, or a line "Photo: AFP".
_CAPTION_CREDIT = re.compile(r"\((?:(?:photo|picture|image)s?\s*(?:by\s+|:\s*))?(?P<who>[A-Z][\w&.'’/ -]{0,40}?)\)\s*$", re.I)
_PHOTO_LINE = re.compile(r"^\s*(?:(?:photo(?:graph)?s?|pictures?|images?|credits?)\s*(?:by\s+|:\s*)(?P<who>.+?)|\((?P<bracketed>[^()]{2,40})\))\s*$", re.I)
# The report's own sources or author: "Source: TRTWorld and agencies", "By Jane Doe".
_SOURCE_LINE = re.compile(r"^\s*(?:sources?|by|reporting by|written by|compiled by)\s*:?\s+(?P<who>.+?)\s*\.?\s*$", re.I)


_CALENDAR_WORD = re.compile(rf"\b(?:{_DAYS}|January|February|March|April|May|June|July|August|September|October|November|December)\b|\b(?:1[89]|20)\d\d\b")
_WEEKDAYS = {d.lower() for d in _DAYS.split("|")}


def calendar_words(text: str) -> set[str]:
    """The weekdays, months and years a text names, lower-case ("Thursday's" -> "thursday")."""
    return {m.group().lower() for m in _CALENDAR_WORD.finditer(text)}


def _calendar_kind(word: str) -> str:
    return "year" if word.isdigit() else "day" if word in _WEEKDAYS else "month"


def _dated_otherwise(asked: set[str], sentence: str) -> bool:
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


def _singular(word: str) -> str:
    """A noun's singular, roughly: "villages" -> "village", "militias" -> "militia", "casualties" ->
    "casualty". Not a stem: the noun "crossing" must not match the verb "crossed"."""
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith(("ches", "shes", "sses", "xes")):
        return word[:-2]
    return word[:-1] if word.endswith("s") and not word.endswith(("ss", "us", "is")) else word


def _mentions(sentence: str, head: str) -> bool:
    return any(_singular(w) == head for w, _, _ in tokens(sentence))


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
    return spans


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
        if _singular(word) != info.head:
            continue
        for a, b in names:
            if (a >= end and _NAMED_AFTER.fullmatch(sentence, end, a)) or (b <= start and _NAMED_BEFORE.fullmatch(sentence, b, start)):
                return a, b
            if a <= start and end <= b and " " in sentence[a:b]:  # the noun in the name: "Newcastle University", "Operation X"
                return a, b
    return None


def event_coverage(info: QuestionInfo, cand: Candidate) -> float:
    """The IDF-weighted share of a number question's event words (its key terms but for what it
    counts, the units and casualty words) that the sentence or the one before it holds; 1.0
    when the question names no event."""
    counting = {info.count, *info.units, *_ANY_PEOPLE, *_NUMBER_WORDS, *_TELLING_WORDS}.union(*_ACTIONS)
    event = {t: v for t, v in info.terms.items() if t not in counting}
    total = sum(event.values())
    if not total:
        return 1.0
    # "Maaret" for "Maarat", a typo: a spelling variant holds the word.
    return sum(v for t, v in event.items() if t in cand.context_terms or spelled_like(t, cand.context_terms)) / total


def _sentence_before(cand: Candidate) -> str:
    """The sentence before the candidate's, where its chunk holds it ("" otherwise)."""
    hit = cand.hit
    k = cand.index - int(hit.metadata.get("first_sentence", 0)) - 1
    if not 0 <= k < len(hit.sentences):
        return ""
    sentence = hit.sentences[k]
    return hit.text[sentence.start - hit.start : sentence.end - hit.start]


def _holding(hits: list["Hit"], doc_id: str, start: int, end: int) -> "Hit | None":
    """A retrieved chunk of the document that holds the whole span, if any."""
    return next((h for h in hits if h.doc_id == doc_id and h.start <= start and end <= h.end), None)


def _one_per_statement(ranked: list[Candidate]) -> list[Candidate]:
    """The ranked candidates with each statement of a report once: of its sentences that say the
    same thing (see DUPLICATE_SLACK), the fullest is kept, at the best rank, score and evidence
    (meaning, key terms) any of them had."""
    kept: list[Candidate] = []
    words_of: list[tuple[str, ...]] = []
    for cand in ranked:
        words = tuple(w for w, _, _ in tokens(cand.text))
        same = next(
            (i for i, other in enumerate(words_of) if kept[i].doc_id == cand.doc_id and _same_statement(words, other)),
            None,
        )
        if same is None:
            kept.append(cand)
            words_of.append(words)
            continue
        best = kept[same]
        fuller = cand if len(words) > len(words_of[same]) else best
        for name in ("score", "dense", "lexical", "context_lexical", "typed"):
            setattr(fuller, name, max(getattr(best, name), getattr(cand, name)))
        kept[same], words_of[same] = fuller, max(words, words_of[same], key=len)
    return kept


def _same_statement(a: tuple[str, ...], b: tuple[str, ...]) -> bool:
    short, long = sorted((a, b), key=len)
    if not short or len(long) - len(short) > DUPLICATE_SLACK * len(long):
        return False
    n = len(short)
    return any(long[i : i + n] == short for i in range(len(long) - n + 1))


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
            if info.kind == "place" and not _PLACE_CUE.search(sentence[max(0, a - 12) : a]):
                continue
            found.append((a, b))
    # An answer is something the question does not already say: for a number, the number with
    # what it counts ("two largest cities" repeats "Syria's two biggest cities"; "two hours" is new).
    asked = {stem(w) for w in info.words}
    found = [
        (a, b)
        for a, b in found
        if (
            not (_repeats_number(info, sentence[a:b]) and (counted(sentence, (a, b)) & asked or not counted(sentence, (a, b))))
            if info.kind == "number"
            else any(w not in info.words and w not in STOPWORDS for w, _, _ in tokens(sentence[a:b]))
        )
    ]
    if not found:
        return None
    anchors = [s for w, s, _ in tokens(sentence) if stem(w) in info.terms]
    fit = (lambda span: -_number_fit(info, sentence, span)) if info.kind == "number" else (lambda span: 0)
    if not anchors:
        return min(found, key=lambda span: (fit(span), span[0]))
    return min(found, key=lambda span: (fit(span), min(abs(span[0] - a) for a in anchors)))


def _number_fit(info: QuestionInfo, sentence: str, span: tuple[int, int]) -> int:
    """How well one number answers a number question: one point for counting (or measuring)
    what it asks, two for the asked casualty action ("over 400,000 people displaced", asked
    how many were displaced, beats "over 550 civilians have been killed")."""
    words = counted(sentence, span)
    asked, units, action = info.count, info.units, info.action
    points = int(bool((asked and _same_count(asked, words)) or (units and words & units)))
    # The asked action weighs most: "34 others" injured beats "16 civilians" killed, asked for the injured.
    return points + 2 * int(action is not None and number_action(sentence, span) == action)


def _stem_groups(*groups: str) -> tuple[set[str], ...]:
    return tuple({stem(w) for w in group.split()} for group in groups)


# Words that count the same thing: a question about "people" is answered by "16 civilians".
_SAME_COUNT = _stem_groups(
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
_ANY_PEOPLE = {stem("people"), stem("persons")}
_NUMBER_WORDS = {stem(w) for w in "number numbers toll tolls total".split()}
# Words for a report and its telling ("according to the aid report"): no event's.
_TELLING_WORDS = {stem(w) for w in "report reports reported article story piece according said say says".split()}
_OF = {"of", "the", "a", "an", "its", "their", "his", "her"}
_OTHERS = {stem("others"), stem("other"), stem("more")}


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
_ACTIONS = _stem_groups(
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


def _action(words: list[str]) -> int | None:
    """Which casualty action (index into _ACTIONS) the words name first, if any."""
    for word in words:
        for i, group in enumerate(_ACTIONS):
            if word in group:
                return i
    return None


def asked_action(question: str) -> int | None:
    return _action([stem(w) for w, _, _ in tokens(question)])


_ASIDE = re.compile(r",\s*(?:including|among them|among whom|mostly|most of them|many of them|some of them)\b[^,;:—]*,")


def number_action(sentence: str, span: tuple[int, int]) -> int | None:
    """The casualty action nearest the number: "killed at least 16", "seven civilians were killed"."""
    clause_before = re.split(r"[,;:—]|\band\b", sentence[: span[0]])[-1]
    before = [stem(w) for w, _, _ in tokens(clause_before)][-3:]
    # "more than 40,000 people, including women and children, have been killed": past the aside.
    clause = re.split(r"[,;:—]|\band\b", _ASIDE.sub(" ", sentence[span[1] :]), maxsplit=1)[0]
    after = [stem(w) for w, _, _ in tokens(clause)][:6]
    nearest_before = _action(list(reversed(before)))
    return nearest_before if nearest_before is not None else _action(after)


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


def counted(sentence: str, span: tuple[int, int]) -> set[str]:
    """The stems of the words a number counts: up to three words after it, to the clause's end
    ("12 observation posts" -> observ, post; "two of Turkey's 12 observation posts" the same);
    empty when nothing follows it ("killed 16 and ...")."""
    after = re.split(r"[,.;:()!?\"“”—]", sentence[span[1] :], maxsplit=1)[0]
    out: set[str] = set()
    for word, start, _ in tokens(after)[:6]:
        original = after[start : start + 1]
        if not out and (word in _OF or word.isdigit() or original.isupper() or word == "s"):
            continue  # "two of Turkey's 12 observation posts": what the two are two of
        if word in STOPWORDS or word.isdigit() or len(out) == 3:
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
    asked = "" if asked in _ANY_PEOPLE else asked
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
        if words & _OTHERS:
            words = named or words  # "four civilians ... and three others": others of the same count
        # "... killed, and three others", "killed 16 people, among them three children": the
        # action said before it in the sentence.
        done = last_action if done is None else done
        last_action = done
        if not words and done is not None:
            words = {stem("people")}  # "has killed hundreds": people
        if action is not None and done != action and (done is not None or words):
            named |= words - _OTHERS
            continue  # a count of the killed (or of hospitals, or of people who were not hurt), asked for the injured
        if not words:
            verdict = ""
            continue
        if (units and words & units) or (asked and _same_count(asked, words)) or not (asked or units):
            return "fits"
        named |= words - _OTHERS
    return verdict


# "10:07", "10.30 am", "3 pm" (not "4.81 million").
_CLOCK = re.compile(r"\b\d{1,2}:\d{2}\b(?:\s*[ap]\.?m\.?)?|\b\d{1,2}(?:\.\d{2})?\s*[ap]\.?m\b\.?", re.I)
# A date names its month or day with a capital: "40 may have died" and "60 march" are counts.
_LOWER_CALENDAR = re.compile(rf"\b(?!(?:{_MONTHS}|{_DAYS})\b)(?i:{_MONTHS}|{_DAYS})\b")


def numbers_in(sentence: str) -> list[tuple[int, int]]:
    """The spans of the numbers that are not (part of) dates or times: not the 2 and 2016 of
    "2 July 2016", nor the 07 of "10:07"."""
    # A bare year ("2000") may as well be a count ("at most 2000 km"): only a number that is nothing
    # but a year is left out for it, as before dates within dates were.
    dates = [m.span() for m in DATE.finditer(sentence) if not m.group().isdigit() and not _LOWER_CALENDAR.search(m.group())]
    dates += [m.span() for m in _CLOCK.finditer(sentence)]
    return [
        (a, b)
        for m in NUMBER.finditer(sentence)
        for a, b in [m.span()]
        if not DATE.fullmatch(m.group()) and not any(x < b and a < y for x, y in dates)
    ]


def _repeats_number(info: QuestionInfo, number: str) -> bool:
    return all(w in info.words or w in STOPWORDS for w, _, _ in tokens(number))


def counts_asked_thing(info: QuestionInfo, sentence: str, span: tuple[int, int]) -> bool:
    """Whether a number answers "how many X" by counting X itself ("28 civilians")."""
    return info.kind == "number" and bool(info.count) and _same_count(info.count, counted(sentence, span))


def entity_terms(question: str) -> list[str]:
    """Names and numbers in the question (capitalised words after the first, digits)."""
    out = []
    for i, (word, start, end) in enumerate(tokens(question)):
        original = question[start:end]
        if word.isdigit() or (i > 0 and original[:1].isupper() and word not in STOPWORDS):
            out.append(word)
    return out


def _joined_compounds(question: str) -> dict[str, list[str]]:
    """For each word of a hyphenated or two-part name, the name written as one word: "Deir
    ez-Zor" may be spelled "Deir Ezzor", "al-Qaeda" "alQaeda" (spelling variants of names)."""
    out: dict[str, list[str]] = {}
    for match in re.finditer(r"\b\w+(?:-\w+)+\b", question):
        parts = [p.lower() for p in match.group().split("-")]
        for part in parts:
            out.setdefault(part, []).append("".join(parts))
    return out


def _span_text(cand: Candidate) -> str:
    return cand.text[cand.span[0] : cand.span[1]].lower() if cand.span else ""


def _attributed(sentence: str) -> bool:
    from .attribution import attribution

    return attribution(sentence) is not None


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def _count_words(text: str) -> int:
    return len(text.split())


# A not-said answer repeats the question only where this much of the quotation still fits;
# a cut quotation costs an ellipsis at each end.
_LEAST_QUOTE = 12
_ELLIPSES = 2


def _fit_all(quotes: list[tuple[str, tuple[int, int] | None, str]], room: int) -> list[str]:
    """Cut quotations (text, answer span, the sentence the span is in) to hold `room` words in
    all, ellipses included: the longest is cut first, each around its span."""
    allowed = [_count_words(text) for text, _, _ in quotes]
    while sum(allowed) > room and max(allowed) > _ELLIPSES + 1:
        allowed[allowed.index(max(allowed))] -= 1
    return [
        text if words >= _count_words(text) else _fit(text, words - _ELLIPSES, span, sentence)
        for (text, span, sentence), words in zip(quotes, allowed)
    ]


def _fit(text: str, max_words: int, span: tuple[int, int] | None, sentence: str) -> str:
    """Shorten a quotation to `max_words` words around its answer span, marking cuts with '…'."""
    words = text.split()
    if len(words) <= max_words:
        return text
    centre = len(sentence[: span[0]].split()) if span else 0
    lo = max(0, min(centre - max_words // 3, len(words) - max_words))
    hi = lo + max_words
    return ("… " if lo > 0 else "") + " ".join(words[lo:hi]) + (" …" if hi < len(words) else "")
