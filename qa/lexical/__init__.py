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

Modules: `terms` (tokenizing, vocabularies), `segments` (a batch of chunks' postings and facets),
`snapshot` (what a question searches, term statistics) and `index` (`LexicalIndex`, the writer's
side: one thread at a time, see qa.store.views; every change publishes a new `Snapshot`, which
questions search without a lock while the next one is made).
"""

from .index import LexicalIndex
from .segments import ChunkRecord, Segment
from .snapshot import B, K1, Snapshot, TermStats, unknown_values
from .terms import TOKENS, bm25_terms, packed, tokenize, unpacked

__all__ = [
    "B", "K1", "TOKENS", "ChunkRecord", "LexicalIndex", "Segment", "Snapshot", "TermStats",
    "bm25_terms", "packed", "tokenize", "unknown_values", "unpacked",
]
