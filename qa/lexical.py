"""The lexical side of retrieval: BM25 over the stored chunks, updated document by document, with
the chunks' outlet, place and date for filter masks and the term statistics the answerer weighs
question words with.

Chunks are tokenized as LlamaIndex's BM25Retriever does (bm25s: lower case, its English stop
words, PyStemmer's English stemmer, words of two or more characters) and scored as bm25s scores
them by default ("lucene": k1 1.5, b 0.75), but the statistics a score needs (document
frequencies, the number of chunks, their mean length) are applied when a question is asked
instead of being baked into the index. So a write adds a segment of postings for the documents
it changed and marks their old rows dead; nothing else is rebuilt, and the scores are those of
an index built from scratch over the same chunks (tests/test_lexical.py checks both against
bm25s itself). Segments are merged as they accumulate (each merge at least doubles the size of
what it merges, so a chunk is merged O(log n) times), and merging drops dead rows.

`LexicalIndex` is the writer's side (one thread at a time: see qa.store.views); every change
publishes a new `Snapshot`, which questions search without a lock while the next one is made.
"""

from __future__ import annotations

import difflib
import functools
import itertools
import json
import math
import re
import threading
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .text import STOPWORDS, WORD, spelled_like, stem
from .types import Filters, outlet_key, place_key

if TYPE_CHECKING:
    import numpy as np

K1, B = 1.5, 0.75  # bm25s's defaults, as LlamaIndex's BM25Retriever uses them
TOKENS = r"(?u)\b\w\w+\b"  # BM25Retriever's token pattern
_MASKS_KEPT = 32  # filter masks kept per segment

_local = threading.local()


def _stemmer() -> Any:
    """This thread's stemmer: PyStemmer's are not safe to share between threads."""
    stemmer = getattr(_local, "stemmer", None)
    if stemmer is None:
        import Stemmer

        stemmer = _local.stemmer = Stemmer.Stemmer("english")
    return stemmer


_SPLIT = re.compile(TOKENS)


@functools.lru_cache(maxsize=1)
def _stop_words() -> frozenset[str]:
    from bm25s.stopwords import STOPWORDS_EN  # the list bm25s.tokenize(stopwords="en") uses

    return frozenset(STOPWORDS_EN)


def tokenize(texts: list[str]) -> tuple[list[list[int]], list[str]]:
    """The texts as bm25s.tokenize(texts, stopwords="en", stemmer=English) reads them: lower case,
    words of two or more characters, no stop words, stemmed; returned as each text's term numbers
    and the term of each number. (bm25s itself builds a set of its stop words once per text: a
    fifth of a build at 100k chunks. tests/test_lexical.py holds the two to the same terms.)"""
    stop = _stop_words()
    numbers: dict[str, int] = {}
    rows = []
    for text in texts:
        row = []
        for token in _SPLIT.findall(text.lower()):
            if token not in stop:
                number = numbers.get(token)
                if number is None:
                    number = numbers[token] = len(numbers)
                row.append(number)
        rows.append(row)
    return rows, _stemmer().stemWords(list(numbers))


def bm25_terms(texts: list[str]) -> list[list[str]]:
    """Each text's BM25 terms (see `tokenize`)."""
    rows, terms = tokenize(texts)
    return [[terms[n] for n in row] for row in rows]


@dataclass(frozen=True)
class ChunkRecord:
    """What the lexical index keeps of one stored chunk (its text only while it is tokenized)."""

    chunk_id: str
    doc_id: str
    text: str
    source_key: str
    source: str
    place_terms: tuple[str, ...]
    date_num: int

    @classmethod
    def of(cls, chunk_id: str, text: str, meta: Mapping[str, Any]) -> ChunkRecord:
        """From a chunk as Chroma returns it (id, text, metadata)."""
        return cls(
            chunk_id,
            str(meta.get("doc_id", chunk_id.rsplit(":", 1)[0])),
            text or "",
            str(meta.get("source_key", "")),
            str(meta.get("source", "")),
            tuple(meta.get("place_terms") or ()),
            int(meta.get("date_num") or 0),
        )


