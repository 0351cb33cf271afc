"""The Chroma client of one index: the only module that imports chromadb.

A folder (chromadb.PersistentClient) or a server (chromadb.HttpClient, QA_CHROMA_URL) holds
five collections per index key: chunks, sentences, docs, state and journal (see qa.store). `Chroma`
opens them on first use and reopens a folder's client when another process wrote to it.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlparse

from ..errors import ConfigError
from ..locks import OrderedLock

logger = logging.getLogger(__name__)
T = TypeVar("T")

KINDS = ("chunks", "sentences", "docs", "state", "journal")


def parse_chroma_url(url: str) -> tuple[str, int, bool]:
    """(host, port, ssl) of "http://host:port" (port 8000 by default, as `chroma run`)."""
    parsed = urlparse(url.strip())
    if parsed.scheme not in ("http", "https") or not parsed.hostname or parsed.path not in ("", "/"):
        raise ConfigError(f"QA_CHROMA_URL must look like http://host:port, got {url!r}")
    try:
        port = parsed.port or (443 if parsed.scheme == "https" else 8000)
    except ValueError as exc:
        raise ConfigError(f"QA_CHROMA_URL has a bad port: {url!r}") from exc
    return parsed.hostname, port, parsed.scheme == "https"


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message, for a one-line error."""
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


class _Gate:
    """Chroma calls run side by side; closing a client waits for those in flight and holds new ones back.

    A closed embedded client's calls fail ("'RustBindingsAPI' object has no attribute 'bindings'"),
    so `Chroma.reopen` closes the old client only inside `closing()`.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._calls = 0
        self._closing = False

    @contextlib.contextmanager
    def call(self) -> Iterator[None]:
        with self._cond:
            self._cond.wait_for(lambda: not self._closing)
            self._calls += 1
        try:
            yield
        finally:
            with self._cond:
                self._calls -= 1
                if not self._calls:
                    self._cond.notify_all()

    @contextlib.contextmanager
    def closing(self) -> Iterator[None]:
        with self._cond:
            self._cond.wait_for(lambda: not self._closing)
            self._closing = True
            self._cond.wait_for(lambda: not self._calls)
        try:
            yield
        finally:
            with self._cond:
                self._closing = False
                self._cond.notify_all()


class Collection:
    """One of the index's Chroma collections, valid across reopens: each call goes to the current
    client's collection, inside the gate (so a reopen never closes a client under it)."""

    def __init__(self, chroma: Chroma, kind: str) -> None:
        self._chroma = chroma
        self._kind = kind

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._chroma.current(self._kind)[0], name)
        if not callable(attribute):
            return attribute

        def call(*args: Any, **kwargs: Any) -> Any:
            while True:
                collection, epoch = self._chroma.current(self._kind)
                with self._chroma.gate.call():
                    if epoch == self._chroma.epoch:  # else the index reopened meanwhile: take the new one
                        return getattr(collection, name)(*args, **kwargs)

        return call


