"""Which report is which across re-ingests: a report still in the input is never deleted, one
gone from it is removed only when asked (prune), and ingesting twice changes nothing."""

import csv
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from qa.locations import Survey, location_of, reconcile, scopes_of

ROWS = {
    "r0": "An airstrike on Saraqib killed 7 people on Monday.",
    "r1": "An airstrike on Kafr Nabl killed 2 people on Tuesday.",
    "r2": "An airstrike on Binnish killed 3 people on Wednesday.",
}
TEXT_A = "Shelling hit the market in Ariha on Friday, killing 5 civilians.\n"
TEXT_B = "Floods cut the road to the Atmeh camps on Sunday, the Civil Defence said.\n"
TEXT_C = "Aid trucks crossed at Bab al-Hawa on Thursday carrying flour for 40,000 people.\n"


# -- the rule itself ------------------------------------------------------------------------------
def test_reconcile_moves_locations_and_lists_what_nothing_holds():
    before = {"x": ["/r/a.txt"], "y": ["/r/b.txt", "/elsewhere/b.txt"], "z": ["/r/gone.txt"], "w": ["/r/bad.txt"]}
    survey = Survey(scopes={"/r"}, unreadable={"/r/bad.txt"})
    survey.saw("/r/a.txt", "n")  # a.txt now holds a new text
    survey.saw("/r/moved/a.txt", "x")  # and its old text moved
    after, missing = reconcile(before, survey)
    assert after == {"x": ["/r/moved/a.txt"], "y": ["/elsewhere/b.txt"], "z": [], "n": ["/r/a.txt"]}
    assert missing == ["z"]  # y is still elsewhere; w's file could not be read: left as it was


def test_a_folder_scope_covers_what_is_under_it_only():
    assert scopes_of(["/data/reports/a.txt"]) == ["/data/reports/a.txt", "/data/reports", "/data", "/"]
    assert scopes_of(["upload:a.txt"]) == ["upload:a.txt"]
    survey = Survey(scopes={"/data/reports"})
    assert survey.covers("/data/reports/x/y.txt") and not survey.covers("/data/reports-old/y.txt")


# -- through the API ------------------------------------------------------------------------------
def write_rows(path: Path, keys: list[str]) -> None:
    with path.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["text", "title"])
        for key in keys:
            writer.writerow([ROWS[key], f"Strike {key}"])


def listed(assistant) -> dict[str, list[str]]:
    """title -> locations of every listed report."""
    return {d.title: d.locations for d in assistant.documents()}


def token(assistant) -> str:
    return assistant.store.log.read_state()[0]


def test_a_row_inserted_at_the_top_loses_no_report_and_a_rerun_changes_nothing(make_assistant, tmp_path):
    path = tmp_path / "strikes.csv"
    write_rows(path, ["r1", "r2"])
    assistant = make_assistant()
    assert assistant.ingest([path]).summary().startswith("2 added, 0 replaced, 0 unchanged, 0 failed")
    write_rows(path, ["r0", "r1", "r2"])
    assert assistant.ingest([path]).summary().startswith("1 added, 0 replaced, 2 unchanged, 0 failed;")
    assert listed(assistant) == {f"Strike r{n}": [str(path)] for n in range(3)}
    assert "Kafr Nabl killed 2" in assistant.ask("How many people did the airstrike on Kafr Nabl kill?").text
    before = token(assistant)
    again = assistant.ingest([path])
    assert again.summary() == "0 added, 0 replaced, 3 unchanged, 0 failed; 0 chunks written"
    assert token(assistant) == before, "a second run of the same ingest wrote to the index"
    write_rows(path, ["r2", "r0", "r1"])  # reordered
    assert assistant.ingest([path]).summary() == "0 added, 0 replaced, 3 unchanged, 0 failed; 0 chunks written"


