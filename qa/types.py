"""Plain data that crosses module boundaries: documents, chunks, citations, answers, reports."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from .errors import InputError
from .text import quantity

if TYPE_CHECKING:
    from .statements import Figure


@dataclass
class Document:
    """A report as stored: its text (offsets point into it) and what is known about it."""

    doc_id: str
    text: str
    title: str
    source: str = ""  # the outlet
    date: str = ""  # ISO date (YYYY-MM-DD) where known
    place: str = ""
    url: str = ""  # where it was published, where known
    path: str = ""  # the file (or "collection#row") it was last ingested from
    content_hash: str = ""
    chunks: int = 0
    # Where it is now (see qa.locations): files, collections, upload names; [] once no longer there.
    locations: list[str] = field(default_factory=list)
    # Its group of near-duplicates (see qa.groups): the group's id (its earliest member) and how many
    # reports the group holds (1: none other carries its story).
    group: str = ""
    group_size: int = 1

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def info(self) -> dict[str, Any]:
        """Everything but the text: what `qa docs` lists."""
        data = self.to_dict()
        del data["text"]
        return data


@dataclass
class Sentence:
    """A sentence (or heading or caption line) as a character span of its document."""

    start: int
    end: int
    kind: str = "text"  # text | heading | credit (see chunking.sentence_kind)


@dataclass
class Span:
    """A character span of one stored document: `document.text[start:end] == text`.

    The one span type that crosses module boundaries: a chunk, a retrieved hit, a candidate
    sentence, a passage and a citation are each a Span with what they add.
    """

    doc_id: str
    start: int
    end: int
    text: str


@dataclass
class Chunk(Span):
    """A run of sentences, stored and retrieved as one unit. `chunk_id` is "{doc_id}:{index}"."""

    index: int
    first_sentence: int  # index of its first sentence in the document
    sentences: list[Sentence] = field(default_factory=list)
    # The heading of the section its first sentence is in, with its text; None before any heading.
    section: Sentence | None = None
    section_text: str = ""

    @property
    def chunk_id(self) -> str:
        return f"{self.doc_id}:{self.index}"


def sentence_id(doc_id: str, index: int) -> str:
    """The id sentence `index` of a document is stored under, once, whatever chunks hold it."""
    return f"{doc_id}:s{index}"


_CITATION_ORDER = ("n", "doc_id", "title", "source", "date", "text", "start", "end", "score")


@dataclass
class Citation(Span):
    """Where an answer came from: `document.text[start:end] == text`."""

    n: int
    title: str
    source: str
    date: str
    score: float
    url: str = ""  # the report's address, where known
    # Who the passage says is the claim's source, as written ("said British-based war monitor,
    # Syrian Observatory for Human Rights (SOHR)") and shortly ("SOHR"); "" when it names none.
    attribution: str = ""
    attributed_to: str = ""
    # When its event happened, resolved against the report's date (see qa.eventdates): a day
    # "2019-08-28", a month "2019-04", a year "2017" or a range "2019-08-19/2019-08-25", and the
    # words it came from ("On Wednesday").
    event_date: str = ""
    event_date_words: str = ""
    # The outlets (or titles) of the other reports of its group: the same story carried elsewhere.
    also_carried_by: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        fields = asdict(self)
        return {name: fields.pop(name) for name in _CITATION_ORDER} | fields  # the order --json has always had


@dataclass
class Passage(Span):
    """A retrieved chunk, in rank order: what the answer was chosen from."""

    chunk_id: str
    score: float


@dataclass(frozen=True)
class Filters:
    """Which reports an answer may come from. Empty fields do not filter; values within a field
    are alternatives ("Reuters or SANA"), fields combine ("and").

    Outlets match whole names and places match whole words of a report's place ("Idlib" matches
    "Armanaz, Idlib province"), both ignoring case, spaces and hyphens (see `outlet_key`,
    `place_terms`). Dates are inclusive ISO days; a report without a known date is outside any
    date range unless `undated` lets it in.

    This is the one definition of what a filter keeps: `source_keys`, `place_keys`, `dated`,
    `day_range` and `undated`, matched against the fields `store.records.filter_fields` stores.
    `matches` reads them for one chunk; the Chroma clause (`store.records.where`) and the BM25
    mask (`lexical.Facets.mask`) translate the same properties for their engines, and
    tests/test_types.py checks that all three keep the same chunks.
    """

    sources: tuple[str, ...] = ()
    places: tuple[str, ...] = ()
    date_from: str = ""
    date_to: str = ""
    undated: bool = False  # with a date range: reports without a date are kept too

    @classmethod
    def build(
        cls,
        source: "str | list[str] | tuple[str, ...] | None" = None,
        place: "str | list[str] | tuple[str, ...] | None" = None,
        date_from: "str | dt.date | None" = None,
        date_to: "str | dt.date | None" = None,
        undated: bool | None = False,
    ) -> "Filters":
        """Filters from the API's keywords; dates may be YYYY, YYYY-MM, YYYY-MM-DD or a date.

        Raises:
            InputError: a date cannot be read, the range ends before it starts, or `undated` is
                not true or false.
        """
        start = _parse_day(date_from, "date_from", last=False)
        end = _parse_day(date_to, "date_to", last=True)
        if start and end and start > end:
            raise InputError(f"date_from {start} is after date_to {end}")
        if undated is not None and not isinstance(undated, bool):
            raise InputError(f"undated must be true or false, got {undated!r}")
        return cls(_values(source, "source"), _values(place, "place"), start, end, bool(undated) and bool(start or end))

    def parts(self) -> list["Filters"]:
        """Each filter on its own (the outlets, the places, the date range), to tell which one
        leaves no report."""
        parts = [Filters(sources=self.sources)] if self.sources else []
        parts += [Filters(places=self.places)] if self.places else []
        if self.dated:
            parts.append(Filters(date_from=self.date_from, date_to=self.date_to, undated=self.undated))
        return parts

    def __bool__(self) -> bool:
        return bool(self.sources or self.places or self.date_from or self.date_to)

    @property
    def source_keys(self) -> frozenset[str]:
        """The outlets as stored chunks' `source_key` has them."""
        return frozenset(outlet_key(s) for s in self.sources)

    @property
    def place_keys(self) -> frozenset[str]:
        """The places as stored chunks' `place_terms` has them."""
        return frozenset(place_key(p) for p in self.places)

    @property
    def dated(self) -> bool:
        """Whether a date range is set."""
        return bool(self.date_from or self.date_to)

    @property
    def day_range(self) -> tuple[int, int]:
        """The date range as YYYYMMDD numbers (what chunks store as `date_num`)."""
        return (day_number(self.date_from) or 1, day_number(self.date_to) or 99991231)

    def matches(self, meta: dict[str, Any]) -> bool:
        """Whether a chunk with this stored metadata is inside the filters."""
        if self.sources and meta.get("source_key") not in self.source_keys:
            return False
        if self.places and not set(meta.get("place_terms") or ()) & self.place_keys:
            return False
        if self.dated:
            low, high = self.day_range
            day = int(meta.get("date_num") or 0)
            return low <= day <= high or (self.undated and not day)
        return True

    def describe(self) -> str:
        """The filters in words, e.g. "outlet Reuters or SANA, place Idlib, from 2017-01-01"."""
        parts = []
        if self.sources:
            parts.append("outlet " + " or ".join(self.sources))
        if self.places:
            parts.append("place " + " or ".join(self.places))
        if self.date_from:
            parts.append(f"from {self.date_from}")
        if self.date_to:
            parts.append(f"to {self.date_to}")
        if self.undated:
            parts.append("or without a date")
        return ", ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": list(self.sources),
            "place": list(self.places),
            "date_from": self.date_from,
            "date_to": self.date_to,
            "undated": self.undated,
        }


