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
"""

from __future__ import annotations

import json
import random
import re
import string
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .config import BUNDLED_CORPUS_DIR
from .errors import InputError
from .types import Answer, Document

if TYPE_CHECKING:
    from .assistant import Assistant

#: The gold set shipped with the project (present in a source checkout).
BUNDLED_GOLD = BUNDLED_CORPUS_DIR.parent / "eval" / "gold.jsonl"
BASELINE = "llamaindex"  # plain VectorStoreIndex, default chunking, top-2 dense, text as answer
SYSTEMS = ("hybrid", "dense", "bm25", BASELINE)
RETRIEVE_K = 5  # chunks retrieved per question (hit@5 needs five)
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
class GoldQuestion:
    """One question of a gold set. No `answers` means the reports don't say."""

    id: str
    question: str
    answers: list[str]
    evidence: list[str] = field(default_factory=list)  # alternatives: any one supports the answer
    doc_id: str = ""
    title: str = ""
    # What the question tests ("relative-day", "spelling", "near-miss", "caption", ...): report.md
    # gives the accuracy of each tag, so a class of failure shows as one line.
    tags: list[str] = field(default_factory=list)

    @property
    def answerable(self) -> bool:
        return bool(self.answers)


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


# -- gold sets ---------------------------------------------------------------------------------
def load_gold(path: str | Path) -> list[GoldQuestion]:
    """Read a gold set: JSON Lines, one question per line.

    Raises:
        InputError: the file is missing or a line is not a valid gold question (named by number).
    """
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise InputError(f"{path}: cannot read the gold set: {exc.strerror or exc}") from exc
    questions: list[GoldQuestion] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            answers = row.get("answers", [])
            if not isinstance(answers, list) or not all(isinstance(a, str) and a.strip() for a in answers):
                raise ValueError("'answers' must be a list of non-empty strings")
            evidence = row.get("evidence") or []
            evidence = [evidence] if isinstance(evidence, str) else evidence
            if not isinstance(evidence, list) or not all(isinstance(e, str) and e.strip() for e in evidence):
                raise ValueError("'evidence' must be a string or a list of non-empty strings")
            tags = row.get("tags", [])
            if not isinstance(tags, list) or not all(isinstance(t, str) and t.strip() for t in tags):
                raise ValueError("'tags' must be a list of non-empty strings")
            question = GoldQuestion(
                id=str(row["id"]),
                question=str(row["question"]),
                answers=answers,
                evidence=evidence,
                doc_id=str(row.get("doc_id", "")),
                title=str(row.get("title", "")),
                tags=tags,
            )
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise InputError(f"{path}, line {number}: not a gold question: {exc}") from exc
        if question.answerable and not question.evidence:
            raise InputError(f"{path}, line {number}: question {question.id!r} has answers but no evidence")
        questions.append(question)
    if not questions:
        raise InputError(f"{path}: no questions in the gold set")
    return questions


def check_gold(questions: list[GoldQuestion], documents: list[Document]) -> list[str]:
    """Problems that make a gold set unfair; empty when every question is consistent.

    Checks: ids are unique, each evidence is an exact substring of its report (named by
    doc_id or title, else any report), and each answer appears in some evidence.
    """
    problems: list[str] = []
    seen: set[str] = set()
    by_id = {d.doc_id: d for d in documents}
    by_title = {d.title: d for d in documents}
    for q in questions:
        if q.id in seen:
            problems.append(f"{q.id}: id used twice")
        seen.add(q.id)
        if q.doc_id and q.doc_id not in by_id or q.title and q.title not in by_title:
            problems.append(f"{q.id}: no report {q.doc_id or q.title!r}")
            continue
        if not q.answerable:
            continue
        named = by_id.get(q.doc_id) or by_title.get(q.title)
        texts = [named.text] if named else [d.text for d in documents]
        for evidence in q.evidence:
            if not any(evidence in text for text in texts):
                problems.append(f"{q.id}: evidence is not in the report: {evidence!r}")
        for a in q.answers:
            if not any(_contains(e, a) for e in q.evidence):
                problems.append(f"{q.id}: answer {a!r} is not in its evidence")
    return problems


