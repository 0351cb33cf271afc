"""What the index stores for documents and chunks, and the filter clause that reads it back."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ..chunking import stored_section, stored_sentences
from ..groups import signature
from ..locations import legacy_locations, scopes_of
from ..statements import Claim, Event
from ..types import Chunk, Document, Filters, day_number, outlet_key, place_terms

DOC_FIELDS = ("title", "source", "date", "place", "url", "path", "content_hash", "chunks")


def filter_fields(meta: dict[str, Any]) -> dict[str, Any]:
    """A chunk's metadata with the fields filters match on, derived from its outlet, place and date."""
    out = {**meta, "source_key": outlet_key(str(meta.get("source", ""))), "date_num": day_number(str(meta.get("date", "")))}
    terms = place_terms(str(meta.get("place", "")))
    if terms:  # Chroma refuses empty lists; a chunk without a place matches no place filter
        out["place_terms"] = terms
    return out


def chunk_base(doc: Document, written_at: float) -> dict[str, Any]:
    """The metadata every chunk of `doc` carries."""
    base = filter_fields(
        {"doc_id": doc.doc_id, "title": doc.title, "source": doc.source, "date": doc.date, "place": doc.place, "url": doc.url}
    )
    base["written_at"] = written_at
    return base


def chunk_fields(chunk: Chunk) -> dict[str, Any]:
    """The metadata of one chunk beyond its document's (see chunk_base)."""
    return {
        "index": chunk.index,
        "start": chunk.start,
        "end": chunk.end,
        "first_sentence": chunk.first_sentence,
        **stored_sentences(chunk.sentences),
        **stored_section(chunk.section, chunk.section_text),
    }


def where(filters: Filters, hidden: set[str]) -> dict[str, Any] | None:
    """The Chroma `where` clause that keeps chunks inside the filters (see Filters.matches, the
    same filter on the fields filter_fields stores) and out of the `hidden` documents."""
    clauses: list[dict[str, Any]] = []
    if hidden:
        clauses.append({"doc_id": {"$nin": sorted(hidden)}})
    if filters.sources:
        clauses.append({"source_key": {"$in": sorted(filters.source_keys)}})
    if filters.places:
        either = [{"place_terms": {"$contains": t}} for t in sorted(filters.place_keys)]
        clauses.append(either[0] if len(either) == 1 else {"$or": either})
    if filters.dated:
        low, high = filters.day_range
        dated: list[dict[str, Any]] = [{"date_num": {"$gte": low}}, {"date_num": {"$lte": high}}]
        clauses += [{"$or": [{"$and": dated}, {"date_num": 0}]}] if filters.undated else dated
    if not clauses:
        return None
    return clauses[0] if len(clauses) == 1 else {"$and": clauses}


def stored_locations(meta: Mapping[str, Any]) -> list[str]:
    """A document record's locations (see qa.locations); a record from before they were stored
    has the one its path names."""
    if "locations" in meta:
        return list(json.loads(str(meta["locations"])))
    return legacy_locations(str(meta.get("path", "")))


def located_fields(meta: dict[str, Any], locations: list[str] | None = None) -> dict[str, Any]:
    """A document record's metadata with its locations and their scopes set (to `locations`, or
    to what it has). With no locations left (a report missing from its input) the scopes stay,
    so an ingest of the folder it was in still finds it."""
    locations = stored_locations(meta) if locations is None else locations
    out = {**meta, "locations": json.dumps(locations, ensure_ascii=False)}
    scopes = scopes_of(locations)
    if scopes:  # Chroma refuses empty lists
        out["scopes"] = scopes
    return out


# The MinHash of a record's text (see qa.groups), which its near-duplicates are found by; never
# shown (to_document leaves it out).
SIGNATURE = "minhash"


def signed_fields(meta: dict[str, Any], text: str) -> dict[str, Any]:
    """A document record's metadata with the signature of its text set."""
    return {**meta, SIGNATURE: signature(text)}


def document_fields(doc: Document, chunks: int, written_at: float) -> dict[str, Any]:
    """A document record's metadata, with the figures its text states (see claim_fields)."""
    meta = {name: getattr(doc, name) for name in DOC_FIELDS}
    meta.update(chunks=chunks, ingested_at=written_at, **claim_fields(doc.text, doc.doc_id, doc.date, doc.place))
    meta = signed_fields(meta, doc.text)
    return located_fields(meta, doc.locations)


#: Bumped, with SCHEMA_VERSION and a step of qa.store.schema.upgrade, when qa.claims or qa.events
#: read a report differently: that step reads again the records of an older reading (the step
#: runs only for an index below SCHEMA_VERSION). 2: events too.
CLAIMS_VERSION = 2


def claim_fields(text: str, doc_id: str, date: str, place: str) -> dict[str, Any]:
    """The record fields that hold a report's claims (qa.claims) and events (qa.events): JSON,
    one object per claim or event without the doc id, which is the record's. Kept in the record,
    they are written and removed with it: a replaced or deleted report never leaves any behind."""
    from ..chunking import split_sentences
    from ..claims import claims_in
    from ..events import events_in

    sentences = split_sentences(text)  # once, for both
    found = claims_in(text, doc_id, date, place, sentences)
    events = events_in(text, doc_id, date, place, frozenset(c.start for c in found), sentences)
    claims = [c.to_dict() for c in found]
    for claim in claims:
        del claim["doc_id"], claim["value"]
    said = [e.to_dict() for e in events]
    for event in said:
        del event["doc_id"]
    return {
        "claims": json.dumps(claims, ensure_ascii=False, separators=(",", ":")),
        "events": json.dumps(said, ensure_ascii=False, separators=(",", ":")),
        "claims_version": CLAIMS_VERSION,
    }


def stored_claims(doc_id: str, meta: Mapping[str, Any]) -> list[Claim]:
    """The claims a document record holds (none for a record from before they were stored)."""
    return [Claim(doc_id=doc_id, **c) for c in json.loads(str(meta.get("claims", "[]")))]


def stored_events(doc_id: str, meta: Mapping[str, Any]) -> list[Event]:
    """The events a document record holds (none for a record from before they were stored)."""
    return [Event(doc_id=doc_id, **e) for e in json.loads(str(meta.get("events", "[]")))]


def to_document(doc_id: str, meta: Mapping[str, Any], text: str) -> Document:
    """The Document a record stores (`text` empty where it was not read; its claims are read by
    stored_claims)."""
    return Document(
        doc_id=doc_id,
        text=text,
        title=str(meta.get("title", "")),
        source=str(meta.get("source", "")),
        date=str(meta.get("date", "")),
        place=str(meta.get("place", "")),
        url=str(meta.get("url", "")),
        path=str(meta.get("path", "")),
        locations=stored_locations(meta),
        content_hash=str(meta.get("content_hash", "")),
        chunks=int(meta.get("chunks", 0)),
    )
