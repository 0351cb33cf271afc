"""The views of one Store: what a process derives from the index (qa.store.derived), built once
and kept up to date document by document.

Each view is built from every record on first use (or, for a folder index, read back from the
file the last process left: qa.store.saved); after that, `Views.refresh` reads the journal
(qa.store.journal) for the documents written since, by this process or any other, and each view
re-reads just those documents as the index holds them now. A view publishes a new immutable
snapshot per change, which questions use without a lock.

Documents that a write in progress (or cut short) names are left out when a view reads them.
Its journal record can name them while its intent is still open (the record is written first,
so that a process killed in between leaves the intent to settle rather than documents no record
names): such documents stay pending, and are read again once no open write names them.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any, Protocol

from ..locks import OrderedLock
from .chroma import first_line
from .journal import Changes, Cursor

if TYPE_CHECKING:
    from .saved import SavedViews
    from .store import Store

logger = logging.getLogger(__name__)

CHECK_EVERY_S = 1.0  # how often questions look for other processes' writes
# Documents changed before the views' file is written again: the next process re-reads at most
# about this many (a millisecond or two each) where the file is behind.
SAVE_AFTER = 500


class View(Protocol):
    """Something derived from the index's documents (see the module docstring)."""

    def rebuild(self) -> None:
        """Build anew from every stored document."""

    def update(self, doc_ids: frozenset[str]) -> None:
        """Re-read these documents as the index holds them now (present, changed or gone)."""


class KeptView(View, Protocol):
    """A view kept in a folder index's views' file (qa.store.saved), under its name."""

    name: str

    def arrays(self) -> dict[str, Any]:
        """The view as named numpy arrays."""

    def restore(self, arrays: dict[str, Any]) -> None:
        """Become the view `arrays` hold (raises ValueError where they do not fit together)."""


