"""A plain JSON API beside the page: POST /api/ask takes the fields of `Assistant.ask` as a JSON
object and answers with the JSON of `qa ask --json`, for scripts and other programs.

    curl -s localhost:7860/api/ask -H 'content-type: application/json' \\
         -d '{"question": "How many civilians were killed in Maarat al Numan?", "source": "TRT World"}'

It answers `concurrency_limit` questions at once, keeps at most `queue_max_size` waiting and
refuses more at once (503, "queue is full"), as the page's queue does for its own requests. A
mistake in the request is answered 400 (415 for a body that is not JSON, 413 for one over the
limit) with {"error": "..."} naming it; a fault of the server's (the index unreachable) 503.
With a login set (QA_AUTH), it takes the same users and passwords by HTTP Basic authentication,
and failed attempts count towards the login throttle (qa.ui.auth.LoginThrottle).

Gradio's own /ask endpoint (for gradio_client) stays; this route skips what Gradio does for each
event (a session, its queue's bookkeeping, streaming the result): measured on 2 cores, it carries
1.5 to 2 times as many questions a second (see bench/RESULTS.md).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hmac
import json
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from qa.errors import ConfigError, InputError, NotFoundError, QAError

if TYPE_CHECKING:
    from qa import Assistant

PATH = "/api/ask"
# A mistake in the request is the client's (400); anything else is the server's, which may pass.
_STATUS: dict[type, int] = {InputError: 400, NotFoundError: 404, ConfigError: 503}
# The fields of a question, as Assistant.ask names them.
FIELDS = ("question", "top_k", "mode", "history", "by_source", "source", "place", "date_from", "date_to", "undated")


def api_routes(assistant: Assistant, logins: list[tuple[str, str]] | None) -> list[Route]:
    """The API's routes, answering with `assistant` (one limit on questions at once for the process)."""
    settings = assistant.settings
    slots = _Slots(settings.app.concurrency_limit, settings.app.queue_max_size)
    largest = 16 * settings.limits.max_question_chars + 65_536  # the question, its history, the filters

    async def ask(request: Request) -> JSONResponse:
        if logins is not None and not authorized(request.headers.get("authorization", ""), logins):
            asked = {"www-authenticate": 'Basic realm="qa"'}
            return _error(401, "log in with the user and password of QA_AUTH (HTTP Basic)", asked)
        if request.headers.get("content-type", "").split(";")[0].strip().lower() != "application/json":
            # Also keeps other sites' pages out: a form they post cross-site cannot say JSON.
            return _error(415, "send the question as JSON (content-type: application/json)")
        try:
            body = await _body(request, largest)
            fields = read_fields(body)
        except _TooLarge as exc:
            return _error(413, str(exc))
        except ValueError as exc:
            return _error(400, str(exc))
        if not slots.enter():
            return _error(503, "the queue is full; try again shortly", {"retry-after": "1"})
        try:
            async with slots.running:
                answer = await asyncio.to_thread(lambda: assistant.ask(**fields).to_dict())
        except QAError as exc:
            return _error(_STATUS.get(type(exc), 400 if isinstance(exc, InputError) else 503), str(exc))
        finally:
            slots.leave()
        return JSONResponse(answer)

    return [Route(PATH, ask, methods=["POST"])]


def read_fields(body: bytes) -> dict[str, Any]:
    """The keyword arguments of Assistant.ask a request body holds (a field given as null is not given).

    Raises:
        ValueError: the body is not a JSON object, names a field that is not one of FIELDS, or has no question.
    """
    try:
        fields = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise ValueError(f"the body is not JSON: {exc}") from None
    except RecursionError:  # "[[[[...": nested past what the parser takes
        raise ValueError("the body is not JSON this API reads: nested too deep") from None
    if not isinstance(fields, dict):
        raise ValueError(f"the body must be a JSON object with a question, got {type(fields).__name__}")
    unknown = sorted(set(fields) - set(FIELDS))
    if unknown:
        raise ValueError(f"unknown field {unknown[0]!r}; the fields are {', '.join(FIELDS)}")
    fields = {k: v for k, v in fields.items() if v is not None}
    if "question" not in fields:
        raise ValueError("the body has no question")
    return fields


def basic_credentials(header: str) -> tuple[str, str] | None:
    """(user, password) of an HTTP Basic Authorization header, or None if it is not one."""
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        user, _, password = base64.b64decode(encoded.strip(), validate=True).decode("utf-8").partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return user, password


def authorized(header: str, logins: list[tuple[str, str]]) -> bool:
    """Whether an Authorization header gives one of the logins (HTTP Basic), compared in constant time."""
    given = basic_credentials(header)
    if given is None:
        return False
    found = False
    for known_user, known_password in logins:
        found |= hmac.compare_digest(given[0].encode(), known_user.encode()) & hmac.compare_digest(
            given[1].encode(), known_password.encode()
        )
    return found


class _TooLarge(Exception):
    pass


async def _body(request: Request, largest: int) -> bytes:
    """The request's body, refused past `largest` bytes before it is all read (its stated length
    first, then as it arrives)."""
    stated = request.headers.get("content-length", "")
    if stated.isdigit() and int(stated) > largest:
        raise _TooLarge(f"the request is {int(stated):,} bytes; the limit is {largest:,}")
    body = bytearray()
    async for piece in request.stream():
        body += piece
        if len(body) > largest:
            raise _TooLarge(f"the request is over {largest:,} bytes, the limit")
    return bytes(body)


class _Slots:
    """Questions answered at once (`running`) and waiting (bounded): asyncio, in the server's event loop."""

    def __init__(self, at_once: int, waiting: int) -> None:
        self.running = asyncio.Semaphore(at_once)
        self._most = at_once + waiting
        self._inside = 0

    def enter(self) -> bool:
        if self._inside >= self._most:
            return False
        self._inside += 1
        return True

    def leave(self) -> None:
        self._inside -= 1


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers)
