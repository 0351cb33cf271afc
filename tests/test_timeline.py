"""The timeline (qa.timeline, qa.events, Assistant.timeline, `qa timeline`, the Timeline tab): the
claims and events of reports written here, on a real index; FA-KES when it is there."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import SHARED_DATA
from qa.errors import InputError
from qa.store import SCHEMA_VERSION
from qa.events import events_in
from qa.statements import Claim, Event

ALEPPO = """---
id: aleppo-report
title: Strikes hit Aleppo
source: Alpha News
date: 2017-04-05
place: Aleppo
---
Strikes hit Aleppo

On Monday, regime strikes in Aleppo killed at least 12 civilians, the Syrian Observatory for Human Rights said.
Rebels captured the village of Tal Rifaat on Tuesday.
About 300 families were displaced from the city, a local council said.
The market reopened after the shelling.
"""
IDLIB = """---
title: Jets pound Khan Sheikhun
source: Beta Agency
date: 2017-04-10
place: Idlib province
---
Jets pound Khan Sheikhun

Jets pounded the town of Khan Sheikhun on Sunday.
At least 5 people were killed in Aleppo on Saturday, a monitor said.
"""
HOMS = """---
title: Shelling in Homs <script>alert(1)</script>
source: Gamma Wire
place: Homs
---
Shelling in Homs

