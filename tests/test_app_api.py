"""The JSON API beside the page (POST /api/ask): the answers of `qa ask --json`, one clear error per
mistake, logins by HTTP Basic authentication with the login throttle, and a bounded queue."""

import base64
import json
import threading
import time
import urllib.error
import urllib.request

import pytest

pytest.importorskip("gradio", reason="the web app needs the UI extra: pip install -e '.[ui]'")

import app  # noqa: E402
from app_helpers import ANSWER, QUESTION, free_port  # noqa: E402
from qa.config import BUNDLED_CORPUS_DIR  # noqa: E402
from qa.ui.api import read_fields  # noqa: E402
from test_app_load import GatedAssistant  # noqa: E402

pytestmark = pytest.mark.slow


def post(url: str, body: bytes | dict, login: tuple[str, str] | None = None) -> tuple[int, dict, dict]:
    """(status, JSON body, headers) of a POST to the API."""
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    request = urllib.request.Request(
        url.rstrip("/") + "/api/ask", data=data, headers={"content-type": "application/json"}
    )
    if login:
        request.add_header("authorization", "Basic " + base64.b64encode(":".join(login).encode()).decode())
    try:
        with urllib.request.urlopen(request, timeout=300) as response:
            return response.status, json.loads(response.read()), dict(response.headers)
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read()), dict(error.headers)


def without_timings(answer: dict) -> dict:
    """The answer without its timings (those of each outlet's answer too)."""
    out = {k: v for k, v in answer.items() if k != "timings_ms"}
    if out.get("by_source"):
        out["by_source"] = [without_timings(a) for a in out["by_source"]]
    return out


def test_the_api_answers_as_the_assistant_does(server):
    assistant, url, _ = server
    for fields in (
        {"question": QUESTION},
        {"question": "How many civilians were killed in Maarat al Numan?", "source": "TRT World", "top_k": 3},
        {"question": "How many were killed?", "place": ["Idlib"], "mode": "bm25", "date_from": "2019-08"},
        {"question": "And how many were injured?", "history": ["How many civilians were killed in Maarat al Numan?"]},
        {"question": "Who won the 2018 World Cup?", "by_source": True},
    ):
        status, answer, _ = post(url, fields)
        assert status == 200, answer
        assert without_timings(answer) == without_timings(assistant.ask(**fields).to_dict()), fields
    assert ANSWER in post(url, {"question": QUESTION})[1]["answer"]


