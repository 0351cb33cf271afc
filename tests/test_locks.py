"""The lock order of qa.locks: written once, in its docstring, and held to at run time."""

import re
import threading

import pytest

import qa.locks
from qa.locks import ORDER, LockOrderError, OrderedLock


def test_the_docstring_lists_the_order_the_code_checks():
    listed = re.findall(r"^\d+\. ``([\w-]+)``", qa.locks.__doc__, re.M)
    assert tuple(listed) == ORDER


def test_every_lock_of_the_package_has_its_place_in_the_order():
    from pathlib import Path

    names = set()
    for path in Path(qa.locks.__file__).parent.rglob("*.py"):
        names.update(re.findall(r'OrderedLock\("([\w-]+)"', path.read_text()))
        names.update(re.findall(r'(?:holding|check_order)\("([\w-]+)"', path.read_text()))
    assert names == set(ORDER)


def test_no_lock_of_the_package_is_outside_the_order():
    """Every threading lock is an OrderedLock (the gate's Condition, a documented leaf, aside)."""
    from pathlib import Path

    raw = []
    for path in Path(qa.locks.__file__).parent.rglob("*.py"):
        if path.name != "locks.py":
            raw += [f"{path.name}: {m}" for m in re.findall(r"threading\.(?:R?Lock|Condition|Semaphore)\(\)", path.read_text())]
    assert raw == ["chroma.py: threading.Condition()"]


def test_a_lock_taken_against_the_order_raises(monkeypatch):
    monkeypatch.setenv("QA_CHECK_LOCKS", "1")
    index, sentences = OrderedLock("index", reentrant=True), OrderedLock("cache")
    with index, sentences:  # down the order: fine
        pass
    with sentences:
        with pytest.raises(LockOrderError, match="'index' taken while holding 'cache'"):
            index.acquire()
        assert index.acquire(blocking=False)  # a try never deadlocks: allowed
        index.release()
    with index:
        with index:  # a reentrant lock taken again by its holder
            pass


def test_without_the_check_nothing_is_refused(monkeypatch):
    monkeypatch.setenv("QA_CHECK_LOCKS", "0")
    index, sentences = OrderedLock("index"), OrderedLock("cache")
    with sentences, index:
        pass


def test_the_held_locks_are_per_thread(monkeypatch):
    monkeypatch.setenv("QA_CHECK_LOCKS", "1")
    index, sentences = OrderedLock("index"), OrderedLock("cache")
    errors = []

    def other() -> None:
        try:
            with index:
                pass
        except LockOrderError as exc:  # would mean this thread's holdings leaked into another's
            errors.append(exc)

    with sentences:
        thread = threading.Thread(target=other)
        thread.start()
        thread.join()
    assert not errors


@pytest.mark.slow
def test_questions_during_an_ingest_keep_the_order(make_assistant, tmp_path, monkeypatch):
    """Ingest, asks in threads, a deletion and a look at another process's write: the package's
    real paths through its locks, with the check on (a violation raises in that thread)."""
    monkeypatch.setenv("QA_CHECK_LOCKS", "1")
    assistant = make_assistant()
    folder = tmp_path / "reports"
    folder.mkdir()
    for i in range(6):
        (folder / f"r{i}.txt").write_text(f"Shelling hit the market of town {i} on Monday. {i + 3} people were killed.\n")
    errors: list[BaseException] = []
    done = threading.Event()

    def ask() -> None:
        while not done.is_set():
            try:
                assistant.ask("How many people were killed in the market?")
            except BaseException as exc:  # recorded for the assertion below
                errors.append(exc)
                return

    askers = [threading.Thread(target=ask) for _ in range(2)]
    for thread in askers:
        thread.start()
    try:
        assistant.ingest(folder)
        assistant.store.reopen()
        assistant.delete(assistant.documents()[0].doc_id)
        assistant.store.views.refresh(force=True)
    finally:
        done.set()
        for thread in askers:
            thread.join()
    assert not [e for e in errors if isinstance(e, LockOrderError)], errors
    assert not errors
