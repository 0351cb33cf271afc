"""The plain LlamaIndex pipeline the assistant is compared against (system "llamaindex")."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from .gold import GoldQuestion
from .metrics import Outcome

if TYPE_CHECKING:
    from .runner import Answers


def run_llamaindex_baseline(assistant: Answers, questions: list[GoldQuestion]) -> list[Outcome]:
    """The plain LlamaIndex pipeline: the same documents and embedding model, LlamaIndex's
    default chunking (SentenceSplitter, 1024 tokens), an in-memory VectorStoreIndex and top-2
    dense retrieval. Its answer and citations are the retrieved text; it never abstains."""
    from llama_index.core import Document as LlamaDocument
    from llama_index.core import VectorStoreIndex

    from ..retrieval import LlamaEmbedding

    documents = [assistant.document(d.doc_id) for d in assistant.documents()]
    index = VectorStoreIndex.from_documents(
        [LlamaDocument(text=d.text, id_=d.doc_id) for d in documents],
        embed_model=LlamaEmbedding(assistant.embedder),
    )
    retriever = index.as_retriever(similarity_top_k=2)
    outcomes = []
    for q in questions:
        started = time.perf_counter()
        texts = [n.node.get_content() for n in retriever.retrieve(q.question)]
        latency = (time.perf_counter() - started) * 1000
        outcomes.append(Outcome(q.id, "\n\n".join(texts), False, "", texts, texts, round(latency, 2)))
    return outcomes
