"""The index's documents, chunks and sentence vectors: what the rest of qa reads and writes."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias

from ..errors import NotFoundError
from ..locations import Survey, reconcile
from ..statements import Claim, Event
from ..types import Chunk, Document, Filters, sentence_id
from . import records
from .chroma import Chroma, Collection
from .journal import Changes, Cursor
from .schema import SCHEMA_VERSION, upgrade
from .cache import RecordCache
from .saved import SavedViews
from .derived import IDS_PER_READ, GroupsView, LexicalView, StatementsView, document_records, read_statements
from .views import Views
from .writelog import SWEEP_GRACE_S, WriteLog

if TYPE_CHECKING:
    import numpy as np

    from ..config import IndexSettings
    from ..groups import Groups

    #: One item of `Store.write_documents`: a document, its chunks, one vector per chunk, and
    #: (the indexes of the sentences its chunks hold, one vector each).
    Written: TypeAlias = tuple[Document, list[Chunk], np.ndarray, tuple[list[int], np.ndarray]]

logger = logging.getLogger(__name__)

DELETE_BATCH = 500  # documents removed per intent (see Store._delete)


class Store:
    """Documents, chunks and sentence vectors in one Chroma database (a folder, or a server).

    Its parts, each with one reason to change: `chroma` (the client and its reopening),
    `log` (writes in progress: the write lock, intents, the change token, the journal), the
    schema upgrade (qa.store.schema), the record fields (qa.store.records), the caches of
    sentence vectors, chunks and figures (qa.store.cache), and `views`, what this process derives
    from the records (qa.store.views): `lexical`, the BM25 index retrieval searches, the groups
    and the statements.
    """

    def __init__(
        self, index_dir: Path, key: str, chroma_url: str | None, sentence_cache_size: int, chunk_cache_size: int = 2_000
    ) -> None:
        self.chroma = Chroma(index_dir, key, chroma_url, on_open=self._opened)
        self.log = WriteLog(self.chroma, SCHEMA_VERSION, self._delete_parts)
        self.sentences = RecordCache(sentence_cache_size)  # sentence id -> its vector
        self._chunk_cache = RecordCache(chunk_cache_size)  # chunk id -> (text, metadata)
        self._claims_cache = RecordCache(chunk_cache_size)  # doc id -> (the document without its text, its claims)
        # A folder index keeps what the views derive in a file beside Chroma's (qa.store.saved).
        self.views = Views(self, None if chroma_url else SavedViews(Path(index_dir) / f"qa-views-{key}.npz"))
        self.lexical = LexicalView(self)
        self._groups = GroupsView(self)
        self._statements = StatementsView(self)

    @classmethod
    def from_settings(cls, index: IndexSettings) -> Store:
        """The index the settings name: their folder or server, under their index key."""
        return cls(index.index_dir, index.key(), index.chroma_url, index.sentence_cache_size, index.chunk_cache_size)

    def collection(self, kind: str) -> Collection:
        """One of the index's Chroma collections (qa.store.chroma.KINDS)."""
        return self.chroma.collection(kind)

    @property
    def chunks(self) -> Collection:
        """The Chroma collection of chunks (what dense retrieval searches)."""
        return self.chroma.collection("chunks")

    def _opened(self) -> None:
        """A new client is open (under the index lock): upgrade its schema, settle dead writes."""
        if upgrade(self.chroma, int(self.log.state().get("schema", 1))):
            self.log.touch(everything=True)  # records were rewritten in place: what was read from them is stale
        if self.log.read_state().intents:
            # A new view of the index: writes are in progress, or a process died in one.
            self.log.recover()

    def changes(self, cursor: Cursor) -> Changes:
        """The documents written after `cursor` (see qa.store.journal), with this process's view
        of the index brought up to date first: another process's write is noticed by the change
        token, and a folder's client is then reopened (see Chroma.reopen) and cached sentence
        vectors of the documents it changed are forgotten (a replaced document reuses their ids).
        A write that another process left open when it died is finished here too (see
        WriteLog.recover)."""
        state = self.log.read_state()
        if set(state.intents) - set(self.log.own):
            self.log.recover()
        with self.chroma.lock:
            if state.token != self.log.seen_token:
                if self.log.seen_token is not None:
                    self.chroma.reopen()
                self.log.seen_token = state.token
        changes = self.log.changes(cursor, state)
        if changes:
            self._forget(None if changes.everything else changes.docs)
        return changes

    def _forget(self, doc_ids: str | Iterable[str] | None) -> None:
        """Drop what the caches hold of these documents (None: of all of them)."""
        for cache in (self.sentences, self._chunk_cache, self._claims_cache):
            cache.forget(doc_ids)

    def reopen(self) -> None:
        """Drop this process's view of an embedded index (see Chroma.reopen)."""
        self.chroma.reopen()

    def close(self) -> None:
        """Let go of the index's client (see Chroma.close); the next call opens it again."""
        self.chroma.close()

    def scan(self, kind: str, include: list[str], page: int = 20_000) -> Iterator[dict[str, Any]]:
        """Every record of a collection, a page at a time (see Chroma.scan)."""
        return self.chroma.scan(kind, include, page)

    # -- documents -----------------------------------------------------------------------
    def has_document(self, doc_id: str) -> dict[str, Any] | None:
        """The stored metadata of a complete document, or None."""
        got = self.chroma.read(lambda: self.collection("docs").get(ids=[doc_id], include=["metadatas"]))
        return got["metadatas"][0] if got["ids"] else None

    def located(self, scopes: Iterable[str]) -> dict[str, list[str]]:
        """doc id -> locations of every complete document stored at or under these scopes (a
        file, a collection, a folder: see qa.locations), those missing from their input included."""
        out: dict[str, list[str]] = {}
        page = 5000
        for scope in dict.fromkeys(scopes):
            offset = 0
            while True:
                got = self.chroma.read(
                    lambda: self.collection("docs").get(
                        where={"scopes": {"$contains": scope}}, include=["metadatas"], limit=page, offset=offset
                    )
                )
                out.update((i, records.stored_locations(m)) for i, m in zip(got["ids"], got["metadatas"]))
                if len(got["ids"]) < page:
                    break
                offset += page
        return out

    def add_locations(self, found: Mapping[str, str]) -> list[str]:
        """Record that each stored document (doc id -> location) is also at that location, now,
        under the write lock: so a prune in another process, which reads locations under the
        same lock, never removes a report an ingest has just found. Returns the ids no longer
        stored (removed meanwhile): the caller stores them again."""
        if not found:
            return []
        with self.log.writing():
            docs = self.collection("docs")
            got = docs.get(ids=list(found), include=["metadatas"])
            updated = {}
            for doc_id, meta in zip(got["ids"], got["metadatas"]):
                held = records.stored_locations(meta)
                if found[doc_id] not in held:
                    updated[doc_id] = records.located_fields(meta, [*held, found[doc_id]])
            if updated:
                docs.update(ids=list(updated), metadatas=list(updated.values()))
                self.log.touch()
            return [doc_id for doc_id in found if doc_id not in set(got["ids"])]

    def settle_locations(
        self, survey: Survey, seen_ids: Iterable[str], paths: Mapping[str, str], prune: bool
    ) -> tuple[dict[str, list[str]], list[str]]:
        """After an ingest: record where every document it concerns is now (see
        qa.locations.reconcile), and with `prune` remove the ones no location holds, all under
        one hold of the write lock on a fresh read, so no other process's write lands between
        the reading and the removing. Returns (what moved, what is missing)."""
        with self.log.writing():
            before = self.located(survey.scopes) if survey.scopes else {}
            others = [i for i in dict.fromkeys(seen_ids) if i not in before]
            if others:
                got = self.collection("docs").get(ids=others, include=["metadatas"])
                before.update((i, records.stored_locations(m)) for i, m in zip(got["ids"], got["metadatas"]))
            moved, missing = reconcile(before, survey)
            self._relocate(moved, paths)
            if prune and missing:
                self._delete(missing)
            return moved, missing

    def _relocate(self, locations: Mapping[str, list[str]], paths: Mapping[str, str]) -> None:
        """Record documents' new locations and the path each was last seen at (metadata only;
        under the write lock). With no location left a record keeps its scopes (see
        records.located_fields): Chroma's update merges metadata, so keys not written stay."""
        docs = self.collection("docs")
        ids = list(locations)
        batch = self.chroma.batch_size()
        changed = False
        for lo in range(0, len(ids), batch):
            got = docs.get(ids=ids[lo : lo + batch], include=["metadatas"])
            metas = []
            for doc_id, meta in zip(got["ids"], got["metadatas"]):
                meta = records.located_fields(meta, locations[doc_id])
                if doc_id in paths:
                    meta["path"] = paths[doc_id]
                metas.append(meta)
            if got["ids"]:
                docs.update(ids=got["ids"], metadatas=metas)
                changed = True
        if changed:
            self.log.touch()

    def documents(self) -> list[Document]:
        """Every complete document, without its text, sorted by date then title.

        While a write is open (or was cut short), a document it deletes is no longer listed and
        one it replaces is listed until the new version's record has landed: never both.
        """
        for _ in range(3):  # the records and the intents must be of one moment: no write ended between
            first = self.log.read_state()
            stored = {i: m for got in self.scan("docs", ["metadatas"]) for i, m in zip(got["ids"], got["metadatas"])}
            last = self.log.read_state()
            before, after = first.intents, last.intents
            if last.token == first.token:
                break
        unlisted: set[str] = set()
        for plan in [*before.values(), *after.values(), *self.log.own.values()]:
            unlisted.update(plan.get("delete", ()))
            for doc_id, olds in plan.get("replace", {}).items():
                if doc_id in stored and stored[doc_id].get("content_hash") == plan.get("add", {}).get(doc_id):
                    unlisted.update(olds)
        groups = self.groups()
        docs = [records.to_document(i, m, "") for i, m in stored.items() if i not in unlisted]
        for doc in docs:
            doc.group, doc.group_size = groups.of(doc.doc_id), len(groups.members(doc.doc_id))
        return sorted(docs, key=lambda d: (d.date, d.title, d.doc_id))

    def groups(self) -> Groups:
        """The groups of near-duplicate documents (see qa.groups), from the signatures the
        document records store, as of the last `views.refresh`."""
        return self._groups.groups

    def document(self, doc_id: str) -> Document:
        """A complete document with its text.

        Raises:
            NotFoundError: no document has that id.
        """
        got = self.chroma.read(lambda: self.collection("docs").get(ids=[doc_id], include=["metadatas", "documents"]))
        if not got["ids"]:
            raise NotFoundError(f"no document with id {doc_id!r} in the index")
        return records.to_document(doc_id, got["metadatas"][0], got["documents"][0] or "")

    def claims(self, doc_ids: Iterable[str] | None = None) -> dict[str, tuple[Document, list[Claim]]]:
        """doc id -> (the document without its text, the figures it states: see qa.claims), for
        the given documents that are stored (kept between questions, see RecordCache), or for
        every complete document (see `statements`)."""
        if doc_ids is None:
            return {doc_id: (doc, claims) for doc_id, (doc, claims, _) in self.statements().items()}

        def read(missing: list[str]) -> dict[str, tuple[Document, list[Claim]]]:
            return {
                doc_id: (doc, claims) for doc_id, (doc, claims, _) in read_statements(document_records(self, missing))
            }

        hidden = self.log.hidden()
        found = self._claims_cache.get(list(dict.fromkeys(doc_ids)), read)
        return {doc_id: told for doc_id, told in found.items() if doc_id not in hidden}

    def chunk_records(self, chunk_ids: list[str]) -> dict[str, tuple[str, dict[str, Any]]]:
        """chunk id -> (its text, its metadata) of stored chunks (kept between questions, see RecordCache)."""

        def read(missing: list[str]) -> dict[str, tuple[str, dict[str, Any]]]:
            got = self.chroma.read(lambda: self.chunks.get(ids=missing, include=["documents", "metadatas"]))
            return {i: (t or "", m or {}) for i, t, m in zip(got["ids"], got["documents"], got["metadatas"])}

        return self._chunk_cache.get(chunk_ids, read)

    def statements(self, doc_ids: Iterable[str] | None = None) -> dict[str, tuple[Document, list[Claim], list[Event]]]:
        """doc id -> (the document without its text, its claims, its events: see qa.events), for
        the given documents (those stored, read now), or for every complete document (kept
        between calls and updated by `views.refresh`: a timeline reads them all)."""
        if doc_ids is not None:
            return dict(read_statements(document_records(self, doc_ids)))
        hidden = self.log.hidden()
        return {doc_id: told for doc_id, told in self._statements.current.items() if doc_id not in hidden}

    def count_documents(self) -> int:
        return self.collection("docs").count()

    def write_documents(self, items: list[Written]) -> None:
        """Store documents whole: all their sentences and chunks first, their records last, as one
        intent (see qa.store.writelog), so a process killed at any point leaves each document
        whole or absent (a document rewritten under the same id: see the README's two gaps).

        Each item is (document, its chunks, one vector per chunk, (the indexes of the sentences
        its chunks hold, one vector each)); the record keeps the document's locations. Writing
        many documents at once lets Chroma take large batches.
        """
        import numpy as np

        if not items:
            return
        added = {doc.doc_id: doc.content_hash for doc, *_ in items}
        with self.log.writing(), self.log.intent({"add": added}):
            # A document changed in place loses its record before its parts, never after.
            existing = self.collection("docs").get(ids=list(added), include=[])["ids"]
            if existing:
                self.collection("docs").delete(ids=existing)
            for doc_id in existing:
                self._delete_parts(doc_id)
            written_at = time.time()
            sentence_ids: list[str] = []
            sentence_metas: list[dict[str, Any]] = []
            chunk_ids: list[str] = []
            chunk_texts: list[str] = []
            chunk_metas: list[dict[str, Any]] = []
            for doc, chunks, _, (indices, _) in items:
                sentence_ids += [sentence_id(doc.doc_id, i) for i in indices]
                sentence_metas += [{"doc_id": doc.doc_id, "written_at": written_at}] * len(indices)
                base = records.chunk_base(doc, written_at)
                chunk_ids += [c.chunk_id for c in chunks]
                chunk_texts += [c.text for c in chunks]
                chunk_metas += [{**base, **records.chunk_fields(c)} for c in chunks]
            sentence_vectors = np.concatenate([item[3][1] for item in items])
            chunk_vectors = np.concatenate([item[2] for item in items])
            batch = self.chroma.batch_size()
            for lo in range(0, len(sentence_ids), batch):
                hi = lo + batch
                self.collection("sentences").upsert(
                    ids=sentence_ids[lo:hi], embeddings=sentence_vectors[lo:hi], metadatas=sentence_metas[lo:hi]
                )
            for lo in range(0, len(chunk_ids), batch):
                hi = lo + batch
                self.chunks.upsert(
                    ids=chunk_ids[lo:hi],
                    embeddings=chunk_vectors[lo:hi],
                    documents=chunk_texts[lo:hi],
                    metadatas=chunk_metas[lo:hi],
                )
            docs, vectors, metas = [], [], []
            for doc, chunks, vectors_of_chunks, _ in items:
                doc_vector = vectors_of_chunks.mean(axis=0)
                vectors.append(doc_vector / (float((doc_vector**2).sum() ** 0.5) or 1.0))
                metas.append(records.document_fields(doc, len(chunks), written_at))
                docs.append(doc)
            for lo in range(0, len(docs), batch):
                hi = lo + batch
                self.collection("docs").upsert(
                    ids=[d.doc_id for d in docs[lo:hi]],
                    embeddings=np.stack(vectors[lo:hi]),
                    documents=[d.text for d in docs[lo:hi]],
                    metadatas=metas[lo:hi],
                )

    def delete_documents(self, doc_ids: list[str], must_exist: bool = False) -> None:
        """Remove documents everywhere (record first, then chunks and sentences): a process killed
        part-way leaves each one listed or gone, and the next process to open the index finishes
        the deletion.

        Raises:
            NotFoundError: `must_exist` is set and one of them is not stored.
        """
        if not doc_ids:
            return
        with self.log.writing():
            if must_exist:
                for doc_id in doc_ids:
                    if not self.has_document(doc_id):
                        raise NotFoundError(f"no document with id {doc_id!r} in the index")
            self._delete(list(doc_ids))

    def _delete(self, doc_ids: list[str]) -> None:
        """Delete under the write lock, DELETE_BATCH documents per intent: an open intent's ids
        are left out of every search by name, and tens of thousands of names in one query are
        more than Chroma's SQLite takes."""
        for lo in range(0, len(doc_ids), DELETE_BATCH):
            part = doc_ids[lo : lo + DELETE_BATCH]
            with self.log.intent({"delete": part}):
                self.collection("docs").delete(ids=part)
                for doc_id in part:
                    self._delete_parts(doc_id)

    def _delete_parts(self, doc_id: str) -> None:
        self.chunks.delete(where={"doc_id": doc_id})
        self.collection("sentences").delete(where={"doc_id": doc_id})
        self._forget(doc_id)

    def sweep_incomplete(self, grace_s: float = SWEEP_GRACE_S) -> list[str]:
        """Remove what interrupted ingests left (see WriteLog.sweep); returns their document ids."""
        return self.log.sweep(grace_s)

    def where(self, filters: Filters) -> dict[str, Any] | None:
        """The Chroma `where` clause that keeps chunks inside the filters and out of documents
        that a write in progress (or cut short) names (see records.where)."""
        return records.where(filters, self.log.hidden())

    # -- chunks and sentences ------------------------------------------------------------
    def complete(self, doc_ids: Iterable[str]) -> set[str]:
        """Those of `doc_ids` that are stored whole and that no open write names."""
        wanted = sorted(set(doc_ids))
        found: set[str] = set()
        for lo in range(0, len(wanted), IDS_PER_READ):
            part = wanted[lo : lo + IDS_PER_READ]
            found.update(self.chroma.read(lambda: self.collection("docs").get(ids=part, include=[]))["ids"])
        return found - self.log.hidden()

    def count_chunks(self) -> int:
        return self.chunks.count()

    def sentence_vectors(self, ids: list[str]) -> dict[str, "np.ndarray"]:
        """Stored sentence vectors by id, from a bounded in-process cache or one Chroma read."""
        import numpy as np

        def read(missing: list[str]) -> dict[str, np.ndarray]:
            got = self.chroma.read(lambda: self.collection("sentences").get(ids=missing, include=["embeddings"]))
            return {sid: np.asarray(vector, dtype=np.float32) for sid, vector in zip(got["ids"], got["embeddings"])}

        return self.sentences.get(ids, read)
