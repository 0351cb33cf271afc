"""The work of one ingest, behind Assistant.ingest and add_documents: what the input holds
(`IngestPlan`), and the documents waiting to be embedded and written together (`IngestBatch`)."""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .errors import DocumentError
from .types import Document, IngestReport

if TYPE_CHECKING:
    from .assistant import Assistant, ProgressCallback
    from .locations import Survey

logger = logging.getLogger(__name__)


class IngestPlan:
    """What an ingest's input holds, read once before anything is written: for each report id,
    the (location, content hash, text hash) of every item that carries it, and how many items
    there are (the progress total). About 200 bytes a row of a collection."""

    def __init__(self) -> None:
        self.total = 0
        self.entries: dict[str, list[tuple[str, str, str]]] = {}

    def add(self, doc: Document, location: str) -> None:
        self.entries.setdefault(doc.doc_id, []).append((location, doc.content_hash, text_hash(doc)))

    def holds(self, doc: Document, location: str) -> bool:
        """Whether the first reading found this very report there (else the file changed since)."""
        return any(loc == location and ch == doc.content_hash for loc, ch, _ in self.entries.get(doc.doc_id, ()))

    def has(self, doc_id: str, content_hash: str) -> bool:
        """Whether some item of the input carries this version of the report."""
        return any(ch == content_hash for _, ch, _ in self.entries.get(doc_id, ()))


def text_hash(doc: Document) -> str:
    return hashlib.sha256(doc.text.encode("utf-8")).hexdigest()


