"""Finding passages: dense retrieval over Chroma and BM25 over the chunks Chroma stores, fused
by reciprocal rank with LlamaIndex's QueryFusionRetriever (one query, no LLM). Filters (outlet,
place, dates) apply inside both: a Chroma `where` clause and a mask of the BM25 index's rows.

The BM25 index, its filter masks and the term statistics are in qa.lexical, kept up to date by
qa.store.views. Imported lazily by the Assistant: it pulls in LlamaIndex.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any, NamedTuple

from llama_index.core import VectorStoreIndex
from llama_index.core.base.embeddings.base import BaseEmbedding
from llama_index.core.llms import MockLLM
from llama_index.core.retrievers import BaseRetriever, QueryFusionRetriever
from llama_index.core.retrievers.fusion_retriever import FUSION_MODES
from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode, TransformComponent
from llama_index.vector_stores.chroma import ChromaVectorStore
from pydantic import PrivateAttr

from .chunking import read_sentences
from .config import MODES
from .errors import InputError
from .lexical import Snapshot, TermStats
from .types import Filters, Sentence, Span

if TYPE_CHECKING:
    import numpy as np

    from .config import RetrievalSettings
    from .embeddings import Embedder
    from .store import Store

logger = logging.getLogger(__name__)



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


class Retriever:
    """Hybrid, dense or lexical retrieval of chunks for a question, optionally within Filters.

    Safe to call from several threads at once, and no lock is held while a question is searched:
    each question searches one snapshot of the lexical index (qa.lexical, kept up to date by
    qa.store.views) with its own filter mask, and Chroma queries run side by side.
    """

    def __init__(self, store: "Store", embedder: "Embedder", candidates: int) -> None:
        """`candidates`: chunks each retriever returns before fusion."""
        self.store = store
        self.embedder = embedder
        self.candidates = candidates
        self._index: Any = None

    @classmethod
    def from_settings(cls, retrieval: RetrievalSettings, store: "Store", embedder: "Embedder") -> Retriever:
        """A retriever of `store`'s chunks as the retrieval settings say."""
        return cls(store, embedder, retrieval.candidates_per_retriever)

    @property
    def term_stats(self) -> TermStats:
        """Term statistics (for IDF weights) of the current lexical snapshot."""
        return self.store.lexical.snapshot.term_stats

    def refresh(self) -> None:
        """Bring the lexical index up to date with the store now (else a later question does)."""
        self.store.lexical.snapshot  # built on first use
        self.store.views.refresh(force=True)

    def check(self, filters: Filters) -> None:
        """Refuse an outlet or place that no report in the index has (after one fresh look).

        Raises:
            InputError: naming the value and the closest known ones.
        """
        if not (filters.sources or filters.places):
            return
        problem = self.store.lexical.snapshot.unknown(filters)
        if problem:
            self.store.views.refresh(force=True)
            problem = self.store.lexical.snapshot.unknown(filters)
        if problem:
            raise InputError(problem)

    # -- querying ------------------------------------------------------------------------
    def retrieve(
        self, question: str, query_vector: "np.ndarray", mode: str, top_k: int, filters: Filters | None = None
    ) -> Retrieval:
        """The `top_k` best chunks for the question, best first, all inside `filters`, with the
        term statistics of the lexical snapshot that found them (an update by an ingest in another
        thread must not pair one snapshot's passages with the next one's statistics)."""
        if mode not in MODES:
            raise InputError(f"unknown retrieval mode {mode!r}; choose one of {', '.join(MODES)}")
        filters = filters or Filters()
        bundle = QueryBundle(query_str=question, embedding=[float(x) for x in query_vector])
        snapshot = self.store.lexical.snapshot
        found: dict[str, tuple[str, dict[str, Any]]] = {}  # chunk id -> (text, metadata), as Chroma returned them
        nodes = self._retrieve_nodes(snapshot, bundle, mode, top_k, filters, found)
        return Retrieval(self._hits(nodes, filters, found), snapshot.term_stats)

    def _retrieve_nodes(
        self, snapshot: Snapshot, bundle: QueryBundle, mode: str, top_k: int, filters: Filters, found: dict[str, Any]
    ) -> list[NodeWithScore]:
        if mode != "dense" and not snapshot.holds(filters):
            # No chunk inside the filters has a word BM25 indexes (every chunk is stop words: "To
            # be or not to be."): hybrid is dense alone, bm25 finds nothing.
            if mode == "bm25":
                return []
            mode = "dense"
        candidates = max(top_k, self.candidates)
        dense = _Canonical(self._dense_retriever(candidates, filters), found)
        if mode == "dense":
            return dense.retrieve(bundle)[:top_k]
        lexical = _Canonical(_BM25Query(snapshot, candidates, filters), found)
        if mode == "bm25":
            return lexical.retrieve(bundle)[:top_k]
        return self._fusion(dense, lexical, top_k).retrieve(bundle)

    def _dense_retriever(self, top_k: int, filters: Filters) -> BaseRetriever:
        if self._index is None:  # store.chunks stays valid when the store reopens its client
            self._index = VectorStoreIndex.from_vector_store(
                ChromaVectorStore(chroma_collection=self.store.chunks),
                embed_model=LlamaEmbedding(self.embedder),
                # The index never inserts (qa.store writes Chroma): a transformation given here keeps
                # LlamaIndex from making its default node parser, which loads tiktoken's BPE (0.7 s).
                transformations=[_NoTransformation()],
            )
        where = self.store.where(filters)
        return self._index.as_retriever(similarity_top_k=top_k, vector_store_kwargs={"where": where} if where else {})

    def _hits(self, nodes: list[NodeWithScore], filters: Filters, found: dict[str, tuple[str, dict[str, Any]]]) -> list[Hit]:
        """The chunks of the fused nodes, with their text and metadata as Chroma stores them now
        (the dense search returned some; the others are read in one call). Chunks of documents
        that a write has opened since the lexical snapshot was made are left out."""
        missing = [n.node.node_id for n in nodes if n.node.node_id not in found]
        if missing:
            got = self.store.chroma.read(lambda: self.store.chunks.get(ids=missing, include=["documents", "metadatas"]))
            found.update((i, (t or "", m or {})) for i, t, m in zip(got["ids"], got["documents"], got["metadatas"]))
        hidden = self.store.log.hidden()
        hits = []
        for item in nodes:
            chunk_id = item.node.node_id
            text, meta = found.get(chunk_id, ("", {}))
            if "start" not in meta or meta.get("doc_id") in hidden:
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


