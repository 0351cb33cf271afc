"""Where each report was found, so that re-ingesting never loses one (see the README, "Which
report is which").

A report is its content: a file's id is the hash of its text, a row's the hash of its text and
fields, unless an id is declared. Each stored report keeps its *locations*: the files it is in
(absolute paths), the collections it is a row of (the collection's path), or the upload name it
came as (`upload:NAME`). Ingesting a file, folder or collection tells exactly what each location
holds now; `reconcile` works out from that which locations each report has afterwards. A report
that no location holds any more is *missing*: it is kept and listed, and removed only when the
ingest is asked to prune. A report still held by any location is never removed.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

UPLOAD = "upload:"


def location_of(path: str | os.PathLike[str]) -> str:
    """The location key of a file or collection: its absolute path (links not followed, so a
    link and its target are two locations, as they are two names a user gave)."""
    return os.path.abspath(os.path.expanduser(os.fspath(path)))


def scopes_of(locations: Iterable[str]) -> list[str]:
    """What an ingest of a path covers each location by: the location itself and every folder
    above it (a folder given to `qa ingest` covers every location under it)."""
    scopes: dict[str, None] = {}
    for location in locations:
        scopes[location] = None
        if not os.path.isabs(location):
            continue  # upload:NAME, squad:Title: only ever covered by themselves
        parent = os.path.dirname(location)
        while parent and parent not in scopes:
            scopes[parent] = None
            above = os.path.dirname(parent)
            if above == parent:
                break
            parent = above
    return list(scopes)


def legacy_locations(path: str) -> list[str]:
    """The locations of a report stored before locations were: from the path it recorded (a
    file, or "collection#row"), taken relative to the current folder as it was then."""
    if not path:
        return []
    where = path.split("#", 1)[0]
    if where.startswith(UPLOAD) or ":" in where.split(os.sep, 1)[0]:
        return [where]  # upload:NAME, squad:Title: not files
    return [location_of(where)]


def _under(location: str, folder: str) -> bool:
    return location == folder or location.startswith(folder.rstrip(os.sep) + os.sep)


@dataclass
class Survey:
    """What one ingest saw: the locations it read (and the reports each now holds), the ones it
    could not read (at or under them, whatever is stored stays as it was), and the scopes it was
    given (folders and files)."""

    seen: dict[str, set[str]] = field(default_factory=dict)  # location -> doc ids it holds now
    read: set[str] = field(default_factory=set)  # files and collections read whole (not uploads)
    unreadable: set[str] = field(default_factory=set)
    scopes: set[str] = field(default_factory=set)
    exists: Callable[[str], bool] = os.path.lexists

    def saw(self, location: str, doc_id: str) -> None:
        self.seen.setdefault(location, set()).add(doc_id)

    def covers(self, location: str) -> bool:
        """Whether this ingest says what `location` holds now: it read it whole, or it was under
        a folder or file the ingest was given and is gone (moved or deleted). A location that
        is still there but was not read (a hidden file, a README, a link to a folder: what the
        walk of a folder skips), or is at or under one that could not be read, is not judged."""
        if any(_under(location, bad) for bad in self.unreadable):
            return False
        if location in self.read:
            return True
        return any(_under(location, scope) for scope in self.scopes) and not self.exists(location)


def reconcile(before: Mapping[str, list[str]], survey: Survey) -> tuple[dict[str, list[str]], list[str]]:
    """The locations of every report after an ingest, and the reports no location holds.

    Args:
        before: doc id -> locations as stored, for every report the survey's locations or scopes
            may concern (the reports it saw, and those stored under its scopes).

    Returns:
        (after, missing): after holds only the reports whose set of locations changes (old order
        kept, new ones after); missing lists the reports of `before` that now have none, in id
        order.
    """
    holders: dict[str, set[str]] = {}
    for location, ids in survey.seen.items():
        for doc_id in ids:
            holders.setdefault(doc_id, set()).add(location)
    after: dict[str, list[str]] = {}
    missing: list[str] = []
    for doc_id in sorted(set(before) | set(holders)):
        old = list(before.get(doc_id, []))
        held = holders.get(doc_id, set())
        kept = [loc for loc in old if loc in held or not survey.covers(loc)]
        new = kept + sorted(held - set(kept))
        if set(new) != set(old):
            after[doc_id] = new
        if not new and doc_id in before:
            missing.append(doc_id)
    return after, missing