class IngestBatch:
    """Documents waiting to be embedded and written together.

    Encoding a few hundred documents' sentences in one call lets sentence-transformers sort them
    by length into full batches, and Chroma takes them in a few large writes: ingest runs close
    to the speed of the bare encoder (see bench/). A document counts as done for `progress` only
    once it is written. Stored reports found at a new location are recorded there at each flush
    (`found`, see Store.add_locations). `known` and `paths` keep, for every report the ingest
    takes, the path it was seen at, for the settling of locations at the end of an ingest.
    """

    SENTENCES = 2048  # sentences encoded per flush
    FOUND = 500  # stored reports found at new locations, recorded per flush

    def __init__(
        self,
        assistant: Assistant,
        report: IngestReport,
        progress: ProgressCallback | None,
        total: int,
        survey: "Survey | None" = None,
        plan: IngestPlan | None = None,
    ) -> None:
        self.assistant = assistant
        self.report = report
        self.progress = progress
        self.total = total
        self.survey = survey
        self.plan = plan
        self.count = 0
        self.pending: list[tuple[Document, Any, list[int], bool]] = []
        self.pending_ids: set[str] = set()
        self.found: dict[str, tuple[Document, str]] = {}  # doc id -> (the report, the new location)
        self.labels: list[str] = []  # handled items whose progress waits for the next flush
        self.sentences = 0
        self.known: dict[str, None] = {}  # ids of the reports this ingest took, in order
        self.paths: dict[str, str] = {}

    def add(self, doc: Document, label: str, location: str | None = None) -> None:
        """Queue a document found at `location` (or count it unchanged).

        A stored report with the same id but other content (a declared id given a new text, or
        the same text with corrected fields) is rewritten only when no location still holds the
        stored version: not one of this ingest's input, nor one this ingest does not cover.

        Raises:
            DocumentError: a text without sentences, or an id whose stored version some
                location still holds.
        """
        from .store import stored_locations

        store = self.assistant.store
        if doc.doc_id in self.pending_ids:
            self.report.unchanged.append(doc.doc_id)
            return
        existing = store.has_document(doc.doc_id)
        holders = stored_locations(existing) if existing else []
        if existing and existing.get("content_hash") == doc.content_hash:
            self.report.unchanged.append(doc.doc_id)
            if location and location not in holders:
                self.found[doc.doc_id] = (doc, location)
            self._took(doc, location)
            return
        if existing:
            self._check_replaceable(doc, label, location, existing, holders)
        self._queue(doc, [*holders, *([location] if location else [])], replacing=bool(existing), label=label)
        self._took(doc, location)

    def _check_replaceable(self, doc: Document, label: str, location: str | None, existing: dict, holders: list[str]) -> None:
        """Raise DocumentError when a location still holds the stored version of `doc`'s id."""
        survey = self.survey
        in_input = self.plan is not None and self.plan.has(doc.doc_id, str(existing.get("content_hash")))
        elsewhere = [h for h in holders if h != location and (survey is None or not survey.covers(h))]
        if not (in_input or elsewhere):
            return
        same_text = self.assistant.store.document(doc.doc_id).text == doc.text
        if same_text and survey is not None and location is not None:
            survey.saw(location, doc.doc_id)  # it holds the stored text, with other fields
            self.known[doc.doc_id] = None
        where = "another file of this ingest" if in_input else elsewhere[0]
        gone = "" if in_input or os.path.lexists(where) or not os.path.isabs(where) else " (which is gone: ingest its folder to take its place)"
        raise DocumentError(
            label,
            f"the report with id {doc.doc_id!r} is already stored from {where}{gone} with "
            f"{'other fields (title, outlet, date, place or url)' if same_text else 'another text'}; "
            "it was kept as it is (give this one another id, or change it there)"
        )

    def _took(self, doc: Document, location: str | None) -> None:
        """Note a report this ingest takes (written, unchanged or found) at `location`."""
        if self.survey is not None and location is not None:
            self.survey.saw(location, doc.doc_id)
        self.known[doc.doc_id] = None
        self.paths[doc.doc_id] = doc.path

    def _queue(self, doc: Document, locations: list[str], replacing: bool, label: str = "") -> None:
        """Chunk a document and queue it for the next write.

        Raises:
            DocumentError: the text has no sentences.
        """
        from .chunking import chunk_sentences, split_sentences

        settings = self.assistant.settings
        sentences = split_sentences(doc.text)
        if not sentences:
            raise DocumentError(label or doc.path or doc.doc_id, "no sentences found in the text")
        chunks = chunk_sentences(doc.text, doc.doc_id, sentences, settings.index.chunk_words, settings.index.chunk_overlap_sentences)
        doc.chunks = len(chunks)
        doc.locations = list(dict.fromkeys(locations))
        # Only the sentences some chunk holds are encoded and stored: a passage repeated word
        # for word is one chunk, and its copies cost nothing.
        used = sorted({c.first_sentence + k for c in chunks for k in range(len(c.sentences))})
        self.pending.append((doc, chunks, used, replacing))
        self.pending_ids.add(doc.doc_id)
        self.sentences += len(used)

    def done(self, label: str) -> None:
        """One item of the ingest handled; reported once everything before it is written."""
        self.labels.append(label)
        if self.sentences >= self.SENTENCES or len(self.found) >= self.FOUND:
            self.flush()
        elif not self.pending:
            self._report_progress()

    def flush(self) -> None:
        import numpy as np

        if self.found:
            # Found reports removed meanwhile (by another process's prune) are stored again.
            vanished = self.assistant.store.add_locations({i: location for i, (_, location) in self.found.items()})
            for doc_id in vanished:
                doc, location = self.found[doc_id]
                self._queue(doc, [location], replacing=False)
                self.report.unchanged.remove(doc_id)
            self.found.clear()
        if self.pending:
            store = self.assistant.store
            # Each distinct sentence text is encoded once, however often the batch repeats it.
            texts = {
                doc.doc_id: [doc.text[s.start : s.end] for s in sentences_at(chunks, used)] for doc, chunks, used, _ in self.pending
            }
            distinct = list(dict.fromkeys(t for group in texts.values() for t in group))
            encoded = self.assistant.embedder.encode(distinct)
            row_of = {t: i for i, t in enumerate(distinct)}
            items = []
            for doc, chunks, used, _ in self.pending:
                sentence_vectors = encoded[[row_of[t] for t in texts[doc.doc_id]]]
                position = {index: i for i, index in enumerate(used)}
                # A chunk's vector is the normalised mean of its sentences' vectors: one encoder
                # pass serves both chunk retrieval and sentence ranking (MiniLM mean-pools tokens).
                chunk_vectors = np.stack(
                    [
                        sentence_vectors[[position[c.first_sentence + k] for k in range(len(c.sentences))]].mean(axis=0)
                        for c in chunks
                    ]
                )
                chunk_vectors /= np.linalg.norm(chunk_vectors, axis=1, keepdims=True).clip(min=1e-12)
                items.append((doc, chunks, chunk_vectors, (used, sentence_vectors)))
            store.write_documents(items)
            for doc, chunks, _, replaced in self.pending:
                (self.report.replaced if replaced else self.report.added).append(doc.doc_id)
                self.report.chunks += len(chunks)
            self.pending.clear()
            self.pending_ids.clear()
            self.sentences = 0
        self._report_progress()

    def _report_progress(self) -> None:
        for label in self.labels:
            self.count += 1
            if self.progress:
                self.progress(self.count, max(self.total, self.count), label)
        self.labels.clear()


def sentences_at(chunks: list[Any], used: list[int]) -> list[Any]:
    """The sentences (spans) of the given document indexes, as the chunks hold them."""
    by_index = {c.first_sentence + k: s for c in chunks for k, s in enumerate(c.sentences)}
    return [by_index[i] for i in used]


def renamed(text: str, names: Mapping[str, str]) -> str | None:
    """`text` (a file's path, or "path, row N") with the file's recorded name in place of its path."""
    for path, name in names.items():
        if text == path or text.startswith((path + ",", path + "#")):
            return name + text[len(path) :]
    return None
