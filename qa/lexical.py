"""The lexical side of retrieval: BM25 over the stored chunks (bm25s, searched with a filter
mask), the chunks' outlet, place and date as arrays for that mask, and the term statistics the
answerer weighs question words with."""

from __future__ import annotations

import difflib
import math
from collections import Counter, OrderedDict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import bm25s
import Stemmer
from llama_index.core.schema import NodeWithScore, TextNode
from llama_index.retrievers.bm25 import BM25Retriever

from .text import spelled_like, stem
from .types import Filters, outlet_key, place_key

if TYPE_CHECKING:
    import numpy as np


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


class Facets:
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
            keep &= self._any(self.by_source, filters.source_keys)
        if filters.places:
            keep &= self._any(self.by_place, filters.place_keys)
        if filters.dated:
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

    def _any(self, index: dict[str, list[int]], keys: frozenset[str]) -> "np.ndarray":
        import numpy as np

        hit = np.zeros(self.size, dtype=bool)
        for key in keys:
            hit[index.get(key, [])] = True
        return hit


class MaskedBM25(BM25Retriever):
    """LlamaIndex's BM25 retriever searched with a weight mask per query (`search`): chunks
    outside the filters score zero inside bm25s and are never returned."""

    TOKENS = r"(?u)\b\w\w+\b"  # BM25Retriever's default token pattern

    @classmethod
    def build(cls, ids: list[str], texts: list[str], similarity_top_k: int) -> "MaskedBM25 | None":
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
