"""Comparing outlets: `Assistant.ask(by_source=True)`, `qa ask --by-source`, and the app's
"Compare outlets" box (handler and a real browser), on reports written here in which three
outlets tell one event with different figures and a fourth tells only its aftermath."""

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from qa.errors import InputError

pytestmark = pytest.mark.slow  # each test ingests reports with the real model

QUESTION = "How many people were killed in the strike on the Saraqib market?"
# outlet -> (file, date, place, title, text); what each says was the toll, or None
REPORTS = {
    "SANA": ("sana.md", "2019-07-22", "Saraqib", "Terrorist shelling hits Saraqib market",
             "Terrorist groups shelled the popular market in Saraqib on Monday. "
             "Four civilians were killed in the shelling of the market, a SANA reporter said. "
             "Army units responded to the sources of fire."),
    "Reuters": ("reuters.md", "2019-07-22", "Saraqib, Idlib province", "Air strikes hit market in rebel-held Saraqib",
                "Air strikes hit a crowded market in the rebel-held town of Saraqib on Monday. "
                "Twelve civilians were killed in the strike on the market, rescue workers said. "
                "The Syrian Observatory for Human Rights said warplanes carried out the raid."),
    "TRT": ("trt.md", "2019-07-23", "Saraqib", "Regime jets strike Saraqib market",
            "Regime warplanes struck the market of Saraqib in Idlib on Monday. "
            "Nine people were killed in the attack on the market, the White Helmets said. "
            "Thirty shops were destroyed."),
    "Jordan Times": ("jordantimes.md", "2019-07-24", "Saraqib", "Saraqib market reopens after strike",
                     "Traders in Saraqib reopened the market on Wednesday after Monday's strike. "
                     "Shop owners cleared rubble from the market and repaired the stalls. "
                     "The town council promised to rebuild the damaged roof."),
}
TOLLS = {"SANA": "Four civilians", "Reuters": "Twelve civilians", "TRT": "Nine people"}
# A report with no outlet: in the main answer's reach, never an outlet of its own.
NO_OUTLET = ("bulletin.md", "Saraqib market toll",
             "A local bulletin said the strike on the Saraqib market on Monday killed people in the crowd.")


