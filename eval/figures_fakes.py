"""Figures side by side on FA-KES: how-many questions about events several outlets covered.

    python eval/figures_fakes.py [--index DIR] [../shared/data/fa-kes.csv]

Without --index it ingests FA-KES into a temporary index first (about three minutes). For each
question in eval/figures_questions.txt it prints the answer and its figures, and checks what a
program can: every figure's citation is an exact slice of its report and holds the figure as
written, no two figures come from one report or one story. Whether each figure is about the
asked event is for a person to read (docs/claims.md says what was read).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from qa import Assistant  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("csv", nargs="?", default=str(HERE.parent.parent / "shared" / "data" / "fa-kes.csv"))
    parser.add_argument("--index", help="an index already holding FA-KES")
    parser.add_argument("--questions", default=str(HERE / "figures_questions.txt"))
    args = parser.parse_args()
    work = tempfile.TemporaryDirectory() if not args.index else None
    index = args.index or work.name
    assistant = Assistant(index_dir=index, auto_ingest_corpus=False)
    if work is not None:
        print(assistant.ingest([args.csv]).summary())
    groups = assistant.groups()
    problems = answered = 0
    questions = [q.strip() for q in Path(args.questions).read_text(encoding="utf-8").splitlines() if q.strip() and not q.startswith("#")]
    for question in questions:
        answer = assistant.ask(question)
        print(f"\n=== {question}\n{answer.text}")
        if answer.figures:
            answered += 1
        seen_docs, seen_groups = set(), set()
        for figure, citation in zip(answer.figures, answer.citations):
            claim = figure.claim
            text = assistant.document(claim.doc_id).text
            checks = {
                "exact slice": text[citation.start : citation.end] == citation.text,
                "holds the figure": text[claim.figure_start : claim.figure_end] == claim.figure
                and citation.start <= claim.figure_start < citation.end,
                "one per report": claim.doc_id not in seen_docs,
                "one per story": groups.of(claim.doc_id) not in seen_groups,
            }
            seen_docs.add(claim.doc_id)
            seen_groups.add(groups.of(claim.doc_id))
            failed = [name for name, ok in checks.items() if not ok]
            problems += bool(failed)
            print(f"  [{figure.n}] {claim.describe()} | {claim.place} | {claim.event_date or '-'} | {figure.source}, {figure.date}"
                  f"{'  FAILED: ' + ', '.join(failed) if failed else ''}")
            print(f"      {' '.join(citation.text.split())[:220]}")
    print(f"\n{len(questions)} questions, {answered} answered with figures side by side, {problems} figures failing a check")
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
