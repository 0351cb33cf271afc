"""Plain data that crosses module boundaries: documents, chunks, citations, answers, reports."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class Document:
    """A report as stored: its text (offsets point into it) and what is known about it."""

    doc_id: str
    text: str
    title: str
    source: str = ""  # the outlet
    date: str = ""  # ISO date (YYYY-MM-DD) where known
    place: str = ""
    path: str = ""  # the file it came from
    content_hash: str = ""
    chunks: int = 0

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


@dataclass
class Chunk:
    """A run of sentences, stored and retrieved as one unit. `chunk_id` is "{doc_id}:{index}"."""

    doc_id: str
    index: int
    start: int
    end: int
    text: str
    first_sentence: int  # index of its first sentence in the document
    sentences: list[Sentence] = field(default_factory=list)

    @property
    def chunk_id(self) -> str:
        return f"{self.doc_id}:{self.index}"


@dataclass
class Citation:
    """Where an answer came from: `document.text[start:end] == text`."""

    n: int
    doc_id: str
    title: str
    source: str
    date: str
    text: str
    start: int
    end: int
    score: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Passage:
    """A retrieved chunk, in rank order: what the answer was chosen from."""

    chunk_id: str
    doc_id: str
    text: str
    start: int
    end: int
    score: float


@dataclass
class Answer:
    """An answer with numbered citations, or an abstention (`abstained=True`, no citations)."""

    question: str
    text: str
    abstained: bool
    citations: list[Citation] = field(default_factory=list)
    short_answer: str = ""  # the answer span inside the first cited sentence, where one was found
    mode: str = "hybrid"
    timings_ms: dict[str, float] = field(default_factory=dict)
    # The retrieved chunks, best first (for evaluation and debugging; not part of to_dict()).
    passages: list[Passage] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "question": self.question,
            "answer": self.text,
            "abstained": self.abstained,
            "short_answer": self.short_answer,
            "mode": self.mode,
            "citations": [c.to_dict() for c in self.citations],
            "timings_ms": self.timings_ms,
        }


@dataclass
class IngestFailure:
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

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def summary(self) -> str:
        return (
            f"{len(self.added)} added, {len(self.replaced)} replaced, {len(self.unchanged)} unchanged, "
            f"{len(self.failed)} failed; {self.chunks} chunks written"
        )
