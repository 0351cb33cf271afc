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


WEDNESDAY = "How many civilians were killed in Maarat al Numan on Wednesday?"
SOHR_SENTENCE = (
    "On Wednesday, regime strikes in Maarat al Numan killed at least 16 civilians and injured 34 others, said "
    "British-based war monitor, Syrian Observatory for Human Rights (SOHR)."
)


@pytest.mark.slow
def test_ask_json_cites_the_exact_sentence(cli_index):
    done = run("ask", "--json", "--top-k", "3", WEDNESDAY, index=cli_index)
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert {"question", "answer", "abstained", "citations", "timings_ms"} <= set(data)
    assert "at least 16" in data["answer"] and not data["abstained"] and data["short_answer"] == "at least 16"
    (cited,) = data["citations"]
    assert list(cited) == [
        "n", "doc_id", "title", "source", "date", "text", "start", "end", "score", "url", "attribution", "attributed_to",
        "event_date", "event_date_words", "also_carried_by",  # the keys --json has always had, then the new one last
    ]
    assert cited["also_carried_by"] == []  # the bundled report is the only one: no other outlet carries it
    assert cited["text"] == SOHR_SENTENCE and (cited["source"], cited["date"]) == ("TRT World", "2019-08-29")
    report = next(BUNDLED_CORPUS_DIR.glob("*.txt")).read_text(encoding="utf-8")
    assert report[cited["start"] : cited["end"]] == SOHR_SENTENCE


@pytest.mark.slow
def test_ask_prints_answer_and_sources(cli_index):
    done = run("ask", "--mode", "bm25", WEDNESDAY, index=cli_index)
    assert done.returncode == 0
    answer, sources = done.stdout.split("\n[1] ", 1)
    assert "at least 16 civilians" in answer.lower() and answer.rstrip().endswith("[1]")
    assert sources.startswith("Syrian regime, Russia air strikes kill at least 7 civilians in Idlib (TRT World, 2019-08-29)")


@pytest.mark.slow
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


@pytest.mark.slow
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


@pytest.mark.slow
def test_ask_with_filters(cli_index):
    outlet = "trt-world"  # stored as "TRT World"
    done = run("ask", "--json", "--outlet", outlet, "--place", "Idlib", "--from", "2019-08", "--to", "2019", WEDNESDAY, index=cli_index)
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["filters"] == {"source": [outlet], "place": ["Idlib"], "date_from": "2019-08-01", "date_to": "2019-12-31", "undated": False}
    assert data["citations"] and not data["abstained"]
    empty = json.loads(run("ask", "--json", "--to", "2019-08-28", "How many civilians were killed?", index=cli_index).stdout)
    assert empty["abstained"] and empty["answer"] == "No report in the index matches the filters (to 2019-08-28): none matches to 2019-08-28."


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


# -- bad input: one `error:` line each, no traceback, exit 1 when anything failed ------------------------
@pytest.mark.parametrize(
    "question, message",
    [
        ("x" * 10_000, "error: the question is 10,000 characters long; the limit is 2,000 (setting max_question_chars)"),
        ("\u200b\u200d\x1b[2J\x1b[H\x7f", "error: the question is empty"),
        ("?! \u061f", "error: the question '?! \u061f' has no words in it"),
    ],
)
def test_bad_questions_give_one_error_line(tmp_path, question, message):
    done = run("ask", question, index=tmp_path / "index")
    assert done.returncode == 1 and done.stderr == message + "\n" and done.stdout == ""


@pytest.mark.slow
def test_questions_with_control_characters_or_other_scripts_are_answered_or_abstain(cli_index):
    asked = "How many civilians were killed in \x1b[1mMaa\u200brat\x1b[0m al Numan on Wednesday?\x7f"  # argv cannot hold a NUL
    done = run("ask", "--json", asked, index=cli_index)
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["question"] == WEDNESDAY and "at least 16" in data["answer"]
    arabic = "\u0643\u0645 \u0639\u062f\u062f \u0627\u0644\u0642\u062a\u0644\u0649\u061f"
    done = run("ask", arabic, index=cli_index)
    assert done.returncode == 0 and done.stdout.startswith("The reports don't say") and done.stderr == ""


