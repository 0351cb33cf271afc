"""The web app: a chat with cited answers, a source viewer and the list of ingested reports.

    python app.py        # or: qa serve [--host H] [--port P], or: make run

It binds 127.0.0.1:7860 unless told otherwise (QA_HOST, QA_PORT) and never opens a share link;
QA_AUTH turns on a login. Questions and uploads wait in one bounded queue (QA_QUEUE_MAX_SIZE) and
QA_CONCURRENCY_LIMIT questions are answered at once. Handlers are plain functions of an
Assistant, so tests call them without a server.

Reports and questions are untrusted: every piece of their text reaches the page HTML-escaped
(and Markdown-escaped in the chat), so markup in a report is shown as text and never runs.
"""

import atexit
import functools
import html
import inspect
import ipaddress
import json
import logging
import os
import re
import shutil
import tempfile
import threading
import time
import urllib.parse
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # no calls home: this machine is offline

import gradio as gr  # noqa: E402
from pydantic import SecretStr  # noqa: E402
from starlette.middleware import Middleware  # noqa: E402

from qa import Answer, Assistant, Citation  # noqa: E402
from qa.attribution import attribution_in_context  # noqa: E402
from qa.chunking import split_sentences  # noqa: E402
from qa.config import BUNDLED_CORPUS_DIR  # noqa: E402
from qa.documents import SUPPORTED_SUFFIXES  # noqa: E402
from qa.errors import ConfigError, QAError  # noqa: E402
from qa.examples import example_questions  # noqa: E402
from qa.eventdates import event_date  # noqa: E402
from qa.text import clean_question, quantity  # noqa: E402
from qa.types import Filters, place_parts  # noqa: E402

logger = logging.getLogger(__name__)

MODES = ["hybrid", "dense", "bm25"]
CONTEXT_CHARS = 600  # text shown on each side of a cited passage in the document view
UPLOAD_MAX_AGE_S = 600  # an upload no handler took is deleted after this long
UPLOAD_TYPES = list(SUPPORTED_SUFFIXES)
TABLE_HEADERS = ["Title", "Outlet", "Date", "Place", "Chunks", "ID"]
ABSTAINED_LABEL = "No answer in the reports"
# The chat and the /ask endpoint share one concurrency group, so `concurrency_limit` bounds both
# together; uploads and deletions have their own group of one (an ingest holds the index anyway).
QUESTIONS = "questions"
DOCUMENT_CHANGES = "document-changes"

CSS = """
.qa-abstained { color: #6b7280; font-style: italic; border-left: 3px solid #d1d5db; padding-left: .6em; display: block; }
.qa-sources h2, .qa-doc h3 { margin: 0 0 .4em 0; font-size: 1rem; }
.qa-source { display: block; width: 100%; text-align: left; margin: 0 0 .5em 0; padding: .5em .7em;
  border: 1px solid #d1d5db; border-radius: 6px; background: #fafafa; cursor: pointer; font: inherit; color: inherit; }
.qa-source:hover, .qa-source:focus { border-color: #f97316; background: #fff7ed; }
.qa-meta { color: #6b7280; font-size: .9em; }
.qa-source blockquote { margin: .3em 0 0 0; padding-left: .6em; border-left: 3px solid #f97316; }
.qa-doc .qa-text { white-space: pre-wrap; line-height: 1.5; max-height: 28em; overflow-y: auto; position: relative; }
.qa-marker { font-weight: 600; text-decoration: none; }
.qa-examples { display: flex; flex-wrap: wrap; gap: .4em; align-items: center; }
.qa-example { text-align: left; padding: .3em .6em; border: 1px solid #d1d5db; border-radius: 6px; background: #fff; cursor: pointer; font: inherit; color: inherit; }
.qa-example:hover, .qa-example:focus { border-color: #f97316; background: #fff7ed; }
.qa-followup { display: block; color: #4b5563; font-size: .9em; }
.qa-doc mark { background: #fde68a; padding: 0 .1em; }
.qa-empty { color: #6b7280; }
#qa-documents { --font-mono: var(--font); }
#qa-documents table, #qa-documents td, #qa-documents th { font-family: var(--font); }
#qa-delete-confirm { padding: .5em .7em; }
.qa-notice { margin: .3em 0; padding: .35em .6em; border-left: 3px solid #b91c1c; background: #fef2f2; color: #7f1d1d; }
"""

