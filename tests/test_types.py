"""Plain data: the Filters keywords and the keys outlets and places are matched on."""

import datetime as dt

import pytest

from qa.errors import InputError
from qa.types import Filters, day_number, outlet_key, place_key, place_terms


def test_dates_may_be_days_months_or_years_and_count_whole():
    f = Filters.build(date_from="2017", date_to="2017-02")
    assert (f.date_from, f.date_to) == ("2017-01-01", "2017-02-28")
    assert Filters.build(date_to="2016-02").date_to == "2016-02-29"  # leap year
    assert Filters.build(date_from=dt.date(2019, 6, 2)).date_from == "2019-06-02"
    assert Filters.build(date_to="2019-12").day_range == (1, 20191231)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"date_from": "March 2017"}, "date_from must be a date like 2017-04-05"),
        ({"date_to": "2017-13"}, "date_to must be a date like"),
        ({"date_from": "2018", "date_to": "2017"}, "date_from 2018-01-01 is after date_to 2017-12-31"),
        ({"source": 12}, "source must be text or a list of texts"),
        ({"date_from": "2019", "undated": "yes"}, "undated must be true or false, got 'yes'"),
    ],
)
def test_bad_filters_name_the_bad_value(kwargs, message):
    with pytest.raises(InputError, match=message):
        Filters.build(**kwargs)


def test_sources_split_on_commas_and_empty_filters_are_false():
    assert Filters.build(source="Reuters, SANA").sources == ("Reuters", "SANA")
    assert Filters.build(source=["Reuters", " ", "Reuters"]).sources == ("Reuters",)
    assert not Filters.build(source=[], place="", date_from=None)
    assert Filters.build(place="Idlib")


def test_keys_ignore_case_spaces_and_hyphens():
    assert outlet_key("Al Araby") == outlet_key("alaraby") == "alaraby"
    assert place_key("Deir ez-Zor") == place_key("deir ezzor") == "deir ezzor"
    assert place_terms("Armanaz, Idlib province") == [
        "armanaz idlib province", "armanaz", "idlib", "province", "armanaz idlib", "idlib province",
    ]
    assert place_terms("") == []
    assert (day_number("2017-04-05"), day_number("April 2017"), day_number("")) == (20170405, 0, 0)


def test_matches_is_the_filter_on_stored_chunk_fields():
    meta = {"source_key": "sana", "place_terms": ["aleppo", "east aleppo"], "date_num": 20170405}
    assert Filters.build(source="SANA", place="East Aleppo", date_from="2017-04").matches(meta)
    assert not Filters.build(source="Reuters").matches(meta)
    assert not Filters.build(place="Idlib").matches(meta)
    assert not Filters.build(date_to="2017-03").matches(meta)
    assert not Filters.build(date_from="2000").matches({**meta, "date_num": 0})  # undated: outside any range


@pytest.mark.slow
def test_the_three_translations_of_a_filter_keep_the_same_chunks(tmp_path):
    """Filters.matches (one chunk), the Chroma where clause (a real Chroma) and the lexical index's
    mask keep exactly the same chunks, for outlets, places, dates, undated and their combinations."""
    import chromadb
    import numpy as np
    from chromadb.config import Settings as ChromaSettings

    from qa.lexical import ChunkRecord, LexicalIndex
    from qa.store.records import filter_fields, where

    reports = [
        ("Reuters", "Armanaz, Idlib province", "2019-08-29"),
        ("reuters", "Idlib", "2019-09-02"),
        ("SANA", "Deir ez-Zor", "2018-01-15"),
        ("Al-Masdar News", "Maarat al-Numan", ""),
        ("Al Masdar News", "", "2019-08-30"),
        ("TRT World", "Idlib city", "2017"),
        ("", "Aleppo", "2019-08"),
    ]
    metas = [filter_fields({"doc_id": f"d{i}", "source": s, "place": p, "date": d}) for i, (s, p, d) in enumerate(reports)]
    collection = chromadb.PersistentClient(path=str(tmp_path), settings=ChromaSettings(anonymized_telemetry=False)).create_collection(
        "chunks", embedding_function=None
    )
    collection.add(ids=[m["doc_id"] for m in metas], embeddings=[[1.0, float(i)] for i in range(len(metas))], metadatas=metas)
    segment = LexicalIndex.built([[ChunkRecord.of(m["doc_id"], "Shelling hit the town.", m) for m in metas]]).snapshot.segments[0]
    cases = [
        Filters.build(source="Reuters"),
        Filters.build(source=["al masdar news", "SANA"]),
        Filters.build(place="idlib"),
        Filters.build(place=["Deir ez-Zor", "Aleppo"]),
        Filters.build(place="maarat al numan"),
        Filters.build(date_from="2019-08-29"),
        Filters.build(date_from="2019", date_to="2019-08"),
        Filters.build(date_to="2018", undated=True),
        Filters.build(source="Reuters", place="Idlib", date_from="2019-09"),
        Filters.build(source="TRT World", date_from="2016", date_to="2017", undated=True),
    ]
    for filters in cases:
        by_matches = {m["doc_id"] for m in metas if filters.matches(m)}
        by_chroma = set(collection.get(where=where(filters, set()), include=[])["ids"])
        by_mask = {metas[i]["doc_id"] for i in np.flatnonzero(segment.mask(filters))}
        assert by_matches == by_chroma == by_mask, filters.describe()
    assert {m["doc_id"] for m in metas if Filters.build(place="idlib").matches(m)} == {"d0", "d1", "d5"}
