"""When a sentence says its event happened, resolved against the report's own date.

A report of Thursday 2019-08-29 that says "on Wednesday" means 2019-08-28; "Last week" is the
week before the report's week; "Since April" and "late April" are April 2019 (the latest April
not after the report). Absolute dates ("on August 28, 2019", "in 2017") are read with
python-dateutil, the report's date filling what they leave out (a month without a year).
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass

_MONTH_NAMES = r"January|February|March|April|May|June|July|August|September|October|November|December"
_MONTHS = rf"(?:{_MONTH_NAMES}|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept?|Oct|Nov|Dec)\.?"
_DAYS = r"Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday"
_PART = r"(?:early|late|mid|the end of|the beginning of|the start of)"
# Longest forms first: "August 28, 2019" before "August", "Wednesday night" before "Wednesday".
EXPRESSION = re.compile(
    rf"\b(?:(?:on|since|in|from|by|until|last|this|early|late)\s+)*"
    rf"(?:"
    rf"(?:{_MONTHS})\s+\d{{1,2}}(?:st|nd|rd|th)?(?:,?\s+\d{{4}})?"  # August 28, 2019
    rf"|\d{{1,2}}\s+(?:{_MONTHS})(?:,?\s+\d{{4}})?"  # 28 August 2019
    rf"|(?:{_PART}[\s-]+)?(?:{_MONTHS})(?:\s+\d{{4}})?"  # late April, April 2019
    rf"|(?:{_DAYS})(?:\s+(?:morning|afternoon|evening|night))?"  # Wednesday night
    rf"|(?:last|this|next)\s+(?:week|month|year|weekend)"
    rf"|yesterday|today|tonight"
    rf"|(?<![\w-])(?:19|20)\d{{2}}(?![\w-])"  # in 2017 ("a 30-year campaign" is no date)
    rf")\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class EventDate:
    """A resolved date: `start` to `end` inclusive (one day when they agree), the words it came from."""

    start: dt.date
    end: dt.date
    words: str
    since: bool = False  # "Since April": from then until the report

    @property
    def value(self) -> str:
        """ISO: a day "2019-08-28", a month "2019-04", a year "2017", else "start/end"."""
        if self.start == self.end:
            return self.start.isoformat()
        if self.start.day == 1 and self.end == _month_end(self.start):
            return self.start.strftime("%Y-%m")
        if (self.start.month, self.start.day, self.end.month, self.end.day) == (1, 1, 12, 31) and self.start.year == self.end.year:
            return str(self.start.year)
        return f"{self.start.isoformat()}/{self.end.isoformat()}"

    @property
    def told(self) -> str:
        """The days in words: "28 August 2019", "April 2019", "2017", "21 April to 30 April 2019"."""
        if self.start == self.end:
            return f"{self.start.day} {self.start:%B %Y}"
        if self.value == self.start.strftime("%Y-%m"):
            return self.start.strftime("%B %Y")
        if len(self.value) == 4:
            return self.value
        return f"{self.start.day} {self.start:%B} to {self.end.day} {self.end:%B %Y}"

    def describe(self) -> str:
        """For an answer: "on Wednesday, 28 August 2019", "since April 2019"."""
        told = self.told
        words = self.words
        if re.search(r"\d{4}", words):  # "on August 28, 2019", "in 2017": the words say it all
            return words
        if self.since:
            return f"since {told}"
        return f"{words}, {told}"

    def to_dict(self) -> dict[str, str]:
        return {"value": self.value, "words": self.words}


def event_dates(sentence: str, report_date: str) -> list[EventDate]:
    """Every date the sentence states, resolved against the report's ISO date (relative ones are
    left out when the report has no date)."""
    anchor = _day(report_date)
    out = []
    for match in EXPRESSION.finditer(sentence):
        resolved = _resolve(match.group(), anchor)
        if resolved is not None:
            out.append(resolved)
    return out


def event_date(sentence: str, report_date: str) -> EventDate | None:
    """The sentence's first stated date: what dates its event ("on Thursday", "Since April")."""
    found = event_dates(sentence, report_date)
    return found[0] if found else None


