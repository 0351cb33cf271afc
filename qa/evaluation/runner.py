"""Asking each system the gold questions, and the reports of a run."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from ..config import MODES
from ..errors import InputError
from ..types import Answer, Document
from .baseline import run_llamaindex_baseline
from .gold import GoldQuestion, load_gold
from .metrics import MAX_ANSWER_WORDS, METRICS, Outcome, is_correct, score

if TYPE_CHECKING:
    from ..config import Settings
    from ..embeddings import Embedder

BASELINE = "llamaindex"  # plain VectorStoreIndex, default chunking, top-2 dense, text as answer
SYSTEMS = (*MODES, BASELINE)
RETRIEVE_K = 5  # chunks retrieved per question (hit@5 needs five)


class Answers(Protocol):
    """What evaluation uses of an Assistant: its public API, nothing else."""

    settings: Settings
    embedder: Embedder  # the baseline embeds with the same model

    def ask(self, question: str, top_k: int | None = None, mode: str | None = None) -> Answer: ...

    def documents(self) -> list[Document]: ...

    def warm_up(self) -> None: ...

    def document(self, doc_id: str) -> Document: ...


@dataclass
class SystemReport:
    """One system's figures and its outcomes, question by question."""

    system: str
    metrics: dict[str, float | None]
    outcomes: list[Outcome]
    failures: list[str]  # ids of the questions it got wrong


@dataclass
class EvalReport:
    """A whole run: the same questions through each system."""

    gold: str
    questions: int
    unanswerable: int
    documents: int
    systems: list[SystemReport]
    settings: dict[str, Any] = field(default_factory=dict)  # what shaped the run (model, chunking, k)

    def to_dict(self) -> dict[str, Any]:
        return {
            "gold": self.gold,
            "questions": self.questions,
            "unanswerable": self.unanswerable,
            "documents": self.documents,
            "settings": self.settings,
            "metrics": {r.system: r.metrics for r in self.systems},
            "systems": [asdict(r) for r in self.systems],
        }


def outcome_from_answer(question_id: str, answer: Answer) -> Outcome:
    return Outcome(
        question_id=question_id,
        answer=answer.text,
        abstained=answer.abstained,
        short_answer=answer.short_answer,
        citations=[c.text for c in answer.citations],
        retrieved=[p.text for p in answer.passages],
        latency_ms=answer.timings_ms.get("total", 0.0),
    )


def run_assistant(assistant: Answers, questions: list[GoldQuestion], mode: str) -> list[Outcome]:
    """Ask every question of one retrieval mode, retrieving at least RETRIEVE_K chunks."""
    top_k = max(RETRIEVE_K, assistant.settings.retrieval.top_k)
    return [outcome_from_answer(q.id, assistant.ask(q.question, top_k=top_k, mode=mode)) for q in questions]


def evaluate(
    assistant: Answers,
    questions: list[GoldQuestion],
    systems: Iterable[str] = ("hybrid",),
    gold_name: str = "",
    progress: Callable[[str], None] | None = None,
) -> EvalReport:
    """Run the same questions through each system (`hybrid`, `dense`, `bm25`, `llamaindex`).

    Raises:
        InputError: an unknown system name.
    """
    systems = list(systems)
    unknown = [s for s in systems if s not in SYSTEMS]
    if unknown:
        raise InputError(f"unknown system {unknown[0]!r}: choose from {', '.join(SYSTEMS)}")
    max_words = MAX_ANSWER_WORDS
    assistant.warm_up()  # model and lexical index loaded before the first timed question
    reports = []
    for system in systems:
        if progress:
            progress(system)
        if system == BASELINE:
            outcomes = run_llamaindex_baseline(assistant, questions)
        else:
            outcomes = run_assistant(assistant, questions, system)
        failures = [q.id for q, o in zip(questions, outcomes) if not is_correct(q, o, max_words)]
        reports.append(SystemReport(system, score(questions, outcomes, max_words), outcomes, failures))
    s = assistant.settings
    settings = {
        "embedding_model": s.index.embedding_model,
        "chunk_words": s.index.chunk_words,
        "chunk_overlap_sentences": s.index.chunk_overlap_sentences,
        "retrieved_k": max(RETRIEVE_K, s.retrieval.top_k),
        "candidates_per_retriever": s.retrieval.candidates_per_retriever,
        "min_support": s.answer.min_support,
        "answer_max_words": s.answer.max_words,
        "judged_at_words": MAX_ANSWER_WORDS,
    }
    return EvalReport(
        gold=gold_name,
        questions=len(questions),
        unanswerable=sum(not q.answerable for q in questions),
        documents=len(assistant.documents()),
        systems=reports,
        settings=settings,
    )


