"""Metadata: YAML read safely (no aliases, bounded), every field checked, dates read one way."""

import pytest

from qa.metadata import Limits, load_yaml, parse_date, read_fields

LIMITS = Limits()


@pytest.mark.parametrize(
    "written, day",
    [
        ("2019-08-29", "2019-08-29"),
        ("2019-8-9", "2019-08-09"),
        ("2019-05-22T10:00:00Z", "2019-05-22"),
        ("2019-05-22 10:00", "2019-05-22"),
        ("9/30/2017", "2017-09-30"),  # FA-KES: month first
        ("30 September 2017", "2017-09-30"),
        ("September 30, 2017", "2017-09-30"),
        ("Sep 30, 2017", "2017-09-30"),
        ("30.09.2017", "2017-09-30"),
    ],
)
def test_dates_written_in_common_ways_are_read_as_days(written, day):
    assert parse_date(written) == day


@pytest.mark.parametrize(
    "written, message",
    [
        ("2019-13-45", "date '2019-13-45' is not a real day: month must be in 1..12"),
        ("2019-02-30", "date '2019-02-30' is not a real day: day is out of range for month"),
        ("spring 2019", "date 'spring 2019' is not a day written as YYYY-MM-DD"),
        ("2019", "date '2019' is not a day written as YYYY-MM-DD"),
        ("13/45/2019", "date '13/45/2019' is not a day"),
    ],
)
def test_a_date_that_is_not_a_day_is_refused_by_name(written, message):
    with pytest.raises(ValueError) as caught:
        parse_date(written)
    assert str(caught.value).startswith(message)


def test_yaml_dates_stay_text_until_read_here():
    meta = load_yaml("date: 2019-13-45\nother: 2019-08-29", LIMITS)  # YAML's own timestamps would raise
    assert meta == {"date": "2019-13-45", "other": "2019-08-29"}
    with pytest.raises(ValueError, match="month must be in 1..12"):
        read_fields(meta, LIMITS)


def test_yaml_aliases_are_refused_so_a_tiny_block_cannot_expand():
    levels = ["a: &a [x, x, x, x, x, x, x, x, x]"]
    for n in range(1, 8):
        prev = chr(ord("a") + n - 1)
        name = chr(ord("a") + n)
        levels.append(f"{name}: &{name} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]")
    levels.append("title: *h")
    bomb = "\n".join(levels)
    assert len(bomb.encode()) < 600
    with pytest.raises(ValueError, match=r"YAML aliases \(\*name\) are not accepted in metadata \(line 2\)"):
        load_yaml(bomb, LIMITS)


@pytest.mark.parametrize(
    "text, message",
    [
        ("title: " + "x" * 70_000, "it is 70,007 bytes; the limit is 65,536 (setting max_metadata_bytes)"),
        ("[" * 5_000 + "]" * 5_000, "nested too deeply"),
        ("title: [unclosed", "not valid YAML"),
    ],
)
def test_oversized_deep_or_broken_blocks_are_refused(text, message):
    with pytest.raises(ValueError) as caught:
        load_yaml(text, LIMITS)
    assert message in str(caught.value)


def test_fields_are_one_checked_line_each():
    fields = read_fields(
        {"Title": "  Strikes\n on Idlib ", "outlet": "TRT World", "source": "ignored: outlet came first",
         "place": ["Idlib", "Syria"], "date": "8/29/2019", "url": "https://example.org/a", "id": "r-7", "extra": {"x": 1}},
        LIMITS,
    )
    assert fields == {
        "title": "Strikes on Idlib", "source": "TRT World", "place": "Idlib, Syria", "date": "2019-08-29",
        "url": "https://example.org/a", "doc_id": "r-7",
    }


@pytest.mark.parametrize(
    "meta, message",
    [
        ({"title": "x" * 1_001}, "the title is 1,001 characters; the limit is 1,000 (setting max_field_chars)"),
        ({"outlet": {"name": "TRT"}}, "the outlet must be text, not a mapping"),
        ({"place": [["Idlib"]]}, "the place must be text, not a nested list"),
        ({"id": "../etc/passwd"}, "declared id '../etc/passwd' must be letters, digits"),
        ({"date": "soon"}, "date 'soon' is not a day"),
    ],
)
def test_a_bad_field_is_refused_by_name(meta, message):
    with pytest.raises(ValueError) as caught:
        read_fields(meta, LIMITS)
    assert str(caught.value).startswith(message)


def test_a_web_pages_unreadable_date_is_left_out():
    assert read_fields({"title": "T", "date": "yesterday"}, LIMITS, lenient_dates=True) == {"title": "T"}


def test_every_yaml_value_is_the_text_as_written():
    meta = load_yaml("id: 0123\nplace: NO\ntitle: 12:30\noutlet: on\ndate: 2019-08-29\nnote:\nlist: [1, yes]", LIMITS)
    assert meta == {"id": "0123", "place": "NO", "title": "12:30", "outlet": "on", "date": "2019-08-29", "note": None,
                    "list": ["1", "yes"]}
    assert read_fields(meta, LIMITS)["doc_id"] == "0123"


@pytest.mark.parametrize("tag", ["!!binary aGVsbG8=", "!!set {a, b}", "!!python/object/apply:os.system [echo]", "!!int 12", "!!float 1.5"])
def test_yaml_tags_other_than_text_lists_and_mappings_are_refused(tag):
    with pytest.raises(ValueError, match=r"the YAML tag '.*' is not accepted in metadata \(line 1\)"):
        load_yaml(f"title: {tag}", LIMITS)
