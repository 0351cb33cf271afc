"""Reading a collection (CSV or JSON Lines, one report per row) into Documents, as a stream.

A collection's columns are found by common names (`COLUMN_NAMES`) or named by the caller. Every
row is read with bounded memory; a bad row is reported by its number and the reading goes on.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from ..errors import DocumentError, item_label
from ..metadata import Limits
from ..types import Document
from .decoding import open_text
from .document import make_document

#: Column names recognised in a collection (case ignored), by the field they fill; first found wins.
COLUMN_NAMES = {
    "text": ("text", "content", "body", "article_content", "article_text", "article", "story", "full_text"),
    "title": ("title", "headline", "article_title", "heading", "name"),
    "source": ("outlet", "source", "publisher", "site", "newspaper", "media", "publication"),
    "date": ("date", "published", "publication_date", "published_at", "pubdate", "datetime", "timestamp"),
    "place": ("place", "location", "city", "region", "area", "country"),
    "url": ("url", "link", "article_url", "source_url"),
    # Only a column plainly called an id: a data set's own keys are not always unique.
    "doc_id": ("id", "doc_id"),
}


def read_collection(
    path: Path, limits: Limits, columns: Mapping[str, str] | None = None
) -> Iterator[tuple[str, Document | DocumentError]]:
    """Each row of a CSV or JSON Lines file as a Document, read as a stream.

    Columns are found by `COLUMN_NAMES` unless `columns` names them (field -> column, fields
    text, title, source, date, place, url, doc_id): a CSV file's once, from its header; a JSON
    Lines file's for each object, from its own keys (objects need not all have the same ones).
    A bad row (wrong field count, a quote never closed, no text, NUL bytes, over the size
    limits, not a JSON object, refused metadata) yields its error, numbered, and the reading
    goes on; a file that cannot be read at all, has no text column, or holds no rows, yields
    one error.
    """
    try:
        mapping: dict[str, str] | None = None
        per_row = path.suffix.lower() != ".csv"
        rows = 0
        for number, row in collection_rows(path, limits):
            rows += 1
            label = item_label(path, number)
            if isinstance(row, DocumentError):
                yield label, row
                continue
            try:
                if mapping is None or per_row:
                    mapping = _find_columns(path, list(row), columns, row=number if per_row else None)
                yield label, _row_document(row, mapping, path, number, limits)
            except DocumentError as exc:
                if not per_row and mapping is None:
                    raise  # the header has no text column: nothing in the file can be read
                yield label, exc
        if not rows:
            after_header = " (nothing after its header row)" if path.suffix.lower() == ".csv" else ""
            yield str(path), DocumentError(path, f"no reports in the collection{after_header}")
    except DocumentError as exc:
        yield str(path), exc
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        # An OSError's strerror, not its str(), which repeats the path (for an upload, a temporary one).
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
        yield str(path), DocumentError(path, f"cannot read the collection: {why}".splitlines()[0])


def collection_rows(path: Path, limits: Limits) -> Iterator[tuple[int, dict[str, Any] | DocumentError]]:
    if path.suffix.lower() == ".csv":
        return _csv_rows(path, limits)
    return _jsonl_rows(path, limits)


def _row_limit(limits: Limits) -> str:
    """Why a row of a collection is too long: the limit and the settings behind it."""
    settings = "max_file_bytes" if limits.row_chars == limits.file_bytes else "max_report_chars and max_field_chars"
    return f"the limit of {limits.row_chars:,} characters (setting {settings})"


class _RowTooLong(Exception):
    """A row went over the size limit; it has been read to its end and dropped."""


class _Unterminated(Exception):
    """A quoted field was still open at the end of the file."""


class _Lines:
    """A collection's physical lines, read with bounded memory and counted.

    A line is read only up to what is left of its row's `max_chars`; a row that would go over is
    read on to its end without being kept, and `_RowTooLong` is raised in its place. With
    `quote`, a row runs on over line breaks while a quoted field is open (an odd number of quote
    characters so far, as CSV's doubled quotes keep the count even).
    """

    def __init__(self, handle: io.TextIOWrapper, max_chars: int, quote: str = "") -> None:
        self.handle = handle
        self.max_chars = max_chars
        self.quote = quote
        self.line = 0  # physical lines read so far
        self.row_line = 1  # the line the current row starts on
        self.row_chars = 0
        self.row_quotes = 0
        self.line_open = False  # the last piece read stopped inside a line
        self.at_end = False

    def start_row(self) -> None:
        self.row_line, self.row_chars, self.row_quotes = self.line + 1, 0, 0

    @property
    def in_quotes(self) -> bool:
        return self.row_quotes % 2 == 1

    def __iter__(self) -> "_Lines":
        return self

    def __next__(self) -> str:
        piece = self.handle.readline(self.max_chars + 1 - self.row_chars)
        if not piece:
            self.at_end = True
            raise StopIteration
        self._count(piece)
        if self.row_chars > self.max_chars:
            self.skip_row()
            raise _RowTooLong
        return piece

    def _count(self, piece: str) -> None:
        self.row_chars += len(piece)
        if self.quote:
            self.row_quotes += piece.count(self.quote)
        self.line_open = not piece.endswith(("\n", "\r"))
        self.line += not self.line_open

    def skip_row(self) -> None:
        """Read on, keeping nothing, to the end of the current row. Raises _Unterminated at the
        end of the file inside a quoted field."""
        while self.line_open or self.in_quotes:
            piece = self.handle.readline(1 << 16)
            if not piece:
                self.at_end = True
                if self.in_quotes:
                    raise _Unterminated
                return
            self._count(piece)

    def skip_lines(self, count: int) -> None:
        while self.line < count and (piece := self.handle.readline(1 << 16)):
            self.line += piece.endswith(("\n", "\r"))


_REREADS = 20  # a file re-read this often after quotes that never close is not read further
_SNIFF_CHARS = 1 << 16  # of the header row, to tell its delimiter


def _csv_rows(path: Path, limits: Limits) -> Iterator[tuple[int, dict[str, Any] | DocumentError]]:
    """Rows of a CSV file as dicts (or the error of each bad row), numbered from 1 after the header.

    Parsed strictly, so a quote that never closes is an error rather than a field that silently
    swallows every row after it: that row is reported and the file is read again from the line
    after the one it started on.
    """
    # _Lines keeps every row within max_chars characters: csv's own field limit must not bite first.
    max_chars = limits.row_chars
    if csv.field_size_limit() < max_chars + 2:
        csv.field_size_limit(max_chars + 2)
    number, resume_at = 0, 0
    header: list[str] | None = None
    delimiter = _delimiter(path)
    for _ in range(_REREADS + 1):
        with open_text(path) as handle:
            lines = _Lines(handle, max_chars, quote='"')
            lines.skip_lines(resume_at)
            reader = csv.reader(lines, delimiter=delimiter, strict=True)
            if header is None:
                header = _csv_header(reader, lines, path, max_chars)
            while True:
                lines.start_row()
                number += 1
                try:
                    values = next(reader)
                except StopIteration:
                    return
                except _RowTooLong:
                    yield number, DocumentError(path, f"the row is over {_row_limit(limits)}", number)
                    continue
                except (csv.Error, _Unterminated) as exc:
                    unterminated = isinstance(exc, _Unterminated) or (lines.at_end and lines.in_quotes)
                    if not unterminated:
                        try:
                            lines.skip_row()  # the reader stopped inside the row: drop the rest of it
                        except _Unterminated:
                            unterminated = True
                    if unterminated:
                        yield number, DocumentError(
                            path,
                            f"a quote opened on line {lines.row_line} is never closed; "
                            f"the rows after it are read from line {lines.row_line + 1}",
                            number,
                        )
                        resume_at = lines.row_line
                        break
                    yield number, DocumentError(path, f"malformed CSV (line {lines.line}): {exc}", number)
                    continue
                if not any(v.strip() for v in values):
                    continue
                if len(values) != len(header):
                    yield number, DocumentError(
                        path, f"has {len(values)} fields, the header has {len(header)} (line {lines.line})", number
                    )
                    continue
                yield number, dict(zip(header, values))
    yield number + 1, DocumentError(
        path, f"{_REREADS} quotes were never closed; the file is not read after line {resume_at}", number + 1
    )


def _delimiter(path: Path) -> str:
    """The delimiter of a CSV file, as its header row shows it: a comma, a semicolon or a tab.

    Only the header is looked at (a text full of semicolons under a comma header is still read
    by commas); a header that shows none of them (a single column) is read by commas.
    """
    with open_text(path) as handle:
        header = handle.readline(_SNIFF_CHARS)
    try:
        return csv.Sniffer().sniff(header, delimiters=",;\t").delimiter
    except csv.Error:
        return ","


def _csv_header(reader: Iterator[list[str]], lines: _Lines, path: Path, max_chars: int) -> list[str]:
    lines.start_row()
    try:
        header = next(reader, None)
    except (csv.Error, _Unterminated) as exc:
        raise DocumentError(path, f"the header row is not valid CSV: {exc or 'a quote is never closed'}") from exc
    except _RowTooLong as exc:
        raise DocumentError(path, f"the header row is over the limit of {max_chars:,} characters") from exc
    if not header or not any(h.strip() for h in header):
        raise DocumentError(path, "empty collection (no header row)")
    names = [h.strip() for h in header]
    first: dict[str, int] = {}
    for i, name in enumerate(names, start=1):
        if name and name.lower() in first:
            raise DocumentError(
                path,
                f"the header names the column {name!r} twice (columns {first[name.lower()]} and {i}); "
                "rename one of them",
            )
        first.setdefault(name.lower(), i)
    return names


def _jsonl_rows(path: Path, limits: Limits) -> Iterator[tuple[int, dict[str, Any] | DocumentError]]:
    """Objects of a JSON Lines file (or the error of each bad line), numbered by line."""
    with open_text(path) as handle:
        lines = _Lines(handle, limits.row_chars)
        while True:
            lines.start_row()
            try:
                line = next(lines)
            except StopIteration:
                return
            except _RowTooLong:
                yield lines.row_line, DocumentError(path, f"the line is over {_row_limit(limits)}", lines.row_line)
                continue
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except RecursionError:
                yield lines.row_line, DocumentError(path, "not valid JSON: nested too deeply", lines.row_line)
                continue
            except ValueError as exc:
                yield lines.row_line, DocumentError(path, f"not valid JSON: {exc}", lines.row_line)
                continue
            if not isinstance(row, dict):
                yield lines.row_line, DocumentError(path, f"not a JSON object but {_json_kind(row)}", lines.row_line)
                continue
            yield lines.row_line, row


def _json_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, (int, float)):
        return "a number"
    return {list: "a list", dict: "an object", str: "a string", type(None): "null"}.get(type(value), type(value).__name__)


def _find_columns(
    path: Path, names: list[str], given: Mapping[str, str] | None, row: int | None = None
) -> dict[str, str]:
    """Which column (a CSV header's) or key (the JSON object's of `row`) holds each field.

    A named column must exist in a header; in an object only the text's must (a field the
    object lacks is empty for that row).
    """
    by_lower = {n.lower(): n for n in names}
    mapping: dict[str, str] = {}
    what = "column" if row is None else "key"
    for field, column in (given or {}).items():
        if field not in COLUMN_NAMES:
            fields = ", ".join(COLUMN_NAMES)
            raise DocumentError(path, f"unknown field {field!r}; fields are {fields}", row)
        if column.lower() in by_lower:
            mapping[field] = by_lower[column.lower()]
        elif row is None or field == "text":
            raise DocumentError(path, f"no {what} {column!r} ({what}s: {', '.join(names) or 'none'})", row)
    for field, candidates in COLUMN_NAMES.items():
        if field not in mapping:
            found = next((by_lower[c] for c in candidates if c in by_lower and by_lower[c] not in mapping.values()), None)
            if found:
                mapping[field] = found
    if "text" not in mapping:
        raise DocumentError(
            path,
            f"no text {what} (looked for {', '.join(COLUMN_NAMES['text'])}); "
            f"name it with --text-column ({what}s: {', '.join(names) or 'none'})",
            row,
        )
    return mapping


def _row_document(row: dict[str, Any], mapping: dict[str, str], path: Path, number: int, limits: Limits) -> Document:
    column = mapping["text"]
    text = row.get(column)
    if text is None or (isinstance(text, str) and not text.strip()):
        raise DocumentError(path, f"no text in column {column!r}", number)
    if not isinstance(text, str):
        raise DocumentError(path, f"column {column!r} holds {_json_kind(text)}, not text", number)
    for name in mapping.values():
        if isinstance(row.get(name), str) and "\x00" in row[name]:
            raise DocumentError(path, f"binary data (NUL bytes) in column {name!r}", number)
    meta = {field: row.get(column) for field, column in mapping.items() if field != "text"}
    if isinstance(meta.get("doc_id"), str):
        meta["doc_id"] = meta["doc_id"].strip()
    where = f"{path}#{meta.get('doc_id') or number}"
    return make_document(text, meta, path=where, id_covers_metadata=True, limits=limits, name=str(path), row=number)
