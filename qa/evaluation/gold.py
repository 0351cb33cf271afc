"""Gold question sets: reading and checking them, and turning SQuAD into one."""

from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass, field
from pathlib import Path

from ..config import BUNDLED_CORPUS_DIR
from ..errors import InputError
from ..types import Document

#: The gold set shipped with the project (present in a source checkout).
BUNDLED_GOLD = BUNDLED_CORPUS_DIR.parent / "eval" / "gold.jsonl"


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
            if not any(contains(e, a) for e in q.evidence):
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
    from ..chunking import split_sentences
    from ..documents import make_document

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
                        if contains(around, a["text"]):
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


def contains(text: str, piece: str) -> bool:
    """Whether `piece` occurs in `text` as whole words (case and punctuation ignored)."""
    piece = normalize(piece)
    return bool(piece) and f" {piece} " in f" {normalize(text)} "