@pytest.mark.slow
def test_ingest_prints_one_error_line_per_bad_file_and_lands_the_rest(tmp_path):
    folder = tmp_path / "reports"
    folder.mkdir()
    (folder / "convoy.txt").write_text("A convoy of 27 trucks reached Saraqib on Sunday, officials said.\n")
    (folder / "alep.txt").write_bytes("D\u00e9claration du maire d\u2019Alep \u2013 12 civils tu\u00e9s.\n".encode("cp1252"))
    (folder / "empty.txt").write_bytes(b"")
    (folder / "photo.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    (folder / "two\nlines\x1b[31m.txt").write_bytes(b"\x00\x01binary")
    (folder / "loop.txt").symlink_to(folder / "loop.txt")
    (folder / "notes.pdf").write_bytes(b"%PDF-1.4")  # in a folder: skipped
    (folder / "rows.csv").write_text("title,text\nGood row,Shelling hit Kafranbel on Monday.\nBroken\n")
    bomb = "\n".join(["a: &a [x, x, x, x, x, x, x, x, x]"] + [
        f"{chr(98 + n)}: &{chr(98 + n)} [{', '.join(['*' + chr(97 + n)] * 9)}]" for n in range(6)
    ] + ["title: *g"])
    (folder / "bomb.md").write_text(f"---\n{bomb}\n---\nShelling hit Ariha.\n")  # 7 levels of YAML aliases
    (folder / "date.md").write_text("---\ndate: 2019-13-45\n---\nShelling hit Binnish.\n")
    huge = tmp_path / "huge.txt"
    with huge.open("wb") as handle:
        handle.truncate(50_000_000)
    index = tmp_path / "index"
    done = run("ingest", str(folder), str(huge), str(tmp_path / "scan.exe"), index=index)
    assert done.returncode == 1
    assert done.stdout == "3 added, 0 replaced, 0 unchanged, 9 failed; 3 chunks written\n"
    assert "Traceback" not in done.stderr
    assert done.stderr.splitlines() == [  # paths that are not there first, then in the order read
        f"error: {tmp_path / 'scan.exe'}: no such file or folder",
        f"error: {folder / 'bomb.md'}: front matter: YAML aliases (*name) are not accepted in metadata (line 2)",
        f"error: {folder / 'date.md'}: front matter: date '2019-13-45' is not a real day: month must be in 1..12",
        f"error: {folder / 'empty.txt'}: no text to ingest (the file is empty)",
        f"error: {folder / 'loop.txt'}: a symbolic link loop",
        f"error: {folder / 'photo.txt'}: this is a PNG image, not a text report",
        f"error: {folder / 'rows.csv'}, row 2: has 1 fields, the header has 2 (line 3)",
        f"error: {folder}/two\\nlines\\x1b[31m.txt: binary data (NUL bytes), not a text report",
        f"error: {huge}: 50,000,000 bytes is over the limit of 25,000,000 bytes (setting max_file_bytes)",
    ]
    listed = json.loads(run("docs", "--json", index=index).stdout)
    assert sorted(d["title"] for d in listed) == [
        "A convoy of 27 trucks reached Saraqib on Sunday, officials said.",
        "D\u00e9claration du maire d\u2019Alep \u2013 12 civils tu\u00e9s.",
        "Good row",
    ]


@pytest.mark.slow
def test_a_file_name_starting_with_a_dash(tmp_path):
    (tmp_path / "-report.txt").write_text("Shelling hit Kafranbel on Monday.\n")
    index = tmp_path / "index"
    mistaken = run("ingest", "-report.txt", index=index, cwd=tmp_path)
    assert mistaken.returncode == 2
    assert "To ingest the file '-report.txt', write: qa ingest -- -report.txt (or ./-report.txt)." in mistaken.stderr
    first = run("ingest", "--", "-report.txt", index=index, cwd=tmp_path)
    assert first.returncode == 0 and first.stdout.startswith("1 added") and first.stderr == ""
    again = run("ingest", "./-report.txt", index=index, cwd=tmp_path)
    assert again.returncode == 0 and again.stdout.startswith("0 added, 0 replaced, 1 unchanged, 0 failed")


FAKES = Path(__file__).resolve().parents[2] / "shared" / "data" / "fa-kes.csv"


@pytest.mark.slow
def test_the_fa_kes_collection_ingests_with_outlet_date_and_place(tmp_path):
    """All 804 real FA-KES reports through `qa ingest`: 9 rows repeat an earlier row in every
    stored field (text, title, outlet, date, place) and are stored once; the rest land."""
    if not FAKES.exists():
        pytest.skip(f"{FAKES} is not here (shared test data)")
    index = tmp_path / "index"
    done = run("ingest", str(FAKES), index=index)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("795 added, 0 replaced, 0 unchanged, 0 failed, 9 repeated an earlier report;")
    docs = json.loads(run("docs", "--json", index=index).stdout)
    assert len(docs) == 795 and len({d["source"] for d in docs}) == 15
    assert all(d["source"] and d["place"] and len(d["date"]) == 10 and d["date"][4] == "-" for d in docs)
    asked = run("ask", "--json", "--source", "dailysabah", "--from", "2016-07", "--to", "2016-07",
                "How many civilians were killed in Hasakeh?", index=index)
    answer = json.loads(asked.stdout)
    assert "16 civilians" in answer["answer"]
    assert {(c["source"], c["date"][:7]) for c in answer["citations"]} == {("dailysabah", "2016-07")}
