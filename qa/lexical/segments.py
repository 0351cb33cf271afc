"""A segment: the chunks of one write (or of a merge), their BM25 and content-term postings and
their facets (outlet, place, date) for filter masks; immutable once made."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

from ..types import Filters
from .terms import packed, unpacked

if TYPE_CHECKING:
    import numpy as np

_MASKS_KEPT = 32  # filter masks kept per segment


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


class Postings:
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
    ) -> Postings:
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


@dataclass(eq=False)
class Segment:
    """The chunks of one write (or of a merge), immutable once made: their ids, lengths in BM25
    terms, BM25 postings (with term frequencies), content-term postings (for TermStats) and facets."""

    chunk_ids: list[str]
    doc_ids: list[str]
    lengths: "np.ndarray"
    bm25: Postings
    content: Postings
    sources: list[str]
    places: list[tuple[str, ...]]
    dates: "np.ndarray"
    names: dict[str, str]  # outlet key -> the outlet as first written here
    _masks: dict[Filters, "np.ndarray"] = field(default_factory=dict, init=False, repr=False)  # see `mask`

    def __len__(self) -> int:
        return len(self.chunk_ids)

    @cached_property
    def row_of(self) -> dict[str, int]:
        """chunk id -> its row (made on first use: 100k ids take ~10 MB)."""
        return {chunk_id: row for row, chunk_id in enumerate(self.chunk_ids)}

    def arrays(self) -> dict[str, "np.ndarray"]:
        """The segment as named arrays (see LexicalIndex.arrays)."""
        out = {
            "chunk_ids": packed(self.chunk_ids),
            "doc_ids": packed(self.doc_ids),
            "sources": packed(self.sources),
            "places": packed([list(p) for p in self.places]),
            "names": packed(self.names),
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
        """The segment `arrays` hold (see `arrays`).

        Raises:
            ValueError: the arrays do not fit together (a file of another version, or damaged).
        """
        segment = cls._from_arrays(arrays)
        size = len(segment)
        for postings in (segment.bm25, segment.content):
            starts = postings.starts
            if (
                len(starts) != len(postings.terms) + 1
                or (len(starts) and (starts[0] != 0 or starts[-1] != len(postings.rows)))
                or bool((starts[1:] < starts[:-1]).any())
                or len(postings.values) != len(postings.rows)
                or (len(postings.rows) and (int(postings.rows.min()) < 0 or int(postings.rows.max()) >= size))
            ):
                raise ValueError("a segment's postings do not fit its rows")
        if not (len(segment.doc_ids) == len(segment.lengths) == len(segment.dates) == len(segment.sources) == len(segment.places) == size):
            raise ValueError("a segment's columns differ in length")
        return segment

    @classmethod
    def _from_arrays(cls, arrays: Mapping[str, "np.ndarray"]) -> Segment:
        def postings(name: str) -> Postings:
            return Postings.of_sorted(
                arrays[f"{name}.terms"], arrays[f"{name}.starts"], arrays[f"{name}.rows"], arrays[f"{name}.values"]
            )

        return cls(
            unpacked(arrays["chunk_ids"]),
            unpacked(arrays["doc_ids"]),
            arrays["lengths"],
            postings("bm25"),
            postings("content"),
            unpacked(arrays["sources"]),
            [tuple(p) for p in unpacked(arrays["places"])],
            arrays["dates"],
            unpacked(arrays["names"]),
        )

    def mask(self, filters: Filters) -> "np.ndarray":
        """True for the rows inside the filters; kept for the last _MASKS_KEPT filters (the segment
        never changes), read-only. Threads may work one out twice; a dict's get and set are atomic."""
        mask = self._masks.get(filters)
        if mask is None:
            mask = self._mask(filters)
            mask.setflags(write=False)
            if len(self._masks) >= _MASKS_KEPT:
                self._masks = {}  # replaced whole, never cleared under a reader
            self._masks[filters] = mask
        return mask

    def _mask(self, filters: Filters) -> "np.ndarray":
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


@dataclass
class Part:
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


def pairs(rows: "np.ndarray", terms: "np.ndarray", with_counts: bool) -> tuple[Any, Any, Any]:
    """The distinct (term, row) pairs, with how often each occurs (or 1)."""
    import numpy as np

    if not len(rows):
        empty = np.zeros(0, dtype=np.int32)
        return empty, empty, np.zeros(0, dtype=np.uint16 if with_counts else np.uint8)
    width = int(terms.max()) + 1
    keys, counts = np.unique(rows * width + terms, return_counts=True)
    values = np.minimum(counts, 65535).astype(np.uint16) if with_counts else np.ones(len(keys), dtype=np.uint8)
    return (keys % width).astype(np.int32), (keys // width).astype(np.int32), values


def joined(parts: list[Part]) -> Segment:
    """One segment of the parts' rows, in their order."""
    import numpy as np

    bases = np.cumsum([0] + [len(p.chunk_ids) for p in parts])

    def postings(which: str) -> Postings:
        pieces = [getattr(p, which) for p in parts]
        terms = np.concatenate([t for t, _, _ in pieces]).astype(np.int32)
        rows = np.concatenate([r.astype(np.int64) + base for (_, r, _), base in zip(pieces, bases)]).astype(np.int32)
        return Postings(terms, rows, np.concatenate([v for _, _, v in pieces]))

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


def live_part(segment: Segment, alive: "np.ndarray") -> Part:
    """A segment's live rows, renumbered from 0."""
    import numpy as np

    new_row = np.cumsum(alive) - 1  # the row each live row becomes
    kept = alive.nonzero()[0]

    def live(postings: Postings) -> tuple[Any, Any, Any]:
        keep = alive[postings.rows]
        return postings.term_of_each()[keep], new_row[postings.rows[keep]], postings.values[keep]

    return Part(
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