# A click on a source card, or on an answer's [n] in the chat, sends which passage it names; the
# server re-reads and checks it. The document view follows the answer whose sources are shown: a
# new answer, or an earlier one clicked, opens its first passage (an answer without one, none).
SOURCES_JS = """
const open = (from, user) => {
  window.qaScrollPage = user;
  trigger('click', {doc_id: from ? from.doc : '', start: from ? from.start : 0, end: from ? from.end : 0});
  // The passage asked for may be the one already open (nothing changes then): go to it all the same.
  if (user) setTimeout(() => {
    if (!window.qaScrollPage) return;
    window.qaScrollPage = false;
    document.querySelector('#qa-document').scrollIntoView({block: 'nearest'});
  }, 600);
};
window.qaOpenPassage = open;
element.addEventListener('click', (event) => {
  const card = event.target.closest('.qa-source');
  if (card && element.contains(card)) open(card.dataset, true);
});
if (!window.qaMarkersHeard) {
  window.qaMarkersHeard = true;
  document.addEventListener('click', (event) => {
    const marker = event.target.closest('#qa-chat .qa-marker');
    if (!marker) return;
    event.preventDefault();
    const [, doc, start, end] = marker.getAttribute('href').split('/');
    // A marker of an earlier answer also selects that answer, whose panel then comes: it opens
    // this passage, not its first.
    window.qaWanted = {doc: decodeURIComponent(doc), start, end};
    setTimeout(() => { window.qaWanted = null; }, 1500);
    window.qaOpenPassage(window.qaWanted, true);
  });
}
let shown = null;
new MutationObserver(() => {
  // (While an answer is on its way its panel only says so: the passage open stays till it comes.)
  if (element.querySelector('.qa-answering')) { shown = null; return; }
  const first = element.querySelector('.qa-source');
  const key = first ? [first.dataset.doc, first.dataset.start, first.dataset.end].join(':') : '';
  if (key !== shown) {
    shown = key;
    const wanted = window.qaWanted;
    window.qaWanted = null;
    open(wanted || (first && first.dataset), !!wanted);
  }
}).observe(element, {subtree: true, childList: true, characterData: true, attributes: true});
"""

# An example clicked is typed into the question box, as if by hand (Gradio hears the input event).
EXAMPLES_JS = """
element.addEventListener('click', (event) => {
  const example = event.target.closest('.qa-example');
  const box = document.querySelector('#qa-question textarea');
  if (!example || !box) return;
  box.value = example.textContent;
  box.dispatchEvent(new Event('input', {bubbles: true}));
  box.focus();
});
"""

# The document view keeps its highlighted passage in view: inside its scrolling text always, and
# on the page too when the reader asked for it (not when a new answer opens it, which would carry
# a phone's page away from the answer).
VIEWER_JS = """
new MutationObserver(() => {
  const mark = element.querySelector('mark');
  if (!mark) return;
  const box = mark.closest('.qa-text');
  box.scrollTop = Math.max(0, mark.offsetTop - box.clientHeight / 3);
  if (window.qaScrollPage) { window.qaScrollPage = false; element.scrollIntoView({block: 'nearest'}); }
}).observe(element, {subtree: true, childList: true, characterData: true, attributes: true});
"""

# Every mistake a handler sees is shown in place (see shown_in_place); what Gradio itself refuses
# before a handler runs (a file over the size limit) gets its toast, which goes by itself, and an
# "Error" badge over the component that stays until closed and blocks clicks into it: the page
# closes those badges itself. A chat message's accessible label is Gradio's raw Markdown ("\\.",
# "**"): the page labels each by what it shows.
PAGE_JS = """
() => {
  const tidy = () => {
    document.querySelectorAll('[data-testid="status-tracker"] .error').forEach((badge) => {
      badge.closest('[data-testid="status-tracker"]').querySelector('.clear-status button')?.click();
    });
    document.querySelectorAll('#qa-chat .message > [aria-label]').forEach((message) => {
      const label = (message.closest('.bot-row') ? 'Answer: ' : 'Question: ') + message.innerText.trim();
      if (message.getAttribute('aria-label') !== label) message.setAttribute('aria-label', label);
    });
  };
  new MutationObserver(tidy).observe(document.body, {subtree: true, childList: true, characterData: true, attributeFilter: ['aria-label']});
}
"""

_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|~$])")
_MARKER = re.compile(r"\[(\d+)\]")


# -- rendering: every untrusted string goes through esc() or md() ------------------------------
def esc(text: Any) -> str:
    """Text made safe to place inside HTML."""
    return html.escape(str(text), quote=True)


def md(text: Any) -> str:
    """Text made safe to place inside Markdown: shown literally, never as markup or HTML.

    ':' and '@' become entities too, so the renderer's autolinking finds no URL or address.
    """
    escaped = _MARKDOWN_SPECIAL.sub(r"\\\1", html.escape(str(text), quote=False))
    return escaped.replace(":", "&#58;").replace("@", "&#64;").replace("www\\.", "w&#119;w\\.")


def ui_error(message: str) -> gr.Error:
    """A gr.Error whose message is escaped: Gradio renders toast text as (cleaned) HTML, and
    messages can quote report text (a declared id, a YAML error, a title)."""
    return gr.Error(esc(message), print_exception=False)  # a user's mistake: no traceback in the log


# The settings' own names in a message, as the page labels them.
_FIELD_LABELS = {"date_from": "the From date", "date_to": "the To date"}
_FIELD_NAME = re.compile(r"\b(?:" + "|".join(_FIELD_LABELS) + r")\b")


def notice_html(message: str) -> str:
    """A user's mistake, shown in place: one short line, announced to screen readers."""
    return f'<p class="qa-notice" role="alert">{esc(message)}</p>'


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


def _source_line(c: Citation) -> str:
    """Outlet and date, then who the passage says is its source and when its event happened."""
    when = f"event: {c.event_date_words} ({c.event_date})" if c.event_date else ""
    return " · ".join(x for x in (c.source, c.date, c.attribution, when) if x)


def _marker(c: Citation) -> str:
    """A citation's "[n]" in the chat: a link that opens its passage in the document view."""
    # (The chat's sanitiser keeps a link's address but drops data- attributes: the passage rides in it.)
    where = f"#passage/{urllib.parse.quote(c.doc_id, safe='')}/{c.start}/{c.end}"
    return f'<a class="qa-marker" href="{esc(where)}" title="{esc(c.title)}">[{c.n}]</a>'