class _Postings:
    """Term-major postings of a segment: for each term present, the rows holding it and a value
    per row (a term frequency, or 1)."""

    def __init__(self, term_ids: "np.ndarray", rows: "np.ndarray", values: "np.ndarray") -> None:
        import numpy as np

        order = np.lexsort((rows, term_ids))
        term_ids, self.rows, self.values = term_ids[order], rows[order], values[order]
        self.terms, starts = np.unique(term_ids, return_index=True)
        self.starts = np.append(starts, len(term_ids)).astype(np.int64)

    @classmethod
    def of_sorted(
        cls, terms: "np.ndarray", starts: "np.ndarray", rows: "np.ndarray", values: "np.ndarray"
    ) -> _Postings:
        """Postings already in term order (as saved): nothing to sort."""
        postings = cls.__new__(cls)
        postings.terms, postings.starts, postings.rows, postings.values = terms, starts, rows, values
        return postings

    def bounds(self, term: int) -> tuple[int, int]:
        """Where one term's postings are (lo == hi where the segment lacks it)."""
        import numpy as np

        at = int(np.searchsorted(self.terms, term))
        if at == len(self.terms) or self.terms[at] != term:
            return 0, 0
        return int(self.starts[at]), int(self.starts[at + 1])

    def term_of_each(self) -> "np.ndarray":
        """The term of every posting, in posting order."""
        import numpy as np

        return np.repeat(self.terms, np.diff(self.starts))

    def counts(self, rows_kept: "np.ndarray") -> "np.ndarray":
        """(term, number of kept rows holding it) pairs as a 2-row array, for the rows where `rows_kept` is True."""
        import numpy as np

        terms = self.term_of_each()[rows_kept[self.rows]]
        unique, counts = np.unique(terms, return_counts=True)
        return np.vstack([unique, counts])


class Segment:
    """The chunks of one write (or of a merge), immutable once made: their ids, lengths in BM25
    terms, BM25 postings (with term frequencies), content-term postings (for TermStats) and facets."""

    def __init__(
        self,
        chunk_ids: list[str],
        doc_ids: list[str],
        lengths: "np.ndarray",
        bm25: _Postings,
        content: _Postings,
        sources: list[str],
        places: list[tuple[str, ...]],
        dates: "np.ndarray",
        names: dict[str, str],
    ) -> None:
        self.chunk_ids = chunk_ids
        self.doc_ids = doc_ids
        self.lengths = lengths
        self.bm25 = bm25
        self.content = content
        self.sources = sources
        self.places = places
        self.dates = dates
        self.names = names  # outlet key -> the outlet as first written here
        # Cached per segment (it never changes); lru_cache is safe to call from several threads.
        self.mask = functools.lru_cache(maxsize=_MASKS_KEPT)(self._mask)

    def __len__(self) -> int:
        return len(self.chunk_ids)

    def arrays(self) -> dict[str, "np.ndarray"]:
        """The segment as named arrays (see LexicalIndex.arrays)."""
        out = {
            "chunk_ids": _packed(self.chunk_ids),
            "doc_ids": _packed(self.doc_ids),
            "sources": _packed(self.sources),
            "places": _packed([list(p) for p in self.places]),
            "names": _packed(self.names),
            "lengths": self.lengths,
            "dates": self.dates,
        }
        for name, postings in (("bm25", self.bm25), ("content", self.content)):
            out.update(
                {
                    f"{name}.terms": postings.terms,
                    f"{name}.starts": postings.starts,
                    f"{name}.rows": postings.rows,
                    f"{name}.values": postings.values,
                }
            )
        return out

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, "np.ndarray"]) -> Segment:
        def postings(name: str) -> _Postings:
            return _Postings.of_sorted(
                arrays[f"{name}.terms"], arrays[f"{name}.starts"], arrays[f"{name}.rows"], arrays[f"{name}.values"]
            )

        return cls(
            _unpacked(arrays["chunk_ids"]),
            _unpacked(arrays["doc_ids"]),
            arrays["lengths"],
            postings("bm25"),
            postings("content"),
            _unpacked(arrays["sources"]),
            [tuple(p) for p in _unpacked(arrays["places"])],
            arrays["dates"],
            _unpacked(arrays["names"]),
        )

    def _mask(self, filters: Filters) -> "np.ndarray":
        """True for the rows inside the filters (see `mask`, its cached form)."""
        import numpy as np

        keep = np.ones(len(self), dtype=bool)
        if filters.sources:
            keys = filters.source_keys
            keep &= np.fromiter((s in keys for s in self.sources), dtype=bool, count=len(self))
        if filters.places:
            keys = filters.place_keys
            keep &= np.fromiter((not keys.isdisjoint(p) for p in self.places), dtype=bool, count=len(self))
        if filters.dated:
            low, high = filters.day_range
            keep &= ((self.dates >= low) & (self.dates <= high)) | (filters.undated & (self.dates == 0))
        return keep


