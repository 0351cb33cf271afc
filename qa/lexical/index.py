"""The writer's side of the lexical index: adds the chunks of changed documents, drops the old
ones, merges segments, keeps the statistics, and publishes a Snapshot after each change."""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from ..text import STOPWORDS, WORD, stem
from .segments import ChunkRecord, Part, Segment, joined, live_part, pairs
from .snapshot import Snapshot, TermStats, _Frequencies
from .terms import Vocabulary, packed, tokenize, unpacked

if TYPE_CHECKING:
    import numpy as np


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

    @classmethod
    def built(cls, pages: Iterable[list[ChunkRecord]]) -> LexicalIndex:
        """An index of every chunk the pages hold, as one segment (each page's texts are let go
        once tokenized)."""
        index = cls()
        parts = [index._part(page) for page in pages if page]
        if parts:
            index._add(joined(parts))
        index._publish()
        return index

    # -- kept on disk (see qa.store.views) ---------------------------------------------
    def arrays(self) -> dict[str, "np.ndarray"]:
        """The index as named arrays (for numpy.savez; no pickles): its vocabularies, and each
        segment with which of its rows are live."""
        out = {"bm25_terms": packed(self.vocabulary.terms), "content_terms": packed(self.content_vocabulary.terms)}
        for n, (segment, alive) in enumerate(zip(self._segments, self._alive)):
            out.update({f"s{n}.{name}": array for name, array in segment.arrays().items()})
            out[f"s{n}.alive"] = alive
        return out

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, "np.ndarray"]) -> LexicalIndex:
        """The index `arrays` saved (see `arrays`).

        Raises:
            ValueError: they do not fit together (a file of another version, or damaged).
        """
        index = cls()
        for vocabulary, name in ((index.vocabulary, "bm25_terms"), (index.content_vocabulary, "content_terms")):
            vocabulary.terms = unpacked(arrays[name])
            vocabulary.ids = {term: n for n, term in enumerate(vocabulary.terms)}
        n = 0
        while f"s{n}.alive" in arrays:
            segment = Segment.from_arrays({k.split(".", 1)[1]: v for k, v in arrays.items() if k.startswith(f"s{n}.")})
            alive = arrays[f"s{n}.alive"].astype(bool)
            for postings, vocabulary in ((segment.bm25, index.vocabulary), (segment.content, index.content_vocabulary)):
                if len(postings.terms) and (int(postings.terms.min()) < 0 or int(postings.terms.max()) >= len(vocabulary)):
                    raise ValueError("a segment names terms its vocabulary does not hold")
            if len(alive) != len(segment):
                raise ValueError("a segment's live rows do not fit it")
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
        return joined([self._part(chunks)])

    def _part(self, chunks: list[ChunkRecord]) -> Part:
        """The chunks tokenized into postings (with global term ids), vectorised: no loop in
        Python over the terms of each chunk, which took most of a build at 100k chunks."""
        import numpy as np

        texts = [c.text for c in chunks]
        ids, terms = tokenize(texts)
        to_global = np.array([self.vocabulary.id_of(term) for term in terms], dtype=np.int64)
        lengths = np.fromiter(map(len, ids), dtype=np.int32, count=len(ids))
        flat = np.fromiter(itertools.chain.from_iterable(ids), dtype=np.int64, count=int(lengths.sum()))
        bm25 = pairs(np.repeat(np.arange(len(ids), dtype=np.int64), lengths), to_global[flat], with_counts=True)
        words = [WORD.findall(text) for text in texts]
        known = self._content_ids
        if len(known) > 1_000_000:  # words seen only grow (names in a feed): this is only a shortcut
            known = self._content_ids = {}
        for word in set(itertools.chain.from_iterable(words)) - known.keys():
            lower = word.lower()
            known[word] = -1 if lower in STOPWORDS else self.content_vocabulary.id_of(stem(lower))
        flat = np.fromiter((known[w] for row in words for w in row), dtype=np.int64)
        rows = np.repeat(np.arange(len(words), dtype=np.int64), [len(row) for row in words])
        content = pairs(rows[flat >= 0], flat[flat >= 0], with_counts=False)
        return Part(
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
        merged = joined([live_part(s, a) for s, a in zip(old, self._alive[first : first + count])])
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
