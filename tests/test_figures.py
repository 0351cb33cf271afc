"""Figures side by side: a how-many question the retrieved reports answer with different figures."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from qa.cli import main

pytestmark = pytest.mark.slow

QUESTION = "How many civilians were killed in Maarat al Numan on Wednesday?"


def _report(folder, name, title, outlet, date, place, text):
    path = folder / f"{name}.md"
    path.write_text(f"---\ntitle: {title}\noutlet: {outlet}\ndate: {date}\nplace: {place}\n---\n{text}\n", encoding="utf-8")
    return path


@pytest.fixture
def three_outlets(tmp_path):
    folder = tmp_path / "reports"
    folder.mkdir()
    _report(folder, "trt", "Strikes kill 16 in Maarat al Numan", "TRT World", "2019-08-29", "Idlib, Syria",
            "On Wednesday, regime strikes in Maarat al Numan killed at least 16 civilians and injured 34 others, "
            "said the Syrian Observatory for Human Rights (SOHR).\nThe town has been hit repeatedly this month.")
    _report(folder, "reuters", "Air raids on Idlib town", "Reuters", "2019-08-28", "Maarat al-Numan, Idlib",
            "Air strikes on the town of Maarat al Numan killed 12 civilians on Wednesday, a local civil defence "
            "official said.\nResidents fled towards the Turkish border.")
    # The same count, in another town and another month: not the same event.
    _report(folder, "sana", "Shelling in Aleppo", "SANA", "2019-03-10", "Aleppo",
            "Terrorist shelling killed nine civilians in the Aleppo district of Hamdaniyeh on Saturday, a police source said.")
    return folder


def test_reports_that_differ_are_answered_side_by_side(make_assistant, three_outlets):
    assistant = make_assistant()
    assistant.ingest([three_outlets])
    answer = assistant.ask(QUESTION)
    assert not answer.abstained
    assert answer.text.startswith("Reports differ: at least 16 civilians killed in Maarat al Numan on 28 August 2019 according to SOHR"), answer.text
    assert "12 according to a local civil defence official (Reuters, 2019-08-28) [2]" in answer.text
    assert "nine" not in answer.text and "Aleppo" not in answer.text
    got = [(f.n, f.claim.figure, f.claim.value, f.source, f.date, f.claim.attributed_to) for f in answer.figures]
    assert got == [
        (1, "at least 16", "at least 16", "TRT World", "2019-08-29", "SOHR"),
        (2, "12", "12", "Reuters", "2019-08-28", "a local civil defence official"),
    ]
    assert not answer.figures_agree
    # Each figure is cited by its sentence: an exact slice of its report.
    for citation in answer.citations:
        assert assistant.document(citation.doc_id).text[citation.start : citation.end] == citation.text
    assert [c.source for c in answer.citations] == ["TRT World", "Reuters"]
    shown = answer.to_dict()["figures"]
    assert [f["figure"] for f in shown] == ["at least 16", "12"] and shown[0]["who"] == "civilians"
    assert shown[1]["event_date"] == "2019-08-28" and shown[1]["low"] == shown[1]["high"] == 12


def test_reports_that_agree_are_said_to(make_assistant, tmp_path):
    folder = tmp_path / "agree"
    folder.mkdir()
    # Three outlets, each in its own words (not one story re-filed, which would count once).
    told = {
        ("a", "TRT World", "2019-08-29"): "On Wednesday, regime strikes in Maarat al Numan killed at least 16 civilians, "
        "the Observatory said.\nRescuers searched the rubble through the night.",
        ("b", "Reuters", "2019-08-28"): "At least 16 civilians died when jets bombed a market in Maarat al Numan on "
        "Wednesday, a monitor said.\nThe market had reopened a week earlier.",
        ("c", "AFP", "2019-08-29"): "Air raids on Maarat al Numan killed at least 16 civilians on Wednesday, according to "
        "local medics.\nMany families have left the town since spring.",
    }
    for (name, outlet, date), text in told.items():
        _report(folder, name, f"Strikes ({outlet})", outlet, date, "Idlib", text)
    assistant = make_assistant()
    assistant.ingest([folder])
    answer = assistant.ask(QUESTION)
    assert answer.figures_agree and len(answer.figures) == 3
    assert answer.text.startswith("3 reports, all: at least 16 civilians killed in Maarat al Numan on 28 August 2019"), answer.text
    assert {c.source for c in answer.citations} == {"TRT World", "Reuters", "AFP"}


def test_only_the_same_count_of_the_same_event_is_set_beside_the_answer(make_assistant, tmp_path):
    """Not another town sharing a word ("Maarat Misrin"), not a month's total beside a day's
    toll, not a passage whose sentence is about another event; and the answer's own figure is
    the one its short answer is (16, not the 6 before it in the sentence)."""
    folder = tmp_path / "events"
    folder.mkdir()
    _report(folder, "trt", "Strikes in Idlib", "TRT World", "2019-08-29", "Idlib",
            "On Wednesday strikes killed 6 civilians in Ariha and 16 civilians in Maarat al Numan, the Observatory said.")
    _report(folder, "reuters", "Toll in Maarat al Numan", "Reuters", "2019-08-29", "Idlib",
            "At least 20 civilians were killed in Maarat al Numan on Wednesday, rescuers said.")
    _report(folder, "misrin", "Raid on Maarat Misrin", "SANA", "2019-08-29", "Idlib",
            "At least 9 civilians were killed in Maarat Misrin on Wednesday, a source said.")
    _report(folder, "month", "A month of strikes", "AFP", "2019-09-01", "Idlib",
            "In August, at least 400 civilians were killed in Maarat al Numan, the monitor said.")
    _report(folder, "aleppo", "Aleppo too", "Al Arabiya", "2019-08-29", "Idlib",
            "Strikes also hit Maarat al Numan on Wednesday. In Aleppo, 12 civilians were killed on Wednesday.")
    assistant = make_assistant(top_k=8)
    assistant.ingest([folder])
    answer = assistant.ask("How many civilians were killed in Maarat al Numan on Wednesday?")
    got = [(f.source, f.claim.figure, f.claim.place) for f in answer.figures]
    assert got in ([("TRT World", "16", "Maarat al Numan"), ("Reuters", "At least 20", "Maarat al Numan")],
                   [("Reuters", "At least 20", "Maarat al Numan"), ("TRT World", "16", "Maarat al Numan")]), (got, answer.text)


def test_one_report_is_answered_as_before(corpus_assistant):
    # The bundled report alone: its other figures (four in Maar Shamshah, seven on Thursday) are
    # other counts, never a report disagreeing with itself.
    answer = corpus_assistant.ask("How many civilians were killed in Maarat al Numan?")
    assert answer.figures == [] and not answer.text.startswith(("Reports differ", "1 reports"))
    assert answer.short_answer == "at least 16"


def test_the_command_prints_the_figures(make_assistant, three_outlets, tmp_path):
    index = tmp_path / "cli-index"
    make_assistant(index_dir=index).ingest([three_outlets])
    runner = CliRunner()
    env = {"QA_INDEX_DIR": str(index), "QA_AUTO_INGEST_CORPUS": "0"}
    shown = runner.invoke(main, ["ask", QUESTION], env=env)
    assert shown.exit_code == 0, shown.output
    assert "Figures from 2 reports (they differ):" in shown.output
    assert "[2] 12 civilians killed | Maarat al Numan | 2019-08-28 | a local civil defence official | Reuters" in shown.output
    as_json = runner.invoke(main, ["ask", QUESTION, "--json"], env=env)
    assert [f["source"] for f in json.loads(as_json.output)["figures"]] == ["TRT World", "Reuters"]


def test_the_figures_table_is_escaped(make_assistant, three_outlets):
    from qa.ui.rendering import answer_markdown

    assistant = make_assistant()
    assistant.ingest([three_outlets])
    answer = assistant.ask(QUESTION)
    answer.figures[1].claim.attributed_to = "<script>alert(1)</script>"
    shown = answer_markdown(answer)
    assert '<table class="qa-figures"><caption>Figures from 2 reports: they differ</caption>' in shown
    assert "<script>" not in shown and "&lt;script&gt;" in shown
    assert shown.count("<tr>") == 3 and 'href="#passage/' in shown


@pytest.fixture
def figures_server(make_assistant, three_outlets):
    import app
    from app_helpers import free_port

    assistant = make_assistant()
    assistant.ingest([three_outlets])
    port = free_port()
    demo = app.serve(assistant, host="127.0.0.1", port=port, block=False)
    yield f"http://127.0.0.1:{port}/"
    demo.close()


def test_browser_shows_the_figures_table_under_the_answer(browser, figures_server):
    """At 1280 px a table with a row per report; at phone width each row stacks with its labels,
    nothing wider than the screen; a figure's [n] opens its passage."""
    from app_helpers import ask_in_browser

    for width, height in ((1280, 900), (390, 844)):
        page = browser.new_page(viewport={"width": width, "height": height})
        page.goto(figures_server)
        page.wait_for_selector("#qa-question textarea")
        ask_in_browser(page, QUESTION)
        table = page.locator("#qa-chat table.qa-figures")
        table.wait_for()
        assert "Figures from 2 reports: they differ" in table.inner_text()
        rows = table.locator("tbody tr")
        assert rows.count() == 2 and "Reuters" in rows.nth(1).inner_text() and "12" in rows.nth(1).inner_text()
        labels_shown = page.evaluate(
            "() => getComputedStyle(document.querySelector('.qa-figures .qa-label')).display !== 'none'"
        )
        assert labels_shown == (width < 640), width
        assert page.evaluate(
            """() => { const t = document.querySelector('#qa-chat table.qa-figures');
                       return t.getBoundingClientRect().right <= window.innerWidth && t.scrollWidth <= t.clientWidth + 1; }"""
        ), width
        rows.nth(1).locator(".qa-marker").click()
        page.wait_for_function(
            "() => (document.querySelector('#qa-document mark') || {}).innerText?.includes('killed 12 civilians')"
        )
        page.close()