class Chroma:
    """The client of one index and its collections, opened on first use.

    `lock` (``index`` in qa.locks) is held while the client or the collections change; writers
    hold it for a whole write (see WriteLog.writing), so a reopen waits for the write to end.

    Args:
        index_dir: the folder of an embedded index (unused with a server).
        key: the index key collections are named by (see IndexSettings.key).
        url: a Chroma server's URL, or None for the folder.
        on_open: called once a new client is open, under `lock` (the schema upgrade and the
            settling of dead writers' intents run there, before any other call).
    """

    def __init__(self, index_dir: Path, key: str, url: str | None, on_open: Callable[[], None]) -> None:
        self.index_dir = Path(index_dir)
        self.key = key
        self.url = url or None
        self.lock = OrderedLock("index", reentrant=True)
        self.gate = _Gate()
        self.epoch = 0  # bumped when the client is replaced (see `reopen`)
        self._client: Any = None
        self._collections: dict[str, Any] = {}  # of the current client
        self._views = {kind: Collection(self, kind) for kind in KINDS}
        self._on_open = on_open
        self._shared_told = False

    @property
    def location(self) -> str:
        """Where the index lives, for messages: the server's URL or the folder."""
        return self.url or str(self.index_dir)

    def collection(self, kind: str) -> Collection:
        """A collection (one of KINDS), opening the index if needed."""
        self.current(kind)
        return self._views[kind]

    def current(self, kind: str) -> tuple[Any, int]:
        """The current client's Chroma collection of `kind` itself, and the client's epoch."""
        with self.lock:
            fresh = False
            if kind not in self._collections:
                if self._client is None:
                    self._client = self._open_client()
                    fresh = True
                try:
                    self._collections[kind] = self._client.get_or_create_collection(
                        name=f"{kind}_{self.key}",
                        embedding_function=None,  # vectors always come from our encoder
                        configuration={"hnsw": {"space": "cosine"}},
                    )
                except Exception as exc:
                    raise ConfigError(f"cannot open the index at {self.location}: {first_line(exc)}") from exc
            if fresh:
                self._on_open()
            return self._collections[kind], self.epoch

    def _open_client(self) -> Any:
        try:
            import chromadb
            from chromadb.config import Settings as ChromaSettings
        except ImportError as exc:
            raise ConfigError("chromadb is not installed (pip install chromadb)") from exc
        settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
        if self.url:
            host, port, ssl = parse_chroma_url(self.url)
            try:
                client = chromadb.HttpClient(host=host, port=port, ssl=ssl, settings=settings)
                client.heartbeat()
                return client
            except Exception as exc:
                raise ConfigError(f"cannot reach the Chroma server at {self.url}: {first_line(exc)}") from exc
        try:
            self.index_dir.mkdir(parents=True, exist_ok=True)
            return chromadb.PersistentClient(path=str(self.index_dir), settings=settings)
        except Exception as exc:
            raise ConfigError(f"cannot open the index at {self.index_dir}: {first_line(exc)}") from exc

    def batch_size(self) -> int:
        """Most records Chroma takes in one call (at most 5000)."""
        self.current("docs")
        return max(1, min(5000, int(self._client.get_max_batch_size())))

    def reopen(self) -> bool:
        """Drop this process's view of an embedded index so the next read sees other processes'
        writes; returns whether a client was closed.

        Chroma's embedded store keeps vector segments in memory: after another process writes,
        reading stored vectors through the old client fails ("Error finding id"). A server has
        no such cache, so only folders are reopened. Calls other threads have in flight finish
        on the old client first, and calls made later through `Collection` go to the new one.

        chromadb shares one embedded system between the clients of one folder in a process and
        stops it when the last is closed: with another Store of the same folder open in this
        process, the new client is the old system and still stale (said once, as a warning).
        One Store per index in a process (as the app and the `qa` command have), or `close` the
        others.
        """
        with self.lock:
            if self.url or self._client is None:
                return False
            self.close()
            self.epoch += 1
            if _still_open(self.index_dir) and not self._shared_told:
                self._shared_told = True
                logger.warning(
                    "another client of %s is open in this process: Chroma keeps its view of the index, so writes by "
                    "other processes may not be seen until it is closed too",
                    self.index_dir,
                )
            return True

    def close(self) -> None:
        """Let go of this index's client (the next call opens a new one)."""
        with self.lock:
            if self._client is None:
                return
            with self.gate.closing():  # calls in other threads finish first; new ones wait
                old, self._client = self._client, None
                self._collections.clear()
                try:
                    old.close()
                except Exception as exc:  # closing is best effort: the new client is what matters
                    logger.debug("closing the old Chroma client failed: %s", exc)

    def read(self, fn: Callable[[], T]) -> T:
        """Run a read; if another process's writes made this process's view stale, reopen and retry once."""
        try:
            return fn()
        except Exception as exc:
            if self.url or "finding id" not in str(exc).lower():
                raise
            logger.info("the index changed under this process; reopening it")
            self.reopen()
            return fn()

    def scan(self, kind: str, include: list[str], page: int = 20_000) -> Iterator[dict[str, Any]]:
        """Every record of a collection, a page at a time (Chroma's `get` answers).

        One `get` of all records fails once a collection holds more than ~32k of them ("too many
        SQL variables" from Chroma's SQLite, seen with 40,000) whenever metadata is included.
        """
        offset = 0
        while True:
            got = self.read(lambda: self.collection(kind).get(include=include, limit=page, offset=offset))
            yield got
            if len(got["ids"]) < page:
                return
            offset += page


def _still_open(index_dir: Path) -> bool:
    """Whether chromadb still holds an embedded system for this folder in this process (another
    client of it is open). Reads chromadb's shared-system table: False where that changed."""
    try:
        from chromadb.api.shared_system_client import SharedSystemClient

        return str(index_dir) in SharedSystemClient._identifier_to_system
    except (ImportError, AttributeError):
        return False
