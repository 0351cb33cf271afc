"""Crash safety: an ingest or a delete killed (SIGKILL) part-way leaves an index that opens, lists
only whole documents, never cites a half-written one, and a re-run completes it to exactly what
one clean ingest of the same input gives.

Each kill is of a real process running `Assistant.ingest` / `Assistant.delete` (DRIVER, run with
`python -c`) on a real Chroma folder. The driver announces the Chroma writes it makes (it wraps
chromadb's Collection methods in its own process) and the loading of the model, and stops at one
of them: "after:upsert:chunks:2" freezes it just after its second write of chunks, so the test
looks at the index as another process sees it mid-write, then kills the writer at exactly that
point; "in:upsert:docs:1" lets it run on and the test kills it a random few milliseconds later,
inside Chroma's own write. Progress ("DONE label") tells which documents the writer reported
done: those must be listed after the kill.
"""

from __future__ import annotations

import contextlib
import csv
import os
import queue
import random
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from qa import Assistant

pytestmark = pytest.mark.slow

DRIVER = r"""
import sys, time
from chromadb.api.models.Collection import Collection
from qa import Assistant
from qa.ingest import IngestBatch
from qa.embeddings import Embedder

index, stop, op, arg = sys.argv[1:5]
IngestBatch.SENTENCES = 40  # many small batches: many points to stop at
seen = {}

def announce(cls, method, name_of):
    real = getattr(cls, method)
    def wrapped(self, *args, **kwargs):
        name = name_of(self)
        seen[name] = seen.get(name, 0) + 1
        here = f"{name}:{seen[name]}"
        if stop in (f"before:{here}", f"in:{here}"):
            print("STOP", here, flush=True)
            if stop.startswith("before:"):
                time.sleep(600)
        out = real(self, *args, **kwargs)
        if stop == f"after:{here}":
            print("STOP", here, flush=True)
            time.sleep(600)
        return out
    setattr(cls, method, wrapped)

for method in ("upsert", "delete", "update"):
    announce(Collection, method, lambda col, m=method: f"{m}:{col.name.split('_')[0]}")
announce(Embedder, "_load_onnx", lambda embedder: "model")  # the encoder of documents loading
assistant = Assistant(index_dir=index, auto_ingest_corpus=False)
if op in ("ingest", "prune"):
    report = assistant.ingest(
        [arg], progress=lambda done, total, label: print("DONE", label, flush=True), prune=op == "prune"
    )
    print("END", report.summary(), flush=True)
else:
    assistant.delete(arg)
    print("END deleted", flush=True)
"""

TOWNS = ["Saraqib", "Kafranbel", "Ariha", "Binnish", "Taftanaz", "Sarmin", "Darkush", "Harem", "Armanaz", "Maarrat"]
DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
REPORTS = 150


def town(n: int) -> str:
    return f"{TOWNS[n % len(TOWNS)]}{n}"


def report_text(n: int) -> str:
    return (
        f"Shelling killed {n + 3} civilians in {town(n)} on {DAYS[n % 7]}, local medics said. "
        f"They treated {n + 5} wounded."
    )


