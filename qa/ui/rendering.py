"""HTML and Markdown made from answers, citations and reports: pure functions, no Gradio.

Reports and questions are untrusted: every piece of their text goes through esc() or md(), so
markup in a report is shown as text and never runs.
"""

import html
import re
import urllib.parse
from typing import Any

from qa import Answer, Citation
from qa.attribution import attribution_in_context
from qa.chunking import split_sentences
from qa.eventdates import event_date
from qa.text import quantity
from qa.statements import Timeline
from qa.types import Document

CONTEXT_CHARS = 600  # text shown on each side of a cited passage in the document view
ABSTAINED_LABEL = "No answer in the reports"

_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|~$])")
_MARKER = re.compile(r"\[(\d+)\]")


def esc(text: Any) -> str:
    """Text made safe to place inside HTML."""
    return html.escape(str(text), quote=True)


def md(text: Any) -> str:
    """Text made safe to place inside Markdown: shown literally, never as markup or HTML.

    ':' and '@' become entities too, so the renderer's autolinking finds no URL or address.
    """
    escaped = _MARKDOWN_SPECIAL.sub(r"\\\1", html.escape(str(text), quote=False))
    return escaped.replace(":", "&#58;").replace("@", "&#64;").replace("www\\.", "w&#119;w\\.")


def notice_html(message: str) -> str:
    """A user's mistake, shown in place: one short line, announced to screen readers."""
    return f'<p class="qa-notice" role="alert">{esc(message)}</p>'


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
    return note + "".join(body) + figures_html(answer)


def figures_html(answer: Answer) -> str:
    """The figures of a how-many answer as a table under it, one row per report (see qa.figures).
    At phone width each row stacks, its cells led by their labels (see assets.CSS)."""
    if not answer.figures:
        return ""
    by_n = {c.n: c for c in answer.citations}
    heads = ("Figure", "Place, event date", "According to", "Report")
    rows = []
    for f in answer.figures:
        claim = f.claim
        report = ", ".join(x for x in (f.source, f.date) if x)
        if f.also_carried_by:
            report += f" (also carried by: {', '.join(f.also_carried_by)})"
        marker = _marker(by_n[f.n]) if f.n in by_n else esc(f"[{f.n}]")
        values = (
            f"<strong>{esc(claim.figure)}</strong> {esc(claim.who)} {esc(claim.what)} {marker}",
            esc(", ".join(x for x in (claim.place, claim.event_date) if x) or "–"),
            esc(claim.attributed_to or "–"),
            esc(report or "–"),
        )
        cells = "".join(f'<td><span class="qa-label">{h}: </span>{v}</td>' for h, v in zip(heads, values))
        rows.append(f"<tr>{cells}</tr>")
    head = "".join(f"<th>{h}</th>" for h in heads)
    verdict = "all agree" if answer.figures_agree else "they differ"
    caption = f"<caption>Figures from {len(answer.figures)} reports: {verdict}</caption>"
    return f'\n\n<table class="qa-figures">{caption}<thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'


def sources_html(answer: Answer | None) -> str:
    """The Sources panel: one clickable card per citation, with title, outlet, date and passage."""
    if answer is None:
        return (
            '<section class="qa-sources" aria-label="Sources"><h2>Sources</h2>'
            '<p class="qa-empty">Ask a question to see its sources.</p></section>'
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
        f"<blockquote>{esc(c.text)}</blockquote>"
        + (f'<span class="qa-meta qa-carried">also carried by: {esc(", ".join(c.also_carried_by))}</span>' if c.also_carried_by else "")
        + "</button>"
        for c in answer.citations
    ]
    hint = (
        '<p class="qa-meta">Click a source or its [n] in the answer to read it in its report; '
        "click an earlier answer to see its sources.</p>"
    )
    if answer.abstained:
        nearby = "No passage answers this question; this is what the reports say nearby."
        hint = f'<p class="qa-empty qa-abstained">{nearby}</p>' + hint
    return '<section class="qa-sources" aria-label="Sources"><h2>Sources</h2>' + "".join(cards) + hint + "</section>"


def comparison_html(answer: Answer) -> str:
    """The comparison panel: the question answered per outlet (`Answer.by_source`), one card per
    outlet with its answer and its citations, each a button that opens its passage; "" when the
    answer has no comparison (the "Compare outlets" box was off)."""
    if answer.by_source is None:
        return ""
    head = (
        '<section class="qa-compare" aria-label="Outlets compared"><h2>Outlets compared</h2>'
        f'<p class="qa-meta">“{esc(answer.question)}”, answered from each outlet’s reports alone.</p>'
    )
    if not answer.by_source:
        return head + '<p class="qa-empty">No retrieved report names its outlet.</p></section>'
    cards = "".join(_outlet_card(a) for a in answer.by_source)
    return f'{head}<div class="qa-compare-grid">{cards}</div></section>'


