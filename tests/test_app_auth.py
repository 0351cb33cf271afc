"""Logins (qa/ui/auth.py): the auth setting, the exposure warning and the login throttle, driven
through a hand-written login route. No Gradio needed."""

import pytest

from qa.errors import ConfigError
from qa.ui import auth


def test_auth_setting_gives_login_pairs(tmp_path):
    assert auth.parse_auth(None) is None and auth.parse_auth("  ") is None
    assert auth.parse_auth("alice:pw1, bob:pw:2") == [("alice", "pw1"), ("bob", "pw:2")]
    many = ",".join(f"user{n}:password{n}" for n in range(100))  # longer than any file name
    assert auth.parse_auth(many)[-1] == ("user99", "password99")
    logins = tmp_path / "logins"
    logins.write_text("# who may log in\n\nalice: open sesame \ncarol:c:o:l:o:n\n")
    assert auth.parse_auth(str(logins)) == [("alice", "open sesame"), ("carol", "c:o:l:o:n")]


@pytest.mark.parametrize(
    "content, message",
    [
        ("alice:pw1\n# a comment\nbob-secret-pw\n", r"line 3: expected user:password"),
        ("alice:pw1\n:secret-pw\n", r"line 2: expected user:password"),
        ("alice:pw1\nalice:secret-pw\n", r"line 2: the user 'alice' is listed twice"),
        ("# nobody yet\n", "holds no user:password line"),
    ],
)
def test_a_malformed_auth_file_names_the_line_and_never_the_password(tmp_path, content, message):
    logins = tmp_path / "logins"
    logins.write_text(content)
    with pytest.raises(ConfigError, match=message) as caught:
        auth.parse_auth(str(logins))
    assert str(logins) in str(caught.value) and "secret" not in str(caught.value)
    assert "\n" not in str(caught.value)


def test_a_malformed_auth_setting_is_refused_without_echoing_it(tmp_path):
    with pytest.raises(ConfigError, match="auth entry 2: expected user:password") as caught:
        auth.parse_auth("alice:pw1,bob-secret")
    assert "secret" not in str(caught.value)
    with pytest.raises(ConfigError, match="names no file '/no/such/logins' and is not user:password pairs"):
        auth.parse_auth("/no/such/logins")


def test_serving_beyond_this_machine_without_a_login_is_warned_about():
    assert auth.exposure_warning("127.0.0.1", None) is None and auth.exposure_warning("localhost", None) is None
    assert auth.exposure_warning("::1", None) is None
    assert "without a login" in auth.exposure_warning("0.0.0.0", None)
    assert "QA_AUTH" in auth.exposure_warning("192.168.1.20", None)
    assert auth.exposure_warning("0.0.0.0", [("alice", "pw")]) is None


def run_async(coroutine):
    """Run a coroutine in a thread of its own: a browser test may leave an event loop running in this one."""
    import asyncio
    import concurrent.futures

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


class FakeLoginRoute:
    """A login route by hand: 200 for the right password of its user, 400 otherwise; it can be
    held open (`gate`) to send attempts in parallel."""

    def __init__(self, passwords: dict[str, str]) -> None:
        self.passwords = passwords
        self.calls = 0
        self.gate = None

    async def __call__(self, scope, receive, send):
        import urllib.parse

        self.calls += 1
        form = urllib.parse.parse_qs((await receive())["body"].decode())
        if self.gate is not None:
            await self.gate.wait()
        ok = self.passwords.get(form["username"][0]) == form["password"][0]
        await send({"type": "http.response.start", "status": 200 if ok else 400, "headers": []})
        await send({"type": "http.response.body", "body": b""})


def login_attempt(throttle, client: str, user: str, password: str):
    sent = []

    async def receive():
        return {"type": "http.request", "body": f"username={user}&password={password}".encode(), "more_body": False}

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/login/", "client": (client, 1234)}
    return scope, receive, send, sent


def test_login_throttle_counts_failures_per_address_and_per_user():
    now = [1000.0]
    route = FakeLoginRoute({"bob": "hunter2", "alice": "pw1"})
    throttle = auth.LoginThrottle(route, failures=3, window_s=60, clock=lambda: now[0])

    def attempt(client: str, user: str, password: str) -> int:
        scope, receive, send, sent = login_attempt(throttle, client, user, password)
        run_async(throttle(scope, receive, send))
        return sent[0]["status"]

    assert [attempt("10.0.0.1", "bob", "guess") for _ in range(3)] == [400, 400, 400]
    assert attempt("10.0.0.1", "alice", "pw1") == 429  # the address is locked: even a right password waits
    assert attempt("10.0.0.2", "bob", "hunter2") == 429  # and so is bob, from anywhere
    assert attempt("10.0.0.2", "alice", "pw1") == 200  # another address, another user: fine
    assert attempt("2001:db8::1", "carol", "x") == 400 and attempt("2001:db8::2", "carol", "y") == 400
    assert throttle._wait("address 2001:db8::/64", now[0]) == 0 and len(throttle._attempts["address 2001:db8::/64"]) == 2
    now[0] += 61
    assert attempt("10.0.0.1", "bob", "hunter2") == 200
    # A success takes back only its own attempt: guesses at bob stay counted beside alice's logins.
    now[0] += 61
    mixed = [("bob", "guess"), ("alice", "pw1"), ("bob", "guess"), ("alice", "pw1"), ("bob", "guess"), ("alice", "pw1")]
    assert [attempt("10.0.0.3", user, password) for user, password in mixed] == [400, 200, 400, 200, 400, 429]


def test_login_attempts_in_parallel_cannot_outrun_the_count():
    import asyncio

    route = FakeLoginRoute({"bob": "hunter2"})
    throttle = auth.LoginThrottle(route, failures=3, window_s=60)

    async def many() -> list[int]:
        route.gate = asyncio.Event()
        attempts = [login_attempt(throttle, "10.0.0.9", "bob", "guess") for _ in range(20)]
        tasks = [asyncio.create_task(throttle(scope, receive, send)) for scope, receive, send, _ in attempts]
        await asyncio.sleep(0.05)  # all twenty are in before any answer comes back
        route.gate.set()
        await asyncio.gather(*tasks)
        return [sent[0]["status"] for *_, sent in attempts]

    statuses = run_async(many())
    assert statuses.count(400) == 3 and statuses.count(429) == 17 and route.calls == 3


def test_login_throttle_memory_is_bounded():
    throttle = auth.LoginThrottle(FakeLoginRoute({}), failures=3, window_s=60, max_keys=50)
    for n in range(300):
        scope, receive, send, _ = login_attempt(throttle, f"10.1.{n // 250}.{n % 250}", f"user{n}", "x")
        run_async(throttle(scope, receive, send))
    assert len(throttle._attempts) <= 52
