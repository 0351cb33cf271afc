"""How well answers generalise: SQuAD v1.1 articles as documents, their questions asked.

Each article becomes one document (paragraphs separated by blank lines), all in one index.
A question counts as correct when the answer is not an abstention, has at most 60 words and
contains a gold answer (case and punctuation ignored). The baseline is the single sentence
most similar to the question (MiniLM) across the whole index.

    python eval/squad_check.py [--data ../shared/data/squad-dev-v1.1-subset.json] [--limit 2000] [--offset 0]
"""

from __future__ import annotations

import argparse
import json
import random
import re
import statistics
import tempfile
import time
from pathlib import Path

from qa import Assistant


def normalise(text: str) -> str:
    return " ".join(re.sub(r"[^\w\s]", " ", text.lower()).split())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared/data/squad-dev-v1.1-subset.json")
    parser.add_argument("--limit", type=int, default=2000, help="questions asked (a seeded shuffle of all)")
    parser.add_argument("--offset", type=int, default=0, help="skip this many of the shuffled questions first")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    data = json.loads(args.data.read_text())["data"]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "articles"
        folder.mkdir()
        questions = []
        for i, article in enumerate(data):
            body = "\n\n".join(p["context"] for p in article["paragraphs"])
            title = article["title"].replace("_", " ")
            (folder / f"{i:03d}.md").write_text(f"---\ntitle: {json.dumps(title)}\noutlet: Wikipedia\n---\n{body}\n")
            questions += [(q["question"], [a["text"] for a in q["answers"]]) for p in article["paragraphs"] for q in p["qas"]]
        random.Random(args.seed).shuffle(questions)
        questions = questions[args.offset : args.offset + args.limit]

        assistant = Assistant(index_dir=Path(tmp) / "index", auto_ingest_corpus=False)
        started = time.perf_counter()
        report = assistant.ingest([folder])
        ingest_s = time.perf_counter() - started

        correct = abstained = first_citation = 0
        words, latencies = [], []
        for question, golds in questions:
            answer = assistant.ask(question)
            latencies.append(answer.timings_ms["total"])
            if answer.abstained:
                abstained += 1
                continue
            words.append(len(answer.text.split()))
            golds = [normalise(g) for g in golds]
            correct += len(answer.text.split()) <= 60 and any(g in normalise(answer.text) for g in golds)
            first_citation += any(g in normalise(answer.citations[0].text) for g in golds)

        # Baseline: the one sentence nearest the question, over every sentence in the index.
        from qa.chunking import split_sentences  # internals, for the baseline only

        texts = {d.doc_id: assistant.document(d.doc_id).text for d in assistant.documents()}
        spans = {doc_id: split_sentences(text) for doc_id, text in texts.items()}
        sentences = assistant.store.collection("sentences")
        baseline = 0
        for question, golds in questions:
            found = sentences.query(query_embeddings=assistant.embedder.encode_queries([question]), n_results=1)["ids"][0][0]
            doc_id, index = found.rsplit(":s", 1)
            span = spans[doc_id][int(index)]
            baseline += any(normalise(g) in normalise(texts[doc_id][span.start : span.end]) for g in golds)

    n = len(questions)
    result = {
        "articles": len(report.added),
        "questions": n,
        "accuracy": round(correct / n, 3),
        "first_citation_has_gold": round(first_citation / n, 3),
        "abstained": round(abstained / n, 3),
        "mean_answer_words": round(statistics.mean(words), 1) if words else 0,
        "baseline_top1_sentence_accuracy": round(baseline / n, 3),
        "ask_p50_ms": round(statistics.median(latencies), 1),
        "ingest_s": round(ingest_s, 1),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
