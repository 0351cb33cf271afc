"""Warm `ask` latency as a ratio to its floor, measured side by side in one process.

The floor is what no answer can skip: embedding the question plus one Chroma query for the
top-k chunks. Each question is timed both ways in turn, so machine noise hits both alike.

    python bench/latency.py [--squad ../shared/data/squad-dev-v1.1-subset.json] [--questions 200]

Prints a table, then one JSON line with the medians and their ratio.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

from qa import Assistant
from qa.documents import make_document

QUESTIONS = [
    "How many civilians were killed in the airstrikes?",
    "Which town was hit by the overnight strikes?",
    "Who agreed to step up efforts to establish a safe zone?",
    "When did the jihadist offensive in Hama begin?",
    "How many troops and militia were killed?",
    "What did Doctors Without Borders say?",
    "How far is Armanaz from the provincial capital?",
    "How many people died in the earthquake in Turkey?",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default_squad = Path(__file__).resolve().parents[2] / "shared" / "data" / "squad-dev-v1.1-subset.json"
    parser.add_argument("--squad", type=Path, default=default_squad, help="also ingest these SQuAD articles (if present)")
    parser.add_argument("--questions", type=int, default=200, help="timed questions per run")
    parser.add_argument("--top-k", type=int, default=5)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as index:
        assistant = Assistant(index_dir=index)
        assistant.warm_up()  # ingests the bundled corpus into the empty index
        questions = list(QUESTIONS)
        if args.squad.is_file():
            data = json.loads(args.squad.read_text())["data"]
            for article in data:
                text = "\n\n".join(p["context"] for p in article["paragraphs"])
                assistant.add_document(make_document(text, {"title": article["title"]}, path=article["title"]))
            questions += [q["question"] for a in data for p in a["paragraphs"] for q in p["qas"]][:: 37]
        assistant.warm_up()
        questions = (questions * (args.questions // len(questions) + 1))[: args.questions]
        chunks = assistant.store.chunks
        embed = assistant.embedder.encode

        for q in questions[:10]:  # warm caches of both paths
            assistant.ask(q, top_k=args.top_k)
            chunks.query(query_embeddings=embed([q]), n_results=args.top_k)
        asks, floors = [], []
        for q in questions:
            t = time.perf_counter()
            chunks.query(query_embeddings=embed([q]), n_results=args.top_k)
            floors.append(time.perf_counter() - t)
            t = time.perf_counter()
            assistant.ask(q, top_k=args.top_k)
            asks.append(time.perf_counter() - t)
        ask_ms, floor_ms = statistics.median(asks) * 1000, statistics.median(floors) * 1000
        result = {
            "chunks": assistant.store.count_chunks(),
            "documents": assistant.store.count_documents(),
            "questions": len(questions),
            "ask_p50_ms": round(ask_ms, 2),
            "floor_p50_ms": round(floor_ms, 2),
            "query_p50_vs_floor": round(ask_ms / floor_ms, 3),
        }
        print(f"{result['documents']} documents, {result['chunks']} chunks, {len(questions)} questions", file=sys.stderr)
        print(f"warm ask p50 {ask_ms:.1f} ms; floor (embed + one Chroma query) p50 {floor_ms:.1f} ms", file=sys.stderr)
        print(json.dumps(result))


if __name__ == "__main__":
    main()
