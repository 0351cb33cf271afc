"""Example questions for the reports actually loaded: the bundled report's own (written for it),
and for other reports a few made from their sentences, each kept only when the assistant answers
it from that report.

A made question asks for a casualty count the report gives ("How many civilians were killed in
Douma?", from "... killing at least 82 civilians in Douma ...") or, failing that, what happened
in the report's place on its date.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from .chunking import split_sentences
from .errors import QAError

if TYPE_CHECKING:
    from .assistant import Assistant
    from .types import Document

_DAYS_AND_MONTHS = (
    "Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday|January|February|March|April|May|June|July|August|"
    "September|October|November|December"
)
# Sentences longer than this are not read for questions (a casualty count is said in fewer words;
# and a bound keeps the patterns' work small whatever a report holds).
MAX_SENTENCE_CHARS = 400
_COUNT = r"(?:at least |more than |over |some |about |nearly |around )?(?:\d[\d,]*|two|three|four|five|six|seven|eight|nine|ten|dozens|hundreds|thousands)"
_NOUN = r"(?P<noun>civilians|people|children|soldiers|fighters|rebels|militants|residents|troops|members|women)"
_ACTING = r"(?P<act>(?i:kill(?:ed|ing)|wound(?:ed|ing)|injur(?:ed|ing)))"
_DONE = r"(?P<act>killed|wounded|injured|displaced|arrested)"
# A place: capitalised words, with the particles of Arabic names ("Maarat al Numan", "Deir ez-Zor"),
# not a weekday or month after it ("in Aleppo Monday").
_NAME = rf"(?!(?:{_DAYS_AND_MONTHS})\b)[A-Z][\w]*(?:-[\w]+)*"
_PLACE = rf"(?:in|near)\s+(?P<place>(?:al-|el-)?{_NAME}(?:\s+(?:(?:al|el|ad|ez|an|ar|ash)[\s-])?{_NAME}){{0,3}})"
# "killing at least 82 civilians in Douma", "16 civilians were killed in Maarat al Numan", "a
# market in Douma on Sunday, killing at least 82 people".
_CASUALTIES = (
    re.compile(rf"\b{_ACTING}\s+{_COUNT}\s+{_NOUN}\b[^.;]*?\b{_PLACE}"),
    re.compile(rf"\b{_COUNT}\s+{_NOUN}\s+(?:were|have been|had been|was)\s+{_DONE}\b[^.;]*?\b{_PLACE}"),
    re.compile(rf"\b{_PLACE}\b[^.;]*?\b{_ACTING}\s+{_COUNT}\s+{_NOUN}\b"),
)


# Made questions asked of each report at most (the first that is answered is offered).
_TRIES = 3


def example_questions(assistant: "Assistant", bundled: list[str], bundled_dir: Path, limit: int = 4) -> list[str]:
    """Up to `limit` questions about the loaded reports: one made question for each of the newest
    other reports that the assistant answers from that report, then the bundled report's
    `bundled` questions when it is loaded (at least two of them when there are)."""
    documents = assistant.documents()
    ours = _bundled_ids(bundled_dir)
    shipped = bundled if any(d.doc_id in ours for d in documents) else []
    room = limit - min(2, len(shipped))
    made: list[str] = []
    others = sorted((d for d in documents if d.doc_id not in ours), key=lambda d: (d.date, d.title), reverse=True)
    for listed in others[: 2 * limit]:
        if len(made) >= room:
            break
        document = assistant.document(listed.doc_id)  # the list holds no text
        for question in list(dict.fromkeys(questions_from(document)))[:_TRIES]:
            try:
                answer = assistant.ask(question)
            except QAError:  # (a question too long for the settings, say): not offered
                continue
            if not answer.abstained and answer.citations and answer.citations[0].doc_id == document.doc_id:
                made.append(question)
                break
    return list(dict.fromkeys(made + shipped))[:limit]


def questions_from(document: "Document") -> Iterator[str]:
    """Questions a report's sentences answer, best kinds first."""
    text = document.text
    for sentence in split_sentences(text):
        words = text[sentence.start : sentence.end]
        if len(words) > MAX_SENTENCE_CHARS:
            continue
        for pattern in _CASUALTIES:
            found = pattern.search(words)
            if found:
                act = found.group("act").lower()
                done = act[:-3] + "ed" if act.endswith("ing") else act  # killing -> killed
                yield f"How many {found.group('noun')} were {done} in {found.group('place')}?"
    place = document.place.split(",")[0].strip()
    if place:
        yield f"What happened in {place[:1].upper()}{place[1:]}?"


def _bundled_ids(folder: Path) -> set[str]:
    """The ids of the bundled reports: the first 16 hex digits of their bytes' SHA-256, as an
    ingest gives a file without a declared id."""
    return {hashlib.sha256(p.read_bytes()).hexdigest()[:16] for p in folder.glob("*.txt")}