def answer_markdown(answer: Answer) -> str:
    """The chat message for a finished answer: its text, the short answer in bold, each [n] a
    link to its passage. The sources themselves are the Sources panel's cards, shown once."""
    by_n = {c.n: c for c in answer.citations}
    text, note = answer.text, ""
    if answer.follow_up_topic:  # said above the answer, in words, rather than after it in brackets
        text = text.removesuffix(answer.follow_up_note)
        note = (
            f'<span class="qa-followup">Taking “{md(answer.follow_up_topic)}” from your question '
            f"“{md(answer.follow_up_of)}”.</span>\n\n"
        )
    pieces = _MARKER.split(text)  # text, n, text, n, ...
    short = answer.short_answer
    body = []
    for i, piece in enumerate(pieces):
        if i % 2:
            body.append(_marker(by_n[int(piece)]) if int(piece) in by_n else md(f"[{piece}]"))
        elif short and i == 0 and piece.lower().startswith(short.lower()):
            body.append(f"**{md(piece[: len(short)])}**{md(piece[len(short) :])}")
        else:
            body.append(md(piece))
    if answer.abstained:  # what the reports say nearby, if anything: cited, but not an answer
        return f'{note}<span class="qa-abstained"><strong>{ABSTAINED_LABEL}.</strong> {"".join(body)}</span>'
    return note + "".join(body)


def sources_html(answer: Answer | None) -> str:
    """The Sources panel: one clickable card per citation, with title, outlet, date and passage."""
    if answer is None:
        return (
            '<section class="qa-sources" aria-label="Sources"><h2>Sources</h2><p class="qa-empty">Ask a question to see its sources.</p></section>'
        )
    if answer.abstained and not answer.citations:
        return (
            '<section class="qa-sources" aria-label="Sources"><h2>Sources</h2><p class="qa-empty qa-abstained">'
            "No passage in the reports answers this question.</p></section>"
        )
    cards = [
        f'<button type="button" class="qa-source" data-doc="{esc(c.doc_id)}" data-start="{c.start}" '
        f'data-end="{c.end}" title="Open this passage in its report">'
        f'<strong>[{c.n}]</strong> <span class="qa-title">{esc(c.title)}</span> '
        f'<span class="qa-meta">{esc(_source_line(c))}</span>'
        f"<blockquote>{esc(c.text)}</blockquote></button>"
        for c in answer.citations
    ]
    hint = '<p class="qa-meta">Click a source or its [n] in the answer to read it in its report; click an earlier answer to see its sources.</p>'
    if answer.abstained:
        hint = '<p class="qa-empty qa-abstained">No passage answers this question; this is what the reports say nearby.</p>' + hint
    return '<section class="qa-sources" aria-label="Sources"><h2>Sources</h2>' + "".join(cards) + hint + "</section>"


def examples_html(questions: list[str]) -> str:
    """The example questions, each a button that puts it in the question box (see EXAMPLES_JS)."""
    if not questions:
        return ""
    buttons = "".join(f'<button type="button" class="qa-example">{esc(q)}</button>' for q in questions)
    return f'<nav class="qa-examples" aria-label="Example questions"><span class="qa-meta">Try</span> {buttons}</nav>'


_ANSWERING = '<section class="qa-sources" aria-label="Sources"><h2>Sources</h2><p class="qa-empty qa-answering">Answering…</p></section>'


def _size(n_bytes: int) -> str:
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n_bytes >= scale:
            return f"{n_bytes / scale:.3g} {unit}"
    return f"{n_bytes} bytes"


def _empty_document_view() -> str:
    return '<section class="qa-doc" aria-label="Passage in its report"><p class="qa-empty">Click a source to read it in its report.</p></section>'


# -- handlers: plain functions of an Assistant ----------------------------------------------
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
) -> Iterator[tuple[str, list[dict[str, Any]], str, dict[int, str]]]:
    """Answer a chat question, streaming the words in; the filters are `Assistant.ask`'s.

    Yields:
        (textbox, history, sources panel, panels): panels maps each answer's message index to
        its sources panel, so a click on an earlier answer shows its sources again.

    Raises:
        gr.Error: the question or the settings are not acceptable (shown in the UI).
    """
    history = list(history or [])
    panels = dict(panels or {})
    if mode not in MODES:
        raise ui_error(f"Unknown retrieval mode {mode!r}: choose one of {', '.join(MODES)}.")
    try:
        filters = Filters.build(source or None, place or None, date_from or None, date_to or None, bool(undated))
        stream = assistant.stream(question, top_k=int(top_k), mode=mode, history=earlier_questions(history), **filters.to_dict())
        first = next(stream)
    except QAError as exc:
        raise ui_error(str(exc)) from exc
    asked = md(clean_question(question))  # as answered: escape sequences and invisible characters gone
    if filters:
        asked += f"\n\n*Only {md(filters.describe())}*"
    history.append({"role": "user", "content": asked})
    history.append({"role": "assistant", "content": ""})
    text = ""
    for piece in [first, *stream]:
        if isinstance(piece, Answer):
            history[-1] = {"role": "assistant", "content": answer_markdown(piece)}
            panels[len(history) - 1] = sources_html(piece)
            yield "", history, panels[len(history) - 1], panels
        else:
            text += piece
            history[-1] = {"role": "assistant", "content": md(text)}
            yield "", history, _ANSWERING, panels


