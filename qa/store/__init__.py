"""The Chroma index of documents, chunks and sentence vectors.

Five collections per index key (embedding model + chunking, see `IndexSettings.key`), in a
folder or on a Chroma server (QA_CHROMA_URL):
- `chunks_<key>`: one record per chunk, with its text, vector and metadata (doc id, title,
  outlet, date, place, start, end and the sentence offsets inside it: see `records`);
- `sentences_<key>`: one vector per sentence, so the answerer can rank sentences without
  running the encoder at question time;
- `docs_<key>`: one record per document with its full text and its locations (the files,
  collections or uploads it is in, and the scopes an ingest of a folder finds it by: see
  qa.locations). It is written after the document's parts and deleted before them, so a record
  means its document is whole;
- `state_<key>`: the schema version, the change token, the number of the last write and the
  writes in progress (`writelog`);
- `journal_<key>`: which documents each recent write changed (`journal`), so that what a
  process derives from the index is updated document by document.

Modules, one concern each: `chroma` (the client, the only module that imports chromadb),
`writelog` (crash safety across processes), `journal` (what each write changed), `views` (what a
process derives from the records, kept up to date from the journal) with `derived` (the views
themselves: BM25, groups, statements) and `saved` (their file beside a folder index), `schema`
(upgrades in place), `records` (stored fields and the filter clause), `cache` (small caches of
sentence vectors, chunks and figures) and `store` (the `Store` the rest of qa uses). The lock
order is in qa.locks.
"""

from .chroma import parse_chroma_url
from .records import filter_fields, stored_locations
from .schema import SCHEMA_VERSION
from .store import Store
from .writelog import SWEEP_GRACE_S, WRITE_LOCK

__all__ = ["SCHEMA_VERSION", "SWEEP_GRACE_S", "WRITE_LOCK", "Store", "filter_fields", "parse_chroma_url", "stored_locations"]
