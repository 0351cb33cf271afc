"""Scoring what a system did with gold questions (see qa.evaluation for the figures)."""

from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from ..errors import InputError
from .gold import GoldQuestion, contains

MAX_ANSWER_WORDS = 60  # an answer longer than this is not counted as accurate

# Figure names in table order, with how each is printed.
METRICS = (
    "hit@1",
    "hit@5",
    "mrr",
    "answer_accuracy",
    "answer_recall",
    "exact_match",
    "f1",
    "citation_accuracy",
    "citation_precision",
    "abstention_precision",
    "abstention_recall",
    "latency_p50_ms",
    "latency_p95_ms",
)


@dataclass
class Outcome:
    """What one system did with one question: enough to score it and to show why it failed."""

    question_id: str
    answer: str
    abstained: bool
    short_answer: str = ""
    citations: list[str] = field(default_factory=list)  # cited texts, in order
    retrieved: list[str] = field(default_factory=list)  # retrieved chunk texts, best first
    latency_ms: float = 0.0


def _squad_tokens(text: str) -> list[str]:
    text = "".join(ch for ch in text.lower() if ch not in set(string.punctuation))
    return re.sub(r"\b(a|an|the)\b", " ", text).split()


def exact_match(prediction: str, golds: Iterable[str]) -> float:
    return float(any(_squad_tokens(prediction) == _squad_tokens(g) for g in golds))


def token_f1(prediction: str, golds: Iterable[str]) -> float:
    """SQuAD's token F1, best over the gold answers."""
    best = 0.0
    predicted = _squad_tokens(prediction)
    for gold in golds:
        expected = _squad_tokens(gold)
        common = sum((Counter(predicted) & Counter(expected)).values())
        if common:
            precision, recall = common / len(predicted), common / len(expected)
            best = max(best, 2 * precision * recall / (precision + recall))
    return best


def _has_evidence(text: str, question: GoldQuestion) -> bool:
    return any(contains(text, e) for e in question.evidence)


def is_correct(question: GoldQuestion, outcome: Outcome, max_words: int = MAX_ANSWER_WORDS) -> bool:
    """Answerable: a short enough answer with a gold answer inside. Unanswerable: abstained."""
    if not question.answerable:
        return outcome.abstained
    return (
        not outcome.abstained
        and len(outcome.answer.split()) <= max_words
        and any(contains(outcome.answer, a) for a in question.answers)
    )


def score(
    questions: list[GoldQuestion], outcomes: list[Outcome], max_words: int = MAX_ANSWER_WORDS
) -> dict[str, float | None]:
    """Every figure of one system on one gold set (see the module docstring).

    A figure with nothing to average is None: abstention precision when the system never
    abstained, abstention recall when no question is unanswerable, exact match and F1 when
    no short answer was marked, and the rest when no question is answerable.
    """
    if len(questions) != len(outcomes):
        raise InputError(f"{len(outcomes)} outcomes for {len(questions)} questions")
    answerable = [(q, o) for q, o in zip(questions, outcomes) if q.answerable]
    unanswerable = [(q, o) for q, o in zip(questions, outcomes) if not q.answerable]
    ranks = []
    for q, o in answerable:
        rank = next((i for i, text in enumerate(o.retrieved, start=1) if _has_evidence(text, q)), None)
        ranks.append(rank)
    shorts = [(q, o) for q, o in answerable if o.short_answer and not o.abstained]
    cited = [(q, c) for q, o in answerable for c in o.citations]
    abstained_right = sum(o.abstained for _, o in unanswerable)
    abstained_all = sum(o.abstained for o in outcomes)
    latencies = sorted(o.latency_ms for o in outcomes)

    def share(values: Iterable[float], n: int) -> float | None:
        """A mean, or None where it is undefined (nothing to average)."""
        return round(sum(values) / n, 4) if n else None

    n = len(answerable)
    return {
        "hit@1": share((r == 1 for r in ranks), n),
        "hit@5": share((r is not None and r <= 5 for r in ranks), n),
        "mrr": share((1 / r if r else 0.0 for r in ranks), n),
        "answer_accuracy": share((is_correct(q, o, max_words) for q, o in answerable), n),
        "answer_recall": share(
            (not o.abstained and any(contains(o.answer, a) for a in q.answers) for q, o in answerable), n
        ),
        "exact_match": share((exact_match(o.short_answer, q.answers) for q, o in shorts), len(shorts)),
        "f1": share((token_f1(o.short_answer, q.answers) for q, o in shorts), len(shorts)),
        "citation_accuracy": share((any(_has_evidence(c, q) for c in o.citations) for q, o in answerable), n),
        "citation_precision": share(
            (_has_evidence(c, q) or any(contains(c, a) for a in q.answers) for q, c in cited), len(cited)
        ),
        "abstention_precision": share([abstained_right], abstained_all),
        "abstention_recall": share([abstained_right], len(unanswerable)),
        "latency_p50_ms": round(_percentile(latencies, 50), 2),
        "latency_p95_ms": round(_percentile(latencies, 95), 2),
    }


def _percentile(sorted_values: list[float], pct: float) -> float:
    """Nearest-rank percentile (0 for no values)."""
    if not sorted_values:
        return 0.0
    rank = max(1, -(-len(sorted_values) * pct // 100))
    return sorted_values[int(rank) - 1]


# -- running systems -----------------------------------------------------------------------------
