"""Figures side by side: a how-many answer that the retrieved reports give differently.

When the answer to "How many civilians were killed in Maarat al Numan?" is a figure that a
report states (a claim, see qa.claims), every other retrieved report that states a figure for
the same thing is listed with it: the same `who` and `what`, the same place (the words of the
shorter place name all in the other, generic words such as "province" or "northern" aside), an
event date that overlaps at the same scale (a day's toll is no month's; a claim that dates
nothing is taken to be about the days just before its report), and a sentence that, with the
one before it, holds the question's event words as the answer's own must. A story several
outlets carried (one group, see qa.groups) counts once. With two or more reports the answer
says so instead of picking one: "Reports differ: at least 16 civilians killed ... [1]; 12
according to ... [2]", or "3 reports, all: at least 16 ..." when they agree.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from .answer_features import coverage_of
from .answer_weights import WEIGHTS
from .claims import WHO_STEMS
from .dates import days_of
from .text import content_terms, spelled_like
from .statements import WHAT, Claim, Figure
from .types import Answer, Citation, Document, place_key

if TYPE_CHECKING:
    from .question import QuestionInfo
    from .retrieval import Hit

# The most figures an answer's text lists (all are in Answer.figures).
SHOWN = 5
# A claim without an event date is about this many days up to its report's date.
UNDATED_DAYS = 3
_GENERIC_PLACE = set(
    "syria syrian province city town village countryside district area region governorate northern southern "
    "eastern western north south east west northeast northwest southeast southwest central the of al el rural".split()
)


def asked_key(info: QuestionInfo) -> tuple[str | None, str] | None:
    """What a how-many question counts, as (who or None for anyone, what), or None when it asks
    no casualty action."""
    if info.kind != "number" or info.action is None:
        return None
    who = next((kind for kind, stems in WHO_STEMS.items() if info.count and info.count in stems), None)
    return (None if who == "people" else who), WHAT[info.action]


def compare(
    answer: Answer,
    info: QuestionInfo,
    hits: list[Hit],
    claims: Mapping[str, tuple[Document, list[Claim]]],
    group_of: Callable[[str], str] = lambda doc_id: doc_id,
    carried_by: Callable[[str], list[str]] = lambda doc_id: [],
    max_words: int = 60,
) -> Answer:
    """The answer with its figures side by side (see the module's docstring), or as it was when
    it is no figure of a claim, or no other report gives one.

    Args:
        claims: doc id -> (document, its claims), for the retrieved reports.
        group_of: the story a report belongs to (reports of one story count once).
        carried_by: the other outlets that carried a report's story.
        max_words: the longest answer, in words (setting answer.max_words).
    """
    key = asked_key(info)
    if key is None or answer.abstained or not answer.citations or not answer.short_answer:
        return answer
    first = answer.citations[0]
    anchor = _anchor(first, answer.short_answer, claims.get(first.doc_id, (None, []))[1], key)
    if anchor is None:
        return answer
    chosen: list[tuple[Claim, Document, float]] = [(anchor, claims[first.doc_id][0], first.score)]
    seen = {group_of(anchor.doc_id)}
    for hit in hits:
        group = group_of(hit.doc_id)
        if group in seen or hit.doc_id not in claims:
            continue
        doc, stated = claims[hit.doc_id]
        # Of this passage's claims of the same count, the one whose sentence (with the one before
        # it) holds most of the question's event words, as the answer's own sentence must.
        held = [
            (coverage_of(info, set(content_terms(_in_context(hit, c)))), -k, c)
            for k, c in enumerate(stated)
            if hit.start <= c.start < hit.end and same_count(anchor, c, chosen[0][1], doc)
        ]
        best = max(held, key=lambda x: x[:2], default=None)
        if best is not None and best[0] >= WEIGHTS.event_coverage:
            chosen.append((best[2], doc, hit.score))
            seen.add(group)
    if len(chosen) < 2:
        return answer
    figures = [
        Figure(n, claim, doc.source, doc.date, doc.title, carried_by(claim.doc_id))
        for n, (claim, doc, _) in enumerate(chosen, 1)
    ]
    citations = [_citation(f, doc, score) for f, (_, doc, score) in zip(figures, chosen)]
    answer.figures, answer.citations = figures, citations
    answer.text = _said(figures, answer.figures_agree, max_words)
    return answer


def _anchor(citation: Citation, short: str, stated: list[Claim], key: tuple[str | None, str]) -> Claim | None:
    """The claim the answer's short answer is: its figure, in the cited sentence, counting what
    was asked, the same words ("at least 16") or the same value ("16" for "sixteen")."""
    from .claims import read_figure

    who, what = key
    value = read_figure(short)
    for claim in stated:
        inside = citation.start <= claim.figure_start and claim.figure_end <= citation.end
        same = claim.figure.lower() == short.strip().lower() or (value is not None and value == (claim.low, claim.high, claim.approx))
        if inside and same and claim.what == what and (who is None or claim.who == who):
            return claim
    return None


def _in_context(hit: Hit, claim: Claim) -> str:
    """A claim's sentence with the one before it, as far as the passage holds it."""
    sentences = hit.sentences
    k = next((i for i, s in enumerate(sentences) if s.start == claim.start), None)
    if not k:
        return claim.text
    before = sentences[k - 1]
    return hit.text[before.start - hit.start : before.end - hit.start] + " " + claim.text


def same_count(a: Claim, b: Claim, doc_a: Document, doc_b: Document) -> bool:
    """Whether two claims count the same thing: who and what, the same place (the words of the
    shorter one all in the other: "Maarat al Numan" and "Maarat al-Numan, Idlib", not "Maarat
    Misrin"), event dates that overlap at the same scale (a day's toll is not a month's)."""
    if a.key != b.key:
        return False
    days_a, days_b = _days(a, doc_a), _days(b, doc_b)
    if days_a is not None and days_b is not None and (_scale(days_a) != _scale(days_b) or not _dates_meet(days_a, days_b)):
        return False
    return _places_meet(_place_words(a.place), _place_words(b.place))


def _places_meet(words_a: set[str], words_b: set[str]) -> bool:
    if not words_a or not words_b:
        return True  # a place unsaid is no other place
    fewer, more = sorted((words_a, words_b), key=len)
    # "Khan Sheikhoun" ~ "Khan Sheikhun", "Idlibs" (Idlib's, its apostrophe lost) ~ "Idlib".
    return all(w in more or spelled_like(w, more) for w in fewer)


def _place_words(place: str) -> set[str]:
    words = {w.removesuffix("s") if len(w) > 4 else w for w in place_key(place).split()}
    return words - _GENERIC_PLACE


# The widths of the scales an event date is given at: a day (or a few), a month, a year, longer.
_SCALES = (7, 31, 366)


def _scale(days: tuple[dt.date, dt.date]) -> int:
    width = (days[1] - days[0]).days + 1
    return next((i for i, most in enumerate(_SCALES) if width <= most), len(_SCALES))


def _days(claim: Claim, doc: Document) -> tuple[dt.date, dt.date] | None:
    """The days a claim's event may have happened on: its event date, else up to UNDATED_DAYS
    days to its report's date; None when neither is known."""
    if claim.event_date:
        return days_of(claim.event_date)
    report = days_of(doc.date) if doc.date else None
    if report is None:
        return None
    return report[0] - dt.timedelta(days=UNDATED_DAYS), report[1]


def _dates_meet(a: tuple[dt.date, dt.date], b: tuple[dt.date, dt.date]) -> bool:
    """Whether two spans of days overlap; days a day apart meet too (a dateline's day against
    "on Monday", a report filed after midnight)."""
    slack = dt.timedelta(days=1) if _scale(a) == _scale(b) == 0 else dt.timedelta(0)
    return a[0] <= b[1] + slack and b[0] <= a[1] + slack


def _citation(figure: Figure, doc: Document, score: float) -> Citation:
    claim = figure.claim
    return Citation(
        n=figure.n,
        doc_id=claim.doc_id,
        title=doc.title,
        source=doc.source,
        date=doc.date,
        text=claim.text,
        start=claim.start,
        end=claim.end,
        score=round(score, 4),
        url=doc.url,
        attribution=claim.attribution,
        attributed_to=claim.attributed_to,
        event_date=claim.event_date,
        event_date_words=claim.event_date_words,
        also_carried_by=figure.also_carried_by,
    )


def _said(figures: list[Figure], agree: bool, max_words: int) -> str:
    """ "Reports differ: at least 16 civilians killed in X on 28 August 2019 according to SOHR (TRT
    World, 2019-08-29) [1]; 12 according to ... (Reuters, 2019-08-28) [2]." in at most `max_words`
    words: past them, every figure is kept with less said of each (who said it, then the report,
    then the place and day), and only then are the last ones left to the table ("and 2 more")."""
    first = figures[0].claim
    text = ""
    for shown in range(min(len(figures), SHOWN), 0, -1):
        more = f"; and {len(figures) - shown} more" if len(figures) > shown else ""
        for said_by, reports, place_day in _DETAIL:
            about = first.describe()
            when = _when(first)
            if place_day and first.place:
                about += f" in {first.place}"
            if place_day and when:
                about += f" {when}"
            if agree:
                outlets = "; ".join(f"{_outlet(f)} [{f.n}]" if reports else f"[{f.n}]" for f in figures[:shown])
                text = f"{len(figures)} reports, all: {about} ({outlets}{more})."
            else:
                parts = []
                for k, f in enumerate(figures[:shown]):
                    part = about if k == 0 else f.claim.figure
                    if f.claim.attributed_to and (said_by == "all" or (said_by == "first" and k == 0)):
                        part += f" according to {f.claim.attributed_to}"
                    parts.append(f"{part} ({_outlet(f)}) [{f.n}]" if reports else f"{part} [{f.n}]")
                text = "Reports differ: " + "; ".join(parts) + more + "."
            if len(text.split()) <= max_words:
                return text
    return text


# What a figures answer says of each figure, from the most to the least: who said it (all, the
# first, none), the report's outlet and date, the place and day.
_DETAIL = [("all", True, True), ("first", True, True), ("none", True, True), ("none", False, True), ("none", False, False)]


def _when(claim: Claim) -> str:
    """ "on 28 August 2019", "in April 2019", "in 2017", "from 21 April to 30 April 2019"."""
    from .eventdates import EventDate

    days = days_of(claim.event_date) if claim.event_date else None
    if days is None:
        return ""
    told = EventDate(days[0], days[1], claim.event_date_words).told
    if days[0] == days[1]:
        return f"on {told}"
    return f"in {told}" if " to " not in told else f"from {told}"


def _outlet(figure: Figure) -> str:
    """The report, shortly: its outlet and date, else the first words of its title, else its id."""
    title = figure.title.split()
    where = figure.source or (" ".join(title[:6]) + (" …" if len(title) > 6 else "")) or figure.claim.doc_id
    return f"{where}, {figure.date}" if figure.date else where