def write_collection(path: Path) -> list[str]:
    """A CSV of REPORTS short reports with known facts, and one long one (several chunks) among
    them; returns the ids in row order."""
    rows = [(f"r{n:03d}", f"Report {n}", report_text(n)) for n in range(REPORTS)]
    siege = " ".join(
        f"On day {k} of the siege of Old Aleppo {k * 7} buildings were damaged and {k + 2} bakeries closed."
        for k in range(40)
    )
    rows.insert(REPORTS // 2, ("siege", "The siege of Old Aleppo", siege))
    with path.open("w", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(["id", "title", "source", "date", "place", "text"])
        for doc_id, title, text in rows:
            out.writerow([doc_id, title, "Test Wire", "2019-06-02", "Idlib", text])
    return [doc_id for doc_id, _, _ in rows]


# -- the index as a user sees it -------------------------------------------------------------


@dataclass(frozen=True)
class Parts:
    """What the index holds for one document: its record's chunk count, its chunks (id, text)
    and its sentence ids."""

    chunks: int
    chunk_texts: tuple[tuple[str, str], ...]
    sentences: tuple[str, ...]


@contextlib.contextmanager
def opened(index: Path, embedder) -> Iterator[Assistant]:
    """A fresh Assistant on the index, as a new process would open it; its Chroma client is
    closed afterwards so the next one sees the writes made meanwhile."""
    assistant = Assistant(embedder=embedder, index_dir=index, auto_ingest_corpus=False)
    try:
        yield assistant
    finally:
        assistant.store.reopen()


def stored(assistant: Assistant) -> tuple[dict[str, Parts], set[str]]:
    """Every listed document's parts, and the ids of documents that have chunks or sentences."""
    listed = {d.doc_id: d for d in assistant.documents()}
    chunks = assistant.store.chunks.get(include=["documents", "metadatas"])
    sentences = assistant.store.collection("sentences").get(include=["metadatas"])
    texts: dict[str, list[tuple[str, str]]] = {}
    for chunk_id, text, meta in zip(chunks["ids"], chunks["documents"], chunks["metadatas"]):
        texts.setdefault(meta["doc_id"], []).append((chunk_id, text))
    sentence_ids: dict[str, list[str]] = {}
    for sentence_id, meta in zip(sentences["ids"], sentences["metadatas"]):
        sentence_ids.setdefault(meta["doc_id"], []).append(sentence_id)
    parts = {
        doc_id: Parts(doc.chunks, tuple(sorted(texts.get(doc_id, []))), tuple(sorted(sentence_ids.get(doc_id, []))))
        for doc_id, doc in listed.items()
    }
    return parts, set(texts) | set(sentence_ids)


def clean_ingest(index: Path, source: Path, embedder) -> tuple[dict[str, Parts], list[str]]:
    """What one uninterrupted ingest of `source` stores, and its progress labels in order."""
    labels: list[str] = []
    with opened(index, embedder) as assistant:
        report = assistant.ingest([source], progress=lambda done, total, label: labels.append(label))
        assert not report.failed
        parts, _ = stored(assistant)
    return parts, labels


def ask_cites(assistant: Assistant, question: str, listed: set[str], modes=("hybrid", "dense", "bm25")) -> set[str]:
    """The documents the answers cite, in every mode; each must be listed, each citation exact."""
    cited = set()
    for mode in modes:
        answer = assistant.ask(question, mode=mode)
        for citation in answer.citations:
            assert citation.doc_id in listed, f"{mode}: cites {citation.doc_id}, which is not a listed document"
            assert assistant.document(citation.doc_id).text[citation.start : citation.end] == citation.text
            cited.add(citation.doc_id)
    return cited


def check_after_kill(index: Path, embedder, reference: dict[str, Parts], reported: set[str]) -> set[str]:
    """A new process on the index after the writer died: every document reported done is listed,
    every listed one is whole (exactly as a clean ingest stores it), nothing else is stored, and
    answers cite listed documents exactly. Returns the listed ids."""
    with opened(index, embedder) as assistant:
        parts, with_parts = stored(assistant)
        listed = set(parts)
        assert reported <= listed, f"reported done but not listed: {sorted(reported - listed)}"
        assert listed <= set(reference), f"listed but never ingested: {sorted(listed - set(reference))}"
        for doc_id in listed:
            assert parts[doc_id] == reference[doc_id], f"{doc_id} is listed but not whole"
        assert with_parts <= listed, f"parts of unlisted documents left: {sorted(with_parts - listed)[:5]}"
        assert assistant.store.count_chunks() == sum(len(p.chunk_texts) for p in parts.values())  # no duplicates
        # What this process derives (from the views' file a checker before it left, and the
        # journal since) holds every listed document's chunks, and no others.
        snapshot = assistant.store.lexical.snapshot
        assert {c for segment, alive in zip(snapshot.segments, snapshot.alive) for c, a in zip(segment.chunk_ids, alive) if a} == {
            chunk_id for p in parts.values() for chunk_id, _ in p.chunk_texts
        }
        numbered = sorted(d for d in listed if d.startswith("r") and d[1:].isdigit())  # rows of write_collection
        if numbered:
            n = int(random.choice(numbered)[1:])
            cited = ask_cites(assistant, f"How many civilians were killed in {town(n)}?", listed, ("hybrid",))
            assert f"r{n:03d}" in cited
        elif not listed:
            assert assistant.ask(f"How many civilians were killed in {town(1)}?").abstained
        return listed


def check_while_frozen(
    index: Path, embedder, reference: dict[str, Parts], reported: set[str], in_flight: list[str]
) -> set[str]:
    """Another process looking while the writer is frozen mid-write: listed documents are whole,
    and no answer cites a document of the write in progress. Returns the listed ids."""
    with opened(index, embedder) as assistant:
        parts, _ = stored(assistant)
        listed = set(parts)
        assert reported <= listed
        for doc_id in listed:
            assert parts[doc_id] == reference[doc_id], f"{doc_id} is listed but not whole"
        for doc_id in in_flight[:1]:
            if doc_id.startswith("r"):
                n = int(doc_id[1:])
                ask_cites(assistant, f"How many civilians were killed in {town(n)}?", listed)
        return listed


# -- the writer process ----------------------------------------------------------------------


class Writer:
    """The driver, run until it stops at `stop` (or ends); `reported` holds the labels of the
    documents it reported done."""

    def __init__(self, index: Path, stop: str, op: str, arg: str | Path, log: Path) -> None:
        self.stop = stop
        self.log = log
        self.reported: list[str] = []
        self.stopped = ""
        self.ended = ""
        self._stderr = log.open("w")
        self.proc = subprocess.Popen(
            [sys.executable, "-c", DRIVER, str(index), stop, op, str(arg)],
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
            env={**os.environ, "QA_AUTO_INGEST_CORPUS": "0"},
        )
        self._lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self._lines.put(line.rstrip("\n"))
        self._lines.put("")

    def run(self, timeout_s: float = 240) -> "Writer":
        """Read its output until it stops at its point or ends."""
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                line = self._lines.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"the writer did not reach {self.stop} in {timeout_s} s") from None
            if line.startswith("DONE "):
                self.reported.append(line[5:])
            elif line.startswith("STOP "):
                self.stopped = line[5:]
                return self
            elif line.startswith("END "):
                self.ended = line[4:]
                return self
            elif not line:
                self.proc.wait()
                raise AssertionError(f"the writer failed before {self.stop}: {self.log.read_text()[-2000:]}")

    def kill(self) -> None:
        self.proc.kill()  # SIGKILL
        self.proc.wait()
        self._stderr.close()


@pytest.fixture
def writers():
    """Starts Writers; any still running at the end of the test is killed."""
    started: list[Writer] = []

    def start(*args) -> Writer:
        started.append(Writer(*args))
        return started[-1]

    yield start
    for writer in started:
        if writer.proc.poll() is None:
            writer.kill()


# -- the tests -------------------------------------------------------------------------------


def test_an_ingest_killed_at_any_point_leaves_whole_documents_and_a_rerun_completes_it(tmp_path, embedder, writers):
    source = tmp_path / "reports.csv"
    order = write_collection(source)
    reference, labels = clean_ingest(tmp_path / "clean", source, embedder)
    assert set(reference) == set(order) and reference["siege"].chunks >= 3
    doc_of = dict(zip(labels, order))  # progress label of each row -> its document
    index = tmp_path / "index"
    rng = random.Random()
    reported: set[str] = set()

    def kill_at(stop: str, delay_s: float = 0.0) -> None:
        writer = writers(index, stop, "ingest", source, tmp_path / f"{stop.replace(':', '-')}.log").run()
        assert writer.stopped, f"the ingest ended before {stop}: {writer.ended}"
        done = {doc_of[label] for label in writer.reported}
        in_flight = [d for d in order if d not in reported | done]
        try:
            if stop.startswith(("before:", "after:")):  # frozen there: look at it as another process would
                check_while_frozen(index, embedder, reference, reported | done, in_flight)
            time.sleep(delay_s)
            writer.kill()
            reported.update(done)
            reported.update(check_after_kill(index, embedder, reference, reported))  # what landed stays landed
        except AssertionError as exc:
            exc.add_note(f"the ingest was stopped at {stop}, then killed {delay_s:.3f} s later")
            raise

    kill_at("in:model:1")  # loading the model: nothing written yet
    kill_at("after:upsert:sentences:2")  # a batch's sentences written, not its chunks
    kill_at("after:upsert:chunks:2")  # chunks written without their documents' records
    kill_at("after:upsert:docs:1")  # records written, the write not yet closed
    # Closing a write: the journal names its documents, then the change token, then the intent
    # goes. Killed after the first two, the intent is left for the next process to settle.
    kill_at("after:upsert:journal:1")
    kill_at("after:upsert:state:2")  # the token too (the first state upsert is the intent's)
    kill_at(rng.choice(["in:upsert:sentences:1", "in:upsert:chunks:1", "in:upsert:docs:1"]), rng.uniform(0, 0.03))
    assert 0 < len(reported) < len(order)

    # The same ingest, through the CLI, runs to completion: then the index is a clean ingest's.
    done = subprocess.run(
        [sys.executable, "-m", "qa.cli", "ingest", str(source)],
        capture_output=True,
        text=True,
        env={**os.environ, "QA_INDEX_DIR": str(index)},
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert f"{len(order) - len(reported)} added, 0 replaced, {len(reported)} unchanged, 0 failed" in done.stdout
    with opened(index, embedder) as assistant:
        parts, with_parts = stored(assistant)
        assert parts == reference and with_parts == set(reference)
        assert assistant.store.count_chunks() == sum(len(p.chunk_texts) for p in reference.values())
        assert "siege" in ask_cites(assistant, "How many bakeries closed on day 30 of the siege?", set(parts))

    # A delete killed after the record went but before the chunks: the document is gone for good.
    writer = writers(index, "after:delete:docs:1", "delete", "r042", tmp_path / "delete.log").run()
    assert writer.stopped
    rest = {d: p for d, p in reference.items() if d != "r042"}
    assert "r042" not in check_while_frozen(index, embedder, reference, set(rest), ["r042"])
    writer.kill()
    assert check_after_kill(index, embedder, rest, set(rest)) == set(rest)


def test_an_edited_file_pruned_and_killed_at_each_step_keeps_whole_versions(tmp_path, embedder, writers):
    """`ingest --prune` after a file was edited writes the new version, then removes the old one:
    killed before the new record lands, the old version alone is listed; after it, both are
    (the old one no longer in its file, kept until the prune ends); killed inside the prune, the
    old one is listed whole or gone. A re-run with prune leaves the new version alone."""
    folder = tmp_path / "reports"
    folder.mkdir()
    for n in range(4):
        (folder / f"report{n}.txt").write_text(report_text(n) + "\n")
    before, _ = clean_ingest(tmp_path / "index", folder, embedder)
    changed = folder / "report2.txt"
    changed.write_text("Shelling killed 77 civilians in Ariha2 on Friday, rescuers said. Forty shops burned.\n")
    after, _ = clean_ingest(tmp_path / "clean", folder, embedder)
    (old,) = set(before) - set(after)
    (new,) = set(after) - set(before)
    index = tmp_path / "index"
    both = {**before, **after}

    def versions(listed: set[str]) -> set[str]:
        return listed & {old, new}

    # The new version's chunks are written, its record is not: the old version stays, alone.
    writer = writers(index, "after:upsert:chunks:1", "prune", folder, tmp_path / "chunks.log").run()
    assert writer.stopped
    assert versions(check_while_frozen(index, embedder, both, set(before) - {old}, [])) == {old}
    with opened(index, embedder) as assistant:
        assert new not in ask_cites(assistant, "How many shops burned in Ariha2?", set(before))
    writer.kill()
    assert check_after_kill(index, embedder, before, set(before)) == set(before)

    # The new record has landed, the prune has not run: both versions, each whole.
    writer = writers(index, "after:upsert:docs:1", "prune", folder, tmp_path / "docs.log").run()
    assert writer.stopped
    writer.kill()
    assert versions(check_after_kill(index, embedder, both, set(after) - {new})) == {old, new}

    # Inside the prune: the old record is deleted, its parts not yet. It is gone, and stays gone.
    writer = writers(index, "after:delete:docs:1", "prune", folder, tmp_path / "prune.log").run()
    assert writer.stopped
    writer.kill()
    assert check_after_kill(index, embedder, after, set(after)) == set(after)

    # A re-run with prune completes it: the index is a clean ingest of the edited folder.
    writer = writers(index, "never", "prune", folder, tmp_path / "rerun.log").run()
    assert writer.ended.startswith("0 added, 0 replaced, 4 unchanged, 0 failed")
    assert check_after_kill(index, embedder, after, set(after)) == set(after)
    with opened(index, embedder) as assistant:
        assert ask_cites(assistant, "How many civilians were killed in Ariha2?", set(after), ("hybrid",)) == {new}
        assert "77 civilians" in assistant.ask("How many civilians were killed in Ariha2?").text
