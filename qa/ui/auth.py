"""Logins: the `auth` setting read as (user, password) pairs, the throttle on the login route, and
the warning when the app would be open to the network without a login. No Gradio here."""

import ipaddress
import json
import os
import time
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from qa.errors import ConfigError
from qa.locks import OrderedLock


def parse_auth(value: "SecretStr | str | None") -> list[tuple[str, str]] | None:
    """The logins of the `auth` setting as (user, password) pairs; None when it is unset.

    The setting is "alice:pw1,bob:pw2", or the path of a file with one user:password per line
    (blank lines and lines starting with # are skipped). A password may contain ':' (the user
    ends at the first one); spaces around the user and the password are ignored.

    Raises:
        ConfigError: an entry is not user:password or names a user twice, or the file cannot be
            read. The message names the entry or line, never a password.
    """
    if isinstance(value, SecretStr):  # the setting: kept out of reprs, logs and evaluation reports
        value = value.get_secret_value()
    if value is None or not value.strip():
        return None
    path = Path(value.strip()).expanduser()
    try:
        is_file = path.is_file()
    except (OSError, ValueError):  # a long list of logins is too long a file name: not a file
        is_file = False
    if is_file:
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            why = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
            raise ConfigError(f"cannot read the auth file {path}: {why}") from exc
        entries = [(f"auth file {path}, line {n}", line.strip()) for n, line in enumerate(lines, 1)]
        entries = [(where, entry) for where, entry in entries if entry and not entry.startswith("#")]
    elif ":" not in value:
        shown = f" {value.strip()!r}" if os.sep in value else ""
        raise ConfigError(f"the auth setting names no file{shown} and is not user:password pairs")
    else:
        entries = [(f"auth entry {n}", item.strip()) for n, item in enumerate(value.split(","), 1) if item.strip()]
    logins: dict[str, str] = {}
    for where, entry in entries:
        user, colon, password = entry.partition(":")
        user, password = user.strip(), password.strip()
        if not (colon and user and password):
            raise ConfigError(f"{where}: expected user:password, with both parts non-empty")
        if user in logins:
            raise ConfigError(f"{where}: the user {user!r} is listed twice")
        logins[user] = password
    if not logins:
        raise ConfigError(f"the auth file {path} holds no user:password line")
    return list(logins.items())


def exposure_warning(host: str, auth: Any) -> str | None:
    """A warning when the app would be open to the network without a login, else None."""
    if auth or _is_loopback(host):
        return None
    return (
        f"serving on {host} without a login: anyone who can reach this machine can read and change the "
        "reports; set QA_AUTH (user:password pairs or a file of them), or bind 127.0.0.1"
    )


def _is_loopback(host: str) -> bool:
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip().strip("[]")).is_loopback
    except ValueError:
        return False  # a host name, or 0.0.0.0: may be reached from elsewhere




