"""The Chroma index: the only module that imports chromadb.

Four collections per index key (embedding model + chunking, see `Settings.index_key`), in a
folder (chromadb.PersistentClient) or on a Chroma server (chromadb.HttpClient, QA_CHROMA_URL):
- `chunks_<key>`: one record per chunk, with its text, vector and metadata (doc id, title,
  outlet, date, place, start, end and the sentence offsets inside it);
- `sentences_<key>`: one vector per sentence, so the answerer can rank sentences without
  running the encoder at question time;
- `docs_<key>`: one record per document with its full text and its locations (the files,
  collections or uploads it is in, and the scopes an ingest of a folder finds it by: see
  qa.locations). It is written after the document's parts and deleted before them, so a record
  means its document is whole;
- `state_<key>`: one record holding the schema version and a token that every write replaces,
  so each process sharing the index notices the others' writes with one small read; and one
  record per write in progress (an intent, see `Store._intent`).

Crash safety: a write first records its intent (the documents it adds, with their content
hashes, and the documents it deletes) and removes it when done. Retrieval leaves out every
document an open intent names, so a half-written document is never listed or cited. A process
killed mid-write leaves its intent open; the next process that opens the index (or syncs with
it, or ingests) finishes it: a deletion is completed, and the parts of documents that never got
a record are deleted. (Intents written by earlier versions may also name replacements, "replace":
the versions a changed file's new record replaced; they are still settled the same way.) With a folder,
writers hold a lock file (`qa-write.lock`, released by the kernel when a process dies), so an
open intent whose lock is free is known to be a dead process's; with a server, an intent older
than SWEEP_GRACE_S is taken for dead.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
import time
import uuid
from collections import OrderedDict
from pathlib import Path
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlparse

from .chunking import read_sentences, section_headings, split_sentences, stored_section, stored_sentences
from .errors import ConfigError, NotFoundError
from .locations import Survey, legacy_locations, reconcile, scopes_of
from .types import Chunk, Document, Filters, Sentence, day_number, outlet_key, place_key, place_terms

if TYPE_CHECKING:
    import numpy as np

logger = logging.getLogger(__name__)
T = TypeVar("T")

_DOC_FIELDS = ("title", "source", "date", "place", "url", "path", "content_hash", "chunks")

# 2: chunks carry source_key, place_terms and date_num for filters. 3: document records carry
# their locations (see qa.locations) and the scopes that find them. Older indexes are upgraded
# in place on first open (see Store._upgrade); vectors are untouched, so the index key stays.
SCHEMA_VERSION = 4

# Where no lock file tells a dead writer from a live one (a Chroma server), parts of a document
# and intents younger than this are never taken for a dead ingest's leftovers: another process
# sharing the server may still be writing them (one batch takes seconds).
SWEEP_GRACE_S = 600.0

try:
    import fcntl
except ImportError:  # not on Windows: there a dead writer is told apart by age (SWEEP_GRACE_S) only
    fcntl = None  # type: ignore[assignment]

WRITE_LOCK = "qa-write.lock"  # in a folder index: held by the process writing (see Store._write_lock)
WRITE_WAIT_S = 300.0  # how long a write waits for another process's write before giving up
DELETE_BATCH = 500  # documents removed per intent (see Store._delete)
_INTENT = "intent:"  # id prefix of intent records in the state collection
_SWEPT = "swept"  # state record: no leftovers from before intents remain (see Store.sweep_incomplete)


def filter_fields(meta: dict[str, Any]) -> dict[str, Any]:
    """A chunk's metadata with the fields filters match on, derived from its outlet, place and date."""
    out = {**meta, "source_key": outlet_key(str(meta.get("source", ""))), "date_num": day_number(str(meta.get("date", "")))}
    terms = place_terms(str(meta.get("place", "")))
    if terms:  # Chroma refuses empty lists; a chunk without a place matches no place filter
        out["place_terms"] = terms
    return out


def stored_locations(meta: Mapping[str, Any]) -> list[str]:
    """A document record's locations (see qa.locations); a record from before they were stored
    has the one its path names."""
    if "locations" in meta:
        return list(json.loads(str(meta["locations"])))
    return legacy_locations(str(meta.get("path", "")))


def located_fields(meta: dict[str, Any], locations: list[str] | None = None) -> dict[str, Any]:
    """A document record's metadata with its locations and their scopes set (to `locations`, or
    to what it has). With no locations left (a report missing from its input) the scopes stay,
    so an ingest of the folder it was in still finds it."""
    locations = stored_locations(meta) if locations is None else locations
    out = {**meta, "locations": json.dumps(locations, ensure_ascii=False)}
    scopes = scopes_of(locations)
    if scopes:  # Chroma refuses empty lists
        out["scopes"] = scopes
    return out


def _unless(key: str, change: Callable[[dict[str, Any]], dict[str, Any]]) -> Callable[[dict[str, Any]], dict[str, Any] | None]:
    """`change`, for records that do not have `key` yet (None for the others)."""
    return lambda meta: None if key in meta else change(meta)


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


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