def test_a_removed_row_is_kept_and_listed_until_pruned(make_assistant, tmp_path):
    path = tmp_path / "strikes.csv"
    write_rows(path, ["r0", "r1", "r2"])
    assistant = make_assistant()
    ids = dict(zip(["r0", "r1", "r2"], assistant.ingest([path]).added))
    write_rows(path, ["r0", "r2"])
    report = assistant.ingest([path])
    assert report.missing == [ids["r1"]] and not report.removed and len(assistant.documents()) == 3
    assert listed(assistant)["Strike r1"] == []
    assert assistant.ingest([path]).missing == [ids["r1"]]  # still listed, still kept
    pruned = assistant.ingest([path], prune=True)
    assert pruned.removed == [ids["r1"]] and sorted(listed(assistant)) == ["Strike r0", "Strike r2"]
    assert "Kafr Nabl" not in assistant.ask("How many people did the airstrike on Kafr Nabl kill?").text


def test_a_moved_file_with_a_new_file_at_its_old_path_keeps_both(make_assistant, tmp_path):
    folder = tmp_path / "reports"
    folder.mkdir()
    (folder / "old.txt").write_text(TEXT_A)
    assistant = make_assistant()
    (first,) = assistant.ingest([folder]).added
    (folder / "archive").mkdir()
    shutil.move(folder / "old.txt", folder / "archive" / "old.txt")
    (folder / "old.txt").write_text(TEXT_B)
    report = assistant.ingest([folder], prune=True)
    assert report.summary().startswith("1 added, 0 replaced, 1 unchanged, 0 failed;") and not report.removed
    locations = {d.doc_id: d.locations for d in assistant.documents()}
    assert locations == {first: [str(folder / "archive" / "old.txt")], report.added[0]: [str(folder / "old.txt")]}
    assert "5 civilians" in assistant.ask("How many civilians were killed in Ariha?").text


def test_renamed_copied_and_deleted_files(make_assistant, tmp_path):
    folder = tmp_path / "reports"
    folder.mkdir()
    (folder / "a.txt").write_text(TEXT_A)
    assistant = make_assistant()
    (doc_id,) = assistant.ingest([folder]).added
    (folder / "a.txt").rename(folder / "b.txt")  # renamed
    report = assistant.ingest([folder], prune=True)
    assert report.unchanged == [doc_id] and not report.removed
    (only,) = assistant.documents()
    assert only.locations == [str(folder / "b.txt")] and only.path == str(folder / "b.txt")
    shutil.copy(folder / "b.txt", folder / "c.txt")  # copied: one report, two locations
    assert assistant.ingest([folder]).summary().startswith("0 added, 0 replaced, 1 unchanged, 0 failed, 1 repeated")
    assert assistant.documents()[0].locations == [str(folder / "b.txt"), str(folder / "c.txt")]
    (folder / "b.txt").unlink()  # one copy deleted: the other still holds it
    assert assistant.ingest([folder], prune=True).removed == []
    (folder / "c.txt").unlink()
    (folder / "other.txt").write_text(TEXT_C)
    report = assistant.ingest([folder])  # the last copy deleted: missing, kept
    assert report.missing == [doc_id] and len(assistant.documents()) == 2
    assert assistant.ingest([folder], prune=True).removed == [doc_id]


def test_two_files_with_one_text_then_one_edited(make_assistant, tmp_path):
    folder = tmp_path / "reports"
    folder.mkdir()
    (folder / "a.txt").write_text(TEXT_A)
    (folder / "b.txt").write_text(TEXT_A)
    assistant = make_assistant()
    first = assistant.ingest([folder])
    assert len(first.added) == 1 and len(first.duplicates) == 1
    (folder / "a.txt").write_text(TEXT_C)
    report = assistant.ingest([folder], prune=True)
    assert len(report.added) == 1 and report.unchanged == first.added and not report.removed and not report.missing
    assert listed(assistant) == {
        TEXT_A.strip(): [str(folder / "b.txt")],
        TEXT_C.strip(): [str(folder / "a.txt")],
    }