def write_reports(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for outlet, (name, date, place, title, text) in REPORTS.items():
        front = f"title: {title}\noutlet: {outlet}\ndate: {date}\nplace: {place}"
        (folder / name).write_text(f"---\n{front}\n---\n{text}\n")
    name, title, text = NO_OUTLET
    (folder / name).write_text(f"---\ntitle: {title}\n---\n{text}\n")
    return folder


@pytest.fixture(scope="module")
def compared(tmp_path_factory, embedder):
    from qa import Assistant

    root = tmp_path_factory.mktemp("by-source")
    assistant = Assistant(embedder=embedder, index_dir=root / "index", auto_ingest_corpus=False)
    report = assistant.ingest([write_reports(root / "reports")])
    assert len(report.added) == 5 and not report.failed
    return assistant


def outlet_of(assistant, doc_id: str) -> str:
    return assistant.document(doc_id).source


# -- the API ---------------------------------------------------------------------------------------
def test_each_outlet_is_answered_from_its_own_reports_with_its_own_figure(compared):
    answer = compared.ask(QUESTION, by_source=True)
    by_outlet = {a.outlet: a for a in answer.by_source}
    assert set(by_outlet) == set(REPORTS), "every outlet retrieved, and no '(no outlet)' group"
    for outlet, toll in TOLLS.items():
        told = by_outlet[outlet]
        assert not told.abstained and told.text.startswith(toll) and told.short_answer in toll, (outlet, told.text)
        assert [c.n for c in told.citations] == list(range(1, len(told.citations) + 1))
        assert {c.source for c in told.citations} == {outlet}
        assert {outlet_of(compared, p.doc_id) for p in told.passages} == {outlet}
        # No other outlet's figure slips in.
        assert not any(other in told.text for o, other in TOLLS.items() if o != outlet)
    aftermath = by_outlet["Jordan Times"]
    assert aftermath.abstained and aftermath.text.startswith("The reports from Jordan Times don't say")
    assert {c.source for c in aftermath.citations} <= {"Jordan Times"}
    # The outlets come in the order of their best chunk in the wider retrieval.
    wide = compared.ask(QUESTION, top_k=15)
    first_seen = list(dict.fromkeys(outlet_of(compared, p.doc_id) for p in wide.passages))
    assert [a.outlet for a in answer.by_source] == [o for o in first_seen if o]
    assert answer.timings_ms["by_source"] > 0 and list(answer.timings_ms)[-1] == "total"


def test_the_main_answer_is_the_same_with_or_without_the_comparison(compared):
    plain = compared.ask(QUESTION)
    answer = compared.ask(QUESTION, by_source=True)
    assert plain.by_source is None and answer.text == plain.text and answer.citations == plain.citations
    assert answer.passages == plain.passages and answer.outlet == ""
    before, after = plain.to_dict(), answer.to_dict()
    assert "by_source" not in before and "outlet" not in before
    assert list(after)[:-1] == list(before) and list(after)[-1] == "by_source"
    for item, told in zip(after["by_source"], answer.by_source):
        assert item["outlet"] == told.outlet and item["answer"] == told.text and "by_source" not in item
        assert [c["n"] for c in item["citations"]] == [c.n for c in told.citations]
        assert item["filters"]["source"] == [told.outlet]
    json.dumps(after)  # plain JSON all through


def test_filters_combine_with_each_outlet(compared):
    answer = compared.ask(QUESTION, by_source=True, source=["Reuters", "TRT", "Jordan Times"], date_to="2019-07-23")
    assert [a.outlet for a in answer.by_source] and {a.outlet for a in answer.by_source} == {"Reuters", "TRT"}
    for told in answer.by_source:
        assert told.filters.sources == (told.outlet,) and told.filters.date_to == "2019-07-23"
        assert {c.source for c in told.citations} == {told.outlet} and told.text.startswith(TOLLS[told.outlet])
    # An outlet's abstention names the filters the user set, not the outlet twice.
    dated = compared.ask(QUESTION, by_source=True, date_from="2019-07-24")
    [aftermath] = dated.by_source
    assert aftermath.outlet == "Jordan Times" and aftermath.abstained
    assert aftermath.text.endswith("(Only reports matching from 2019-07-24 were searched.)")


def test_top_k_and_the_number_of_outlets_are_respected(compared, embedder):
    from qa import Assistant

    answer = compared.ask(QUESTION, top_k=1, by_source=True)
    assert len(answer.passages) == 1 and answer.by_source
    for told in answer.by_source:
        assert len(told.passages) == 1 and outlet_of(compared, told.passages[0].doc_id) == told.outlet
    # The outlets are those of the best compare_pool x top_k chunks: 1 x 1 is one outlet.
    narrow = Assistant(
        embedder=embedder, index_dir=compared.settings.index.index_dir, auto_ingest_corpus=False, compare_pool=1
    )
    best = outlet_of(compared, answer.passages[0].doc_id)  # "" for the report without an outlet: none then
    assert [a.outlet for a in narrow.ask(QUESTION, top_k=1, by_source=True).by_source] == ([best] if best else [])
    few = Assistant(
        embedder=embedder, index_dir=compared.settings.index.index_dir, auto_ingest_corpus=False, compare_outlets=2
    )
    assert [a.outlet for a in few.ask(QUESTION, by_source=True).by_source] == [a.outlet for a in compared.ask(
        QUESTION, by_source=True).by_source][:2]


def test_a_follow_up_is_compared_with_the_earlier_questions_topic(compared):
    answer = compared.ask("And how many shops were destroyed?", history=[QUESTION], by_source=True)
    assert answer.follow_up_of == QUESTION and answer.text.endswith(answer.follow_up_note)
    for told in answer.by_source:
        assert told.follow_up_of == QUESTION and told.asked_as == answer.asked_as
        assert not told.text.endswith(told.follow_up_note), "said once, by the main answer"
    trt = next(a for a in answer.by_source if a.outlet == "TRT")
    # Searched with the earlier question's topic, inside TRT's reports: its sentence on the shops
    # (the answerer reads "Thirty shops" as what is nearby rather than a count: its own judgement).
    assert "Thirty shops were destroyed. [1]" in trt.text and [c.source for c in trt.citations] == ["TRT"]


def test_by_source_must_be_true_or_false(compared):
    with pytest.raises(InputError, match="by_source must be true or false, got 'yes'"):
        compared.ask(QUESTION, by_source="yes")


# -- the command -----------------------------------------------------------------------------------
def test_qa_ask_by_source_prints_a_block_per_outlet(compared):
    env = {**os.environ, "QA_INDEX_DIR": str(compared.settings.index.index_dir)}

    def qa_ask(*args: str) -> subprocess.CompletedProcess:
        command = [sys.executable, "-m", "qa.cli", "ask", *args]
        return subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)

    done = qa_ask("--by-source", QUESTION)
    assert done.returncode == 0, done.stderr
    main, *blocks = done.stdout.split("\n== ")
    assert "[1]" in main
    told = {block.split(" ==\n", 1)[0]: block.split(" ==\n", 1)[1] for block in blocks}
    assert set(told) == set(REPORTS)
    for outlet, toll in TOLLS.items():
        assert told[outlet].startswith(toll) and f"({outlet}, " in told[outlet]  # its citation, as the main answer's
    assert told["Jordan Times"].startswith("The reports from Jordan Times don't say")
    data = json.loads(qa_ask("--json", "--by-source", QUESTION).stdout)
    answered = {item["outlet"]: item["answer"] for item in data["by_source"] if not item["abstained"]}
    assert set(answered) == set(TOLLS) and all(answered[o].startswith(toll) for o, toll in TOLLS.items())
    plain = json.loads(qa_ask("--json", QUESTION).stdout)
    assert "by_source" not in plain and plain["answer"] == data["answer"]


