"""The web app: handlers called directly, a real server driven by gradio_client, and a real
headless Chromium (Debian's) driven by Playwright, including the injection test."""

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

gr = pytest.importorskip("gradio", reason="the web app needs the UI extra: pip install -e '.[ui]'")

import app  # noqa: E402
from qa import Assistant  # noqa: E402
from qa.answering import ABSTAIN_TEXT  # noqa: E402
from qa.config import BUNDLED_CORPUS_DIR  # noqa: E402

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
QUESTION = "Which charity said hospitals in the province had to close?"
NEW_REPORT = (
    "Flooding cuts road to Afrin camps\n\n"
    "Heavy rain flooded the road between Afrin and the Atmeh camps on Tuesday. "
    "The Syrian Civil Defence said 340 tents were washed away near the village of Deir Ballut. "
    "Aid trucks were turned back at the crossing.\n"
)
NEW_QUESTION = "How many tents were washed away near Deir Ballut?"
INJECTION_REPORT = (
    '<img src=x onerror="window.__pwned=1;alert(1)"> Zarzour market bulletin\n\n'
    "Traders in the market of Zarzour counted 77 shops destroyed <script>window.__pwned=2;alert(2)</script> "
    "after the shelling on Sunday (photos at https://evil.example/x and www.evil.example).\n"
)
INJECTION_QUESTION = 'How many shops were destroyed in Zarzour? <img src=x onerror="window.__pwned=3">'


def write_upload(folder: Path, name: str, content: str | bytes) -> str:
    """A file as Gradio hands an upload to a handler: a copy in a folder of its own."""
    target = folder / f"upload-{len(list(folder.iterdir())) if folder.exists() else 0}" / name
    target.parent.mkdir(parents=True)
    target.write_bytes(content.encode() if isinstance(content, str) else content)
    return str(target)


def run_chat(assistant: Assistant, question: str, history=None, mode: str = "hybrid", top_k: int = 5, panels=None):
    return list(app.respond(assistant, question, history, mode, top_k, panels))


@pytest.fixture
def assistant(make_assistant):
    assistant = make_assistant()
    assert not assistant.ingest([BUNDLED_CORPUS_DIR]).failed
    return assistant


# -- handlers, no server ---------------------------------------------------------------------
@pytest.mark.slow
def test_chat_streams_the_answer_then_shows_cited_sources(assistant):
    steps = run_chat(assistant, QUESTION)
    assert len(steps) > 3, "the answer should arrive in pieces"
    partial = [history[-1]["content"] for _, history, _, _ in steps[:-1]]
    assert all(len(a) <= len(b) for a, b in zip(partial, partial[1:]))
    textbox, history, panel, panels = steps[-1]
    assert panels == {1: panel}
    assert textbox == "" and [m["role"] for m in history] == ["user", "assistant"]
    final = history[-1]["content"]
    assert "Doctors Without Borders" in final and "**\\[1\\]**" in final and "**Sources**" in final
    assert "The New Arab" in final  # outlet under the answer
    answer = assistant.ask(QUESTION)
    first = answer.citations[0]
    assert f'data-doc="{first.doc_id}" data-start="{first.start}" data-end="{first.end}"' in panel
    assert app.esc(first.text) in panel and "2017-09-30" in panel

    view = app.open_source(assistant, first.doc_id, first.start, first.end)
    assert f'<mark id="qa-passage">{app.esc(first.text)}</mark>' in view
    before, after = view.split("<mark", 1)[0], view.split("</mark>", 1)[1]
    assert len(before) > 200 and len(after) > 200, "the passage should come with the text around it"


@pytest.mark.slow
def test_history_is_kept_and_abstentions_look_different(assistant):
    _, history, first_panel, panels = run_chat(assistant, QUESTION)[-1]
    _, history, panel, panels = run_chat(assistant, "Who won the 2018 World Cup final?", history, panels=panels)[-1]
    assert len(history) == 4 and "Doctors Without Borders" in history[1]["content"]
    abstained = history[-1]["content"]
    assert 'class="qa-abstained"' in abstained and app.ABSTAINED_LABEL in abstained
    assert app.md(ABSTAIN_TEXT) in abstained
    assert 'class="qa-source"' not in panel and "No passage" in panel
    # A click on the first answer brings its sources back; a click on a question changes nothing.
    assert app.earlier_sources(panels, 1) == first_panel and "Doctors Without Borders" in first_panel
    assert app.earlier_sources(panels, 3) == panel
    assert app.earlier_sources(panels, 0) == gr.update()


