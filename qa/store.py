"""The Chroma index: the only module that imports chromadb.

Four collections per index key (embedding model + chunking, see `Settings.index_key`), in a
folder (chromadb.PersistentClient) or on a Chroma server (chromadb.HttpClient, QA_CHROMA_URL):
- `chunks_<key>`: one record per chunk, with its text, vector and metadata (doc id, title,
  outlet, date, place, start, end and the sentence offsets inside it);
- `sentences_<key>`: one vector per sentence, so the answerer can rank sentences without
  running the encoder at question time;
- `docs_<key>`: one record per document with its full text. It is written last and deleted
  first, so a document is complete exactly when its record exists; chunks without one are
  leftovers of an interrupted ingest and are swept away;
- `state_<key>`: one record holding the schema version and a token that every write replaces,
  so each process sharing the index notices the others' writes with one small read.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections import OrderedDict
from pathlib import Path
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlparse

from .errors import ConfigError, NotFoundError
from .types import Chunk, Document, Filters, day_number, outlet_key, place_key, place_terms

if TYPE_CHECKING:
    import numpy as np

logger = logging.getLogger(__name__)
T = TypeVar("T")

_DOC_FIELDS = ("title", "source", "date", "place", "path", "content_hash", "chunks")

# 2: chunks carry source_key, place_terms and date_num for filters. Older indexes are upgraded
# in place on first open (see Store._upgrade); vectors are untouched, so the index key stays.
SCHEMA_VERSION = 2

# Parts of a document younger than this are never swept as leftovers: another process sharing
# the server may still be writing that document (one document takes well under a second).
SWEEP_GRACE_S = 600.0


def filter_fields(meta: dict[str, Any]) -> dict[str, Any]:
    """A chunk's metadata with the fields filters match on, derived from its outlet, place and date."""
    out = {**meta, "source_key": outlet_key(str(meta.get("source", ""))), "date_num": day_number(str(meta.get("date", "")))}
    terms = place_terms(str(meta.get("place", "")))
    if terms:  # Chroma refuses empty lists; a chunk without a place matches no place filter
        out["place_terms"] = terms
    return out


def parse_chroma_url(url: str) -> tuple[str, int, bool]:
    """(host, port, ssl) of "http://host:port" (port 8000 by default, as `chroma run`)."""
    parsed = urlparse(url.strip())
    if parsed.scheme not in ("http", "https") or not parsed.hostname or parsed.path not in ("", "/"):
        raise ConfigError(f"QA_CHROMA_URL must look like http://host:port, got {url!r}")
    try:
        port = parsed.port or (443 if parsed.scheme == "https" else 8000)
    except ValueError as exc:
        raise ConfigError(f"QA_CHROMA_URL has a bad port: {url!r}") from exc
    return parsed.hostname, port, parsed.scheme == "https"


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


