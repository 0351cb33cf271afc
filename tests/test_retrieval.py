import pytest

from qa.errors import InputError


def retrieve(assistant, question, mode, top_k=3):
    vector = assistant.embedder.encode([question])[0]
    return assistant.retriever.retrieve(question, vector, mode, top_k).hits


@pytest.mark.parametrize("mode", ["hybrid", "dense", "bm25"])
def test_each_mode_finds_the_passage(corpus_assistant, mode):
    hits = retrieve(corpus_assistant, "Erdogan and Putin discussed the situation in Idlib in Moscow", mode)
    assert 1 <= len(hits) <= 3
    assert "Erdogan" in hits[0].text
    assert [h.rank for h in hits] == list(range(len(hits)))
    for hit in hits:
        text = corpus_assistant.document(hit.doc_id).text
        assert text[hit.start : int(hit.metadata["end"])] == hit.text


def test_bm25_needs_shared_words_and_dense_does_not(corpus_assistant):
    assert retrieve(corpus_assistant, "zzzz qqqq", "bm25") == []
    assert retrieve(corpus_assistant, "zzzz qqqq", "dense")  # nearest neighbours always exist


def test_hybrid_fuses_both_lists(corpus_assistant):
    question = "Which war monitor reported the deaths in Maarat al Numan?"
    dense = {h.chunk_id for h in retrieve(corpus_assistant, question, "dense", 6)}
    lexical = {h.chunk_id for h in retrieve(corpus_assistant, question, "bm25", 6)}
    hybrid = retrieve(corpus_assistant, question, "hybrid", 6)
    assert {h.chunk_id for h in hybrid} <= dense | lexical
    assert len({h.chunk_id for h in hybrid}) == len(hybrid)  # one entry per chunk


def test_lexical_index_is_built_from_what_chroma_stores(make_assistant, tmp_path):
    first = make_assistant()
    path = tmp_path / "r.txt"
    path.write_text("The Zarzour crossing reopened on Monday after weeks of shelling.\n")
    first.ingest([path])
    # A second Assistant on the same index has an empty docstore: BM25 must come from Chroma.
    second = make_assistant()
    hits = retrieve(second, "Zarzour crossing", "bm25")
    assert hits and "Zarzour" in hits[0].text


def test_unknown_mode_is_an_input_error(corpus_assistant):
    with pytest.raises(InputError, match="unknown retrieval mode"):
        retrieve(corpus_assistant, "anything", "sparse")


def test_chunks_store_what_each_sentence_is(corpus_assistant):
    from qa.retrieval import Hit

    hits = retrieve(corpus_assistant, "Humanitarian crisis: what does the UN say?", "bm25", top_k=11)
    heading = next(h for h in hits if h.text.startswith("Humanitarian crisis"))
    kinds = [s.kind for s in heading.sentences]
    assert heading.metadata["kinds"].startswith("ht") and kinds[:2] == ["heading", "text"]
    # A chunk stored before kinds were (no "kinds" in its metadata) has them worked out from its text.
    old = Hit.of(heading.chunk_id, heading.text, {k: v for k, v in heading.metadata.items() if k != "kinds"}, 1.0, 0)
    assert [s.kind for s in old.sentences] == kinds


def test_the_kinds_stored_at_ingest_are_the_ones_answers_use(make_assistant, tmp_path):
    """A list item is text only in the context of its line: the kind stored at ingest says so,
    where the chunk's first sentence alone would look like a heading."""
    from qa.retrieval import Hit

    path = tmp_path / "figures.md"
    path.write_text(
        "Key figures\n\n- 550 civilians killed since April across Idlib\n- 400,000 people displaced from their homes\n"
    )
    assistant = make_assistant(chunk_words=10, chunk_overlap_sentences=0)  # the second item opens a chunk
    assistant.ingest([path])
    (chunk,) = retrieve(assistant, "How many people were displaced from their homes?", "bm25", top_k=1)
    assert chunk.text == "400,000 people displaced from their homes" and [s.kind for s in chunk.sentences] == ["text"]
    unstored = Hit.of(chunk.chunk_id, chunk.text, {k: v for k, v in chunk.metadata.items() if k != "kinds"}, 1.0, 0)
    assert [s.kind for s in unstored.sentences] == ["heading"]  # its bullet is outside the chunk
    answer = assistant.ask("How many people were displaced from their homes?")
    assert "400,000 people displaced from their homes" in answer.text


