"""The views a Store keeps (see qa.store.views): the BM25 index retrieval searches (qa.lexical),
the groups of near-duplicate reports (qa.groups) and every document's claims and events (what a
timeline reads), each read from the records Chroma stores and re-read document by document."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from . import records

if TYPE_CHECKING:
    from ..documents import Document
    from ..groups import GroupIndex, Groups
    from ..lexical import ChunkRecord, LexicalIndex, Snapshot
    from ..statements import Claim, Event
    from .store import Store

    Statements = dict[str, tuple[Document, list[Claim], list[Event]]]

IDS_PER_READ = 500  # documents named in one Chroma read (its SQLite takes ~32k variables)
# Chunks read at once when building from everything: a read of 20,000 (text and metadata) took
# 750 MB while it lasted, at 100k chunks; 5,000 take a quarter and no longer in all.
_CHUNKS_PER_READ = 5000


def chunk_records(store: Store, doc_ids: Iterable[str] | None = None) -> Iterator[list[ChunkRecord]]:
    """The chunks of complete documents (every one, or those of `doc_ids`), a page at a time;
    documents an open write names are left out (their write's journal record brings them)."""
    from ..lexical import ChunkRecord

    if doc_ids is None:
        for got in store.scan("chunks", ["documents", "metadatas"], page=_CHUNKS_PER_READ):
            # Records read after the chunks: a chunk whose write was still open is named by an
            # intent now, and one whose write ended has its record, unless it was deleted meanwhile.
            keep = store.complete(m.get("doc_id", "") for m in got["metadatas"])
            yield [
                ChunkRecord.of(i, t, m)
                for i, t, m in zip(got["ids"], got["documents"], got["metadatas"])
                if m.get("doc_id") in keep
            ]
        return
    wanted = sorted(set(doc_ids))
    for lo in range(0, len(wanted), IDS_PER_READ):
        part = wanted[lo : lo + IDS_PER_READ]
        got = store.chroma.read(
            lambda: store.chunks.get(where={"doc_id": {"$in": part}}, include=["documents", "metadatas"])
        )
        keep = store.complete(part)
        yield [
            ChunkRecord.of(i, t, m)
            for i, t, m in zip(got["ids"], got["documents"], got["metadatas"])
            if m.get("doc_id") in keep
        ]


def document_records(store: Store, doc_ids: Iterable[str] | None = None) -> Iterator[tuple[str, dict[str, Any]]]:
    """(doc id, metadata) of complete documents (every one, or those of `doc_ids`) that no open write names."""
    hidden = store.log.hidden()
    if doc_ids is None:
        pages: Iterable[dict[str, Any]] = store.scan("docs", ["metadatas"])
    else:
        wanted = sorted(set(doc_ids))
        pages = (
            store.chroma.read(
                lambda part=wanted[lo : lo + IDS_PER_READ]: store.collection("docs").get(
                    ids=part, include=["metadatas"]
                )
            )
            for lo in range(0, len(wanted), IDS_PER_READ)
        )
    for got in pages:
        yield from ((i, m) for i, m in zip(got["ids"], got["metadatas"]) if i not in hidden)


class _BuiltOnUse:
    """A view whose `index` is built the first time it is read (through the store's Views, which
    keep it up to date from then on)."""

    index: Any = None

    def __init__(self, store: Store) -> None:
        self._store = store

    def _built(self) -> Any:
        if self.index is None:
            self._store.views.build(self)  # type: ignore[arg-type]
        assert self.index is not None
        return self.index


class LexicalView(_BuiltOnUse):
    """The BM25 index of every complete document's chunks (qa.lexical)."""

    name = "lexical"
    index: LexicalIndex | None

    @property
    def snapshot(self) -> Snapshot:
        return self._built().snapshot

    def rebuild(self) -> None:
        from ..lexical import LexicalIndex

        self.index = LexicalIndex.built(
            chunk_records(self._store)
        )  # whole: questions searched the previous one until now

    def update(self, doc_ids: frozenset[str]) -> None:
        assert self.index is not None
        self.index.replace(doc_ids, [c for page in chunk_records(self._store, doc_ids) for c in page])

    def arrays(self) -> dict[str, Any]:
        assert self.index is not None
        return self.index.arrays()

    def restore(self, arrays: dict[str, Any]) -> None:
        from ..lexical import LexicalIndex

        self.index = LexicalIndex.from_arrays(arrays)


class GroupsView(_BuiltOnUse):
    """The groups of near-duplicate reports (qa.groups), from the signatures document records store."""

    name = "groups"
    index: GroupIndex | None

    @property
    def groups(self) -> Groups:
        return self._built().groups

    def rebuild(self) -> None:
        from ..groups import GroupIndex

        index = GroupIndex()
        index.replace((), self._signed(None))
        self.index = index

    def update(self, doc_ids: frozenset[str]) -> None:
        assert self.index is not None
        self.index.replace(doc_ids, self._signed(doc_ids))

    def arrays(self) -> dict[str, Any]:
        from ..lexical import packed

        assert self.index is not None
        return {"records": packed(self.index.records())}

    def restore(self, arrays: dict[str, Any]) -> None:
        from ..groups import GroupIndex
        from ..lexical import unpacked

        signed = unpacked(arrays["records"])
        if not isinstance(signed, dict):
            raise ValueError("the groups' records are not a mapping")
        index = GroupIndex()
        index.replace((), {doc_id: (sig, meta) for doc_id, (sig, meta) in signed.items()})
        self.index = index

    def _signed(self, doc_ids: frozenset[str] | None) -> dict[str, tuple[str, dict[str, Any]]]:
        keep = ("date", "source", "title")  # what a group needs beyond the signature: not the claims
        return {
            doc_id: (str(meta.get(records.SIGNATURE, "") or ""), {k: meta.get(k) for k in keep})
            for doc_id, meta in document_records(self._store, doc_ids)
        }


class StatementsView(_BuiltOnUse):
    """Every document's claims and events (what a timeline reads), without their texts; built
    from the records only when a timeline is asked for, and not kept on disk."""

    index: Statements | None

    @property
    def current(self) -> Statements:
        return self._built()

    def rebuild(self) -> None:
        self.index = dict(read_statements(document_records(self._store)))

    def update(self, doc_ids: frozenset[str]) -> None:
        assert self.index is not None
        kept = {doc_id: told for doc_id, told in self.index.items() if doc_id not in doc_ids}
        kept.update(read_statements(document_records(self._store, doc_ids)))
        self.index = kept  # whole: a timeline being built reads the previous one


def read_statements(
    found: Iterable[tuple[str, dict[str, Any]]],
) -> Iterator[tuple[str, tuple[Document, list[Claim], list[Event]]]]:
    """(doc id, (the document without its text, its claims, its events)) of document records."""
    for doc_id, meta in found:
        yield (
            doc_id,
            (
                records.to_document(doc_id, meta, ""),
                records.stored_claims(doc_id, meta),
                records.stored_events(doc_id, meta),
            ),
        )
