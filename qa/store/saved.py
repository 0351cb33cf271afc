"""What a process derived from a folder index (its BM25 index and groups: qa.store.views), kept in
the folder, so that the next process to open the index reads it back instead of building it
from every record (20 to 40 s at 100,000 chunks), then takes in the writes since from the journal.

One file per index key, `qa-views-<key>.npz`: numpy arrays only (strings as JSON bytes), read
with allow_pickle off, so a file in the folder can never run code. It records the index it was
made from (the index id of the state record, made by its first write) and the journal number it
is current to; a file of another index, from a later number than the index has (a folder put
back from a backup), of another format, or unreadable, is ignored and the views are built anew.
A file is written whole under another name and renamed, so processes sharing the folder read a
whole file or none; the last one written wins.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .journal import Cursor

if TYPE_CHECKING:
    import numpy as np

    from .writelog import State

logger = logging.getLogger(__name__)

FORMAT = 1  # bumped when what a file holds changes: older files are then ignored


class SavedViews:
    """The views' file of one folder index (see the module docstring)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self, state: State) -> tuple[Cursor, dict[str, dict[str, np.ndarray]]] | None:
        """(the journal cursor the file is current to, view name -> its arrays), or None when there
        is no usable file for the index as `state` describes it."""
        import numpy as np

        if not self.path.is_file():
            return None
        try:
            with np.load(self.path, allow_pickle=False) as got:
                arrays = {name: got[name] for name in got.files}
            meta = json.loads(arrays.pop("meta").tobytes().decode("utf-8"))
        except Exception as exc:  # noqa: BLE001 - a damaged or foreign file: built anew
            logger.warning("ignored %s: %s: %s", self.path, type(exc).__name__, exc)
            return None
        if meta.get("format") != FORMAT or not state.index_id or meta.get("index_id") != state.index_id:
            return None
        if int(meta.get("seq", -1)) > state.seq or int(meta.get("seq", -1)) < 0:
            return None  # newer than the index: the folder was put back from an older copy
        views: dict[str, dict[str, np.ndarray]] = {}
        for name, array in arrays.items():
            view, _, key = name.partition(".")
            views.setdefault(view, {})[key] = array
        return Cursor(int(meta["seq"]), frozenset(meta.get("applied", []))), views

    def save(self, state: State, cursor: Cursor, views: Mapping[str, Mapping[str, Any]]) -> bool:
        """Write the views' arrays as current to `cursor`; returns whether it was written (a
        read-only folder is no error: the next process builds its views itself)."""
        import numpy as np

        if not state.index_id:  # an index no write has touched since index ids came in: nothing to tie the file to
            return False
        meta = {"format": FORMAT, "index_id": state.index_id, "seq": cursor.seq, "applied": sorted(cursor.applied)}
        arrays = {"meta": np.frombuffer(json.dumps(meta).encode("utf-8"), dtype=np.uint8)}
        for view, named in views.items():
            arrays.update({f"{view}.{key}": array for key, array in named.items()})
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