# -- the app -----------------------------------------------------------------------------------------
def test_the_chat_shows_a_card_per_outlet_when_asked(compared):
    pytest.importorskip("gradio", reason="the web app needs the UI extra")
    from qa.ui import handlers, rendering

    *_, (_, history, _, _, off) = handlers.respond(compared, QUESTION, [], "hybrid", 5)
    assert off == ""
    steps = list(handlers.respond(compared, QUESTION, [], "hybrid", 5, by_source=True))
    assert "Comparing outlets" in steps[0][4]
    _, history, panel, _, comparison = steps[-1]
    answer = compared.ask(QUESTION, by_source=True)
    assert history[-1]["content"] == rendering.answer_markdown(answer), "the chat answer is the usual one"
    assert comparison.count('<article class="qa-outlet') == len(REPORTS)
    for told in answer.by_source:
        assert f"<h3>{rendering.esc(told.outlet)}</h3>" in comparison
        for c in told.citations:
            assert f'data-doc="{c.doc_id}" data-start="{c.start}" data-end="{c.end}"' in comparison
            assert rendering.esc(c.title) in comparison and c.date in comparison
            # The passage a card's citation names opens as a source card's does.
            assert rendering.esc(c.text) in handlers.open_source(compared, c.doc_id, c.start, c.end)
    assert 'class="qa-outlet qa-outlet-abstained"><h3>Jordan Times</h3>' in comparison
    assert handlers.ask_json(compared, QUESTION, by_source=True)["by_source"][0]["outlet"] == answer.by_source[0].outlet


def test_outlet_cards_escape_what_the_reports_say(compared):
    pytest.importorskip("gradio", reason="the web app needs the UI extra")
    from qa.types import Answer, Citation
    from qa.ui import rendering

    evil = '<img src=x onerror="alert(1)">'
    told = Answer(question=evil, text=f"{evil} said so [1]", abstained=False, outlet=f"{evil} Wire", citations=[
        Citation(doc_id='d"1', start=0, end=5, text=evil, n=1, title=evil, source=evil, date="2019-01-01", score=1.0)
    ])
    shown = rendering.comparison_html(Answer(question=evil, text="", abstained=False, by_source=[told]))
    assert "<img" not in shown and "&lt;img src=x onerror=&quot;alert(1)&quot;&gt; Wire" in shown
    assert 'data-doc="d&quot;1"' in shown
    assert "No retrieved report names its outlet" in rendering.comparison_html(
        Answer(question="q", text="", abstained=True, by_source=[]))