def _values(value: "str | list[str] | tuple[str, ...] | None", name: str) -> tuple[str, ...]:
    if value is None:
        return ()
    items = list(value) if isinstance(value, (list, tuple, set)) else [value]
    if not all(isinstance(v, str) for v in items):
        raise InputError(f"{name} must be text or a list of texts, got {value!r}")
    # "Reuters, SANA" on a command line or in a form means either outlet.
    cleaned = [part.strip() for v in items for part in v.split(",") if part.strip()] if name == "source" else [
        v.strip() for v in items if v.strip()
    ]
    return tuple(dict.fromkeys(cleaned))


def _parse_day(value: "str | dt.date | None", name: str, last: bool) -> str:
    """An ISO day; a year or month stands for its first day (`last=False`) or its last."""
    if value is None or value == "":
        return ""
    if isinstance(value, dt.datetime):
        value = value.date()
    if isinstance(value, dt.date):
        return value.isoformat()
    from .dates import read_bound  # one reading of a day, for filters as for metadata

    text = str(value).strip()
    try:
        day = read_bound(text, last)
    except ValueError:
        raise InputError(f"{name} must be a date like 2017-04-05 (or 2017-04, or 2017), got {text!r}") from None
    return day.isoformat()


def day_number(iso_day: str) -> int:
    """20170405 for "2017-04-05"; 0 for anything that is not an ISO day (an unknown date)."""
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", iso_day or ""):
        return int(iso_day.replace("-", ""))
    return 0


def place_key(text: str) -> str:
    """A name reduced for matching: lower case, hyphens and apostrophes joined ("Deir ez-Zor" -> "deir ezzor")."""
    joined = re.sub(r"(?<=\w)[-'’](?=\w)", "", text.casefold())
    return " ".join(re.findall(r"\w+", joined))


