"""One story, counted once: reports whose texts are the same or nearly so (a wire story carried by
several outlets, a re-filed update) form a group.

Each stored document record carries a MinHash `signature` of its text (word shingles of the
lower-cased words); `Groups` is built from the signatures of all stored documents: MinHash LSH
finds candidate pairs, a pair whose estimated Jaccard similarity reaches THRESHOLD is joined, and
groups are the connected components (union-find). Groups are derived from what is stored, so a
replaced or deleted report changes them with nothing else to keep in step.

SHINGLE_WORDS and THRESHOLD were measured on FA-KES by eval/groups_fakes.py (see docs/groups.md).
datasketch is imported only where a signature or the LSH is computed, never on `import qa`.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator, Mapping
from typing import Any

from .text import WORD

PERMUTATIONS = 128  # hash values per signature (512 bytes, 684 characters of base64)
SEED = 1  # fixed: a signature must be the same in every process and on every run
# Named, not left to datasketch's default: the default changed in 2.0 (from "legacy"), and hash values
# carry no trace of the scheme that made them.
SCHEME = "affine32"
SHINGLE_WORDS = 4  # words per shingle (measured: see docs/groups.md)
THRESHOLD = 0.5  # estimated Jaccard of shingles from which two reports are one story (measured)
# LSH proposes pairs from this similarity (the estimate then confirms them at THRESHOLD): an LSH tuned
# to THRESHOLD itself misses about half the pairs near it (on FA-KES, pairs at 0.51-0.59 were lost).
CANDIDATE_THRESHOLD = 0.3


def shingles(text: str, size: int = SHINGLE_WORDS) -> set[str]:
    """The runs of `size` consecutive lower-cased words of a text (the whole text when shorter)."""
    words = WORD.findall(text.lower())
    if len(words) <= size:
        return {" ".join(words)} if words else set()
    return {" ".join(words[i : i + size]) for i in range(len(words) - size + 1)}


def signature(text: str) -> str:
    """The text's MinHash over its word shingles, as base64 of PERMUTATIONS uint32 values ("" for
    a text without words, which is never grouped). The same text gives the same string anywhere."""
    from datasketch import MinHash

    grams = shingles(text)
    if not grams:
        return ""
    sketch = MinHash(num_perm=PERMUTATIONS, seed=SEED, scheme=SCHEME)
    sketch.update_batch([g.encode("utf-8") for g in sorted(grams)])
    return base64.b64encode(sketch.hashvalues.astype("<u4").tobytes()).decode("ascii")


def hash_values(sig: str) -> Any:
    """The uint32 hash values a signature string holds (a numpy array)."""
    import numpy as np

    return np.frombuffer(base64.b64decode(sig), dtype="<u4")


def similarity(a: str, b: str) -> float:
    """The estimated Jaccard similarity of two signatures' shingle sets (0 when either is empty)."""
    if not a or not b:
        return 0.0
    return float((hash_values(a) == hash_values(b)).mean())


class Groups:
    """The groups of near-duplicate reports among stored documents.

    Args:
        records: doc id -> (signature, metadata) of every stored document; the metadata's `date`
            orders a group's members.
        threshold: the estimated Jaccard similarity from which two reports are one story.

    A chain (A near B, B near C, A not near C) is one group: on FA-KES every chain read was one
    story filed in several versions (see docs/groups.md).
    """

    def __init__(self, records: Mapping[str, tuple[str, Mapping[str, Any]]], threshold: float = THRESHOLD) -> None:
        self.threshold = threshold
        self._date = {doc_id: str(meta.get("date", "") or "") for doc_id, (_, meta) in records.items()}
        # Who carried each report: its outlet, or its title where it names none.
        self._carrier = {
            doc_id: str(meta.get("source", "") or "").strip() or str(meta.get("title", "") or "").strip()
            for doc_id, (_, meta) in records.items()
        }
        parent = {doc_id: doc_id for doc_id in records}

        def root(x: str) -> str:
            while parent[x] != x:
                parent[x] = parent[parent[x]]
                x = parent[x]
            return x

        for a, b in self._pairs({i: s for i, (s, _) in records.items() if s}):
            ra, rb = root(a), root(b)
            if ra != rb:
                parent[ra] = rb
        found: dict[str, list[str]] = {}
        for doc_id in records:
            found.setdefault(root(doc_id), []).append(doc_id)
        self._members: dict[str, list[str]] = {}
        self._group: dict[str, str] = {}
        for members in found.values():
            members.sort(key=self._order)
            for doc_id in members:
                self._members[doc_id] = members
                self._group[doc_id] = members[0]

    def _order(self, doc_id: str) -> tuple[int, str, str]:
        """Members by date (undated ones last), then id."""
        date = self._date.get(doc_id, "")
        return (0 if date else 1, date, doc_id)

    def _pairs(self, signatures: Mapping[str, str]) -> Iterator[tuple[str, str]]:
        """The pairs of documents whose estimated similarity reaches the threshold."""
        if len(signatures) < 2:
            return
        from datasketch import LeanMinHash, MinHashLSH

        values = {doc_id: hash_values(s) for doc_id, s in signatures.items()}
        lsh = MinHashLSH(threshold=min(CANDIDATE_THRESHOLD, self.threshold), num_perm=PERMUTATIONS)
        sketches = {doc_id: LeanMinHash(seed=SEED, hashvalues=v, scheme=SCHEME) for doc_id, v in values.items()}
        with lsh.insertion_session() as session:
            for doc_id, sketch in sketches.items():
                session.insert(doc_id, sketch)
        for doc_id, sketch in sketches.items():
            for other in lsh.query(sketch):
                # LSH gives candidates; the estimate confirms them (each pair once).
                if other > doc_id and float((values[doc_id] == values[other]).mean()) >= self.threshold:
                    yield doc_id, other

    def of(self, doc_id: str) -> str:
        """The id of the document's group: its earliest member by (date, id); a report alone is
        its own group, and so is an id not stored."""
        return self._group.get(doc_id, doc_id)

    def members(self, doc_id: str) -> list[str]:
        """Every member of the document's group (itself included), by date then id."""
        return list(self._members.get(doc_id, [doc_id]))

    def also_carried_by(self, doc_id: str) -> list[str]:
        """The outlets (or titles, where no outlet is known) of the other members of the document's
        group, by date, each once, without the document's own outlet."""
        own = self._carrier.get(doc_id, "")
        carriers = (self._carrier.get(m, "") for m in self.members(doc_id) if m != doc_id)
        return [c for c in dict.fromkeys(carriers) if c and c.casefold() != own.casefold()]

    def groups(self) -> list[list[str]]:
        """The groups of two or more reports, each by date then id, the largest first."""
        seen: dict[str, list[str]] = {}
        for doc_id, members in self._members.items():
            if len(members) > 1:
                seen.setdefault(members[0], members)
        return sorted((list(m) for m in seen.values()), key=lambda m: (-len(m), self._order(m[0])))

    def __len__(self) -> int:
        """How many groups there are, a report alone counting as its own."""
        return len({id(m) for m in self._members.values()})
