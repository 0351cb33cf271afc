"""The facade: ingest reports, ask questions, list and delete documents.

Constructing an Assistant is cheap; the embedding model, Chroma and LlamaIndex load on first use.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .config import Settings
from .errors import DocumentError, InputError
from .ingest import IngestBatch, IngestPlan, renamed, text_hash
from .locks import OrderedLock
from .types import Answer, Document, Filters, IngestFailure, IngestReport, Passage, sentence_id

if TYPE_CHECKING:
    import datetime as dt

    import numpy as np

    from .answering import ExtractiveAnswerer
    from .embeddings import Embedder
    from .followup import Reading
    from .groups import Groups
    from .retrieval import Retriever
    from .statements import Timeline
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
        self.settings = Settings.build(settings, **overrides)
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
        """Load the question encoder, open the index and build the lexical index and the groups
        now rather than on the first question (what ingest needs loads on the first ingest)."""
        self._ensure_corpus()
        self.embedder.warm_up_queries()
        self.retriever.refresh()
        self.store.groups()  # built now too: every answer reads them

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
        plan = IngestPlan()
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
            batch = IngestBatch(self, report, progress, plan.total, survey, plan)
            accepted: dict[str, tuple[str, str]] = {}  # doc id -> (content hash, text hash) taken in this ingest
            for path, label, loaded in iter_documents(files, limits, columns):
                name = renamed(label, labels)
                shown = name or label
                location = location_of_item(path)
                if isinstance(loaded, DocumentError):
                    refused = DocumentError(labels.get(loaded.path, loaded.path), loaded.reason, loaded.row)
                    report.failed.append(IngestFailure(shown, str(refused)))
                    batch.done(shown)
                    continue
                if name:
                    loaded.path = renamed(loaded.path, labels) or name
                hashed = text_hash(loaded)
                taken = accepted.get(loaded.doc_id)
                if not plan.holds(loaded, location):
                    survey.unreadable.add(location)
                    report.failed.append(IngestFailure(shown, f"{shown}: it changed while being ingested; ingest it again"))
                elif taken == (loaded.content_hash, hashed):
                    report.duplicates.append(shown)  # the same report (text and fields) given twice
                    survey.saw(location, loaded.doc_id)
                elif taken is not None:
                    if taken[1] == hashed:  # the same text here too: this location holds it
                        survey.saw(location, loaded.doc_id)
                    report.failed.append(
                        IngestFailure(shown, f"{shown}: id {loaded.doc_id!r} is already used by another report in this ingest "
                            "(the same declared id, or the same text with other fields)")
                    )
                else:
                    try:
                        batch.add(loaded, shown, location)
                        accepted[loaded.doc_id] = (loaded.content_hash, hashed)
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
            batch = IngestBatch(self, report, progress, len(documents))
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
        # A process that answers questions sees its own ingest at once (only views already built
        # are updated: an ingest-only process, the CLI, never builds a lexical index it won't use).
        if self._store is not None:
            self.store.views.refresh(force=True)

    def _follow(self, now: bool = False) -> None:
        """Take in other processes' writes: looked for at most once a second while questions come
        in, or `now` (a timeline, the list of documents: rarer calls that read more). See qa.store.views."""
        self._ensure_corpus()
        self.store.views.refresh(force=now)

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
        by_source: bool = False,
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
            by_source: compare outlets: also answer the question from each outlet's reports
                alone, for the outlets among the retrieved reports (see `_answers_by_outlet`),
                in `Answer.by_source`, each with its own citations and `outlet`. The answer over
                every outlet is the same as without it.

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
        if not isinstance(by_source, bool):
            raise InputError(f"by_source must be true or false, got {by_source!r}")
        # Encoded in a worker thread (unless loading the encoder means importing torch): beside the
        # index's opening in a fresh process, and beside the BM25 search (see Retriever.retrieve).
        encoded = self.embedder.encode_queries_meanwhile([searched])
        timings: dict[str, float] = {}
        self._follow()
        self.retriever.check(filters)
        answer = self._answer(question, reading, lambda: encoded()[0], mode, top_k, filters, timings)
        if by_source:
            tick = time.perf_counter()
            query_vector = encoded()[0]
            answer.by_source = self._answers_by_outlet(question, reading, query_vector, mode, top_k, filters)
            timings["by_source"] = _ms(tick)
        timings["total"] = _ms(started)
        return answer

    def _answer(
        self,
        question: str,
        reading: "Reading",
        query_vector: "np.ndarray | Callable[[], np.ndarray]",
        mode: str,
        top_k: int,
        filters: Filters,
        timings: dict[str, float],
        outlet: str = "",
        asked_filters: Filters | None = None,
    ) -> Answer:
        """The answer from the `top_k` best chunks inside `filters`; `outlet`: they are one outlet's
        (its name as the reports give it), and `asked_filters` the filters the user set.
        `query_vector` may be a function that waits for it (timings' "retrieve" then includes the
        question's encoding, which the BM25 search overlaps)."""
        searched = reading.text
        tick = time.perf_counter()
        hits, term_stats = self.retriever.retrieve(searched, query_vector, mode, top_k, filters)
        if callable(query_vector):
            query_vector = query_vector()
        # One story carried by several outlets is one source: the answerer sees each hit's group.
        groups = self.store.groups()
        for hit in hits:
            hit.metadata = {**hit.metadata, "group": groups.of(hit.doc_id)}
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
        answer = self.answerer.answer(
            searched, query_vector, hits, vectors, term_stats, mode, shown=question, outlet=outlet
        )
        answer.question = question
        for citation in answer.citations:
            citation.also_carried_by = groups.also_carried_by(citation.doc_id)
        if not answer.abstained:
            answer = self._side_by_side(answer, searched, question, hits, term_stats, groups)
        answer.outlet = outlet
        if reading.topic_from:
            answer.asked_as, answer.follow_up_of, answer.follow_up_topic = searched, reading.topic_from, reading.about
            if not outlet:  # said once, by the answer over every outlet
                answer.text += answer.follow_up_note
        timings["answer"] = _ms(tick)
        answer.timings_ms = timings
        answer.filters = filters
        # An outlet's abstention names the outlet already: its note names the filters the user set.
        noted = filters if asked_filters is None else asked_filters
        if noted and answer.abstained:
            emptied = self._emptied_by(noted) if not hits else None
            answer.text = (
                f"No report in the index matches the filters ({noted.describe()}): {emptied}."
                if emptied
                else f"{answer.text} (Only reports matching {noted.describe()} were searched.)"
            )
        answer.passages = [Passage(h.doc_id, h.start, h.end, h.text, h.chunk_id, h.score) for h in hits]
        return answer

    def _side_by_side(
        self, answer: Answer, searched: str, question: str, hits: list[Any], term_stats: Any, groups: "Groups"
    ) -> Answer:
        """A how-many answer with the figures the other retrieved reports give for it (see qa.figures);
        the reports of one story (`groups`) count once."""
        from .figures import asked_key, compare
        from .question import analyse_question

        info = analyse_question(searched, term_stats, question)
        if asked_key(info) is None:
            return answer
        claims = self.store.claims(h.doc_id for h in hits)
        return compare(answer, info, hits, claims, groups.of, groups.also_carried_by, self.settings.answer.max_words)

    def _answers_by_outlet(
        self, question: str, reading: "Reading", query_vector: "np.ndarray", mode: str, top_k: int, filters: Filters
    ) -> list[Answer]:
        """The question answered from each outlet's reports alone, for the outlets among the best
        `compare_pool` x `top_k` chunks (at most `compare_outlets`, in the order of their best chunk).

        Reports without an outlet are left out: no filter selects them, and the answer over every
        outlet covers them. Outlets spelt apart but matching as one ("Al Araby", "alaraby") are
        one, named as its best chunk has it.
        """
        settings = self.settings.retrieval
        pool = min(100, settings.compare_pool * top_k)
        hits, _ = self.retriever.retrieve(reading.text, query_vector, mode, pool, filters)
        outlets: dict[str, str] = {}  # outlet key -> the outlet as its best chunk names it
        for hit in hits:
            key, name = hit.metadata.get("source_key") or "", str(hit.metadata.get("source") or "").strip()
            if key and name and key not in outlets:
                outlets[key] = name
        answers = []
        for name in list(outlets.values())[: settings.compare_outlets]:
            # The hits are inside the user's outlets already: this outlet alone is the intersection.
            within = dataclasses.replace(filters, sources=(name,))
            started = time.perf_counter()
            timings: dict[str, float] = {}
            answers.append(self._answer(question, reading, query_vector, mode, top_k, within, timings, name, filters))
            timings["total"] = _ms(started)
        return answers

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

    # -- timeline ------------------------------------------------------------------------
    def timeline(
        self,
        place: str | list[str] | None = None,
        date_from: "str | dt.date | None" = None,
        date_to: "str | dt.date | None" = None,
        source: str | list[str] | None = None,
        limit: int | None = None,
    ) -> "Timeline":
        """The claims (figures) and events of the reports, ordered by the day each is placed on
        (its event's day, else its report's date: see qa.timeline).

        Args:
            place: reports whose place matches (as `ask`'s filter), and in other reports the
                claims and events whose own place does.
            date_from, date_to: entries placed on a day in this inclusive range (YYYY-MM-DD,
                YYYY-MM or YYYY).
            source: only reports from these outlets.
            limit: the most entries returned (default the setting timeline_entries); the
                Timeline still counts them all.

        Raises:
            InputError: a date cannot be read, the range ends before it starts, `limit` is not
                a whole number of at least 1, or an outlet or place names nothing in the index.
        """
        from .timeline import build_timeline

        filters = Filters.build(source, place, date_from, date_to)
        limit = self.settings.limits.timeline_entries if limit is None else limit
        self._follow(now=True)
        return build_timeline(self.store.statements(), filters, limit, self.store.groups().of)

    # -- documents -----------------------------------------------------------------------
    def groups(self) -> "Groups":
        """The groups of near-duplicate reports (a wire story carried by several outlets, a
        re-filed update): `groups().of(doc_id)` names a report's group, so that a group counts
        as one source (see qa.groups)."""
        self._follow(now=True)
        return self.store.groups()

    def documents(self) -> list[Document]:
        """Every ingested document, without its text."""
        self._follow(now=True)
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


def _checked_id(doc_id: Any, action: str) -> str:
    """A document id as given to `document` or `delete`, or InputError naming what was given."""
    if not isinstance(doc_id, str) or not doc_id.strip():
        raise InputError(f"give the id of a document to {action} (see documents()), got {doc_id!r}")
    return doc_id.strip()


def _ms(since: float) -> float:
    return round((time.perf_counter() - since) * 1000, 2)