def test_a_file_edited_and_back_again(make_assistant, tmp_path):
    path = tmp_path / "report.txt"
    path.write_text(TEXT_A)
    assistant = make_assistant()
    (a,) = assistant.ingest([path]).added
    path.write_text(TEXT_B)
    (b,) = assistant.ingest([path]).added
    path.write_text(TEXT_A)  # back to the first text: the kept report is found again
    report = assistant.ingest([path])
    assert report.unchanged == [a] and report.missing == [b] and not report.added
    assert {d.doc_id: d.locations for d in assistant.documents()} == {a: [str(path)], b: []}
    assert assistant.ingest([path], prune=True).removed == [b]
    assert [d.doc_id for d in assistant.documents()] == [a]


def test_what_an_ingest_does_not_cover_or_cannot_read_is_left_alone(make_assistant, tmp_path):
    folder = tmp_path / "reports"
    folder.mkdir()
    for name, text in (("a.txt", TEXT_A), ("b.txt", TEXT_B), ("c.txt", TEXT_C)):
        (folder / name).write_text(text)
    assistant = make_assistant()
    assert len(assistant.ingest([folder]).added) == 3
    (folder / "b.txt").unlink()
    assert assistant.ingest([folder / "a.txt"], prune=True).removed == []  # one file given: b.txt is not its business
    (folder / "c.txt").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 64)  # c.txt now unreadable
    report = assistant.ingest([folder], prune=True)
    assert [f.path for f in report.failed] == [str(folder / "c.txt")]
    assert len(report.removed) == 1 and len(assistant.documents()) == 2  # b's report only; c's is kept
    assert listed(assistant)[TEXT_C.strip()] == [str(folder / "c.txt")]


def test_a_collection_with_a_bad_row_keeps_what_it_held(make_assistant, tmp_path):
    path = tmp_path / "strikes.csv"
    write_rows(path, ["r0", "r1"])
    assistant = make_assistant()
    assistant.ingest([path])
    path.write_text(f'text,title\n"{ROWS["r0"]}",Strike r0\n"unclosed,Strike r1\n')
    report = assistant.ingest([path], prune=True)
    assert report.failed and not report.removed and len(assistant.documents()) == 2


def test_an_upload_of_a_stored_text_adds_a_location_and_never_removes_anything(make_assistant, tmp_path):
    path = tmp_path / "a.txt"
    path.write_text(TEXT_A)
    assistant = make_assistant()
    (doc_id,) = assistant.ingest([path]).added
    copy = tmp_path / "tmp-upload" / "0-a.txt"
    copy.parent.mkdir()
    copy.write_text(TEXT_A)
    report = assistant.ingest([copy], names={str(copy): "upload:a.txt"}, prune=True)
    assert report.unchanged == [doc_id] and not report.removed
    assert assistant.documents()[0].locations == [str(path), "upload:a.txt"]


def test_the_same_declared_id_in_two_files_is_refused_not_overwritten(make_assistant, tmp_path):
    (tmp_path / "one.md").write_text("---\nid: convoy-7\n---\n" + TEXT_C)
    (tmp_path / "two.md").write_text("---\nid: convoy-7\n---\n" + TEXT_A)
    assistant = make_assistant()
    assistant.ingest([tmp_path / "one.md"])
    report = assistant.ingest([tmp_path / "two.md"])
    (failure,) = report.failed
    assert "id 'convoy-7' is already stored from" in failure.error and str(tmp_path / "one.md") in failure.error
    assert assistant.document("convoy-7").text == TEXT_C
    (tmp_path / "one.md").write_text("---\nid: convoy-7\n---\n" + TEXT_B)  # edited where it lives: rewritten
    assert assistant.ingest([tmp_path / "one.md"]).replaced == ["convoy-7"]
    assert assistant.document("convoy-7").text == TEXT_B


