"""Claims: the casualty and displacement figures a report states, read at ingest and kept with its record."""

from __future__ import annotations

import pytest

from qa.claims import claims_in, read_figure, sentence_claims
from qa.store import SCHEMA_VERSION


@pytest.mark.parametrize(
    "figure, value",
    [
        ("16", (16, 16, False)),
        ("at least 16", (16, None, False)),
        ("At least seven", (7, None, False)),
        ("more than 550", (551, None, False)),
        ("over 400,000", (400_001, None, False)),
        ("up to 20", (None, 20, False)),
        ("fewer than 10", (None, 9, False)),
        ("about 300", (300, 300, True)),
        ("some 80", (80, 80, True)),
        ("hundreds", (100, 999, False)),
        ("dozens", (24, 99, False)),
        ("thousands", (1_000, 9_999, False)),
        ("tens of thousands", (10_000, 99_999, False)),
        ("hundreds of thousands", (100_000, 999_999, False)),
        ("at least hundreds", (100, None, False)),
        ("twenty-five", (25, 25, False)),
        ("three hundred", (300, 300, False)),
        ("a dozen", (12, 12, False)),
        ("several hundred", (300, 999, False)),
        ("1.5 million", (1_500_000, 1_500_000, False)),
        ("3 million", (3_000_000, 3_000_000, False)),
        ("half", None),
    ],
)
def test_a_figure_is_read_as_a_value_or_range(figure, value):
    assert read_figure(figure) == value


def test_every_claim_of_the_bundled_report(bundled_report):
    text = bundled_report.read_text(encoding="utf-8")
    claims = claims_in(text, "trt", "2019-08-29", "Idlib, Syria")
    for c in claims:
        assert text[c.start : c.end] == c.text and text[c.figure_start : c.figure_end] == c.figure
    got = [(c.figure, c.value, c.who, c.what, c.place, c.event_date, c.attributed_to) for c in claims]
    assert got == [
        ("At least seven", "at least 7", "civilians", "killed", "Idlib, Syria", "2019-08-29", "local sources"),
        ("four", "4", "civilians", "killed", "Maar Shamshah", "", "Syrian opposition aircraft monitors"),
        ("three", "3", "civilians", "killed", "Alteh", "", "Syrian opposition aircraft monitors"),
        ("at least 16", "at least 16", "civilians", "killed", "Maarat al Numan", "2019-08-28", "SOHR"),
        ("34", "34", "civilians", "injured", "Maarat al Numan", "2019-08-28", "SOHR"),
        ("hundreds", "100-999", "people", "killed", "Idlib, Syria", "2019-04", "the UN and US monitors"),
        ("tens of thousands", "10,000-99,999", "people", "displaced", "Idlib, Syria", "2019-04", "the UN and US monitors"),
        ("over 550", "at least 551", "civilians", "killed", "Idlib", "2019-04-21/2019-04-30", "the UN"),
        ("over 400,000", "at least 400,001", "people", "displaced", "Idlib", "2019-04-21/2019-04-30", "the UN"),
        ("more than 40,000", "at least 40,001", "people", "killed", "Idlib, Syria", "", ""),
    ]
    # What the report counts that is no casualty: "three small villages", "12 observation posts",
    # "3 million people being impacted".
    assert not {c.figure for c in claims} & {"three small", "12", "3 million"}


def _read(sentence: str) -> list[tuple[str, str, str]]:
    return [(sentence[a:b], who, what) for a, b, _, _, _, _, who, what, _ in sentence_claims(sentence)]


