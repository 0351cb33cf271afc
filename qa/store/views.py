"""What a process derives from the index, kept up to date document by document.

Three views are derived from what Chroma stores: the BM25 index (qa.lexical), the groups of
near-duplicate reports (qa.groups) and every document's claims and events (for timelines).
Each is built from every record on first use; after that, `Views.refresh` reads the journal
(qa.store.journal) for the documents written since, by this process or any other, and each
view re-reads just those documents as the index holds them now. A view publishes a new
immutable snapshot per change, which questions use without a lock.

Documents that a write in progress (or cut short) names are left out when a view reads them;
that write's journal record names them again when it ends.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any, Protocol

from ..locks import OrderedLock
from . import records
from .chroma import first_line
from .journal import Cursor
from .saved import SavedViews

if TYPE_CHECKING:
    from ..documents import Document
    from ..groups import GroupIndex, Groups
    from ..lexical import ChunkRecord, LexicalIndex, Snapshot
    from ..statements import Claim, Event
    from .store import Store

    Statements = dict[str, tuple[Document, list[Claim], list[Event]]]

logger = logging.getLogger(__name__)

CHECK_EVERY_S = 1.0  # how often questions look for other processes' writes
# Documents changed before the views' file is written again: the next process re-reads at most
# about this many (a millisecond or two each) where the file is behind.
SAVE_AFTER = 500
_IDS_PER_READ = 500  # documents named in one Chroma read (its SQLite takes ~32k variables)
# Chunks read at once when building from everything: a read of 20,000 (text and metadata) took
# 750 MB while it lasted, at 100k chunks; 5,000 take a quarter and no longer in all.
_CHUNKS_PER_READ = 5000


class View(Protocol):
    """Something derived from the index's documents (see the module docstring). A view with a
    `name` is kept on disk with a folder index (qa.store.saved) through `arrays` and `restore`."""

    name: str | None

    def rebuild(self) -> None:
        """Build anew from every stored document."""

    def update(self, doc_ids: frozenset[str]) -> None:
        """Re-read these documents as the index holds them now (present, changed or gone)."""

    def arrays(self) -> dict[str, Any]:
        """The view as named numpy arrays (views with a name)."""

    def restore(self, arrays: dict[str, Any]) -> None:
        """Become the view `arrays` hold (views with a name)."""


class Views:
    """The views of one Store, and the journal cursor they have all applied up to.

    One thread at a time builds or updates them (the ``views`` lock, held across the reads from
    Chroma that an update needs, and the writing of the views' file: that is its purpose); a
    question that finds another thread updating goes on with the current snapshots rather than
    wait. With a folder index, views with a name are read back from the file the last process
    left (qa.store.saved) and written there again after a build and every SAVE_AFTER documents.
    """

    def __init__(self, store: Store, saved: SavedViews | None, kept: tuple[str, ...] = ("lexical", "groups")) -> None:
        """`kept`: the names of the views the file holds; a process writes it only once it has
        built them all (a process that only lists documents builds the groups alone)."""
        self._store = store
        self._saved = saved
        self._kept = set(kept)
        self._lock = OrderedLock("views")  # see qa.locks
        self._built: list[View] = []
        self._cursor = Cursor()
        self._checked_at = float("-inf")
        self._unsaved = 0  # documents changed since the file was written
        self._loaded: tuple[Cursor, dict[str, dict[str, Any]]] | None = (
            None  # the file, until every view in it is built
        )

    def build(self, view: View) -> None:
        """Build a view (from the views' file and the writes since, or from every stored document)
        and keep it up to date from now on (waits for an update in progress)."""
        with self._lock:
            if view in self._built:
                return
            if not self._built:  # the first view: everything read from here on is current
                self._cursor = self._store.changes(self._cursor).cursor
                if self._saved is not None and self._store.log.last_state is not None:
                    self._loaded = self._saved.load(self._store.log.last_state)
            started = time.monotonic()
            restored = self._restore(view)
            if not restored:
                view.rebuild()
            self._built.append(view)
            release_memory()
            logger.info(
                "built %s in %.2f s (%s)",
                type(view).__name__,
                time.monotonic() - started,
                restored or "from every record",
            )
            if view.name is not None and restored != "from the views' file":
                self._save()

    def _restore(self, view: View) -> str:
        """Restore the view from the loaded file and the writes since it was written; how, or "" if it could not."""
        if self._loaded is None or view.name is None or view.name not in self._loaded[1]:
            return ""
        cursor, arrays = self._loaded
        try:
            view.restore(arrays[view.name])
        except Exception as exc:  # noqa: BLE001 - a file that does not fit this version: built anew
            logger.warning(
                "could not read the saved %s back (%s: %s); building it anew", view.name, type(exc).__name__, exc
            )
            return ""
        if set(arrays) <= {b.name for b in self._built} | {view.name}:
            self._loaded = None  # every view in it is built: let the arrays go
        changes = self._store.changes(cursor)
        if changes.everything:
            view.rebuild()
            return "from every record (the views' file was too old for the journal)"
        if changes.docs:
            view.update(changes.docs)
            return f"from the views' file and {len(changes.docs)} document(s) written since"
        return "from the views' file"

    def _save(self) -> None:
        if self._saved is None or self._store.log.last_state is None:
            return
        named = {view.name: view.arrays() for view in self._built if view.name in self._kept}
        if set(named) != self._kept:
            return
        started = time.monotonic()
        if self._saved.save(self._store.log.last_state, self._cursor, named):
            self._unsaved = 0
            logger.info("kept the views in %s in %.2f s", self._saved.path, time.monotonic() - started)

    def refresh(self, force: bool = False) -> None:
        """Apply the documents written since the last refresh to every built view.

        Without `force` this looks at most once every CHECK_EVERY_S and never waits for another
        thread's refresh; with it (after this process wrote), it waits and looks now.
        """
        now = time.monotonic()
        if not force and now - self._checked_at < CHECK_EVERY_S:
            return
        if not self._lock.acquire(blocking=force):
            return
        try:
            self._checked_at = time.monotonic()
            changes = self._store.changes(self._cursor)
            if changes:
                started = time.monotonic()
                for view in self._built:
                    view.rebuild() if changes.everything else view.update(changes.docs)
                if changes.everything:
                    release_memory()
                logger.info(
                    "views updated for %s in %.2f s",
                    "every document" if changes.everything else f"{len(changes.docs)} document(s)",
                    time.monotonic() - started,
                )
            self._cursor = changes.cursor
            self._unsaved += SAVE_AFTER if changes.everything else len(changes.docs)
            if changes and self._unsaved >= SAVE_AFTER:
                self._save()
        except Exception as exc:  # noqa: BLE001 - whatever Chroma raised, the questions go on
            # The index could not be read (a server gone, a folder made unreadable): questions go
            # on with what was read before, and the next look tries again from the same place.
            logger.warning("could not take in the index's latest writes (%s: %s)", type(exc).__name__, first_line(exc))
        finally:
            self._lock.release()


def release_memory() -> None:
    """Hand the memory a build freed back to the system. A build reads every record from Chroma;
    the C heap keeps what was freed (at 100k chunks, 600 MB beyond the built index), which
    glibc's malloc_trim returns. Elsewhere (another C library) nothing is done."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def chunk_records(store: Store, doc_ids: Iterable[str] | None = None) -> Iterator[list[ChunkRecord]]:
    """The chunks of complete documents (every one, or those of `doc_ids`), a page at a time;
    documents an open write names are left out (their write's journal record brings them)."""
    from ..lexical import ChunkRecord

    if doc_ids is None:
        for got in store.scan("chunks", ["documents", "metadatas"], page=_CHUNKS_PER_READ):
            # Records read after the chunks: a chunk whose write was still open is named by an
            # intent now, and one whose write ended has its record, unless it was deleted meanwhile.
            keep = store.complete(m.get("doc_id", "") for m in got["metadatas"])
            yield [
                ChunkRecord.of(i, t, m)
                for i, t, m in zip(got["ids"], got["documents"], got["metadatas"])
                if m.get("doc_id") in keep
            ]
        return
    wanted = sorted(set(doc_ids))
    for lo in range(0, len(wanted), _IDS_PER_READ):
        part = wanted[lo : lo + _IDS_PER_READ]
        got = store.chroma.read(
            lambda: store.chunks.get(where={"doc_id": {"$in": part}}, include=["documents", "metadatas"])
        )
        keep = store.complete(part)
        yield [
            ChunkRecord.of(i, t, m)
            for i, t, m in zip(got["ids"], got["documents"], got["metadatas"])
            if m.get("doc_id") in keep
        ]


def document_records(store: Store, doc_ids: Iterable[str] | None = None) -> Iterator[tuple[str, dict[str, Any]]]:
    """(doc id, metadata) of complete documents (every one, or those of `doc_ids`) that no open write names."""
    hidden = store.log.hidden()
    if doc_ids is None:
        pages: Iterable[dict[str, Any]] = store.scan("docs", ["metadatas"])
    else:
        wanted = sorted(set(doc_ids))
        pages = (
            store.chroma.read(
                lambda part=wanted[lo : lo + _IDS_PER_READ]: store.collection("docs").get(
                    ids=part, include=["metadatas"]
                )
            )
            for lo in range(0, len(wanted), _IDS_PER_READ)
        )
    for got in pages:
        yield from ((i, m) for i, m in zip(got["ids"], got["metadatas"]) if i not in hidden)


class LexicalView:
    """The BM25 index of every complete document's chunks (qa.lexical)."""

    name = "lexical"

    def __init__(self, store: Store) -> None:
        self._store = store
        self.index: LexicalIndex | None = None

    @property
    def snapshot(self) -> Snapshot:
        if self.index is None:
            self._store.views.build(self)
        assert self.index is not None
        return self.index.snapshot

    def rebuild(self) -> None:
        from ..lexical import LexicalIndex

        self.index = LexicalIndex.built(
            chunk_records(self._store)
        )  # whole: questions searched the previous one until now

    def update(self, doc_ids: frozenset[str]) -> None:
        assert self.index is not None
        self.index.replace(doc_ids, [c for page in chunk_records(self._store, doc_ids) for c in page])

    def arrays(self) -> dict[str, Any]:
        assert self.index is not None
        return self.index.arrays()

    def restore(self, arrays: dict[str, Any]) -> None:
        from ..lexical import LexicalIndex

        self.index = LexicalIndex.from_arrays(arrays)


class GroupsView:
    """The groups of near-duplicate reports (qa.groups), from the signatures document records store."""

    name = "groups"

    def __init__(self, store: Store) -> None:
        self._store = store
        self.index: GroupIndex | None = None

    @property
    def groups(self) -> Groups:
        if self.index is None:
            self._store.views.build(self)
        assert self.index is not None
        return self.index.groups

    def rebuild(self) -> None:
        from ..groups import GroupIndex

        index = GroupIndex()
        index.replace((), self._signed(None))
        self.index = index

    def update(self, doc_ids: frozenset[str]) -> None:
        assert self.index is not None
        self.index.replace(doc_ids, self._signed(doc_ids))

    def arrays(self) -> dict[str, Any]:
        import numpy as np

        assert self.index is not None
        records = self.index.records()
        return {"records": np.frombuffer(json.dumps(records, ensure_ascii=False).encode("utf-8"), dtype=np.uint8)}

    def restore(self, arrays: dict[str, Any]) -> None:
        from ..groups import GroupIndex

        records = json.loads(arrays["records"].tobytes().decode("utf-8"))
        index = GroupIndex()
        index.replace((), {doc_id: (sig, meta) for doc_id, (sig, meta) in records.items()})
        self.index = index

    def _signed(self, doc_ids: frozenset[str] | None) -> dict[str, tuple[str, dict[str, Any]]]:
        keep = ("date", "source", "title")  # what a group needs beyond the signature: not the claims
        return {
            doc_id: (str(meta.get(records.SIGNATURE, "") or ""), {k: meta.get(k) for k in keep})
            for doc_id, meta in document_records(self._store, doc_ids)
        }


class StatementsView:
    """Every document's claims and events (what a timeline reads), without their texts; built
    from the records only when a timeline is asked for, and not kept on disk."""

    name = None

    def __init__(self, store: Store) -> None:
        self._store = store
        self.statements: Statements | None = None

    @property
    def current(self) -> Statements:
        if self.statements is None:
            self._store.views.build(self)
        assert self.statements is not None
        return self.statements

    def rebuild(self) -> None:
        self.statements = dict(read_statements(document_records(self._store)))

    def update(self, doc_ids: frozenset[str]) -> None:
        assert self.statements is not None
        kept = {doc_id: told for doc_id, told in self.statements.items() if doc_id not in doc_ids}
        kept.update(read_statements(document_records(self._store, doc_ids)))
        self.statements = kept  # whole: a timeline being built reads the previous one

    def arrays(self) -> dict[str, Any]:
        raise NotImplementedError("statements are not kept on disk")

    def restore(self, arrays: dict[str, Any]) -> None:
        raise NotImplementedError("statements are not kept on disk")


def read_statements(
    found: Iterable[tuple[str, dict[str, Any]]],
) -> Iterator[tuple[str, tuple[Document, list[Claim], list[Event]]]]:
    """(doc id, (the document without its text, its claims, its events)) of document records."""
    for doc_id, meta in found:
        yield (
            doc_id,
            (
                records.to_document(doc_id, meta, ""),
                records.stored_claims(doc_id, meta),
                records.stored_events(doc_id, meta),
            ),
        )
