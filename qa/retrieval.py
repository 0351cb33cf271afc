"""Finding passages: dense retrieval over Chroma and BM25 (bm25s) over the chunks Chroma
stores, fused by reciprocal rank with LlamaIndex's QueryFusionRetriever (one query, no LLM). Filters
(outlet, place, dates) apply inside both: a Chroma `where` clause and a BM25 weight mask.

The BM25 index, its filter mask and the term statistics are in qa.lexical. Imported lazily by
the Assistant: it pulls in LlamaIndex.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any, NamedTuple

from llama_index.core import VectorStoreIndex
from llama_index.core.base.embeddings.base import BaseEmbedding
from llama_index.core.llms import MockLLM
from llama_index.core.retrievers import BaseRetriever, QueryFusionRetriever
from llama_index.core.retrievers.fusion_retriever import FUSION_MODES
from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode
from llama_index.vector_stores.chroma import ChromaVectorStore
from pydantic import PrivateAttr

from .chunking import read_sentences
from .config import MODES
from .errors import InputError
from .lexical import Facets, MaskedBM25, TermStats
from .locks import OrderedLock
from .text import content_terms
from .types import Filters, Sentence, Span

if TYPE_CHECKING:
    import numpy as np

    from .config import RetrievalSettings
    from .embeddings import Embedder
    from .store import Store

logger = logging.getLogger(__name__)
# bm25s sets its own logger to DEBUG on import and reports every index build.
logging.getLogger("bm25s").setLevel(logging.WARNING)



@dataclass
class Hit(Span):
    """A retrieved chunk, best first: its span, its stored metadata, and the retriever's (or the
    fused) score and rank."""

    chunk_id: str
    metadata: dict[str, Any]
    score: float
    rank: int

    @classmethod
    def of(cls, chunk_id: str, text: str, metadata: dict[str, Any], score: float, rank: int) -> Hit:
        """The hit of a stored chunk (its id is "{doc_id}:{index}", its offsets in its metadata)."""
        return cls(
            doc_id=chunk_id.rsplit(":", 1)[0],
            start=int(metadata["start"]),
            end=int(metadata["end"]),
            text=text,
            chunk_id=chunk_id,
            metadata=metadata,
            score=score,
            rank=rank,
        )

    @cached_property
    def sentences(self) -> list[Sentence]:
        """The chunk's sentences: document offsets and what each is (text, heading, credit)."""
        return read_sentences(self.metadata, self.text, self.start)

    @property
    def sentence_spans(self) -> list[tuple[int, int]]:
        """The chunk's sentences as document offsets."""
        return [(s.start, s.end) for s in self.sentences]



class Retrieval(NamedTuple):
    """What a search found: the chunks, best first, and the term statistics to weigh them with."""

    hits: list[Hit]
    term_stats: TermStats


@dataclass
class _LexicalBuild:
    """One build of the lexical side: BM25 over every chunk, the chunks' text and metadata, their
    facets and term statistics. A rebuild replaces it whole and never changes it in place (only
    chunks that dense retrieval finds written since are added to `chunks`), so a question that
    started on a build reads one consistent state while the next one is built."""

    bm25: "MaskedBM25 | None" = None
    facets: "Facets | None" = None
    chunks: dict[str, tuple[str, dict[str, Any]]] = field(default_factory=dict)
    term_stats: TermStats = field(default_factory=TermStats)