class Vocabulary:
    """Term -> id, shared by every snapshot; only ever grows (a snapshot ignores ids past its own statistics)."""

    def __init__(self) -> None:
        self.ids: dict[str, int] = {}
        self.terms: list[str] = []

    def id_of(self, term: str) -> int:
        got = self.ids.get(term)
        if got is None:
            got = self.ids[term] = len(self.terms)
            self.terms.append(term)
        return got

    def __len__(self) -> int:
        return len(self.terms)


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


class LexicalIndex:
    """The writer's side: adds the chunks of changed documents, drops the old ones, merges
    segments, and publishes a Snapshot after each change (`snapshot`). One thread at a time."""

    def __init__(self) -> None:
        import numpy as np

        self.vocabulary = Vocabulary()  # BM25 terms
        self.content_vocabulary = Vocabulary()  # content terms (as qa.text.content_terms reads them), for TermStats
        self._content_ids: dict[str, int] = {}  # a word as written -> its content term's id (-1: a stop word)
        self._segments: list[Segment] = []
        self._alive: list[Any] = []
        self._rows: dict[str, list[tuple[Segment, int]]] = {}  # doc id -> its live rows
        self._df = np.zeros(0, dtype=np.int64)
        self._content_df = np.zeros(0, dtype=np.int64)
        self._chunks = 0
        self._total_length = 0
        self._sources: Counter[str] = Counter()
        self._source_names: dict[str, str] = {}
        self._places: Counter[str] = Counter()
        self.snapshot = Snapshot(vocabulary=self.vocabulary, df=self._df)

    @property
    def documents(self) -> set[str]:
        """The documents with chunks in the index."""
        return set(self._rows)

    @classmethod
    def built(cls, pages: Iterable[list[ChunkRecord]]) -> LexicalIndex:
        """An index of every chunk the pages hold, as one segment (each page's texts are let go
        once tokenized)."""
        index = cls()
        parts = [index._part(page) for page in pages if page]
        if parts:
            index._add(_joined(parts))
        index._publish()
        return index

    # -- kept on disk (see qa.store.views) ---------------------------------------------
    def arrays(self) -> dict[str, "np.ndarray"]:
        """The index as named arrays (for numpy.savez; no pickles): its vocabularies, and each
        segment with which of its rows are live."""
        out = {"bm25_terms": _packed(self.vocabulary.terms), "content_terms": _packed(self.content_vocabulary.terms)}
        for n, (segment, alive) in enumerate(zip(self._segments, self._alive)):
            out.update({f"s{n}.{name}": array for name, array in segment.arrays().items()})
            out[f"s{n}.alive"] = alive
        return out

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, "np.ndarray"]) -> LexicalIndex:
        """The index `arrays` saved (see `arrays`)."""
        index = cls()
        for vocabulary, name in ((index.vocabulary, "bm25_terms"), (index.content_vocabulary, "content_terms")):
            vocabulary.terms = _unpacked(arrays[name])
            vocabulary.ids = {term: n for n, term in enumerate(vocabulary.terms)}
        n = 0
        while f"s{n}.alive" in arrays:
            segment = Segment.from_arrays({k.split(".", 1)[1]: v for k, v in arrays.items() if k.startswith(f"s{n}.")})
            alive = arrays[f"s{n}.alive"].astype(bool)
            index._segments.append(segment)
            index._alive.append(alive)
            index._place_rows(segment, alive.nonzero()[0])
            index._count(segment, alive, +1)
            for key, name in segment.names.items():
                index._source_names.setdefault(key, name)
            n += 1
        index._publish()
        return index

    def replace(self, doc_ids: Iterable[str], chunks: list[ChunkRecord]) -> Snapshot:
        """Drop every chunk of `doc_ids` and add `chunks` (the current chunks of those of them
        still stored); returns the new snapshot."""
        self._drop(set(doc_ids) | {c.doc_id for c in chunks})
        if chunks:
            self._add(self._segment(chunks))
        self._merge()
        return self._publish()

    def _add(self, segment: Segment) -> None:
        self._segments.append(segment)
        self._alive.append(self._all_alive(len(segment)))
        self._place_rows(segment, range(len(segment)))
        self._count(segment, self._alive[-1], +1)
        for key, name in segment.names.items():
            self._source_names.setdefault(key, name)

    # -- the writer's bookkeeping --------------------------------------------------------
    @staticmethod
    def _all_alive(size: int) -> "np.ndarray":
        import numpy as np

        return np.ones(size, dtype=bool)

    def _drop(self, doc_ids: set[str]) -> None:
        """Mark the rows of these documents dead (copying each segment's alive mask before changing it)."""
        import numpy as np

        dead: dict[int, list[int]] = {}
        where = {id(s): n for n, s in enumerate(self._segments)}
        for doc_id in doc_ids:
            for segment, row in self._rows.pop(doc_id, ()):
                dead.setdefault(where[id(segment)], []).append(row)
        for n, rows in dead.items():
            segment, gone = self._segments[n], np.zeros(len(self._segments[n]), dtype=bool)
            gone[rows] = True
            self._count(segment, gone, -1)
            self._alive[n] = self._alive[n] & ~gone

    def _count(self, segment: Segment, rows: "np.ndarray", sign: int) -> None:
        """Add (or take away) the statistics of a segment's rows where `rows` is True."""
        import numpy as np

        self._df = _grown(self._df, len(self.vocabulary))
        self._content_df = _grown(self._content_df, len(self.content_vocabulary))
        terms, counts = segment.bm25.counts(rows)
        np.add.at(self._df, terms, sign * counts)
        terms, counts = segment.content.counts(rows)
        np.add.at(self._content_df, terms, sign * counts)
        self._chunks += sign * int(rows.sum())
        self._total_length += sign * int(segment.lengths[rows].sum())
        for row in np.flatnonzero(rows):
            self._sources[segment.sources[row]] += sign
            for term in segment.places[row]:
                self._places[term] += sign

    def _place_rows(self, segment: Segment, rows: Iterable[int]) -> None:
        for row in rows:
            self._rows.setdefault(segment.doc_ids[row], []).append((segment, row))

    def _segment(self, chunks: list[ChunkRecord]) -> Segment:
        return _joined([self._part(chunks)])

    def _part(self, chunks: list[ChunkRecord]) -> _Part:
        """The chunks tokenized into postings (with global term ids), vectorised: no loop in
        Python over the terms of each chunk, which took most of a build at 100k chunks."""
        import numpy as np

        texts = [c.text for c in chunks]
        ids, terms = tokenize(texts)
        to_global = np.array([self.vocabulary.id_of(term) for term in terms], dtype=np.int64)
        lengths = np.fromiter(map(len, ids), dtype=np.int32, count=len(ids))
        flat = np.fromiter(itertools.chain.from_iterable(ids), dtype=np.int64, count=int(lengths.sum()))
        bm25 = _pairs(np.repeat(np.arange(len(ids), dtype=np.int64), lengths), to_global[flat], with_counts=True)
        words = [WORD.findall(text) for text in texts]
        known = self._content_ids
        for word in set(itertools.chain.from_iterable(words)) - known.keys():
            lower = word.lower()
            known[word] = -1 if lower in STOPWORDS else self.content_vocabulary.id_of(stem(lower))
        flat = np.fromiter((known[w] for row in words for w in row), dtype=np.int64)
        rows = np.repeat(np.arange(len(words), dtype=np.int64), [len(row) for row in words])
        content = _pairs(rows[flat >= 0], flat[flat >= 0], with_counts=False)
        return _Part(
            [c.chunk_id for c in chunks],
            [c.doc_id for c in chunks],
            lengths,
            bm25,
            content,
            [c.source_key for c in chunks],
            [c.place_terms for c in chunks],
            np.array([c.date_num for c in chunks], dtype=np.int64),
            {c.source_key: c.source for c in reversed(chunks)},
        )

    def _merge(self) -> None:
        """Merge the newest segments while the newest holds at least half as many live rows as the
        one before it (so sizes fall geometrically and there are O(log n) segments); a segment
        that is mostly dead is compacted on its own."""
        while len(self._segments) > 1 and 2 * int(self._alive[-1].sum()) >= int(self._alive[-2].sum()):
            self._replace_segments(len(self._segments) - 2, 2)
        for n, (segment, alive) in enumerate(zip(self._segments, self._alive)):
            if len(segment) >= 64 and 2 * int(alive.sum()) < len(segment):
                self._replace_segments(n, 1)

    def _replace_segments(self, first: int, count: int) -> None:
        """Replace `count` segments from `first` on with one of their live rows."""
        old = self._segments[first : first + count]
        merged = _joined([_live_part(s, a) for s, a in zip(old, self._alive[first : first + count])])
        self._segments[first : first + count] = [merged]
        self._alive[first : first + count] = [self._all_alive(len(merged))]
        gone = {id(s) for s in old}
        for doc_id in set(merged.doc_ids):
            self._rows[doc_id] = [(s, row) for s, row in self._rows.get(doc_id, []) if id(s) not in gone]
        self._place_rows(merged, range(len(merged)))

    def _publish(self) -> Snapshot:
        self.snapshot = Snapshot(
            segments=tuple(self._segments),
            alive=tuple(self._alive),
            vocabulary=self.vocabulary,
            df=self._df.copy(),
            chunks=self._chunks,
            total_length=self._total_length,
            term_stats=TermStats(self._chunks, _Frequencies(self.content_vocabulary, self._content_df.copy())),
            sources=dict(self._sources),
            source_names=dict(self._source_names),
            places=dict(self._places),
        )
        return self.snapshot


