"""Check the answerer's fitted weights by coordinate search around the shipped values on SQuAD.

Each of the weights `qa/answer_weights.py` marks "grid" is moved alone over a small grid around its
shipped value (the others kept as shipped), and the accuracy each value reaches is printed, with
the best value found. The questions are the tuning split: questions 1000-1999 of the seed-0
shuffle that `eval/squad_check.py` uses; questions 2000-2999 are held out and refused here.
Accuracy is `eval/squad_check.py`'s: not abstained, at most 60 words, a gold answer inside.

Retrieval runs once per question through `Assistant.ask`; its inputs to the answerer are recorded
and the answer is replayed with each weight setting, after checking that the replay with the
shipped weights gives exactly the answers `ask` gave.

    python eval/fit_weights.py [--data ../shared/data/squad-dev-v1.1-subset.json] [--offset 1000]
        [--limit 1000] [--index DIR] [--steps 0.5,0.75,1.25,1.5] [--json]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import random
import sys
import tempfile
import time
from pathlib import Path

from squad_check import normalise

from qa import Assistant
from qa.answer_weights import WEIGHTS
from qa.answering import ExtractiveAnswerer

# The weights this script searches: those qa/answer_weights.py marks "grid". The others are bounds,
# look-backs and thresholds set by hand (see that file for why each is not fitted here).
FITTED = ("dense", "lexical", "typed", "rank", "neighbour", "missing", "second_margin")
HELD_OUT = range(2000, 3000)


def load_questions(data: Path, folder: Path, offset: int, limit: int, seed: int) -> list[tuple[str, list[str]]]:
    """Write each article as one document into `folder`; the questions of the seeded shuffle asked."""
    questions = []
    for i, article in enumerate(json.loads(data.read_text())["data"]):
        body = "\n\n".join(p["context"] for p in article["paragraphs"])
        title = article["title"].replace("_", " ")
        (folder / f"{i:03d}.md").write_text(f"---\ntitle: {json.dumps(title)}\noutlet: Wikipedia\n---\n{body}\n")
        questions += [(q["question"], [a["text"] for a in q["answers"]]) 
                      for p in article["paragraphs"] for q in p["qas"]]
    random.Random(seed).shuffle(questions)
    return questions[offset : offset + limit]


def correct(answer, golds: list[str]) -> bool:
    if answer.abstained or len(answer.text.split()) > 60:
        return False
    return any(normalise(g) in normalise(answer.text) for g in golds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default_data = Path(__file__).resolve().parents[2] / "shared/data/squad-dev-v1.1-subset.json"
    parser.add_argument("--data", type=Path, default=default_data)
    parser.add_argument("--offset", type=int, default=1000)
    parser.add_argument("--limit", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--index", type=Path, help="index folder to keep and reuse (default: a temporary one)")
    parser.add_argument("--steps", default="0.5,0.75,1.25,1.5", help="multiples of each shipped value tried")
    parser.add_argument("--json", action="store_true", help="one JSON object instead of the table")
    args = parser.parse_args()
    if args.seed == 0 and set(range(args.offset, args.offset + args.limit)) & set(HELD_OUT):
        parser.error("questions 2000-2999 of the seed-0 shuffle are held out: fit on others (tuning split: 1000-1999)")
    steps = sorted({1.0, *(float(s) for s in args.steps.split(","))})

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "articles"
        folder.mkdir()
        questions = load_questions(args.data, folder, args.offset, args.limit, args.seed)
        assistant = Assistant(index_dir=args.index or Path(tmp) / "index", auto_ingest_corpus=False)
        if not assistant.documents():
            assistant.ingest([folder])

        # Record what the answerer is given for each question, through the real `ask`.
        answerer = assistant.answerer
        shipped_answer, recorded = answerer.answer, []

        def recording(*call, **keywords):
            recorded.append((call, keywords))
            return shipped_answer(*call, **keywords)

        answerer.answer = recording
        asked = [assistant.ask(question).text for question, _ in questions]
        del answerer.answer

    def run(weights) -> tuple[float, list[str]]:
        replay = ExtractiveAnswerer(answerer.max_words, answerer.max_sentences, answerer.min_support, weights)
        answers = [replay.answer(*call, **keywords) for call, keywords in recorded]
        right = sum(correct(a, golds) for a, (_, golds) in zip(answers, questions))
        return right / len(questions), [a.text for a in answers]

    started = time.perf_counter()
    shipped, texts = run(WEIGHTS)
    if texts != asked:
        sys.exit("the replay with the shipped weights does not give the answers ask() gave: nothing to fit on")
    results = {}
    for name in FITTED:
        value = getattr(WEIGHTS, name)
        tried = {
            round(value * step, 4): (
                shipped if step == 1.0 else run(dataclasses.replace(WEIGHTS, **{name: value * step}))[0]
            )
            for step in steps
        }
        best = max(tried, key=lambda v: (tried[v], v == value))  # a tie keeps the shipped value
        results[name] = {"shipped": value, "tried": tried, "best": best, "gain": round(tried[best] - shipped, 4)}
    summary = {
        "questions": len(questions),
        "offset": args.offset,
        "seed": args.seed,
        "shipped_accuracy": round(shipped, 4),
        "search_s": round(time.perf_counter() - started, 1),
        "weights": results,
    }
    if args.json:
        print(json.dumps(summary))
        return
    print(f"{len(questions)} questions ({args.offset}-{args.offset + len(questions) - 1}, seed {args.seed}); "
          f"shipped weights: accuracy {shipped:.4f}; replay matches ask() for every question")
    for name, r in results.items():
        cells = "  ".join(f"{v:g}:{acc:.4f}" for v, acc in r["tried"].items())
        print(f"{name:14} shipped {r['shipped']:<6g} best {r['best']:<6g} ({r['gain']:+.4f})   {cells}")


if __name__ == "__main__":
    main()