class Retriever:
    """Hybrid, dense or lexical retrieval of chunks for a question, optionally within Filters.

    Safe to call from several threads at once (the web app answers `concurrency_limit` questions
    at a time): each question searches one `_LexicalBuild` with its own filter mask.
    """

    def __init__(self, store: "Store", embedder: "Embedder", candidates: int) -> None:
        """`candidates`: chunks each retriever returns before fusion."""
        self.store = store
        self.embedder = embedder
        self.candidates = candidates
        # What each lock guards, and the order they are taken in: qa.locks.
        self._lock = OrderedLock("retriever")
        self._build_lock = OrderedLock("retriever-build")
        self._index = None
        self._built = _LexicalBuild()
        self._built_generation = -1
        self._foreign_change = True  # nothing built yet
        self._checked_at = float("-inf")
        self._built_at = float("-inf")
        self._build_s = 0.0

    @classmethod
    def from_settings(cls, retrieval: RetrievalSettings, store: "Store", embedder: "Embedder") -> Retriever:
        """A retriever of `store`'s chunks as the retrieval settings say."""
        return cls(store, embedder, retrieval.candidates_per_retriever)

    @property
    def term_stats(self) -> TermStats:
        """Term statistics (for IDF weights) of the newest lexical build."""
        return self._built.term_stats

    # -- building ------------------------------------------------------------------------
    def _dense_retriever(self, top_k: int, filters: Filters, chunks: dict[str, Any]) -> "_Canonical":
        if self._index is None:  # store.chunks stays valid when the store reopens its client
            self._index = VectorStoreIndex.from_vector_store(
                ChromaVectorStore(chroma_collection=self.store.chunks),
                embed_model=LlamaEmbedding(self.embedder),
            )
        where = self.store.where(filters)
        inner = self._index.as_retriever(
            similarity_top_k=top_k, vector_store_kwargs={"where": where} if where else {}
        )
        return _Canonical(inner, chunks)

    def _is_stale(self, force: bool) -> bool:
        """Whether the lexical index should be rebuilt now.

        A write through this process's Store is seen at once; other processes' writes through the
        index's change token, read at most once a second. While writes keep coming (a long ingest)
        rebuilds are spaced to at least ten times the last build's duration, so answering never
        spends most of its time rebuilding; dense retrieval sees new chunks meanwhile. Called
        under `_lock`.
        """
        now = time.monotonic()
        if now - self._checked_at >= 1.0 or force:
            self._checked_at = now
            self._foreign_change |= self.store.sync()
        if not (self._foreign_change or self.store.generation != self._built_generation):
            return False
        return force or now - self._built_at >= 10 * self._build_s

    def _current_build(self, force: bool = False) -> _LexicalBuild:
        """The lexical build to search, rebuilt first when it is stale (see `_is_stale`).

        When another thread is rebuilding already, a question searches the previous build rather
        than wait; `force` (after a write, or a fresh look) waits and rebuilds.
        """
        with self._lock:
            stale = self._is_stale(force)
        if not stale:
            return self._built
        if not self._build_lock.acquire(blocking=force or self._built_generation < 0):
            return self._built
        try:
            if force or self._foreign_change or self.store.generation != self._built_generation:
                self._rebuild()
        finally:
            self._build_lock.release()
        return self._built

    def _rebuild(self) -> None:
        """BM25, facets and term statistics over every chunk Chroma holds (under `_build_lock`)."""
        started = time.monotonic()
        with self._lock:
            generation = self.store.generation
            self._foreign_change = False
        ids, texts, metas = self.store.all_chunks()
        stats = TermStats(chunks=len(ids))
        for text in texts:
            stats.df.update(set(content_terms(text)))
        build = _LexicalBuild(chunks={i: (t, m) for i, t, m in zip(ids, texts, metas)}, term_stats=stats)
        if ids:
            build.bm25 = MaskedBM25.build(ids, texts, similarity_top_k=min(self.candidates, len(ids)))
            build.facets = Facets(metas)
        self._built = build  # one assignment: a question sees the old build or the new one, whole
        self._built_generation = generation
        self._built_at = time.monotonic()
        self._build_s = self._built_at - started
        logger.info("lexical index built over %d chunks in %.2f s", len(ids), self._build_s)

    def refresh(self) -> None:
        """Bring the lexical index up to date with the store now (else a later query does)."""
        self._current_build(force=True)

    def check(self, filters: Filters) -> None:
        """Refuse an outlet or place that no report in the index has (after one fresh look).

        Raises:
            InputError: naming the value and the closest known ones.
        """
        if not (filters.sources or filters.places):
            return
        build = self._current_build()
        problem = build.facets.unknown(filters) if build.facets else "the index is empty"
        if problem:
            build = self._current_build(force=True)
            problem = build.facets.unknown(filters) if build.facets else "the index is empty"
        if problem:
            raise InputError(problem)

    # -- querying ------------------------------------------------------------------------
    def retrieve(
        self, question: str, query_vector: "np.ndarray", mode: str, top_k: int, filters: Filters | None = None
    ) -> Retrieval:
        """The `top_k` best chunks for the question, best first, all inside `filters`, with the
        term statistics of the lexical build that found them (a rebuild by an ingest in another
        thread must not pair one build's passages with the next one's statistics)."""
        if mode not in MODES:
            raise InputError(f"unknown retrieval mode {mode!r}; choose one of {', '.join(MODES)}")
        filters = filters or Filters()
        bundle = QueryBundle(query_str=question, embedding=[float(x) for x in query_vector])
        build = self._current_build()
        with self._lock:
            nodes = self.store.chroma.read(lambda: self._retrieve_nodes(build, bundle, mode, top_k, filters))
        return Retrieval(self._hits(build, nodes, filters), build.term_stats)

    def _retrieve_nodes(
        self, build: _LexicalBuild, bundle: QueryBundle, mode: str, top_k: int, filters: Filters
    ) -> list[NodeWithScore]:
        if build.facets is None:  # empty index
            return []
        mask = build.facets.mask(filters) if filters else None
        # No lexical index (every chunk is stop words: "To be or not to be."), or nothing it
        # knows inside the filters: hybrid is dense alone, bm25 finds nothing.
        lexical_ok = build.bm25 is not None and (mask is None or bool(mask.any()))
        candidates = max(top_k, self.candidates)
        dense = self._dense_retriever(candidates, filters, build.chunks)
        if mode == "dense" or (mode == "hybrid" and not lexical_ok):
            return dense.retrieve(bundle)[:top_k]
        if not lexical_ok:
            return []
        lexical = _Canonical(_BM25Query(build.bm25, candidates, mask), build.chunks)
        if mode == "bm25":
            return [n for n in lexical.retrieve(bundle) if (n.score or 0) > 0][:top_k]
        return self._fusion(dense, lexical, top_k).retrieve(bundle)

    def _hits(self, build: _LexicalBuild, nodes: list[NodeWithScore], filters: Filters) -> list[Hit]:
        hits = []
        for item in nodes:
            chunk_id = item.node.node_id
            text, meta = build.chunks.get(chunk_id, (item.node.get_content(), {}))
            if "start" not in meta:
                continue
            if filters and not filters.matches(meta):
                logger.warning("dropped %s: retrieved outside the filters %s", chunk_id, filters.describe())
                continue
            hits.append(Hit.of(chunk_id, text, meta, float(item.score or 0.0), len(hits)))
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


class _BM25Query(BaseRetriever):
    """One question's search of a shared BM25 index, with its own result count and filter mask
    (so questions in parallel threads never see each other's)."""

    def __init__(self, bm25: MaskedBM25, k: int, mask: Any) -> None:
        super().__init__()
        self.bm25 = bm25
        self.k = k
        self.mask = mask

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        return self.bm25.search(query_bundle.query_str, self.k, self.mask)


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
