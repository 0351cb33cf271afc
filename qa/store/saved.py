"""What a process derived from a folder index (its BM25 index and groups: qa.store.views), kept in
the folder, so that the next process to open the index reads it back instead of building it
from every record (20 to 40 s at 100,000 chunks), then takes in the writes since from the journal.

One file per index key, `qa-views-<key>.npz`: numpy arrays only (strings as JSON bytes), read
with allow_pickle off, so a file in the folder can never run code. It records the index it was
made from (the index id of the state record, made by its first write), the journal number it is
current to with the ids of the last journal records it took in, the documents still pending, and
the versions of what reads texts into terms (bm25s, PyStemmer). It is ignored, and the views are
built anew, when any of these does not fit: another index; a number the index has not reached,
or records the journal does not hold under those numbers (a folder put back from a backup, its
file of a later moment beside it); other versions; another format; a damaged file. A file is
written whole under another name and renamed, so processes sharing the folder read a whole file
or none; the last one written wins.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .journal import Cursor, Journal

if TYPE_CHECKING:
    import numpy as np

    from .writelog import State

logger = logging.getLogger(__name__)

FORMAT = 1  # bumped when what a file holds changes: older files are then ignored


class SavedViews:
    """The views' file of one folder index (see the module docstring)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self, state: State, journal: Journal) -> tuple[Cursor, set[str], dict[str, dict[str, np.ndarray]]] | None:
        """(the journal cursor the file is current to, the documents pending then, view name ->
        its arrays), or None when there is no file that fits the index as `state` describes it."""
        import numpy as np

        if not self.path.is_file():
            return None
        try:
            with np.load(self.path, allow_pickle=False) as got:
                arrays = {name: got[name] for name in got.files}
            meta = json.loads(arrays.pop("meta").tobytes().decode("utf-8"))
            seq, last = int(meta["seq"]), str(meta["last_record"])
            cursor = Cursor(seq, frozenset(meta["applied"]), state.index_id)
            pending = set(meta["pending"])
            fits = (
                meta["format"] == FORMAT
                and meta["versions"] == versions()
                and bool(state.index_id)
                and meta["index_id"] == state.index_id
                and 0 <= seq <= state.seq
                # The newest record the file took in is the journal's own (unless trimmed since:
                # then the journal tells the reader to rebuild anyway).
                and (not last or int(last.split(":")[0]) < state.kept_from or journal.holds(last))
            )
        except Exception as exc:  # noqa: BLE001 - a damaged or foreign file: built anew
            logger.warning("ignored %s: %s: %s", self.path, type(exc).__name__, exc)
            return None
        if not fits:
            logger.info("did not read %s back: it was made for another index, moment or version", self.path)
            return None
        views: dict[str, dict[str, np.ndarray]] = {}
        for name, array in arrays.items():
            view, _, key = name.partition(".")
            views.setdefault(view, {})[key] = array
        return cursor, pending, views

    def save(
        self, state: State, journal: Journal, cursor: Cursor, pending: set[str], views: Mapping[str, Mapping[str, Any]]
    ) -> bool:
        """Write the views' arrays as current to `cursor`; returns whether it was written (a
        read-only folder is no error: the next process builds its views itself)."""
        import numpy as np

        if not state.index_id or cursor.seq is None:  # nothing to tie the file to
            return False
        meta = {
            "format": FORMAT,
            "versions": versions(),
            "index_id": state.index_id,
            "seq": cursor.seq,
            "applied": sorted(cursor.applied),
            "last_record": journal.newest_at(cursor.seq),
            "pending": sorted(pending),
        }
        arrays = {"meta": np.frombuffer(json.dumps(meta).encode("utf-8"), dtype=np.uint8)}
        for view, named in views.items():
            arrays.update({f"{view}.{key}": array for key, array in named.items()})
        self._sweep()
        partial = self.path.with_name(f"{self.path.name}.{os.getpid()}.{threading.get_ident()}.partial")
        try:
            with partial.open("wb") as out:
                np.savez(out, **arrays)
            os.replace(partial, self.path)
            return True
        except OSError as exc:
            logger.info("did not keep the views in %s: %s", self.path, exc)
            partial.unlink(missing_ok=True)
            return False

    def _sweep(self) -> None:
        """Remove what saves killed part-way left (a partial file an hour old is no save in progress)."""
        cutoff = time.time() - 3600
        for stale in self.path.parent.glob(f"{self.path.name}.*.partial"):
            try:
                if stale.stat().st_mtime < cutoff:
                    stale.unlink()
            except OSError:
                pass


def versions() -> dict[str, str]:
    """The versions of what turns texts into terms: a file made with others is not read back."""
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for name in ("bm25s", "PyStemmer"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = ""
    return out
