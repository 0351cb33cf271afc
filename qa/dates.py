"""Reading the day a report is dated, or a filter names: one definition for every way in.

A date is read only when it is written in one of a few whole-day shapes (`_SHAPES`: the day,
month and year are all there), and the shape says which number is the month, so python-dateutil
never guesses: 8/29/2019 is month first (as in FA-KES), 29.08.2019 day first. Its fuzzy reading
and its defaults (a missing day, month or year taken from today) never apply: "August 2019" or
"29 August" are refused, not made into a day. Filters also take a year or a month (`read_bound`).
"""

from __future__ import annotations

import datetime as dt
import re

from .text import one_line

# A time after the day is ignored ("2019-05-22T10:00:00Z", "2019-05-22 10:00").
_ISO_DAY = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})(?:[T ][0-9:.+\-Z ]*)?", re.IGNORECASE)
_DAY = r"(?:3[01]|[12]\d|0?[1-9]| [1-9])"  # " 9": as strptime's %d, which these shapes replaced
_MONTH = r"(?:1[0-2]|0?[1-9])"
_YEAR = r"(?P<year>\d{4})"
_MONTH_NAME = r"(?:January|February|March|April|May|June|July|August|September|October|November|December)"
_MONTH_ABBREVIATION = r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)"
#: The whole-day shapes read besides ISO, each with (dayfirst, yearfirst) for dateutil.
_SHAPES = (
    (re.compile(rf"{_MONTH}/{_DAY}/{_YEAR}"), False, False),  # 8/29/2019: month first, as in FA-KES
    (re.compile(rf"{_YEAR}/{_MONTH}/{_DAY}"), False, True),  # 2019/08/29
    (re.compile(rf"{_DAY}\.{_MONTH}\.{_YEAR}"), True, False),  # 29.08.2019
    (re.compile(rf"{_DAY} (?:{_MONTH_NAME}|{_MONTH_ABBREVIATION}) {_YEAR}", re.IGNORECASE), True, False),  # 29 Aug 2019
    (re.compile(rf"{_MONTH_NAME} {_DAY},? {_YEAR}", re.IGNORECASE), False, False),  # August 29, 2019
    (re.compile(rf"{_MONTH_ABBREVIATION} {_DAY}, {_YEAR}", re.IGNORECASE), False, False),  # Aug 29, 2019
)
_YEAR_ONLY = re.compile(r"\d{4}")
_YEAR_MONTH = re.compile(r"(\d{4})-(\d{1,2})")


def parse_date(value: str) -> str:
    """The ISO day (YYYY-MM-DD) of a date written in a common way: 2019-08-29 (a time after it is
    ignored), 8/29/2019 (month first, as in FA-KES), 29 August 2019, August 29, 2019, ...

    Raises:
        ValueError: it is not a real day ("date '2019-13-45' is not a real day: month must be
            in 1..12"), or not written in a way this reads (a month or a year alone included).
    """
    value = one_line(str(value))
    iso = _ISO_DAY.fullmatch(value)
    if iso:
        try:
            return dt.date(*map(int, iso.groups())).isoformat()
        except ValueError as exc:
            raise ValueError(f"date {value!r} is not a real day: {exc}") from None
    for shape, dayfirst, yearfirst in _SHAPES:
        if match := shape.fullmatch(value):
            from dateutil import parser

            # The shape holds a day, a month and a year, so dateutil's defaults fill nothing; the
            # year is the one written (dateutil would read "1 May 0019" as 2019), and a numeric
            # shape loses its spaces (dateutil reads "2019/08/ 9" only without).
            written = value if any(c.isalpha() for c in value) else value.replace(" ", "")
            try:
                day = parser.parse(written, dayfirst=dayfirst, yearfirst=yearfirst).date()
                return day.replace(year=int(match["year"])).isoformat()
            except (ValueError, OverflowError):
                break  # 2/30/2019
    raise ValueError(f"date {value!r} is not a day written as YYYY-MM-DD (or 8/29/2019, 29 August 2019)")


def read_bound(value: str, last: bool) -> dt.date:
    """The day a filter's date stands for: a day as `parse_date` reads it, or a year (2017) or
    a month (2017-04) as its first day (`last=False`) or its last.

    Raises:
        ValueError: neither a day, a month nor a year.
    """
    if _YEAR_ONLY.fullmatch(value):
        return dt.date(int(value), 12 if last else 1, 31 if last else 1)
    month = _YEAR_MONTH.fullmatch(value)
    if month:
        first = dt.date(int(month.group(1)), int(month.group(2)), 1)
        return (first.replace(day=28) + dt.timedelta(days=4)).replace(day=1) - dt.timedelta(days=1) if last else first
    return dt.date.fromisoformat(parse_date(value))


def days_of(value: str) -> tuple[dt.date, dt.date] | None:
    """The first and last day an ISO value names (an event date's, see EventDate.value, or a
    report's): a day, a month "2019-04", a year "2017", or a range "2019-04-21/2019-04-30";
    None for anything else."""
    first, _, last = value.partition("/")
    try:
        return read_bound(first, last=False), read_bound(last or first, last=True)
    except ValueError:
        return None