@pytest.mark.slow
def test_chat_filters_narrow_the_search_and_show_in_the_question(assistant):
    outlets = app._documents_outputs(assistant, "")[3]["choices"]
    assert outlets == ["The New Arab (Al-Araby Al-Jadeed)"]
    kept = run_chat_filtered(assistant, source=outlets, place="Idlib", date_from="2017-09")
    asked, answered = kept[1][0]["content"], kept[1][1]["content"]
    assert f"*Only {app.md('outlet The New Arab (Al-Araby Al-Jadeed), place Idlib, from 2017-09-01')}*" in asked
    assert "Doctors Without Borders" in answered
    _, history, panel, _ = run_chat_filtered(assistant, date_to="2016-12")
    assert app.md("No report in the index matches the filters (to 2016-12-31).") in history[1]["content"]
    with pytest.raises(gr.Error, match="did you mean"):
        run_chat_filtered(assistant, place="Idleb")
    with pytest.raises(gr.Error, match="date_from must be a date"):
        run_chat_filtered(assistant, date_from="soon")


def run_chat_filtered(assistant: Assistant, **filters):
    return list(app.respond(assistant, QUESTION, None, "hybrid", 5, None, **filters))[-1]


@pytest.mark.parametrize(
    "question, mode, top_k, message",
    [
        ("", "hybrid", 5, "empty"),
        ("   \n ", "hybrid", 5, "empty"),
        ("why " * 1000, "hybrid", 5, "limit is 2,000"),
        ("?!", "hybrid", 5, "no words"),
        ("Who?", "telepathy", 5, "Unknown retrieval mode"),
        ("Who?", "hybrid", 0, "top_k"),
    ],
)
def test_bad_questions_give_a_clear_error(make_assistant, question, mode, top_k, message):
    with pytest.raises(gr.Error, match=message):
        run_chat(make_assistant(), question, mode=mode, top_k=top_k)


@pytest.mark.slow
def test_open_source_refuses_spans_it_cannot_show(assistant):
    doc = assistant.documents()[0]
    with pytest.raises(gr.Error, match="not found|no document"):
        app.open_source(assistant, "0123456789abcdef", 0, 10)
    with pytest.raises(gr.Error, match="outside"):
        app.open_source(assistant, doc.doc_id, 10, 10**9)
    with pytest.raises(gr.Error, match="does not name a passage"):
        app.open_source(assistant, doc.doc_id, "x", None)


@pytest.mark.slow
def test_upload_is_answerable_at_once_then_deleted(assistant, tmp_path):
    upload = write_upload(tmp_path / "gradio", "afrin-floods.txt", NEW_REPORT)
    status, rows, choices, _ = app.ingest_uploads(assistant, [upload])
    assert "1 added" in status
    assert not Path(upload).exists(), "the uploaded copy is removed once ingested"
    assert not list(Path(tempfile.gettempdir()).glob("qa-upload-*")), "so is the private copy"
    row = next(r for r in rows if r[0] == "Flooding cuts road to Afrin camps")
    doc_id = row[5]
    assert (f"Flooding cuts road to Afrin camps (no date) · {doc_id}", doc_id) in choices["choices"]
    assert assistant.document(doc_id).path == "upload:afrin-floods.txt"  # the name, not the temp path

    answer = assistant.ask(NEW_QUESTION)
    assert "340" in answer.text and answer.citations[0].doc_id == doc_id

    status, rows, _, _ = app.delete_document(assistant, doc_id)
    assert "Deleted" in status and "Afrin" in status
    assert all(r[5] != doc_id for r in rows) and len(rows) == 1
    answer = assistant.ask(NEW_QUESTION)
    assert all(c.doc_id != doc_id for c in answer.citations)
    with pytest.raises(gr.Error, match="Choose a report"):
        app.delete_document(assistant, None)


@pytest.mark.slow
def test_a_collection_can_be_uploaded(assistant, tmp_path):
    upload = write_upload(
        tmp_path / "gradio",
        "wire.csv",
        "title,text,outlet\nAfrin floods,Heavy rain flooded 340 tents near Deir Ballut.,Wire A\nBroken\n",
    )
    status, rows, _, _ = app.ingest_uploads(assistant, [upload])
    assert "1 added" in status and "1 failed" in status
    assert "upload&#58;wire\\.csv, row 2&#58; has 1 fields" in status and str(tmp_path) not in status
    doc = assistant.document(next(r[5] for r in rows if r[0] == "Afrin floods"))
    assert doc.source == "Wire A" and doc.path == "upload:wire.csv#1"