def earlier_questions(history: list[dict[str, Any]]) -> list[str]:
    """The questions asked so far in the chat, as typed: a user message is the escaped question
    (see `md`), then the filters it was asked under on a line of their own."""
    asked = []
    for message in history:
        content = message.get("content") if isinstance(message, dict) and message.get("role") == "user" else None
        if isinstance(content, list):  # Gradio 6 sends a message's content back as its parts
            content = " ".join(p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text") or None
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
    text = document.text
    if not 0 <= start < end <= len(text):
        raise ui_error(f"The passage {start}-{end} is outside the report {document.title!r}; ask again.")
    lo, hi = max(0, start - CONTEXT_CHARS), min(len(text), end + CONTEXT_CHARS)
    # Cut the context at whitespace so no word is shown in part.
    if lo > 0:
        lo = next((i + 1 for i in range(lo, start) if text[i].isspace()), lo)
    if hi < len(text):
        hi = next((i for i in range(hi, end, -1) if text[i].isspace()), hi)
    meta = " · ".join(x for x in (document.source, document.date, document.place) if x)
    return (
        f'<section class="qa-doc" aria-label="Passage in its report"><h3>{esc(document.title)}</h3><p class="qa-meta">{esc(meta)}</p>{_told(text, start, end, document.date)}'
        f'<div class="qa-text">{"… " if lo > 0 else ""}{esc(text[lo:start])}'
        f'<mark id="qa-passage">{esc(text[start:end])}</mark>{esc(text[end:hi])}{" …" if hi < len(text) else ""}'
        "</div></section>"
    )


def _told(text: str, start: int, end: int, report_date: str) -> str:
    """Who the passage says is its source and when its event happened, as its citation says
    (the sentence before it lends a "He said" its speaker)."""
    window = max(0, start - CONTEXT_CHARS)
    before = split_sentences(text[window:start])
    said = attribution_in_context(text[start:end], text[window + before[-1].start : window + before[-1].end] if before else "")
    when = event_date(text[start:end], report_date)
    told = [f"source: {said.words}" if said else "", f"event: {when.words} ({when.value})" if when else ""]
    return f'<p class="qa-meta">{esc(" · ".join(x for x in told if x))}</p>' if any(told) else ""


def document_rows(assistant: Assistant) -> list[list[Any]]:
    """The Documents table: one row per ingested report, newest date first."""
    documents = sorted(assistant.documents(), key=lambda d: (d.date, d.title), reverse=True)
    return [[d.title, d.source, d.date, d.place, d.chunks, d.doc_id] for d in documents]


def _documents_outputs(assistant: Assistant, status: str) -> tuple[str, list[list[Any]], Any, Any, str, Any]:
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
    return status, rows, gr.update(choices=choices, value=None), gr.update(choices=outlets), told, gr.update(choices=places)


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
    """Ingest uploaded report files; returns (status, table rows, delete choices, outlet choices, counts, place choices).

    The uploaded copies are removed once read. Files that fail are named in the status (all
    failing raises gr.Error) and the rest still land.
    """
    received = [f if isinstance(f, str) else getattr(f, "path", None) or f.name for f in files or []]
    if not received:
        raise ui_error("Choose one or more report files to upload (.txt, .md, .html, or .csv/.jsonl collections).")
    limit = assistant.settings.max_upload_files
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
                if os.path.getsize(source) > assistant.settings.max_file_bytes:
                    target = Path(source)  # not worth a copy: the ingest refuses it by its size
                else:
                    shutil.copyfile(source, target)
            except OSError:
                target = Path(source)  # gone already: the ingest names it as unreadable
            names[str(target)] = f"upload:{name}"

        started = time.monotonic()

        def advance(done: int, total: int, name: str) -> None:
            if progress is not None:
                rate = done / max(time.monotonic() - started, 1e-6)
                progress((done, total), desc=f"{done:,} of {total:,} reports, {rate:.1f}/s: {name}", unit="reports")

        try:
            report = assistant.ingest(list(names), progress=advance, names=names)
        except QAError as exc:
            raise ui_error(str(exc)) from exc
    finally:
        if private is not None:
            shutil.rmtree(private, ignore_errors=True)
        for source in received:
            _remove_gradio_copy(Path(source))
    failures = [f.error for f in report.failed]
    if failures and not (report.added or report.replaced or report.unchanged):
        raise ui_error("Nothing was ingested. " + " ".join(failures))
    status = f"**Ingested:** {md(report.summary())}"
    if failures:
        gr.Warning(f"{len(failures)} file(s) could not be ingested; the others were.")
        status += "\n\n" + "\n\n".join(f"**Not ingested:** {md(f)}" for f in failures)
    return _documents_outputs(assistant, status)


def safe_name(name: str, limit: int = 120) -> str:
    """A file name with nothing but letters, digits, '.', '-' and '_' (no paths, no leading dots),
    at most `limit` characters: a long name loses the end of its stem, never its extension."""
    cleaned = re.sub(r"[^\w.-]+", "_", name).lstrip("._") or "upload"
    if len(cleaned) <= limit:
        return cleaned
    stem, dot, suffix = cleaned.rpartition(".")
    if not dot or not stem or len(suffix) > 16:
        return cleaned[:limit]
    return stem[: limit - len(suffix) - 1].rstrip("._") + "." + suffix


def _remove_gradio_copy(path: Path) -> None:
    """Gradio's own copy of an upload is not kept: the index holds the text."""
    try:
        path.unlink(missing_ok=True)
        path.parent.rmdir()  # its folder, when nothing else is in it
    except OSError:
        pass
    _sweep_upload_strays()


STRAY_AGE_S = float(UPLOAD_MAX_AGE_S)  # an empty file there this old is no upload in progress, however slow


def _sweep_upload_strays() -> None:
    """Remove the empty temporary files Gradio leaves in its upload folder (one per upload, seen
    with Gradio 6), when that folder is the app's own (see `serve`): never anyone else's files."""
    folder = os.environ.get("GRADIO_TEMP_DIR", "")
    if not folder or os.environ.get("QA_OWN_GRADIO_TEMP_DIR") != folder:
        return
    cutoff = time.time() - STRAY_AGE_S
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return
    for entry in entries:
        try:
            info = entry.stat(follow_symlinks=False)
            if entry.is_file(follow_symlinks=False) and info.st_size == 0 and info.st_mtime < cutoff:
                os.unlink(entry.path)
        except OSError:
            continue


def delete_document(assistant: Assistant, doc_id: str | None) -> tuple[str, list[list[Any]], Any, Any, str, Any]:
    """Delete the chosen report; returns (status, table rows, delete choices, outlet choices, counts, place choices)."""
    if not doc_id:
        raise ui_error("Choose a report to delete first.")
    try:
        title = assistant.document(doc_id).title
        assistant.delete(doc_id)
    except QAError as exc:
        raise ui_error(str(exc)) from exc
    return _documents_outputs(assistant, f"**Deleted:** {md(title)}")


def ask_json(
    assistant: Assistant,
    question: str,
    top_k: int | None = None,
    mode: str | None = None,
    history: list[str] | None = None,
    **filters: Any,
) -> dict[str, Any]:
    """What the /ask endpoint returns: the same JSON as `qa ask --json` (filters and history as
    `Assistant.ask`; without history a question is read on its own)."""
    try:
        filters = {k: v for k, v in filters.items() if v not in (None, "", [])}
        return assistant.ask(question, top_k=top_k, mode=mode, history=history or None, **filters).to_dict()
    except QAError as exc:
        raise gr.Error(str(exc), print_exception=False) from exc  # to an API client as JSON: not escaped


# -- the app -------------------------------------------------------------------------------
def create_app(assistant: Assistant) -> gr.Blocks:
    """Build the UI around an Assistant (nothing is loaded until the page or a question asks)."""
    settings = assistant.settings
    # Files uploaded but never handed to a handler (a direct POST to the upload route, a type the
    # page refuses) are deleted by Gradio after UPLOAD_MAX_AGE_S, checked every minute.
    with gr.Blocks(title="Conflict reports Q&A", analytics_enabled=False, delete_cache=(60, UPLOAD_MAX_AGE_S)) as demo:
        gr.Markdown(
            "# Conflict reports Q&A\nAsk about the ingested reports. Answers quote the reports and cite them; "
            "when the reports don't say, the answer says so."
        )
        with gr.Tab("Ask"):
            with gr.Row():
                with gr.Column(scale=3):
                    chat = gr.Chatbot(
                        label="Chat", show_label=False, buttons=["copy", "copy_all"], height=460, latex_delimiters=[], sanitize_html=True, elem_id="qa-chat"
                    )
                    question = gr.Textbox(
                        label="Question",
                        placeholder="e.g. How many civilians were killed?",
                        max_length=settings.max_question_chars,
                        submit_btn="Ask",
                        elem_id="qa-question",
                    )
                    ask_notice = gr.HTML("", elem_id="qa-ask-notice")
                    # Questions about the reports loaded, in full (Gradio's examples cut them at 60
                    # characters); a click puts one in the box.
                    examples = gr.HTML(examples_html([]), js_on_load=EXAMPLES_JS, elem_id="qa-examples")
                    with gr.Accordion("Filters", open=False):
                        # Outlets and places as the index has them, each with its number of reports.
                        with gr.Row():
                            outlets = gr.Dropdown(
                                choices=[], multiselect=True, label="Outlets", info="any of these", elem_id="qa-filter-source"
                            )
                            place = gr.Dropdown(
                                choices=[], multiselect=True, label="Places", info="any of these", elem_id="qa-filter-place"
                            )
                        # (Text, not Gradio's date picker: that one takes only whole days, and text it
                        # cannot read it drops without a word, keeping the date before.)
                        with gr.Row():
                            date_from = gr.Textbox(
                                label="From", info="a day, month or year", placeholder="YYYY-MM-DD, YYYY-MM or YYYY", elem_id="qa-filter-from"
                            )
                            date_to = gr.Textbox(
                                label="To", info="a day, month or year", placeholder="YYYY-MM-DD, YYYY-MM or YYYY", elem_id="qa-filter-to"
                            )
                        undated = gr.Checkbox(
                            label="With dates set, also search reports that have no date", value=False, elem_id="qa-filter-undated"
                        )
                    with gr.Accordion("Retrieval settings", open=False):
                        mode = gr.Radio(MODES, value=settings.mode, label="Mode", info="hybrid fuses dense and BM25")
                        top_k = gr.Slider(1, 20, value=settings.top_k, step=1, label="Passages retrieved (top-k)")
                with gr.Column(scale=2):
                    sources = gr.HTML(sources_html(None), js_on_load=SOURCES_JS, elem_id="qa-sources")
                    viewer = gr.HTML(_empty_document_view(), js_on_load=VIEWER_JS, elem_id="qa-document")
        with gr.Tab("Documents"):
            counts = gr.Markdown(elem_id="qa-document-counts")
            # Every column in view at 1280 px, titles wrapping (a phone scrolls it sideways); a header
            # click sorts, the box searches.
            table = gr.Dataframe(
                headers=TABLE_HEADERS,
                datatype="str",
                interactive=False,
                wrap=True,
                column_widths=["440px", "150px", "110px", "190px", "80px", "170px"],
                show_search="search",
                buttons=["copy"],
                max_height=520,
                label="Ingested reports",
                elem_id="qa-documents",
            )
            with gr.Row():
                upload = gr.File(
                    label=f"Add reports ({', '.join(UPLOAD_TYPES)}; up to {_size(settings.max_file_bytes)} each)",
                    file_count="multiple",
                    file_types=UPLOAD_TYPES,
                    elem_id="qa-upload",
                )
                with gr.Column():
                    to_delete = gr.Dropdown(label="Report to delete", choices=[], elem_id="qa-delete-choice")
                    delete = gr.Button("Delete report…", variant="secondary", elem_id="qa-delete")
                    # A deletion is confirmed, naming the report, before it is done.
                    with gr.Group(visible=False, elem_id="qa-delete-confirm") as confirm:
                        confirm_text = gr.Markdown(elem_id="qa-delete-question")
                        with gr.Row():
                            confirmed = gr.Button("Delete it", variant="stop", elem_id="qa-delete-yes")
                            cancelled = gr.Button("Keep it", elem_id="qa-delete-no")
            with gr.Row():
                status = gr.Markdown(elem_id="qa-status")
                refresh = gr.Button("Refresh list", size="sm", scale=0)

        private = {"api_visibility": "private"}
        made: dict[tuple[str, ...], list[str]] = {}  # example questions by the reports loaded

        def on_examples() -> str:
            loaded = tuple(sorted(f"{d.doc_id}:{d.content_hash}" for d in assistant.documents()))
            questions = made.get(loaded)
            if questions is None:
                questions = example_questions(assistant, settings.example_questions, BUNDLED_CORPUS_DIR)
                made.clear()
                made[loaded] = questions
            return examples_html(questions)

        panels = gr.State({})

        def on_question(
            q: str, h: list[dict[str, Any]], m: str, k: float, p: dict[int, str], o: list[str], pl: list[str], f: str, t: str, u: bool
        ) -> Iterator[Any]:
            yield from respond(assistant, q, h, m, k, p, o, pl, f, t, u)

        questions = {"concurrency_id": QUESTIONS, "concurrency_limit": settings.concurrency_limit}
        changes = {"concurrency_id": DOCUMENT_CHANGES, "concurrency_limit": 1}
        # A mistake (an empty question, a bad date) is one line under the question box; the
        # question stays in the box to be mended, and the chat and sources keep what they show.
        question.submit(
            shown_in_place(on_question, 4),
            [question, chat, mode, top_k, panels, outlets, place, date_from, date_to, undated],
            [question, chat, sources, panels, ask_notice],
            **private,
            **questions,
        )

        def on_message_click(p: dict[int, str], evt: gr.SelectData) -> Any:
            return earlier_sources(p, evt.index)

        chat.select(on_message_click, panels, sources, **private)
        # The chat's own Clear empties every part of the conversation: its sources, the open
        # passage, a notice.
        chat.clear(
            lambda: ({}, sources_html(None), _empty_document_view(), ""), None, [panels, sources, viewer, ask_notice], **private
        )

        def on_source_click(evt: gr.EventData) -> str:
            data = getattr(evt, "_data", None) or {}
            if not data.get("doc_id"):  # the answer shown has no passage
                return _empty_document_view()
            return open_source(assistant, data.get("doc_id"), data.get("start"), data.get("end"))

        # The last passage asked for is the one shown, however fast they are asked for.
        sources.click(shown_in_place(on_source_click, 1, notice=0), None, viewer, trigger_mode="always_last", **private)

        def on_upload(files: list[Any], progress: gr.Progress = gr.Progress()) -> tuple[str, Any, Any, Any, str, Any]:
            return ingest_uploads(assistant, files, progress)

        # Empty the file box either way, so a failed file is not sent again with the next upload.
        listed = [status, table, to_delete, outlets, counts, place]
        # A mistake there shows in the status line beside them, in place of the last status.
        uploaded = upload.upload(shown_in_place(on_upload, len(listed), notice=0), upload, listed, **private, **changes)
        uploaded.success(lambda: None, None, upload, **private).then(on_examples, None, examples, **private)
        uploaded.failure(lambda: None, None, upload, **private)  # (a fault of the app's own, not a mistake)

        def on_delete_asked(doc_id: str | None) -> tuple[Any, str, str]:
            return gr.update(visible=True), deletion_question(assistant, doc_id), ""

        def on_delete(doc_id: str | None) -> tuple[Any, ...]:
            return (*delete_document(assistant, doc_id), gr.update(visible=False))

        delete.click(shown_in_place(on_delete_asked, 3, notice=2), to_delete, [confirm, confirm_text, status], **private)
        deleted = confirmed.click(
            shown_in_place(on_delete, len(listed) + 1, notice=0), to_delete, [*listed, confirm], **private, **changes
        )
        deleted.then(on_examples, None, examples, **private)
        cancelled.click(lambda: gr.update(visible=False), None, confirm, **private)
        to_delete.change(lambda: gr.update(visible=False), None, confirm, **private)  # another choice: ask again
        # Reports ingested by another process (qa ingest) show up on load or on refresh.
        demo.load(lambda: _documents_outputs(assistant, "")[1:], None, listed[1:], **private).then(
            on_examples, None, examples, **private
        )
        refresh.click(lambda: _documents_outputs(assistant, "")[1:], None, listed[1:], **private).then(
            on_examples, None, examples, **private
        )

        def ask(
            question: str,
            top_k: int = settings.top_k,
            mode: str = settings.mode,
            source: list[str] | None = None,
            place: str | None = None,
            date_from: str | None = None,
            date_to: str | None = None,
            history: list[str] | None = None,
            undated: bool = False,
        ) -> dict[str, Any]:
            """Answer a question from the reports: the same JSON as `qa ask --json`; the filters
            are optional, and `history` (the conversation's earlier questions) reads a follow-up."""
            return ask_json(
                assistant, question, top_k, mode, history, source=source, place=place, date_from=date_from, date_to=date_to,
                undated=undated,
            )

        gr.api(ask, api_name="ask", **questions)
    return demo


def parse_auth(value: "SecretStr | str | None") -> list[tuple[str, str]] | None:
    """The logins of the `auth` setting as (user, password) pairs; None when it is unset.

    The setting is "alice:pw1,bob:pw2", or the path of a file with one user:password per line
    (blank lines and lines starting with # are skipped). A password may contain ':' (the user
    ends at the first one); spaces around the user and the password are ignored.

    Raises:
        ConfigError: an entry is not user:password or names a user twice, or the file cannot be
            read. The message names the entry or line, never a password.
    """
    if isinstance(value, SecretStr):  # the setting: kept out of reprs, logs and evaluation reports
        value = value.get_secret_value()
    if value is None or not value.strip():
        return None
    path = Path(value.strip()).expanduser()
    try:
        is_file = path.is_file()
    except (OSError, ValueError):  # a long list of logins is too long a file name: not a file
        is_file = False
    if is_file:
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            why = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
            raise ConfigError(f"cannot read the auth file {path}: {why}") from exc
        entries = [(f"auth file {path}, line {n}", line.strip()) for n, line in enumerate(lines, 1)]
        entries = [(where, entry) for where, entry in entries if entry and not entry.startswith("#")]
    elif ":" not in value:
        shown = f" {value.strip()!r}" if os.sep in value else ""
        raise ConfigError(f"the auth setting names no file{shown} and is not user:password pairs")
    else:
        entries = [(f"auth entry {n}", item.strip()) for n, item in enumerate(value.split(","), 1) if item.strip()]
    logins: dict[str, str] = {}
    for where, entry in entries:
        user, colon, password = entry.partition(":")
        user, password = user.strip(), password.strip()
        if not (colon and user and password):
            raise ConfigError(f"{where}: expected user:password, with both parts non-empty")
        if user in logins:
            raise ConfigError(f"{where}: the user {user!r} is listed twice")
        logins[user] = password
    if not logins:
        raise ConfigError(f"the auth file {path} holds no user:password line")
    return list(logins.items())


def exposure_warning(host: str, auth: Any) -> str | None:
    """A warning when the app would be open to the network without a login, else None."""
    if auth or _is_loopback(host):
        return None
    return (
        f"serving on {host} without a login: anyone who can reach this machine can read and change the "
        "reports; set QA_AUTH (user:password pairs or a file of them), or bind 127.0.0.1"
    )


def _is_loopback(host: str) -> bool:
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip().strip("[]")).is_loopback
    except ValueError:
        return False  # a host name, or 0.0.0.0: may be reached from elsewhere