class Views:
    """The views of one Store, the journal cursor they have all applied up to, and the documents
    still pending (see the module docstring).

    One thread at a time builds or updates them (the ``views`` lock, held across the reads from
    Chroma that an update needs, and the writing of the views' file: that is its purpose); a
    question that finds another thread updating goes on with the current snapshots rather than
    wait. With a folder index, the kept views are read back from the file the last process left
    and written there again after a build from every record and every SAVE_AFTER documents.

    Args:
        kept: the names of the views the file holds; a process writes it only once it has built
            them all (a process that only lists documents builds the groups alone).
    """

    def __init__(self, store: Store, saved: SavedViews | None, kept: tuple[str, ...] = ("lexical", "groups")) -> None:
        self._store = store
        self._saved = saved
        self._kept = set(kept)
        self._lock = OrderedLock("views")  # see qa.locks
        self._built: list[View] = []
        self._cursor = Cursor()
        self._pending: set[str] = set()  # documents a journal record named while a write still hid them
        self._checked_at = float("-inf")
        self._unsaved = 0  # documents changed since the file was written
        self._loaded: tuple[Cursor, set[str], dict[str, dict[str, Any]]] | None = None  # the file, until read back
        self._failures = 0  # refreshes in a row that could not read the index

    def build(self, view: View) -> None:
        """Build a view (from the views' file and the writes since, or from every stored document)
        and keep it up to date from now on (waits for an update in progress)."""
        with self._lock:
            if view in self._built:
                return
            if not self._built:  # the first view: everything read from here on is current
                changes = self._store.changes(self._cursor)
                self._cursor = changes.cursor
                self._pending |= self._store.log.hidden()
                if self._saved is not None and self._store.log.last_state is not None:
                    self._loaded = self._saved.load(self._store.log.last_state, self._store.log.journal)
            started = time.monotonic()
            how = self._restore(view)
            if not how:
                view.rebuild()
                how = "from every record"
            self._built.append(view)
            release_memory()
            logger.info("built %s in %.2f s (%s)", type(view).__name__, time.monotonic() - started, how)
            if how == "from every record" or self._unsaved >= SAVE_AFTER:
                self._save()

    def _restore(self, view: View) -> str:
        """Read the view back from the loaded file and bring it up to date; how, or "" if it could not."""
        name = getattr(view, "name", None)
        if self._loaded is None or name not in self._loaded[2]:
            return ""
        cursor, pending, arrays = self._loaded
        try:
            view.restore(arrays[name])  # type: ignore[attr-defined]
        except Exception as exc:  # noqa: BLE001 - a file that does not fit this version: built anew
            logger.warning("could not read the kept %s back (%s: %s); building it anew", name, type(exc).__name__, exc)
            return ""
        if set(arrays) <= {getattr(b, "name", None) for b in self._built} | {name}:
            self._loaded = None  # every view in it is read back: let the arrays go
        self._pending |= pending
        changes = self._store.changes(cursor)
        if changes.everything:
            view.rebuild()
            return "from every record: the views' file was older than the journal reaches"
        docs = set(changes.docs) | {d for d in self._pending if d not in self._store.log.hidden()}
        if docs:
            view.update(frozenset(docs))
            self._unsaved += len(docs)
            return f"from the views' file and {len(docs)} document(s) written since"
        return "from the views' file"

    def _save(self) -> None:
        if self._saved is None or self._store.log.last_state is None:
            return
        named = {view.name: view.arrays() for view in self._built if getattr(view, "name", None) in self._kept}  # type: ignore[attr-defined]
        if set(named) != self._kept:
            return
        started = time.monotonic()
        state, journal = self._store.log.last_state, self._store.log.journal
        if self._saved.save(state, journal, self._cursor, self._pending, named):
            self._unsaved = 0
            logger.info("kept the views in %s in %.2f s", self._saved.path, time.monotonic() - started)

    def refresh(self, force: bool = False) -> None:
        """Apply the documents written since the last refresh to every built view.

        Without `force` this looks at most once every CHECK_EVERY_S and never waits for another
        thread's refresh; with it (after this process wrote), it waits and looks now.
        """
        now = time.monotonic()
        if not force and now - self._checked_at < CHECK_EVERY_S:
            return
        if not self._lock.acquire(blocking=force):
            return
        try:
            self._checked_at = time.monotonic()
            self._apply(self._store.changes(self._cursor))
            self._failures = 0
        except Exception as exc:  # noqa: BLE001 - whatever Chroma raised, the questions go on
            # The index could not be read (a server gone, a folder made unreadable): questions go
            # on with what was read before, and the next look tries again from the same place.
            # The first failure of a run is logged with its traceback, in case it is a bug.
            self._failures += 1
            logger.warning(
                "could not take in the index's latest writes (%s: %s)%s",
                type(exc).__name__,
                first_line(exc),
                f"; {self._failures} looks in a row" if self._failures > 1 else "",
                exc_info=self._failures == 1,
            )
        finally:
            self._lock.release()

    def _apply(self, changes: Changes) -> None:
        """Bring every built view up to `changes` (and the pending documents no write hides any
        more), then move the cursor on. Under the lock."""
        hidden = self._store.log.hidden()
        again = {d for d in self._pending if d not in hidden}
        started = time.monotonic()
        if changes.everything:
            for view in self._built:
                view.rebuild()
            self._pending = set(hidden)
            self._unsaved = SAVE_AFTER  # the file is as far behind as can be
            release_memory()
        else:
            docs = frozenset(changes.docs | again)
            if docs:
                for view in self._built:
                    view.update(docs)
            self._pending = (self._pending - again) | (changes.docs & hidden)
            self._unsaved += len(docs)
        if changes or again:
            logger.info(
                "views updated for %s in %.2f s",
                "every document" if changes.everything else f"{len(changes.docs | again)} document(s)",
                time.monotonic() - started,
            )
        self._cursor = changes.cursor
        if (changes or again) and self._unsaved >= SAVE_AFTER:
            self._save()


def release_memory() -> None:
    """Hand the memory a build freed back to the system. A build reads every record from Chroma;
    the C heap keeps what was freed (at 100k chunks, 600 MB beyond the built index), which
    glibc's malloc_trim returns. Elsewhere (another C library) nothing is done."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass
