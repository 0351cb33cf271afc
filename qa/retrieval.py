"""Finding passages: dense retrieval over Chroma and BM25 (bm25s) over the chunks Chroma
stores, fused by reciprocal rank with LlamaIndex's QueryFusionRetriever (one query, no LLM). Filters
(outlet, place, dates) apply inside both: a Chroma `where` clause and a BM25 weight mask.

Imported lazily by the Assistant: it pulls in LlamaIndex.
"""

from __future__ import annotations

import difflib
import logging
import math
import time
from collections import Counter, OrderedDict
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any, NamedTuple

import bm25s
import Stemmer
from llama_index.core import VectorStoreIndex
from llama_index.core.base.embeddings.base import BaseEmbedding
from llama_index.core.llms import MockLLM
from llama_index.core.retrievers import BaseRetriever, QueryFusionRetriever
from llama_index.core.retrievers.fusion_retriever import FUSION_MODES
from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode
from llama_index.retrievers.bm25 import BM25Retriever
from llama_index.vector_stores.chroma import ChromaVectorStore
from pydantic import PrivateAttr

from .chunking import read_sentences
from .config import MODES
from .errors import InputError
from .locks import OrderedLock
from .text import content_terms, spelled_like, stem
from .types import Filters, Sentence, outlet_key, place_key

if TYPE_CHECKING:
    import numpy as np

    from .config import RetrievalSettings
    from .embeddings import Embedder
    from .store import Store

logger = logging.getLogger(__name__)
# bm25s sets its own logger to DEBUG on import and reports every index build.
logging.getLogger("bm25s").setLevel(logging.WARNING)



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
    def sentences(self) -> list[Sentence]:
        """The chunk's sentences: document offsets and what each is (text, heading, credit)."""
        return read_sentences(self.metadata, self.text, self.start)

    @property
    def sentence_spans(self) -> list[tuple[int, int]]:
        """The chunk's sentences as document offsets."""
        return [(s.start, s.end) for s in self.sentences]


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
        by_prefix = self._by_prefix
        if by_prefix is None:
            by_prefix = {}
            for known in self.df:
                by_prefix.setdefault(known[:2], []).append(known)
            self._by_prefix = by_prefix  # set whole: a question in another thread never sees it half built
        near = by_prefix.get(term[:2], [])
        return spelled_like(term, near)


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

    bm25: "_MaskedBM25 | None" = None
    facets: "_Facets | None" = None
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
            build.bm25 = _MaskedBM25.build(ids, texts, similarity_top_k=min(self.candidates, len(ids)))
            build.facets = _Facets(metas)
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
            hits.append(Hit(chunk_id, chunk_id.rsplit(":", 1)[0], text, meta, float(item.score or 0.0), len(hits)))
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


class _Facets:
    """Outlet, place and date of every chunk in the lexical index's order, so a filter becomes a
    BM25 weight mask with a few array operations instead of a pass over 100k dicts."""

    def __init__(self, metas: list[dict[str, Any]]) -> None:
        import numpy as np

        self.size = len(metas)
        self.by_source: dict[str, list[int]] = {}
        self.by_place: dict[str, list[int]] = {}
        self.source_names: dict[str, str] = {}  # key -> the outlet as first written
        for i, meta in enumerate(metas):
            key = str(meta.get("source_key", ""))
            self.by_source.setdefault(key, []).append(i)
            self.source_names.setdefault(key, str(meta.get("source", "")))
            for term in meta.get("place_terms") or ():
                self.by_place.setdefault(term, []).append(i)
        self.dates = np.array([int(m.get("date_num") or 0) for m in metas], dtype=np.int64)
        self._masks: OrderedDict[Filters, Any] = OrderedDict()

    def mask(self, filters: Filters) -> "np.ndarray":
        """1 for chunks inside the filters, 0 for the others."""
        import numpy as np

        cached = self._masks.get(filters)
        if cached is not None:
            return cached
        keep = np.ones(self.size, dtype=bool)
        if filters.sources:
            keep &= self._any(self.by_source, {outlet_key(s) for s in filters.sources})
        if filters.places:
            keep &= self._any(self.by_place, {place_key(p) for p in filters.places})
        if filters.date_from or filters.date_to:
            low, high = filters.day_range
            keep &= ((self.dates >= low) & (self.dates <= high)) | (filters.undated & (self.dates == 0))
        self._masks[filters] = mask = keep.astype(np.float32)
        if len(self._masks) > 64:
            self._masks.popitem(last=False)
        return mask

    def unknown(self, filters: Filters) -> str | None:
        """Why an outlet or place in the filters names nothing in the index (a likely typo), or None."""
        for value in filters.sources:
            if outlet_key(value) not in self.by_source:
                known = sorted(name for key, name in self.source_names.items() if key)
                near = difflib.get_close_matches(value, known, n=3, cutoff=0.5)
                hint = f"did you mean {' or '.join(near)}?" if near else f"outlets in the index: {', '.join(known[:20])}"
                return f"no report in the index is from the outlet {value!r}; {hint}"
        for value in filters.places:
            if place_key(value) not in self.by_place:
                near = difflib.get_close_matches(place_key(value), sorted(self.by_place), n=3, cutoff=0.6)
                hint = f"; did you mean {' or '.join(near)}?" if near else ""
                return f"no report in the index names the place {value!r}{hint}"
        return None

    def _any(self, index: dict[str, list[int]], keys: set[str]) -> "np.ndarray":
        import numpy as np

        hit = np.zeros(self.size, dtype=bool)
        for key in keys:
            hit[index.get(key, [])] = True
        return hit


class _MaskedBM25(BM25Retriever):
    """LlamaIndex's BM25 retriever searched with a weight mask per query (`search`): chunks
    outside the filters score zero inside bm25s and are never returned."""

    TOKENS = r"(?u)\b\w\w+\b"  # BM25Retriever's default token pattern

    @classmethod
    def build(cls, ids: list[str], texts: list[str], similarity_top_k: int) -> "_MaskedBM25 | None":
        """BM25 over the texts, or None when no text has a word it indexes (stop words only)."""
        # The index is built here exactly as BM25Retriever builds it from nodes (same tokenizer,
        # stop words and stemmer), without making a node and a metadata dict per chunk first:
        # that took a third of a rebuild at 100k chunks.
        stemmer = Stemmer.Stemmer("english")
        tokens = bm25s.tokenize(texts, stopwords="en", stemmer=stemmer, token_pattern=cls.TOKENS, show_progress=False)
        if not tokens.vocab:
            return None
        index = bm25s.BM25()
        index.index(tokens, show_progress=False)  # no vocabulary left it warning (mean of nothing) and failing
        return cls(ids, index, stemmer, similarity_top_k)

    def __init__(self, ids: list[str], index: Any, stemmer: Any, similarity_top_k: int) -> None:
        super().__init__(existing_bm25=index, stemmer=stemmer, similarity_top_k=similarity_top_k, token_pattern=self.TOKENS)
        # Not index.corpus: with one, bm25s returns corpus entries instead of row numbers.
        self.corpus = [{"node_id": i} for i in ids]
        self.size = len(ids)

    def search(self, question: str, k: int, mask: Any) -> list[NodeWithScore]:
        """The k best chunks for the question among those the mask keeps (None: all).

        Callers hold the Retriever's lock: the stemmer is not thread-safe.
        """
        import numpy as np

        terms = bm25s.tokenize(
            question, stemmer=self.stemmer, token_pattern=self.token_pattern, return_ids=False, show_progress=False
        )[0]
        known = self.bm25.get_tokens_ids(terms)
        if not known:
            return []
        scores = self.bm25.get_scores_from_ids(known, weight_mask=mask)
        # Top k among the chunks that score at all, ties broken by index. bm25s's own top-k runs
        # argpartition over every chunk, which degrades to 15 ms at 100k chunks when most scores
        # are zero or tied (the same article filed many times); this takes well under 1 ms.
        found = np.flatnonzero(scores > 0)
        if len(found) > k:
            kth = np.partition(scores[found], -k)[-k]
            found = found[scores[found] >= kth]
        best = found[np.lexsort((found, -scores[found]))][:k]
        return [
            NodeWithScore(node=TextNode(id_=self.corpus[int(i)]["node_id"], text=""), score=float(scores[i])) for i in best
        ]


class _BM25Query(BaseRetriever):
    """One question's search of a shared BM25 index, with its own result count and filter mask
    (so questions in parallel threads never see each other's)."""

    def __init__(self, bm25: _MaskedBM25, k: int, mask: Any) -> None:
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