def _outlet_card(answer: Answer) -> str:
    """One outlet's card: its name, its answer (the short answer in bold), its citations."""
    text, short = answer.text, answer.short_answer
    if short and text.lower().startswith(short.lower()):
        said = f"<strong>{esc(text[: len(short)])}</strong>{esc(text[len(short) :])}"
    else:
        said = esc(text)
    cites = "".join(
        f'<li><button type="button" class="qa-compare-source" data-doc="{esc(c.doc_id)}" data-start="{c.start}" '
        f'data-end="{c.end}" title="Open this passage in its report"><strong>[{c.n}]</strong> '
        f'<span class="qa-title">{esc(c.title)}</span> <span class="qa-meta">{esc(c.date or "no date")}'
        f"{esc(' · also carried by: ' + ', '.join(c.also_carried_by)) if c.also_carried_by else ''}</span>"
        "</button></li>"
        for c in answer.citations
    )
    kind = " qa-outlet-abstained" if answer.abstained else ""
    listed = f'<ol class="qa-outlet-cites">{cites}</ol>' if cites else ""
    return (
        f'<article class="qa-outlet{kind}"><h3>{esc(answer.outlet)}</h3>'
        f'<p class="qa-outlet-answer">{said}</p>{listed}</article>'
    )


# The comparison panel while the per-outlet answers are on their way.
COMPARING_HTML = (
    '<section class="qa-compare" aria-label="Outlets compared"><h2>Outlets compared</h2>'
    '<p class="qa-empty qa-answering">Comparing outlets…</p></section>'
)


def examples_html(questions: list[str]) -> str:
    """The example questions, each a button that puts it in the question box (see EXAMPLES_JS)."""
    if not questions:
        return ""
    buttons = "".join(f'<button type="button" class="qa-example">{esc(q)}</button>' for q in questions)
    return f'<nav class="qa-examples" aria-label="Example questions"><span class="qa-meta">Try</span> {buttons}</nav>'


# The Sources panel while an answer is on its way (the page's script waits for it to go).
ANSWERING_HTML = (
    '<section class="qa-sources" aria-label="Sources"><h2>Sources</h2>'
    '<p class="qa-empty qa-answering">Answering…</p></section>'
)


def file_size(n_bytes: int) -> str:
    """A size in bytes as the upload box states it ("6 kB", "25 MB")."""
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n_bytes >= scale:
            return f"{n_bytes / scale:.3g} {unit}"
    return f"{n_bytes} bytes"


def empty_document_html() -> str:
    """The document view with no passage open."""
    return (
        '<section class="qa-doc" aria-label="Passage in its report">'
        '<p class="qa-empty">Click a source to read it in its report.</p></section>'
    )


def passage_html(document: Document, start: int, end: int) -> str:
    """The document view: the passage start:end highlighted in its report, with the text around it
    (CONTEXT_CHARS each side, cut at whitespace). The span must fit the report's text."""
    text = document.text
    lo, hi = max(0, start - CONTEXT_CHARS), min(len(text), end + CONTEXT_CHARS)
    # Cut the context at whitespace so no word is shown in part.
    if lo > 0:
        lo = next((i + 1 for i in range(lo, start) if text[i].isspace()), lo)
    if hi < len(text):
        hi = next((i for i in range(hi, end, -1) if text[i].isspace()), hi)
    meta = " · ".join(x for x in (document.source, document.date, document.place) if x)
    return (
        f'<section class="qa-doc" aria-label="Passage in its report"><h3>{esc(document.title)}</h3>'
        f'<p class="qa-meta">{esc(meta)}</p>{_told(text, start, end, document.date)}'
        f'<div class="qa-text">{"… " if lo > 0 else ""}{esc(text[lo:start])}'
        f'<mark id="qa-passage">{esc(text[start:end])}</mark>{esc(text[end:hi])}{" …" if hi < len(text) else ""}'
        "</div></section>"
    )


def _told(text: str, start: int, end: int, report_date: str) -> str:
    """Who the passage says is its source and when its event happened, as its citation says
    (the sentence before it lends a "He said" its speaker)."""
    window = max(0, start - CONTEXT_CHARS)
    before = split_sentences(text[window:start])
    previous = text[window + before[-1].start : window + before[-1].end] if before else ""
    said = attribution_in_context(text[start:end], previous)
    when = event_date(text[start:end], report_date)
    told = [f"source: {said.words}" if said else "", f"event: {when.words} ({when.value})" if when else ""]
    return f'<p class="qa-meta">{esc(" · ".join(x for x in told if x))}</p>' if any(told) else ""


