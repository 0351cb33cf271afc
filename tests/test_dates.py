"""Dates: the whole-day shapes read through dateutil, which never fills in what is not written."""

import datetime as dt

import pytest

from qa.dates import parse_date, read_bound


@pytest.mark.parametrize(
    "written, day",
    [
        ("3 May 2019", "2019-05-03"),
        ("May 3, 2019", "2019-05-03"),
        ("May 3 2019", "2019-05-03"),
        ("3 may 2019", "2019-05-03"),
        ("03 Sep 2019", "2019-09-03"),
        ("2019-05-03T10:00:00Z", "2019-05-03"),
        ("2019-05-03T23:30:00+02:00", "2019-05-03"),  # the day as written, not moved to UTC
        ("  3   May\t2019 ", "2019-05-03"),
        ("5/3/2019", "2019-05-03"),  # month first
        ("12/05/2019", "2019-12-05"),
        ("3.5.2019", "2019-05-03"),  # day first
        ("2019/05/03", "2019-05-03"),
        ("2/29/2020", "2020-02-29"),
        ("1 May 0019", "0019-05-01"),  # the year written, not dateutil's guess of a century
    ],
)
def test_whole_days_are_read_with_the_month_where_the_shape_puts_it(written, day):
    assert parse_date(written) == day


@pytest.mark.parametrize(
    "written",
    [
        "garbage",
        "",
        "May 2019",  # no day: not the first of the month, nor today's day
        "3 May",  # no year: not this year
        "May 3",
        "Monday",
        "today",
        "Sept 3, 2019",
        "Aug 29 2019",
        "29 August, 2019",
        "5/3/19",  # a two-digit year
        "13/5/2019",  # day first where the month comes first
        "2/30/2019",
        "2/29/2019",
        "Monday, 29 August 2019",
        "29 August 2019 10:00",
        "the 3rd of May 2019",
    ],
)
def test_what_is_not_a_whole_day_in_a_known_shape_is_refused(written):
    with pytest.raises(ValueError, match="is not a day written as YYYY-MM-DD"):
        parse_date(written)


def test_a_filter_bound_may_be_a_year_a_month_or_a_day():
    assert read_bound("2017", last=False) == dt.date(2017, 1, 1)
    assert read_bound("2017", last=True) == dt.date(2017, 12, 31)
    assert read_bound("2016-2", last=True) == dt.date(2016, 2, 29)
    assert read_bound("2017-04", last=False) == dt.date(2017, 4, 1)
    assert read_bound("5 April 2017", last=True) == dt.date(2017, 4, 5)
    for written in ("2017-13", "April 2017", "17"):
        with pytest.raises(ValueError):
            read_bound(written, last=False)