# -- reports -------------------------------------------------------------------------------------
def format_table(report: EvalReport) -> str:
    """The figures as a plain-text table, one column per system ("-": undefined, see score())."""
    names = [r.system for r in report.systems]
    width = max(len(m) for m in METRICS)
    lines = [
        f"{report.gold or 'gold set'}: {report.questions} questions ({report.unanswerable} unanswerable), "
        f"{report.documents} documents",
        f"{'':<{width}}  " + "  ".join(f"{n:>10}" for n in names),
    ]
    for metric in METRICS:
        values = [r.metrics[metric] for r in report.systems]
        cells = [
            f"{'-':>10}" if v is None else f"{v:>10.1f}" if metric.endswith("_ms") else f"{v:>10.3f}" for v in values
        ]
        lines.append(f"{metric:<{width}}  " + "  ".join(cells))
    return "\n".join(lines)


def tag_accuracy(report: EvalReport, questions: list[GoldQuestion]) -> dict[str, tuple[int, dict[str, float]]]:
    """For each tag of the gold set: how many questions carry it, and each system's share of
    them it got right (see `is_correct`), tags in alphabetical order."""
    tags = sorted({t for q in questions for t in q.tags})
    out: dict[str, tuple[int, dict[str, float]]] = {}
    for tag in tags:
        ids = {q.id for q in questions if tag in q.tags}
        out[tag] = (
            len(ids),
            {r.system: sum(o.question_id in ids and o.question_id not in r.failures for o in r.outcomes) / len(ids)
             for r in report.systems},
        )
    return out


def write_report(report: EvalReport, questions: list[GoldQuestion], folder: str | Path) -> tuple[Path, Path]:
    """Write report.json (everything) and report.md (the table, then each failed question with
    the answer given, so a person can see why)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    json_path, md_path = folder / "report.json", folder / "report.md"
    json_path.write_text(json.dumps(report.to_dict(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    by_id = {q.id: q for q in questions}
    out = ["# Evaluation report", "", "```", format_table(report), "```", ""]
    by_tag = tag_accuracy(report, questions)
    if by_tag:
        names = [r.system for r in report.systems]
        out += ["## Correct answers by tag", "", "| tag | questions | " + " | ".join(names) + " |",
                "|---|---|" + "---|" * len(names)]
        for tag, (count, shares) in by_tag.items():
            out.append(f"| {tag} | {count} | " + " | ".join(f"{shares[n]:.2f}" for n in names) + " |")
        out.append("")
    for system in report.systems:
        outcomes = {o.question_id: o for o in system.outcomes}
        out += [f"## {system.system}: {len(system.failures)} failed of {report.questions}", ""]
        for qid in system.failures:
            q, o = by_id[qid], outcomes[qid]
            expected = " | ".join(q.answers) if q.answerable else "(unanswerable: should abstain)"
            given = "(abstained)" if o.abstained else " ".join(o.answer.split())
            if len(given.split()) > 80:
                given = " ".join(given.split()[:80]) + " …"
            out += [
                f"- **{qid}**: {q.question}",
                f"  - expected: {expected}",
                f"  - evidence: {' | '.join(q.evidence) or '-'}",
                f"  - given ({len(o.answer.split())} words): {given}",
                f"  - short answer: {o.short_answer or '-'}",
            ]
        out.append("")
    md_path.write_text("\n".join(out), encoding="utf-8")
    return json_path, md_path


def evaluate_gold(
    assistant: Answers, gold: str | Path | list[GoldQuestion], systems: Iterable[str] = ("hybrid",)
) -> EvalReport:
    """Run a gold question set against an assistant's index and score it.

    Args:
        gold: a gold-set file (JSON Lines) or the questions themselves.
        systems: retrieval modes ("hybrid", "dense", "bm25") and/or "llamaindex", the plain
            LlamaIndex baseline.

    Raises:
        InputError: an unreadable gold set or an unknown system.
    """
    questions = gold if isinstance(gold, list) else load_gold(gold)
    name = "" if isinstance(gold, list) else Path(gold).name
    return evaluate(assistant, questions, systems, gold_name=name)
