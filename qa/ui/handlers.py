"""What each event of the page does: plain functions of an Assistant, which tests call without a server.

A user's mistake is a gr.Error (see ui_error); the page shows it in place (see shown_in_place).
"""

import functools
import html
import inspect
import os
import re
import shutil
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import gradio as gr

from qa import Assistant
from qa.config import MODES
from qa.errors import QAError
from qa.text import per_second, quantity
from qa.types import Document, Filters, place_parts
from qa.ui.rendering import (
    ANSWERING_HTML,
    COMPARING_HTML,
    CHART_ENTRIES,
    answer_markdown,
    comparison_html,
    esc,
    md,
    notice_html,
    passage_html,
    sources_html,
    legend_html,
    outlet_colors,
    timeline_frame,
    timeline_html,
    timeline_summary,
)
from qa.ui.uploads import remove_gradio_copy, safe_name



def ui_error(message: str) -> gr.Error:
    """A gr.Error whose message is escaped: Gradio renders toast text as (cleaned) HTML, and
    messages can quote report text (a declared id, a YAML error, a title)."""
    return gr.Error(esc(message), print_exception=False)  # a user's mistake: no traceback in the log


# The settings' own names in a message, as the page labels them.
_FIELD_LABELS = {"date_from": "the From date", "date_to": "the To date"}
_FIELD_NAME = re.compile(r"\b(?:" + "|".join(_FIELD_LABELS) + r")\b")

def shown_in_place(handler: Callable[..., Any], outputs: int, notice: int | None = None) -> Callable[..., Any]:
    """The handler as the page runs it: a user's mistake (gr.Error) becomes one line in a notice
    next to its cause, and every other output stays as it was, usable at once. (Gradio's own
    handling of an error puts an "Error" badge over every output of the event, which stays until
    closed and blocks clicks into it.)

    `notice` is the index of the handler's own output that shows the message (a status line);
    without it the notice is one more output after the handler's, emptied when the handler works.
    """

    def failed(exc: gr.Error) -> tuple[Any, ...]:
        message = _FIELD_NAME.sub(lambda m: _FIELD_LABELS[m.group()], html.unescape(str(exc.message))).strip()
        message = message[:1].upper() + message[1:] + ("" if message.endswith((".", "?", "!")) else ".")
        kept = [gr.update()] * outputs
        if notice is None:
            return (*kept, notice_html(message))
        kept[notice] = notice_html(message)
        return tuple(kept) if outputs > 1 else kept[0]  # one output takes its value bare

    def shaped(result: Any) -> Any:
        return result if notice is not None else (*(result if isinstance(result, tuple) else (result,)), "")

    if inspect.isgeneratorfunction(handler):

        @functools.wraps(handler)
        def streamed(*args: Any, **kwargs: Any) -> Iterator[Any]:
            try:
                for result in handler(*args, **kwargs):
                    yield shaped(result)
            except gr.Error as exc:
                yield failed(exc)

        return streamed

    @functools.wraps(handler)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return shaped(handler(*args, **kwargs))
        except gr.Error as exc:
            return failed(exc)

    return run



