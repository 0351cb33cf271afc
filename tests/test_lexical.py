"""The lexical index: bm25s's scores, updated document by document to the same scores and statistics
as an index built from scratch over the same chunks."""

import random
from collections import Counter

import numpy as np
import pytest

from qa.chunking import chunk_sentences, split_sentences
from qa.config import BUNDLED_CORPUS_DIR
from qa.lexical import TOKENS, ChunkRecord, LexicalIndex, bm25_terms
from qa.text import content_terms
from qa.types import Filters

from conftest import SHARED_DATA

QUESTIONS = [
    "How many civilians were killed in Maarat al Numan?",
    "Who shelled the market?",
    "regime airstrikes Idlib hospital",
    "What did the Syrian Observatory for Human Rights report?",
    "Turkey Russia Iran de-escalation zone",
    "To be or not to be",  # stop words only
    "zzzz qqqq",  # no known word
]


def corpus_documents() -> dict[str, list[tuple[str, str]]]:
    """doc id -> its chunks (id, text): the bundled report, FA-KES reports when the shared data is
    there, and texts built to be awkward (stop words only, one word, repeated words, empty)."""
    texts = [p.read_text(encoding="utf-8") for p in sorted(BUNDLED_CORPUS_DIR.glob("*.txt"))]
    fakes = SHARED_DATA / "fa-kes.csv"
    if fakes.is_file():
        import csv

        with fakes.open(encoding="utf-8", newline="") as rows:
            texts += [row["article_content"] for _, row in zip(range(120), csv.DictReader(rows))]
    else:  # the bundled report's paragraphs, each a document of its own
        texts += [p for t in list(texts) for p in t.split("\n\n") if p.strip()]
    texts += ["To be or not to be.", "Shelling.", "shelling shelling shelling Shelling SHELLING killed", "", "Idlib"]
    docs = {}
    for n, text in enumerate(texts):
        doc_id = f"d{n}"
        docs[doc_id] = [(c.chunk_id, c.text) for c in chunk_sentences(text, doc_id, split_sentences(text), 120, 1)] or [
            (f"{doc_id}:0", text)
        ]
    return docs


def records(doc_id: str, chunks: list[tuple[str, str]], n: int) -> list[ChunkRecord]:
    outlet = ["Reuters", "SANA", "TRT World"][n % 3]
    return [
        ChunkRecord(cid, doc_id, text, outlet.lower(), outlet, (f"town{n % 4}",), 20190800 + n % 28)
        for cid, text in chunks
    ]


def reference_scores(chunks: list[tuple[str, str]], question: str) -> dict[str, float]:
    """bm25s's own scores, an index built from scratch over `chunks`."""
    import bm25s
    import Stemmer

    tokens = bm25s.tokenize(
        [t for _, t in chunks],
        stopwords="en",
        stemmer=Stemmer.Stemmer("english"),
        token_pattern=TOKENS,
        show_progress=False,
    )
    index = bm25s.BM25()
    index.index(tokens, show_progress=False)
    known = index.get_tokens_ids(bm25_terms([question])[0])
    if not known:
        return {}
    scores = index.get_scores_from_ids(known)
    return {chunks[i][0]: float(scores[i]) for i in np.flatnonzero(scores > 0)}


def churn(seed: int) -> tuple[LexicalIndex, dict[str, list[tuple[str, str]]], dict[str, int]]:
    """An index taken through adds in batches, replacements and deletions; returns it and what it should hold."""
    rng = random.Random(seed)
    docs = corpus_documents()
    order = {doc_id: n for n, doc_id in enumerate(docs)}
    index, current = LexicalIndex(), {}
    ids = list(docs)
    for lo in range(0, len(ids), 11):
        batch = ids[lo : lo + 11]
        index.replace(batch, [r for d in batch for r in records(d, docs[d], order[d])])
        current.update({d: docs[d] for d in batch})
        for doc_id in rng.sample(sorted(current), min(3, len(current))):
            if rng.random() < 0.4:
                del current[doc_id]
                index.replace([doc_id], [])
            else:  # a new version under the same id
                current[doc_id] = [
                    (cid, text + " Later reports said shelling resumed.") for cid, text in current[doc_id]
                ]
                index.replace([doc_id], records(doc_id, current[doc_id], order[doc_id]))
    return index, current, order


