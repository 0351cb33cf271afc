"""The journal: which documents each write changed, read by every process from its own cursor."""

import qa.store.journal as journal_module
from qa.config import IndexSettings
from qa.store import Store
from qa.store.journal import Cursor


def store_at(tmp_path) -> Store:
    return Store.from_settings(IndexSettings(index_dir=tmp_path / "index"))


def test_a_reader_is_told_each_write_once(tmp_path):
    store = store_at(tmp_path)
    first = store.log.changes(Cursor())
    assert first.everything and not first.docs  # nothing read yet: build from everything
    with store.log.writing():
        store.log.touch(["a", "b"])
        store.log.touch([])  # a write that changed no document (a file moved): no record
        store.log.touch(["c"])
    changes = store.log.changes(first.cursor)
    assert changes.docs == {"a", "b", "c"} and not changes.everything
    again = store.log.changes(changes.cursor)
    assert not again and again.cursor.seq == changes.cursor.seq == first.cursor.seq + 3


def test_a_record_written_after_the_state_was_read_waits_for_the_next_look(tmp_path):
    store = store_at(tmp_path)
    cursor = store.log.changes(Cursor()).cursor
    state = store.log.read_state()
    with store.log.writing():
        store.log.touch(["late"])  # lands between this reader's state read and its journal read
    changes = store.log.changes(cursor, state)
    assert not changes.docs  # its view of the index may predate that write
    assert store.log.changes(changes.cursor).docs == {"late"}


def test_two_writes_numbered_alike_are_both_applied_once(tmp_path):
    """Two processes sharing a Chroma server have no write lock between them and may give two
    writes the same number; the second record can land after a reader has read past that number.
    It is read all the same (the last numbers are read again), and neither is read twice."""
    store = store_at(tmp_path)
    cursor = store.log.changes(Cursor()).cursor
    with store.log.writing():
        store.log.touch(["x"])
    seq = store.log.read_state().seq
    first = store.log.changes(cursor)
    assert first.docs == {"x"} and first.cursor.seq == seq
    store.log.journal.record(seq, ["y"], False)  # the other writer's record, the same number, late
    later = store.log.changes(first.cursor)
    assert later.docs == {"y"}
    assert not store.log.changes(later.cursor).docs


def test_a_cursor_of_another_index_or_ahead_of_it_rebuilds(tmp_path):
    """An index deleted and made again under a running process, or a folder put back from an
    older copy: the process's cursor does not fit, and it reads everything again."""
    from dataclasses import replace

    store = store_at(tmp_path)
    with store.log.writing():
        store.log.touch(["a"])
    cursor = store.log.changes(Cursor()).cursor
    assert not store.log.changes(cursor)
    assert store.log.changes(replace(cursor, index="another")).everything
    assert store.log.changes(replace(cursor, seq=cursor.seq + 3)).everything


def test_a_reader_behind_the_kept_records_rebuilds(tmp_path, monkeypatch):
    monkeypatch.setattr(journal_module, "KEEP", 3)
    monkeypatch.setattr(journal_module, "_TRIM_EVERY", 1)
    store = store_at(tmp_path)
    cursor = store.log.changes(Cursor()).cursor
    with store.log.writing():
        for n in range(8):
            store.log.touch([f"doc{n}"])
    assert len(store.collection("journal").get(include=[])["ids"]) <= 5  # trimmed
    assert store.log.changes(cursor).everything  # writes it never saw were trimmed away
    recent = store.log.read_state()
    assert not store.log.changes(Cursor(recent.seq, index=recent.index_id)).everything


def test_a_schema_upgrade_tells_readers_to_rebuild(tmp_path):
    store = store_at(tmp_path)
    cursor = store.log.changes(Cursor()).cursor
    with store.log.writing():
        store.log.touch(everything=True)
    assert store.log.changes(cursor).everything
