"""Turning retrieved passages into a short cited answer, or an honest abstention.

The default answerer is extractive and offline: it ranks the sentences of the retrieved
chunks by how well they answer the question (meaning, shared key terms, an answer of the
expected type), quotes the best one or two, and cites each by its character span.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .text import STOPWORDS, content_terms, stem, tokens
from .types import Answer, Citation

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
    rf"|\d{{1,2}}(?:st|nd|rd|th)\s+century|(?:first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth|eleventh|twelfth|thirteenth|fourteenth|fifteenth|sixteenth|seventeenth|eighteenth|nineteenth|twentieth|twenty-first)\s+century"
    rf"|yesterday|today|tonight|overnight|midnight|(?:last|this|next)\s+(?:week|month|year|night|weekend)"
    rf"|(?:morning|afternoon|evening|night))\b",
    re.IGNORECASE,
)
_CONNECT = r"(?:\s+(?:of|al|el|ad|as|ash|ar|an|de|du|da|del|la|le|bin|ibn|van|von|the|and|for)(?=\s+[A-Z]))?"
ENTITY = re.compile(rf"\b[A-Z][\w'’.-]*(?:{_CONNECT}[\s-]+[A-Z][\w'’.-]*)*")
_PLACE_CUE = re.compile(r"\b(?:in|at|near|from|to|into|across|outside|inside|towards?|around|of)\s+(?:the\s+)?$", re.IGNORECASE)

QUESTION_TYPES = (
    ("number", re.compile(r"\bhow (?:many|much|long|old|far|large|big|tall|high|often|deep|wide|heavy)\b|\bwhat (?:number|percentage|percent|proportion|amount|size|age)\b|\bnumber of\b", re.I)),
    ("date", re.compile(r"\bwhen\b|\b(?:what|which) (?:year|date|day|month|time|century|decade|period|season)\b|\bhow long ago\b|\bsince when\b", re.I)),
    ("place", re.compile(r"\bwhere\b|\b(?:what|which|in what|in which) (?:city|country|town|village|province|region|place|area|location|state|district|neighbou?rhood|continent|county|island|river)\b", re.I)),
    ("entity", re.compile(r"\bwho(?:m|se)?\b|\b(?:what|which) (?:organi[sz]ation|group|company|person|man|woman|agency|party|team|monitor|body|force|forces|militia|country's|newspaper|outlet|university|institution|army)\b", re.I)),
)


# Headings and credit lines (see chunking.sentence_kind) are quoted only for questions about them;
# otherwise they only lend their words to the sentences after them, as context.
# A question asks for a heading when it asks which heading or section ("Under which heading ..."),
# not when it names one ("What happened in the humanitarian crisis section?").
_HEADING_NAMES = r"(?:sub-?)?headings?|headlines?|sections?|sub-?titles?|titles?"
ASKS_ABOUT = {
    "heading": re.compile(
        rf"\b(?:what|which)(?:'s|\s+(?:is|are|was|were))?\s+(?:the\s+)?(?:{_HEADING_NAMES})\b"
        rf"|\b(?:{_HEADING_NAMES})\s+(?:of|for|is|are|was)\b",
        re.I,
    ),
    "credit": re.compile(
        r"\b(?:sources?|credits?|credited|agency|agencies|photographers?|bylines?|authors?|who wrote|written by|reporting by)\b",
        re.I,
    ),
}
# Two sentences of one report are one statement when the shorter is the longer with at most
# this share of its words missing (a caption printed twice, once with its credit): quoted once,
# the fuller one. Across reports a repeated sentence is another source saying it, and stays.
DUPLICATE_SLACK = 0.2

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
    kind: str  # number | date | place | entity | other
    terms: dict[str, float] = field(default_factory=dict)  # stem -> IDF weight
    words: set[str] = field(default_factory=set)  # lower-case words of the question


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
    typed: float = 0.0  # 1 with an answer of the expected type; 2 when it counts what was asked ("28 civilians")
    score: float = 0.0
    span: tuple[int, int] | None = None  # short answer, offsets into `text`


def question_kind(question: str) -> tuple[str, str]:
    """The answer type a question asks for, and the words that ask for it ("how far")."""
    for kind, pattern in QUESTION_TYPES:
        match = pattern.search(question)
        if match:
            return kind, match.group()
    return "other", ""


def analyse_question(question: str, stats: "TermStats") -> QuestionInfo:
    kind, cue = question_kind(question)
    # "how far", "what year": the cue names the answer's type, not something the answer mentions.
    topic = question.replace(cue, " ") if kind in ("number", "date") else question
    terms = {t: stats.idf(t) for t in content_terms(topic)}
    words = {w for w, _, _ in tokens(question)}
    return QuestionInfo(question, kind, terms, words)


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
    ) -> Answer:
        info = analyse_question(question, stats)
        candidates = self.rank(info, query_vector, hits, sentence_vectors, stats)
        if not candidates or self.support(candidates[0], info, stats) < self.min_support:
            return Answer(question=question, text=ABSTAIN_TEXT, abstained=True, mode=mode)
        chosen = self.choose(candidates)
        return self.compose(question, info, chosen, mode, hits)

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
        by_key: dict[tuple[str, int], Candidate] = {}
        lexical_of: dict[tuple[str, int], float] = {}
        terms_of: dict[tuple[str, int], set[str]] = {}
        for hit in hits:
            first = int(hit.metadata.get("first_sentence", 0))
            for offset, sentence in enumerate(hit.sentences):
                start, end, kind = sentence.start, sentence.end, sentence.kind
                key = (hit.doc_id, first + offset)
                text = hit.text[start - hit.start : end - hit.start]
                if key not in lexical_of:
                    terms_of[key] = set(content_terms(text))
                    lexical_of[key] = sum(v for t, v in info.terms.items() if t in terms_of[key]) / total_idf
                if key in by_key or kind not in quotable or not any(ch.isalpha() for ch in text):  # "7." says nothing
                    continue
                cand = Candidate(hit.doc_id, first + offset, start, end, text, hit)
                vector = sentence_vectors.get(f"{hit.doc_id}:s{first + offset}")
                cand.dense = float(np.dot(vector, query_vector)) if vector is not None else 0.0
                cand.lexical = lexical_of[key]
                cand.span = find_answer_span(info, text)
                cand.typed = 0.0 if cand.span is None else 1.0 + counts_asked_thing(info, text, cand.span)
                by_key[key] = cand
        for key, cand in by_key.items():
            previous = (key[0], key[1] - 1)
            before = lexical_of.get(previous, 0.0)
            both = terms_of[key] | terms_of.get(previous, set())
            cand.context_lexical = sum(v for t, v in info.terms.items() if t in both) / total_idf
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

    def choose(self, candidates: list[Candidate]) -> list[Candidate]:
        best = candidates[0]
        chosen = [best]
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
    def compose(self, question: str, info: QuestionInfo, chosen: list[Candidate], mode: str, hits: list["Hit"]) -> Answer:
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
            start, end = group[0].start, group[-1].end
            text = hit.text[start - hit.start : end - hit.start]
            n = len(citations) + 1
            meta = hit.metadata
            citations.append(
                Citation(
                    n=n,
                    doc_id=group[0].doc_id,
                    title=str(meta.get("title", "")),
                    source=str(meta.get("source", "")),
                    date=str(meta.get("date", "")),
                    text=text,
                    start=start,
                    end=end,
                    score=round(max(c.score for c in group), 4),
                    url=str(meta.get("url", "")),
                )
            )
            quote = " ".join(" ".join(c.text.split()) for c in group)
            # Room for the marker and two ellipses when one long sentence must be cut.
            pieces.append(f"{_fit(quote, self.max_words - 3, group[0].span, group[0].text)} [{n}]")
        best = max(chosen, key=lambda c: c.score)
        short = best.text[best.span[0] : best.span[1]] if best.span else ""
        return Answer(question=question, text=" ".join(pieces), abstained=False, citations=citations, short_answer=short, mode=mode)


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
        found = [m.span() for m in NUMBER.finditer(sentence) if not DATE.fullmatch(m.group())]
    elif info.kind == "date":
        found = [m.span() for m in DATE.finditer(sentence)]
    else:
        found = []
        for m in ENTITY.finditer(sentence):
            if m.start() == 0 and " " not in m.group():
                continue  # a capital at the start of a sentence is no sign of a name
            if info.kind == "place" and not _PLACE_CUE.search(sentence[max(0, m.start() - 12) : m.start()]):
                continue
            found.append(m.span())
    # An answer is something the question does not already say.
    found = [
        (a, b)
        for a, b in found
        if any(w not in info.words and w not in STOPWORDS for w, _, _ in tokens(sentence[a:b]))
    ]
    if not found:
        return None
    anchors = [s for w, s, _ in tokens(sentence) if stem(w) in info.terms]
    if not anchors:
        return found[0]
    return min(found, key=lambda span: min(abs(span[0] - a) for a in anchors))


_COUNTED = re.compile(r"\bhow many\s+(?:more\s+|of\s+the\s+)?([^\W\d_]+)", re.IGNORECASE)


def counts_asked_thing(info: QuestionInfo, sentence: str, span: tuple[int, int]) -> bool:
    """Whether a number answers "how many X" by counting X itself ("28 civilians", "28 of the civilians")."""
    asked = _COUNTED.search(info.text)
    if info.kind != "number" or not asked:
        return False
    following = [stem(w) for w, _, _ in tokens(sentence[span[1] :])[:3]]
    return stem(asked.group(1).lower()) in following


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


def _count_words(text: str) -> int:
    return len(text.split())


def _fit(text: str, max_words: int, span: tuple[int, int] | None, sentence: str) -> str:
    """Shorten a quotation to `max_words` words around its answer span, marking cuts with '…'."""
    words = text.split()
    if len(words) <= max_words:
        return text
    centre = len(sentence[: span[0]].split()) if span else 0
    lo = max(0, min(centre - max_words // 3, len(words) - max_words))
    hi = lo + max_words
    return ("… " if lo > 0 else "") + " ".join(words[lo:hi]) + (" …" if hi < len(words) else "")