@pytest.mark.parametrize(
    "sentence, claims",
    [
        # The word right after a figure is its action, before the one said earlier.
        ("18 November 2016 6 citizens killed 22 injured in attacks.", [("6", "civilians", "killed"), ("22", "civilians", "injured")]),
        # "others" count what the figure before them counts; "other people" are people.
        ("Strikes killed four civilians in X and three others in Y.", [("four", "civilians", "killed"), ("three", "civilians", "killed")]),
        ("Rockets killed 3 people including two women and left 29 other people injured.",
         [("3", "people", "killed"), ("two", "women", "killed"), ("29", "people", "injured")]),
        # A figure's head noun decides: explosions and villages are no people.
        ("Six civilians were killed and several others were injured in three terrorist explosions.",
         [("Six", "civilians", "killed"), ("several", "civilians", "injured")]),
        ("Troops captured three small villages near the town.", []),
        # Numbers of a date line, an age, a share, people who live somewhere: no figures.
        ("31-07-2015 Nusra attacks US-trained militants.", []),
        ("A 10-year-old boy was killed and 80 percent of homes were destroyed.", []),
        ("Forces have besieged Ghouta where some 400000 people live in dire conditions.", []),
        # The action is read in the figure's own clause.
        ("The war has claimed more than 191000 lives while more than three million Syrians have become refugees.",
         [("more than 191000", "people", "killed"), ("more than three million", "people", "displaced")]),
        ("The offensive has killed hundreds and displaced tens of thousands.",
         [("hundreds", "people", "killed"), ("tens of thousands", "people", "displaced")]),
        # "and" alone between two figures: the second shares the action ("homes" are no people).
        ("On Wednesday strikes killed 6 civilians in Ariha and 16 civilians in Maarat al Numan.",
         [("6", "civilians", "killed"), ("16", "civilians", "killed")]),
        ("Shelling killed 5 on Monday and 7 on Tuesday in Douma.", [("5", "people", "killed"), ("7", "people", "killed")]),
        ("Jets killed 4 civilians and destroyed 12 homes in Saraqib.", [("4", "civilians", "killed")]),
        # A qualifier before the number pattern, and the teens.
        ("No fewer than 8 soldiers were killed.", [("No fewer than 8", "soldiers", "killed")]),
        ("Fifteen civilians were killed on Monday.", [("Fifteen", "civilians", "killed")]),
        # A headline's capitalised noun still says who.
        ("Israeli Strike on Syrian Town Kills 5 Soldiers.", [("5", "soldiers", "killed")]),
    ],
)
def test_what_a_figure_counts(sentence, claims):
    assert _read(sentence) == claims


@pytest.mark.parametrize(
    "sentence, places",
    [
        ("In Aleppo 20 people were killed.", ["Aleppo"]),
        # The first figure takes the place said after the second when its own clause names none.
        ("At least 16 civilians were killed and 34 others injured in Maarat al Numan.", ["Maarat al Numan"] * 2),
        ("The blast killed 14 and injured 20 in Azaz.", ["Azaz", "Azaz"]),
        ("Strikes killed 12 people in Deir ez-Zor on Monday.", ["Deir ez-Zor"]),
        ("Shelling killed 3 people in Hama Human Rights Watch said.", ["Hama"]),
    ],
)
def test_the_place_a_figure_is_given_for(sentence, places):
    assert [c.place for c in claims_in(sentence, "d", "2019-08-29", "Syria")] == places


def test_claims_are_stored_with_their_report_and_follow_replace_and_delete(make_assistant, tmp_path):
    report = tmp_path / "r.md"
    report.write_text("---\ntitle: Ariha\noutlet: SANA\ndate: 2019-08-29\nplace: Ariha\n---\n"
                      "Shelling killed five civilians in Ariha on Wednesday, a medical source said.\n")
    assistant = make_assistant()
    assistant.ingest([report])
    [(doc, claims)] = assistant.store.claims().values()
    assert [(c.figure, c.who, c.what, c.place, c.event_date, c.attributed_to) for c in claims] == [
        ("five", "civilians", "killed", "Ariha", "2019-08-28", "a medical source")
    ]
    assert doc.source == "SANA" and claims[0].doc_id == doc.doc_id

    # The report's text changes (its id is its content, so the old one is missing, then pruned).
    report.write_text(report.read_text().replace("five civilians", "nine civilians and injured 12 others"))
    assistant.ingest([tmp_path], prune=True)
    [(_, claims)] = assistant.store.claims().values()
    assert [(c.figure, c.what) for c in claims] == [("nine", "killed"), ("12", "injured")]

    [doc_id] = assistant.store.claims()
    assistant.delete(doc_id)
    assert assistant.store.claims() == {} and assistant.store.claims([doc_id]) == {}


def test_an_index_from_before_claims_gets_them_in_place(make_assistant, tmp_path):
    report = tmp_path / "r.md"
    report.write_text("---\ntitle: Ariha\n---\nShelling killed five civilians in Ariha, rescuers said.\n")
    assistant = make_assistant()
    assistant.ingest([report])
    store = assistant.store
    # What schema 4 stored: no claims in the document record.
    docs = store.collection("docs")
    got = docs.get(include=["metadatas"])
    docs.update(ids=got["ids"], metadatas=[{"claims": None, "claims_version": None}] * len(got["ids"]))
    assert [c for _, cs in store.claims().values() for c in cs] == []
    state = store.log.state()
    store.collection("state").upsert(ids=["state"], embeddings=[[1.0]], metadatas=[{**state, "schema": 4}])

    reopened = make_assistant()
    [(_, claims)] = reopened.store.claims().values()
    assert [(c.figure, c.who, c.what, c.place) for c in claims] == [("five", "civilians", "killed", "Ariha")]
    assert reopened.store.log.state()["schema"] == SCHEMA_VERSION