def outlet_key(text: str) -> str:
    """An outlet name reduced for matching, spaces dropped too ("Al Araby" and "alaraby" agree)."""
    return place_key(text).replace(" ", "")


def place_parts(place: str) -> list[str]:
    """The parts of a place, as written ("Armanaz, Idlib province" -> "Armanaz", "Idlib province")."""
    return [part.strip() for part in re.split(r"[,;/|]", place) if part.strip()]


def place_terms(place: str) -> list[str]:
    """What a place filter can match: the whole place, each comma-separated part, and every run of
    up to three of its words ("Armanaz, Idlib province" -> armanaz, idlib, idlib province, ...)."""
    terms: dict[str, None] = {}
    for part in [place, *place_parts(place)]:
        words = place_key(part).split()
        terms[" ".join(words)] = None
        for n in (1, 2, 3):
            for i in range(len(words) - n + 1):
                terms[" ".join(words[i : i + n])] = None
    terms.pop("", None)
    return list(terms)


@dataclass
class Answer:
    """An answer with numbered citations, or an abstention (`abstained=True`, no citations)."""

    question: str
    text: str
    abstained: bool
    citations: list[Citation] = field(default_factory=list)
    short_answer: str = ""  # the answer span inside the first cited sentence, where one was found
    mode: str = "hybrid"
    filters: Filters = field(default_factory=Filters)
    timings_ms: dict[str, float] = field(default_factory=dict)
    # A follow-up ("And how many were injured?"): the question as searched, with the topic
    # (`follow_up_topic`) of the earlier question it was read against (`follow_up_of`); all ""
    # for a question on its own.
    asked_as: str = ""
    follow_up_of: str = ""
    follow_up_topic: str = ""
    # The retrieved chunks, best first (for evaluation and debugging; not part of to_dict()).
    passages: list[Passage] = field(default_factory=list)
    # A how-many answer: each retrieved report's figure for the same count (same who and what,
    # overlapping place and event date), one per story (see qa.figures); [] when fewer than two.
    figures: list[Figure] = field(default_factory=list)

    @property
    def figures_agree(self) -> bool:
        """Whether every listed figure has the same value ("3 reports, all: at least 16")."""
        return len({(f.claim.low, f.claim.high) for f in self.figures}) == 1
    # Comparing outlets (`Assistant.ask(by_source=True)`): the question answered again from each
    # outlet's reports alone, one Answer per outlet (its `outlet` set, its citations numbered from
    # 1); None when not asked for. An answer over every outlet has `outlet` "".
    outlet: str = ""
    by_source: "list[Answer] | None" = None

    @property
    def follow_up_note(self) -> str:
        """What `Assistant.ask` adds to a follow-up's text: which question it was read against."""
        return f' (Read as a follow-up to "{self.follow_up_of}".)' if self.follow_up_of else ""

    def to_dict(self) -> dict[str, Any]:
        data = {
            "question": self.question,
            "answer": self.text,
            "abstained": self.abstained,
            "short_answer": self.short_answer,
            "asked_as": self.asked_as,
            "follow_up_of": self.follow_up_of,
            "follow_up_topic": self.follow_up_topic,
            "mode": self.mode,
            "filters": self.filters.to_dict(),
            "citations": [c.to_dict() for c in self.citations],
            "timings_ms": self.timings_ms,
            "figures": [f.to_dict() for f in self.figures],
        }
        # Only where set, so an answer asked for as before has the JSON it always had.
        if self.outlet:
            data["outlet"] = self.outlet
        if self.by_source is not None:
            data["by_source"] = [a.to_dict() for a in self.by_source]
        return data


@dataclass
class IngestFailure:
    """A file or row that was not ingested: its path, and the one line saying where and why
    ("<file>: <problem>" or "<file>, row N: <problem>", as DocumentError gives it)."""

    path: str
    error: str


@dataclass
class IngestReport:
    """What an ingest did, file by file."""

    added: list[str] = field(default_factory=list)  # doc ids
    unchanged: list[str] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)
    failed: list[IngestFailure] = field(default_factory=list)
    chunks: int = 0  # chunks written
    duplicates: list[str] = field(default_factory=list)  # items (file, or "file, row N") repeating an earlier one
    # Reports the ingested files, folders and collections no longer hold: kept (missing), or
    # removed when the ingest was asked to prune.
    missing: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def summary(self) -> str:
        repeated = f", {len(self.duplicates)} repeated an earlier report" if self.duplicates else ""
        gone = ""
        if self.missing:
            gone = f", {len(self.missing)} no longer in the input (kept; ingest with --prune to remove)"
        elif self.removed:
            gone = f", {len(self.removed)} no longer in the input removed"
        return (
            f"{len(self.added)} added, {len(self.replaced)} replaced, {len(self.unchanged)} unchanged, "
            f"{len(self.failed)} failed{repeated}{gone}; {quantity(self.chunks, 'chunk')} written"
        )