@pytest.fixture(scope="module")
def compare_server(compared):
    pytest.importorskip("gradio", reason="the web app needs the UI extra")
    import app
    from app_helpers import free_port

    port = free_port()
    demo = app.serve(compared, host="127.0.0.1", port=port, block=False)
    yield f"http://127.0.0.1:{port}/"
    demo.close()


def _cards_in_a_row(page) -> int:
    """How many outlet cards share the first card's row."""
    return page.evaluate(
        """() => {
          const cards = [...document.querySelectorAll('#qa-compare .qa-outlet')];
          const tops = cards.map(c => Math.round(c.getBoundingClientRect().top));
          return tops.filter(t => t === tops[0]).length;
        }"""
    )


def test_browser_compares_outlets_side_by_side_and_opens_a_citation(browser, compare_server):
    from app_helpers import ask_in_browser

    shots = os.environ.get("QA_SCREENSHOT_DIR")
    for width, height in ((1280, 900), (390, 844)):
        page = browser.new_page(viewport={"width": width, "height": height})
        page.goto(compare_server)
        page.wait_for_selector("#qa-question textarea")
        page.get_by_label("Compare outlets").check()
        ask_in_browser(page, QUESTION)
        page.wait_for_selector("#qa-compare .qa-outlet")
        cards = page.locator("#qa-compare .qa-outlet")
        assert cards.count() == len(REPORTS)
        text = page.inner_text("#qa-compare")
        assert all(toll in text for toll in TOLLS.values()) and "Jordan Times" in text
        in_a_row = _cards_in_a_row(page)
        assert in_a_row >= 2 if width == 1280 else in_a_row == 1, (width, in_a_row)
        # Nothing cut off or scrolling sideways.
        assert page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth")
        assert page.evaluate(
            """() => [...document.querySelectorAll('#qa-compare .qa-outlet, #qa-compare .qa-compare-source')].every(
              e => e.scrollWidth <= e.clientWidth + 1 && e.getBoundingClientRect().right <= window.innerWidth)"""
        )
        if shots:
            page.screenshot(path=str(Path(shots) / f"compare-{width}.png"), full_page=True)
        # A card's citation opens its passage in the document view.
        reuters = page.locator("#qa-compare .qa-outlet", has_text="Reuters")
        reuters.locator(".qa-compare-source").first.click()
        page.wait_for_function(
            "() => (document.querySelector('#qa-document mark') || {}).innerText?.includes('Twelve civilians')"
        )
        if shots:
            page.screenshot(path=str(Path(shots) / f"compare-{width}-opened.png"))
        # Off again: the next answer has no comparison.
        page.get_by_label("Compare outlets").uncheck()
        ask_in_browser(page, QUESTION)
        page.wait_for_selector("#qa-compare .qa-outlet", state="detached")
        page.close()


# -- FA-KES (shared data): real outlets telling real events ------------------------------------------
FAKES = Path(__file__).resolve().parents[2] / "shared" / "data" / "fa-kes.csv"


def test_fa_kes_outlets_are_compared_on_one_event(tmp_path, embedder):
    """A sample of FA-KES (every report naming Khan Shaykhun, the April 2017 chemical attack that
    many outlets covered): each outlet's answer cites that outlet's reports only."""
    if not FAKES.exists():
        pytest.skip(f"{FAKES} is not here (shared test data)")
    from qa import Assistant

    with FAKES.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    sample = [r for r in rows if "khan sh" in (r["article_content"] + r["article_title"]).lower()][:60]
    if len({r["source"] for r in sample}) < 3:
        pytest.skip("the FA-KES file here has fewer than three outlets on Khan Shaykhun")
    target = tmp_path / "sample.csv"
    with target.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(sample)
    assistant = Assistant(embedder=embedder, index_dir=tmp_path / "index", auto_ingest_corpus=False)
    assert not assistant.ingest([target]).failed
    answer = assistant.ask("How many people were killed in the chemical attack in Khan Shaykhun?", by_source=True)
    assert len(answer.by_source) >= 3
    for told in answer.by_source:
        assert {c.source for c in told.citations} <= {told.outlet}
        assert {assistant.document(p.doc_id).source for p in told.passages} == {told.outlet}