def test_an_index_written_before_locations_and_kinds_is_upgraded_in_place(make_assistant, tmp_path, monkeypatch):
    from qa.store import Store

    monkeypatch.chdir(tmp_path)
    Path("reports").mkdir()
    Path("reports/a.txt").write_text(TEXT_A)
    assistant = make_assistant()
    (doc_id,) = assistant.ingest(["reports"]).added
    # As an older version left it: schema 2, a relative path, no locations, chunks without kinds.
    docs = assistant.store.collection("docs")
    docs.update(ids=[doc_id], metadatas=[{"path": "reports/a.txt", "locations": None, "scopes": None}])
    chunks = assistant.store.chunks.get(include=["metadatas"])
    kinds = {i: m["kinds"] for i, m in zip(chunks["ids"], chunks["metadatas"])}
    assistant.store.chunks.update(ids=list(kinds), metadatas=[{"kinds": None}] * len(kinds))
    state = assistant.store.collection("state")
    state.upsert(ids=["state"], embeddings=[[1.0]], metadatas=[{"schema": 2, "token": "old"}])
    assistant.store.reopen()
    fresh = Store.from_settings(assistant.settings.index)
    (doc,) = fresh.documents()
    assert doc.locations == [str(tmp_path / "reports" / "a.txt")] and fresh.located([str(tmp_path / "reports")])
    upgraded = fresh.chunks.get(include=["metadatas"])
    assert {i: m["kinds"] for i, m in zip(upgraded["ids"], upgraded["metadatas"])} == kinds
    fresh.reopen()


def test_cli_ingest_lists_what_is_missing_and_prunes_on_request(tmp_path):
    path = tmp_path / "strikes.csv"
    write_rows(path, ["r0", "r1", "r2"])
    env = {**os.environ, "QA_INDEX_DIR": str(tmp_path / "index")}

    def ingest(*args):
        return subprocess.run([sys.executable, "-m", "qa.cli", "ingest", *args], capture_output=True, text=True, env=env, timeout=300)

    assert ingest(str(path)).returncode == 0
    write_rows(path, ["r0", "r2"])
    done = ingest(str(path))
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "0 added, 0 replaced, 2 unchanged, 0 failed, 1 no longer in the input (kept; ingest with --prune to remove); 0 chunks written"
    assert lines[1].startswith("  no longer in the input, kept: ") and "Strike r1" in lines[1] and f"{path}#" in lines[1]
    pruned = json.loads(ingest("--prune", "--json", str(path)).stdout)
    assert len(pruned["removed"]) == 1 and pruned["missing"] == []
    docs = json.loads(subprocess.run([sys.executable, "-m", "qa.cli", "docs", "--json"], capture_output=True, text=True, env=env).stdout)
    assert sorted(d["title"] for d in docs) == ["Strike r0", "Strike r2"]
    assert all(d["locations"] == [str(path)] for d in docs)


@pytest.mark.parametrize("name", ["a.txt", "sub/a.txt"])
def test_location_keys_are_absolute_paths(tmp_path, monkeypatch, name):
    monkeypatch.chdir(tmp_path)
    assert location_of(name) == str(tmp_path / name)


# -- cases a review found: order, skipped files, unreadable folders, two processes ------------------
def test_a_declared_id_clash_keeps_the_stored_version_whatever_the_order(make_assistant, tmp_path):
    folder = tmp_path / "reports"
    folder.mkdir()
    (folder / "b.md").write_text("---\nid: convoy-7\n---\n" + TEXT_A)
    assistant = make_assistant()
    assistant.ingest([folder])
    (folder / "a.md").write_text("---\nid: convoy-7\n---\n" + TEXT_B)  # read before b.md
    report = assistant.ingest([folder], prune=True)
    assert [f.path for f in report.failed] == [str(folder / "a.md")] and "another file of this ingest" in report.failed[0].error
    assert not report.removed and not report.missing and assistant.document("convoy-7").text == TEXT_A
    # Moved away, with a new text at its old path: the archived version is the one kept.
    (folder / "a.md").unlink()
    (folder / "archive").mkdir()
    shutil.move(folder / "b.md", folder / "archive" / "b.md")
    (folder / "b.md").write_text("---\nid: convoy-7\n---\n" + TEXT_C)
    report = assistant.ingest([folder], prune=True)
    assert [f.path for f in report.failed] == [str(folder / "b.md")] and not report.removed
    assert assistant.document("convoy-7").text == TEXT_A
    assert assistant.document("convoy-7").locations == [str(folder / "archive" / "b.md")]


