"""A real server: the app on a free port driven by gradio_client and httpx, and `qa serve` as a
user starts it (qa/ui/serving.py and app.py)."""

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

gr = pytest.importorskip("gradio", reason="the web app needs the UI extra: pip install -e '.[ui]'")

import app  # noqa: E402
from app_helpers import ANSWER, QUESTION, free_port  # noqa: E402
from qa import Assistant  # noqa: E402


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
    kept = client.predict(QUESTION, source=["TRT World"], place="Idlib", api_name="/ask")
    assert kept["citations"] and kept["filters"]["place"] == ["Idlib"]


@pytest.mark.slow
def test_ask_endpoint_errors_are_one_clear_message(server):
    from gradio_client import Client

    client = Client(server[1], verbose=False)
    with pytest.raises(Exception, match="the question is empty"):
        client.predict("   ", api_name="/ask")
    assert not client.predict(QUESTION, api_name="/ask")["abstained"]


def test_server_binds_to_loopback_by_default():
    assert Assistant().settings.app.host == "127.0.0.1"


@pytest.mark.slow
def test_the_api_needs_the_login_too(login_server):
    import httpx
    from gradio_client import Client

    with pytest.raises(Exception, match="credentials were not provided"):
        Client(login_server, verbose=False)
    with pytest.raises(ValueError, match="Could not login"):
        Client(login_server, verbose=False, auth=("bob", "hunter3"))
    client = Client(login_server, verbose=False, auth=("bob", "hunter2"))
    assert ANSWER in client.predict(QUESTION, api_name="/ask")["answer"]
    # Nor can the queue be skipped with a direct POST, logged in or not.
    for cookies in (None, client.cookies):
        refused = httpx.post(login_server + "gradio_api/run/ask", json={"data": [QUESTION]}, cookies=cookies)
        assert refused.status_code in (401, 404) and "Observatory" not in refused.text


@pytest.fixture
def throttled_server(tmp_path, embedder):
    """The app with a login that locks a client out for 2 s after 3 failures."""
    assistant = Assistant(
        embedder=embedder, index_dir=tmp_path / "index", auto_ingest_corpus=False, auth="bob:hunter2",
        login_failures=3, login_window_s=2.0,
    )
    port = free_port()
    demo = app.serve(assistant, host="127.0.0.1", port=port, block=False)
    yield f"http://127.0.0.1:{port}/"
    demo.close()


@pytest.mark.slow
def test_a_real_server_rate_limits_failed_logins(throttled_server):
    import httpx

    def login(password: str) -> httpx.Response:
        return httpx.post(throttled_server + "login", data={"username": "bob", "password": password})

    assert [login("guess").status_code for _ in range(3)] == [400, 400, 400]
    refused = login("hunter2")
    assert refused.status_code == 429 and "Too many failed logins; try again in" in refused.json()["detail"]
    assert int(refused.headers["retry-after"]) >= 1
    time.sleep(2.1)  # the window passes
    assert login("hunter2").status_code == 200


@pytest.mark.slow
def test_qa_serve_starts_the_app_and_refuses_a_taken_port(tmp_path):
    """`qa serve` as a user starts it: a real process on loopback, answering /ask."""

    port = free_port()
    env = {**os.environ, "QA_INDEX_DIR": str(tmp_path / "index")}
    command = [sys.executable, "-m", "qa.cli", "serve", "--port", str(port)]
    log = (tmp_path / "serve.log").open("w")
    # Run from a folder with an app.py of its own: qa serve must still start its own app.
    (tmp_path / "app.py").write_text("raise SystemExit('the wrong app.py was imported')\n")
    server = subprocess.Popen(command, env=env, cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT, text=True)
    try:
        client = client_of(server, port, tmp_path / "serve.log")
        assert ANSWER in client.predict(QUESTION, api_name="/ask")["answer"]
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


@pytest.mark.slow
def test_qa_serve_takes_the_login_from_qa_auth(tmp_path):
    from gradio_client import Client

    command = [sys.executable, "-m", "qa.cli", "serve", "--port", str(free_port())]
    env = {**os.environ, "QA_INDEX_DIR": str(tmp_path / "index"), "QA_AUTH": "alice:pw1,bob-secret"}
    refused = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert refused.returncode == 1 and not (tmp_path / "index").exists(), "refused before the index opens"
    assert refused.stderr == "error: auth entry 2: expected user:password, with both parts non-empty\n"

    port = free_port()
    env["QA_AUTH"] = "alice:pw1"
    log = (tmp_path / "serve.log").open("w")
    server = subprocess.Popen(
        [*command[:-1], str(port)], env=env, cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT, text=True
    )
    try:
        client = client_of(server, port, tmp_path / "serve.log", auth=("alice", "pw1"))
        assert ANSWER in client.predict(QUESTION, api_name="/ask")["answer"]
        with pytest.raises(Exception, match="credentials were not provided"):
            Client(f"http://127.0.0.1:{port}/", verbose=False)
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()
    assert "(login required)" in (tmp_path / "serve.log").read_text()


def client_of(server: subprocess.Popen, port: int, log: Path, auth: tuple[str, str] | None = None):
    """A gradio_client Client of a `qa serve` process, once it answers (model load and corpus ingest first)."""
    from gradio_client import Client

    for _ in range(240):
        try:
            return Client(f"http://127.0.0.1:{port}/", verbose=False, auth=auth)
        except Exception:
            if server.poll() is not None:
                pytest.fail(log.read_text())
            time.sleep(0.5)
    pytest.fail(f"qa serve did not come up: {log.read_text()[-2000:]}")


def non_loopback_address() -> str | None:
    """This machine's address on its default route, if it has one (no packet is sent)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("10.255.255.255", 1))
            address = probe.getsockname()[0]
        except OSError:
            return None
    return None if address.startswith("127.") else address