def test_each_mistake_is_one_clear_error(server):
    _, url, _ = server
    cases = [
        ({"question": "x", "colour": "red"}, 400, "unknown field 'colour'; the fields are question, top_k"),
        (b"not json", 400, "the body is not JSON"),
        (b"\xff\xfe", 400, "the body is not JSON"),
        (b"[" * 40_000 + b"]" * 40_000, 400, "nested too deep"),
        ([1, 2], 400, "the body must be a JSON object with a question, got list"),
        ({"top_k": 3}, 400, "the body has no question"),
        ({"question": None}, 400, "the body has no question"),
        ({"question": ""}, 400, "the question is empty"),
        ({"question": "Who?", "top_k": "five"}, 400, "top_k must be a whole number from 1 to 100, got 'five'"),
        ({"question": "Who?", "source": "SNAA"}, 400, "no report in the index is from the outlet 'SNAA'"),
        ({"question": "Who?", "date_from": "yesterday-ish"}, 400, "yesterday-ish"),
    ]
    for body, status, message in cases:
        got, answer, _ = post(url, json.dumps(body).encode() if not isinstance(body, bytes) else body)
        assert (got, set(answer)) == (status, {"error"}), (body if len(str(body)) < 100 else str(body)[:100], answer)
        assert message in answer["error"], answer
    assert read_fields(b'{"question": "Who?", "place": null}') == {"question": "Who?"}  # null: not given
    # A body over the limit is refused on its stated length, before any of it is read.
    import http.client
    from urllib.parse import urlparse

    where = urlparse(url)
    connection = http.client.HTTPConnection(where.hostname, where.port, timeout=60)
    connection.putrequest("POST", "/api/ask")
    connection.putheader("content-type", "application/json")
    connection.putheader("content-length", str(10**9))
    connection.endheaders()  # and no body: the answer comes first
    response = connection.getresponse()
    assert response.status == 413
    assert json.loads(response.read())["error"] == "the request is 1,000,000,000 bytes; the limit is 97,536"
    form = urllib.request.Request(
        url.rstrip("/") + "/api/ask", data=b"question=Who", headers={"content-type": "text/plain"}
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(form, timeout=60)
    assert refused.value.code == 415 and "application/json" in json.loads(refused.value.read())["error"]


def test_with_a_login_the_api_takes_the_same_users_and_counts_failures(login_server):
    url = login_server
    status, answer, headers = post(url, {"question": QUESTION})
    assert status == 401 and "HTTP Basic" in answer["error"] and headers.get("www-authenticate") == 'Basic realm="qa"'
    assert post(url, {"question": QUESTION}, ("alice", "open:sesame"))[0] == 200  # a password holding ':'
    for _ in range(5):
        assert post(url, {"question": QUESTION}, ("bob", "wrong"))[0] == 401
    status, answer, headers = post(url, {"question": QUESTION}, ("bob", "hunter2"))
    assert status == 429 and "Too many failed logins" in answer["detail"] and int(headers["retry-after"]) > 0


def test_many_right_logins_at_once_are_no_failures(login_server):
    """A script asking with 12 workers at once: each right login passes, none counts as a guess."""
    url = login_server
    answers: list[int] = []
    workers = [
        threading.Thread(target=lambda: answers.append(post(url, {"question": QUESTION}, ("alice", "open:sesame"))[0]))
        for _ in range(12)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=300)
    assert answers == [200] * 12
    assert post(url, {"question": QUESTION}, ("alice", "open:sesame"))[0] == 200


def test_two_authorization_headers_are_refused(login_server):
    """The throttle and the route must read the same login: a second header could hide guesses."""
    import http.client
    from urllib.parse import urlparse

    where = urlparse(login_server)
    connection = http.client.HTTPConnection(where.hostname, where.port, timeout=60)
    connection.putrequest("POST", "/api/ask")
    connection.putheader("content-type", "application/json")
    for login in ("alice:guess", "someone:else"):
        connection.putheader("authorization", "Basic " + base64.b64encode(login.encode()).decode())
    body = json.dumps({"question": QUESTION}).encode()
    connection.putheader("content-length", str(len(body)))
    connection.endheaders(body)
    response = connection.getresponse()
    assert response.status == 400 and "one Authorization header" in json.loads(response.read())["detail"]


def test_a_full_queue_is_refused_at_once(tmp_path, embedder):
    assistant = GatedAssistant(
        embedder=embedder, index_dir=tmp_path / "index", auto_ingest_corpus=False, concurrency_limit=1, queue_max_size=1
    )
    assert not assistant.ingest([BUNDLED_CORPUS_DIR]).failed
    port = free_port()
    demo = app.serve(assistant, host="127.0.0.1", port=port, block=False)
    url = f"http://127.0.0.1:{port}"
    try:
        answers: list[tuple[int, dict, dict]] = []
        first = threading.Thread(target=lambda: answers.append(post(url, {"question": QUESTION})))
        first.start()
        assert assistant.entered.acquire(timeout=120), "the first question reached the assistant"
        second = threading.Thread(target=lambda: answers.append(post(url, {"question": QUESTION})))
        second.start()  # waits for the first: the one place in the queue
        time.sleep(0.5)
        started = time.perf_counter()
        status, refused, headers = post(url, {"question": QUESTION})
        assert (status, refused["error"], headers.get("retry-after")) == (
            503,
            "the queue is full; try again shortly",
            "1",
        )
        assert time.perf_counter() - started < 30, "refused at once, not after the gate opened"
        assistant.gate.set()
        first.join(timeout=300)
        second.join(timeout=300)
        assert [a[0] for a in answers] == [200, 200] and all(ANSWER in a[1]["answer"] for a in answers)
        assert post(url, {"question": QUESTION})[0] == 200  # room again
    finally:
        assistant.gate.set()
        demo.close()