class _NoTransformation(TransformComponent):
    """Nodes as they are (see Retriever._dense_retriever: never called)."""

    def __call__(self, nodes: Any, **kwargs: Any) -> Any:
        return nodes


class _BM25Query(BaseRetriever):
    """One question's search of a lexical snapshot, with its own result count and filters."""

    def __init__(self, snapshot: Snapshot, k: int, filters: Filters) -> None:
        super().__init__()
        self.snapshot = snapshot
        self.k = k
        self.filters = filters

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        return [
            NodeWithScore(node=TextNode(id_=chunk_id, text=""), score=score)
            for chunk_id, score in self.snapshot.search(query_bundle.query_str, self.k, self.filters)
        ]


class _Canonical(BaseRetriever):
    """Wraps a retriever so that a chunk is the same node whichever retriever found it.

    Reciprocal-rank fusion merges results by node hash (text + metadata); Chroma returns nodes
    with text and metadata and the lexical index with ids alone, so both are reduced to the
    chunk id here; what Chroma returned is kept in `found` for the hits.
    """

    def __init__(self, inner: BaseRetriever, found: dict[str, tuple[str, dict[str, Any]]]) -> None:
        super().__init__()
        self.inner = inner
        self._found = found

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        out = []
        for item in self.inner.retrieve(query_bundle):
            node = item.node
            if node.metadata:
                self._found[node.node_id] = (node.get_content(), {**node.metadata})
            canon = TextNode(id_=node.node_id, text="", metadata={"chunk_id": node.node_id})
            out.append(NodeWithScore(node=canon, score=item.score))
        return out


class LlamaEmbedding(BaseEmbedding):
    """Our Embedder seen through LlamaIndex's embedding interface."""

    _embedder: Any = PrivateAttr()

    def __init__(self, embedder: "Embedder") -> None:
        super().__init__(model_name=embedder.model_name, embed_batch_size=embedder.batch_size)
        self._embedder = embedder

    def _get_query_embedding(self, query: str) -> list[float]:
        return self._embedder.encode_queries([query])[0].tolist()

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return self._get_query_embedding(query)

    def _get_text_embedding(self, text: str) -> list[float]:
        return self._embedder.encode([text])[0].tolist()

    def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        return self._embedder.encode(texts).tolist()