def _resolve(words: str, anchor: dt.date | None) -> EventDate | None:
    from dateutil import parser
    from dateutil.relativedelta import relativedelta, weekday

    text = " ".join(words.split())
    low = text.lower()
    core = re.sub(r"^(?:(?:on|since|in|from|by|until)\s+)+", "", low)
    since = low.startswith("since ")
    if re.fullmatch(r"(?:19|20)\d{2}", core):
        year = int(core)
        return EventDate(dt.date(year, 1, 1), dt.date(year, 12, 31), text, since)
    if anchor is None:
        if re.search(r"\d{4}", core):  # an absolute day or month stands without the report's date
            try:
                day = parser.parse(core, default=dt.datetime(1900, 1, 1)).date()
            except (ValueError, OverflowError):
                return None
            return _day_or_month(day, core, text, since)
        return None
    if core in ("today", "tonight"):
        return EventDate(anchor, anchor, text)
    if core == "yesterday":
        day = anchor - dt.timedelta(days=1)
        return EventDate(day, day, text)
    week = re.fullmatch(r"(last|this|next)\s+(week|weekend|month|year)", core)
    if week:
        return _period(week.group(1), week.group(2), anchor, text)
    named = re.match(rf"({_DAYS})", core, re.IGNORECASE)
    if named:
        # News tells of days just past: the latest such day not after the report.
        index = list(calendar.day_name).index(named.group(1).capitalize())
        day = anchor + relativedelta(weekday=weekday(index)(-1))
        return EventDate(day, day, text, since)
    part = re.match(rf"{_PART}[\s-]+", core)
    rest = core[part.end() :] if part else core
    try:
        parsed = parser.parse(rest, default=dt.datetime(anchor.year, anchor.month, 1)).date()
    except (ValueError, OverflowError):
        return None
    if not re.search(r"\d{4}", rest) and parsed > anchor:
        parsed = parsed.replace(year=parsed.year - 1)  # "in November", told in February: last November
    found = _day_or_month(parsed, rest, text, since)
    if part and found.start != found.end:
        third = {"early": (1, 10), "the beginning of": (1, 10), "the start of": (1, 10), "mid": (11, 20)}
        low_day, high_day = third.get(part.group().strip(" -"), (21, found.end.day))
        return EventDate(found.start.replace(day=low_day), found.start.replace(day=min(high_day, found.end.day)), text, since)
    return found


def _day_or_month(day: dt.date, core: str, text: str, since: bool) -> EventDate:
    if re.search(r"\b\d{1,2}(?:st|nd|rd|th)?\b(?!\d)", re.sub(r"\d{4}", "", core)):
        return EventDate(day, day, text, since)
    first = day.replace(day=1)
    return EventDate(first, _month_end(first), text, since)


def _period(which: str, unit: str, anchor: dt.date, text: str) -> EventDate:
    step = {"last": -1, "this": 0, "next": 1}[which]
    if unit in ("week", "weekend"):
        monday = anchor - dt.timedelta(days=anchor.weekday()) + dt.timedelta(weeks=step)
        if unit == "weekend":
            return EventDate(monday + dt.timedelta(days=5), monday + dt.timedelta(days=6), text)
        return EventDate(monday, monday + dt.timedelta(days=6), text)
    if unit == "month":
        month = (anchor.year * 12 + anchor.month - 1) + step
        first = dt.date(month // 12, month % 12 + 1, 1)
        return EventDate(first, _month_end(first), text)
    year = anchor.year + step
    return EventDate(dt.date(year, 1, 1), dt.date(year, 12, 31), text)


def _month_end(first: dt.date) -> dt.date:
    return first.replace(day=calendar.monthrange(first.year, first.month)[1])


def _day(iso: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(iso) if re.fullmatch(r"\d{4}-\d{2}-\d{2}", iso or "") else None
    except ValueError:
        return None
