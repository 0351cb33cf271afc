"""The Chroma index: the only module that imports chromadb.

Three collections per index key (embedding model + chunking, see `Settings.index_key`):
- `chunks_<key>`: one record per chunk, with its text, vector and metadata (doc id, title,
  outlet, date, place, start, end and the sentence offsets inside it);
- `sentences_<key>`: one vector per sentence, so the answerer can rank sentences without
  running the encoder at question time;
- `docs_<key>`: one record per document with its full text. It is written last and deleted
  first, so a document is complete exactly when its record exists; chunks without one are
  leftovers of an interrupted ingest and are swept away.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import ConfigError, NotFoundError
from .types import Chunk, Document

if TYPE_CHECKING:
    import numpy as np

logger = logging.getLogger(__name__)

_DOC_FIELDS = ("title", "source", "date", "place", "path", "content_hash", "chunks")


class Store:
    """Documents, chunks and sentence vectors in one Chroma database."""

    def __init__(self, index_dir: Path, key: str, sentence_cache_size: int = 100_000) -> None:
        self.index_dir = Path(index_dir)
        self.key = key
        self._client = None
        self._collections: dict[str, Any] = {}
        self._lock = threading.RLock()
        self._sentence_cache: OrderedDict[str, Any] = OrderedDict()
        self._sentence_cache_size = sentence_cache_size
        self.generation = 0  # bumped on every write made through this Store

    # -- collections ---------------------------------------------------------------------
    def _collection(self, kind: str) -> Any:
        with self._lock:
            if kind not in self._collections:
                if self._client is None:
                    self._client = self._open_client()
                self._collections[kind] = self._client.get_or_create_collection(
                    name=f"{kind}_{self.key}",
                    embedding_function=None,  # vectors always come from our encoder
                    configuration={"hnsw": {"space": "cosine"}},
                )
            return self._collections[kind]

    def _open_client(self) -> Any:
        try:
            import chromadb
            from chromadb.config import Settings as ChromaSettings
        except ImportError as exc:
            raise ConfigError("chromadb is not installed (pip install chromadb)") from exc
        try:
            self.index_dir.mkdir(parents=True, exist_ok=True)
            return chromadb.PersistentClient(
                path=str(self.index_dir),
                settings=ChromaSettings(anonymized_telemetry=False, allow_reset=False),
            )
        except Exception as exc:
            raise ConfigError(f"cannot open the index at {self.index_dir}: {exc}".splitlines()[0]) from exc

    @property
    def chunks(self) -> Any:
        """The Chroma collection of chunks (what dense retrieval searches)."""
        return self._collection("chunks")

    def _batch_size(self) -> int:
        self._collection("docs")
        return max(1, min(5000, int(self._client.get_max_batch_size())))

    # -- documents -----------------------------------------------------------------------
    def has_document(self, doc_id: str) -> dict[str, Any] | None:
        """The stored metadata of a complete document, or None."""
        got = self._collection("docs").get(ids=[doc_id], include=["metadatas"])
        return got["metadatas"][0] if got["ids"] else None

    def doc_ids_for_path(self, path: str) -> list[str]:
        """Ids of documents last ingested from `path`."""
        got = self._collection("docs").get(where={"path": path}, include=[])
        return list(got["ids"])

    def documents(self) -> list[Document]:
        """Every complete document, without its text, sorted by date then title."""
        got = self._collection("docs").get(include=["metadatas"])
        docs = [self._to_document(i, m, "") for i, m in zip(got["ids"], got["metadatas"])]
        return sorted(docs, key=lambda d: (d.date, d.title, d.doc_id))

    def document(self, doc_id: str) -> Document:
        got = self._collection("docs").get(ids=[doc_id], include=["metadatas", "documents"])
        if not got["ids"]:
            raise NotFoundError(f"no document with id {doc_id!r} in the index")
        return self._to_document(doc_id, got["metadatas"][0], got["documents"][0] or "")

    def count_documents(self) -> int:
        return self._collection("docs").count()

    def write_document(
        self, doc: Document, chunks: list[Chunk], chunk_vectors: "np.ndarray", sentence_vectors: "np.ndarray"
    ) -> None:
        """Store a document whole: its sentences and chunks first, its record last.

        `sentence_vectors[i]` is the vector of the document's sentence i.
        """
        with self._lock:
            self._delete_parts(doc.doc_id)
            batch = self._batch_size()
            # Sentence i of the document is stored once as "{doc_id}:s{i}", whatever chunks hold it.
            sentence_ids = [f"{doc.doc_id}:s{i}" for i in range(len(sentence_vectors))]
            for lo in range(0, len(sentence_ids), batch):
                hi = lo + batch
                self._collection("sentences").add(
                    ids=sentence_ids[lo:hi],
                    embeddings=sentence_vectors[lo:hi],
                    metadatas=[{"doc_id": doc.doc_id} for _ in sentence_ids[lo:hi]],
                )
            base = {"doc_id": doc.doc_id, "title": doc.title, "source": doc.source, "date": doc.date, "place": doc.place}
            for lo in range(0, len(chunks), batch):
                part = chunks[lo : lo + batch]
                self.chunks.add(
                    ids=[c.chunk_id for c in part],
                    embeddings=chunk_vectors[lo : lo + batch],
                    documents=[c.text for c in part],
                    metadatas=[
                        {
                            **base,
                            "index": c.index,
                            "start": c.start,
                            "end": c.end,
                            "first_sentence": c.first_sentence,
                            "sentences": ",".join(f"{s.start}-{s.end}" for s in c.sentences),
                        }
                        for c in part
                    ],
                )
            doc_vector = chunk_vectors.mean(axis=0)
            norm = float((doc_vector**2).sum() ** 0.5) or 1.0
            meta = {name: getattr(doc, name) for name in _DOC_FIELDS}
            meta.update(chunks=len(chunks), ingested_at=time.time())
            self._collection("docs").upsert(
                ids=[doc.doc_id], embeddings=[(doc_vector / norm).tolist()], documents=[doc.text], metadatas=[meta]
            )
            self.generation += 1

    def delete_document(self, doc_id: str) -> None:
        """Remove a document everywhere: its record first, then its chunks and sentences."""
        with self._lock:
            if not self.has_document(doc_id):
                raise NotFoundError(f"no document with id {doc_id!r} in the index")
            self._collection("docs").delete(ids=[doc_id])
            self._delete_parts(doc_id)
            self.generation += 1

    def _delete_parts(self, doc_id: str) -> None:
        self.chunks.delete(where={"doc_id": doc_id})
        self._collection("sentences").delete(where={"doc_id": doc_id})
        for key in [k for k in self._sentence_cache if k.startswith(doc_id + ":")]:
            del self._sentence_cache[key]

    def sweep_incomplete(self) -> list[str]:
        """Delete chunks and sentences of documents whose ingest never finished; returns their ids."""
        with self._lock:
            complete = set(self._collection("docs").get(include=[])["ids"])
            stray = {m["doc_id"] for m in self.chunks.get(include=["metadatas"])["metadatas"]} - complete
            stray |= {m["doc_id"] for m in self._collection("sentences").get(include=["metadatas"])["metadatas"]} - complete
            for doc_id in stray:
                self._delete_parts(doc_id)
            if stray:
                self.generation += 1
                logger.warning("removed the leftovers of %d interrupted ingest(s)", len(stray))
            return sorted(stray)

    # -- chunks and sentences ------------------------------------------------------------
    def all_chunks(self) -> tuple[list[str], list[str], list[dict[str, Any]]]:
        """Every chunk's id, text and metadata (for the lexical index), in pages."""
        ids: list[str] = []
        texts: list[str] = []
        metas: list[dict[str, Any]] = []
        page = 5000
        offset = 0
        while True:
            got = self.chunks.get(include=["documents", "metadatas"], limit=page, offset=offset)
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
            got = self._collection("sentences").get(ids=missing, include=["embeddings"])
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
