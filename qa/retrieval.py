"""Finding passages: dense retrieval over Chroma and BM25 over the chunks Chroma stores, fused
by reciprocal rank with LlamaIndex's QueryFusionRetriever (one query, no LLM). Filters (outlet,
place, dates) apply inside both: a Chroma `where` clause and a mask of the BM25 index's rows.

The BM25 index, its filter masks and the term statistics are in qa.lexical, kept up to date by
qa.store.views. Imported lazily by the Assistant: it pulls in LlamaIndex.
"""

from __future__ import annotations

import logging
import math
from concurrent.futures import ThreadPoolExecutor
from contextvars import ContextVar, copy_context
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
    from collections.abc import Callable

    import numpy as np

    from .config import RetrievalSettings
    from .embeddings import Embedder
    from .store import Store

logger = logging.getLogger(__name__)

# Nearest chunks a filtered dense search looks among first (see Retriever._nearest_inside).
PROBE = 400


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
        self._fusions: dict[int, _Fusion] = {}  # top_k -> its fusion retriever (see `_fusion`)
        self._pool = ThreadPoolExecutor(
            max_workers=4, thread_name_prefix="qa-dense"
        )  # Chroma beside BM25 (see _Fusion)

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
        self,
        question: str,
        query_vector: "np.ndarray | Callable[[], np.ndarray]",
        mode: str,
        top_k: int,
        filters: Filters | None = None,
    ) -> Retrieval:
        """The `top_k` best chunks for the question, best first, all inside `filters`, with the
        term statistics of the lexical snapshot that found them (an update by an ingest in another
        thread must not pair one snapshot's passages with the next one's statistics).

        `query_vector`: the question's vector, or a function that waits for it (see
        Embedder.encode_queries_meanwhile): the BM25 search runs while it encodes."""
        if mode not in MODES:
            raise InputError(f"unknown retrieval mode {mode!r}; choose one of {', '.join(MODES)}")
        filters = filters or Filters()
        bundle = QueryBundle(query_str=question)  # the dense search adds the vector (_DenseQuery)
        vector = query_vector if callable(query_vector) else lambda: query_vector
        snapshot = self.store.lexical.snapshot
        found: dict[str, tuple[str, dict[str, Any]]] = {}  # chunk id -> (text, metadata), as Chroma returned them
        nodes = self._retrieve_nodes(snapshot, bundle, mode, top_k, filters, found, vector)
        return Retrieval(self._hits(nodes, filters, found), snapshot.term_stats)

    def _retrieve_nodes(
        self,
        snapshot: Snapshot,
        bundle: QueryBundle,
        mode: str,
        top_k: int,
        filters: Filters,
        found: dict[str, Any],
        vector: "Callable[[], np.ndarray]",
    ) -> list[NodeWithScore]:
        if mode != "dense" and not snapshot.holds(filters):
            # No chunk inside the filters has a word BM25 indexes (every chunk is stop words: "To
            # be or not to be."): hybrid is dense alone, bm25 finds nothing.
            if mode == "bm25":
                return []
            mode = "dense"
        token = _ASKED.set(_Asked(snapshot, filters, max(top_k, self.candidates), found, vector, top_k))
        try:
            if mode == "dense":
                return self._dense._retrieve(bundle)[:top_k]
            if mode == "bm25":
                return self._lexical._retrieve(bundle)[:top_k]
            return self._fusion(top_k)._retrieve(bundle)
        finally:
            _ASKED.reset(token)

    @cached_property
    def _dense(self) -> _DenseQuery:
        return _DenseQuery(self)

    @cached_property
    def _lexical(self) -> _BM25Query:
        return _BM25Query(self)

    def _read_ahead(self, chunk_ids: list[str], found: dict[str, tuple[str, dict[str, Any]]]) -> None:
        """Read these chunks' text and metadata into `found` while the question is still encoding:
        the BM25 search's best, among which are its passages in the fused top k (the dense search
        returns its own). Their sentences' vectors are read with the others' once the top k is
        known: reading them here too made no difference to a question's median (100k chunks,
        floor then ask as bench/run.py times them: 1.67 times the floor with, 1.66 without, 1.70
        reading nothing ahead) and read vectors of passages the fusion drops."""
        found.update(self.store.chunk_records([c for c in chunk_ids if c not in found]))

    def _nearest_inside(self, asked: _Asked) -> list[NodeWithScore] | None:
        """The dense search within filters, from the nearest PROBE chunks and the lexical index's
        filter masks; None when fewer than the candidates among them are inside the filters and
        there are other chunks (Chroma's `where` clause then searches them all).

        Chroma evaluates a `where` clause over every chunk's fields before it searches: at 100k
        chunks 46 ms for a place, 165-270 ms for a date range, against 2 ms for the nearest 400 by
        distance alone. Scored as LlamaIndex scores Chroma's results (exp(-distance)); their
        texts and fields are read once fused (see `_hits`)."""
        got = self.store.chunks.query(
            query_embeddings=[asked.vector().tolist()],
            n_results=max(1, min(PROBE, asked.snapshot.chunks)),
            include=["distances"],
        )
        ids, distances = got["ids"][0], got["distances"][0]
        distance_of = dict(zip(ids, distances))
        inside = asked.snapshot.inside(ids, asked.filters)[: asked.candidates]
        if len(inside) < asked.candidates and len(ids) >= PROBE:
            return None
        return [_canonical(chunk_id, math.exp(-distance_of[chunk_id])) for chunk_id in inside]

    def _fusion(self, top_k: int) -> _Fusion:
        """LlamaIndex's reciprocal-rank fusion of the two, for `top_k` results: made once per top_k
        (making one took 0.6 ms a question, most of it LlamaIndex looking for an LLM package)."""
        fusion = self._fusions.get(top_k)
        if fusion is None:
            fusion = self._fusions[top_k] = _Fusion(
                self._pool,
                [self._dense, self._lexical],
                llm=MockLLM(),  # never called: num_queries=1 generates no extra queries
                mode=FUSION_MODES.RECIPROCAL_RANK,
                similarity_top_k=top_k,
                num_queries=1,
                use_async=False,
            )
        return fusion

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

    def _hits(
        self, nodes: list[NodeWithScore], filters: Filters, found: dict[str, tuple[str, dict[str, Any]]]
    ) -> list[Hit]:
        """The chunks of the fused nodes, with their text and metadata as Chroma stores them (the
        dense search returned some, the BM25 search read its best ahead; any others are read in
        one call, or kept from an earlier question). Chunks of documents that a write has opened
        since the lexical snapshot was made are left out."""
        missing = [n.node.node_id for n in nodes if n.node.node_id not in found]
        if missing:
            found.update(self.store.chunk_records(missing))
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


