"""Abstention calibration on SQuAD: answer what the index holds, abstain on what it does not.

Every other article of a SQuAD v1.1 file is ingested (one document each). Questions on the
ingested articles keep their gold answers; questions on the articles left out become
unanswerable (`answers: []`). `qa.evaluation` then scores the run like any gold set, so
answer accuracy and abstention precision / recall come out side by side.

    python eval/abstention_check.py [--data ../shared/data/squad-dev-v1.1-subset.json] [--limit 500] [--mode hybrid]
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
from dataclasses import replace
from pathlib import Path

from qa import Assistant
from qa.evaluation import evaluate, load_squad


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default = Path(__file__).resolve().parents[2] / "shared/data/squad-dev-v1.1-subset.json"
    parser.add_argument("--data", type=Path, default=default)
    parser.add_argument("--limit", type=int, default=500, help="questions of each kind (seeded sample)")
    parser.add_argument("--seed", type=int, default=1, help="sample seed (1: not the tuning order of seed 0)")
    parser.add_argument("--mode", default="hybrid")
    args = parser.parse_args()

    documents, questions = load_squad(args.data)
    kept = {d.doc_id for d in documents[::2]}
    inside = [q for q in questions if q.doc_id in kept]
    outside = [replace(q, answers=[], evidence=[]) for q in questions if q.doc_id not in kept]
    rng = random.Random(args.seed)
    sample = rng.sample(inside, min(args.limit, len(inside))) + rng.sample(outside, min(args.limit, len(outside)))

    with tempfile.TemporaryDirectory() as tmp:
        assistant = Assistant(index_dir=Path(tmp) / "index", auto_ingest_corpus=False)
        assistant.add_documents(documents[::2])
        report = evaluate(assistant, sample, [args.mode], gold_name=f"{args.data.name} (half the articles indexed)")
    figures = report.systems[0].metrics
    keys = ("answer_accuracy", "citation_accuracy", "abstention_precision", "abstention_recall", "latency_p50_ms")
    print(
        json.dumps(
            {"questions": report.questions, "unanswerable": report.unanswerable, **{k: figures[k] for k in keys}}
        )
    )


if __name__ == "__main__":
    main()
