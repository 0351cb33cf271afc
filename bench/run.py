"""Benchmarks of ingest, questions and start-up, each a ratio to a reference measured in the same run.

    python bench/run.py --quick     # under two minutes: the ratios below, on a smaller sample
    python bench/run.py             # also latency at ~1k, 10k and 100k chunks, peak memory and
                                    # index size; writes bench/RESULTS.md (make bench)

The last line printed is one JSON object; its ratios:
- ingest_vs_raw: chunks/s through Assistant.ingest / chunks/s of a bare SentenceTransformer.encode
  of the same chunk texts (the encoder alone, no reading, chunking or storing);
- query_p50_vs_floor: warm ask median / median of (embed the question + one Chroma query), the
  two timed alternately;
- query_p50_growth: warm ask median at the largest index / at the bundled report alone;
- cold_ask_vs_imports: wall time of a fresh `qa ask` process / of a process that only imports
  torch and sentence_transformers (medians of alternating runs).
It also compares the ONNX Runtime backend (QA_EMBEDDING_BACKEND=onnx) with torch in the same run:
ingest_onnx_vs_torch (the same Assistant.ingest, chunks/s, against the mean of a torch ingest
before it and one right after), encode_onnx_vs_torch (the bare encoders on the same chunk texts,
1,000 or 100 with --quick, medians of three alternating runs) and onnx_same_top5 (share of
questions, 200 or 50, whose top five passages through `ask` are the same, in the same order).

Data: ../shared/data (FA-KES reports and the SQuAD subset) beside the checkout; the product
itself never needs them.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from qa import Assistant
from qa.chunking import chunk_sentences, split_sentences
from qa.config import BUNDLED_CORPUS_DIR
from qa.documents import make_document

REPO = Path(__file__).resolve().parent.parent
DATA = REPO.parent / "shared" / "data"
FAKES = DATA / "fa-kes.csv"
SQUAD = DATA / "squad-dev-v1.1-subset.json"
QUESTIONS = [
    "How many civilians were killed in Maarat al Numan on Wednesday?",
    "Which monitor reported the deaths in Maarat al Numan?",
    "How many people have been displaced since the offensive began?",
    "Which countries agreed in 2017 to make Idlib a de-escalation zone?",
    "How many people were killed in the bomb attack in Aleppo?",
    "What did the Syrian Observatory for Human Rights report?",
    "Which town was hit by Russian airstrikes?",
    "When did the chemical attack in Khan Sheikhoun happen?",
]


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def fakes_rows(limit: int | None) -> list[list[str]]:
    rows = list(csv.reader(io.StringIO(FAKES.read_text(encoding="utf-8"), newline="")))
    return rows[: (limit + 1) if limit else None]


def write_csv(rows: list[list[str]], path: Path) -> Path:
    with path.open("w", newline="", encoding="utf-8") as out:
        csv.writer(out).writerows(rows)
    return path


def squad_documents_and_questions() -> tuple[list[Any], list[str]]:
    data = json.loads(SQUAD.read_text())["data"]
    documents = [
        make_document("\n\n".join(p["context"] for p in a["paragraphs"]), {"title": a["title"]}, path=f"squad:{a['title']}")
        for a in data
    ]
    questions = [q["question"] for a in data for p in a["paragraphs"] for q in p["qas"]]
    return documents, questions


def chunk_texts(assistant: Assistant, csv_path: Path) -> list[str]:
    """The chunk texts an ingest of the file produces (what the raw encoder is given)."""
    from qa.documents import iter_documents
    from qa.types import Document

    s = assistant.settings
    texts = []
    seen: set[str] = set()  # a row repeating an earlier one is stored once
    for _, _, doc in iter_documents([csv_path], s.limits.read_limits(), None):
        if isinstance(doc, Document) and doc.doc_id not in seen:
            seen.add(doc.doc_id)
            sentences = split_sentences(doc.text)
            texts += [c.text for c in chunk_sentences(doc.text, doc.doc_id, sentences, s.index.chunk_words, s.index.chunk_overlap_sentences)]
    return texts


def measure_ingest(assistant_for: Any, raw_model: Any, batch_size: int, csv_path: Path, work: Path) -> dict[str, Any]:
    """Ingest the file into a fresh index between two timings of the bare encoder on its chunk texts."""
    texts = chunk_texts(assistant_for(work / "probe"), csv_path)

    def raw() -> float:
        started = time.perf_counter()
        raw_model.encode(texts, batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True)
        return time.perf_counter() - started

    raw_first = raw()
    assistant = assistant_for(work / "ingest")
    started = time.perf_counter()
    report = assistant.ingest([csv_path])
    ingest_s = time.perf_counter() - started
    raw_s = statistics.mean([raw_first, raw()])
    if report.failed or report.chunks != len(texts):
        raise SystemExit(f"ingest went wrong: {report.summary()} (expected {len(texts)} chunks)")
    return {
        "reports": len(report.added),
        "chunks": report.chunks,
        "ingest_s": round(ingest_s, 2),
        "ingest_chunks_per_s": round(report.chunks / ingest_s, 1),
        "raw_chunks_per_s": round(len(texts) / raw_s, 1),
        "ingest_vs_raw": round(raw_s / ingest_s, 3),
        "assistant": assistant,
    }


def measure_queries(assistant: Assistant, questions: list[str], count: int, top_k: int = 5) -> dict[str, float]:
    """Warm ask and its floor (embed + one Chroma query), timed alternately question by question."""
    assistant.warm_up()
    questions = (questions * (count // len(questions) + 1))[:count]
    chunks = assistant.store.chunks
    embed = assistant.embedder.encode
    for q in questions[:10]:  # warm both paths
        assistant.ask(q, top_k=top_k)
        chunks.query(query_embeddings=embed([q]), n_results=top_k)
    asks, floors = [], []
    for q in questions:
        started = time.perf_counter()
        chunks.query(query_embeddings=embed([q]), n_results=top_k)
        floors.append(time.perf_counter() - started)
        started = time.perf_counter()
        assistant.ask(q, top_k=top_k)
        asks.append(time.perf_counter() - started)
    ask_ms, floor_ms = statistics.median(asks) * 1000, statistics.median(floors) * 1000
    return {
        "chunks": assistant.store.count_chunks(),
        "ask_p50_ms": round(ask_ms, 2),
        "ask_p95_ms": round(statistics.quantiles(asks, n=20)[-1] * 1000, 2),
        "floor_p50_ms": round(floor_ms, 2),
        "ask_vs_floor": round(ask_ms / floor_ms, 3),
    }


def measure_cold_start(index: Path, runs: int) -> dict[str, float]:
    """Fresh `qa ask` processes against fresh processes that only import torch and sentence_transformers."""
    env = {**os.environ, "QA_INDEX_DIR": str(index)}
    ask = [sys.executable, "-m", "qa.cli", "ask", QUESTIONS[0]]
    imports = [sys.executable, "-c", "import torch, sentence_transformers"]
    timed: dict[str, list[float]] = {"ask": [], "imports": []}
    for _ in range(runs):
        for name, command in (("imports", imports), ("ask", ask)):
            started = time.perf_counter()
            done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)
            timed[name].append(time.perf_counter() - started)
            if done.returncode != 0:
                raise SystemExit(f"{' '.join(command)} failed: {done.stderr.strip()[-500:]}")
    ask_s, imports_s = statistics.median(timed["ask"]), statistics.median(timed["imports"])
    return {"cold_ask_s": round(ask_s, 2), "imports_s": round(imports_s, 2), "cold_ask_vs_imports": round(ask_s / imports_s, 3)}


def measure_onnx(
    torch_assistant: Assistant,
    assistant_for: Any,
    csv_path: Path,
    torch_ingest_s: float,
    questions: list[str],
    work: Path,
    encode_texts: int,
) -> dict[str, Any]:
    """The ONNX Runtime backend against torch in this run: the same ingest through Assistant.ingest
    (against the mean of torch's earlier ingest and a second one right after), the bare encoders on
    the same chunk texts, and whether both backends give the same top five passages for the same
    questions (on torch's index, and each on its own index)."""
    from qa.embeddings import Embedder

    started = time.perf_counter()
    onnx = Embedder.from_settings(torch_assistant.settings.index.model_copy(update={"embedding_backend": "onnx"}))
    onnx.warm_up()  # exports the model on first use (kept in ~/.cache/qa/onnx)
    load_s = time.perf_counter() - started
    assistant = assistant_for(work / "ingest-onnx", onnx)
    started = time.perf_counter()
    report = assistant.ingest([csv_path])
    onnx_ingest_s = time.perf_counter() - started
    started = time.perf_counter()
    assistant_for(work / "ingest-torch-again").ingest([csv_path])
    torch_ingest_s = statistics.mean([torch_ingest_s, time.perf_counter() - started])
    assistant.ingest([BUNDLED_CORPUS_DIR])  # the same documents as the torch index
    texts = torch_assistant.store.all_chunks()[1][:encode_texts]
    timings: dict[str, list[float]] = {"torch": [], "onnx": []}
    for _ in range(3):
        for name, embedder in (("torch", torch_assistant.embedder), ("onnx", onnx)):
            started = time.perf_counter()
            embedder.encode(texts)
            timings[name].append(time.perf_counter() - started)
    torch_s, onnx_s = statistics.median(timings["torch"]), statistics.median(timings["onnx"])
    # Questions through the same index with the question encoded by either backend (the encoder
    # alone decides), then each backend on the index it built. Passages are compared by text:
    # FA-KES files some articles twice, and chunks of identical text tie exactly, in any order.
    # On its own index each backend also meets its own HNSW graph, an approximate search whose
    # misses differ between two builds (mostly for questions far from every report).
    same_index = assistant_for(torch_assistant.settings.index.index_dir, onnx)
    same = same_own = 0
    for q in questions:
        by_torch = [p.text for p in torch_assistant.ask(q).passages]
        same += by_torch == [p.text for p in same_index.ask(q).passages]
        same_own += by_torch == [p.text for p in assistant.ask(q).passages]
    return {
        "onnx_load_s": round(load_s, 2),
        "onnx_ingest_chunks_per_s": round(report.chunks / onnx_ingest_s, 1),
        "torch_ingest_chunks_per_s": round(report.chunks / torch_ingest_s, 1),
        "ingest_onnx_vs_torch": round(torch_ingest_s / onnx_ingest_s, 3),
        "encode_texts": len(texts),
        "torch_texts_per_s": round(len(texts) / torch_s, 1),
        "onnx_texts_per_s": round(len(texts) / onnx_s, 1),
        "encode_onnx_vs_torch": round(torch_s / onnx_s, 3),
        "onnx_questions": len(questions),
        "onnx_same_top5": round(same / len(questions), 3),
        "onnx_own_index_same_top5": round(same_own / len(questions), 3),
    }


class Expander:
    """Grows an index to a size with copies of the documents it held when the Expander was made,
    under new ids ("{doc_id}~{n}").

    The copies reuse the stored vectors (no encoding): this measures search at that size, not
    ingest. Each copy is a complete document (record, chunks, sentences), as an ingest writes it.
    """

    KINDS = ("sentences", "chunks", "docs")  # the order an ingest writes them in

    def __init__(self, assistant: Assistant) -> None:
        self.store = assistant.store
        self.copies = 0
        self.base: dict[str, dict[str, list[Any]]] = {}
        for kind in self.KINDS:
            fields = ["embeddings", "metadatas"] + ([] if kind == "sentences" else ["documents"])
            read: dict[str, list[Any]] = {"ids": [], **{f: [] for f in fields}}
            for got in self.store.scan(kind, fields):  # in pages: Chroma refuses one read of >32k records
                for key in read:
                    read[key] += list(got[key])
            self.base[kind] = read

    def grow(self, target_chunks: int) -> None:
        store = self.store
        batch = store.chroma.batch_size()
        while store.count_chunks() < target_chunks:
            self.copies += 1
            tag = f"~{self.copies}"
            for kind in self.KINDS:
                got = self.base[kind]
                ids = [f"{i.split(':')[0]}{tag}" + (":" + i.split(":", 1)[1] if ":" in i else "") for i in got["ids"]]
                metas = [{**m, "doc_id": f"{m['doc_id']}{tag}"} if "doc_id" in m else m for m in got["metadatas"]]
                for lo in range(0, len(ids), batch):
                    hi = lo + batch
                    store.collection(kind).add(
                        ids=ids[lo:hi],
                        embeddings=got["embeddings"][lo:hi],
                        documents=got["documents"][lo:hi] if "documents" in got else None,
                        metadatas=metas[lo:hi],
                    )
        store.log.touch()


def folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def machine() -> dict[str, Any]:
    with open("/proc/meminfo") as info:
        total_kb = int(next(line for line in info if line.startswith("MemTotal")).split()[1])
    import chromadb
    import sentence_transformers
    import torch

    return {
        "cores": os.cpu_count(),
        "memory_gb": round(total_kb / 1024 / 1024, 1),
        "cpu": platform.processor() or platform.machine(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "sentence_transformers": sentence_transformers.__version__,
        "chromadb": chromadb.__version__,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="the ratios only, on a smaller sample, in under two minutes")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "RESULTS.md", help="where the full run writes its report")
    args = parser.parse_args()
    if not (FAKES.is_file() and SQUAD.is_file()):
        raise SystemExit(f"the benchmarks need {FAKES} and {SQUAD} (the shared data beside the checkout)")
    started = time.perf_counter()
    shared = Assistant(index_dir=tempfile.mkdtemp(prefix="qa-bench-warm-"), auto_ingest_corpus=False)
    embedder = shared.embedder
    embedder.warm_up()
    raw_model = embedder._model  # the bare SentenceTransformer, same weights and batch size
    result: dict[str, Any] = {"mode": "quick" if args.quick else "full"}
    details: dict[str, Any] = {"machine": machine(), "stages": []}

    with tempfile.TemporaryDirectory(prefix="qa-bench-") as tmp:
        work = Path(tmp)

        def assistant_for(folder: Path, encoder: Any = embedder) -> Assistant:
            return Assistant(embedder=encoder, index_dir=folder, auto_ingest_corpus=False)

        # 1. Start-up: a fresh `qa ask` process against one that only imports the libraries.
        small = assistant_for(work / "bundled")
        small.ingest([BUNDLED_CORPUS_DIR])
        log("cold start ...")
        cold = measure_cold_start(work / "bundled", runs=2 if args.quick else 5)
        result.update(cold)

        # 2. Questions on the bundled report alone: the base of query_p50_growth.
        base = measure_queries(small, QUESTIONS, 100 if args.quick else 300)
        details["stages"].append({"index": "bundled report", **base})
        log(f"bundled report: {base}")

        # 3. Ingest against the bare encoder, on FA-KES reports.
        rows = fakes_rows(60 if args.quick else None)
        csv_path = write_csv(rows, work / "fa-kes-sample.csv")
        log(f"ingest of {len(rows) - 1} FA-KES reports against the bare encoder ...")
        ingest = measure_ingest(assistant_for, raw_model, embedder.batch_size, csv_path, work)
        big = ingest.pop("assistant")
        result["ingest_vs_raw"] = ingest["ingest_vs_raw"]
        details["ingest"] = ingest
        log(f"ingest: {ingest}")
        big.ingest([BUNDLED_CORPUS_DIR])

        # 4. The ONNX Runtime backend: the same ingest and questions, against torch's.
        squad_docs, squad_questions = squad_documents_and_questions()
        questions = QUESTIONS + squad_questions[::25]
        log("onnx backend against torch ...")
        details["onnx"] = measure_onnx(
            big, assistant_for, csv_path, ingest["ingest_s"], questions[: 50 if args.quick else 200], work, 100 if args.quick else 1000
        )
        log(f"onnx: {details['onnx']}")
        for key in ("ingest_onnx_vs_torch", "encode_onnx_vs_torch", "onnx_same_top5"):
            result[key] = details["onnx"][key]

        # 5. Questions as the index grows.
        if args.quick:
            largest = measure_queries(big, questions, 100)
            details["stages"].append({"index": f"{ingest['reports']} FA-KES reports + bundled", **largest})
        else:
            big.add_documents(squad_docs)
            sizes = [("FA-KES + SQuAD + bundled", None), ("expanded to ~10k chunks", 10_000), ("expanded to ~100k chunks", 100_000)]
            # ~1k chunks: a fresh index of the first FA-KES reports.
            first = assistant_for(work / "one-k")
            first.ingest([write_csv(fakes_rows(250), work / "fa-kes-250.csv")])
            stage = measure_queries(first, questions, 300)
            details["stages"].append({"index": "250 FA-KES reports (~1k chunks)", **stage, "disk_mb": round(folder_bytes(work / "one-k") / 1e6, 1)})
            log(f"~1k: {stage}")
            expander = Expander(big)
            for name, target in sizes:
                if target:
                    log(f"expanding to {target} chunks ...")
                    expander.grow(target)
                largest = measure_queries(big, questions, 300)
                largest.update(disk_mb=round(folder_bytes(work / "ingest") / 1e6, 1), peak_rss_mb=round(peak_rss_mb()))
                details["stages"].append({"index": name, **largest})
                log(f"{name}: {largest}")
            # What one more report costs at the largest size: reading it, writing it, and the BM25
            # rebuild (the sweep for leftovers was done by the first ingest: its `swept` record).
            one = work / "one-more.txt"
            one.write_text("Shelling hit the market in Saraqib on Monday, killing four people, medics said.\n")
            started_one = time.perf_counter()
            big.ingest([one])
            details["ingest_one_at_largest_s"] = round(time.perf_counter() - started_one, 2)
            log(f"one more report at {largest['chunks']} chunks: {details['ingest_one_at_largest_s']} s")

        result["query_p50_vs_floor"] = largest["ask_vs_floor"]
        result["query_p50_growth"] = round(largest["ask_p50_ms"] / base["ask_p50_ms"], 3)
        result["largest_index_chunks"] = largest["chunks"]
        result["peak_rss_mb"] = round(peak_rss_mb())
        result["seconds"] = round(time.perf_counter() - started, 1)
        details["result"] = result
        if not args.quick:
            args.out.write_text(results_markdown(details))
            log(f"wrote {args.out}")
    print(json.dumps(result))


def results_markdown(details: dict[str, Any]) -> str:
    """bench/RESULTS.md: the figures of a full run, the machine and the command."""
    m, r, i = details["machine"], details["result"], details["ingest"]
    lines = [
        "# Benchmark results",
        "",
        "Written by `make bench` (`python bench/run.py`); every figure below was measured in that one run.",
        "",
        f"Machine: {m['cores']} cores ({m['cpu']}), {m['memory_gb']} GB memory; Python {m['python']}, "
        f"torch {m['torch']}, sentence-transformers {m['sentence_transformers']}, chromadb {m['chromadb']}.",
        "",
        "## Ratios",
        "",
        "| ratio | value | target |",
        "|---|---|---|",
        f"| ingest_vs_raw (Assistant.ingest / bare encode of the same chunks) | {r['ingest_vs_raw']} | ≥ 0.85 |",
        f"| query_p50_vs_floor (warm ask / embed + one Chroma query, at {r['largest_index_chunks']:,} chunks) | {r['query_p50_vs_floor']} | ≤ 1.5 |",
        f"| query_p50_growth (warm ask at {r['largest_index_chunks']:,} chunks / at the bundled report) | {r['query_p50_growth']} | |",
        f"| cold_ask_vs_imports (`qa ask` process / import torch + sentence_transformers) | {r['cold_ask_vs_imports']} | ≤ 1.6 |",
    ]
    lines += [
        f"| ingest_onnx_vs_torch (Assistant.ingest with the onnx backend / with torch) | {r['ingest_onnx_vs_torch']} | |",
        f"| encode_onnx_vs_torch (bare ONNX Runtime encoder / bare torch, same texts) | {r['encode_onnx_vs_torch']} | |",
        f"| onnx_same_top5 (questions whose top 5 passages agree, in order) | {r['onnx_same_top5']} | 1.0 |",
    ]
    lines += [
        "",
        f"Ingest: {i['reports']} FA-KES reports, {i['chunks']:,} chunks: {i['ingest_chunks_per_s']} chunks/s through "
        f"`Assistant.ingest` against {i['raw_chunks_per_s']} chunks/s for the bare encoder.",
        f"Cold start: `qa ask` {r['cold_ask_s']} s, importing torch + sentence_transformers {r['imports_s']} s (medians).",
        f"One more report into the largest index (reading, writing, the BM25 rebuild): "
        f"{details['ingest_one_at_largest_s']} s.",
        "",
        "## Questions by index size",
        "",
        "| index | chunks | ask p50 ms | ask p95 ms | floor p50 ms | ask / floor | disk MB | peak RSS MB |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for s in details["stages"]:
        lines.append(
            f"| {s['index']} | {s['chunks']:,} | {s['ask_p50_ms']} | {s['ask_p95_ms']} | {s['floor_p50_ms']} | "
            f"{s['ask_vs_floor']} | {s.get('disk_mb', '')} | {s.get('peak_rss_mb', '')} |"
        )
    o = details["onnx"]
    lines += [
        "",
        f"ONNX Runtime backend: {o['onnx_ingest_chunks_per_s']} chunks/s through `Assistant.ingest` against "
        f"{o['torch_ingest_chunks_per_s']} for torch (mean of two ingests around it); bare encoders on {o['encode_texts']:,} chunk texts "
        f"{o['onnx_texts_per_s']} against {o['torch_texts_per_s']} texts/s; the same top five passages for "
        f"{o['onnx_same_top5']:.0%} of {o['onnx_questions']} questions asked of the same index "
        f"({o['onnx_own_index_same_top5']:.0%} when each backend asks the index it built itself: Chroma's HNSW "
        "search is approximate, and two graphs built from vectors that differ by ~1e-7 miss different neighbours, mostly for SQuAD "
        "questions far from every FA-KES report). "
        f"Loading it took {o['onnx_load_s']} s "
        "(the export, once per model and library versions, is part of that on a first run).",
    ]
    lines += [
        "",
        "Indexes above ~5k chunks are copies of the ingested documents with their stored vectors",
        "(bench/run.py `Expander`): they measure search at that size, not ingest. Peak RSS is the",
        "benchmark process's own high-water mark so far (the model, several indexes, the copies' source).",
        "",
        f"Command: `python bench/run.py` ({r['seconds']} s). JSON: `{json.dumps(r)}`",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
