"""What reports state, as plain data: the figures they give (`Claim`), the events they date
(`Event`), a how-many answer's figures side by side (`Figure`) and the timeline of them
(`TimelineEntry`, `Timeline`). The rules that find them are qa.claims, qa.events, qa.figures and
qa.timeline; the spans and filters they build on are qa.types'."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

from .types import Filters, Span

#: What happened to those a casualty or displacement figure counts (see qa.claims; who they are
#: is one of qa.claims.WHO_STEMS).
WHAT = ("killed", "injured", "displaced", "captured")


@dataclass
class Claim(Span):
    """A casualty or displacement figure a sentence states: `text` is the sentence (the span),
    `figure` the number as written ("at least 16", at `figure_start:figure_end` of the report).

    The value is `low` to `high`, inclusive: "16" is 16-16, "at least 16" 16-None (no upper
    bound), "up to 16" None-16, "hundreds" 100-999; `approx` for "about 16". What it counts is
    `who` (a key of qa.claims.WHO_STEMS) and `what` happened to them (one of WHAT).
    """

    figure: str
    figure_start: int
    figure_end: int
    low: int | None
    high: int | None
    who: str
    what: str
    approx: bool = False
    place: str = ""  # the place the sentence names for it, else the report's
    event_date: str = ""  # resolved as Citation.event_date; "" when the sentence dates nothing
    event_date_words: str = ""
    attributed_to: str = ""  # who the sentence says is its source ("SOHR"), as Citation's
    attribution: str = ""

    @property
    def key(self) -> tuple[str, str]:
        """What it counts: (who, what)."""
        return self.who, self.what

    @property
    def value(self) -> str:
        """The value in words: "16", "at least 16", "up to 16", "about 16", "100-999"."""
        low, high = self.low, self.high
        if low is not None and low == high:
            return f"about {low:,}" if self.approx else f"{low:,}"
        if high is None:
            return f"at least {low:,}"
        if low is None:
            return f"up to {high:,}"
        return f"{low:,}-{high:,}"

    def describe(self) -> str:
        """ "at least 16 civilians killed", "hundreds of people killed" (the figure as written, what it counts)."""
        of = " of" if re.search(r"(?:dozens|scores|hundreds|thousands|millions)$", self.figure, re.IGNORECASE) else ""
        return f"{self.figure}{of} {self.who} {self.what}"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self) | {"value": self.value}


@dataclass
class Event(Span):
    """A dated sentence that states an event but no figure (see qa.timeline): "Rebels captured
    the town of X on Tuesday". `text` is the sentence, `what` the event's verb as written."""

    what: str
    place: str = ""  # the place the sentence names, else the report's
    event_date: str = ""  # resolved as Citation.event_date: a day or a range of a few days
    event_date_words: str = ""
    attributed_to: str = ""
    attribution: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class TimelineEntry:
    """One claim or event on a timeline, with its report and the day it is placed on: the
    event's own first day (`placed_by` "event"), or its report's date when the sentence dates
    it to no day or short range (`placed_by` "report")."""

    item: "Claim | Event"
    day: str  # ISO day
    placed_by: str  # "event" | "report"
    source: str  # the report's outlet
    date: str  # the report's date
    title: str
    url: str = ""
    # The other outlets of its story (qa.groups) that say the same on the same day: one entry.
    also_carried_by: list[str] = field(default_factory=list)

    @property
    def kind(self) -> str:
        """ "claim" (a figure) or "event"."""
        return "claim" if isinstance(self.item, Claim) else "event"

    @property
    def chart_value(self) -> int | None:
        """The figure as one number for a chart: its low end, or its high end when only that is known."""
        if not isinstance(self.item, Claim):
            return None
        return self.item.low if self.item.low is not None else self.item.high

    def describe(self) -> str:
        """ "at least 16 civilians killed" for a claim, the verb ("captured") for an event."""
        return self.item.describe() if isinstance(self.item, Claim) else self.item.what

    def to_dict(self) -> dict[str, Any]:
        item = self.item
        figure = (
            {"figure": item.figure, "value": item.value, "low": item.low, "high": item.high, "who": item.who}
            if isinstance(item, Claim)
            else {"figure": "", "value": "", "low": None, "high": None, "who": ""}
        )
        return {
            "kind": self.kind,
            "day": self.day,
            "placed_by": self.placed_by,
            **figure,
            "what": item.what,
            "place": item.place,
            "event_date": item.event_date,
            "event_date_words": item.event_date_words,
            "attributed_to": item.attributed_to,
            "source": self.source,
            "date": self.date,
            "title": self.title,
            "url": self.url,
            "doc_id": item.doc_id,
            "start": item.start,
            "end": item.end,
            "text": item.text,
            "also_carried_by": self.also_carried_by,
        }


@dataclass
class Timeline:
    """The claims and events of the filtered reports, ordered by day, then report, then place in
    the report; `entries` holds the first `limit` of `total`."""

    entries: list[TimelineEntry]
    filters: Filters
    total: int  # entries inside the filters, shown or not
    limit: int
    reports: int  # reports with an entry inside the filters
    claims: int  # of total
    events: int  # of total
    placed_by_report: int  # of total: placed on their report's date
    undated: int = 0  # claims and events left out: neither they nor their report have a date
    carried_again: int = 0  # entries left out as another outlet's copy of one story's entry (qa.groups)

    @property
    def truncated(self) -> bool:
        return self.total > len(self.entries)

    def to_dict(self) -> dict[str, Any]:
        return {
            "filters": self.filters.to_dict(),
            "total": self.total,
            "shown": len(self.entries),
            "limit": self.limit,
            "truncated": self.truncated,
            "reports": self.reports,
            "claims": self.claims,
            "events": self.events,
            "placed_by_report": self.placed_by_report,
            "undated": self.undated,
            "carried_again": self.carried_again,
            "entries": [e.to_dict() for e in self.entries],
        }


@dataclass
class Figure:
    """One report's figure for what a how-many question asks, as an answer lists them side by
    side (see qa.figures): the claim, its citation's number `n` in the answer, and its report."""

    n: int
    claim: Claim
    source: str  # the report's outlet
    date: str  # the report's date
    title: str
    also_carried_by: list[str] = field(default_factory=list)  # outlets of the same story (qa.groups)

    def to_dict(self) -> dict[str, Any]:
        claim = self.claim
        return {
            "n": self.n,
            "figure": claim.figure,
            "value": claim.value,
            "low": claim.low,
            "high": claim.high,
            "who": claim.who,
            "what": claim.what,
            "place": claim.place,
            "event_date": claim.event_date,
            "attributed_to": claim.attributed_to,
            "source": self.source,
            "date": self.date,
            "title": self.title,
            "doc_id": claim.doc_id,
            "start": claim.start,
            "end": claim.end,
            "also_carried_by": self.also_carried_by,
            "approx": claim.approx,
            "event_date_words": claim.event_date_words,
            "attribution": claim.attribution,
            "text": claim.text,
        }
