"""The facade: ingest reports, ask questions, list and delete documents.

Constructing an Assistant is cheap; the embedding model, Chroma and LlamaIndex load on first use.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .config import Settings
from .errors import DocumentError, InputError
from .types import Answer, Document, Filters, IngestFailure, IngestReport, Passage

if TYPE_CHECKING:
    import datetime as dt

    from .answering import ExtractiveAnswerer
    from .embeddings import Embedder
    from .evaluation import EvalReport, GoldQuestion
    from .locations import Survey
    from .retrieval import Retriever
    from .store import Store

logger = logging.getLogger(__name__)

#: progress(done, total, path) is called after each file of an ingest.
ProgressCallback = Callable[[int, int, str], None]


class Assistant:
    """Question answering over ingested reports, with cited answers.

    Args:
        settings: a Settings object; or give any of its fields as keywords (or QA_* variables).
        embedder: an already loaded Embedder to share between assistants (same model).
    """

    def __init__(self, settings: Settings | None = None, *, embedder: "Embedder | None" = None, **overrides: Any) -> None:
        self.settings = Settings(**{**(settings.model_dump() if settings else {}), **overrides})
        self._lock = threading.RLock()
        if embedder is not None and embedder.model_name != self.settings.embedding_model:
            raise InputError(
                f"the embedder runs {embedder.model_name!r} but the settings name {self.settings.embedding_model!r}"
            )
        self._embedder: Embedder | None = embedder
        self._store: Store | None = None
        self._retriever: Retriever | None = None
        self._answerer: ExtractiveAnswerer | None = None
        self._corpus_checked = not self.settings.auto_ingest_corpus

    # -- components, built on first use --------------------------------------------------
    @property
    def embedder(self) -> "Embedder":
        if self._embedder is None:
            from .embeddings import Embedder

            s = self.settings
            self._embedder = Embedder(
                s.embedding_model, s.device, s.embed_batch_size, s.allow_model_download, s.embedding_backend, s.model_cache_dir
            )
        return self._embedder

    @property
    def store(self) -> "Store":
        if self._store is None:
            from .store import Store

            self._store = Store(self.settings.index_dir, self.settings.index_key(), chroma_url=self.settings.chroma_url)
        return self._store

    @property
    def retriever(self) -> "Retriever":
        if self._retriever is None:
            from .retrieval import Retriever

            self._retriever = Retriever(self.store, self.embedder, self.settings.candidates_per_retriever)
        return self._retriever

    @property
    def answerer(self) -> "ExtractiveAnswerer":
        if self._answerer is None:
            from .answering import ExtractiveAnswerer

            s = self.settings
            self._answerer = ExtractiveAnswerer(s.answer_max_words, s.answer_max_sentences, s.min_support)
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
        from .documents import collect_files, count_items, iter_documents
        from .locations import UPLOAD, Survey, location_of, reconcile

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
            failed=[IngestFailure(labels.get(p, p), why.replace(p, labels.get(p, p))) for p, why in problems]
        )
        # An upload is only ever at its own location; files and folders say what they hold now.
        survey = Survey(
            scopes=set() if labels else {location_of(p) for p in paths if Path(p).expanduser().exists()},
            unreadable={location_of(p) for p, _ in problems},
        )
        limits = self.settings.read_limits()
        total = count_items(files, limits)
        with self._lock:
            self._corpus_checked = True
            self.store.sweep_incomplete()
            batch = _IngestBatch(self, report, progress, total, survey)
            declared: dict[str, tuple[str, str]] = {}  # doc id -> (content hash, text hash): one ingest never overwrites itself
            for path, label, loaded in iter_documents(files, limits, columns):
                name = _renamed(label, labels)
                shown = name or label
                # An upload's location is its recorded name ("upload:NAME"), a file's its path.
                location = UPLOAD + labels[str(path)].removeprefix(UPLOAD) if str(path) in labels else location_of(path)
                if isinstance(loaded, DocumentError):
                    survey.unreadable.add(location)
                    report.failed.append(IngestFailure(shown, str(loaded).replace(label, shown)))
                    batch.done(shown)
                    continue
                if name:
                    loaded.path = _renamed(loaded.path, labels) or name
                text_hash = hashlib.sha256(loaded.text.encode("utf-8")).hexdigest()
                seen = declared.get(loaded.doc_id)
                if seen == (loaded.content_hash, text_hash):
                    report.duplicates.append(shown)  # the same report (text and fields) given twice
                    survey.saw(location, loaded.doc_id)
                elif seen is not None:
                    if seen[1] == text_hash:  # the same text here too: this location holds it
                        survey.saw(location, loaded.doc_id)
                    report.failed.append(
                        IngestFailure(shown, f"{shown}: id {loaded.doc_id!r} is already used by another report in this ingest "
                            "(the same declared id, or the same text with other fields)")
                    )
                else:
                    declared[loaded.doc_id] = (loaded.content_hash, text_hash)
                    try:
                        batch.add(loaded, shown, location)
                    except DocumentError as exc:
                        report.failed.append(IngestFailure(shown, str(exc).replace(label, shown)))
                batch.done(shown)
            batch.flush()
            # Where every report is now, and what no location holds any more.
            before = self.store.located(survey.scopes) if survey.scopes else {}
            before.update((i, locs) for i, locs in batch.known.items() if i not in before)
            moved, missing = reconcile(before, survey)
            self.store.relocate(moved, {i: batch.paths[i] for i in moved if i in batch.paths})
            if prune and missing:
                self.store.delete_documents(missing)
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
            corpus = self.settings.corpus_dir
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
    ) -> Answer:
        """Answer a question from the ingested reports, citing the passages used.

        Args:
            source, place: only reports from these outlets / naming these places (a value or a
                list of alternatives; case, spaces and hyphens ignored; a place matches whole
                words of a report's place, so "Idlib" matches "Armanaz, Idlib province").
            date_from, date_to: only reports dated in this inclusive range: YYYY-MM-DD, YYYY-MM
                or YYYY (a month or year counts whole). Reports without a date are left out.

        Raises:
            InputError: the question is empty or too long, mode/top_k are invalid, a date cannot
                be read, or an outlet or place names nothing in the index.
        """
        started = time.perf_counter()
        question = self._check_question(question)
        filters = Filters.build(source, place, date_from, date_to)
        top_k = self.settings.top_k if top_k is None else top_k
        mode = mode or self.settings.mode
        if not isinstance(top_k, int) or isinstance(top_k, bool) or not 1 <= top_k <= 100:
            raise InputError(f"top_k must be a whole number from 1 to 100, got {top_k!r}")
        self._ensure_corpus()
        self.retriever.check(filters)
        timings: dict[str, float] = {}
        tick = time.perf_counter()
        query_vector = self.embedder.encode([question])[0]
        timings["embed"] = _ms(tick)
        tick = time.perf_counter()
        hits, term_stats = self.retriever.retrieve(question, query_vector, mode, top_k, filters)
        timings["retrieve"] = _ms(tick)
        tick = time.perf_counter()
        # Overlapping chunks share sentences: ask for each once.
        sentence_ids = list(
            dict.fromkeys(
                f"{h.doc_id}:s{int(h.metadata.get('first_sentence', 0)) + i}"
                for h in hits
                for i in range(len(h.sentence_spans))
            )
        )
        vectors = self.store.sentence_vectors(sentence_ids)
        answer = self.answerer.answer(question, query_vector, hits, vectors, term_stats, mode)
        timings["answer"] = _ms(tick)
        timings["total"] = _ms(started)
        answer.timings_ms = timings
        answer.filters = filters
        if filters and answer.abstained:
            answer.text = (
                f"No report in the index matches the filters ({filters.describe()})."
                if not hits
                else f"{answer.text} (Only reports matching {filters.describe()} were searched.)"
            )
        answer.passages = [Passage(h.chunk_id, h.doc_id, h.text, h.start, h.end, h.score) for h in hits]
        return answer

    def stream(self, question: str, top_k: int | None = None, mode: str | None = None, **filters: Any) -> Iterator[str | Answer]:
        """Yield the answer text word by word, then the finished Answer (for chat front ends).

        Takes the same filter keywords as `ask`.
        """
        answer = self.ask(question, top_k=top_k, mode=mode, **filters)
        for i, word in enumerate(answer.text.split(" ")):
            yield word if i == 0 else " " + word
        yield answer

    def _check_question(self, question: str) -> str:
        """The question cleaned (`qa.text.clean_question`), or InputError: empty, too long, no words."""
        from .text import clean_question

        if question is None:
            raise InputError("the question is empty")
        if not isinstance(question, str):
            raise InputError(f"the question must be text, got {type(question).__name__}")
        limit = self.settings.max_question_chars

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

    def evaluate(self, gold: "str | Path | list[GoldQuestion]", systems: "Iterable[str]" = ("hybrid",)) -> "EvalReport":
        """Run a gold question set against this index and score it (see qa.evaluation).

        Args:
            gold: a gold-set file (JSON Lines) or the questions themselves.
            systems: retrieval modes ("hybrid", "dense", "bm25") and/or "llamaindex", the plain
                LlamaIndex baseline.

        Raises:
            InputError: an unreadable gold set or an unknown system.
        """
        from .evaluation import evaluate, load_gold

        questions = gold if isinstance(gold, list) else load_gold(gold)
        name = "" if isinstance(gold, list) else Path(gold).name
        return evaluate(self, questions, systems, gold_name=name)

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
            self.store.delete_document(doc_id)
        self._refresh_after_write()


class _IngestBatch:
    """Documents waiting to be embedded and written together.

    Encoding a few hundred documents' sentences in one call lets sentence-transformers sort them
    by length into full batches, and Chroma takes them in a few large writes: ingest runs close
    to the speed of the bare encoder (see bench/). A document counts as done for `progress` only
    once it is written. `known` and `paths` keep, for every document looked up or written, its
    stored locations and the path it was seen at, for the reconciling at the end of an ingest.
    """

    SENTENCES = 2048  # sentences encoded per flush

    def __init__(
        self,
        assistant: Assistant,
        report: IngestReport,
        progress: ProgressCallback | None,
        total: int,
        survey: "Survey | None" = None,
    ) -> None:
        self.assistant = assistant
        self.report = report
        self.progress = progress
        self.total = total
        self.survey = survey
        self.count = 0
        self.pending: list[tuple[Document, Any, list[str], bool]] = []
        self.pending_ids: set[str] = set()
        self.labels: list[str] = []  # handled items whose progress waits for the next flush
        self.sentences = 0
        self.known: dict[str, list[str]] = {}
        self.paths: dict[str, str] = {}

    def add(self, doc: Document, label: str, location: str | None = None) -> None:
        """Queue a document (or count it unchanged) found at `location`.

        A stored document with the same id but other content (a declared id given a new text, or
        the same text with corrected fields) is rewritten only where no other location holds the
        stored version.

        Raises:
            DocumentError: a text without sentences, or an id whose stored report another
                location still holds with other content.
        """
        from .chunking import chunk_sentences, split_sentences
        from .store import stored_locations

        store = self.assistant.store
        settings = self.assistant.settings
        if self.survey is not None and location is not None:
            self.survey.saw(location, doc.doc_id)
        self.paths[doc.doc_id] = doc.path
        if doc.doc_id in self.pending_ids:
            self.report.unchanged.append(doc.doc_id)
            return
        existing = store.has_document(doc.doc_id)
        holders = stored_locations(existing) if existing else []
        self.known[doc.doc_id] = holders
        if existing and existing.get("content_hash") == doc.content_hash:
            self.report.unchanged.append(doc.doc_id)
            return
        others = [h for h in holders if h != location]
        if existing and others:
            same_text = store.document(doc.doc_id).text == doc.text
            if not same_text and self.survey is not None and location is not None:
                self.survey.seen[location].discard(doc.doc_id)  # another text: this location does not hold the stored one
            raise DocumentError(
                f"{label}: the report with id {doc.doc_id!r} is already stored from {others[0]}"
                f"{f' (and {len(others) - 1} more)' if len(others) > 1 else ''} with "
                f"{'other fields (title, outlet, date, place or url)' if same_text else 'another text'}; "
                "it was kept as it is (give this one another id, or change it there)"
            )
        sentences = split_sentences(doc.text)
        if not sentences:
            raise DocumentError(f"{label}: no sentences found in the text")
        chunks = chunk_sentences(doc.text, doc.doc_id, sentences, settings.chunk_words, settings.chunk_overlap_sentences)
        doc.chunks = len(chunks)
        doc.locations = list(dict.fromkeys([*holders, *([location] if location else [])]))
        self.known[doc.doc_id] = doc.locations
        texts = [doc.text[x.start : x.end] for x in sentences]
        self.pending.append((doc, chunks, texts, bool(existing)))
        self.pending_ids.add(doc.doc_id)
        self.sentences += len(texts)

    def done(self, label: str) -> None:
        """One item of the ingest handled; reported once everything before it is written."""
        self.labels.append(label)
        if self.sentences >= self.SENTENCES:
            self.flush()
        elif not self.pending:
            self._report_progress()

    def flush(self) -> None:
        import numpy as np

        if self.pending:
            store = self.assistant.store
            vectors = self.assistant.embedder.encode([t for item in self.pending for t in item[2]])
            items = []
            at = 0
            for doc, chunks, texts, _ in self.pending:
                sentence_vectors = vectors[at : at + len(texts)]
                at += len(texts)
                # A chunk's vector is the normalised mean of its sentences' vectors: one encoder
                # pass serves both chunk retrieval and sentence ranking (MiniLM mean-pools tokens).
                chunk_vectors = np.stack(
                    [sentence_vectors[c.first_sentence : c.first_sentence + len(c.sentences)].mean(axis=0) for c in chunks]
                )
                chunk_vectors /= np.linalg.norm(chunk_vectors, axis=1, keepdims=True).clip(min=1e-12)
                items.append((doc, chunks, chunk_vectors, sentence_vectors))
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
