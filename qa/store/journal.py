"""Which documents each write changed, so that what a process derives from the index (its BM25
index, the groups of near-duplicate reports, a timeline's statements, cached sentence vectors)
is brought up to date by re-reading those documents alone, in this process and in every other
process sharing the index, instead of re-reading everything.

Every write numbers itself (`seq` in the state record, see WriteLog.touch) and, when it added,
replaced or removed documents, records their ids in the `journal` collection under that number.
A write that only records where documents are (their locations and last path, which no view
reads) names none: re-reading a moved folder's reports in every process would cost much and
change nothing.
A reader keeps a `Cursor`, its place in the journal, and asks `Journal.since(cursor)` which
documents changed after it: it re-reads each of them as the index holds it now (present or
gone), which gives the same result whatever order, or how many times, changes are applied.

Only the newest KEEP records are kept; a reader that fell further behind, or that has never
read anything, is told to rebuild from everything (`Changes.everything`). The state record says
which are kept before the older ones are deleted, and a reader reads it again after the
journal, so one that read the journal while it was being trimmed is told to rebuild too. Two processes sharing
a Chroma server (no write lock between them) may number two writes alike; the records differ by
id, and readers read the last OVERLAP numbers again, leaving out the records they have applied.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .chroma import Chroma
    from .writelog import State

KEEP = 2000  # journal records kept (each names the documents of one write)
OVERLAP = 16  # numbers read again (see the module docstring)
_TRIM_EVERY = 100  # records trimmed at once, so that most writes delete nothing


@dataclass(frozen=True)
class Cursor:
    """A reader's place in the journal: the index it read (its id, see WriteLog.touch), the last
    number it has read up to (None: nothing read yet) and the ids of the records among the last
    OVERLAP numbers that it has applied."""

    seq: int | None = None
    applied: frozenset[str] = frozenset()
    index: str = ""


@dataclass(frozen=True)
class Changes:
    """What changed after a cursor: the documents to re-read, or `everything` (rebuild), and the
    cursor to keep once they are applied."""

    docs: frozenset[str]
    everything: bool
    cursor: Cursor = field(default_factory=Cursor)

    def __bool__(self) -> bool:
        return self.everything or bool(self.docs)


class Journal:
    """The journal collection of one index (see the module docstring)."""

    def __init__(self, chroma: Chroma) -> None:
        self._chroma = chroma

    def record(self, seq: int, docs: Iterable[str], everything: bool) -> None:
        """Record that write `seq` changed `docs` (or everything: a schema upgrade)."""
        docs = sorted(set(docs))
        if docs or everything:
            self._chroma.collection("journal").upsert(
                ids=[f"{seq:012d}:{uuid.uuid4().hex[:8]}"],
                embeddings=[[1.0]],
                metadatas=[{"seq": seq, "docs": json.dumps(docs), "everything": everything}],
            )

    def newest_at(self, seq: int) -> str:
        """The id of the newest record at or before write `seq` ("" where there is none)."""
        journal = self._chroma.collection("journal")
        return max(self._chroma.read(lambda: journal.get(where={"seq": {"$lte": seq}}, include=[]))["ids"], default="")

    def holds(self, record_id: str) -> bool:
        """Whether the journal holds this record."""
        journal = self._chroma.collection("journal")
        return bool(self._chroma.read(lambda: journal.get(ids=[record_id], include=[]))["ids"])

    @staticmethod
    def kept_from(seq: int, kept_from: int) -> int:
        """The first number to keep once write `seq` is recorded (the oldest go KEEP at a time past
        _TRIM_EVERY)."""
        return seq - KEEP if seq - kept_from >= KEEP + _TRIM_EVERY else kept_from

    def trim(self, kept_from: int) -> None:
        """Delete the records before `kept_from` (after the state record says so: see WriteLog.touch)."""
        self._chroma.collection("journal").delete(where={"seq": {"$lt": kept_from}})

    def since(self, cursor: Cursor, state: State) -> Changes:
        """The changes after `cursor` up to the index's state as the caller read it (its view of
        the index holds every write up to `state.seq`; later records are left for the next call).
        A cursor of another index (deleted and made again), from a later number than the index has
        (a folder put back from a copy) or behind the records kept is told to rebuild."""
        rebuild = (
            cursor.seq is None
            or cursor.index != state.index_id
            or cursor.seq > state.seq
            or cursor.seq + 1 < state.kept_from
        )
        if rebuild:  # everything is read anew: every record up to `state.seq` counts as applied
            cursor = Cursor(state.seq, index=state.index_id)
        assert cursor.seq is not None
        low = cursor.seq - OVERLAP
        got = self._chroma.read(
            lambda: self._chroma.collection("journal").get(where={"seq": {"$gt": low}}, include=["metadatas"])
        )
        docs: set[str] = set()
        everything = False
        numbers: dict[str, int] = {}
        for record_id, meta in zip(got["ids"], got["metadatas"]):
            number = int(meta["seq"])
            if number > state.seq:
                continue
            numbers[record_id] = number
            if not rebuild and record_id not in cursor.applied:
                everything |= bool(meta.get("everything"))
                docs.update(json.loads(str(meta.get("docs") or "[]")))
        newest = max(state.seq, cursor.seq)
        applied = frozenset(i for i, n in numbers.items() if n > newest - OVERLAP)
        return Changes(frozenset(docs), everything or rebuild, Cursor(newest, applied, state.index_id))
