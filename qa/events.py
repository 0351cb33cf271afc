"""Events: dated sentences that state no figure but say that something happened, read at ingest.

An event is a sentence with an event date that resolves to one day or a range of at most
EVENT_DAYS days ("on Tuesday", "last weekend", "on August 28, 2019"; not "in April" or "since
2011", see qa.eventdates) and one of the EVENT_VERBS ("captured", "shelled", "exploded", ...).
Headings and photo credits are no events, a sentence with a figure is its claims already
(qa.claims), and one that says "killed" or "wounded" with a number is a figure too. Events are
kept in the document record with the claims (see qa.store.records.claim_fields), so a replaced
or deleted report takes its events with it; they are what qa.timeline shows besides the figures. Measured on FA-KES in docs/timeline.md.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from .statements import Event

if TYPE_CHECKING:
    from .types import Sentence

#: The longest event date, in days, that an event may have and a timeline entry is placed by ("last week" is 7).
EVENT_DAYS = 7
#: Verbs that say an event happened, as news writes them (past tense, active or passive).
EVENT_VERBS = (
    "ambushed", "attacked", "besieged", "blew up", "bombarded", "bombed", "captured", "clashed", "destroyed",
    "detonated", "downed", "entered", "evacuated", "exploded", "fired", "hit", "killed", "launched", "liberated",
    "overran", "pounded", "raided", "recaptured", "retook", "seized", "shelled", "shot down", "stormed", "struck",
    "surrounded", "targeted", "took control", "withdrew", "wounded",
)
#: Verbs of casualties: a sentence with one of them and a number is a figure (qa.claims), read or
#: not ("killed at least 72 people including several children"), never an event.
CASUALTY_VERBS = ("killed", "wounded")
_EVENT_VERB = re.compile(r"\b(?:" + "|".join(v.replace(" ", r"\s+") for v in EVENT_VERBS) + r")\b", re.IGNORECASE)


def events_in(
    text: str,
    doc_id: str,
    report_date: str = "",
    report_place: str = "",
    figures_at: frozenset[int] = frozenset(),
    sentences: "list[Sentence] | None" = None,
) -> list[Event]:
    """Every event the report states (see the module's docstring), in reading order.

    Args:
        figures_at: the start offsets of the sentences that state a figure (their claims): no
            event is read there.
        sentences: the text's (qa.chunking.split_sentences), where the caller has them already.
    """
    from .answer_counts import numbers_in
    from .attribution import attribution_in_context
    from .chunking import split_sentences
    from .claims import place_in
    from .eventdates import event_date

    out: list[Event] = []
    sentences = split_sentences(text) if sentences is None else sentences
    for i, sentence in enumerate(sentences):
        if sentence.kind != "text" or sentence.start in figures_at:
            continue
        said = text[sentence.start : sentence.end]
        verb = _EVENT_VERB.search(said)
        if verb is None or (verb.group().lower() in CASUALTY_VERBS and numbers_in(said)):
            continue
        when = event_date(said, report_date)
        if when is None or (when.end - when.start).days >= EVENT_DAYS:
            continue
        before = text[sentences[i - 1].start : sentences[i - 1].end] if i else ""
        source = attribution_in_context(said, before)
        out.append(
            Event(
                doc_id=doc_id,
                start=sentence.start,
                end=sentence.end,
                text=said,
                what=verb.group().lower(),
                place=place_in(said) or report_place,
                event_date=when.value,
                event_date_words=when.words,
                attributed_to=source.source if source else "",
                attribution=source.words if source else "",
            )
        )
    return out