def _grown(counts: "np.ndarray", size: int) -> "np.ndarray":
    import numpy as np

    if len(counts) >= size:
        return counts
    return np.concatenate([counts, np.zeros(max(size - len(counts), len(counts) // 2), dtype=counts.dtype)])


def _packed(value: Any) -> "np.ndarray":
    """Strings (a list, a dict, lists of them) as bytes of JSON in an array: savez without pickles."""
    import numpy as np

    return np.frombuffer(json.dumps(value, ensure_ascii=False).encode("utf-8"), dtype=np.uint8)


def _unpacked(array: "np.ndarray") -> Any:
    return json.loads(array.tobytes().decode("utf-8"))


@dataclass
class _Part:
    """Rows for a segment: a tokenized batch of chunks, or the live rows of a segment being merged."""

    chunk_ids: list[str]
    doc_ids: list[str]
    lengths: "np.ndarray"
    bm25: tuple[Any, Any, Any]  # (terms, rows, term frequencies) of each posting
    content: tuple[Any, Any, Any]  # (terms, rows, 1) of each posting
    sources: list[str]
    places: list[tuple[str, ...]]
    dates: "np.ndarray"
    names: dict[str, str]  # outlet key -> the outlet as first written


def _pairs(rows: "np.ndarray", terms: "np.ndarray", with_counts: bool) -> tuple[Any, Any, Any]:
    """The distinct (term, row) pairs, with how often each occurs (or 1)."""
    import numpy as np

    if not len(rows):
        empty = np.zeros(0, dtype=np.int32)
        return empty, empty, np.zeros(0, dtype=np.uint16 if with_counts else np.uint8)
    width = int(terms.max()) + 1
    keys, counts = np.unique(rows * width + terms, return_counts=True)
    values = np.minimum(counts, 65535).astype(np.uint16) if with_counts else np.ones(len(keys), dtype=np.uint8)
    return (keys % width).astype(np.int32), (keys // width).astype(np.int32), values


def _joined(parts: list[_Part]) -> Segment:
    """One segment of the parts' rows, in their order."""
    import numpy as np

    bases = np.cumsum([0] + [len(p.chunk_ids) for p in parts])

    def postings(which: str) -> _Postings:
        pieces = [getattr(p, which) for p in parts]
        terms = np.concatenate([t for t, _, _ in pieces]).astype(np.int32)
        rows = np.concatenate([r.astype(np.int64) + base for (_, r, _), base in zip(pieces, bases)]).astype(np.int32)
        return _Postings(terms, rows, np.concatenate([v for _, _, v in pieces]))

    return Segment(
        [i for p in parts for i in p.chunk_ids],
        [i for p in parts for i in p.doc_ids],
        np.concatenate([p.lengths for p in parts]),
        postings("bm25"),
        postings("content"),
        [i for p in parts for i in p.sources],
        [i for p in parts for i in p.places],
        np.concatenate([p.dates for p in parts]),
        {key: name for p in reversed(parts) for key, name in p.names.items()},
    )


def _live_part(segment: Segment, alive: "np.ndarray") -> _Part:
    """A segment's live rows, renumbered from 0."""
    import numpy as np

    new_row = np.cumsum(alive) - 1  # the row each live row becomes
    kept = alive.nonzero()[0]

    def live(postings: _Postings) -> tuple[Any, Any, Any]:
        keep = alive[postings.rows]
        return postings.term_of_each()[keep], new_row[postings.rows[keep]], postings.values[keep]

    return _Part(
        [segment.chunk_ids[i] for i in kept],
        [segment.doc_ids[i] for i in kept],
        segment.lengths[kept],
        live(segment.bm25),
        live(segment.content),
        [segment.sources[i] for i in kept],
        [segment.places[i] for i in kept],
        segment.dates[kept],
        segment.names,
    )
