"""Hostile input, table-driven: each input below is ingested next to the bundled report; it is
refused in one line naming the file (and row or field), or lands as documented, and afterwards
the index is whole and still answers."""

from __future__ import annotations

import json

import pytest

from qa import Assistant
from qa.config import BUNDLED_CORPUS_DIR

pytestmark = pytest.mark.slow

QUESTION = "How many civilians were killed in Maarat al Numan on Wednesday?"


def alias_bomb(levels: int) -> str:
    """YAML "billion laughs": each level repeats the one before nine times (363 bytes at 7 levels)."""
    lines = ["a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for n in range(1, levels):
        prev, name = chr(ord("a") + n - 1), chr(ord("a") + n)
        lines.append(f"{name}: &{name} [{', '.join(['*' + prev] * 9)}]")
    lines.append(f"title: *{chr(ord('a') + levels - 1)}")
    return "\n".join(lines)


def front(meta: str, text: str = "Shelling hit Ariha on Friday, killing five civilians.") -> str:
    return f"---\n{meta}\n---\n{text}\n"


REPORT = "Shelling hit Ariha on Friday, killing five civilians.\n"
ROW_TEXT = "Aid trucks reached Saraqib on Sunday."
# name: (files to write, failures expected as (file name, words of the message), reports that land)
CASES: dict[str, tuple[dict[str, str | bytes], list[tuple[str, str]], int]] = {
    "yaml alias bomb, 7 levels": (
        {"bomb.md": front(alias_bomb(7))}, [("bomb.md", "front matter: YAML aliases (*name) are not accepted")], 0
    ),
    "yaml alias bomb, 6 levels": (
        {"bomb6.md": front(alias_bomb(6))}, [("bomb6.md", "YAML aliases (*name) are not accepted in metadata (line 2)")], 0
    ),
    "alias bomb in a sidecar": (
        {"r.txt": REPORT, "r.meta.yaml": alias_bomb(7)}, [("r.txt", "r.meta.yaml: cannot read metadata: YAML aliases (*name)")], 0
    ),
    "unquoted impossible date": (
        {"d.md": front("title: Ariha\ndate: 2019-13-45")},
        [("d.md", "front matter: date '2019-13-45' is not a real day: month must be in 1..12")],
        0,
    ),
    "quoted impossible date": (
        {"q.md": front("date: '2019-02-30'")}, [("q.md", "date '2019-02-30' is not a real day: day is out of range")], 0
    ),
    "a date in words no one can read": (
        {"w.md": front("date: the day after the strike")}, [("w.md", "date 'the day after the strike' is not a day")], 0
    ),
    "a list title": ({"l.md": front("title: [Ariha, shelling]")}, [], 1),
    "a mapping title": ({"m.md": front("title: {a: 1}")}, [("m.md", "front matter: the title must be text, not a mapping")], 0),
    "a 5,000-character title": (
        {"t.md": front("title: " + "x" * 5_000)},
        [("t.md", "the title is 5,000 characters; the limit is 1,000 (setting max_field_chars)")],
        0,
    ),
    "70 KB of front matter": (
        {"big.md": front("note: " + "x" * 70_000)}, [("big.md", "the limit is 65,536 (setting max_metadata_bytes)")], 0
    ),
    "a 100 KB sidecar": (
        {"s.txt": REPORT, "s.meta.yaml": "note: " + "x" * 100_000}, [("s.txt", "s.meta.yaml: 100,006 bytes is over the limit of 65,536")], 0
    ),
    "front matter that is a list": ({"f.md": front("- a\n- b")}, [("f.md", "front matter must be key: value lines")], 0),
    "a python tag in yaml": (
        {"p.md": front("title: !!python/object/apply:os.system [echo pwned]")},
        [("p.md", "front matter: the YAML tag 'tag:yaml.org,2002:python/object/apply:os.system' is not accepted")],
        0,
    ),
    "a declared id that is a path": ({"i.md": front("id: ../../etc/passwd")}, [("i.md", "declared id '../../etc/passwd'")], 0),
    "a 254-byte file name": ({"n" * 250 + ".txt": REPORT}, [], 1),
    "stop words only": ({"stop.txt": "To be or not to be.\n"}, [], 1),
    "20,000 lines of one stop word": ({"a.txt": "a\n" * 20_000}, [], 1),
    "two thousand headings": ({"h.md": "# Heading\n\n" * 2_000 + REPORT}, [], 1),
    "a report over max_report_chars": (
        {"long.txt": "Shelling went on. " * 70_000},
        [("long.txt", "the text is 1,260,000 characters; the limit for one report is 1,000,000 (setting max_report_chars)")],
        0,
    ),
    "a 2 MB single field in a csv": (
        {"field.csv": f'text,title\n"{"Shelling went on. " * 120_000}",Long\n"{ROW_TEXT}",Saraqib\n'},
        [("field.csv, row 1", "the row is over the limit of 1,008,000 characters")],
        1,
    ),
    "a csv with only its header": ({"h.csv": "text,title\n"}, [("h.csv", "no reports in the collection")], 0),
    "a csv naming text twice": (
        {"dup.csv": f"text,title,text\n{ROW_TEXT},T,other\n"},
        [("dup.csv", "the header names the column 'text' twice (columns 1 and 3)")],
        0,
    ),
    "a csv row with a bad date": (
        {"dates.csv": f"text,date\n{ROW_TEXT},2019-06-02\nShelling hit Idlib.,31/31/2019\n"},
        [("dates.csv, row 2", "date '31/31/2019' is not a day")],
        1,
    ),
    "jsonl whose first row has only text": (
        {"rows.jsonl": json.dumps({"text": "Shelling hit Idlib."}) + "\n"
         + json.dumps({"text": ROW_TEXT, "title": "Convoy", "outlet": "Wire", "date": "2019-06-02", "place": "Saraqib"}) + "\n"},
        [],
        2,
    ),
    "jsonl with a mapping place": (
        {"map.jsonl": json.dumps({"text": ROW_TEXT, "place": {"town": "Saraqib"}}) + "\n"},
        [("map.jsonl, row 1", "the place must be text, not a mapping")],
        0,
    ),
    "jsonl nested a thousand deep": ({"deep.jsonl": "[" * 100_000 + "\n"}, [("deep.jsonl, row 1", "nested too deeply")], 0),
    "a lone surrogate in a jsonl title": ({"sur.jsonl": '{"text": "Shelling hit Idlib.", "title": "T\\ud800x"}\n'}, [], 1),
    "an html page with an unreadable date": (
        {"p.html": '<html><head><meta property="article:published_time" content="yesterday"><title>T</title></head>'
                   "<body><p>Shelling hit Ariha on Friday.</p></body></html>"},
        [],
        1,
    ),
    "an html entity bomb": (
        {"e.html": '<!DOCTYPE x [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>'
                   "<html><body><p>Shelling hit Ariha. &b;&b;&b;</p></body></html>"},
        [],
        1,
    ),
    "escape sequences in a title": ({"x.md": front("title: \"\\e[31mRed\\e[0m \\a title\"")}, [], 1),
    "an empty file": ({"empty.txt": b""}, [("empty.txt", "no text to ingest (the file is empty)")], 0),
    "a program renamed .txt": ({"prog.txt": b"\x7fELF\x02\x01\x01" + b"\0" * 64}, [("prog.txt", "a program (ELF)")], 0),
    "utf-16 with a byte order mark": ({"u16.txt": "Shelling hit Ariha on Friday.\n".encode("utf-16")}, [], 1),
}


@pytest.fixture
def hostile(tmp_path, embedder):
    """An index of its own holding the bundled report (cases share texts, so none sees another's)."""
    assistant = Assistant(embedder=embedder, index_dir=tmp_path / "index", auto_ingest_corpus=False)
    assert assistant.ingest([BUNDLED_CORPUS_DIR]).added
    return assistant


def assert_whole_and_answering(assistant: Assistant) -> None:
    """Every listed report is whole (its record's chunk count is what is stored, each chunk's
    sentences are stored), nothing unlisted has parts, and the bundled report still answers."""
    documents = assistant.documents()
    listed = {d.doc_id for d in documents}
    chunks = assistant.store.chunks.get(include=["metadatas"])
    per_doc: dict[str, int] = {}
    for meta in chunks["metadatas"]:
        per_doc[meta["doc_id"]] = per_doc.get(meta["doc_id"], 0) + 1
    assert set(per_doc) == listed, "chunks of unlisted reports, or listed reports without chunks"
    for d in documents:
        assert per_doc[d.doc_id] == d.chunks, d.title
    sentences = {m["doc_id"] for m in assistant.store.collection("sentences").get(include=["metadatas"])["metadatas"]}
    assert sentences == listed
    for mode in ("hybrid", "dense", "bm25"):
        answer = assistant.ask(QUESTION, mode=mode)
        assert "at least 16 civilians" in answer.text, mode
        for c in answer.citations:
            assert assistant.document(c.doc_id).text[c.start : c.end] == c.text


@pytest.mark.parametrize("case", list(CASES))
def test_hostile_input_is_refused_in_one_line_or_lands_and_the_index_stays_whole(hostile, tmp_path, case):
    files, failures, lands = CASES[case]
    folder = tmp_path / "input"
    folder.mkdir()
    for name, content in files.items():
        path = folder / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    before = len(hostile.documents())
    report = hostile.ingest([folder])
    got = [(f.path, f.error) for f in report.failed]
    assert len(got) == len(failures), got
    for (path, error), (name, words) in zip(got, failures):
        assert path == str(folder / name) and error.startswith(str(folder) + "/"), (path, error)  # names the file
        assert words in error and "\n" not in error and "Traceback" not in error, error
    assert len(report.added) == lands, report.summary()
    assert len(hostile.documents()) == before + lands
    assert_whole_and_answering(hostile)


def test_what_hostile_metadata_stores_when_it_lands(hostile, tmp_path):
    folder = tmp_path / "landed"
    folder.mkdir()
    (folder / "l.md").write_text(front("title: [Ariha, shelling]\nplace: [Idlib, Syria]"))
    (folder / "x.md").write_text(front('title: "\\e[31mRed\\e[0m \\a title"', "Floods hit Atmeh on Monday."))
    (folder / "rows.jsonl").write_text(
        json.dumps({"text": "Shelling hit Binnish."}) + "\n"
        + json.dumps({"text": ROW_TEXT, "title": "Convoy", "outlet": "Wire", "date": "8/29/2019", "place": "Saraqib"}) + "\n"
    )
    report = hostile.ingest([folder])
    assert not report.failed
    stored = {d.title: d for d in hostile.documents()}
    assert stored["Ariha, shelling"].place == "Idlib, Syria"
    assert "Red title" in stored  # escape sequences and the bell removed
    convoy = stored["Convoy"]
    assert (convoy.source, convoy.date, convoy.place) == ("Wire", "2019-08-29", "Saraqib")
    assert "Shelling hit Binnish." in stored


def test_a_stop_word_index_answers_with_dense_and_hybrid_falls_back(make_assistant, tmp_path):
    path = tmp_path / "stop.txt"
    path.write_text("To be or not to be.\n")
    assistant = make_assistant()
    assert assistant.ingest([path]).added  # no traceback while the lexical index is built
    snapshot = assistant.store.lexical.snapshot
    assert snapshot.chunks == 1 and snapshot.total_length == 0  # nothing BM25 can index
    for mode in ("dense", "hybrid"):
        answer = assistant.ask("To be or not to be?", mode=mode)
        assert [c.text for c in answer.citations] == ["To be or not to be."], mode
    assert assistant.ask("To be or not to be?", mode="bm25").abstained
