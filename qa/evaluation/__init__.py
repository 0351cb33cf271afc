"""Measuring the assistant: a gold question set, metrics, and side-by-side runs.

A gold question has acceptable short `answers` (none: the reports don't say) and `evidence`, an
exact substring of a report that supports it (or a list of them, when the report states the
fact more than once; any one counts). Text matches whole words after lower-casing and dropping
punctuation, so "12" is not found in "128" nor "May" in "Mayor". Metrics, per system:

- retrieval: hit@1, hit@5 and MRR, where a hit is a retrieved chunk that contains the evidence;
- answers: accuracy (not abstained, at most `max_words` words, a gold answer inside), exact
  match and token F1 of the marked short answer (SQuAD rules, over questions with one), and
  `answer_recall` (a gold answer inside, whatever the length: fair to long baselines);
- citations: accuracy (some citation contains the evidence) and precision (share of the
  citations given on answerable questions that contain the evidence or a gold answer);
- abstention: precision and recall on the unanswerable questions;
- latency p50 / p95 per question.

Retrieval, answer and citation figures are over the answerable questions. Everything but the
latencies is deterministic for a given index, gold set and settings. Answers are judged at
60 words (MAX_ANSWER_WORDS) whatever the assistant's own limit is set to.

Modules: `gold` (gold sets: reading, checking, SQuAD), `metrics` (scoring outcomes), `runner`
(asking each system, the reports) and `baseline` (the plain LlamaIndex pipeline compared
against). The runner needs only what `Answers` names of an Assistant: evaluation sits above
the package and nothing in qa imports it.
"""

from .gold import BUNDLED_GOLD, GoldQuestion, check_gold, load_gold, load_squad, normalize
from .metrics import MAX_ANSWER_WORDS, METRICS, Outcome, exact_match, is_correct, score, token_f1
from .runner import (
    BASELINE,
    RETRIEVE_K,
    SYSTEMS,
    Answers,
    EvalReport,
    SystemReport,
    evaluate,
    evaluate_gold,
    format_table,
    outcome_from_answer,
    run_assistant,
    tag_accuracy,
    write_report,
)
from .baseline import run_llamaindex_baseline

__all__ = [
    "BASELINE", "BUNDLED_GOLD", "MAX_ANSWER_WORDS", "METRICS", "RETRIEVE_K", "SYSTEMS", "Answers", "EvalReport",
    "GoldQuestion", "Outcome", "SystemReport", "check_gold", "evaluate", "evaluate_gold", "exact_match",
    "format_table", "is_correct", "load_gold", "load_squad", "normalize", "outcome_from_answer",
    "run_assistant", "run_llamaindex_baseline", "score", "tag_accuracy", "token_f1", "write_report",
]
