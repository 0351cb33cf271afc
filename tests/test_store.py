"""The Chroma index: schema upgrades, other processes' writes, and Chroma server mode.

Server mode runs against a real `chroma run` started here on a free port.
"""

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from qa import Settings
from qa.config import IndexSettings
from qa.errors import ConfigError
from qa.store import SCHEMA_VERSION, parse_chroma_url

QA = [sys.executable, "-m", "qa.cli"]
SARAQIB = "Shelling killed 12 civilians in Saraqib on Sunday, local medics said.\n"
KAFRANBEL = "A convoy of 27 aid trucks reached Kafranbel on Monday, the UN said.\n"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def qa(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    done = subprocess.run([*QA, *args], capture_output=True, text=True, env={**os.environ, **env}, timeout=300)
    assert done.returncode == 0, done.stderr
    return done


def test_chroma_urls():
    assert parse_chroma_url("http://127.0.0.1:8123") == ("127.0.0.1", 8123, False)
    assert parse_chroma_url("https://chroma.example.org/") == ("chroma.example.org", 443, True)
    assert parse_chroma_url("http://db") == ("db", 8000, False)
    for bad in ("localhost:8000", "http://db:8000/some/path", "ftp://db"):
        with pytest.raises(ConfigError, match="QA_CHROMA_URL must look like http://host:port"):
            parse_chroma_url(bad)
    with pytest.raises(ValueError, match="chroma_url must look like http://host:port"):
        Settings(chroma_url="localhost:8000")
    assert Settings(chroma_url=" ").index.chroma_url is None  # QA_CHROMA_URL= means the embedded store


def test_an_unreachable_server_is_one_clear_error(make_assistant):
    url = f"http://127.0.0.1:{free_port()}"
    assistant = make_assistant(chroma_url=url)
    with pytest.raises(ConfigError, match=f"cannot reach the Chroma server at {url}"):
        assistant.documents()


@pytest.mark.slow
def test_an_index_of_the_older_schema_is_upgraded_in_place(make_assistant, tmp_path):
    report = tmp_path / "saraqib.md"
    report.write_text(f"---\noutlet: Wire A\ndate: 2019-06-02\nplace: Saraqib, Idlib province\n---\n{SARAQIB}")
    assistant = make_assistant()
    assistant.ingest([report])
    store = assistant.store
    # What schema 1 stored: no filter fields on chunks, no schema in the state record.
    ids = store.chunks.get(include=[])["ids"]
    store.chunks.update(ids=ids, metadatas=[{"source_key": None, "place_terms": None, "date_num": None}] * len(ids))
    store.collection("state").delete(ids=["state"])
    assert "source_key" not in store.chunks.get(include=["metadatas"])["metadatas"][0]

    reopened = make_assistant()
    answer = reopened.ask("How many civilians were killed?", source="wire a", place="Idlib", date_from="2019-06")
    assert "12 civilians" in answer.text and answer.citations
    meta = reopened.store.chunks.get(include=["metadatas"])["metadatas"][0]
    assert (meta["source_key"], meta["date_num"], "idlib" in meta["place_terms"]) == ("wirea", 20190602, True)
    assert reopened.store.log.state()["schema"] == SCHEMA_VERSION
    assert reopened.store.count_chunks() == len(ids)  # upgraded, not re-ingested


@pytest.mark.slow
def test_an_index_without_section_headings_gets_them_in_place(make_assistant, tmp_path):
    report = tmp_path / "r.md"
    report.write_text(
        "---\ntitle: Ariha\n---\nShelling hit Ariha overnight, rescuers said.\n\nAid convoy reaches Saraqib\n\n"
        "The roads into the city were cleared on Monday by the local council.\n\n"
        "A convoy of 27 trucks carrying flour reached Saraqib on Tuesday, the World Food Programme said.\n"
    )
    # Chunks of one sentence: the flour sentence's chunk does not hold its section's heading.
    assistant = make_assistant(chunk_words=12, chunk_overlap_sentences=0)
    assistant.ingest([report])
    store = assistant.store
    # What schema 3 stored: no section fields on chunks.
    got = store.chunks.get(include=["metadatas"])
    store.chunks.update(ids=got["ids"], metadatas=[{"section": None, "section_at": None}] * len(got["ids"]))
    state = store.log.state()
    store.collection("state").upsert(ids=["state"], embeddings=[[1.0]], metadatas=[{**state, "schema": 3}])

    reopened = make_assistant(chunk_words=12, chunk_overlap_sentences=0)
    answer = reopened.ask("Under which heading does the report describe the flour deliveries?")
    assert answer.short_answer == "Aid convoy reaches Saraqib", answer.text
    assert reopened.store.log.state()["schema"] == SCHEMA_VERSION


@pytest.mark.slow
def test_another_processs_write_is_taken_in_document_by_document(make_assistant, tmp_path, monkeypatch):
    """What the serving process derives from the index (BM25, groups, statements) re-reads only
    the documents another process's write changed, named by the journal: no rebuild."""
    (tmp_path / "saraqib.txt").write_text(SARAQIB)
    (tmp_path / "kafranbel.txt").write_text(KAFRANBEL)
    serving = make_assistant()
    serving.ingest([tmp_path / "saraqib.txt"])
    serving.warm_up()
    serving.timeline()
    store = serving.store
    rebuilt, updated = [], []
    for view in (store.lexical, store._groups, store._statements):
        monkeypatch.setattr(view, "rebuild", lambda view=view: rebuilt.append(type(view).__name__))
        original = view.update
        monkeypatch.setattr(view, "update", lambda docs, original=original: (updated.append(set(docs)), original(docs))[1])

    from qa.store import views as store_views

    monkeypatch.setattr(store_views, "CHECK_EVERY_S", 0.0)  # each question looks (else once a second)
    env = {"QA_INDEX_DIR": str(tmp_path / "index")}
    qa("ingest", str(tmp_path / "kafranbel.txt"), env=env)
    assert "27 aid trucks" in serving.ask("How many aid trucks reached Kafranbel?", mode="bm25").text
    kafranbel = next(d.doc_id for d in serving.documents() if "Kafranbel" in d.title)
    assert rebuilt == [] and updated == [{kafranbel}] * 3
    assert store.lexical.snapshot.chunks == 2 and len(store.statements()) == 2

    qa("delete", kafranbel, env=env)
    assert serving.ask("How many aid trucks reached Kafranbel?", mode="bm25").abstained
    assert rebuilt == [] and updated[3:] == [{kafranbel}] * 3 and store.lexical.snapshot.chunks == 1


@pytest.mark.slow
def test_two_stores_of_one_folder_in_a_process_say_they_hide_other_processes_writes(make_assistant, tmp_path, caplog):
    """chromadb shares one embedded system between the clients of a folder in a process: a
    reopen cannot refresh it while another is open. That is said once; closing the other helps."""
    (tmp_path / "saraqib.txt").write_text(SARAQIB)
    (tmp_path / "kafranbel.txt").write_text(KAFRANBEL)
    serving, other = make_assistant(), make_assistant()
    serving.ingest([tmp_path / "saraqib.txt"])
    serving.warm_up()
    assert other.documents()
    with caplog.at_level("WARNING", logger="qa.store.chroma"):
        serving.store.reopen()
    assert "another client of" in caplog.text
    other.store.close()
    qa("ingest", str(tmp_path / "kafranbel.txt"), env={"QA_INDEX_DIR": str(tmp_path / "index")})
    serving.store.views.refresh(force=True)
    assert "27 aid trucks" in serving.ask("How many aid trucks reached Kafranbel?", mode="bm25").text


@pytest.mark.slow
def test_reports_written_by_another_process_are_answerable_without_restart(make_assistant, tmp_path):
    """The serving process keeps its index open while `qa ingest` and `qa delete` run beside it."""
    (tmp_path / "saraqib.txt").write_text(SARAQIB)
    (tmp_path / "kafranbel.txt").write_text(KAFRANBEL)
    serving = make_assistant()
    serving.ingest([tmp_path / "saraqib.txt"])
    assert "12 civilians" in serving.ask("How many civilians were killed in Saraqib?").text

    env = {"QA_INDEX_DIR": str(tmp_path / "index")}
    qa("ingest", str(tmp_path / "kafranbel.txt"), env=env)
    for mode in ("hybrid", "dense", "bm25"):
        answer = serving.ask("How many aid trucks reached Kafranbel?", mode=mode)
        assert "27 aid trucks" in answer.text, mode
    assert len(serving.documents()) == 2

    doc_id = next(d.doc_id for d in serving.documents() if "Kafranbel" in d.title)
    qa("delete", doc_id, env=env)
    time.sleep(1.1)  # the change token is read at most once a second
    answer = serving.ask("How many aid trucks reached Kafranbel?")
    assert all(c.doc_id != doc_id for c in answer.citations) and all(p.doc_id != doc_id for p in answer.passages)


@pytest.fixture
def chroma_server(tmp_path):
    """A real Chroma server (`chroma run`) on a free port, its data in a temp folder."""
    chroma = shutil.which("chroma", path=str(Path(sys.executable).parent)) or shutil.which("chroma")
    if chroma is None:
        pytest.fail("the chroma command (from the chromadb package) is missing")
    port = free_port()
    log = (tmp_path / "chroma.log").open("w")
    server = subprocess.Popen(
        [chroma, "run", "--path", str(tmp_path / "chroma-data"), "--host", "127.0.0.1", "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"chroma run did not start: {(tmp_path / 'chroma.log').read_text()[-2000:]}")
                time.sleep(0.2)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()


@pytest.mark.slow
def test_two_processes_share_a_chroma_server(chroma_server, make_assistant, tmp_path):
    """QA_CHROMA_URL: one process ingests, another answers, a third (this one) sees both without restart."""
    reports = tmp_path / "reports"
    reports.mkdir()
    (reports / "saraqib.md").write_text(f"---\noutlet: Wire A\ndate: 2019-06-02\nplace: Saraqib\n---\n{SARAQIB}")
    (reports / "kafranbel.md").write_text(f"---\noutlet: Wire B\ndate: 2019-06-03\nplace: Kafranbel\n---\n{KAFRANBEL}")
    env = {"QA_CHROMA_URL": chroma_server, "QA_INDEX_DIR": str(tmp_path / "unused-folder")}

    watching = make_assistant(chroma_url=chroma_server, index_dir=tmp_path / "unused-folder")
    assert watching.documents() == []  # connected, nothing yet

    ingested = qa("ingest", str(reports), env=env)
    assert ingested.stdout.startswith("2 added")
    asked = json.loads(qa("ask", "--json", "How many aid trucks reached Kafranbel?", env=env).stdout)
    assert "27 aid trucks" in asked["answer"] and asked["citations"][0]["source"] == "Wire B"
    filtered = json.loads(qa("ask", "--json", "--source", "Wire A", "How many were killed or reached?", env=env).stdout)
    assert {c["source"] for c in filtered["citations"]} <= {"Wire A"}

    answer = watching.ask("How many civilians were killed in Saraqib?")
    assert "12 civilians" in answer.text
    assert not (tmp_path / "unused-folder").exists()  # everything lives on the server


@pytest.mark.slow
def test_an_index_past_chromas_32k_record_read_limit_still_lists_sweeps_and_reads(tmp_path):
    """Chroma fails one `get` of more than ~32k records with their metadata ("too many SQL
    variables"): whole-collection reads are paged. Here the sweep's scan of 33,000 sentences
    crosses the limit; listing documents and reading chunks of such an index go on working."""
    import numpy as np

    from qa.chunking import chunk_sentences, split_sentences
    from qa.documents import make_document
    from qa.store import Store

    doc = make_document(" ".join(f"Shelling hit area {i}." for i in range(33_000)), {"title": "Long"}, path="long.txt")
    sentences = split_sentences(doc.text)
    chunks = chunk_sentences(doc.text, doc.doc_id, sentences, 120, 1)
    doc.chunks = len(chunks)
    rng = np.random.default_rng(0)
    sentence_vectors = rng.standard_normal((len(sentences), 384)).astype(np.float32)
    chunk_vectors = rng.standard_normal((len(chunks), 384)).astype(np.float32)
    store = Store.from_settings(IndexSettings(index_dir=tmp_path / "index"))
    store.write_documents([(doc, chunks, chunk_vectors, (list(range(len(sentence_vectors))), sentence_vectors))])
    assert len(sentences) == 33_000 and store.collection("sentences").count() == 33_000

    assert store.sweep_incomplete() == []  # scans every sentence's metadata
    assert [d.doc_id for d in store.documents()] == [doc.doc_id]
    snapshot = store.lexical.snapshot  # built from every chunk, read in pages
    assert snapshot.chunks == len(chunks) and snapshot.search("shelling area 32999", 1)[0][0].startswith(doc.doc_id)
