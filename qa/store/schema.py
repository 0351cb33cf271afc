"""Upgrading an index written by an older version to the current schema, in place (no re-embedding)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from ..chunking import read_sentences, section_headings, split_sentences, stored_section, stored_sentences
from ..types import Sentence
from .chroma import Chroma
from .records import CLAIMS_VERSION, SIGNATURE, claim_fields, filter_fields, located_fields, signed_fields

logger = logging.getLogger(__name__)

# 2: chunks carry source_key, place_terms and date_num for filters. 3: document records carry
# their locations (see qa.locations) and the scopes that find them, and chunks their sentence
# kinds. 4: chunks carry the heading of the section they open in. 5: document records carry the
# figures their text states (qa.claims, records.claim_fields) and their text's MinHash (qa.groups).
# 6: and its events (qa.events), read again with the claims. Vectors are untouched, so the index
# key (see IndexSettings.key) stays.
SCHEMA_VERSION = 6

Change = Callable[[dict[str, Any]], "dict[str, Any] | None"]


def upgrade(chroma: Chroma, schema: int) -> bool:
    """Bring the index's records from `schema` up to SCHEMA_VERSION; returns whether any step ran.

    Each step rewrites only the records still without its fields: a second process upgrading
    at the same moment, or one writing meanwhile, loses nothing to it.
    """
    if schema >= SCHEMA_VERSION:
        return False
    chunks, docs = chroma.current("chunks")[0], chroma.current("docs")[0]
    steps: list[tuple[str, str, Callable[[], int]]] = []
    if schema < 2:
        steps.append(("chunks", "filter fields", lambda: _update_all(chunks, _unless("source_key", filter_fields))))
    if schema < 3:
        steps.append(("document records", "locations", lambda: _update_all(docs, _unless("locations", located_fields))))
        steps.append(("chunks", "sentence kinds", lambda: _store_kinds(chunks, docs)))
    if schema < 4:
        steps.append(("chunks", "section headings", lambda: _store_sections(chunks, docs)))
    if schema < 6:  # one pass over the records: claims and events of the current reading, signatures
        steps.append(("document records", "claims, events and signatures", lambda: _update_all(docs, _read_figures_and_sign, text=True)))
    for what, why, step in steps:
        upgraded = step()
        if upgraded:
            logger.warning("upgraded %d %s of the index to schema %d (%s)", upgraded, what, SCHEMA_VERSION, why)
    return True


def _unless(key: str, change: Callable[[dict[str, Any]], dict[str, Any]]) -> Change:
    """`change`, for records that do not have `key` yet (None for the others)."""
    return lambda meta: None if key in meta else change(meta)


def _store_sections(chunks: Any, docs: Any) -> int:
    """Give chunks stored before sections were the heading of the section they open in,
    worked out from their document's text as ingest would."""
    split: dict[str, tuple[list[Sentence], list[int]]] = {}  # per page of chunks: its documents' units

    def section(meta: dict[str, Any], text: str) -> dict[str, Any] | None:
        doc_id = str(meta.get("doc_id", ""))
        if doc_id not in split:
            sentences = split_sentences(text)
            split[doc_id] = sentences, section_headings(sentences)
        sentences, heading_of = split[doc_id]
        first = int(meta.get("first_sentence", 0))
        heading = heading_of[first] if first < len(sentences) else -1
        if heading < 0:
            return None
        unit = sentences[heading]
        return stored_section(unit, text[unit.start : unit.end])

    return _rewrite_chunks(chunks, docs, "section_at", section, split.clear)


def _store_kinds(chunks: Any, docs: Any) -> int:
    """Give chunks stored before sentence kinds were their kinds, worked out from their
    document's text as ingest would."""

    def kinds(meta: dict[str, Any], text: str) -> dict[str, Any]:
        # Without stored kinds, read_sentences works them out from the text: the document's here.
        return stored_sentences(read_sentences({"sentences": meta.get("sentences", "")}, text))

    return _rewrite_chunks(chunks, docs, "kinds", kinds)


def _read_figures_and_sign(doc_id: str, meta: dict[str, Any], text: str) -> dict[str, Any] | None:
    """A document record with the claims of the current reading (CLAIMS_VERSION) and the
    signature of its text, read from its stored text as ingest would (None: it has both)."""
    out = dict(meta)
    if meta.get("claims_version") != CLAIMS_VERSION:
        out.update(claim_fields(text, doc_id, str(meta.get("date", "")), str(meta.get("place", ""))))
    if SIGNATURE not in meta:
        out = signed_fields(out, text)
    return None if out == meta else out


def _rewrite_chunks(
    chunks: Any,
    docs: Any,
    field: str,
    fields_of: Callable[[dict[str, Any], str], dict[str, Any] | None],
    next_page: Callable[[], None] = lambda: None,
) -> int:
    """Add to each chunk without `field` the fields `fields_of(metadata, its document's text)`
    gives (None: leave it), a page of chunks and their documents at a time; returns how many
    were rewritten. `next_page` is called before each page (to drop what a page kept)."""
    offset, page, done = 0, 1000, 0
    while True:
        next_page()
        got = chunks.get(include=["metadatas"], limit=page, offset=offset)
        needed = sorted({str(m.get("doc_id", "")) for m in got["metadatas"] if field not in m})
        texts = dict(zip(*[docs.get(ids=needed, include=["documents"])[k] for k in ("ids", "documents")])) if needed else {}
        ids, metas = [], []
        for chunk_id, meta in zip(got["ids"], got["metadatas"]):
            text = texts.get(str(meta.get("doc_id", "")))
            added = fields_of(meta, text) if field not in meta and text is not None else None
            if added:
                ids.append(chunk_id)
                metas.append({**meta, **added})
        if ids:
            chunks.update(ids=ids, metadatas=metas)
            done += len(ids)
        if len(got["ids"]) < page:
            return done
        offset += page


def _update_all(collection: Any, change: Callable[..., "dict[str, Any] | None"], text: bool = False) -> int:
    """Rewrite records' metadata with `change(metadata)`, or `change(id, metadata, stored text)`
    with `text` (None: leave that one), a page at a time; returns how many were rewritten."""
    offset, page, done = 0, 500 if text else 1000, 0
    while True:
        got = collection.get(include=["metadatas", "documents"] if text else ["metadatas"], limit=page, offset=offset)
        texts = got["documents"] if text else [None] * len(got["ids"])
        changed = [
            (i, m)
            for i, m in (
                (i, change(i, m, t or "") if text else change(m))
                for i, m, t in zip(got["ids"], got["metadatas"], texts)
            )
            if m is not None
        ]
        if changed:
            collection.update(ids=[i for i, _ in changed], metadatas=[m for _, m in changed])
            done += len(changed)
        if len(got["ids"]) < page:
            return done
        offset += page
