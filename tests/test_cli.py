"""The `qa` command, run as a user runs it: a real process, real model, real index."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from qa.config import BUNDLED_CORPUS_DIR

QA = [sys.executable, "-m", "qa.cli"]


def run(*args, index: Path, **kwargs):
    env = {**os.environ, "QA_INDEX_DIR": str(index)}
    return subprocess.run([*QA, *args], capture_output=True, text=True, env=env, timeout=300, **kwargs)


@pytest.fixture(scope="module")
def cli_index(tmp_path_factory):
    index = tmp_path_factory.mktemp("cli-index")
    done = run("ingest", str(BUNDLED_CORPUS_DIR), index=index)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("1 added")
    return index


def test_ask_json(cli_index):
    done = run("ask", "--json", "--top-k", "3", "How many troops and militia were killed?", index=cli_index)
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert {"question", "answer", "abstained", "citations", "timings_ms"} <= set(data)
    assert "128" in data["answer"] and not data["abstained"]
    assert {"n", "doc_id", "title", "source", "date", "text", "start", "end", "score"} == set(data["citations"][0])


def test_ask_prints_answer_and_sources(cli_index):
    done = run("ask", "--mode", "bm25", "How many troops and militia were killed?", index=cli_index)
    assert done.returncode == 0
    answer, sources = done.stdout.split("\n[1] ", 1)
    assert "128" in answer and answer.rstrip().endswith("[1]")
    assert sources.startswith("Airstrikes kill 28 civilians") and "2017-09-30" in sources


def test_docs_json_and_delete(cli_index, tmp_path):
    extra = tmp_path / "extra.txt"
    extra.write_text("The Zarzour crossing reopened on Monday after weeks of shelling.\n")
    assert run("ingest", str(extra), index=cli_index).returncode == 0
    docs = json.loads(run("docs", "--json", index=cli_index).stdout)
    assert len(docs) == 2
    assert set(docs[0]) >= {"doc_id", "title", "source", "date", "chunks"}
    new = next(d for d in docs if d["title"].startswith("The Zarzour"))
    done = run("delete", new["doc_id"], index=cli_index)
    assert done.returncode == 0 and new["doc_id"] in done.stdout
    assert len(json.loads(run("docs", "--json", index=cli_index).stdout)) == 1


@pytest.mark.parametrize(
    "args, message",
    [
        (["ask", "   "], "error: the question is empty"),
        (["ingest", "/no/such/folder"], "error: /no/such/folder: no such file or folder"),
        (["delete", "0123456789abcdef"], "error: no document with id '0123456789abcdef'"),
        (["ask", "--mode", "magic", "q"], "Invalid value for '--mode'"),
    ],
)
def test_user_mistakes_give_one_line_and_non_zero_exit(cli_index, args, message):
    done = run(*args, index=cli_index)
    assert done.returncode != 0
    assert message in done.stderr
    assert "Traceback" not in done.stderr
    if message.startswith("error:"):
        assert done.stderr.strip().count("\n") == 0  # exactly one line


def test_ingest_a_collection_names_bad_rows_and_lands_the_rest(tmp_path):
    path = tmp_path / "reports.jsonl"
    path.write_text(
        '{"headline": "Convoy", "content": "A convoy of 27 trucks reached Saraqib.", "outlet": "Wire A"}\n'
        "{broken\n"
        '{"headline": "Shelling", "content": "Shelling hit Kafranbel on Monday.", "outlet": "Wire B"}\n'
    )
    done = run("ingest", str(path), "--title-column", "headline", index=tmp_path / "index")
    assert done.returncode == 1
    assert done.stdout.startswith("2 added, 0 replaced, 0 unchanged, 1 failed")
    assert done.stderr.strip().startswith(f"error: {path}, row 2: not valid JSON")
    listed = json.loads(run("docs", "--json", index=tmp_path / "index").stdout)
    assert sorted((d["title"], d["source"]) for d in listed) == [("Convoy", "Wire A"), ("Shelling", "Wire B")]


def test_ask_with_filters(cli_index):
    outlet = "the new arab (al-araby al-jadeed)"  # stored as "The New Arab (Al-Araby Al-Jadeed)"
    question = "How many civilians were killed in Armanaz?"
    done = run("ask", "--json", "--outlet", outlet, "--place", "Idlib", "--from", "2017-09", "--to", "2017", question, index=cli_index)
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["filters"] == {"source": [outlet], "place": ["Idlib"], "date_from": "2017-09-01", "date_to": "2017-12-31"}
    assert data["citations"] and not data["abstained"]
    empty = json.loads(run("ask", "--json", "--to", "2016", "How many civilians were killed?", index=cli_index).stdout)
    assert empty["abstained"] and empty["answer"] == "No report in the index matches the filters (to 2016-12-31)."


@pytest.mark.parametrize(
    "args, message",
    [
        (["--source", "Reuter"], "error: no report in the index is from the outlet 'Reuter'; outlets in the index: "),
        (["--from", "last week"], "error: date_from must be a date like 2017-04-05 (or 2017-04, or 2017), got 'last week'"),
    ],
)
def test_bad_filters_give_one_line(cli_index, args, message):
    done = run("ask", *args, "How many civilians were killed?", index=cli_index)
    assert done.returncode != 0 and done.stderr.startswith(message) and done.stderr.strip().count("\n") == 0