def test_the_fusion_is_llamaindexs_own(corpus_assistant):
    """The pipeline runs LlamaIndex's QueryFusionRetriever by its `_retrieve` and its retrievers'
    `_retrieve` (without LlamaIndex's instrumentation, and the two searches side by side): the
    nodes must be those LlamaIndex's public `retrieve` gives for the same retrievers. Fails loudly
    when a llama-index-core upgrade changes those internals."""
    from llama_index.core.llms import MockLLM
    from llama_index.core.retrievers import QueryFusionRetriever
    from llama_index.core.retrievers.fusion_retriever import FUSION_MODES
    from llama_index.core.schema import QueryBundle

    from qa.retrieval import _ASKED, _Asked
    from qa.types import Filters

    retriever = corpus_assistant.retriever
    snapshot = corpus_assistant.store.lexical.snapshot
    for question in [
        "Which war monitor reported the deaths in Maarat al Numan?",
        "Erdogan Putin Moscow",
        "zzzz shelling",
    ]:
        vector = corpus_assistant.embedder.encode_queries([question])[0]
        bundle = QueryBundle(query_str=question, embedding=[float(x) for x in vector])
        ours = retriever._retrieve_nodes(snapshot, bundle, "hybrid", 4, Filters(), {}, lambda: vector)
        token = _ASKED.set(_Asked(snapshot, Filters(), retriever.candidates, {}, lambda: vector, 4))
        try:
            theirs = QueryFusionRetriever(
                [retriever._dense, retriever._lexical],
                llm=MockLLM(),
                mode=FUSION_MODES.RECIPROCAL_RANK,
                similarity_top_k=4,
                num_queries=1,
                use_async=False,
            ).retrieve(bundle)
        finally:
            _ASKED.reset(token)
        assert [(n.node.node_id, round(n.score, 9)) for n in ours] == [
            (n.node.node_id, round(n.score, 9)) for n in theirs
        ]


def test_the_question_encodes_while_bm25_searches(corpus_assistant):
    """Assistant.ask hands the retriever a function that waits for the question's vector: the
    question encodes in a worker thread while this one runs the BM25 search and reads its best
    chunks ahead. Same passages as with the vector given, in every mode, and the same answer."""
    import threading

    from qa.followup import read
    from qa.types import Filters

    embedder, retriever = corpus_assistant.embedder, corpus_assistant.retriever
    question = "Which war monitor reported the deaths in Maarat al Numan?"
    vector = embedder.encode_queries([question])[0]
    for mode in ("hybrid", "dense", "bm25"):
        encoded = embedder.encode_queries_meanwhile([question])
        waited = retriever.retrieve(question, lambda: encoded()[0], mode, 4).hits
        given = retriever.retrieve(question, vector, mode, 4).hits
        assert [(h.chunk_id, h.score) for h in waited] == [(h.chunk_id, h.score) for h in given], mode

    # The encoder held until BM25 has read its best chunks ahead: they were read while it waited.
    released, read_ahead = threading.Event(), []
    encode, records = embedder.encode_queries, corpus_assistant.store.chunk_records

    def held(texts):
        assert threading.current_thread().name.startswith("qa-encode-question")
        assert released.wait(30), "the BM25 search did not run while the question encoded"
        return encode(texts)

    def recorded(chunk_ids):
        read_ahead.append(list(chunk_ids))
        released.set()
        return records(chunk_ids)

    embedder.encode_queries, corpus_assistant.store.chunk_records = held, recorded
    try:
        answer = corpus_assistant.ask(question)
    finally:
        del embedder.encode_queries, corpus_assistant.store.chunk_records
    lexical = [chunk_id for chunk_id, _ in retriever.store.lexical.snapshot.search(question, 5, Filters())]
    assert read_ahead and read_ahead[0] == lexical, read_ahead
    given = corpus_assistant._answer(question, read(question, None), vector, "hybrid", 5, Filters(), {})
    assert answer.text == given.text and answer.citations == given.citations
