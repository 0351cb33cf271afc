"""Writes in progress, shared by every process using one index.

Crash safety: a write first records its intent (the documents it adds, with their content
hashes, and the documents it deletes) and removes it when done. Retrieval leaves out every
document an open intent names (`WriteLog.hidden`), so a half-written document is never listed
or cited. A process killed mid-write leaves its intent open; the next process that opens the
index (or syncs with it, or ingests) finishes it: a deletion is completed, and the parts of
documents that never got a record are deleted. (Intents written by earlier versions may also
name replacements, "replace": the versions a changed file's new record replaced; they are still
settled the same way.) With a folder, writers hold a lock file (`qa-write.lock`, through
filelock, released by the kernel when a process dies), so an open intent whose lock is free is
known to be a dead process's; with a server, an intent older than SWEEP_GRACE_S is taken for dead.

The `state` collection holds one record with the schema version, a token that every write
replaces (so each process notices the others' writes with one small read) and the number of
the last write (its documents are in the journal: qa.store.journal), one record per open
intent, and `swept` once no leftovers from before intents remain (see `WriteLog.sweep`).
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, NamedTuple

from ..errors import ConfigError
from ..locks import check_order, checking, holding
from .chroma import Chroma, first_line
from .journal import Changes, Cursor, Journal

logger = logging.getLogger(__name__)

# Where no lock file tells a dead writer from a live one (a Chroma server), parts of a document
# and intents younger than this are never taken for a dead ingest's leftovers: another process
# sharing the server may still be writing them (one batch takes seconds).
SWEEP_GRACE_S = 600.0

WRITE_LOCK = "qa-write.lock"  # in a folder index: held by the process writing (see WriteLog.write_lock)
WRITE_WAIT_S = 300.0  # how long a write waits for another process's write before giving up
_INTENT = "intent:"  # id prefix of intent records in the state collection
_SWEPT = "swept"  # state record: no leftovers from before intents remain (see WriteLog.sweep)


class State(NamedTuple):
    """The index's shared state, as one read gives it."""

    token: str  # replaced by every write
    intents: dict[str, dict[str, Any]]  # the writes open now: id -> plan
    seq: int  # the number of the last write (see qa.store.journal)
    kept_from: int  # the first number the journal still holds
    index_id: str  # made by the index's first write: an index deleted and made again is another


