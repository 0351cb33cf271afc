"""The ranking as named features: each candidate sentence's feature values (`features`), the score
they add up to with the weights (`score`), the abstention score (`support_features`, `support`),
and the candidates ranked with each statement of a report once (`rank_candidates`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .answer_counts import ANY_PEOPLE, NUMBER_WORDS, TELLING_WORDS, counts_asked_thing
from .answer_spans import credit_span, find_answer_span
from .answer_weights import WEIGHTS, Weights
from .chunking import read_section
from .question import ACTIONS, ASKS_ABOUT, QuestionInfo, entity_terms, joined_compounds
from .text import content_terms, spelled_like, tokens
from .types import Sentence, Span, sentence_id

if TYPE_CHECKING:
    import numpy as np

    from .lexical import TermStats
    from .retrieval import Hit


# A sentence that opens with a pronoun takes its subject from the sentence before.
_REFERS_BACK = re.compile(r"\s*(?:He|She|They|It|His|Her|Their|Its|This|These)\b")


@dataclass
class Candidate(Span):
    """A sentence of a retrieved chunk that may be quoted, with its feature values and score."""

    index: int  # sentence index in the document
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


# The ranking features, in the order their weighed values are added (see `score`).
FEATURES = ("dense", "lexical", "typed", "chunk_rank", "neighbour")


def term_share(info: QuestionInfo, terms: set[str]) -> float:
    """The IDF-weighted share of the question's key terms among `terms`."""
    total_idf = sum(info.terms.values()) or 1.0
    return sum(v for t, v in info.terms.items() if t in terms) / total_idf


def features(
    info: QuestionInfo, cand: Candidate, terms: set[str], before: set[str], weights: Weights = WEIGHTS
) -> dict[str, float]:
    """The ranking features of a candidate sentence, by name (see FEATURES).

    Args:
        cand: the sentence, with its `dense` cosine, and its `span` and `credit` as read.
        terms: the sentence's content terms; `before`: those of the sentence before it in its
            report (empty when no retrieved chunk holds it).

    Returns:
        dense: cosine of question and sentence; lexical: the share of the question's key terms
        in the sentence (for a sentence opening with a pronoun, at least `context_discount` times
        their share in it and the sentence before); typed: 0 without an answer of the asked type,
        1 with one, 2 with one counting what was asked ("28 civilians") or the credit asked for;
        chunk_rank: the 1-based retrieval rank of its chunk; neighbour: the share of the key terms
        in the sentence before.
    """
    lexical = term_share(info, terms)
    if _REFERS_BACK.match(cand.text):  # "He called on ...": the sentence before says who
        lexical = max(lexical, weights.context_discount * term_share(info, terms | before))
    typed = 0.0 if cand.span is None else 1.0 + (cand.credit or counts_asked_thing(info, cand.text, cand.span))
    chunk_rank, neighbour = 1 + cand.hit.rank, term_share(info, before)
    return {"dense": cand.dense, "lexical": lexical, "typed": typed, "chunk_rank": chunk_rank, "neighbour": neighbour}


def score(values: dict[str, float], weights: Weights = WEIGHTS) -> float:
    """The ranking score: each feature times its weight, added in FEATURES order; the chunk's rank
    is a prior falling with it, its weight divided by the rank."""
    w = weights
    return (
        w.dense * values["dense"]
        + w.lexical * values["lexical"]
        + w.typed * values["typed"]
        + w.rank / values["chunk_rank"]
        + w.neighbour * values["neighbour"]
    )


def support_features(
    info: QuestionInfo, best: Candidate, stats: "TermStats", weights: Weights = WEIGHTS
) -> dict[str, float]:
    """The abstention features of the best candidate: its `dense` cosine; `lexical`, the share of
    the key terms in it (or `context_discount` times that in it and the sentence before, if more);
    `missing`, the share of the question's names and numbers that no report mentions at all
    (allowing spelling variants): the reports cannot be about them."""
    names = entity_terms(info.text)
    joined = joined_compounds(info.text)
    missing = (
        sum(1 for name in names if not stats.mentions(name) and not any(map(stats.mentions, joined.get(name, ()))))
        / len(names)
        if names
        else 0.0
    )
    lexical = max(best.lexical, weights.context_discount * best.context_lexical)
    return {"dense": best.dense, "lexical": lexical, "missing": missing}