def test_an_id_column_row_inserted_with_a_used_id_is_refused(make_assistant, tmp_path):
    path = tmp_path / "rows.csv"
    path.write_text(f"id,text\nr1,{ROWS['r1']}\nr2,{ROWS['r2']}\n")
    assistant = make_assistant()
    assistant.ingest([path])
    path.write_text(f"id,text\nr1,{ROWS['r0']}\nr1,{ROWS['r1']}\nr2,{ROWS['r2']}\n")
    report = assistant.ingest([path], prune=True)
    assert [f.path for f in report.failed] == [f"{path}, row 1"] and not report.removed
    assert assistant.document("r1").text == ROWS["r1"]


def test_files_a_folder_walk_skips_are_not_judged_gone(make_assistant, tmp_path):
    folder = tmp_path / "reports"
    (folder / ".drafts").mkdir(parents=True)
    (folder / ".drafts" / "d.txt").write_text(TEXT_A)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "x.txt").write_text(TEXT_B)
    (folder / "linked").symlink_to(elsewhere, target_is_directory=True)
    (folder / "README.txt").write_text(TEXT_C)
    (folder / "main.txt").write_text("Shelling hit Kafranbel on Monday.\n")
    assistant = make_assistant()
    for path in (folder / ".drafts" / "d.txt", folder / "linked" / "x.txt", folder / "README.txt"):
        assert assistant.ingest([path]).added  # each named directly
    report = assistant.ingest([folder], prune=True)  # the walk skips all three
    assert len(report.added) == 1 and not report.removed and len(assistant.documents()) == 4


def test_what_is_under_an_unreadable_folder_is_left_as_it_was():
    survey = Survey(scopes={"/r"}, unreadable={"/r/sub"}, exists=lambda path: False)
    assert not survey.covers("/r/sub/a.txt") and not survey.covers("/r/sub") and survey.covers("/r/gone.txt")
    after, missing = reconcile({"x": ["/r/sub/a.txt"], "y": ["/r/gone.txt"]}, survey)
    assert missing == ["y"] and "x" not in after


def _moving_report(tmp_path):
    """d1 with a.txt (and another report, so d1 stays a folder of reports: an empty one is not
    judged) and an empty d2 that a.txt will move to."""
    first, second = tmp_path / "d1", tmp_path / "d2"
    first.mkdir()
    second.mkdir()
    (first / "a.txt").write_text(TEXT_A)
    (first / "other.txt").write_text(TEXT_C)
    return first, second


def test_a_prune_in_one_process_never_removes_what_another_has_just_found(make_assistant, tmp_path, monkeypatch):
    from qa.ingest import IngestBatch

    first, second = _moving_report(tmp_path)
    pruner, finder = make_assistant(), make_assistant()  # two Assistants: as two processes on one index
    doc_id = pruner.ingest([first]).added[0]
    (first / "a.txt").unlink()  # gone from d1 ...
    (second / "a.txt").write_text(TEXT_A)  # ... and found in d2, by the other one
    flush = IngestBatch.flush
    pruned = []

    def prune_between_finding_and_recording(batch):
        if batch.assistant is finder and not pruned:
            pruned.append(pruner.ingest([first], prune=True).removed)  # lands between the two
        return flush(batch)

    monkeypatch.setattr(IngestBatch, "flush", prune_between_finding_and_recording)
    report = finder.ingest([second])
    assert pruned == [[doc_id]]  # the pruner removed it, not knowing the finder had just found it ...
    assert report.added == [doc_id] and report.unchanged == []  # ... so the finder stored it again
    assert finder.document(doc_id).locations == [str(second / "a.txt")]
    monkeypatch.setattr(IngestBatch, "flush", flush)
    assert pruner.ingest([first], prune=True).removed == []  # and a later prune leaves it: d2 holds it


