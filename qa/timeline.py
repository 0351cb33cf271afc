"""A timeline of what the reports say happened: their figures (qa.claims) and events (qa.events), by day.

Each entry is placed on a day: its event's own first day when its event date is a day or a
range of at most EVENT_DAYS days (`placed_by` "event"), else its report's date (`placed_by`
"report": an undated claim, or one dated only to a month, a year or "since April"). Entries with
neither are left out and counted (`Timeline.undated`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from .errors import InputError
from .events import EVENT_DAYS
from .dates import days_of
from .statements import Claim, Event, Timeline, TimelineEntry
from .types import Document, Filters, day_number, outlet_key, place_terms


def placement(item: Claim | Event, report_date: str) -> tuple[str, str] | None:
    """(the ISO day an entry is placed on, "event" or "report"), or None when neither it nor
    its report has a date."""
    days = days_of(item.event_date) if item.event_date else None
    if days is not None and (days[1] - days[0]).days < EVENT_DAYS:
        return days[0].isoformat(), "event"
    if day_number(report_date):
        return report_date, "report"
    return None


def build_timeline(
    reports: Mapping[str, tuple[Document, list[Claim], list[Event]]],
    filters: Filters,
    limit: int,
    group_of: Callable[[str], str] = lambda doc_id: doc_id,
) -> Timeline:
    """The timeline of the given reports (doc id -> (document, claims, events)) inside `filters`.

    An outlet filter keeps reports from those outlets; a place filter keeps reports whose place
    matches it and, in other reports, the claims and events whose own place does; a date range
    keeps the entries placed on a day inside it (their event's day, not their report's date).
    One story carried by several outlets (`group_of`, see qa.groups) is one entry for what it
    says on a day, the others' outlets in its `also_carried_by`; where a copy says otherwise (a
    re-filed update's new toll) that is an entry of its own.

    Raises:
        InputError: `limit` is not a whole number of at least 1, or an outlet or place names
            nothing in these reports (with the closest ones it may have meant).
    """
    if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
        raise InputError(f"limit must be a whole number of at least 1, got {limit!r}")
    check(reports, filters)
    low, high = filters.day_range
    places = filters.place_keys
    entries: list[TimelineEntry] = []
    undated = 0
    for doc, claims, events in reports.values():
        if filters.sources and outlet_key(doc.source) not in filters.source_keys:
            continue
        report_in_place = not places or bool(set(place_terms(doc.place)) & places)
        for item in [*claims, *events]:
            if not report_in_place and not set(place_terms(item.place)) & places:
                continue
            placed = placement(item, doc.date)
            if placed is None:
                undated += 1
                continue
            day, placed_by = placed
            if filters.dated and not low <= day_number(day) <= high:
                continue
            entries.append(TimelineEntry(item, day, placed_by, doc.source, doc.date, doc.title, doc.url))
    entries.sort(key=_order)
    reporting = len({e.item.doc_id for e in entries})
    entries, carried_again = _once_per_story(entries, group_of)
    return Timeline(
        entries=entries[:limit],
        filters=filters,
        total=len(entries),
        limit=limit,
        reports=reporting,
        claims=sum(e.kind == "claim" for e in entries),
        events=sum(e.kind == "event" for e in entries),
        placed_by_report=sum(e.placed_by == "report" for e in entries),
        undated=undated,
        carried_again=carried_again,
    )


def _once_per_story(entries: list[TimelineEntry], group_of: Callable[[str], str]) -> tuple[list[TimelineEntry], int]:
    """The entries (in order) with each story's statement of a day once: the first copy kept, the
    others' outlets added to its `also_carried_by`; and how many copies were left out."""
    kept: dict[tuple[str, ...], TimelineEntry] = {}
    out: list[TimelineEntry] = []
    for entry in entries:
        item = entry.item
        key = (group_of(item.doc_id), entry.day, entry.kind, entry.describe(), item.place)
        first = kept.get(key)
        if first is None or first.item.doc_id == item.doc_id:
            kept.setdefault(key, entry)
            out.append(entry)
        elif entry.source and entry.source.casefold() != first.source.casefold() and entry.source not in first.also_carried_by:
            first.also_carried_by.append(entry.source)
    return out, len(entries) - len(out)


def _order(entry: TimelineEntry) -> tuple[str, str, str, str, str, int, int]:
    """By day, then report (its date, outlet, title, id), then reading order in the report."""
    item = entry.item
    within = item.figure_start if isinstance(item, Claim) else item.start
    return entry.day, entry.date, entry.source.casefold(), entry.title, item.doc_id, item.start, within


def check(reports: Mapping[str, tuple[Document, list[Claim], list[Event]]], filters: Filters) -> None:
    """Refuse an outlet no report is from, or a place no report and no claim or event names,
    with the closest known ones (the same words as a question's filters: see
    `qa.lexical.unknown_values`).

    Raises:
        InputError: naming the value.
    """
    if not (filters.sources or filters.places):
        return
    if not reports:
        raise InputError("the index is empty")
    from collections import Counter

    from .lexical import unknown_values
    from .store import filter_fields

    sources: Counter[str] = Counter()
    names: dict[str, str] = {}
    places: Counter[str] = Counter()
    for doc, claims, events in reports.values():
        for place in {doc.place} | {item.place for item in [*claims, *events]}:
            meta = filter_fields({"source": doc.source, "place": place})
            sources[meta["source_key"]] += 1
            names.setdefault(meta["source_key"], doc.source)
            places.update(meta.get("place_terms", ()))
    problem = unknown_values(filters, sources, names, places)
    if problem:
        raise InputError(problem)