def load_squad(path: str | Path, limit: int | None = None, seed: int = 0) -> tuple[list[Document], list[GoldQuestion]]:
    """A SQuAD v1.1 file as documents (one per article) and gold questions.

    Evidence is the sentence(s) holding each distinct gold answer span; a span that is only
    part of a word in its text (a few annotations cut "8" out of "28") is dropped, and a
    question left with none is skipped. `limit` takes
    a deterministic sample (a shuffle seeded with `seed`); every article is still a document.

    Raises:
        InputError: the file is missing or not in SQuAD format.
    """
    from .chunking import split_sentences
    from .documents import make_document

    path = Path(path)
    try:
        articles = json.loads(path.read_text(encoding="utf-8"))["data"]
        documents: list[Document] = []
        questions: list[GoldQuestion] = []
        for article in articles:
            title = str(article["title"]).replace("_", " ")
            contexts = [p["context"] for p in article["paragraphs"]]
            doc = make_document("\n\n".join(contexts), {"title": title, "outlet": "SQuAD"}, path=f"squad:{title}")
            documents.append(doc)
            for paragraph in article["paragraphs"]:
                context = paragraph["context"]
                sentences = split_sentences(context)
                for qa in paragraph["qas"]:
                    golds = [a for a in qa["answers"] if a["text"].strip()]
                    if not golds:
                        continue
                    answers, evidence = [], []  # each annotator's span and the sentence(s) around it
                    for a in golds:
                        start = int(a["answer_start"])
                        end = start + len(a["text"])
                        spans = [s for s in sentences if s.end > start and s.start < end] or sentences
                        around = context[spans[0].start : spans[-1].end]
                        # A span cut out of a word ("8" of "28") can never match as words: dropped.
                        if _contains(around, a["text"]):
                            answers.append(a["text"])
                            evidence.append(around)
                    if answers:
                        questions.append(
                            GoldQuestion(
                                id=str(qa["id"]),
                                question=qa["question"],
                                answers=list(dict.fromkeys(answers)),
                                evidence=list(dict.fromkeys(evidence)),
                                doc_id=doc.doc_id,
                            )
                        )
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InputError(f"{path}: not a readable SQuAD v1.1 file: {exc}") from exc
    if limit is not None:
        random.Random(seed).shuffle(questions)
        questions = questions[:limit]
    return documents, questions


# -- scoring -------------------------------------------------------------------------------------
def normalize(text: str) -> str:
    """Lower case, no punctuation, single spaces: for "is this answer inside that text"."""
    return " ".join(re.sub(r"[^\w\s]", " ", text.lower()).split())


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


def _contains(text: str, piece: str) -> bool:
    """Whether `piece` occurs in `text` as whole words (case and punctuation ignored)."""
    piece = normalize(piece)
    return bool(piece) and f" {piece} " in f" {normalize(text)} "


def _has_evidence(text: str, question: GoldQuestion) -> bool:
    return any(_contains(text, e) for e in question.evidence)


def is_correct(question: GoldQuestion, outcome: Outcome, max_words: int = MAX_ANSWER_WORDS) -> bool:
    """Answerable: a short enough answer with a gold answer inside. Unanswerable: abstained."""
    if not question.answerable:
        return outcome.abstained
    return (
        not outcome.abstained
        and len(outcome.answer.split()) <= max_words
        and any(_contains(outcome.answer, a) for a in question.answers)
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
            (not o.abstained and any(_contains(o.answer, a) for a in q.answers) for q, o in answerable), n
        ),
        "exact_match": share((exact_match(o.short_answer, q.answers) for q, o in shorts), len(shorts)),
        "f1": share((token_f1(o.short_answer, q.answers) for q, o in shorts), len(shorts)),
        "citation_accuracy": share((any(_has_evidence(c, q) for c in o.citations) for q, o in answerable), n),
        "citation_precision": share(
            (_has_evidence(c, q) or any(_contains(c, a) for a in q.answers) for q, c in cited), len(cited)
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


def run_assistant(assistant: Assistant, questions: list[GoldQuestion], mode: str) -> list[Outcome]:
    """Ask every question of one retrieval mode, retrieving at least RETRIEVE_K chunks."""
    top_k = max(RETRIEVE_K, assistant.settings.top_k)
    return [outcome_from_answer(q.id, assistant.ask(q.question, top_k=top_k, mode=mode)) for q in questions]


def run_llamaindex_baseline(assistant: Assistant, questions: list[GoldQuestion]) -> list[Outcome]:
    """The plain LlamaIndex pipeline: the same documents and embedding model, LlamaIndex's
    default chunking (SentenceSplitter, 1024 tokens), an in-memory VectorStoreIndex and top-2
    dense retrieval. Its answer and citations are the retrieved text; it never abstains."""
    from llama_index.core import Document as LlamaDocument
    from llama_index.core import VectorStoreIndex

    from .retrieval import LlamaEmbedding

    documents = [assistant.document(d.doc_id) for d in assistant.documents()]
    index = VectorStoreIndex.from_documents(
        [LlamaDocument(text=d.text, id_=d.doc_id) for d in documents],
        embed_model=LlamaEmbedding(assistant.embedder),
    )
    retriever = index.as_retriever(similarity_top_k=2)
    outcomes = []
    for q in questions:
        started = time.perf_counter()
        texts = [n.node.get_content() for n in retriever.retrieve(q.question)]
        latency = (time.perf_counter() - started) * 1000
        outcomes.append(Outcome(q.id, "\n\n".join(texts), False, "", texts, texts, round(latency, 2)))
    return outcomes


def evaluate(
    assistant: Assistant,
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
        "embedding_model": s.embedding_model,
        "chunk_words": s.chunk_words,
        "chunk_overlap_sentences": s.chunk_overlap_sentences,
        "retrieved_k": max(RETRIEVE_K, s.top_k),
        "candidates_per_retriever": s.candidates_per_retriever,
        "min_support": s.min_support,
        "answer_max_words": s.answer_max_words,
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
