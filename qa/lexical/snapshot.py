"""What a question searches: a snapshot of the lexical index, and the term statistics it weighs
question words with."""

from __future__ import annotations

import difflib
import math
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..text import spelled_like, stem
from ..types import Filters, outlet_key, place_key
from .segments import Segment
from .terms import Vocabulary, bm25_terms

if TYPE_CHECKING:
    import numpy as np

K1, B = 1.5, 0.75  # bm25s's defaults, as LlamaIndex's BM25Retriever uses them


class TermStats:
    """Document frequencies of stemmed content terms over all chunks (for IDF weights).

    Args:
        chunks: how many chunks there are.
        df: term -> how many chunks hold it.
    """

    def __init__(self, chunks: int = 0, df: Mapping[str, int] | None = None) -> None:
        self.chunks = chunks
        self.df: Mapping[str, int] = df if df is not None else Counter()
        self._by_prefix: dict[str, list[str]] | None = None

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
        return spelled_like(term, by_prefix.get(term[:2], []))


class _Frequencies(Mapping[str, int]):
    """term -> chunks holding it, read from a snapshot's counts (terms held by no chunk are absent)."""

    def __init__(self, vocabulary: Vocabulary, counts: "np.ndarray") -> None:
        self._vocabulary, self._counts = vocabulary, counts

    def __getitem__(self, term: str) -> int:
        at = self._vocabulary.ids.get(term)
        if at is None or at >= len(self._counts) or not self._counts[at]:
            raise KeyError(term)
        return int(self._counts[at])

    def __iter__(self) -> Iterator[str]:
        terms = self._vocabulary.terms
        return (terms[i] for i in self._counts.nonzero()[0])

    def __len__(self) -> int:
        return int((self._counts > 0).sum())


@dataclass(frozen=True)
class Snapshot:
    """The lexical index as of one change: what a question searches, never changed afterwards."""

    segments: tuple[Segment, ...] = ()
    alive: tuple[Any, ...] = ()  # per segment, True for rows of current chunks
    vocabulary: Vocabulary = field(default_factory=Vocabulary)
    df: Any = None  # per BM25 term id: live chunks holding it
    chunks: int = 0  # live chunks
    total_length: int = 0  # BM25 terms in live chunks
    term_stats: TermStats = field(default_factory=TermStats)
    sources: Mapping[str, int] = field(default_factory=dict)  # outlet key -> live chunks
    source_names: Mapping[str, str] = field(default_factory=dict)  # outlet key -> the outlet as first written
    places: Mapping[str, int] = field(default_factory=dict)  # place term -> live chunks
    # segment id -> its postings' term-frequency parts (see `_weights`); filled on first use
    _tf_parts: dict[int, Any] = field(default_factory=dict, compare=False, repr=False)

    def search(self, question: str, k: int, filters: Filters | None = None) -> list[tuple[str, float]]:
        """The k best (chunk id, BM25 score) for the question among live chunks inside the filters,
        best first, ties broken by position; chunks that score nothing are left out."""
        import numpy as np

        if not self.chunks:
            return []
        ids, known = self.vocabulary.ids, len(self.df)
        asked = Counter(ids.get(t, known) for t in bm25_terms([question])[0])
        asked = Counter({t: n for t, n in asked.items() if t < known and self.df[t] > 0})
        if not asked:
            return []
        scored: list[tuple[str, float]] = []
        for segment, alive in zip(self.segments, self.alive):
            keep = alive & segment.mask(filters) if filters else alive
            weights = self._weights(segment)
            scores = np.zeros(len(segment), dtype=np.float32)
            for term, times in asked.items():
                lo, hi = segment.bm25.bounds(term)
                if lo == hi:
                    continue
                df = int(self.df[term])
                idf = math.log(1 + (self.chunks - df + 0.5) / (df + 0.5))
                scores[segment.bm25.rows[lo:hi]] += np.float32(times * idf) * weights[lo:hi]
            scores *= keep
            found = np.flatnonzero(scores > 0)
            if len(found) > k:
                kth = np.partition(scores[found], -k)[-k]
                found = found[scores[found] >= kth]
            scored += [(segment.chunk_ids[i], float(scores[i])) for i in found]
        # Ties by position, as one index over every chunk would order them (segments are in write order).
        order = {chunk_id: n for n, (chunk_id, _) in enumerate(scored)}
        return sorted(scored, key=lambda hit: (-hit[1], order[hit[0]]))[:k]

    def _weights(self, segment: Segment) -> "np.ndarray":
        """Each of the segment's postings' term-frequency part of its BM25 score (tf / (tf + k1 (1 - b
        + b len / mean len))), for this snapshot's mean chunk length: worked out on the snapshot's
        first search and kept with it (4 bytes a posting), so a search only adds them up."""
        weights = self._tf_parts.get(id(segment))
        if weights is None:
            import numpy as np

            tf = segment.bm25.values.astype(np.float32)
            norm = K1 * ((1 - B) + B * segment.lengths[segment.bm25.rows] / np.float32(self.total_length / self.chunks))
            weights = self._tf_parts[id(segment)] = (tf / (norm + tf)).astype(np.float32)
        return weights

    def inside(self, chunk_ids: list[str], filters: Filters) -> list[str]:
        """Those of the chunks that are live here and inside the filters, in their order (a chunk
        this snapshot does not hold yet is left out)."""
        keeps = [(segment.row_of, alive & segment.mask(filters)) for segment, alive in zip(self.segments, self.alive)]
        out = []
        for chunk_id in chunk_ids:
            for rows, keep in keeps:
                row = rows.get(chunk_id)
                if row is not None and keep[row]:
                    out.append(chunk_id)
                    break
        return out

    def holds(self, filters: Filters) -> bool:
        """Whether some live chunk with a BM25 term is inside the filters."""
        if not self.total_length:
            return False
        return any(
            bool((alive & (segment.lengths > 0) & segment.mask(filters)).any())
            for segment, alive in zip(self.segments, self.alive)
        )

    def unknown(self, filters: Filters) -> str | None:
        """Why an outlet or place in the filters names nothing in the index (a likely typo), or None."""
        return unknown_values(filters, self.sources, self.source_names, self.places)


def unknown_values(
    filters: Filters, sources: Mapping[str, int], source_names: Mapping[str, str], places: Mapping[str, int]
) -> str | None:
    """Why an outlet or place in the filters names nothing known, with the closest known ones, or None.

    Args:
        sources: outlet key -> how many chunks (or reports) have it; source_names: key -> the outlet as written.
        places: place term -> how many chunks (or reports) have it.
    """
    for value in filters.sources:
        if not sources.get(outlet_key(value)):
            known = sorted(source_names[key] for key, n in sources.items() if key and n)
            near = difflib.get_close_matches(value, known, n=3, cutoff=0.5)
            hint = f"did you mean {' or '.join(near)}?" if near else f"outlets in the index: {', '.join(known[:20])}"
            return f"no report in the index is from the outlet {value!r}; {hint}"
    for value in filters.places:
        if not places.get(place_key(value)):
            known = sorted(term for term, n in places.items() if n)
            near = difflib.get_close_matches(place_key(value), known, n=3, cutoff=0.6)
            hint = f"; did you mean {' or '.join(near)}?" if near else ""
            return f"no report in the index names the place {value!r}{hint}"
    return None