def _use_own_upload_folder() -> None:
    """Give Gradio a private upload folder (unless GRADIO_TEMP_DIR names one), removed when the
    process ends, so what it leaves behind can be swept (see `_sweep_upload_strays`) and no
    other app's uploads are ever touched."""
    if os.environ.get("GRADIO_TEMP_DIR"):
        return
    folder = tempfile.mkdtemp(prefix="qa-gradio-")  # mode 0700
    os.environ["GRADIO_TEMP_DIR"] = os.environ["QA_OWN_GRADIO_TEMP_DIR"] = folder
    atexit.register(shutil.rmtree, folder, ignore_errors=True)


class LoginThrottle:
    """ASGI middleware limiting logins: a client address (an IPv6 /64 counts as one) or a user
    name with `failures` failed attempts within `window_s` seconds is refused at the login route
    (429, with when to try again) until the oldest of them is `window_s` old, the right password
    too. An attempt counts as failed from the moment it starts until it succeeds, so attempts in
    parallel cannot outrun the count, and a success takes back only its own attempt: one good
    login does not wipe out guesses at another user. Counting by user name lets anyone lock an
    account out for `window_s` by guessing at it: the price of stopping guesses spread over
    many addresses. At most `max_keys` addresses and names are remembered (the stalest go).
    """

    MAX_BODY = 65_536  # a login form is a few dozen bytes

    def __init__(
        self,
        app: Any,
        failures: int = 5,
        window_s: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = 100_000,
    ) -> None:
        self.app = app
        self.failures = failures
        self.window_s = window_s
        self.clock = clock
        self.max_keys = max_keys
        self._attempts: dict[str, list[float]] = {}  # key -> when each counted attempt started
        self._lock = threading.Lock()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope.get("type") != "http" or scope.get("method") != "POST" or not scope.get("path", "").rstrip("/").endswith("/login"):
            await self.app(scope, receive, send)
            return
        body, more = b"", True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > self.MAX_BODY:
                await self._refuse(send, 413, "The login form is too large.")
                return
        fields = urllib.parse.parse_qs(body.decode("utf-8", errors="replace"))
        keys = [f"address {self._address((scope.get('client') or ('unknown',))[0])}"]
        user = (fields.get("username") or [""])[0].strip().casefold()
        if user:
            keys.append(f"user {user}")
        started = self.clock()
        with self._lock:
            wait = max(self._wait(key, started) for key in keys)
            if wait <= 0:
                for key in keys:
                    self._attempts.setdefault(key, []).append(started)
                self._forget_stale(started)
        if wait > 0:
            await self._refuse(send, 429, f"Too many failed logins; try again in {wait:.0f} s.", retry_after=wait)
            return
        replayed = False

        async def replay() -> dict[str, Any]:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        status: list[int] = []

        async def watch(message: dict[str, Any]) -> None:
            if message.get("type") == "http.response.start":
                status.append(int(message["status"]))
            await send(message)

        try:
            await self.app(scope, replay, watch)
        finally:
            if status and status[0] == 200:
                with self._lock:
                    for key in keys:
                        times = self._attempts.get(key, [])
                        if started in times:
                            times.remove(started)

    @staticmethod
    def _address(host: str) -> str:
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return host
        if isinstance(address, ipaddress.IPv6Address):
            if address.ipv4_mapped:
                return str(address.ipv4_mapped)
            return str(ipaddress.ip_network(f"{address}/64", strict=False))
        return str(address)

    def _wait(self, key: str, now: float) -> float:
        """Seconds until `key` may try again (0: now). Called under the lock."""
        recent = [t for t in self._attempts.get(key, []) if now - t < self.window_s]
        if recent:
            self._attempts[key] = recent
        else:
            self._attempts.pop(key, None)
        if len(recent) < self.failures:
            return 0.0
        return self.window_s - (now - recent[0])

    def _forget_stale(self, now: float) -> None:
        """Bound the memory: drop keys with no attempt in the window, then the stalest. Under the lock."""
        if len(self._attempts) <= self.max_keys:
            return
        for key in [k for k, times in self._attempts.items() if not times or now - times[-1] >= self.window_s]:
            del self._attempts[key]
        while len(self._attempts) > self.max_keys:
            del self._attempts[min(self._attempts, key=lambda k: self._attempts[k][-1] if self._attempts[k] else 0.0)]

    @staticmethod
    async def _refuse(send: Any, status: int, detail: str, retry_after: float = 0.0) -> None:
        headers = [(b"content-type", b"application/json")]
        if retry_after:
            headers.append((b"retry-after", str(int(retry_after) + 1).encode()))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": json.dumps({"detail": detail}).encode()})