class WriteLog:
    """The write lock, the open intents and the change token of one index (see the module docstring).

    Args:
        chroma: the index's client.
        schema: the schema version the state record is written with.
        delete_parts: removes one document's chunks and sentences (and what caches them).
    """

    def __init__(self, chroma: Chroma, schema: int, delete_parts: Callable[[str], None]) -> None:
        self._chroma = chroma
        self.journal = Journal(chroma)
        self._schema = schema
        self._delete_parts = delete_parts
        self.writes = 0  # bumped on every write made through this log
        self.seen_token: str | None = None  # the change token as this process last saw it
        # Open intents (id -> plan): every process's as last read, and this process's own writes.
        # Both are replaced whole, never changed in place: readers in other threads iterate them.
        self._intents: dict[str, dict[str, Any]] = {}
        self.own: dict[str, dict[str, Any]] = {}
        self.last_state: State | None = None  # as `read_state` last read it

    # -- the state record: schema version and change token ---------------------------------
    def state(self) -> dict[str, Any]:
        """The state record's metadata: the schema version and the change token."""
        got = self._chroma.collection("state").get(ids=["state"], include=["metadatas"])
        return got["metadatas"][0] if got["ids"] else {}

    def touch(self, changed: Iterable[str] = (), everything: bool = False) -> None:
        """Record that the index changed, for every process that reads it: a new change token and
        write number, and in the journal the documents the write added, replaced or removed
        (`changed`), or that every record may have changed (`everything`: a schema upgrade)."""
        meta = self.state()
        seq, kept_before = int(meta.get("seq", 0)) + 1, int(meta.get("kept_from", 1))
        kept_from = self.journal.kept_from(seq, kept_before)
        self.journal.record(seq, changed, everything)  # before the token: a reader that sees one sees the other
        token = uuid.uuid4().hex
        index_id = str(meta.get("index_id") or uuid.uuid4().hex)
        self._chroma.collection("state").upsert(
            ids=["state"],
            embeddings=[[1.0]],
            metadatas=[
                {"schema": self._schema, "token": token, "seq": seq, "kept_from": kept_from, "index_id": index_id}
            ],
        )
        if kept_from != kept_before:
            self.journal.trim(kept_from)  # after the state says so (see qa.store.journal)
        if meta.get("token", "") == (self.seen_token or ""):  # else another process wrote since this one last looked
            self.seen_token = token
        self.writes += 1

    def read_state(self) -> State:
        """The change token, the open intents (id -> plan) and the write numbers, in one small read."""
        got = self._chroma.collection("state").get(include=["metadatas"])
        token, intents, seq, kept_from, index_id = "", {}, 0, 1, ""
        for record_id, meta in zip(got["ids"], got["metadatas"]):
            if record_id == "state":
                token = str(meta.get("token", ""))
                seq, kept_from, index_id = (
                    int(meta.get("seq", 0)),
                    int(meta.get("kept_from", 1)),
                    str(meta.get("index_id", "")),
                )
            elif record_id.startswith(_INTENT):
                intents[record_id] = {**json.loads(meta["plan"]), "opened_at": float(meta.get("opened_at", 0))}
        self._intents = intents
        self.last_state = State(token, intents, seq, kept_from, index_id)
        return self.last_state

    def changes(self, cursor: Cursor, state: State | None = None) -> Changes:
        """The documents changed after `cursor` (see qa.store.journal), as of `state` (read now if
        not given). The state is read again after the journal: a trim that ran meanwhile may have
        taken records this reader needed (then it is told to rebuild)."""
        state = state or self.read_state()
        changes = self.journal.since(cursor, state)
        if not changes.everything and cursor.seq is not None and cursor.seq + 1 < self.read_state().kept_from:
            return Changes(frozenset(), True, Cursor(state.seq, index=state.index_id))
        return changes

    def hidden(self, intents: Mapping[str, dict[str, Any]] | None = None) -> set[str]:
        """Ids of the documents that open intents name: retrieval leaves them out until the write ends.

        A folder's view of vectors changes only when this process writes or reopens the client,
        and both refresh the intents it knows; a server's changes at any time, so it is asked.
        """
        if intents is None:
            intents = self.read_state().intents if self._chroma.url else self._intents
        return set().union(*map(changed_by, [*intents.values(), *self.own.values()]))

    # -- the write lock ----------------------------------------------------------------------
    @contextlib.contextmanager
    def write_lock(self, wait: bool = True) -> Iterator[bool | None]:
        """Hold a folder's write lock: yields True once held, False if another process (or
        Store) holds it and `wait` is off, None where there is no lock (a server, a read-only
        folder, a file system without locks).

        The kernel releases the lock of a process that dies, so whoever holds it knows that every
        open intent but its own belongs to a dead process.

        Raises:
            ConfigError: another process kept the lock for WRITE_WAIT_S.
        """
        if self._chroma.url:
            yield None
            return
        from filelock import FileLock, Timeout

        # A new lock object per hold, so two Stores of one process exclude each other as two processes do.
        lock = FileLock(self._chroma.index_dir / WRITE_LOCK, mode=0o644, thread_local=False, fallback_to_soft=False)
        held: bool | None
        try:
            self._chroma.index_dir.mkdir(parents=True, exist_ok=True)
            if wait and checking():
                check_order("write-file")
            lock.acquire(timeout=WRITE_WAIT_S if wait else 0, poll_interval=0.05)
            held = True
        except Timeout:
            if wait:
                raise ConfigError(
                    f"another process has been writing to the index at {self._chroma.index_dir} for over "
                    f"{WRITE_WAIT_S:.0f} s ({WRITE_LOCK} is locked); try again when it is done"
                ) from None
            held = False
        except OSError as exc:  # a read-only folder, or a file system without locks (some network ones)
            logger.debug("no write lock in %s: %s", self._chroma.index_dir, exc)
            held = None
        if not held:
            yield held
            return
        try:
            with holding("write-file", blocking=False):
                yield True
        finally:
            lock.release()

    @contextlib.contextmanager
    def writing(self) -> Iterator[bool | None]:
        """Hold the write lock (waiting for another process's write) and the index lock for one
        write, after settling what dead processes left open. Yields what `write_lock` gave."""
        with self.write_lock() as held, self._chroma.lock:
            self._finish_dead_writes(held)
            yield held

    # -- intents -------------------------------------------------------------------------
    @contextlib.contextmanager
    def intent(self, plan: dict[str, Any]) -> Iterator[None]:
        """Record `plan` as an open intent for the duration of a write (inside `writing`).

        plan: {"add": {doc id: content hash}, "delete": [ids]} (and "replace", from earlier versions).
        If the write fails, what it left half done is settled at once, as for a dead process.
        """
        intent_id = _INTENT + uuid.uuid4().hex
        self.own = {**self.own, intent_id: plan}
        try:
            self._chroma.collection("state").upsert(
                ids=[intent_id], embeddings=[[1.0]], metadatas=[{"plan": json.dumps(plan), "opened_at": time.time()}]
            )
            yield
        except BaseException:
            try:
                self._settle(intent_id, plan)
            except Exception as exc:  # the intent stays open: this or another process settles it later
                logger.warning("could not undo a failed write to the index: %s", first_line(exc))
                self._intents = {**self._intents, intent_id: plan}
                self.own = {k: v for k, v in self.own.items() if k != intent_id}
            raise
        self._close(intent_id, plan)

    def _close(self, intent_id: str, plan: dict[str, Any]) -> None:
        # The journal names the documents before the intent goes: a process killed between the
        # two leaves the intent open (the next process settles it, and names them again), never
        # documents that no record names. A reader that meets them still hidden reads them again
        # once the intent is gone (Views' pending documents).
        self.touch(changed_by(plan))
        self._chroma.collection("state").delete(ids=[intent_id])
        self.own = {k: v for k, v in self.own.items() if k != intent_id}
        self._intents = {k: v for k, v in self._intents.items() if k != intent_id}

    def _settle(self, intent_id: str, plan: dict[str, Any]) -> None:
        """Bring what an interrupted write names to a whole state, then close its intent.

        A deletion is completed. An added document whose record landed (with the planned content
        hash) is kept and the versions it replaces are deleted; one without a record never
        landed and its parts go (the versions it would replace stay). A record with another
        hash is the untouched old version of a document changed in place: it stays.
        """
        docs = self._chroma.collection("docs")
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
        self._close(intent_id, plan)

    def _finish_dead_writes(self, held: bool | None) -> None:
        """Settle the open intents of processes that died (under the index lock).

        held: what `write_lock` gave: True means every open intent but this process's own is a
        dead process's; None (no lock) takes intents older than SWEEP_GRACE_S for dead.
        """
        if held is False:
            return
        cutoff = time.time() - SWEEP_GRACE_S
        dead = [
            (intent_id, plan)
            for intent_id, plan in self.read_state().intents.items()
            if intent_id not in self.own and (held or plan["opened_at"] < cutoff)
        ]
        for intent_id, plan in dead:
            self._settle(intent_id, plan)
        if dead:
            logger.warning("finished %d write(s) to the index that a stopped process left open", len(dead))

    def recover(self) -> None:
        """Settle dead processes' writes now, unless another process is writing (then later).

        Best effort: until they are settled, their documents stay out of retrieval (`hidden`).
        """
        try:
            with self.write_lock(wait=False) as held, self._chroma.lock:
                self._finish_dead_writes(held)
        except Exception as exc:  # e.g. a read-only index: readers still see only whole documents
            logger.warning("could not finish a write a stopped process left open: %s", first_line(exc))

    def sweep(self, grace_s: float = SWEEP_GRACE_S) -> list[str]:
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
        with self.writing() as held:
            state = self._chroma.collection("state")
            if state.get(ids=[_SWEPT], include=[])["ids"]:
                return []
            complete = {i for got in self._chroma.scan("docs", []) for i in got["ids"]}
            in_progress = self.hidden()  # a live write's (a dead one's were settled above)
            cutoff = time.time() - (0 if held else grace_s)
            stray: set[str] = set()
            waiting = False  # leftovers too young to take for dead (a server only)
            for kind in ("chunks", "sentences"):
                for meta in (m for got in self._chroma.scan(kind, ["metadatas"]) for m in got["metadatas"]):
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
                self.touch()
                logger.warning("removed the leftovers of %d interrupted ingest(s)", len(stray))
            if not waiting:
                state.upsert(ids=[_SWEPT], embeddings=[[1.0]], metadatas=[{"swept_at": time.time()}])
            return sorted(stray)


def changed_by(plan: Mapping[str, Any]) -> set[str]:
    """The documents a write's plan adds, replaces or deletes."""
    changed = set(plan.get("add", {})) | set(plan.get("delete", ()))
    for olds in plan.get("replace", {}).values():
        changed.update(olds)
    return changed