def timeline_summary(line: Timeline | None, listed: int | None = None) -> str:
    """The line above the chart: how many entries, from how many reports, how many listed (the
    first `listed` of those the Timeline holds)."""
    if line is None:
        return '<p class="qa-empty">Choose a place, an outlet or dates (or none) and show the timeline.</p>'
    about = f" ({line.filters.describe()})" if line.filters else ""
    entries = f"{line.total:,} {'entry' if line.total == 1 else 'entries'}"
    told = f"{entries} from {quantity(line.reports, 'report')}{about}: {quantity(line.claims, 'figure')}, "
    told += quantity(line.events, "event")
    shown = min(len(line.entries), listed or len(line.entries))
    if shown < line.total:
        told += f"; the first {shown:,} are listed"
    if line.placed_by_report:
        told += f". {line.placed_by_report:,} dated by their report only (marked “report date”, not in the chart)"
    return f'<p class="qa-meta" id="qa-tl-count">{esc(told)}.</p>'


def timeline_html(line: Timeline | None, listed: int | None = None) -> str:
    """The timeline's list of its first `listed` entries (all it holds by default): one button
    per entry (day, what, place, outlet, the sentence and its citation) that opens the sentence
    in its report (see TIMELINE_JS)."""
    if line is None:
        return '<section class="qa-timeline" aria-label="Timeline"></section>'
    if not line.entries:
        return (
            '<section class="qa-timeline" aria-label="Timeline"><p class="qa-empty">'
            "No figure or event of these reports falls inside the filters.</p></section>"
        )
    items = []
    for e in line.entries[:listed]:
        item = e.item
        marked = ' <span class="qa-tl-report">report date</span>' if e.placed_by == "report" else ""
        where = f" in {item.place}" if item.place else ""
        outlet = " · ".join(x for x in (e.source, e.date) if x) or e.title
        said = f" · {item.attribution}" if item.attributed_to else ""
        if e.also_carried_by:
            said += f" · also carried by: {', '.join(e.also_carried_by)}"
        items.append(
            f'<li><button type="button" class="qa-tl-entry qa-tl-{e.kind}" data-doc="{esc(item.doc_id)}" '
            f'data-start="{item.start}" data-end="{item.end}" title="Open this sentence in its report">'
            f'<span class="qa-tl-day">{esc(e.day)}</span>{marked} '
            f'<strong>{esc(e.describe())}</strong>{esc(where)} '
            f'<span class="qa-meta">{esc(outlet)}{esc(said)}</span>'
            f"<blockquote>{esc(item.text)}</blockquote>"
            f'<span class="qa-meta qa-tl-cite">[{esc(item.doc_id)}:{item.start}-{item.end}]</span></button></li>'
        )
    return f'<section class="qa-timeline" aria-label="Timeline"><ol>{"".join(items)}</ol></section>'


#: The chart's colours, one per outlet in the order of their names (Tableau 20's, darker first).
PALETTE = (
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
    "#aec7e8", "#ffbb78", "#98df8a", "#ff9896", "#c5b0d5", "#c49c94", "#f7b6d2", "#c7c7c7", "#dbdb8d", "#9edae5",
)


def outlet_colors(frame: Any) -> dict[str, str]:
    """The colour of each outlet in the chart's data (the palette's, over again past 20 outlets)."""
    outlets = sorted(set(frame["Outlet"]), key=str.casefold)
    return {outlet: PALETTE[i % len(PALETTE)] for i, outlet in enumerate(outlets)}


def legend_html(colors: dict[str, str]) -> str:
    """The chart's legend, as wrapping HTML (the chart's own is one row, cut off on a phone)."""
    if not colors:
        return ""
    keys = "".join(
        f'<li><span class="qa-tl-swatch" style="background:{color}" aria-hidden="true"></span>{esc(outlet)}</li>'
        for outlet, color in colors.items()
    )
    return f'<ul class="qa-tl-legend" aria-label="Outlets in the chart">{keys}</ul>'


#: Most entries the Timeline tab's chart is drawn from (FA-KES's Aleppo has 1,481).
CHART_ENTRIES = 5_000
#: The chart's columns: a point per figure, at its day, its value, in its outlet's colour.
CHART_COLUMNS = ("Day", "Figure", "Outlet", "What", "Place")


def timeline_frame(line: Timeline | None) -> Any:
    """The chart's data: one row per figure shown that is dated to its own day or a few days
    (events have no number), its value the low end of its range (the high end when only that is
    known). Figures dated by their report only are left to the list: most are whole-war tolls
    ("more than 6 million are displaced"; up to 6,000,001 for Aleppo on FA-KES, where the
    figures of a day reach 3,000), which would flatten every other point to the axis."""
    import pandas as pd

    rows = []
    for e in line.entries if line is not None else []:
        value = e.chart_value
        if value is not None and e.placed_by == "event":
            rows.append((pd.Timestamp(e.day), value, e.source or "(no outlet)", e.describe(), e.item.place))
    columns = list(zip(*rows)) if rows else [[]] * len(CHART_COLUMNS)
    # Typed even when empty: the chart reads its axes' kinds (temporal, quantitative) from them.
    types = ("datetime64[ns]", "int64", "string", "string", "string")
    series = {name: pd.Series(list(values), dtype=kind) for name, values, kind in zip(CHART_COLUMNS, columns, types)}
    return pd.DataFrame(series)