@pytest.mark.slow
def test_same_name_uploads_are_two_reports(assistant, tmp_path):
    first = write_upload(tmp_path / "gradio", "report.txt", NEW_REPORT)
    second = write_upload(tmp_path / "gradio", "report.txt", "Another outlet, another day.\n\nShelling hit Saraqib.\n")
    app.ingest_uploads(assistant, [first])
    status, rows, _, _ = app.ingest_uploads(assistant, [second])
    assert "1 added" in status and "0 replaced" in status
    assert len(rows) == 3


@pytest.mark.slow
def test_a_bad_upload_is_explained_and_the_rest_land(assistant, tmp_path):
    png = write_upload(tmp_path / "gradio", "photo.txt", b"\x89PNG\r\n\x1a\n" + b"\0" * 64)
    with pytest.raises(gr.Error, match=r"Nothing was ingested\. upload:photo\.txt: this is a PNG image"):
        app.ingest_uploads(assistant, [png])
    good = write_upload(tmp_path / "gradio", "afrin.txt", NEW_REPORT)
    empty = write_upload(tmp_path / "gradio", "empty.md", "")
    status, rows, _, _ = app.ingest_uploads(assistant, [good, empty])
    assert "1 added" in status and "Not ingested:** upload&#58;empty\\.md" in status
    assert str(tmp_path) not in status, "temporary paths are not shown"
    assert len(rows) == 2
    with pytest.raises(gr.Error, match="Choose one or more"):
        app.ingest_uploads(assistant, [])
    assert not assistant.ask(QUESTION).abstained  # still working


@pytest.mark.slow
def test_markup_in_reports_and_questions_is_escaped_everywhere(assistant, tmp_path):
    app.ingest_uploads(assistant, [write_upload(tmp_path / "gradio", "zarzour.txt", INJECTION_REPORT)])
    _, history, panel, _ = run_chat(assistant, INJECTION_QUESTION)[-1]
    answer = assistant.ask(INJECTION_QUESTION)
    assert "77 shops" in answer.text and "<script>" in answer.text
    citation = answer.citations[0]
    view = app.open_source(assistant, citation.doc_id, citation.start, citation.end)
    rendered = [history[0]["content"], history[1]["content"], panel, view]
    for output in rendered:
        assert "<img" not in output and "<script" not in output
    assert "&lt;script&gt;window" in panel and "&lt;img src=x onerror" in view
    assert "&lt;script&gt;window" in history[1]["content"]


def test_markdown_escaping_keeps_text_literal():
    assert app.md("*bold* [x](javascript:alert(1)) $x$ <b>") == (
        "\\*bold\\* \\[x\\]\\(javascript&#58;alert\\(1\\)\\) \\$x\\$ &lt;b&gt;"
    )
    assert app.md("see https://a.example or www.b.example or me@c.example") == (
        "see https&#58;//a\\.example or w&#119;w\\.b\\.example or me&#64;c\\.example"
    )
    assert app.esc('" onmouseover="x') == "&quot; onmouseover=&quot;x"
    assert app.safe_name("../../etc/passwd") == "etc_passwd" and app.safe_name("..") == "upload"
    assert app.safe_name("rapport d'été (1).txt") == "rapport_d_été_1_.txt"
    assert app.ui_error("bad id '<img src=x>'").message == "bad id &#x27;&lt;img src=x&gt;&#x27;"


# -- a real server ---------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory, embedder):
    """The app on a free port, on its own index holding the bundled corpus."""
    index = tmp_path_factory.mktemp("app-index")
    assistant = Assistant(embedder=embedder, index_dir=index, auto_ingest_corpus=False)
    assert not assistant.ingest([BUNDLED_CORPUS_DIR]).failed
    port = free_port()
    demo = app.serve(assistant, host="127.0.0.1", port=port, block=False)
    yield assistant, f"http://127.0.0.1:{port}/", index
    demo.close()