class Store:
    """Documents, chunks and sentence vectors in one Chroma database (a folder, or a server)."""

    def __init__(
        self, index_dir: Path, key: str, sentence_cache_size: int = 100_000, chroma_url: str | None = None
    ) -> None:
        self.index_dir = Path(index_dir)
        self.key = key
        self.chroma_url = chroma_url or None
        self._client = None
        self._collections: dict[str, Any] = {}
        self._lock = threading.RLock()
        self._sentence_cache: OrderedDict[str, Any] = OrderedDict()
        self._sentence_cache_size = sentence_cache_size
        self.generation = 0  # bumped on every write made through this Store
        self._seen_token: str | None = None

    @property
    def location(self) -> str:
        """Where the index lives, for messages: the server's URL or the folder."""
        return self.chroma_url or str(self.index_dir)

    # -- collections ---------------------------------------------------------------------
    def _collection(self, kind: str) -> Any:
        with self._lock:
            if kind not in self._collections:
                if self._client is None:
                    self._client = self._open_client()
                try:
                    self._collections[kind] = self._client.get_or_create_collection(
                        name=f"{kind}_{self.key}",
                        embedding_function=None,  # vectors always come from our encoder
                        configuration={"hnsw": {"space": "cosine"}},
                    )
                except Exception as exc:
                    raise ConfigError(f"cannot open the index at {self.location}: {_first_line(exc)}") from exc
                if kind == "chunks":
                    self._upgrade()
            return self._collections[kind]

    def _open_client(self) -> Any:
        try:
            import chromadb
            from chromadb.config import Settings as ChromaSettings
        except ImportError as exc:
            raise ConfigError("chromadb is not installed (pip install chromadb)") from exc
        settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
        if self.chroma_url:
            host, port, ssl = parse_chroma_url(self.chroma_url)
            try:
                client = chromadb.HttpClient(host=host, port=port, ssl=ssl, settings=settings)
                client.heartbeat()
                return client
            except Exception as exc:
                raise ConfigError(f"cannot reach the Chroma server at {self.chroma_url}: {_first_line(exc)}") from exc
        try:
            self.index_dir.mkdir(parents=True, exist_ok=True)
            return chromadb.PersistentClient(path=str(self.index_dir), settings=settings)
        except Exception as exc:
            raise ConfigError(f"cannot open the index at {self.index_dir}: {_first_line(exc)}") from exc

    @property
    def chunks(self) -> Any:
        """The Chroma collection of chunks (what dense retrieval searches)."""
        return self._collection("chunks")

    def _batch_size(self) -> int:
        self._collection("docs")
        return max(1, min(5000, int(self._client.get_max_batch_size())))

    # -- the state record: schema version and change token ---------------------------------
    def _state(self) -> dict[str, Any]:
        got = self._collection("state").get(ids=["state"], include=["metadatas"])
        return got["metadatas"][0] if got["ids"] else {}

    def _touch(self) -> None:
        """Record that the index changed, for every process that reads it (see `changed`)."""
        token = uuid.uuid4().hex
        self._collection("state").upsert(
            ids=["state"], embeddings=[[1.0]], metadatas=[{"schema": SCHEMA_VERSION, "token": token}]
        )
        self._seen_token = token
        self.generation += 1

    def change_token(self) -> str:
        """Changes whenever any process writes to the index: one small read."""
        return str(self._state().get("token", ""))

    def sync(self) -> bool:
        """Whether another process changed the index since this Store last looked; if so, forget
        cached sentence vectors (a replaced document may reuse their ids) and, for a folder,
        reopen it (see `reopen`)."""
        token = self.change_token()
        with self._lock:
            if token == self._seen_token:
                return False
            first_look = self._seen_token is None
            self._seen_token = token
            self._sentence_cache.clear()
            if not first_look:
                self.reopen()
            return True

    def reopen(self) -> None:
        """Drop this process's view of an embedded index so the next read sees other processes' writes.

        Chroma's embedded store keeps vector segments in memory: after another process writes,
        reading stored vectors through the old client fails ("Error finding id"). A server has
        no such cache, so only folders are reopened.
        """
        with self._lock:
            if self.chroma_url or self._client is None:
                return
            old, self._client = self._client, None
            self._collections.clear()
            self.generation += 1  # retrievers holding the old collections rebuild
            try:
                old.close()
            except Exception as exc:  # closing is best effort: the new client is what matters
                logger.debug("closing the old Chroma client failed: %s", exc)

    def read(self, fn: Callable[[], T]) -> T:
        """Run a read; if another process's writes made this process's view stale, reopen and retry once."""
        try:
            return fn()
        except Exception as exc:
            if self.chroma_url or "finding id" not in str(exc).lower():
                raise
            logger.info("the index changed under this process; reopening it")
            self.reopen()
            return fn()

    def _upgrade(self) -> None:
        """Bring an index written by an older version up to SCHEMA_VERSION in place (no re-embedding)."""
        state = self._state()
        if int(state.get("schema", 1)) >= SCHEMA_VERSION:
            return
        chunks = self._collections["chunks"]
        offset, page, upgraded = 0, 1000, 0
        while True:
            got = chunks.get(include=["metadatas"], limit=page, offset=offset)
            if got["ids"]:
                chunks.update(ids=got["ids"], metadatas=[filter_fields(m) for m in got["metadatas"]])
                upgraded += len(got["ids"])
            if len(got["ids"]) < page:
                break
            offset += page
        self._touch()
        if upgraded:
            logger.warning("upgraded %d chunks of the index to schema %d (filter fields)", upgraded, SCHEMA_VERSION)

    # -- documents -----------------------------------------------------------------------
    def has_document(self, doc_id: str) -> dict[str, Any] | None:
        """The stored metadata of a complete document, or None."""
        got = self.read(lambda: self._collection("docs").get(ids=[doc_id], include=["metadatas"]))
        return got["metadatas"][0] if got["ids"] else None

    def doc_ids_for_path(self, path: str) -> list[str]:
        """Ids of documents last ingested from `path`."""
        got = self._collection("docs").get(where={"path": path}, include=[])
        return list(got["ids"])

    def documents(self) -> list[Document]:
        """Every complete document, without its text, sorted by date then title."""
        got = self.read(lambda: self._collection("docs").get(include=["metadatas"]))
        docs = [self._to_document(i, m, "") for i, m in zip(got["ids"], got["metadatas"])]
        return sorted(docs, key=lambda d: (d.date, d.title, d.doc_id))

    def document(self, doc_id: str) -> Document:
        got = self.read(lambda: self._collection("docs").get(ids=[doc_id], include=["metadatas", "documents"]))
        if not got["ids"]:
            raise NotFoundError(f"no document with id {doc_id!r} in the index")
        return self._to_document(doc_id, got["metadatas"][0], got["documents"][0] or "")

    def count_documents(self) -> int:
        return self._collection("docs").count()

    def write_document(
        self, doc: Document, chunks: list[Chunk], chunk_vectors: "np.ndarray", sentence_vectors: "np.ndarray"
    ) -> None:
        """Store one document whole (see `write_documents`)."""
        self.write_documents([(doc, chunks, chunk_vectors, sentence_vectors)])

    def write_documents(self, items: "list[tuple[Document, list[Chunk], np.ndarray, np.ndarray]]") -> None:
        """Store documents whole: all their sentences and chunks first, their records last.

        Each item is (document, its chunks, one vector per chunk, one vector per sentence of the
        document). Writing many documents at once lets Chroma take large batches.
        """
        import numpy as np

        if not items:
            return
        with self._lock:
            for doc, *_ in items:
                if self.has_document(doc.doc_id):
                    self._delete_parts(doc.doc_id)
            written_at = time.time()
            sentence_ids: list[str] = []
            sentence_metas: list[dict[str, Any]] = []
            chunk_ids: list[str] = []
            chunk_texts: list[str] = []
            chunk_metas: list[dict[str, Any]] = []
            for doc, chunks, _, sentence_vectors in items:
                # Sentence i of a document is stored once as "{doc_id}:s{i}", whatever chunks hold it.
                sentence_ids += [f"{doc.doc_id}:s{i}" for i in range(len(sentence_vectors))]
                sentence_metas += [{"doc_id": doc.doc_id, "written_at": written_at}] * len(sentence_vectors)
                base = filter_fields(
                    {"doc_id": doc.doc_id, "title": doc.title, "source": doc.source, "date": doc.date, "place": doc.place}
                )
                base["written_at"] = written_at
                chunk_ids += [c.chunk_id for c in chunks]
                chunk_texts += [c.text for c in chunks]
                chunk_metas += [
                    {
                        **base,
                        "index": c.index,
                        "start": c.start,
                        "end": c.end,
                        "first_sentence": c.first_sentence,
                        "sentences": ",".join(f"{s.start}-{s.end}" for s in c.sentences),
                    }
                    for c in chunks
                ]
            sentence_vectors = np.concatenate([item[3] for item in items])
            chunk_vectors = np.concatenate([item[2] for item in items])
            batch = self._batch_size()
            for lo in range(0, len(sentence_ids), batch):
                hi = lo + batch
                self._collection("sentences").upsert(
                    ids=sentence_ids[lo:hi], embeddings=sentence_vectors[lo:hi], metadatas=sentence_metas[lo:hi]
                )
            for lo in range(0, len(chunk_ids), batch):
                hi = lo + batch
                self.chunks.upsert(
                    ids=chunk_ids[lo:hi], embeddings=chunk_vectors[lo:hi], documents=chunk_texts[lo:hi], metadatas=chunk_metas[lo:hi]
                )
            records, vectors, metas = [], [], []
            for doc, chunks, vectors_of_chunks, _ in items:
                doc_vector = vectors_of_chunks.mean(axis=0)
                vectors.append(doc_vector / (float((doc_vector**2).sum() ** 0.5) or 1.0))
                meta = {name: getattr(doc, name) for name in _DOC_FIELDS}
                meta.update(chunks=len(chunks), ingested_at=written_at)
                metas.append(meta)
                records.append(doc)
            for lo in range(0, len(records), batch):
                hi = lo + batch
                self._collection("docs").upsert(
                    ids=[d.doc_id for d in records[lo:hi]],
                    embeddings=np.stack(vectors[lo:hi]),
                    documents=[d.text for d in records[lo:hi]],
                    metadatas=metas[lo:hi],
                )
            self._touch()

    def delete_document(self, doc_id: str) -> None:
        """Remove a document everywhere: its record first, then its chunks and sentences."""
        with self._lock:
            if not self.has_document(doc_id):
                raise NotFoundError(f"no document with id {doc_id!r} in the index")
            self._collection("docs").delete(ids=[doc_id])
            self._delete_parts(doc_id)
            self._touch()

    def _delete_parts(self, doc_id: str) -> None:
        self.chunks.delete(where={"doc_id": doc_id})
        self._collection("sentences").delete(where={"doc_id": doc_id})
        for key in [k for k in self._sentence_cache if k.startswith(doc_id + ":")]:
            del self._sentence_cache[key]

    def sweep_incomplete(self, grace_s: float = SWEEP_GRACE_S) -> list[str]:
        """Delete chunks and sentences of documents whose ingest never finished; returns their ids.

        Parts written in the last `grace_s` seconds are left alone: with a shared server, they
        may belong to an ingest still running in another process.
        """
        with self._lock:
            complete = set(self._collection("docs").get(include=[])["ids"])
            cutoff = time.time() - grace_s
            stray: set[str] = set()
            for kind in ("chunks", "sentences"):
                for meta in self._collection(kind).get(include=["metadatas"])["metadatas"]:
                    if meta["doc_id"] not in complete and float(meta.get("written_at", 0)) < cutoff:
                        stray.add(meta["doc_id"])
            for doc_id in stray:
                self._delete_parts(doc_id)
            if stray:
                self._touch()
                logger.warning("removed the leftovers of %d interrupted ingest(s)", len(stray))
            return sorted(stray)

    def where(self, filters: Filters) -> dict[str, Any] | None:
        """The Chroma `where` clause that keeps chunks inside the filters (see Filters.matches)."""
        clauses: list[dict[str, Any]] = []
        if filters.sources:
            clauses.append({"source_key": {"$in": sorted({outlet_key(s) for s in filters.sources})}})
        if filters.places:
            terms = sorted({place_key(p) for p in filters.places})
            either = [{"place_terms": {"$contains": t}} for t in terms]
            clauses.append(either[0] if len(either) == 1 else {"$or": either})
        if filters.date_from or filters.date_to:
            low, high = filters.day_range
            clauses += [{"date_num": {"$gte": low}}, {"date_num": {"$lte": high}}]
        if not clauses:
            return None
        return clauses[0] if len(clauses) == 1 else {"$and": clauses}

    # -- chunks and sentences ------------------------------------------------------------
    def all_chunks(self) -> tuple[list[str], list[str], list[dict[str, Any]]]:
        """Every chunk's id, text and metadata (for the lexical index), in pages."""
        ids: list[str] = []
        texts: list[str] = []
        metas: list[dict[str, Any]] = []
        page = 5000
        offset = 0
        while True:
            got = self.read(lambda: self.chunks.get(include=["documents", "metadatas"], limit=page, offset=offset))
            ids += got["ids"]
            texts += got["documents"]
            metas += got["metadatas"]
            if len(got["ids"]) < page:
                return ids, texts, metas
            offset += page

    def count_chunks(self) -> int:
        return self.chunks.count()

    def sentence_vectors(self, ids: list[str]) -> dict[str, "np.ndarray"]:
        """Stored sentence vectors by id, from a bounded in-process cache or one Chroma read."""
        import numpy as np

        found: dict[str, np.ndarray] = {}
        missing = []
        for sid in ids:
            vector = self._sentence_cache.get(sid)
            if vector is None:
                missing.append(sid)
            else:
                found[sid] = vector
        if missing:
            got = self.read(lambda: self._collection("sentences").get(ids=missing, include=["embeddings"]))
            for sid, vector in zip(got["ids"], got["embeddings"]):
                found[sid] = self._sentence_cache[sid] = np.asarray(vector, dtype=np.float32)
            while len(self._sentence_cache) > self._sentence_cache_size:
                self._sentence_cache.popitem(last=False)
        return found

    @staticmethod
    def _to_document(doc_id: str, meta: dict[str, Any], text: str) -> Document:
        return Document(
            doc_id=doc_id,
            text=text,
            title=str(meta.get("title", "")),
            source=str(meta.get("source", "")),
            date=str(meta.get("date", "")),
            place=str(meta.get("place", "")),
            path=str(meta.get("path", "")),
            content_hash=str(meta.get("content_hash", "")),
            chunks=int(meta.get("chunks", 0)),
        )
