"""Finding passages: dense retrieval over Chroma and BM25 (bm25s) over the chunks Chroma
stores, fused by reciprocal rank with LlamaIndex's QueryFusionRetriever (one query, no LLM).

Imported lazily by the Assistant: it pulls in LlamaIndex.
"""

from __future__ import annotations

import logging
import difflib
import math
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

from llama_index.core import VectorStoreIndex
from llama_index.core.base.embeddings.base import BaseEmbedding
from llama_index.core.llms import MockLLM
from llama_index.core.retrievers import BaseRetriever, QueryFusionRetriever
from llama_index.core.retrievers.fusion_retriever import FUSION_MODES
from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode
from llama_index.retrievers.bm25 import BM25Retriever
from llama_index.vector_stores.chroma import ChromaVectorStore
from pydantic import PrivateAttr

from .errors import InputError
from .text import content_terms, stem

if TYPE_CHECKING:
    import numpy as np

    from .embeddings import Embedder
    from .store import Store

logger = logging.getLogger(__name__)
# bm25s sets its own logger to DEBUG on import and reports every index build.
logging.getLogger("bm25s").setLevel(logging.WARNING)

MODES = ("hybrid", "dense", "bm25")


@dataclass
class Hit:
    """A retrieved chunk, best first. `score` is the retriever's (or the fused) score."""

    chunk_id: str
    doc_id: str
    text: str
    metadata: dict[str, Any]
    score: float
    rank: int

    @property
    def start(self) -> int:
        return int(self.metadata["start"])

    @property
    def end(self) -> int:
        return int(self.metadata["end"])

    @cached_property
    def sentence_spans(self) -> list[tuple[int, int]]:
        """The chunk's sentences as document offsets."""
        spans = []
        for part in str(self.metadata.get("sentences", "")).split(","):
            if part:
                a, b = part.split("-")
                spans.append((int(a), int(b)))
        return spans


@dataclass
class TermStats:
    """Document frequencies of stemmed content terms over all chunks (for IDF weights)."""

    chunks: int = 0
    df: Counter = field(default_factory=Counter)
    _by_prefix: dict[str, list[str]] | None = field(default=None, repr=False)

    def idf(self, term: str) -> float:
        return math.log(1.0 + (self.chunks + 1) / (self.df.get(term, 0) + 0.5))

    def mentions(self, word: str) -> bool:
        """Whether any chunk has the word, or a spelling variant of a name (Maaret/Maarat)."""
        term = stem(word)
        if term in self.df or word.isdigit():
            return term in self.df
        if self._by_prefix is None:
            self._by_prefix = {}
            for known in self.df:
                self._by_prefix.setdefault(known[:2], []).append(known)
        near = self._by_prefix.get(term[:2], [])
        return bool(difflib.get_close_matches(term, near, n=1, cutoff=0.8))