def test_a_found_report_is_recorded_before_another_process_can_prune_it(make_assistant, tmp_path, monkeypatch):
    from qa.store import Store

    first, second = _moving_report(tmp_path)
    pruner, finder = make_assistant(), make_assistant()
    doc_id = pruner.ingest([first]).added[0]
    (first / "a.txt").unlink()
    (second / "a.txt").write_text(TEXT_A)
    settle = Store.settle_locations
    pruned = []

    def prune_before_settling(store, *args, **kwargs):
        if store is finder.store and not pruned:
            pruned.append(pruner.ingest([first], prune=True).removed)  # after the finder's flush
        return settle(store, *args, **kwargs)

    monkeypatch.setattr(Store, "settle_locations", prune_before_settling)
    assert finder.ingest([second]).unchanged == [doc_id]
    assert pruned == [[]]  # the finder had already recorded d2: nothing to prune
    assert finder.document(doc_id).locations == [str(second / "a.txt")]


def test_nothing_is_written_twice_by_the_same_ingest(make_assistant, tmp_path):
    folder = tmp_path / "reports"
    folder.mkdir()
    (folder / "stars.txt").write_text("* * *\n")  # no sentences: refused every time
    (folder / "a.txt").write_text(TEXT_A)
    assistant = make_assistant()
    assistant.ingest([folder])
    before = token(assistant)
    again = assistant.ingest([folder])
    assert len(again.failed) == 1 and token(assistant) == before
    copies = tmp_path / "copies"
    copies.mkdir()
    for name in ("b.txt", "c.txt"):
        (copies / name).write_text(TEXT_B)
    for _ in range(2):  # one file, then the other, then again: the second round writes nothing
        assistant.ingest([copies / "b.txt"])
        assistant.ingest([copies / "c.txt"])
    before = token(assistant)
    assistant.ingest([copies / "b.txt"])
    assistant.ingest([copies / "c.txt"])
    assert token(assistant) == before


def test_a_renamed_file_with_corrected_fields_is_updated_in_one_ingest(make_assistant, tmp_path):
    folder = tmp_path / "reports"
    folder.mkdir()
    (folder / "a.md").write_text("---\ntitle: Ariha shelling\n---\n" + TEXT_A)
    assistant = make_assistant()
    (doc_id,) = assistant.ingest([folder]).added
    (folder / "a.md").unlink()
    (folder / "b.md").write_text("---\ntitle: Shelling in Ariha\n---\n" + TEXT_A)  # same text, new title, new name
    report = assistant.ingest([folder], prune=True)
    assert report.replaced == [doc_id] and not report.failed and not report.removed
    (doc,) = assistant.documents()
    assert doc.title == "Shelling in Ariha" and doc.locations == [str(folder / "b.md")]


def test_the_same_text_with_other_fields_in_two_files_keeps_both_locations(make_assistant, tmp_path):
    folder = tmp_path / "reports"
    folder.mkdir()
    (folder / "a.md").write_text("---\ntitle: One title\n---\n" + TEXT_A)
    (folder / "b.md").write_text("---\ntitle: Another title\n---\n" + TEXT_A)
    assistant = make_assistant()
    report = assistant.ingest([folder])
    assert len(report.added) == 1 and [f.path for f in report.failed] == [str(folder / "b.md")]
    (doc,) = assistant.documents()
    assert doc.locations == [str(folder / "a.md"), str(folder / "b.md")]
    (folder / "a.md").unlink()
    assert assistant.ingest([folder], prune=True).removed == []  # b.md still holds the text


def test_a_large_prune_is_removed_in_bounded_writes(make_assistant, tmp_path, monkeypatch):
    import qa.store.store

    monkeypatch.setattr(qa.store.store, "DELETE_BATCH", 2)
    path = tmp_path / "strikes.csv"
    write_rows(path, ["r0", "r1", "r2"])
    assistant = make_assistant()
    assistant.ingest([path])
    path.write_text("text,title\nSomething else happened in Idlib.,Other\n")
    report = assistant.ingest([path], prune=True)
    assert len(report.removed) == 3 and [d.title for d in assistant.documents()] == ["Other"]
    assert assistant.store.log.read_state()[1] == {}  # every intent closed