def serve(
    assistant: Assistant | None = None,
    *,
    host: str | None = None,
    port: int | None = None,
    block: bool = True,
    warn: Callable[[str], None] = logger.warning,
) -> gr.Blocks:
    """Load the model and index, then run the app (in the background when block is False).

    Every question and upload waits in one queue of at most `queue_max_size` requests (more are
    refused at once); `concurrency_limit` questions are answered at a time. With `auth` set, the
    page and the API need a login; without it, on an address other than loopback, `warn` is
    told so (see `exposure_warning`).

    Raises:
        ConfigError: the auth setting is malformed (before the model loads).
    """
    assistant = assistant or Assistant()
    settings = assistant.settings
    auth = parse_auth(settings.auth)
    host = host or settings.host
    warning = exposure_warning(host, auth)
    if warning:
        warn(warning)
    assistant.warm_up()
    _use_own_upload_folder()
    demo = create_app(assistant)
    # api_open=False: a direct POST to /gradio_api/run/ask would skip the queue and its bounds.
    demo.queue(max_size=settings.queue_max_size, default_concurrency_limit=settings.concurrency_limit, api_open=False)
    throttle = Middleware(LoginThrottle, failures=settings.login_failures, window_s=settings.login_window_s)
    demo.launch(
        server_name=host,
        server_port=port or settings.port,
        share=False,
        auth=auth,
        # The login page says "Incorrect Credentials" for any refusal, a throttled one too: so it
        # states the rule up front.
        auth_message=(
            f"Log in to ask the reports. After {settings.login_failures} failed logins from one address, "
            f"logins from it are refused for {settings.login_window_s:g} seconds, the right password too."
        ),
        app_kwargs={"middleware": [throttle]},
        max_file_size=settings.max_file_bytes,
        theme=gr.themes.Default(  # system fonts: the default theme would fetch Google Fonts
            font=["ui-sans-serif", "system-ui", "sans-serif"], font_mono=["ui-monospace", "monospace"]
        ),
        css=CSS,
        js=PAGE_JS,
        prevent_thread_lock=not block,
        quiet=not block,
        footer_links=["api"],
    )
    return demo


if __name__ == "__main__":
    serve()