class _NoTransformation(TransformComponent):
    """Nodes as they are (see Retriever._dense_retriever: never called)."""

    def __call__(self, nodes: Any, **kwargs: Any) -> Any:
        return nodes


@dataclass
class _Asked:
    """One question's search: the lexical snapshot, the filters, how many candidates each retriever
    gives, the chunks (text, metadata) the dense search returned or were read ahead, the question's
    vector (a function that waits for it) and how many chunks the answer gets."""

    snapshot: Snapshot
    filters: Filters
    candidates: int
    found: dict[str, tuple[str, dict[str, Any]]]
    vector: "Callable[[], np.ndarray]"
    top_k: int


# The question being searched, for the retrievers below: they are made once and shared by the
# threads asking questions, each of which sees its own question here.
_ASKED: ContextVar[_Asked] = ContextVar("qa_asked")


class _Fusion(QueryFusionRetriever):
    """LlamaIndex's fusion retriever, running its retrievers' own searches (`_retrieve`) without
    LlamaIndex's instrumentation around each (an event dispatcher and callback spans, nothing
    listening here: 3 ms of a 17 ms question), and side by side: the first (the dense search:
    waiting for the question's vector, then Chroma's search, both of which let go of the GIL) in a
    worker thread while this one runs the others (BM25)."""

    def __init__(self, pool: Any, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.pool = pool  # a ThreadPoolExecutor, shared by the fusions of one Retriever

    def _run_sync_queries(self, queries: list[QueryBundle]) -> dict[tuple[str, int], list[NodeWithScore]]:
        results = {}
        for q in queries:
            first = self.pool.submit(copy_context().run, self._retrievers[0]._retrieve, q)  # in the question's context
            for i, retriever in enumerate(self._retrievers[1:], 1):
                results[(q.query_str, i)] = retriever._retrieve(q)
            results[(q.query_str, 0)] = first.result()
        return dict(sorted(results.items(), key=lambda kv: kv[0][1]))  # in the retrievers' order, as LlamaIndex's own


class _DenseQuery(BaseRetriever):
    """LlamaIndex's vector retriever over Chroma for the question being searched (its filters as a
    `where` clause), its nodes reduced to chunk ids (see `_canonical`)."""

    def __init__(self, owner: Retriever) -> None:
        super().__init__()
        self._owner = owner

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        asked = _ASKED.get()
        if asked.filters:
            nearest = self._owner._nearest_inside(asked)
            if nearest is not None:
                return nearest
        inner = self._owner._dense_retriever(asked.candidates, asked.filters)
        embedded = QueryBundle(query_str=query_bundle.query_str, embedding=asked.vector().tolist())
        out = []
        for item in inner._retrieve(embedded):
            if item.node.metadata:
                asked.found[item.node.node_id] = (item.node.get_content(), {**item.node.metadata})
            out.append(_canonical(item.node.node_id, item.score))
        return out


class _BM25Query(BaseRetriever):
    """The lexical snapshot's BM25 search for the question being searched, within its filters; the
    best `top_k` are read ahead (see Retriever._read_ahead)."""

    def __init__(self, owner: Retriever) -> None:
        super().__init__()
        self._owner = owner

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        asked = _ASKED.get()
        found = asked.snapshot.search(query_bundle.query_str, asked.candidates, asked.filters)
        self._owner._read_ahead([chunk_id for chunk_id, _ in found[: asked.top_k]], asked.found)
        return [_canonical(chunk_id, score) for chunk_id, score in found]


def _canonical(chunk_id: str, score: float | None) -> NodeWithScore:
    """A chunk as the same node whichever retriever found it: reciprocal-rank fusion merges results
    by node hash (text + metadata), and Chroma returns nodes with text and metadata where the
    lexical index has ids alone; what Chroma returned is kept apart (`_Asked.found`)."""
    return NodeWithScore(node=TextNode(id_=chunk_id, text="", metadata={"chunk_id": chunk_id}), score=score)


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