@pytest.mark.parametrize("seed", [1, 2])
def test_updated_index_scores_as_bm25s_does_from_scratch(seed):
    index, current, _ = churn(seed)
    chunks = [c for doc_id in current for c in current[doc_id]]
    snapshot = index.snapshot
    assert snapshot.chunks == len(chunks)
    assert len(snapshot.segments) <= 1 + int(np.log2(len(chunks))), "segments are merged as they accumulate"
    for question in QUESTIONS:
        expected = reference_scores(chunks, question)
        got = dict(snapshot.search(question, 10**6))
        assert got.keys() == expected.keys(), question
        for chunk_id, score in expected.items():
            assert got[chunk_id] == pytest.approx(score, rel=1e-5), (question, chunk_id)
        best = sorted(expected.items(), key=lambda kv: -kv[1])[:5]
        assert [s for _, s in snapshot.search(question, 5)] == pytest.approx([s for _, s in best], rel=1e-5)


def test_updated_index_has_the_term_statistics_of_its_chunks():
    index, current, _ = churn(3)
    chunks = [c for doc_id in current for c in current[doc_id]]
    expected = Counter(term for _, text in chunks for term in set(content_terms(text)))
    stats = index.snapshot.term_stats
    assert stats.chunks == len(chunks)
    assert dict(stats.df) == dict(expected)
    assert stats.mentions("shelling") and not stats.mentions("zzyzx")


def test_terms_are_bm25s_own():
    """The lexical index tokenizes as bm25s.tokenize does (lower case, words of 2+ characters, its
    English stop words, PyStemmer), on every sentence and question of the repository's texts."""
    import bm25s
    import Stemmer

    from test_embeddings import repository_texts

    texts = repository_texts(1000) + ["", "To be or not to be.", "UN's aid; 2,000 tents — Maarat al-Numan's"]
    expected = bm25s.tokenize(
        texts,
        stopwords="en",
        stemmer=Stemmer.Stemmer("english"),
        token_pattern=TOKENS,
        return_ids=False,
        show_progress=False,
    )
    assert bm25_terms(texts) == [list(terms) for terms in expected]


def test_a_snapshot_never_changes_once_published():
    docs = corpus_documents()
    index = LexicalIndex()
    index.replace(["d0"], records("d0", docs["d0"], 0))
    before = index.snapshot
    found = before.search(QUESTIONS[0], 5)
    index.replace(["d0"], [])  # the report deleted
    index.replace(["d1"], records("d1", docs["d1"], 1))
    assert before.search(QUESTIONS[0], 5) == found and before.chunks == len(docs["d0"])
    assert not any(cid.startswith("d0:") for cid, _ in index.snapshot.search(QUESTIONS[0], 50))


def test_filters_keep_to_their_outlets_places_and_dates():
    index, current, order = churn(4)
    snapshot = index.snapshot
    outlet_of = {d: ["Reuters", "SANA", "TRT World"][order[d] % 3] for d in current}
    # Words of the bundled report that reach each filter's documents with or without FA-KES.
    question = "shelling killed civilians in Idlib, the regime said"
    everything = snapshot.search(question, 1000)

    def inside(chunk_id: str, filters: Filters) -> bool:
        doc_id = chunk_id.rsplit(":", 1)[0]
        n = order[doc_id]
        return (
            (not filters.sources or outlet_of[doc_id] == "SANA")
            and (not filters.places or n % 4 == 1)
            and (not filters.dated or 5 <= n % 28 <= 9)
        )

    for filters in (
        Filters(sources=("SANA",)),
        Filters(places=("town1",)),
        Filters(date_from="2019-08-05", date_to="2019-08-09"),
    ):
        expected = [(chunk_id, score) for chunk_id, score in everything if inside(chunk_id, filters)]
        assert expected, filters  # the question reaches documents inside the filter
        assert snapshot.search(question, 1000, filters) == expected  # those, and only those, as scored unfiltered
    assert (
        snapshot.unknown(Filters(sources=("SNAA",)))
        == "no report in the index is from the outlet 'SNAA'; did you mean SANA?"
    )
    assert snapshot.unknown(Filters(places=("town9",))).startswith("no report in the index names the place 'town9'")
    assert snapshot.unknown(Filters(sources=("Reuters",), places=("town2",))) is None
