"""The facade: ingest reports, ask questions, list and delete documents.

Constructing an Assistant is cheap; the embedding model, Chroma and LlamaIndex load on first use.
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .config import Settings
from .errors import DocumentError, InputError
from .locks import OrderedLock
from .types import Answer, Document, Filters, IngestFailure, IngestReport, Passage, sentence_id

if TYPE_CHECKING:
    import datetime as dt

    from .answering import ExtractiveAnswerer
    from .embeddings import Embedder
    from .locations import Survey
    from .retrieval import Retriever
    from .store import Store

logger = logging.getLogger(__name__)

#: progress(done, total, path) is called after each file of an ingest.
ProgressCallback = Callable[[int, int, str], None]


class Assistant:
    """Question answering over ingested reports, with cited answers.

    Args:
        settings: a Settings object; or give any of its fields as keywords, flat (`top_k=3`) or
            by section (`retrieval={"top_k": 3}`), or as QA_* variables.
        embedder: an already loaded Embedder to share between assistants (same model).

    Raises:
        ConfigError: a setting that is not allowed (naming it and its QA_* variable).
    """

    def __init__(self, settings: Settings | None = None, *, embedder: "Embedder | None" = None, **overrides: Any) -> None:
        self.settings = Settings.build(**{**(settings.model_dump() if settings else {}), **overrides})
        self._lock = OrderedLock("assistant", reentrant=True)  # see qa.locks
        if embedder is not None and embedder.model_name != self.settings.index.embedding_model:
            raise InputError(
                f"the embedder runs {embedder.model_name!r} but the settings name {self.settings.index.embedding_model!r}"
            )
        self._embedder: Embedder | None = embedder
        self._store: Store | None = None
        self._retriever: Retriever | None = None
        self._answerer: ExtractiveAnswerer | None = None
        self._corpus_checked = not self.settings.index.auto_ingest_corpus

    # -- components, built on first use --------------------------------------------------
    @property
    def embedder(self) -> "Embedder":
        if self._embedder is None:
            from .embeddings import Embedder

            self._embedder = Embedder.from_settings(self.settings.index)
        return self._embedder

    @property
    def store(self) -> "Store":
        if self._store is None:
            from .store import Store

            self._store = Store.from_settings(self.settings.index)
        return self._store

    @property
    def retriever(self) -> "Retriever":
        if self._retriever is None:
            from .retrieval import Retriever

            self._retriever = Retriever.from_settings(self.settings.retrieval, self.store, self.embedder)
        return self._retriever

    @property
    def answerer(self) -> "ExtractiveAnswerer":
        if self._answerer is None:
            from .answering import ExtractiveAnswerer

            self._answerer = ExtractiveAnswerer.from_settings(self.settings.answer)
        return self._answerer

    def warm_up(self) -> None:
        """Load the model, open the index and build the lexical index now rather than on the first question."""
        self._ensure_corpus()
        self.embedder.warm_up()
        self.retriever.refresh()

    # -- ingest --------------------------------------------------------------------------
    def ingest(
        self,
        paths: list[str | Path] | str | Path,
        progress: ProgressCallback | None = None,
        names: Mapping[str, str] | None = None,
        columns: Mapping[str, str] | None = None,
        prune: bool = False,
    ) -> IngestReport:
        """Ingest report files, folders and collections (.csv / .jsonl, one report per row).

        A report is its content (see the README, "Which report is which"): one already stored is
        `unchanged`, wherever it is now (moved, renamed, copied, a row moved up or down), and
        a report given twice in one ingest is counted in `duplicates` and stored once. A report
        that the given files, folders and collections no longer hold (a file edited or deleted,
        a row removed) is never removed unless `prune` is set: it is listed in `missing` and
        kept. A file or row that cannot be read (missing, empty, binary, an image, over a size
        limit, refused metadata, a bad row) is reported in `failed`, once, the others still
        land, and what it held before is left as it was. A file named directly must be a
        supported type; in a folder, other files are skipped (see `qa.documents.collect_files`).

        Args:
            progress: called after each document (each row of a collection) with
                (done, total, label).
            names: for files that are only a temporary copy (an upload), the name to record and
                report instead of their path (their location is "upload:NAME"). Two uploads that
                share a name are two reports, and an upload never makes another report missing.
            columns: for collections, which column holds each field (text, title, source,
                date, place, url, doc_id); unnamed fields are found by common column names.
            prune: remove the reports listed in `missing` (one write: a process killed during it
                leaves each of them listed or gone).

        Raises:
            InputError: no paths were given, or something other than a path was.
        """
        from .documents import collect_files, iter_documents
        from .locations import UPLOAD, Survey, location_of

        if isinstance(paths, (str, Path)):
            paths = [paths]
        if isinstance(paths, bytes) or not isinstance(paths, Iterable):
            raise InputError(f"give a list of files or folders to ingest, got {type(paths).__name__}")
        paths = list(paths)
        if not paths:
            raise InputError("nothing to ingest: give at least one file or folder")
        for path in paths:
            if not isinstance(path, (str, Path)):
                raise InputError(f"a file or folder to ingest must be a path, got {path!r}")
        files, problems = collect_files(paths)
        labels = dict(names or {})
        report = IngestReport(
            failed=[IngestFailure(labels.get(p, p), str(DocumentError(labels.get(p, p), why))) for p, why in problems]
        )
        # An upload is only ever at its own location; files and folders say what they hold now.
        survey = Survey(
            scopes=set() if labels else {location_of(p) for p in paths if Path(p).expanduser().exists()},
            unreadable={location_of(p) for p, _ in problems},
        )
        limits = self.settings.limits.read_limits()

        def location_of_item(path: Path) -> str:
            # An upload's location is its recorded name ("upload:NAME"), a file's its path.
            return UPLOAD + labels[str(path)].removeprefix(UPLOAD) if str(path) in labels else location_of(path)

        # First what every location holds now (ids and hashes only), so that which version of a
        # report to keep never depends on the order the files are read in.
        plan = _Plan()
        for path, _, loaded in iter_documents(files, limits, columns):
            plan.total += 1
            location = location_of_item(path)
            if isinstance(loaded, DocumentError):
                survey.unreadable.add(location)
            else:
                if str(path) not in labels:
                    survey.read.add(location)
                plan.add(loaded, location)
        with self._lock:
            self._corpus_checked = True
            self.store.sweep_incomplete()
            batch = _IngestBatch(self, report, progress, plan.total, survey, plan)
            accepted: dict[str, tuple[str, str]] = {}  # doc id -> (content hash, text hash) taken in this ingest
            for path, label, loaded in iter_documents(files, limits, columns):
                name = _renamed(label, labels)
                shown = name or label
                location = location_of_item(path)
                if isinstance(loaded, DocumentError):
                    refused = DocumentError(labels.get(loaded.path, loaded.path), loaded.reason, loaded.row)
                    report.failed.append(IngestFailure(shown, str(refused)))
                    batch.done(shown)
                    continue
                if name:
                    loaded.path = _renamed(loaded.path, labels) or name
                text_hash = _text_hash(loaded)
                taken = accepted.get(loaded.doc_id)
                if not plan.holds(loaded, location):
                    survey.unreadable.add(location)
                    report.failed.append(IngestFailure(shown, f"{shown}: it changed while being ingested; ingest it again"))
                elif taken == (loaded.content_hash, text_hash):
                    report.duplicates.append(shown)  # the same report (text and fields) given twice
                    survey.saw(location, loaded.doc_id)
                elif taken is not None:
                    if taken[1] == text_hash:  # the same text here too: this location holds it
                        survey.saw(location, loaded.doc_id)
                    report.failed.append(
                        IngestFailure(shown, f"{shown}: id {loaded.doc_id!r} is already used by another report in this ingest "
                            "(the same declared id, or the same text with other fields)")
                    )
                else:
                    try:
                        batch.add(loaded, shown, location)
                        accepted[loaded.doc_id] = (loaded.content_hash, text_hash)
                    except DocumentError as exc:
                        report.failed.append(IngestFailure(shown, str(exc)))
                batch.done(shown)
            batch.flush()
            # Where every report is now, and (with prune) away with what no location holds.
            moved, missing = self.store.settle_locations(survey, batch.known, batch.paths, prune)
            if prune:
                report.removed = missing
            else:
                report.missing = missing
        self._refresh_after_write()
        return report

    def add_documents(self, documents: Iterable[Document], progress: ProgressCallback | None = None) -> IngestReport:
        """Ingest Documents built in code (see `qa.documents.make_document`)."""
        report = IngestReport()
        documents = list(documents)
        with self._lock:
            self._corpus_checked = True
            batch = _IngestBatch(self, report, progress, len(documents))
            for doc in documents:
                try:
                    batch.add(doc, doc.path or doc.doc_id, doc.path or None)
                except DocumentError as exc:
                    report.failed.append(IngestFailure(doc.path or doc.doc_id, str(exc)))
                batch.done(doc.path or doc.doc_id)
            batch.flush()
        self._refresh_after_write()
        return report

    def _refresh_after_write(self) -> None:
        # A process that answers questions sees its own ingest at once; an ingest-only process
        # (the CLI) never builds a lexical index it won't use.
        if self._retriever is not None:
            self._retriever.refresh()

    def _ensure_corpus(self) -> None:
        """On an empty index, ingest the bundled corpus once (setting auto_ingest_corpus)."""
        if self._corpus_checked:
            return
        with self._lock:
            if self._corpus_checked:
                return
            self._corpus_checked = True
            corpus = self.settings.index.corpus_dir
            if self.store.count_documents() == 0 and corpus.is_dir():
                report = self.ingest([corpus])
                logger.info("ingested the bundled corpus: %s", report.summary())

    # -- questions -----------------------------------------------------------------------
    def ask(
        self,
        question: str,
        top_k: int | None = None,
        mode: str | None = None,
        *,
        source: str | list[str] | None = None,
        place: str | list[str] | None = None,
        date_from: "str | dt.date | None" = None,
        date_to: "str | dt.date | None" = None,
        undated: bool = False,
        history: "list[Any] | None" = None,
    ) -> Answer:
        """Answer a question from the ingested reports, citing the passages used.

        Args:
            history: the conversation's earlier questions, oldest first (texts, chat messages
                {"role": "user", "content": ...} or Answers). A follow-up that leans on them
                ("And how many were injured?", "Who said so?") is searched with the earlier
                question's topic (`qa.followup`); `Answer.follow_up_of` names that question.
            source, place: only reports from these outlets / naming these places (a value or a
                list of alternatives; case, spaces and hyphens ignored; a place matches whole
                words of a report's place, so "Idlib" matches "Armanaz, Idlib province").
            date_from, date_to: only reports dated in this inclusive range: YYYY-MM-DD, YYYY-MM
                or YYYY (a month or year counts whole). Reports without a date are left out,
                unless `undated` keeps them.

        Raises:
            InputError: the question is empty or too long, mode/top_k are invalid, a date cannot
                be read, or an outlet or place names nothing in the index.
        """
        from .followup import read

        started = time.perf_counter()
        question = self.check_question(question)
        reading = read(question, history)
        searched = reading.text
        filters = Filters.build(source, place, date_from, date_to, undated)
        top_k = self.settings.retrieval.top_k if top_k is None else top_k
        mode = mode or self.settings.retrieval.mode
        if not isinstance(top_k, int) or isinstance(top_k, bool) or not 1 <= top_k <= 100:
            raise InputError(f"top_k must be a whole number from 1 to 100, got {top_k!r}")
        self._ensure_corpus()
        self.retriever.check(filters)
        timings: dict[str, float] = {}
        tick = time.perf_counter()
        query_vector = self.embedder.encode([searched])[0]
        timings["embed"] = _ms(tick)
        tick = time.perf_counter()
        hits, term_stats = self.retriever.retrieve(searched, query_vector, mode, top_k, filters)
        timings["retrieve"] = _ms(tick)
        tick = time.perf_counter()
        # Overlapping chunks share sentences: ask for each once.
        sentence_ids = list(
            dict.fromkeys(
                sentence_id(h.doc_id, int(h.metadata.get("first_sentence", 0)) + i)
                for h in hits
                for i in range(len(h.sentence_spans))
            )
        )
        vectors = self.store.sentence_vectors(sentence_ids)
        answer = self.answerer.answer(searched, query_vector, hits, vectors, term_stats, mode, shown=question)
        answer.question = question
        if reading.topic_from:
            answer.asked_as, answer.follow_up_of, answer.follow_up_topic = searched, reading.topic_from, reading.about
            answer.text += answer.follow_up_note
        timings["answer"] = _ms(tick)
        timings["total"] = _ms(started)
        answer.timings_ms = timings
        answer.filters = filters
        if filters and answer.abstained:
            emptied = self._emptied_by(filters) if not hits else None
            answer.text = (
                f"No report in the index matches the filters ({filters.describe()}): {emptied}."
                if emptied
                else f"{answer.text} (Only reports matching {filters.describe()} were searched.)"
            )
        answer.passages = [Passage(h.chunk_id, h.doc_id, h.text, h.start, h.end, h.score) for h in hits]
        return answer

    def _emptied_by(self, filters: Filters) -> str | None:
        """Which of the filters leaves no report ("none matches from 2019-09-01"), or that only all
        of them together do; None when some report meets them all (the search found nothing else)."""
        from .store import filter_fields

        reports = [filter_fields({"source": d.source, "place": d.place, "date": d.date}) for d in self.documents()]
        if any(filters.matches(r) for r in reports):
            return None
        empty = [part.describe() for part in filters.parts() if not any(part.matches(r) for r in reports)]
        return "; ".join(f"none matches {e}" for e in empty) if empty else "each alone keeps some reports, but none meets them all"

    def check_question(self, question: str) -> str:
        """The question as `ask` takes it: cleaned (`qa.text.clean_question`).

        Raises:
            InputError: it is empty, too long or has no words.
        """
        from .text import clean_question

        if question is None:
            raise InputError("the question is empty")
        if not isinstance(question, str):
            raise InputError(f"the question must be text, got {type(question).__name__}")
        limit = self.settings.limits.max_question_chars

        def too_long(length: int) -> InputError:
            return InputError(f"the question is {length:,} characters long; the limit is {limit:,} (setting max_question_chars)")

        if len(question) > 10 * limit:  # far too long: refused before the work of cleaning it
            raise too_long(len(question))
        cleaned = clean_question(question)
        if not cleaned:
            raise InputError("the question is empty")
        if len(cleaned) > limit:
            raise too_long(len(cleaned))
        if not any(ch.isalpha() for ch in cleaned):  # "?!", "{{7*7}}", "2019": nothing to ask about
            raise InputError(f"the question {cleaned!r} has no words in it")
        return cleaned

    # -- documents -----------------------------------------------------------------------
    def documents(self) -> list[Document]:
        """Every ingested document, without its text."""
        self._ensure_corpus()
        return self.store.documents()

    def document(self, doc_id: str) -> Document:
        """One document with its full stored text (citation offsets index into it).

        Raises:
            InputError: the id is not text.
            NotFoundError: no document has that id.
        """
        doc_id = _checked_id(doc_id, "read")
        self._ensure_corpus()
        return self.store.document(doc_id)

    def delete(self, doc_id: str) -> None:
        """Remove a document, its chunks and its vectors.

        Raises:
            InputError: the id is not text.
            NotFoundError: no document has that id.
        """
        doc_id = _checked_id(doc_id, "delete")
        with self._lock:
            self.store.delete_documents([doc_id], must_exist=True)
        self._refresh_after_write()


class _Plan:
    """What an ingest's input holds, read once before anything is written: for each report id,
    the (location, content hash, text hash) of every item that carries it, and how many items
    there are (the progress total). About 200 bytes a row of a collection."""

    def __init__(self) -> None:
        self.total = 0
        self.entries: dict[str, list[tuple[str, str, str]]] = {}

    def add(self, doc: Document, location: str) -> None:
        self.entries.setdefault(doc.doc_id, []).append((location, doc.content_hash, _text_hash(doc)))

    def holds(self, doc: Document, location: str) -> bool:
        """Whether the first reading found this very report there (else the file changed since)."""
        return any(loc == location and ch == doc.content_hash for loc, ch, _ in self.entries.get(doc.doc_id, ()))

    def has(self, doc_id: str, content_hash: str) -> bool:
        """Whether some item of the input carries this version of the report."""
        return any(ch == content_hash for _, ch, _ in self.entries.get(doc_id, ()))


def _text_hash(doc: Document) -> str:
    return hashlib.sha256(doc.text.encode("utf-8")).hexdigest()


class _IngestBatch:
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
        plan: _Plan | None = None,
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
                doc.doc_id: [doc.text[s.start : s.end] for s in _sentences_at(chunks, used)] for doc, chunks, used, _ in self.pending
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


def _sentences_at(chunks: list[Any], used: list[int]) -> list[Any]:
    """The sentences (spans) of the given document indexes, as the chunks hold them."""
    by_index = {c.first_sentence + k: s for c in chunks for k, s in enumerate(c.sentences)}
    return [by_index[i] for i in used]


def _checked_id(doc_id: Any, action: str) -> str:
    """A document id as given to `document` or `delete`, or InputError naming what was given."""
    if not isinstance(doc_id, str) or not doc_id.strip():
        raise InputError(f"give the id of a document to {action} (see documents()), got {doc_id!r}")
    return doc_id.strip()


def _renamed(text: str, names: Mapping[str, str]) -> str | None:
    """`text` (a file's path, or "path, row N") with the file's recorded name in place of its path."""
    for path, name in names.items():
        if text == path or text.startswith((path + ",", path + "#")):
            return name + text[len(path) :]
    return None


def _ms(since: float) -> float:
    return round((time.perf_counter() - since) * 1000, 2)
