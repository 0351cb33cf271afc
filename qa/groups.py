"""One story, counted once: reports whose texts are the same or nearly so (a wire story carried by
several outlets, a re-filed update) form a group.

Each stored document record carries a MinHash `signature` of its text (word shingles of the
lower-cased words); `Groups` is built from the signatures of all stored documents: MinHash LSH
finds candidate pairs, a pair whose estimated Jaccard similarity reaches THRESHOLD is joined, and
groups are the connected components (union-find). Groups are derived from what is stored, so a
replaced or deleted report changes them with nothing else to keep in step.

SHINGLE_WORDS and THRESHOLD were measured on FA-KES by eval/groups_fakes.py (see docs/groups.md).
datasketch is imported only where a signature is computed (at ingest), never to answer a question.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Mapping
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
# The LSH's bands: datasketch's optimal parameters for CANDIDATE_THRESHOLD at PERMUTATIONS
# (MinHashLSH(threshold=0.3, num_perm=128) has b=37, r=3; a test holds them equal). The bands are
# kept here rather than in datasketch's MinHashLSH, whose module imports scipy (0.3 s on every
# start of a process that answers questions).
BANDS, ROWS = 37, 3


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
    """The groups of near-duplicate reports among stored documents (a snapshot: see GroupIndex).

    Args:
        records: doc id -> (signature, metadata) of every stored document; the metadata's `date`
            orders a group's members.
        threshold: the estimated Jaccard similarity from which two reports are one story.

    A chain (A near B, B near C, A not near C) is one group: on FA-KES every chain read was one
    story filed in several versions (see docs/groups.md).
    """

    def __init__(
        self, records: Mapping[str, tuple[str, Mapping[str, Any]]] | None = None, threshold: float = THRESHOLD
    ) -> None:
        index = GroupIndex(threshold)
        index.replace((), records or {})
        self._take(index.groups)

    def _take(self, other: Groups) -> None:
        self._members, self._group, self._carrier, self._date = (
            other._members,
            other._group,
            other._carrier,
            other._date,
        )

    @classmethod
    def _of(cls, members: dict[str, list[str]], carrier: dict[str, str], date: dict[str, str]) -> Groups:
        """A snapshot of these maps (never changed afterwards: GroupIndex replaces its lists, never edits them)."""
        groups = cls.__new__(cls)
        groups._members, groups._carrier, groups._date = members, carrier, date
        groups._group = {doc_id: group[0] for doc_id, group in members.items()}
        return groups

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
        return sorted((list(m) for m in seen.values()), key=lambda m: (-len(m), _order(self._date, m[0])))

    def __len__(self) -> int:
        """How many groups there are, a report alone counting as its own."""
        return len({id(m) for m in self._members.values()})


class GroupIndex:
    """Groups kept up to date document by document: `replace` regroups only the documents a change
    touches, the other members of their groups, and the groups a new document joins (a pair's
    similarity depends on the two documents alone, so no other group can change). One thread at
    a time; each change publishes a new `groups` snapshot that readers use without a lock.

    The LSH holds each distinct signature once: reports with the same signature (the same text,
    filed again or by another outlet) are one group without comparing them.
    """

    def __init__(self, threshold: float = THRESHOLD) -> None:
        self.threshold = threshold
        self._signature: dict[str, str] = {}  # doc id -> its signature (signed documents)
        self._signed: dict[str, set[str]] = {}  # signature -> the documents that have it
        self._values: dict[str, Any] = {}  # signature -> its hash values
        self._lsh = _Bands()
        self._date: dict[str, str] = {}
        self._carrier: dict[str, str] = {}
        self._members: dict[str, list[str]] = {}  # doc id -> its group, by date then id (one list per group)
        self.groups = Groups._of({}, {}, {})

    def replace(self, doc_ids: Iterable[str], records: Mapping[str, tuple[str, Mapping[str, Any]]]) -> Groups:
        """Drop the documents `doc_ids` and add (or replace) `records` (doc id -> (signature,
        metadata)); returns the new snapshot."""
        touched = set(doc_ids) | set(records)
        neighbours_of = {m for d in touched for m in self._members.get(d, ())} - touched
        for doc_id in touched:
            self._forget(doc_id)
        new: list[str] = []
        for doc_id, (sig, meta) in records.items():
            self._date[doc_id] = str(meta.get("date", "") or "")
            # Who carried each report: its outlet, or its title where it names none.
            self._carrier[doc_id] = (
                str(meta.get("source", "") or "").strip() or str(meta.get("title", "") or "").strip()
            )
            if sig:
                self._signature[doc_id] = sig
                if sig not in self._signed:
                    self._signed[sig] = set()
                    self._values[sig] = hash_values(sig)
                    new.append(sig)
                self._signed[sig].add(doc_id)
        self._index(new)
        self._regroup(neighbours_of | set(records))
        self.groups = Groups._of(dict(self._members), dict(self._carrier), dict(self._date))
        return self.groups

    def records(self) -> dict[str, tuple[str, dict[str, str]]]:
        """doc id -> (signature, metadata) of every document held: what `replace` takes to build
        these groups again (the carrier given as the outlet)."""
        return {
            doc_id: (
                self._signature.get(doc_id, ""),
                {"date": self._date.get(doc_id, ""), "source": self._carrier.get(doc_id, "")},
            )
            for doc_id in self._date
        }

    def _forget(self, doc_id: str) -> None:
        sig = self._signature.pop(doc_id, None)
        if sig is not None:
            self._signed[sig].discard(doc_id)
            if not self._signed[sig]:
                self._lsh.remove(sig, self._values[sig])
                del self._signed[sig], self._values[sig]
        self._date.pop(doc_id, None)
        self._carrier.pop(doc_id, None)
        self._members.pop(doc_id, None)  # the group's others are regrouped by `replace`

    def _index(self, signatures: list[str]) -> None:
        for sig in signatures:
            self._lsh.insert(sig, self._values[sig])

    def _near(self, sig: str) -> list[str]:
        """The other signatures whose estimated similarity to this one reaches the threshold (LSH
        gives candidates; the estimate confirms them, all at once)."""
        import numpy as np

        candidates = [other for other in self._lsh.query(self._values[sig]) if other != sig]
        if not candidates:
            return []
        agree = (np.stack([self._values[c] for c in candidates]) == self._values[sig]).mean(axis=1)
        return [c for c, share in zip(candidates, agree) if share >= self.threshold]

    def _regroup(self, nodes: set[str]) -> None:
        """Group `nodes` anew: with each other, and with the untouched groups their near documents are in."""
        parent: dict[str, str] = {}

        def root(x: str) -> str:
            parent.setdefault(x, x)
            while parent[x] != x:
                parent[x] = parent[parent[x]]
                x = parent[x]
            return x

        def join(a: str, b: str) -> None:
            a, b = root(a), root(b)
            if a != b:
                parent[a] = b

        for doc_id in nodes:
            root(doc_id)
        for sig in {self._signature[d] for d in nodes if d in self._signature}:
            same = sorted(self._signed[sig])
            for doc_id in same[1:]:
                join(same[0], doc_id)
            for other in self._near(sig):
                join(same[0], min(self._signed[other]))
        found: dict[str, set[str]] = {}
        for doc_id in list(parent):
            members = found.setdefault(root(doc_id), set())
            # A document outside `nodes` brings its whole (untouched) group.
            members.update(self._members.get(doc_id, [doc_id]) if doc_id not in nodes else [doc_id])
        for members in found.values():
            group = sorted(members, key=lambda doc_id: _order(self._date, doc_id))
            for doc_id in group:
                self._members[doc_id] = group


class _Bands:
    """MinHash LSH by banding: two signatures are candidates when all ROWS values of one of their
    BANDS bands agree (as datasketch's MinHashLSH, whose buckets these are)."""

    def __init__(self) -> None:
        self._buckets: list[dict[bytes, set[str]]] = [{} for _ in range(BANDS)]

    @staticmethod
    def _keys(values: Any) -> list[bytes]:
        return [values[b * ROWS : (b + 1) * ROWS].tobytes() for b in range(BANDS)]

    def insert(self, key: str, values: Any) -> None:
        for bucket, band in zip(self._buckets, self._keys(values)):
            bucket.setdefault(band, set()).add(key)

    def remove(self, key: str, values: Any) -> None:
        for bucket, band in zip(self._buckets, self._keys(values)):
            held = bucket.get(band)
            if held is not None:
                held.discard(key)
                if not held:
                    del bucket[band]

    def query(self, values: Any) -> set[str]:
        found: set[str] = set()
        for bucket, band in zip(self._buckets, self._keys(values)):
            found.update(bucket.get(band, ()))
        return found


def _order(dates: Mapping[str, str], doc_id: str) -> tuple[int, str, str]:
    """Members by date (undated ones last), then id."""
    date = dates.get(doc_id, "")
    return (0 if date else 1, date, doc_id)
