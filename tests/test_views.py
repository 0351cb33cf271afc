"""What a process derives from the index (qa.store.views) and the file a folder index keeps it in
(qa.store.saved): read back by the next process with the writes since, never from another index."""

import logging

import pytest

from qa.config import BUNDLED_CORPUS_DIR

pytestmark = pytest.mark.slow

KAFRANBEL = "A convoy of 27 aid trucks reached Kafranbel on Monday, the UN said.\n"
QUESTIONS = [
    "How many civilians were killed in Maarat al Numan?",
    "Which countries agreed to a de-escalation zone?",
    "How many aid trucks reached Kafranbel?",
]


def views_file(assistant):
    return assistant.store.views._saved.path


def spied(assistant, monkeypatch) -> list[str]:
    """The names of the views the assistant's store builds from every record."""
    rebuilt: list[str] = []
    for view in (assistant.store.lexical, assistant.store._groups):
        original = view.rebuild
        monkeypatch.setattr(
            view, "rebuild", lambda view=view, original=original: (rebuilt.append(view.name), original())[1]
        )
    return rebuilt


def searched(assistant) -> list:
    return [assistant.store.lexical.snapshot.search(q, 10) for q in QUESTIONS] + [assistant.groups().groups()]


def test_the_next_process_reads_the_views_back_with_the_writes_since(make_assistant, tmp_path, monkeypatch):
    first = make_assistant()
    first.ingest([BUNDLED_CORPUS_DIR])
    first.warm_up()  # builds the BM25 index and the groups, and keeps them
    assert views_file(first).is_file()

    second = make_assistant()  # another process's view of the same folder
    rebuilt = spied(second, monkeypatch)
    second.warm_up()
    assert rebuilt == [] and searched(second) == searched(first)

    (tmp_path / "kafranbel.txt").write_text(KAFRANBEL)
    first.ingest([tmp_path / "kafranbel.txt"])  # after the file was written
    third = make_assistant()
    rebuilt = spied(third, monkeypatch)
    assert "27 aid trucks" in third.ask("How many aid trucks reached Kafranbel?", mode="bm25").text
    assert rebuilt == [] and searched(third) == searched(first)


def rewritten(path, **meta) -> None:
    """The views' file with some of its record of where it came from changed."""
    import json

    import numpy as np

    with np.load(path, allow_pickle=False) as got:
        arrays = {name: got[name] for name in got.files}
    arrays["meta"] = np.frombuffer(
        json.dumps({**json.loads(arrays["meta"].tobytes()), **meta}).encode(), dtype=np.uint8
    )
    with path.open("wb") as out:
        np.savez(out, **arrays)


@pytest.mark.parametrize(
    "what",
    ["of another index", "newer than the index (a folder put back from an older copy)", "of another format", "damaged"],
)
def test_a_file_that_does_not_fit_the_index_is_never_read(make_assistant, tmp_path, monkeypatch, caplog, what):
    first = make_assistant()
    first.ingest([BUNDLED_CORPUS_DIR])
    first.warm_up()
    saved = views_file(first)
    if what == "damaged":
        saved.write_bytes(saved.read_bytes()[:200])
    else:
        state = first.store.log.read_state()
        change = {"of another index": {"index_id": "0" * 32}, "of another format": {"format": 99}}
        rewritten(saved, **change.get(what, {"seq": state.seq + 5}))
    again = make_assistant()
    rebuilt = spied(again, monkeypatch)
    with caplog.at_level(logging.WARNING, logger="qa.store.saved"):
        again.warm_up()
    assert rebuilt == ["lexical", "groups"], what
    assert searched(again) == searched(first)
    assert ("ignored" in caplog.text) == (what == "damaged")


def test_a_process_that_only_lists_documents_leaves_the_file_alone(make_assistant):
    first = make_assistant()
    first.ingest([BUNDLED_CORPUS_DIR])
    first.warm_up()
    before = views_file(first).stat().st_mtime_ns
    lister = make_assistant()
    assert len(lister.documents()) == 1  # builds the groups alone
    assert views_file(first).stat().st_mtime_ns == before


def test_a_file_older_than_the_journal_reaches_is_not_read(make_assistant, tmp_path, monkeypatch):
    import qa.store.journal as journal

    monkeypatch.setattr(journal, "KEEP", 2)
    monkeypatch.setattr(journal, "_TRIM_EVERY", 1)
    first = make_assistant()
    first.ingest([BUNDLED_CORPUS_DIR])
    first.warm_up()
    for n in range(5):  # five more writes after the file: the journal keeps the last two
        (tmp_path / f"r{n}.txt").write_text(f"A convoy of {n + 20} aid trucks reached Kafranbel{n} on Monday.\n")
        first.ingest([tmp_path / f"r{n}.txt"])
    again = make_assistant()
    rebuilt = spied(again, monkeypatch)
    again.warm_up()
    assert rebuilt == ["lexical", "groups"] and searched(again) == searched(first)


def test_a_document_named_while_its_write_is_still_open_is_read_once_it_closes(make_assistant, tmp_path, monkeypatch):
    """A write names its documents in the journal before it closes its intent (so that a process
    killed in between leaves the intent to settle). A reader that looks in between finds them
    still hidden; it reads them once the intent is gone, though no later record names them."""
    reader = make_assistant()
    reader.ingest([BUNDLED_CORPUS_DIR])
    reader.warm_up()
    writer = make_assistant()
    seen_between = []
    real_touch = writer.store.log.touch

    def touch_then_look(*args, **kwargs):
        real_touch(*args, **kwargs)
        if args and args[0]:  # the write's own record, its intent still open: another process looks
            import threading

            def look() -> None:
                reader.store.views.refresh(force=True)
                seen_between.append(reader.ask("How many aid trucks reached Kafranbel?", mode="bm25").abstained)

            other = threading.Thread(target=look)
            other.start()
            other.join(timeout=120)

    monkeypatch.setattr(writer.store.log, "touch", touch_then_look)
    (tmp_path / "kafranbel.txt").write_text(KAFRANBEL)
    writer.ingest([tmp_path / "kafranbel.txt"])
    assert seen_between == [True], "looked while the write was open, and it was hidden then"
    assert reader.store.views._pending
    reader.store.views.refresh(force=True)
    assert "27 aid trucks" in reader.ask("How many aid trucks reached Kafranbel?", mode="bm25").text
    assert not reader.store.views._pending