@pytest.mark.slow
def test_ask_endpoint_returns_what_the_cli_prints(server):
    from gradio_client import Client

    assistant, url, index = server
    client = Client(url, verbose=False)
    assert list(client.view_api(print_info=False, return_format="dict")["named_endpoints"]) == ["/ask"]
    served = client.predict(QUESTION, api_name="/ask")
    env = {**os.environ, "QA_INDEX_DIR": str(index)}
    done = subprocess.run(
        [sys.executable, "-m", "qa.cli", "ask", "--json", QUESTION],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    printed = json.loads(done.stdout)
    assert served.keys() == printed.keys()
    served.pop("timings_ms"), printed.pop("timings_ms")
    assert served == printed
    assert client.predict("Who?", 3, "bm25", api_name="/ask")["mode"] == "bm25"
    filtered = client.predict(QUESTION, date_to="2016", api_name="/ask")
    assert filtered["abstained"] and filtered["filters"]["date_to"] == "2016-12-31"
    kept = client.predict(QUESTION, source=["The New Arab (Al-Araby Al-Jadeed)"], place="Idlib", api_name="/ask")
    assert kept["citations"] and kept["filters"]["place"] == ["Idlib"]


@pytest.mark.slow
def test_ask_endpoint_errors_are_one_clear_message(server):
    from gradio_client import Client

    client = Client(server[1], verbose=False)
    with pytest.raises(Exception, match="the question is empty"):
        client.predict("   ", api_name="/ask")
    assert not client.predict(QUESTION, api_name="/ask")["abstained"]


def test_server_binds_to_loopback_by_default():
    assert Assistant().settings.host == "127.0.0.1"


# -- a real browser --------------------------------------------------------------------------
@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        if os.environ.get("QA_REQUIRE_BROWSER"):
            pytest.fail(f"{CHROMIUM} is missing (apt-get install chromium chromium-driver)")
        pytest.skip(f"{CHROMIUM} is missing: `make test` installs Debian's chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, server):
    """A fresh page on the app that records dialogs and any request leaving this machine."""
    page = browser.new_page(viewport={"width": 1280, "height": 860})
    page.dialogs, page.external = [], []
    page.on("dialog", lambda d: (page.dialogs.append(d.message), d.dismiss()))
    page.on(
        "request",
        lambda r: None if r.url.startswith(("http://127.0.0.1", "data:", "blob:")) else page.external.append(r.url),
    )
    page.goto(server[1])
    page.wait_for_selector("#qa-question textarea")
    yield page
    page.close()


def ask_in_browser(page, question: str) -> None:
    """Type a question, press Enter and wait until its answer has finished streaming."""
    answers = page.locator("#qa-chat .bot-row").count()
    page.fill("#qa-question textarea", question)
    page.keyboard.press("Enter")
    # The answer's first words and the "Answering…" panel arrive in one update.
    page.wait_for_function("n => document.querySelectorAll('#qa-chat .bot-row').length > n", arg=answers)
    page.wait_for_function("() => !document.querySelector('#qa-sources').innerText.includes('Answering')")


@pytest.mark.slow
def test_browser_asks_sees_a_cited_answer_and_opens_the_source(page, server):
    assistant = server[0]
    ask_in_browser(page, QUESTION)
    page.wait_for_selector("#qa-sources .qa-source")
    chat = page.inner_text("#qa-chat")
    assert "Doctors Without Borders" in chat and "[1]" in chat and "Sources" in chat
    citation = assistant.ask(QUESTION).citations[0]
    assert citation.text in page.inner_text("#qa-sources .qa-source >> nth=0")
    page.click("#qa-sources .qa-source >> nth=0")
    page.wait_for_selector("#qa-document mark")
    assert page.inner_text("#qa-document mark").strip() == citation.text
    assert "Harem district" in page.inner_text("#qa-document .qa-text")  # surrounding text
    if os.environ.get("QA_SCREENSHOT"):  # `make screenshot` refreshes the README picture
        page.screenshot(path=os.environ["QA_SCREENSHOT"])

    ask_in_browser(page, "Who won the 2018 World Cup final?")
    page.wait_for_selector("#qa-chat .qa-abstained")  # styled apart from answers
    assert "No answer in the reports" in page.inner_text("#qa-chat .qa-abstained")
    page.wait_for_function("() => document.querySelector('#qa-sources').innerText.includes('No passage')")
    page.locator("#qa-chat .bot-row").first.click()  # an earlier answer brings its sources back
    page.wait_for_selector("#qa-sources .qa-source")
    assert "Doctors Without Borders" in page.inner_text("#qa-sources")
    assert page.dialogs == [] and page.external == []


@pytest.mark.slow
def test_browser_filters_narrow_the_answer(page, server):
    page.get_by_text("Filters", exact=True).click()
    outlet = page.locator("#qa-filter-source input")
    outlet.click()
    page.get_by_role("option", name="The New Arab (Al-Araby Al-Jadeed)").click()
    page.fill("#qa-filter-place input, #qa-filter-place textarea", "Idlib")
    ask_in_browser(page, QUESTION)
    page.wait_for_selector("#qa-sources .qa-source")
    chat = page.inner_text("#qa-chat")
    assert "Only outlet The New Arab (Al-Araby Al-Jadeed), place Idlib" in chat
    assert "Doctors Without Borders" in chat

    page.fill("#qa-filter-to input, #qa-filter-to textarea", "2016")
    ask_in_browser(page, QUESTION)
    page.wait_for_selector("#qa-chat .qa-abstained")
    assert "No report in the index matches the filters" in page.inner_text("#qa-chat .qa-abstained")

    page.fill("#qa-filter-to input, #qa-filter-to textarea", "someday")
    page.fill("#qa-question textarea", QUESTION)
    page.keyboard.press("Enter")
    page.get_by_text("date_to must be a date like 2017-04-05", exact=False).first.wait_for()
    assert page.dialogs == [] and page.external == []


@pytest.mark.slow
def test_browser_upload_ask_delete(page, server, tmp_path):
    report = tmp_path / "afrin-floods.txt"
    report.write_text(NEW_REPORT)
    page.get_by_role("tab", name="Documents").click()
    page.set_input_files("#qa-upload input[type=file]", str(report))
    page.wait_for_function("() => document.querySelector('#qa-status')?.innerText.includes('1 added')")
    assert "Flooding cuts road to Afrin camps" in page.inner_text("#qa-documents")

    page.get_by_role("tab", name="Ask").click()
    ask_in_browser(page, NEW_QUESTION)
    page.wait_for_selector("#qa-sources .qa-source")
    assert "340 tents" in page.inner_text("#qa-chat")
    assert "Flooding cuts road to Afrin camps" in page.inner_text("#qa-sources")

    page.get_by_role("tab", name="Documents").click()
    page.click("#qa-delete-choice input")
    page.get_by_role("option", name="Flooding cuts road to Afrin camps", exact=False).click()
    page.click("#qa-delete")
    page.wait_for_function("() => document.querySelector('#qa-status')?.innerText.includes('Deleted')")
    assert "Afrin" not in page.inner_text("#qa-documents")
    assert all("Afrin" not in d.title for d in server[0].documents())
    assert page.dialogs == []


@pytest.mark.slow
def test_browser_shows_markup_from_reports_as_text_and_runs_none_of_it(page, server, tmp_path):
    assistant = server[0]
    upload = tmp_path / "zarzour.txt"
    upload.write_text(INJECTION_REPORT)
    assert assistant.ingest([upload]).added
    page.reload()
    page.wait_for_selector("#qa-question textarea")
    body_before = page.evaluate("document.body.children.length")

    ask_in_browser(page, INJECTION_QUESTION)
    page.wait_for_selector("#qa-sources .qa-source")
    page.click("#qa-sources .qa-source >> nth=0")
    page.wait_for_selector("#qa-document mark")
    page.get_by_role("tab", name="Documents").click()
    page.wait_for_function("() => document.querySelector('#qa-documents')?.innerText.includes('Zarzour')")
    page.wait_for_timeout(500)  # give any injected handler time to fire

    assert page.dialogs == []
    assert page.evaluate("window.__pwned") is None
    assert page.locator("img[src='x']").count() == 0 and page.locator("script:has-text('__pwned')").count() == 0
    assert page.evaluate("document.body.children.length") == body_before
    assert page.locator("a[href*='evil']").count() == 0  # URLs in reports are not made links
    page.get_by_role("tab", name="Ask").click()
    assert '<img src=x onerror="window.__pwned=3">' in page.inner_text("#qa-chat")  # the question, literally
    assert "<script>window.__pwned=2;alert(2)</script>" in page.inner_text("#qa-chat")
    assert "<script>window.__pwned=2;alert(2)</script>" in page.inner_text("#qa-sources")
    assert "<script>window.__pwned=2;alert(2)</script>" in page.inner_text("#qa-document")
    page.get_by_role("tab", name="Documents").click()
    page.wait_for_function("() => document.querySelector('#qa-documents')?.innerText.includes('Zarzour')")
    assert '<img src=x onerror="window.__pwned=1;alert(1)"> Zarzour market bulletin' in page.inner_text("#qa-documents")


@pytest.mark.slow
def test_qa_serve_starts_the_app_and_refuses_a_taken_port(tmp_path):
    """`qa serve` as a user starts it: a real process on loopback, answering /ask."""
    from gradio_client import Client

    port = free_port()
    env = {**os.environ, "QA_INDEX_DIR": str(tmp_path / "index")}
    command = [sys.executable, "-m", "qa.cli", "serve", "--port", str(port)]
    log = (tmp_path / "serve.log").open("w")
    # Run from a folder with an app.py of its own: qa serve must still start its own app.
    (tmp_path / "app.py").write_text("raise SystemExit('the wrong app.py was imported')\n")
    server = subprocess.Popen(command, env=env, cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT, text=True)
    try:
        client = None
        for _ in range(240):  # model load and corpus ingest first
            try:
                client = Client(f"http://127.0.0.1:{port}/", verbose=False)
                break
            except Exception:
                if server.poll() is not None:
                    pytest.fail((tmp_path / "serve.log").read_text())
                time.sleep(0.5)
        assert client is not None, "qa serve did not come up"
        assert "Doctors Without Borders" in client.predict(QUESTION, api_name="/ask")["answer"]
        outside = non_loopback_address()
        if outside:  # bound to loopback only: the machine's other address is refused
            with pytest.raises(OSError), socket.create_connection((outside, port), timeout=5):
                pass
        taken = subprocess.run(command, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300)
        assert taken.returncode == 1
        assert taken.stderr.count("\n") == 1 and taken.stderr.startswith(f"error: cannot serve on 127.0.0.1:{port}: ")
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()


def non_loopback_address() -> str | None:
    """This machine's address on its default route, if it has one (no packet is sent)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("10.255.255.255", 1))
            address = probe.getsockname()[0]
        except OSError:
            return None
    return None if address.startswith("127.") else address


@pytest.fixture
def small_server(tmp_path, embedder):
    """The app with a 3 kB upload limit (the bundled report is 2.8 kB), on its own index."""
    assistant = Assistant(embedder=embedder, index_dir=tmp_path / "index", max_file_bytes=3000)
    port = free_port()
    demo = app.serve(assistant, host="127.0.0.1", port=port, block=False)
    yield f"http://127.0.0.1:{port}/"
    demo.close()


@pytest.mark.slow
def wait_for_empty_upload_box(page) -> None:
    page.wait_for_function("() => document.querySelector('#qa-upload').innerText.includes('Click to Upload')")


def test_browser_explains_a_bad_upload_and_keeps_working(browser, small_server, tmp_path):
    page = browser.new_page(viewport={"width": 1280, "height": 860})
    dialogs, external = [], []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.on(
        "request",
        lambda r: None if r.url.startswith(("http://127.0.0.1", "data:", "blob:")) else external.append(r.url),
    )
    try:
        page.goto(small_server)
        page.get_by_role("tab", name="Documents").click()
        too_big = tmp_path / "long-report.txt"
        too_big.write_text("Shelling hit the town again. " * 200)
        page.set_input_files("#qa-upload input[type=file]", str(too_big))
        assert "up to 3 kB each" in page.inner_text("#qa-upload")
        page.get_by_text("exceed the maximum allowed size", exact=False).first.wait_for()
        assert "long-report.txt" in page.inner_text("body")

        image = tmp_path / "photo.txt"
        image.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 64)
        page.set_input_files("#qa-upload input[type=file]", str(image))
        page.get_by_text("photo.txt: this is a PNG image", exact=False).first.wait_for()
        wait_for_empty_upload_box(page)  # the failed file is cleared away before the next upload

        # A message that quotes report text (here a declared id) is shown as text, not as HTML.
        evil = tmp_path / "evil.md"
        evil.write_text(
            "---\nid: '<img src=\"http://evil.example/x.png\"><style>body{display:none}</style>'\n---\nText.\n"
        )
        page.set_input_files("#qa-upload input[type=file]", str(evil))
        page.get_by_text("declared id", exact=False).first.wait_for()
        assert '<img src="http://evil.example/x.png">' in page.inner_text("body")
        assert "no such file" not in page.inner_text("body"), "a failed file is not sent again"
        assert (
            page.locator("img[src*='evil']").count() == 0
            and page.locator("style:has-text('display:none')").count() == 0
        )

        page.get_by_role("tab", name="Ask").click()
        ask_in_browser(page, QUESTION)
        page.wait_for_selector("#qa-sources .qa-source")  # still answering
        assert dialogs == [] and external == []
    finally:
        page.close()