class _Gate:
    """Chroma calls run side by side; closing a client waits for those in flight and holds new ones back.

    A closed embedded client's calls fail ("'RustBindingsAPI' object has no attribute 'bindings'"),
    so `Store.reopen` closes the old client only inside `closing()`.
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


class _Collection:
    """One of the Store's Chroma collections, valid across reopens: each call goes to the current
    client's collection, inside the Store's gate (so a reopen never closes a client under it)."""

    def __init__(self, store: "Store", kind: str) -> None:
        self._store = store
        self._kind = kind

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._store._open(self._kind)[0], name)
        if not callable(attribute):
            return attribute

        def call(*args: Any, **kwargs: Any) -> Any:
            while True:
                collection, epoch = self._store._open(self._kind)
                with self._store._gate.call():
                    if epoch == self._store._epoch:  # else the store reopened meanwhile: take the new one
                        return getattr(collection, name)(*args, **kwargs)

        return call


class Store:
    """Documents, chunks and sentence vectors in one Chroma database (a folder, or a server)."""

    def __init__(
        self, index_dir: Path, key: str, sentence_cache_size: int = 100_000, chroma_url: str | None = None
    ) -> None:
        self.index_dir = Path(index_dir)
        self.key = key
        self.chroma_url = chroma_url or None
        self._client = None
        self._collections: dict[str, Any] = {}  # of the current client
        self._views = {kind: _Collection(self, kind) for kind in ("chunks", "sentences", "docs", "state")}
        self._epoch = 0  # bumped when the client is replaced (see `reopen`)
        self._gate = _Gate()
        # Held while the client or the collections change, and for a whole write; a Chroma call
        # may be made under it (it is taken before the gate, never inside it).
        self._lock = threading.RLock()
        # Questions in parallel threads read and fill the sentence cache while a write in another
        # thread forgets parts of it: `_sentence_lock` guards it (never held during a Chroma call),
        # and `_sentence_epoch` counts forgets, so vectors read before one are not cached after it.
        self._sentence_cache: OrderedDict[str, Any] = OrderedDict()
        self._sentence_cache_size = sentence_cache_size
        self._sentence_lock = threading.Lock()
        self._sentence_epoch = 0
        self.generation = 0  # bumped on every write made through this Store
        self._seen_token: str | None = None
        # Open intents (id -> plan): every process's as last read, and this Store's own writes.
        # Both are replaced whole, never changed in place: readers in other threads iterate them.
        self._intents: dict[str, dict[str, Any]] = {}
        self._own: dict[str, dict[str, Any]] = {}

    @property
    def location(self) -> str:
        """Where the index lives, for messages: the server's URL or the folder."""
        return self.chroma_url or str(self.index_dir)

    # -- collections ---------------------------------------------------------------------
    def _collection(self, kind: str) -> _Collection:
        """A collection (`chunks`, `sentences`, `docs` or `state`), opening the index if needed."""
        self._open(kind)
        return self._views[kind]

    def _open(self, kind: str) -> tuple[Any, int]:
        """The current client's Chroma collection of `kind`, and the client's epoch."""
        with self._lock:
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
                    raise ConfigError(f"cannot open the index at {self.location}: {_first_line(exc)}") from exc
            if fresh:
                self._upgrade()  # whichever collection is asked for first: all of them are of one schema
            if fresh and self._read_state()[1]:
                # A new view of the index: writes are in progress, or a process died in one.
                self._recover()
            return self._collections[kind], self._epoch

    def _open_client(self) -> Any:
        try:
            import chromadb
            from chromadb.config import Settings as ChromaSettings
        except ImportError as exc:
            raise ConfigError("chromadb is not installed (pip install chromadb)") from exc
        settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
        if self.chroma_url:
            host, port, ssl = parse_chroma_url(self.chroma_url)
            try:
                client = chromadb.HttpClient(host=host, port=port, ssl=ssl, settings=settings)
                client.heartbeat()
                return client
            except Exception as exc:
                raise ConfigError(f"cannot reach the Chroma server at {self.chroma_url}: {_first_line(exc)}") from exc
        try:
            self.index_dir.mkdir(parents=True, exist_ok=True)
            return chromadb.PersistentClient(path=str(self.index_dir), settings=settings)
        except Exception as exc:
            raise ConfigError(f"cannot open the index at {self.index_dir}: {_first_line(exc)}") from exc

    @property
    def chunks(self) -> _Collection:
        """The Chroma collection of chunks (what dense retrieval searches)."""
        return self._collection("chunks")

    def _batch_size(self) -> int:
        self._collection("docs")
        return max(1, min(5000, int(self._client.get_max_batch_size())))

    # -- the state record: schema version and change token ---------------------------------
    def _state(self) -> dict[str, Any]:
        got = self._collection("state").get(ids=["state"], include=["metadatas"])
        return got["metadatas"][0] if got["ids"] else {}

    def _touch(self) -> None:
        """Record that the index changed, for every process that reads it (see `changed`)."""
        token = uuid.uuid4().hex
        self._collection("state").upsert(
            ids=["state"], embeddings=[[1.0]], metadatas=[{"schema": SCHEMA_VERSION, "token": token}]
        )
        self._seen_token = token
        self.generation += 1

    def change_token(self) -> str:
        """Changes whenever any process writes to the index: one small read."""
        return self._read_state()[0]

    def sync(self) -> bool:
        """Whether another process changed the index since this Store last looked; if so, forget
        cached sentence vectors (a replaced document may reuse their ids) and, for a folder,
        reopen it (see `reopen`). A write that another process left open when it died is
        finished here too (see `_recover`)."""
        token, intents = self._read_state()
        if set(intents) - set(self._own):
            self._recover()
        with self._lock:
            if token == self._seen_token:
                return False
            first_look = self._seen_token is None
            self._seen_token = token
            self._forget_sentences()
            if not first_look:
                self.reopen()
            return True

    def reopen(self) -> None:
        """Drop this process's view of an embedded index so the next read sees other processes' writes.

        Chroma's embedded store keeps vector segments in memory: after another process writes,
        reading stored vectors through the old client fails ("Error finding id"). A server has
        no such cache, so only folders are reopened. Calls other threads have in flight finish
        on the old client first, and calls made later through `_Collection` go to the new one.
        """
        with self._lock:
            if self.chroma_url or self._client is None:
                return
            with self._gate.closing():  # calls in other threads finish first; new ones wait
                old, self._client = self._client, None
                self._collections.clear()
                self._epoch += 1
                self.generation += 1  # caches built from the old view rebuild
                try:
                    old.close()
                except Exception as exc:  # closing is best effort: the new client is what matters
                    logger.debug("closing the old Chroma client failed: %s", exc)

    def read(self, fn: Callable[[], T]) -> T:
        """Run a read; if another process's writes made this process's view stale, reopen and retry once."""
        try:
            return fn()
        except Exception as exc:
            if self.chroma_url or "finding id" not in str(exc).lower():
                raise
            logger.info("the index changed under this process; reopening it")
            self.reopen()
            return fn()

    def _upgrade(self) -> None:
        """Bring an index written by an older version up to SCHEMA_VERSION in place (no re-embedding)."""
        schema = int(self._state().get("schema", 1))
        if schema >= SCHEMA_VERSION:
            return
        # Each step rewrites only the records still without its fields: a second process
        # upgrading at the same moment, or one writing meanwhile, loses nothing to it.
        steps = []
        if schema < 2:
            steps.append(("chunks", "filter fields", self._open("chunks")[0], _unless("source_key", filter_fields)))
        if schema < 3:
            steps.append(("document records", "locations", self._open("docs")[0], _unless("locations", located_fields)))
        for what, why, collection, change in steps:
            upgraded = self._update_all(collection, change)
            if upgraded:
                logger.warning("upgraded %d %s of the index to schema %d (%s)", upgraded, what, SCHEMA_VERSION, why)
        if schema < 3:
            upgraded = self._store_kinds()
            if upgraded:
                logger.warning("upgraded %d chunks of the index to schema %d (sentence kinds)", upgraded, SCHEMA_VERSION)
        if schema < 4:
            upgraded = self._store_sections()
            if upgraded:
                logger.warning("upgraded %d chunks of the index to schema %d (section headings)", upgraded, SCHEMA_VERSION)
        self._touch()

    def _store_sections(self) -> int:
        """Give chunks stored before sections were the heading of the section they open in,
        worked out from their document's text as ingest would."""
        split: dict[str, tuple[list[Sentence], list[int]]] = {}  # per page of chunks: its documents' units

        def section(meta: dict[str, Any], text: str) -> dict[str, Any] | None:
            doc_id = str(meta.get("doc_id", ""))
            if doc_id not in split:
                sentences = split_sentences(text)
                split[doc_id] = sentences, section_headings(sentences)
            sentences, heading_of = split[doc_id]
            first = int(meta.get("first_sentence", 0))
            heading = heading_of[first] if first < len(sentences) else -1
            if heading < 0:
                return None
            unit = sentences[heading]
            return stored_section(unit, text[unit.start : unit.end])

        return self._rewrite_chunks("section_at", section, split.clear)

    def _store_kinds(self) -> int:
        """Give chunks stored before sentence kinds were their kinds, worked out from their
        document's text as ingest would."""

        def kinds(meta: dict[str, Any], text: str) -> dict[str, Any]:
            # Without stored kinds, read_sentences works them out from the text: the document's here.
            return stored_sentences(read_sentences({"sentences": meta.get("sentences", "")}, text))

        return self._rewrite_chunks("kinds", kinds)

    def _rewrite_chunks(
        self,
        field: str,
        fields_of: Callable[[dict[str, Any], str], dict[str, Any] | None],
        next_page: Callable[[], None] = lambda: None,
    ) -> int:
        """Add to each chunk without `field` the fields `fields_of(metadata, its document's text)`
        gives (None: leave it), a page of chunks and their documents at a time; returns how many
        were rewritten. `next_page` is called before each page (to drop what a page kept)."""
        chunks, docs = self._open("chunks")[0], self._open("docs")[0]
        offset, page, done = 0, 1000, 0
        while True:
            next_page()
            got = chunks.get(include=["metadatas"], limit=page, offset=offset)
            needed = sorted({str(m.get("doc_id", "")) for m in got["metadatas"] if field not in m})
            texts = dict(zip(*[docs.get(ids=needed, include=["documents"])[k] for k in ("ids", "documents")])) if needed else {}
            ids, metas = [], []
            for chunk_id, meta in zip(got["ids"], got["metadatas"]):
                text = texts.get(str(meta.get("doc_id", "")))
                added = fields_of(meta, text) if field not in meta and text is not None else None
                if added:
                    ids.append(chunk_id)
                    metas.append({**meta, **added})
            if ids:
                chunks.update(ids=ids, metadatas=metas)
                done += len(ids)
            if len(got["ids"]) < page:
                return done
            offset += page

    @staticmethod
    def _update_all(collection: Any, change: Callable[[dict[str, Any]], dict[str, Any] | None]) -> int:
        """Rewrite records' metadata with `change` (None: leave that one), a page at a time;
        returns how many were rewritten."""
        offset, page, done = 0, 1000, 0
        while True:
            got = collection.get(include=["metadatas"], limit=page, offset=offset)
            changed = [(i, m) for i, m in ((i, change(m)) for i, m in zip(got["ids"], got["metadatas"])) if m is not None]
            if changed:
                collection.update(ids=[i for i, _ in changed], metadatas=[m for _, m in changed])
                done += len(changed)
            if len(got["ids"]) < page:
                return done
            offset += page

    # -- writes in progress: the write lock and intents (see the module docstring) --------
    def _read_state(self) -> tuple[str, dict[str, dict[str, Any]]]:
        """The change token and the open intents (id -> plan), in one small read."""
        got = self._collection("state").get(include=["metadatas"])
        token, intents = "", {}
        for record_id, meta in zip(got["ids"], got["metadatas"]):
            if record_id == "state":
                token = str(meta.get("token", ""))
            elif record_id.startswith(_INTENT):
                intents[record_id] = {**json.loads(meta["plan"]), "opened_at": float(meta.get("opened_at", 0))}
        self._intents = intents
        return token, intents

    def _hidden(self, intents: Mapping[str, dict[str, Any]] | None = None) -> set[str]:
        """Ids of the documents that open intents name: retrieval leaves them out until the write ends.

        A folder's view of vectors changes only when this process writes or reopens the client,
        and both refresh the intents it knows; a server's changes at any time, so it is asked.
        """
        if intents is None:
            intents = self._read_state()[1] if self.chroma_url else self._intents
        hidden: set[str] = set()
        for plan in [*intents.values(), *self._own.values()]:
            hidden.update(plan.get("add", {}), plan.get("delete", ()))
            for olds in plan.get("replace", {}).values():
                hidden.update(olds)
        return hidden

    @contextlib.contextmanager
    def _write_lock(self, wait: bool = True) -> Iterator[bool | None]:
        """Hold a folder's write lock: yields True once held, False if another process (or
        Store) holds it and `wait` is off, None where there is no lock (a server, or no fcntl).

        The kernel releases the lock of a process that dies, so whoever holds it knows that every
        open intent but its own belongs to a dead process.

        Raises:
            ConfigError: another process kept the lock for WRITE_WAIT_S.
        """
        handle = None
        if not self.chroma_url and fcntl is not None:
            try:
                self.index_dir.mkdir(parents=True, exist_ok=True)
                handle = os.open(self.index_dir / WRITE_LOCK, os.O_RDWR | os.O_CREAT, 0o644)
            except OSError as exc:  # a read-only folder: no lock, as with a server
                logger.debug("no write lock in %s: %s", self.index_dir, exc)
        if handle is None:
            yield None
            return
        try:
            yield self._flock(handle, wait)
        finally:
            os.close(handle)  # releases the lock

    def _flock(self, handle: int, wait: bool) -> bool | None:
        """Lock the open lock file (see `_write_lock` for what the result means)."""
        deadline = time.monotonic() + WRITE_WAIT_S
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return True
            except BlockingIOError:
                if not wait:
                    return False
                if time.monotonic() > deadline:
                    raise ConfigError(
                        f"another process has been writing to the index at {self.index_dir} for over "
                        f"{WRITE_WAIT_S:.0f} s ({WRITE_LOCK} is locked); try again when it is done"
                    ) from None
                time.sleep(0.05)
            except OSError as exc:  # a file system without locks (some network ones)
                logger.debug("cannot lock %s: %s", WRITE_LOCK, exc)
                return None

    @contextlib.contextmanager
    def _intent(self, plan: dict[str, Any]) -> Iterator[None]:
        """Record `plan` as an open intent for the duration of a write (under the write lock).

        plan: {"add": {doc id: content hash}, "delete": [ids]} (and "replace", from earlier versions).
        If the write fails, what it left half done is settled at once, as for a dead process.
        """
        intent_id = _INTENT + uuid.uuid4().hex
        self._own = {**self._own, intent_id: plan}
        try:
            self._collection("state").upsert(
                ids=[intent_id], embeddings=[[1.0]], metadatas=[{"plan": json.dumps(plan), "opened_at": time.time()}]
            )
            yield
        except BaseException:
            try:
                self._settle(intent_id, plan)
            except Exception as exc:  # the intent stays open: this or another process settles it later
                logger.warning("could not undo a failed write to the index: %s", _first_line(exc))
                self._intents = {**self._intents, intent_id: plan}
                self._own = {k: v for k, v in self._own.items() if k != intent_id}
            raise
        self._close_intent(intent_id)

    def _close_intent(self, intent_id: str) -> None:
        self._collection("state").delete(ids=[intent_id])
        self._own = {k: v for k, v in self._own.items() if k != intent_id}
        self._intents = {k: v for k, v in self._intents.items() if k != intent_id}
        self._touch()

    def _settle(self, intent_id: str, plan: dict[str, Any]) -> None:
        """Bring what an interrupted write names to a whole state, then close its intent.

        A deletion is completed. An added document whose record landed (with the planned content
        hash) is kept and the versions it replaces are deleted; one without a record never
        landed and its parts go (the versions it would replace stay). A record with another
        hash is the untouched old version of a document changed in place: it stays.
        """
        docs = self._collection("docs")
        added: dict[str, str] = plan.get("add", {})
        got = docs.get(ids=list(added), include=["metadatas"]) if added else {"ids": [], "metadatas": []}
        records = dict(zip(got["ids"], got["metadatas"]))
        gone = list(plan.get("delete", ()))
        never_landed = []
        for doc_id, content_hash in added.items():
            if doc_id not in records:
                never_landed.append(doc_id)
            elif records[doc_id].get("content_hash") == content_hash:
                gone += plan.get("replace", {}).get(doc_id, [])
        if gone:
            docs.delete(ids=gone)
        for doc_id in [*gone, *never_landed]:
            self._delete_parts(doc_id)
        self._close_intent(intent_id)

    def _finish_dead_writes(self, held: bool | None) -> None:
        """Settle the open intents of processes that died (call under `_lock`).

        held: what `_write_lock` gave: True means every open intent but this Store's own is a
        dead process's; None (no lock) takes intents older than SWEEP_GRACE_S for dead.
        """
        if held is False:
            return
        cutoff = time.time() - SWEEP_GRACE_S
        dead = [
            (intent_id, plan)
            for intent_id, plan in self._read_state()[1].items()
            if intent_id not in self._own and (held or plan["opened_at"] < cutoff)
        ]
        for intent_id, plan in dead:
            self._settle(intent_id, plan)
        if dead:
            logger.warning("finished %d write(s) to the index that a stopped process left open", len(dead))

    @contextlib.contextmanager
    def _writing(self) -> Iterator[bool | None]:
        """Hold the write lock (waiting for another process's write) and `_lock` for one write,
        after settling what dead processes left open. Yields what `_write_lock` gave."""
        with self._write_lock() as held, self._lock:
            self._finish_dead_writes(held)
            yield held

    def _recover(self) -> None:
        """Settle dead processes' writes now, unless another process is writing (then later).

        Best effort: until they are settled, their documents stay out of retrieval (`_hidden`).
        """
        try:
            with self._write_lock(wait=False) as held, self._lock:
                self._finish_dead_writes(held)
        except Exception as exc:  # e.g. a read-only index: readers still see only whole documents
            logger.warning("could not finish a write a stopped process left open: %s", _first_line(exc))

    def scan(self, kind: str, include: list[str], page: int = 20_000) -> Iterator[dict[str, Any]]:
        """Every record of a collection, a page at a time (Chroma's `get` answers).

        One `get` of all records fails once a collection holds more than ~32k of them ("too many
        SQL variables" from Chroma's SQLite, seen with 40,000) whenever metadata is included.
        """
        offset = 0
        while True:
            got = self.read(lambda: self._collection(kind).get(include=include, limit=page, offset=offset))
            yield got
            if len(got["ids"]) < page:
                return
            offset += page

    # -- documents -----------------------------------------------------------------------
    def has_document(self, doc_id: str) -> dict[str, Any] | None:
        """The stored metadata of a complete document, or None."""
        got = self.read(lambda: self._collection("docs").get(ids=[doc_id], include=["metadatas"]))
        return got["metadatas"][0] if got["ids"] else None

    def located(self, scopes: Iterable[str]) -> dict[str, list[str]]:
        """doc id -> locations of every complete document stored at or under these scopes (a
        file, a collection, a folder: see qa.locations), those missing from their input included."""
        out: dict[str, list[str]] = {}
        page = 5000
        for scope in dict.fromkeys(scopes):
            offset = 0
            while True:
                got = self.read(
                    lambda: self._collection("docs").get(
                        where={"scopes": {"$contains": scope}}, include=["metadatas"], limit=page, offset=offset
                    )
                )
                out.update((i, stored_locations(m)) for i, m in zip(got["ids"], got["metadatas"]))
                if len(got["ids"]) < page:
                    break
                offset += page
        return out

    def add_locations(self, found: Mapping[str, str]) -> list[str]:
        """Record that each stored document (doc id -> location) is also at that location, now,
        under the write lock: so a prune in another process, which reads locations under the
        same lock, never removes a report an ingest has just found. Returns the ids no longer
        stored (removed meanwhile): the caller stores them again."""
        if not found:
            return []
        with self._writing():
            docs = self._collection("docs")
            got = docs.get(ids=list(found), include=["metadatas"])
            updated = {}
            for doc_id, meta in zip(got["ids"], got["metadatas"]):
                held = stored_locations(meta)
                if found[doc_id] not in held:
                    updated[doc_id] = located_fields(meta, [*held, found[doc_id]])
            if updated:
                docs.update(ids=list(updated), metadatas=list(updated.values()))
                self._touch()
            return [doc_id for doc_id in found if doc_id not in set(got["ids"])]

    def settle_locations(
        self, survey: Survey, seen_ids: Iterable[str], paths: Mapping[str, str], prune: bool
    ) -> tuple[dict[str, list[str]], list[str]]:
        """After an ingest: record where every document it concerns is now (see
        qa.locations.reconcile), and with `prune` remove the ones no location holds, all under
        one hold of the write lock on a fresh read, so no other process's write lands between
        the reading and the removing. Returns (what moved, what is missing)."""
        with self._writing():
            before = self.located(survey.scopes) if survey.scopes else {}
            others = [i for i in dict.fromkeys(seen_ids) if i not in before]
            if others:
                got = self._collection("docs").get(ids=others, include=["metadatas"])
                before.update((i, stored_locations(m)) for i, m in zip(got["ids"], got["metadatas"]))
            moved, missing = reconcile(before, survey)
            self._relocate(moved, paths)
            if prune and missing:
                self._delete(missing)
            return moved, missing

    def _relocate(self, locations: Mapping[str, list[str]], paths: Mapping[str, str]) -> None:
        """Record documents' new locations and the path each was last seen at (metadata only;
        under the write lock). With no location left a record keeps its scopes (see
        located_fields): Chroma's update merges metadata, so keys not written stay."""
        docs = self._collection("docs")
        ids = list(locations)
        batch = self._batch_size()
        changed = False
        for lo in range(0, len(ids), batch):
            got = docs.get(ids=ids[lo : lo + batch], include=["metadatas"])
            metas = []
            for doc_id, meta in zip(got["ids"], got["metadatas"]):
                meta = located_fields(meta, locations[doc_id])
                if doc_id in paths:
                    meta["path"] = paths[doc_id]
                metas.append(meta)
            if got["ids"]:
                docs.update(ids=got["ids"], metadatas=metas)
                changed = True
        if changed:
            self._touch()

    def documents(self) -> list[Document]:
        """Every complete document, without its text, sorted by date then title.

        While a write is open (or was cut short), a document it deletes is no longer listed and
        one it replaces is listed until the new version's record has landed: never both.
        """
        for _ in range(3):  # the records and the intents must be of one moment: no write ended between
            token, before = self._read_state()
            records = {i: m for got in self.scan("docs", ["metadatas"]) for i, m in zip(got["ids"], got["metadatas"])}
            token_after, after = self._read_state()
            if token_after == token:
                break
        unlisted: set[str] = set()
        for plan in [*before.values(), *after.values(), *self._own.values()]:
            unlisted.update(plan.get("delete", ()))
            for doc_id, olds in plan.get("replace", {}).items():
                if doc_id in records and records[doc_id].get("content_hash") == plan.get("add", {}).get(doc_id):
                    unlisted.update(olds)
        docs = [self._to_document(i, m, "") for i, m in records.items() if i not in unlisted]
        return sorted(docs, key=lambda d: (d.date, d.title, d.doc_id))

    def document(self, doc_id: str) -> Document:
        got = self.read(lambda: self._collection("docs").get(ids=[doc_id], include=["metadatas", "documents"]))
        if not got["ids"]:
            raise NotFoundError(f"no document with id {doc_id!r} in the index")
        return self._to_document(doc_id, got["metadatas"][0], got["documents"][0] or "")

    def count_documents(self) -> int:
        return self._collection("docs").count()

    def write_documents(
        self, items: "list[tuple[Document, list[Chunk], np.ndarray, tuple[list[int], np.ndarray]]]"
    ) -> None:
        """Store documents whole: all their sentences and chunks first, their records last, as one
        intent (see the module docstring), so a process killed at any point leaves each document
        whole or absent (a document rewritten under the same id: see the README's two gaps).

        Each item is (document, its chunks, one vector per chunk, (the indexes of the sentences
        its chunks hold, one vector each)); the record keeps the document's locations. Writing
        many documents at once lets Chroma take large batches.
        """
        import numpy as np

        if not items:
            return
        added = {doc.doc_id: doc.content_hash for doc, *_ in items}
        with self._writing(), self._intent({"add": added}):
            # A document changed in place loses its record before its parts, never after.
            existing = self._collection("docs").get(ids=list(added), include=[])["ids"]
            if existing:
                self._collection("docs").delete(ids=existing)
            for doc_id in existing:
                self._delete_parts(doc_id)
            written_at = time.time()
            sentence_ids: list[str] = []
            sentence_metas: list[dict[str, Any]] = []
            chunk_ids: list[str] = []
            chunk_texts: list[str] = []
            chunk_metas: list[dict[str, Any]] = []
            for doc, chunks, _, (indices, _) in items:
                # Sentence i of a document is stored once as "{doc_id}:s{i}", whatever chunks hold it.
                sentence_ids += [f"{doc.doc_id}:s{i}" for i in indices]
                sentence_metas += [{"doc_id": doc.doc_id, "written_at": written_at}] * len(indices)
                base = filter_fields(
                    {"doc_id": doc.doc_id, "title": doc.title, "source": doc.source, "date": doc.date, "place": doc.place, "url": doc.url}
                )
                base["written_at"] = written_at
                chunk_ids += [c.chunk_id for c in chunks]
                chunk_texts += [c.text for c in chunks]
                chunk_metas += [
                    {
                        **base,
                        "index": c.index,
                        "start": c.start,
                        "end": c.end,
                        "first_sentence": c.first_sentence,
                        **stored_sentences(c.sentences),
                        **stored_section(c.section, c.section_text),
                    }
                    for c in chunks
                ]
            sentence_vectors = np.concatenate([item[3][1] for item in items])
            chunk_vectors = np.concatenate([item[2] for item in items])
            batch = self._batch_size()
            for lo in range(0, len(sentence_ids), batch):
                hi = lo + batch
                self._collection("sentences").upsert(
                    ids=sentence_ids[lo:hi], embeddings=sentence_vectors[lo:hi], metadatas=sentence_metas[lo:hi]
                )
            for lo in range(0, len(chunk_ids), batch):
                hi = lo + batch
                self.chunks.upsert(
                    ids=chunk_ids[lo:hi], embeddings=chunk_vectors[lo:hi], documents=chunk_texts[lo:hi], metadatas=chunk_metas[lo:hi]
                )
            records, vectors, metas = [], [], []
            for doc, chunks, vectors_of_chunks, _ in items:
                doc_vector = vectors_of_chunks.mean(axis=0)
                vectors.append(doc_vector / (float((doc_vector**2).sum() ** 0.5) or 1.0))
                meta = {name: getattr(doc, name) for name in _DOC_FIELDS}
                meta.update(chunks=len(chunks), ingested_at=written_at)
                metas.append(located_fields(meta, doc.locations))
                records.append(doc)
            for lo in range(0, len(records), batch):
                hi = lo + batch
                self._collection("docs").upsert(
                    ids=[d.doc_id for d in records[lo:hi]],
                    embeddings=np.stack(vectors[lo:hi]),
                    documents=[d.text for d in records[lo:hi]],
                    metadatas=metas[lo:hi],
                )

    def delete_document(self, doc_id: str) -> None:
        """Remove a document everywhere (record first, then its chunks and sentences), as one intent.

        Raises:
            NotFoundError: no document has that id.
        """
        self.delete_documents([doc_id], must_exist=True)

    def delete_documents(self, doc_ids: list[str], must_exist: bool = False) -> None:
        """Remove documents everywhere: a process killed part-way leaves each one listed or
        gone, and the next process to open the index finishes the deletion."""
        if not doc_ids:
            return
        with self._writing():
            if must_exist:
                for doc_id in doc_ids:
                    if not self.has_document(doc_id):
                        raise NotFoundError(f"no document with id {doc_id!r} in the index")
            self._delete(list(doc_ids))

    def _delete(self, doc_ids: list[str]) -> None:
        """Delete under the write lock, DELETE_BATCH documents per intent: an open intent's ids
        are left out of every search by name, and tens of thousands of names in one query are
        more than Chroma's SQLite takes."""
        for lo in range(0, len(doc_ids), DELETE_BATCH):
            part = doc_ids[lo : lo + DELETE_BATCH]
            with self._intent({"delete": part}):
                self._collection("docs").delete(ids=part)
                for doc_id in part:
                    self._delete_parts(doc_id)

    def _delete_parts(self, doc_id: str) -> None:
        self.chunks.delete(where={"doc_id": doc_id})
        self._collection("sentences").delete(where={"doc_id": doc_id})
        self._forget_sentences(doc_id)

    def sweep_incomplete(self, grace_s: float = SWEEP_GRACE_S) -> list[str]:
        """Settle writes that stopped processes left open, then delete the chunks and sentences of
        documents that have no record (an ingest that never finished); returns their ids.

        With a folder this holds the write lock, so no other process is writing and every
        leftover goes. With a server, parts written in the last `grace_s` seconds are left
        alone: they may belong to an ingest still running in another process.

        The scan of every chunk and sentence (25 s at 100k chunks) is needed only for leftovers
        of writes made before intents existed: every write since records one, and a dead
        writer's is settled above. So once a scan has found nothing left to wait for, a `swept`
        record says so and later calls skip it.
        """
        with self._writing() as held:
            state = self._collection("state")
            if state.get(ids=[_SWEPT], include=[])["ids"]:
                return []
            complete = {i for got in self.scan("docs", []) for i in got["ids"]}
            in_progress = self._hidden()  # a live write's (a dead one's were settled above)
            cutoff = time.time() - (0 if held else grace_s)
            stray: set[str] = set()
            waiting = False  # leftovers too young to take for dead (a server only)
            for kind in ("chunks", "sentences"):
                for meta in (m for got in self.scan(kind, ["metadatas"]) for m in got["metadatas"]):
                    doc_id = meta["doc_id"]
                    if doc_id in complete or doc_id in in_progress:
                        continue
                    if float(meta.get("written_at", 0)) < cutoff:
                        stray.add(doc_id)
                    else:
                        waiting = True
            for doc_id in stray:
                self._delete_parts(doc_id)
            if stray:
                self._touch()
                logger.warning("removed the leftovers of %d interrupted ingest(s)", len(stray))
            if not waiting:
                state.upsert(ids=[_SWEPT], embeddings=[[1.0]], metadatas=[{"swept_at": time.time()}])
            return sorted(stray)

    def where(self, filters: Filters) -> dict[str, Any] | None:
        """The Chroma `where` clause that keeps chunks inside the filters (see Filters.matches),
        and out of documents that a write in progress (or cut short) names."""
        clauses: list[dict[str, Any]] = []
        hidden = self._hidden()
        if hidden:
            clauses.append({"doc_id": {"$nin": sorted(hidden)}})
        if filters.sources:
            clauses.append({"source_key": {"$in": sorted({outlet_key(s) for s in filters.sources})}})
        if filters.places:
            terms = sorted({place_key(p) for p in filters.places})
            either = [{"place_terms": {"$contains": t}} for t in terms]
            clauses.append(either[0] if len(either) == 1 else {"$or": either})
        if filters.date_from or filters.date_to:
            low, high = filters.day_range
            dated: list[dict[str, Any]] = [{"date_num": {"$gte": low}}, {"date_num": {"$lte": high}}]
            clauses += [{"$or": [{"$and": dated}, {"date_num": 0}]}] if filters.undated else dated
        if not clauses:
            return None
        return clauses[0] if len(clauses) == 1 else {"$and": clauses}

    # -- chunks and sentences ------------------------------------------------------------
    def all_chunks(self) -> tuple[list[str], list[str], list[dict[str, Any]]]:
        """Every chunk's id, text and metadata (for the lexical index), in pages: the chunks of
        complete documents only (not those of a write in progress or cut short)."""
        ids: list[str] = []
        texts: list[str] = []
        metas: list[dict[str, Any]] = []
        for got in self.scan("chunks", ["documents", "metadatas"]):
            ids += got["ids"]
            texts += got["documents"]
            metas += got["metadatas"]
        # Read after the chunks: a chunk read above whose write is still open is named here, and
        # one whose write ended has a record now, unless its document was deleted or never landed.
        complete = {i for got in self.scan("docs", []) for i in got["ids"]}
        complete -= self._hidden(self._read_state()[1])
        keep = [i for i, meta in enumerate(metas) if meta.get("doc_id") in complete]
        if len(keep) == len(ids):
            return ids, texts, metas
        return [ids[i] for i in keep], [texts[i] for i in keep], [metas[i] for i in keep]

    def count_chunks(self) -> int:
        return self.chunks.count()

    def sentence_vectors(self, ids: list[str]) -> dict[str, "np.ndarray"]:
        """Stored sentence vectors by id, from a bounded in-process cache or one Chroma read."""
        import numpy as np

        found: dict[str, np.ndarray] = {}
        missing = []
        with self._sentence_lock:
            epoch = self._sentence_epoch
            for sid in ids:
                vector = self._sentence_cache.get(sid)
                if vector is None:
                    missing.append(sid)
                else:
                    found[sid] = vector
                    self._sentence_cache.move_to_end(sid)
        if missing:
            got = self.read(lambda: self._collection("sentences").get(ids=missing, include=["embeddings"]))
            read = {sid: np.asarray(vector, dtype=np.float32) for sid, vector in zip(got["ids"], got["embeddings"])}
            found.update(read)
            with self._sentence_lock:
                if epoch == self._sentence_epoch:  # else a document changed meanwhile: these may be stale
                    self._sentence_cache.update(read)
                    while len(self._sentence_cache) > self._sentence_cache_size:
                        self._sentence_cache.popitem(last=False)
        return found

    def _forget_sentences(self, doc_id: str | None = None) -> None:
        """Drop cached sentence vectors: one document's, or all of them."""
        with self._sentence_lock:
            self._sentence_epoch += 1
            if doc_id is None:
                self._sentence_cache.clear()
            else:
                for key in [k for k in self._sentence_cache if k.startswith(doc_id + ":")]:
                    del self._sentence_cache[key]

    @staticmethod
    def _to_document(doc_id: str, meta: dict[str, Any], text: str) -> Document:
        return Document(
            doc_id=doc_id,
            text=text,
            title=str(meta.get("title", "")),
            source=str(meta.get("source", "")),
            date=str(meta.get("date", "")),
            place=str(meta.get("place", "")),
            url=str(meta.get("url", "")),
            path=str(meta.get("path", "")),
            locations=stored_locations(meta),
            content_hash=str(meta.get("content_hash", "")),
            chunks=int(meta.get("chunks", 0)),
        )
