"""The locks of one process, and the one order they are taken in.

Each lock has one owner, the class that creates it; others take it only through that owner.
A thread holding a lock may take only locks further down this list, never one above it:

1. ``assistant``: `Assistant` (reentrant), one ingest or deletion at a time in a process.
2. ``views``: `Views` (qa.store.views), one build or update at a time of what the process
   derives from the index (the BM25 index, the groups, the statements); held across the reads
   from Chroma an update needs, which is its purpose. Questions never wait for it: one that
   finds it taken searches the current snapshots (only the first build, and a refresh after
   this process wrote, wait). It is also held while the look for other processes' writes may
   reopen the Chroma client (Store.changes) and settle a dead process's write (WriteLog.recover).
   (A read that finds its view stale reopens it from any thread, Chroma.read: the gate keeps
   calls in flight on the old client.)
3. ``write-file``: `WriteLog`, a folder index's lock file (`qa-write.lock`, through filelock):
   one writing process at a time. The kernel frees it when its process dies. A fresh open of
   the index tries it without waiting under ``index``, to settle a dead process's write (a try
   never deadlocks, so it is not held to the order).
4. ``index``: `Chroma` (reentrant), held while the client or its collections change and for
   a whole write (a reopen must not swap the client under a write). It is held across Chroma
   calls: that is its purpose.
5. ``embedder``: `Embedder`, loading the model once (held across the load: the others wait for it).
6. ``cache``: `RecordCache` (qa.store.cache), each cache of sentence vectors, chunks or claims
   (never held across I/O, and a cache never calls another).
7. ``login``: `LoginThrottle` (the web app), its count of failed logins (never held across I/O).

`_Gate` in qa.store.chroma (a Condition) is taken only with nothing else acquired under it.
With QA_CHECK_LOCKS=1 (the tests set it) a lock taken out of this order raises LockOrderError.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

ORDER = ("assistant", "views", "write-file", "index", "embedder", "cache", "login")

_held = threading.local()


class LockOrderError(RuntimeError):
    """A lock was taken while a lock further down ORDER was held (a possible deadlock)."""


def checking() -> bool:
    return os.environ.get("QA_CHECK_LOCKS") == "1"


def _stack() -> list[str]:
    if not hasattr(_held, "names"):
        _held.names = []
    return _held.names


def check_order(name: str) -> None:
    """Raise LockOrderError if this thread holds a lock that comes after `name` in ORDER."""
    rank = ORDER.index(name)
    later = [held for held in _stack() if ORDER.index(held) > rank]
    if later:
        raise LockOrderError(f"lock {name!r} taken while holding {later[-1]!r} (the order is {' > '.join(ORDER)})")


@contextmanager
def holding(name: str, blocking: bool = True) -> Iterator[None]:
    """Note that this thread holds the lock `name` (taken by the caller) for the order check."""
    if blocking and checking():
        check_order(name)
    _stack().append(name)
    try:
        yield
    finally:
        _stack().pop()


class OrderedLock:
    """A threading lock with its place in ORDER; reentrant ones may be taken again by their holder."""

    def __init__(self, name: str, reentrant: bool = False) -> None:
        if name not in ORDER:
            raise ValueError(f"unknown lock {name!r}: add it to qa.locks.ORDER")
        self.name = name
        self._lock: Any = threading.RLock() if reentrant else threading.Lock()
        self._reentrant = reentrant

    def acquire(self, blocking: bool = True) -> bool:
        again = self._reentrant and self.name in _stack()
        if blocking and not again and checking():
            check_order(self.name)
        got = self._lock.acquire(blocking)
        if got:
            _stack().append(self.name)
        return got

    def release(self) -> None:
        stack = _stack()
        stack.reverse()
        stack.remove(self.name)
        stack.reverse()
        self._lock.release()

    def __enter__(self) -> OrderedLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