def respond(
    assistant: Assistant,
    question: str,
    history: list[dict[str, Any]] | None,
    mode: str,
    top_k: float,
    panels: dict[int, str] | None = None,
    source: list[str] | str | None = None,
    place: str | None = None,
    date_from: str | None = None,
    date_to: str | None = None,
    undated: bool = False,
    shown: str | None = None,
    by_source: bool = False,
) -> Iterator[tuple[str, list[dict[str, Any]], str, dict[int, str], Any]]:
    """Answer a chat question: the question shows at once with the sources panel saying
    "Answering…", then the whole answer (the extractive answer is complete when it comes, so
    there are no words to stream before it). The filters are `Assistant.ask`'s; `shown` is what
    the sources panel shows now, put back if the question is refused after it showed.
    `by_source` (the "Compare outlets" box): the question is answered per outlet too, in the
    comparison panel under the chat.

    Yields:
        (textbox, history, sources panel, panels, comparison panel): panels maps each answer's
        message index to its sources panel, so a click on an earlier answer shows its sources
        again; the comparison panel is the last question's (empty without `by_source`).

    Raises:
        gr.Error: the question or the settings are not acceptable (shown in the UI); the chat
        is left as it was, with the question still in its box.
    """
    history = list(history or [])
    panels = dict(panels or {})
    if mode not in MODES:
        raise ui_error(f"Unknown retrieval mode {mode!r}: choose one of {', '.join(MODES)}.")
    try:
        filters = Filters.build(source or None, place or None, date_from or None, date_to or None, bool(undated))
        cleaned = assistant.check_question(question)
    except QAError as exc:
        raise ui_error(str(exc)) from exc
    asked = md(cleaned)  # as answered: escape sequences and invisible characters gone
    if filters:
        asked += f"\n\n*Only {md(filters.describe())}*"
    before = list(history)
    history.append({"role": "user", "content": asked})
    by_source = bool(by_source)
    yield "", list(history), ANSWERING_HTML, dict(panels), COMPARING_HTML if by_source else ""
    try:
        answer = assistant.ask(
            question,
            top_k=int(top_k),
            mode=mode,
            history=earlier_questions(before),
            by_source=by_source,
            **filters.to_dict(),
        )
    except Exception as exc:  # e.g. an outlet no report has: back to how the chat was
        # (The comparison shown before is gone by now: the panel is emptied rather than guessed at.)
        yield question, before, shown if shown is not None else sources_html(None), panels, ""
        if isinstance(exc, QAError):
            raise ui_error(str(exc)) from exc
        raise
    history.append({"role": "assistant", "content": answer_markdown(answer)})
    panels[len(history) - 1] = sources_html(answer)
    yield "", history, panels[len(history) - 1], panels, comparison_html(answer)