class LoginThrottle:
    """ASGI middleware limiting logins: a client address (an IPv6 /64 counts as one) or a user
    name with `failures` failed attempts within `window_s` seconds is refused at the login route
    (429, with when to try again) until the oldest of them is `window_s` old, the right password
    too. An attempt counts as failed from the moment it starts until it succeeds, so attempts in
    parallel cannot outrun the count, and a success takes back only its own attempt: one good
    login does not wipe out guesses at another user. Counting by user name lets anyone lock an
    account out for `window_s` by guessing at it: the price of stopping guesses spread over
    many addresses. At most `max_keys` addresses and names are remembered (the stalest go).
    """

    MAX_BODY = 65_536  # a login form is a few dozen bytes

    def __init__(
        self,
        app: Any,
        failures: int = 5,
        window_s: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = 100_000,
        api_path: str | None = None,
        api_logins: list[tuple[str, str]] | None = None,
    ) -> None:
        """`api_path`, `api_logins`: a route that takes the logins by HTTP Basic authentication
        (qa.ui.api). Its requests are checked here: a wrong login counts as a failed one, a right
        one counts nothing (many requests of one script at once are no guesses), and a request
        with two Authorization headers is refused (the throttle and the route must read one)."""
        self.app = app
        self.failures = failures
        self.window_s = window_s
        self.clock = clock
        self.max_keys = max_keys
        self.api_path = api_path if api_logins else None
        self.api_logins = api_logins
        self._attempts: dict[str, list[float]] = {}  # key -> when each counted attempt started
        self._lock = OrderedLock("login")  # see qa.locks

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        path = scope.get("path", "").rstrip("/")
        post = scope.get("type") == "http" and scope.get("method") == "POST"
        login, api = post and path.endswith("/login"), post and self.api_path is not None and path == self.api_path
        if not (login or api):
            await self.app(scope, receive, send)
            return
        if api:
            await self._api(scope, receive, send)
            return
        body, more = b"", True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > self.MAX_BODY:
                await self._refuse(send, 413, "The login form is too large.")
                return
        user = (urllib.parse.parse_qs(body.decode("utf-8", errors="replace")).get("username") or [""])[0]
        keys = self._keys(scope, user)
        started = self.clock()
        if await self._throttled(send, keys, started, counted=lambda: True):  # failed until it succeeds
            return
        status: list[int] = []

        async def watch(message: dict[str, Any]) -> None:
            if message.get("type") == "http.response.start":
                status.append(int(message["status"]))
            await send(message)

        try:
            await self.app(scope, self._replaying(body, receive), watch)
        finally:
            if status and status[0] == 200:
                with self._lock:
                    for key in keys:
                        times = self._attempts.get(key, [])
                        if started in times:
                            times.remove(started)

    async def _api(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        """The API's route: a wrong login is a failed attempt, a right one passes uncounted."""
        from .api import authorized, basic_credentials

        headers = [value for name, value in scope.get("headers") or [] if name.lower() == b"authorization"]
        if len(headers) > 1:
            await self._refuse(send, 400, "Send one Authorization header.")
            return
        if not headers:  # no login given: no guess to count (the route answers 401)
            await self.app(scope, receive, send)
            return
        header = headers[0].decode("latin-1")
        keys = self._keys(scope, (basic_credentials(header) or ("", ""))[0])
        wrong = lambda: not authorized(header, self.api_logins or [])  # noqa: E731
        if await self._throttled(send, keys, self.clock(), counted=wrong):
            return
        await self.app(scope, receive, send)

    async def _throttled(self, send: Any, keys: list[str], now: float, counted: Callable[[], bool]) -> bool:
        """Refuse the attempt (429) if one of its keys has failed too often lately, and return True;
        else count it as failed where `counted()` says so (under the lock) and return False."""
        with self._lock:
            wait = max(self._wait(key, now) for key in keys)
            if wait <= 0 and counted():
                for key in keys:
                    self._attempts.setdefault(key, []).append(now)
                self._forget_stale(now)
        if wait > 0:
            await self._refuse(send, 429, f"Too many failed logins; try again in {wait:.0f} s.", retry_after=wait)
        return wait > 0

    def _keys(self, scope: dict[str, Any], user: str) -> list[str]:
        """What a login attempt counts against: its address, and the user it names."""
        keys = [f"address {self._address((scope.get('client') or ('unknown',))[0])}"]
        if user.strip():
            keys.append(f"user {user.strip().casefold()}")
        return keys

    @staticmethod
    def _replaying(body: bytes, receive: Any) -> Any:
        """`receive` that gives the body already read first."""
        replayed = False

        async def replay() -> dict[str, Any]:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        return replay

    @staticmethod
    def _address(host: str) -> str:
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return host
        if isinstance(address, ipaddress.IPv6Address):
            if address.ipv4_mapped:
                return str(address.ipv4_mapped)
            return str(ipaddress.ip_network(f"{address}/64", strict=False))
        return str(address)

    def _wait(self, key: str, now: float) -> float:
        """Seconds until `key` may try again (0: now). Called under the lock."""
        recent = [t for t in self._attempts.get(key, []) if now - t < self.window_s]
        if recent:
            self._attempts[key] = recent
        else:
            self._attempts.pop(key, None)
        if len(recent) < self.failures:
            return 0.0
        return self.window_s - (now - recent[0])

    def _forget_stale(self, now: float) -> None:
        """Bound the memory: drop keys with no attempt in the window, then the stalest. Under the lock."""
        if len(self._attempts) <= self.max_keys:
            return
        for key in [k for k, times in self._attempts.items() if not times or now - times[-1] >= self.window_s]:
            del self._attempts[key]
        while len(self._attempts) > self.max_keys:
            del self._attempts[min(self._attempts, key=lambda k: self._attempts[k][-1] if self._attempts[k] else 0.0)]

    @staticmethod
    async def _refuse(send: Any, status: int, detail: str, retry_after: float = 0.0) -> None:
        headers = [(b"content-type", b"application/json")]
        if retry_after:
            headers.append((b"retry-after", str(int(retry_after) + 1).encode()))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": json.dumps({"detail": detail}).encode()})