class Retriever:
    """Hybrid, dense or lexical retrieval of chunks for a question."""

    def __init__(self, store: "Store", embedder: "Embedder", candidates: int) -> None:
        self.store = store
        self.embedder = embedder
        self.candidates = candidates
        self._lock = threading.Lock()
        self._dense = None
        self._lexical = None
        self._lexical_state: tuple[int, int] | None = None
        self._lexical_size = 0
        self._checked_at = 0.0
        self._chunks: dict[str, tuple[str, dict[str, Any]]] = {}
        self.term_stats = TermStats()

    # -- building ------------------------------------------------------------------------
    def _dense_retriever(self) -> Any:
        if self._dense is None:
            index = VectorStoreIndex.from_vector_store(
                ChromaVectorStore(chroma_collection=self.store.chunks),
                embed_model=LlamaEmbedding(self.embedder),
            )
            self._dense = _Canonical(index.as_retriever(similarity_top_k=self.candidates), self._chunks)
        return self._dense

    def _lexical_retriever(self) -> Any | None:
        """BM25 over every chunk Chroma holds; rebuilt when the collection has changed.

        Writes made through this process's Store are seen at once; the chunk count, which
        also reveals other processes' writes, is read at most once a second.
        """
        now = time.monotonic()
        if self._lexical_state and self._lexical_state[0] == self.store.generation and now - self._checked_at < 1.0:
            return self._lexical
        self._checked_at = now
        state = (self.store.generation, self.store.count_chunks())
        if state == self._lexical_state:
            return self._lexical
        ids, texts, metas = self.store.all_chunks()
        self._chunks.clear()  # shared with the _Canonical wrappers: same dict, new contents
        self._chunks.update({i: (t, m) for i, t, m in zip(ids, texts, metas)})
        self._lexical_size = len(ids)
        stats = TermStats(chunks=len(ids))
        for text in texts:
            stats.df.update(set(content_terms(text)))
        self.term_stats = stats
        if ids:
            nodes = [TextNode(id_=i, text=t) for i, t in zip(ids, texts)]
            bm25 = BM25Retriever(nodes=nodes, similarity_top_k=min(self.candidates, len(nodes)))
            self._lexical = _Canonical(bm25, self._chunks)
        else:
            self._lexical = None
        self._lexical_state = state
        logger.info("lexical index built over %d chunks", len(ids))
        return self._lexical

    def refresh(self) -> None:
        """Bring the lexical index up to date with the store now (else the next query does)."""
        with self._lock:
            self._lexical_retriever()

    # -- querying ------------------------------------------------------------------------
    def retrieve(self, question: str, query_vector: "np.ndarray", mode: str, top_k: int) -> list[Hit]:
        """The `top_k` best chunks for the question, best first."""
        if mode not in MODES:
            raise InputError(f"unknown retrieval mode {mode!r}; choose one of {', '.join(MODES)}")
        bundle = QueryBundle(query_str=question, embedding=[float(x) for x in query_vector])
        with self._lock:
            lexical = self._lexical_retriever()
            dense = self._dense_retriever()
            if lexical is None:  # empty index
                return []
            lexical.inner.similarity_top_k = min(max(top_k, self.candidates), self._lexical_size)
            dense.inner.similarity_top_k = max(top_k, self.candidates)
            if mode == "dense":
                nodes = dense.retrieve(bundle)[:top_k]
            elif mode == "bm25":
                nodes = [n for n in lexical.retrieve(bundle) if (n.score or 0) > 0][:top_k]
            else:
                nodes = self._fusion(dense, lexical, top_k).retrieve(bundle)
        hits = []
        for rank, item in enumerate(nodes):
            chunk_id = item.node.node_id
            text, meta = self._chunks.get(chunk_id, (item.node.get_content(), {}))
            if "start" not in meta:
                continue
            hits.append(Hit(chunk_id, chunk_id.rsplit(":", 1)[0], text, meta, float(item.score or 0.0), rank))
        return hits

    @staticmethod
    def _fusion(dense: Any, lexical: Any, top_k: int) -> Any:
        return QueryFusionRetriever(
            [dense, lexical],
            llm=MockLLM(),  # never called: num_queries=1 generates no extra queries
            mode=FUSION_MODES.RECIPROCAL_RANK,
            similarity_top_k=top_k,
            num_queries=1,
            use_async=False,
        )


class _Canonical(BaseRetriever):
    """Wraps a retriever so that a chunk is the same node whichever retriever found it.

    Reciprocal-rank fusion merges results by node hash (text + metadata); Chroma and BM25
    rebuild nodes with different metadata, so both are reduced to text + chunk id here.
    """

    def __init__(self, inner: BaseRetriever, chunks: dict[str, tuple[str, dict[str, Any]]]) -> None:
        super().__init__()
        self.inner = inner
        self._chunks = chunks

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        out = []
        for item in self.inner.retrieve(query_bundle):
            node = item.node
            if node.node_id not in self._chunks and node.metadata:
                # Written by another process since the lexical index was built.
                self._chunks[node.node_id] = (node.get_content(), {**node.metadata})
            text = self._chunks.get(node.node_id, (node.get_content(), {}))[0]
            canon = TextNode(id_=node.node_id, text=text, metadata={"chunk_id": node.node_id})
            out.append(NodeWithScore(node=canon, score=item.score))
        return out


class LlamaEmbedding(BaseEmbedding):
    """Our Embedder seen through LlamaIndex's embedding interface."""

    _embedder: Any = PrivateAttr()

    def __init__(self, embedder: "Embedder") -> None:
        super().__init__(model_name=embedder.model_name, embed_batch_size=embedder.batch_size)
        self._embedder = embedder

    def _get_query_embedding(self, query: str) -> list[float]:
        return self._embedder.encode([query])[0].tolist()

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return self._get_query_embedding(query)

    def _get_text_embedding(self, text: str) -> list[float]:
        return self._embedder.encode([text])[0].tolist()

    def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        return self._embedder.encode(texts).tolist()