def support(values: dict[str, float], weights: Weights = WEIGHTS) -> float:
    """How strongly the best sentence supports an answer (below `min_support` the answerer abstains)."""
    w = weights
    return w.dense * values["dense"] + w.support_lexical * values["lexical"] - w.missing * values["missing"]


def rank_candidates(
    info: QuestionInfo,
    query_vector: "np.ndarray",
    hits: list["Hit"],
    sentence_vectors: dict[str, "np.ndarray"],
    weights: Weights = WEIGHTS,
) -> list[Candidate]:
    """The quotable sentences of the retrieved chunks, best first, each statement of a report once."""
    import numpy as np

    quotable = {"text"} | {kind for kind, asks in ASKS_ABOUT.items() if asks.search(info.text)}
    if info.asks.endswith("credit"):
        quotable.add("credit")  # "Photo: Reuters", "(AFP)" on a line of its own
    by_key: dict[tuple[str, int], Candidate] = {}
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
            if key not in terms_of:
                terms_of[key] = set(content_terms(text))
            if key in by_key or kind not in quotable or not any(ch.isalpha() for ch in text):  # "7." says nothing
                continue
            cand = Candidate(hit.doc_id, start, end, text, first + offset, hit, kind=kind, heading=heading)
            vector = sentence_vectors.get(sentence_id(hit.doc_id, first + offset))
            cand.dense = float(np.dot(vector, query_vector)) if vector is not None else 0.0
            credit = credit_span(info.asks, text, kind)
            if credit is not None:
                cand.span, cand.credit = credit, True
            else:
                cand.span = find_answer_span(info, text)
            by_key[key] = cand
    for key, cand in by_key.items():
        before = terms_of.get((key[0], key[1] - 1), set())
        cand.context_terms = both = terms_of[key] | before
        cand.context_lexical = term_share(info, both)
        values = features(info, cand, terms_of[key], before, weights)
        cand.lexical, cand.typed = values["lexical"], values["typed"]
        cand.score = score(values, weights)
    return _one_per_statement(sorted(by_key.values(), key=lambda c: (-c.score, c.doc_id, c.index)), weights)


def event_coverage(info: QuestionInfo, cand: Candidate) -> float:
    """The IDF-weighted share of a number question's event words (its key terms but for what it
    counts, the units and casualty words) that the sentence or the one before it holds; 1.0
    when the question names no event."""
    return coverage_of(info, cand.context_terms)


def coverage_of(info: QuestionInfo, terms: set[str]) -> float:
    """The IDF-weighted share of a number question's event words that `terms` (stems) hold (see event_coverage)."""
    counting = {info.count, *info.units, *ANY_PEOPLE, *NUMBER_WORDS, *TELLING_WORDS}.union(*ACTIONS)
    event = {t: v for t, v in info.terms.items() if t not in counting}
    total = sum(event.values())
    if not total:
        return 1.0
    # "Maaret" for "Maarat", a typo: a spelling variant holds the word.
    return sum(v for t, v in event.items() if t in terms or spelled_like(t, terms)) / total


def _one_per_statement(ranked: list[Candidate], weights: Weights) -> list[Candidate]:
    """The ranked candidates with each statement of a report once: of its sentences that say the
    same thing (see Weights.duplicate_slack), the fullest is kept, at the best rank, score and evidence
    (meaning, key terms) any of them had."""
    kept: list[Candidate] = []
    words_of: list[tuple[str, ...]] = []
    for cand in ranked:
        words = tuple(w for w, _, _ in tokens(cand.text))
        same = next(
            (
                i
                for i, other in enumerate(words_of)
                if kept[i].doc_id == cand.doc_id and _same_statement(words, other, weights.duplicate_slack)
            ),
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


def _same_statement(a: tuple[str, ...], b: tuple[str, ...], slack: float) -> bool:
    short, long = sorted((a, b), key=len)
    if not short or len(long) - len(short) > slack * len(long):
        return False
    n = len(short)
    return any(long[i : i + n] == short for i in range(len(long) - n + 1))
