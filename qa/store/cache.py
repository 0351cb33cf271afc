"""Bounded in-process caches of what questions read from Chroma again and again (sentence vectors,
chunks, a document's claims), shared by the threads asking questions."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import Any

from ..locks import OrderedLock


class RecordCache:
    """Records by id (a sentence's vector, a chunk, a document's claims), the least recently used
    dropped past `size`. An id is a document's own, or starts with it and a colon (its sentences
    "{doc_id}:s{n}", its chunks "{doc_id}:{n}"), so that a document's records are forgotten together.

    Questions in parallel threads read and fill it while a write in another thread forgets parts
    of it: its lock (``cache`` in qa.locks) is never held during a Chroma read, and an epoch
    counts forgets, so vectors read before one are not cached after it.
    """

    def __init__(self, size: int) -> None:
        self._size = size
        self._vectors: OrderedDict[str, Any] = OrderedDict()
        self._lock = OrderedLock("cache")
        self._epoch = 0

    def get(self, ids: list[str], read: Callable[[list[str]], dict[str, Any]]) -> dict[str, Any]:
        """The records of `ids`: cached ones, and those `read(missing ids)` returns (then cached)."""
        found: dict[str, Any] = {}
        missing = []
        with self._lock:
            epoch = self._epoch
            for sid in ids:
                vector = self._vectors.get(sid)
                if vector is None:
                    missing.append(sid)
                else:
                    found[sid] = vector
                    self._vectors.move_to_end(sid)
        if missing:
            got = read(missing)
            found.update(got)
            with self._lock:
                if epoch == self._epoch:  # else a document changed meanwhile: these may be stale
                    self._vectors.update(got)
                    while len(self._vectors) > self._size:
                        self._vectors.popitem(last=False)
        return found

    def forget(self, doc_ids: str | Iterable[str] | None = None) -> None:
        """Drop cached records: those of one document or several, or all of them."""
        with self._lock:
            self._epoch += 1
            if doc_ids is None:
                self._vectors.clear()
                return
            docs = {doc_ids} if isinstance(doc_ids, str) else set(doc_ids)
            for key in [k for k in self._vectors if k in docs or k.rsplit(":", 1)[0] in docs]:
                del self._vectors[key]