def earlier_questions(history: list[dict[str, Any]]) -> list[str]:
    """The questions asked so far in the chat, as typed: a user message is the escaped question
    (see `md`), then the filters it was asked under on a line of their own."""
    asked = []
    for message in history:
        content = message.get("content") if isinstance(message, dict) and message.get("role") == "user" else None
        if isinstance(content, list):  # Gradio 6 sends a message's content back as its parts
            texts = (p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text")
            content = " ".join(texts) or None
        if isinstance(content, str):
            first = content.split("\n\n*Only ", 1)[0]
            asked.append(html.unescape(re.sub(r"\\(.)", r"\1", first)))
    return asked


def earlier_sources(panels: dict[int, str] | None, index: Any) -> Any:
    """The sources panel of the answer clicked in the chat history (unchanged for a question)."""
    index = index[0] if isinstance(index, (list, tuple)) else index
    panel = (panels or {}).get(index) if isinstance(index, int) else None
    return panel if panel is not None else gr.update()


def open_source(assistant: Assistant, doc_id: Any, start: Any, end: Any) -> str:
    """The document view: the cited passage highlighted in its report, with the text around it.

    Raises:
        gr.Error: the report is gone or the span does not fit it.
    """
    try:
        start, end = int(start), int(end)
        document = assistant.document(str(doc_id))
    except (TypeError, ValueError) as exc:
        raise ui_error(f"That source does not name a passage ({start!r}-{end!r}).") from exc
    except QAError as exc:
        raise ui_error(f"{exc}. It may have been deleted; ask again.") from exc
    if not 0 <= start < end <= len(document.text):
        raise ui_error(f"The passage {start}-{end} is outside the report {document.title!r}; ask again.")
    return passage_html(document, start, end)


def document_rows(assistant: Assistant) -> list[list[Any]]:
    """The Documents table: one row per ingested report, newest date first, with the group of
    near-duplicates it is in ("3 reports · also Reuters, SANA"; empty for a report alone)."""
    documents = sorted(assistant.documents(), key=lambda d: (d.date, d.title), reverse=True)
    groups = assistant.groups() if any(d.group_size > 1 for d in documents) else None
    return [[d.title, d.source, d.date, d.place, d.chunks, d.doc_id, group_cell(d, groups)] for d in documents]


def group_cell(document: Document, groups: Any) -> str:
    """What the Documents table says of a report's group: how many reports carry its story, and
    the other outlets that carry it ("re-filed" when they are its own)."""
    if groups is None or document.group_size < 2:
        return ""
    others = groups.also_carried_by(document.doc_id)
    return f"{document.group_size} reports · " + (f"also {', '.join(others)}" if others else "re-filed")


def documents_outputs(assistant: Assistant, status: str) -> tuple[str, list[list[Any]], Any, Any, str, Any]:
    """(status, table rows, delete choices, outlet filter choices, counts, place filter choices),
    from one read of the document list; each outlet and place with its number of reports."""
    rows = document_rows(assistant)
    choices = [(f"{row[0][:80]} ({row[2] or 'no date'}) · {row[5]}", row[5]) for row in rows]
    by_outlet = Counter(row[1] for row in rows if row[1])
    chunks = sum(int(row[4] or 0) for row in rows)
    told = " · ".join((quantity(len(rows), "report"), quantity(chunks, "chunk"), quantity(len(by_outlet), "outlet")))
    # A place is chosen by each part of a report's place ("Idlib" of "Idlib, Syria"), as filters match.
    by_place = Counter(part for row in rows for part in dict.fromkeys(place_parts(row[3])))
    outlets, places = _counted_choices(by_outlet), _counted_choices(by_place)
    deletable = gr.update(choices=choices, value=None)
    return status, rows, deletable, gr.update(choices=outlets), told, gr.update(choices=places)


def _counted_choices(counts: Counter[str]) -> list[tuple[str, str]]:
    """Dropdown choices ("Idlib (3)", "Idlib"), in alphabetical order."""
    return [(f"{name} ({n})", name) for name, n in sorted(counts.items(), key=lambda kv: kv[0].casefold())]


def deletion_question(assistant: Assistant, doc_id: str | None) -> str:
    """What the confirmation of a deletion asks, naming the report.

    Raises:
        gr.Error: no report is chosen, or it is gone.
    """
    if not doc_id:
        raise ui_error("Choose a report to delete first.")
    try:
        document = assistant.document(doc_id)
    except QAError as exc:
        raise ui_error(str(exc)) from exc
    about = ", ".join(x for x in (document.source, document.date) if x)
    return (
        f"Delete **{md(document.title)}**{md(f' ({about})') if about else ''} and its "
        f"{md(quantity(document.chunks, 'chunk'))} from the index? Its file, if any, is not touched."
    )


def ingest_uploads(
    assistant: Assistant, files: list[Any] | None, progress: gr.Progress | None = None
) -> tuple[str, list[list[Any]], Any, Any, str, Any]:
    """Ingest uploaded report files; returns (status, table rows, delete choices, outlet choices, counts, place
    choices).

    The uploaded copies are removed once read. Files that fail are named in the status (all
    failing raises gr.Error) and the rest still land.
    """
    received = [f if isinstance(f, str) else getattr(f, "path", None) or f.name for f in files or []]
    if not received:
        raise ui_error("Choose one or more report files to upload (.txt, .md, .html, or .csv/.jsonl collections).")
    limit = assistant.settings.app.max_upload_files
    # Gradio keeps an upload at <cache>/<hash of its content>/<name>, shared by every session that
    # sends the same bytes; so read from a private copy, named safely, and delete both afterwards.
    private: Path | None = None
    names: dict[str, str] = {}
    try:
        if len(received) > limit:
            raise ui_error(
                f"{len(received)} files at once is more than the limit of {limit} (setting max_upload_files): "
                "upload them in smaller groups, or as one .csv/.jsonl collection."
            )
        private = Path(tempfile.mkdtemp(prefix="qa-upload-"))
        for i, source in enumerate(received):
            name = safe_name(Path(source).name)
            target = private / f"{i}-{name}"
            try:
                if os.path.getsize(source) > assistant.settings.limits.max_file_bytes:
                    target = Path(source)  # not worth a copy: the ingest refuses it by its size
                else:
                    shutil.copyfile(source, target)
            except OSError:
                target = Path(source)  # gone already: the ingest names it as unreadable
            names[str(target)] = f"upload:{name}"

        started = time.monotonic()

        def advance(done: int, total: int, name: str) -> None:
            if progress is not None:
                rate = per_second(done, started)
                progress((done, total), desc=f"{done:,} of {total:,} reports, {rate}/s: {name}", unit="reports")

        try:
            report = assistant.ingest(list(names), progress=advance, names=names)
        except QAError as exc:
            raise ui_error(str(exc)) from exc
    finally:
        if private is not None:
            shutil.rmtree(private, ignore_errors=True)
        for source in received:
            remove_gradio_copy(Path(source))
    failures = [f.error for f in report.failed]
    if failures and not (report.added or report.replaced or report.unchanged):
        raise ui_error("Nothing was ingested. " + " ".join(failures))
    status = f"**Ingested:** {md(report.summary())}"
    if failures:
        gr.Warning(f"{len(failures)} file(s) could not be ingested; the others were.")
        status += "\n\n" + "\n\n".join(f"**Not ingested:** {md(f)}" for f in failures)
    return documents_outputs(assistant, status)




def delete_document(assistant: Assistant, doc_id: str | None) -> tuple[str, list[list[Any]], Any, Any, str, Any]:
    """Delete the chosen report; returns (status, table rows, delete choices, outlet choices, counts, place choices)."""
    if not doc_id:
        raise ui_error("Choose a report to delete first.")
    try:
        title = assistant.document(doc_id).title
        assistant.delete(doc_id)
    except QAError as exc:
        raise ui_error(str(exc)) from exc
    return documents_outputs(assistant, f"**Deleted:** {md(title)}")


def ask_json(
    assistant: Assistant,
    question: str,
    top_k: int | None = None,
    mode: str | None = None,
    history: list[str] | None = None,
    by_source: bool = False,
    **filters: Any,
) -> dict[str, Any]:
    """What the /ask endpoint returns: the same JSON as `qa ask --json` (filters, history and
    by_source as `Assistant.ask`; without history a question is read on its own)."""
    try:
        filters = {k: v for k, v in filters.items() if v not in (None, "", [])}
        answer = assistant.ask(
            question, top_k=top_k, mode=mode, history=history or None, by_source=by_source, **filters
        )
        return answer.to_dict()
    except QAError as exc:
        raise gr.Error(str(exc), print_exception=False) from exc  # to an API client as JSON: not escaped


def timeline_outputs(
    assistant: Assistant,
    place: str | None = None,
    source: str | None = None,
    date_from: str | None = None,
    date_to: str | None = None,
) -> tuple[Any, dict[str, str], str, str]:
    """The Timeline tab, as `Assistant.timeline` gives it for these filters (empty ones do not
    filter): (the chart's data, its colour per outlet, the count above it with the chart's
    legend, the list of the first `timeline_listed` entries). The chart is drawn from up to
    CHART_ENTRIES entries, so it spans every day the list may stop short of.

    Raises:
        gr.Error: a date cannot be read, or an outlet or place names nothing in the index.
    """
    try:
        line = assistant.timeline(
            place=place or None,
            source=source or None,
            date_from=date_from or None,
            date_to=date_to or None,
            limit=CHART_ENTRIES,
        )
    except QAError as exc:
        raise ui_error(str(exc)) from exc
    frame = timeline_frame(line)
    colors = outlet_colors(frame)
    listed = assistant.settings.app.timeline_listed
    return frame, colors, timeline_summary(line, listed) + legend_html(colors), timeline_html(line, listed)


def timeline_choices(assistant: Assistant) -> tuple[Any, Any]:
    """The Timeline tab's place and outlet choices: the places and outlets of the reports, each
    with its number of reports (a place only a figure names can still be typed)."""
    documents = assistant.documents()
    by_place = Counter(part for d in documents for part in dict.fromkeys(place_parts(d.place)))
    by_outlet = Counter(d.source for d in documents if d.source)
    return gr.update(choices=_counted_choices(by_place)), gr.update(choices=_counted_choices(by_outlet))