Shelling killed 4 people in Homs <b>yesterday's</b> market.
"""

PLACED = [  # (day, placed by, what, place), in the order the timeline has them
    ("2017-04-03", "event", "at least 12 civilians killed", "Aleppo"),
    ("2017-04-04", "event", "captured", "Tal Rifaat"),
    ("2017-04-05", "report", "About 300 people displaced", "Aleppo"),
    ("2017-04-08", "event", "At least 5 people killed", "Aleppo"),
    ("2017-04-09", "event", "pounded", "Khan Sheikhun"),
]


def write_reports(folder: Path, **reports: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in reports.items():
        (folder / f"{name}.txt").write_text(text, encoding="utf-8")
    return folder


@pytest.fixture
def three(make_assistant, tmp_path):
    """An assistant on a real index holding the three reports above (the folder they are in)."""
    assistant = make_assistant()
    folder = write_reports(tmp_path / "reports", aleppo=ALEPPO, idlib=IDLIB, homs=HOMS)
    report = assistant.ingest([folder])
    assert len(report.added) == 3 and not report.failed
    return assistant, folder


def placed(line):
    return [(e.day, e.placed_by, e.describe(), e.item.place) for e in line.entries]


# -- events --------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "sentence, what, date",
    [
        ("Rebels captured the village of Tal Rifaat on Tuesday.", "captured", "2017-04-04"),
        ("A car bomb exploded near the market last weekend.", "exploded", "2017-04-01/2017-04-02"),
        ("Jets shot  down a drone on April 2, 2017.", "shot  down", "2017-04-02"),
    ],
)
def test_an_event_is_a_dated_sentence_with_an_event_verb(sentence, what, date):
    (event,) = events_in(f"Report\n\n{sentence}", "d", "2017-04-05", "Aleppo")
    assert (event.what, event.event_date) == (what.lower(), date)
    assert f"Report\n\n{sentence}"[event.start : event.end] == sentence


@pytest.mark.parametrize(
    "sentence",
    [
        "Rebels captured the village of Tal Rifaat.",  # no date
        "Rebels captured the village of Tal Rifaat in March.",  # a month: no day
        "Rebels captured the village of Tal Rifaat since 2015.",  # a year
        "The talks ended on Tuesday.",  # no event verb
        "A strike killed at least 72 people including several children on Tuesday.",  # a figure, read or not
    ],
)
def test_no_event_without_a_day_a_verb_or_with_a_figure(sentence):
    assert events_in(f"Report\n\n{sentence}", "d", "2017-04-05", "Aleppo") == []


def test_a_sentence_that_states_a_figure_is_no_event():
    text = "Report\n\nRebels captured 20 soldiers on Tuesday."
    start = text.index("Rebels")
    assert events_in(text, "d", "2017-04-05", "", frozenset({start})) == []
    assert len(events_in(text, "d", "2017-04-05", "")) == 1  # (what the claims' offsets exclude)


# -- Assistant.timeline ------------------------------------------------------------------------
@pytest.mark.slow
def test_timeline_orders_claims_and_events_by_day(three):
    assistant, _ = three
    line = assistant.timeline()
    assert placed(line) == PLACED
    kinds = [e.kind for e in line.entries]
    assert kinds == ["claim", "event", "claim", "claim", "event"]
    assert isinstance(line.entries[0].item, Claim) and isinstance(line.entries[1].item, Event)
    # The Homs report has no date and its sentence none: left out, counted.
    assert (line.total, line.claims, line.events, line.reports, line.placed_by_report, line.undated) == (5, 3, 2, 2, 1, 1)
    first = line.entries[0]
    assert (first.source, first.date, first.title) == ("Alpha News", "2017-04-05", "Strikes hit Aleppo")
    assert first.item.attributed_to and first.chart_value == 12
    text = assistant.document(first.item.doc_id).text
    assert text[first.item.start : first.item.end] == first.item.text  # the citation is the sentence


@pytest.mark.slow
def test_timeline_filters_by_place_outlet_and_the_day_placed(three):
    assistant, _ = three
    # Aleppo: all of the Aleppo report (its event in Tal Rifaat too), and the Idlib report's figure
    # in Aleppo (not its event in Khan Sheikhun).
    assert [p[2] for p in placed(assistant.timeline(place="Aleppo"))] == [p[2] for p in PLACED[:4]]
    assert [p[2] for p in placed(assistant.timeline(place="khan sheikhun"))] == ["pounded"]
    assert [p[2] for p in placed(assistant.timeline(source="beta agency"))] == [p[2] for p in PLACED[3:]]
    # The dates are the entries' days, not their reports' (the Idlib report is of 2017-04-10).
    assert [p[0] for p in placed(assistant.timeline(date_from="2017-04-04", date_to="2017-04-08"))] == [
        "2017-04-04",
        "2017-04-05",
        "2017-04-08",
    ]
    assert assistant.timeline(place="Aleppo", source="Gamma Wire").entries == []
    assert assistant.timeline(date_from="2017-05").total == 0


@pytest.mark.slow
@pytest.mark.parametrize(
    "keywords, message",
    [
        ({"place": "Alepo"}, "no report in the index names the place 'Alepo'; did you mean aleppo?"),
        ({"source": "Alpha"}, "no report in the index is from the outlet 'Alpha'; did you mean Alpha News?"),
        ({"date_from": "2017-13"}, "date_from must be a date like 2017-04-05 (or 2017-04, or 2017), got '2017-13'"),
        ({"date_from": "2017-05", "date_to": "2017-04"}, "date_from 2017-05-01 is after date_to 2017-04-30"),
        ({"limit": 0}, "limit must be a whole number of at least 1, got 0"),
    ],
)
def test_bad_values_are_one_line(three, keywords, message):
    with pytest.raises(InputError) as caught:
        three[0].timeline(**keywords)
    assert str(caught.value) == message and "\n" not in str(caught.value)


@pytest.mark.slow
def test_limit_bounds_the_entries_not_the_count(three):
    line = three[0].timeline(limit=2)
    assert placed(line) == PLACED[:2] and (line.total, line.truncated) == (5, True)
    assert three[0].settings.limits.timeline_entries == 500


@pytest.mark.slow
def test_replace_and_delete_change_the_timeline(three):
    assistant, folder = three
    edited = ALEPPO.replace("at least 12 civilians", "at least 14 civilians").replace("captured", "seized")
    (folder / "aleppo.txt").write_text(edited, encoding="utf-8")
    report = assistant.ingest([folder])
    assert len(report.replaced) == 1
    said = [p[2] for p in placed(assistant.timeline(place="Aleppo"))]
    assert said == ["at least 14 civilians killed", "seized", "About 300 people displaced", "At least 5 people killed"]
    assistant.delete("aleppo-report")
    assert [p[2] for p in placed(assistant.timeline())] == ["At least 5 people killed", "pounded"]
    with pytest.raises(InputError, match="outlet 'Alpha News'"):
        assistant.timeline(source="Alpha News")


@pytest.mark.slow
def test_an_index_of_schema_5_gets_its_events_in_place(three, make_assistant):
    assistant, _ = three
    store = assistant.store
    # What schema 5 stored: claims of the first reading, no events.
    got = store.collection("docs").get(include=["metadatas"])
    store.collection("docs").update(
        ids=got["ids"], metadatas=[{"events": None, "claims_version": 1} for _ in got["ids"]]
    )
    state = store.log.state()
    store.collection("state").upsert(ids=["state"], embeddings=[[1.0]], metadatas=[{**state, "schema": 5}])
    assert "events" not in store.collection("docs").get(include=["metadatas"])["metadatas"][0]

    reopened = make_assistant()
    assert placed(reopened.timeline()) == PLACED
    assert reopened.store.log.state()["schema"] == SCHEMA_VERSION
    assert reopened.store.count_chunks() == store.count_chunks()  # upgraded, not re-ingested


@pytest.mark.slow
def test_json_shape(three):
    data = json.loads(json.dumps(three[0].timeline(place="Aleppo", limit=3).to_dict()))
    assert {"filters", "total", "shown", "limit", "truncated", "reports", "claims", "events", "placed_by_report", "undated",
            "carried_again", "entries"} == set(data)
    assert (data["total"], data["shown"], data["truncated"], data["filters"]["place"]) == (4, 3, True, ["Aleppo"])
    claim, event = data["entries"][0], data["entries"][1]
    assert set(claim) == set(event)
    assert (claim["kind"], claim["value"], claim["low"], claim["who"], claim["what"]) == ("claim", "at least 12", 12, "civilians", "killed")
    assert (event["kind"], event["what"], event["figure"], event["low"], event["event_date"]) == ("event", "captured", "", None, "2017-04-04")
    assert {"day", "placed_by", "doc_id", "start", "end", "text", "source", "date", "title", "url", "attributed_to"} <= set(claim)


def test_one_story_under_two_outlets_is_one_entry_and_an_update_its_own(make_assistant, tmp_path):
    wire = ("---\ntitle: {title}\noutlet: {outlet}\ndate: 2017-04-05\nplace: Idlib\n---\n"
            "Air strikes on the town of Saraqib killed {toll} civilians on Tuesday, rescue workers said. The strikes hit "
            "a market and a bakery in the centre of the town, and rescuers worked through the night to reach survivors.")
    folder = write_reports(
        tmp_path / "wire",
        a=wire.format(title="Strikes on Saraqib", outlet="Wire A", toll=12),
        b=wire.format(title="Saraqib strikes", outlet="Paper B", toll=12) + " Paper B has more.",
        c=wire.format(title="Saraqib toll rises", outlet="Paper C", toll=15),
    )
    assistant = make_assistant()
    assistant.ingest([folder])
    assert [len(g) for g in assistant.groups().groups()] == [3]
    line = assistant.timeline()
    said = [(e.describe(), e.source, e.also_carried_by) for e in line.entries]
    # The update's new toll is an entry of its own; the same toll under two outlets is one.
    assert said == [("12 civilians killed", "Paper B", ["Wire A"]), ("15 civilians killed", "Paper C", [])], said
    assert (line.total, line.reports, line.carried_again) == (2, 3, 1)
    assert line.to_dict()["entries"][0]["also_carried_by"] == ["Wire A"]


# -- the command -------------------------------------------------------------------------------
def run(*args, index: Path):
    env = {**os.environ, "QA_INDEX_DIR": str(index)}
    return subprocess.run([sys.executable, "-m", "qa.cli", *args], capture_output=True, text=True, env=env, timeout=300)


@pytest.mark.slow
def test_cli_lists_the_timeline_and_prints_its_json(three):
    assistant, _ = three
    index = assistant.settings.index.index_dir
    done = run("timeline", "--place", "Aleppo", index=index)
    assert done.returncode == 0, done.stderr
    head, *lines = done.stdout.splitlines()
    assert head == "4 entries from 2 reports (place Aleppo): 3 figures, 1 event"
    assert lines[0].startswith("2017-04-03  at least 12 civilians killed in Aleppo  Alpha News  \"On Monday, regime strikes")
    assert lines[2].startswith("2017-04-05 (report date)  About 300 people displaced in Aleppo")
    doc = assistant.timeline().entries[0].item
    assert lines[0].endswith(f"[{doc.doc_id}:{doc.start}-{doc.end}]")
    done = run("timeline", "--json", "--from", "2017-04-09", index=index)
    assert done.returncode == 0, done.stderr
    assert [e["what"] for e in json.loads(done.stdout)["entries"]] == ["pounded"]
    done = run("timeline", "--place", "Alepo", index=index)
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr == "error: no report in the index names the place 'Alepo'; did you mean aleppo?\n"


# -- the app's handler ----------------------------------------------------------------------------
@pytest.mark.slow
def test_app_handler_gives_the_chart_the_count_and_the_list(three):
    gr = pytest.importorskip("gradio", reason="the web app needs the UI extra")
    from qa.ui.handlers import open_source, timeline_choices, timeline_outputs

    assistant, _ = three
    frame, colors, count, listed = timeline_outputs(assistant, "Aleppo", "", "", "")
    assert colors == {"Alpha News": "#1f77b4", "Beta Agency": "#ff7f0e"}  # one per outlet, its legend in HTML
    assert '#1f77b4" aria-hidden="true"></span>Alpha News</li>' in count and "Beta Agency</li>" in count
    assert list(frame.columns) == ["Day", "Figure", "Outlet", "What", "Place"]
    assert [(str(d.date()), v, o) for d, v, o in zip(frame["Day"], frame["Figure"], frame["Outlet"])] == [
        ("2017-04-03", 12, "Alpha News"),
        ("2017-04-08", 5, "Beta Agency"),
    ]  # (the 300 displaced are dated by their report only: in the list, not the chart)
    assert "4 entries from 2 reports (place Aleppo)" in count and "1 dated by their report only" in count
    assert listed.count('class="qa-tl-entry') == 4 and "report date" in listed
    entry = assistant.timeline(place="Aleppo").entries[1]
    assert f'data-doc="{entry.item.doc_id}" data-start="{entry.item.start}" data-end="{entry.item.end}"' in listed
    assert "<mark" in open_source(assistant, entry.item.doc_id, entry.item.start, entry.item.end)
    # Report text is escaped (the Homs report is undated: shown only with dates it has not; its
    # title is in the Documents choices and nowhere as markup).
    *_, homs = timeline_outputs(assistant, "Homs", "", "", "")
    assert "<b>" not in homs and "<script>" not in homs
    with pytest.raises(gr.Error, match="the From date|date_from"):
        timeline_outputs(assistant, "", "", "2017-13", "")
    places, outlets = timeline_choices(assistant)
    assert ("Aleppo (1)", "Aleppo") in places["choices"] and ("Beta Agency (1)", "Beta Agency") in outlets["choices"]


# -- FA-KES ---------------------------------------------------------------------------------------
FAKES = SHARED_DATA / "fa-kes.csv"


@pytest.mark.slow
@pytest.mark.skipif(not FAKES.exists(), reason=f"FA-KES is not at {FAKES}")
def test_fakes_slice_gives_a_timeline_of_aleppo(make_assistant, tmp_path):
    import csv

    with FAKES.open(encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f))
    sliced = tmp_path / "fakes-100.csv"
    with sliced.open("w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows(rows[:101])
    assistant = make_assistant()
    assert not assistant.ingest([sliced], columns={"doc_id": "unit_id"}).failed
    line = assistant.timeline(place="aleppo")
    days = [e.day for e in line.entries]
    assert line.claims and line.events and days == sorted(days)
    assert all(e.placed_by in ("event", "report") for e in line.entries)
    assert line.reports >= 10


@pytest.mark.slow
def test_another_process_write_shows_in_the_next_timeline(three, embedder):
    """Statements are kept between calls: a write through another Store (as another process's)
    is seen through the index's change token, without this one reopening anything."""
    from qa import Assistant

    assistant, folder = three
    assert assistant.timeline(source="Beta Agency").total == 2
    other = Assistant(embedder=embedder, index_dir=assistant.settings.index.index_dir, auto_ingest_corpus=False)
    other.delete(next(d.doc_id for d in other.documents() if d.source == "Beta Agency"))
    with pytest.raises(InputError, match="outlet 'Beta Agency'"):
        assistant.timeline(source="Beta Agency")


# -- the Timeline tab in a real browser ----------------------------------------------------------
@pytest.mark.slow
def test_browser_shows_the_chart_and_the_list_and_opens_an_entry(browser, server):
    assistant = server[0]
    line = assistant.timeline(place="Idlib")
    assert line.claims >= 5 and line.events >= 1
    for width, height in ((1280, 900), (390, 844)):
        page = browser.new_page(viewport={"width": width, "height": height})
        page.goto(server[1])
        page.get_by_role("tab", name="Timeline").click()
        box = page.locator("#qa-tl-place input")
        box.click()
        page.get_by_role("option", name="Idlib (1)").click()
        page.locator("h1").click()
        page.click("#qa-tl-show")
        page.wait_for_function("() => document.querySelectorAll('#qa-tl-list .qa-tl-entry').length > 0")
        assert page.locator("#qa-tl-list .qa-tl-entry").count() == line.total
        assert f"{line.total} entries from 1 report (place Idlib)" in page.inner_text("#qa-tl-count")
        first = line.entries[0]
        assert first.day in page.inner_text("#qa-tl-list .qa-tl-entry >> nth=0")
        # One point per figure dated to its day, each in an outlet colour the legend names.
        charted = sum(1 for e in line.entries if e.placed_by == "event" and e.chart_value is not None)
        page.wait_for_function(
            "n => document.querySelectorAll('#qa-tl-chart .role-mark path[stroke]').length >= n", arg=charted
        )
        legend = page.evaluate(
            "() => [...document.querySelectorAll('#qa-tl-summary .qa-tl-swatch')].map(s => getComputedStyle(s).backgroundColor)"
        )
        strokes = page.evaluate(
            "() => [...document.querySelectorAll('#qa-tl-chart .role-mark path')].map(p => getComputedStyle(p).stroke)"
            ".filter(c => c !== 'none')"
        )
        assert legend == ["rgb(31, 119, 180)"] and set(strokes) == set(legend)
        assert page.evaluate("document.documentElement.scrollWidth") <= width  # no sideways scrolling
        # A click on an entry opens its sentence in its report, highlighted.
        page.locator("#qa-tl-list .qa-tl-entry").nth(1).click()
        page.wait_for_selector("#qa-tl-document mark")
        assert page.inner_text("#qa-tl-document mark").strip() == " ".join(line.entries[1].item.text.split())
        # A mistake is one line under the button; the list stays.
        page.fill("#qa-tl-from input, #qa-tl-from textarea", "2019-13")
        page.click("#qa-tl-show")
        page.wait_for_selector("#qa-tl-notice .qa-notice")
        assert "The From date must be a date like" in page.inner_text("#qa-tl-notice")
        assert page.locator("#qa-tl-list .qa-tl-entry").count() == line.total
        page.close()
