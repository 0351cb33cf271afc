"""Reading report files (txt, md, html) and collections (csv, jsonl) into Documents.

Metadata comes from YAML front matter (`---` lines at the top of a .txt or .md file), from a
sidecar file `NAME.meta.yaml` beside the report, or from an HTML page's head; what is missing
falls back to the first heading (title) and the file name. A collection holds one report per
row, its columns found by common names (`COLUMN_NAMES`) or named by the caller.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import logging
import os
import re
from collections.abc import Iterator, Mapping
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from .errors import DocumentError
from .types import Document

logger = logging.getLogger(__name__)

TEXT_SUFFIXES = {".txt", ".text", ".md", ".markdown"}
HTML_SUFFIXES = {".html", ".htm"}
COLLECTION_SUFFIXES = {".csv", ".jsonl", ".ndjson"}
SUPPORTED_SUFFIXES = TEXT_SUFFIXES | HTML_SUFFIXES | COLLECTION_SUFFIXES
#: Column names recognised in a collection (case ignored), by the field they fill; first found wins.
COLUMN_NAMES = {
    "text": ("text", "content", "body", "article_content", "article_text", "article", "story", "full_text"),
    "title": ("title", "headline", "article_title", "heading", "name"),
    "source": ("outlet", "source", "publisher", "site", "newspaper", "media", "publication"),
    "date": ("date", "published", "publication_date", "published_at", "pubdate", "datetime", "timestamp"),
    "place": ("place", "location", "city", "region", "area", "country"),
    # Only a column plainly called an id: a data set's own keys are not always unique.
    "doc_id": ("id", "doc_id"),
}
# Files in a folder that describe the folder rather than being reports.
_NOT_REPORTS = re.compile(r"^(readme|license|licence|changelog)(\..*)?$", re.IGNORECASE)
_FRONT_MATTER = re.compile(r"\A---[ \t]*\r?\n(.*?)\r?\n---[ \t]*(?:\r?\n|\Z)", re.DOTALL)
_MAGIC = {
    b"\x89PNG": "a PNG image",
    b"\xff\xd8\xff": "a JPEG image",
    b"GIF8": "a GIF image",
    b"%PDF": "a PDF (not supported yet)",
    b"PK\x03\x04": "a zip archive (or docx/xlsx)",
}
# Keys accepted in front matter / sidecars, and the Document field each one fills.
_META_KEYS = {
    "id": "doc_id",
    "doc_id": "doc_id",
    "title": "title",
    "source": "source",
    "outlet": "source",
    "publisher": "source",
    "date": "date",
    "published": "date",
    "place": "place",
    "location": "place",
}


def collect_files(paths: list[str | Path]) -> tuple[list[Path], list[tuple[str, str]]]:
    """Expand files and folders into the report files to read, in a stable order.

    Returns:
        (files, problems): problems are (path, reason) for paths that do not exist or are
        not a supported type when named directly.
    """
    files: list[Path] = []
    problems: list[tuple[str, str]] = []
    for raw in paths:
        path = Path(raw).expanduser()
        if path.is_dir():
            for root, dirs, names in os.walk(path):  # does not follow links: no loops
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                for name in sorted(names):
                    candidate = Path(root) / name
                    if (
                        not name.startswith(".")
                        and candidate.suffix.lower() in SUPPORTED_SUFFIXES
                        and not _NOT_REPORTS.match(name)
                        and not name.endswith(".meta.yaml")
                    ):
                        files.append(candidate)
        elif path.is_file():
            if path.suffix.lower() in SUPPORTED_SUFFIXES:
                files.append(path)
            else:
                supported = ", ".join(sorted(SUPPORTED_SUFFIXES))
                problems.append((str(raw), f"unsupported file type {path.suffix or '(none)'!r}; supported: {supported}"))
        else:
            problems.append((str(raw), "no such file or folder"))
    return files, problems


def load_document(path: Path, max_bytes: int) -> Document:
    """Read one report file into a Document.

    Raises:
        DocumentError: the file cannot be read, is empty, binary, too large or not text.
    """
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise DocumentError(f"{path}: {size:,} bytes is over the limit of {max_bytes:,} (setting max_file_bytes)")
        raw = path.read_bytes()
    except OSError as exc:
        raise DocumentError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    text = decode_text(raw, str(path))
    meta: dict[str, Any] = {}
    if path.suffix.lower() in HTML_SUFFIXES:
        text, meta = html_to_text(text)
    else:
        text, meta = split_front_matter(text, str(path))
    meta = {**meta, **read_sidecar(path)}
    return make_document(text, meta, path=str(path))


def make_document(text: str, meta: dict[str, Any], path: str = "") -> Document:
    """Build a Document from text and metadata, with a content-hash id unless one is declared."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if not text.strip():
        raise DocumentError(f"{path or 'document'}: no text to ingest (the file is empty)")
    fields: dict[str, str] = {}
    for key, value in meta.items():
        target = _META_KEYS.get(str(key).lower())
        if target and value not in (None, "") and target not in fields:
            fields[target] = str(value).strip()
    content_hash = hashlib.sha256(text.encode("utf-8")).hexdigest()
    doc_id = fields.pop("doc_id", "") or content_hash[:16]
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}", doc_id):
        raise DocumentError(f"{path}: declared id {doc_id!r} must be letters, digits, '.', '_' or '-'")
    return Document(
        doc_id=doc_id,
        text=text,
        title=fields.get("title") or _first_line(text) or Path(path).stem or doc_id,
        source=fields.get("source", ""),
        date=normalize_date(fields.get("date", "")),
        place=fields.get("place", ""),
        path=path,
        content_hash=content_hash,
    )


def decode_text(raw: bytes, name: str) -> str:
    """Decode bytes as UTF-8 (with or without BOM), else Windows-1252, refusing binary data."""
    for magic, what in _MAGIC.items():
        if raw.startswith(magic):
            raise DocumentError(f"{name}: this is {what}, not a text report")
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return raw.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise DocumentError(f"{name}: not valid UTF-16 text") from exc
    if b"\x00" in raw[:65536]:
        raise DocumentError(f"{name}: binary data (NUL bytes), not a text report")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        # Windows-1252 is a superset of latin-1's printable range and what most legacy
        # Western text really is; it leaves five bytes undefined.
        return raw.decode("cp1252")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def split_front_matter(text: str, name: str) -> tuple[str, dict[str, Any]]:
    """Split YAML front matter off the top of a text; returns (body, metadata)."""
    match = _FRONT_MATTER.match(text)
    if not match:
        return text, {}
    import yaml

    try:
        meta = yaml.safe_load(match.group(1)) or {}
    except yaml.YAMLError as exc:
        raise DocumentError(f"{name}: front matter is not valid YAML: {exc}".splitlines()[0]) from exc
    if not isinstance(meta, dict):
        raise DocumentError(f"{name}: front matter must be key: value lines")
    return text[match.end() :].lstrip("\r\n"), meta


def read_sidecar(path: Path) -> dict[str, Any]:
    """Metadata declared next to a report in `NAME.meta.yaml` (NAME without the suffix)."""
    sidecar = path.with_name(path.stem + ".meta.yaml")
    if not sidecar.is_file():
        return {}
    import yaml

    try:
        meta = yaml.safe_load(sidecar.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError, UnicodeDecodeError) as exc:
        raise DocumentError(f"{sidecar}: cannot read metadata: {exc}".splitlines()[0]) from exc
    if not isinstance(meta, dict):
        raise DocumentError(f"{sidecar}: metadata must be key: value lines")
    return meta


def normalize_date(value: str) -> str:
    """ISO `YYYY-MM-DD` for the common ways of writing a date; anything else is kept as given."""
    value = str(value).strip()
    if not value:
        return ""
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}.*", value):
        return value[:10]
    for fmt in ("%m/%d/%Y", "%d %B %Y", "%B %d, %Y", "%b %d, %Y", "%d %b %Y", "%Y/%m/%d", "%B %d %Y"):
        try:
            return dt.datetime.strptime(value, fmt).date().isoformat()
        except ValueError:
            continue
    return value


def html_to_text(html: str) -> tuple[str, dict[str, Any]]:
    """Visible text of an HTML page, paragraphs separated by blank lines, plus its head metadata."""
    parser = _TextExtractor()
    parser.feed(html)
    parser.close()
    lines = [re.sub(r"[ \t\f\v]+", " ", line).strip() for line in "".join(parser.parts).split("\n")]
    text = re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip() + "\n"
    meta = {k: v for k, v in parser.meta.items() if v}
    return text, meta


def iter_documents(
    files: list[Path], max_bytes: int, columns: Mapping[str, str] | None = None
) -> Iterator[tuple[str, Document | DocumentError]]:
    """Load each file (each row of a collection), yielding (label, Document or the error that
    stopped it). The label is the file's path, or "path, row N" for a row of a collection."""
    for path in files:
        if path.suffix.lower() in COLLECTION_SUFFIXES:
            yield from read_collection(path, max_bytes, columns)
            continue
        try:
            yield str(path), load_document(path, max_bytes)
        except DocumentError as exc:
            logger.warning("skipping %s", exc)
            yield str(path), exc


def count_items(files: list[Path]) -> int:
    """How many documents `iter_documents` will yield at most: files, plus rows of collections."""
    total = 0
    for path in files:
        if path.suffix.lower() not in COLLECTION_SUFFIXES:
            total += 1
            continue
        try:
            with _open_text(path) as handle:
                rows = csv.reader(handle) if path.suffix.lower() == ".csv" else (line for line in handle if line.strip())
                total += max(0, sum(1 for _ in rows) - (path.suffix.lower() == ".csv"))
        except (OSError, UnicodeDecodeError, csv.Error, DocumentError):
            total += 1
    return total


def read_collection(
    path: Path, max_bytes: int, columns: Mapping[str, str] | None = None
) -> Iterator[tuple[str, Document | DocumentError]]:
    """Each row of a CSV or JSON Lines file as a Document, read as a stream.

    Columns are found by `COLUMN_NAMES` unless `columns` names them (field -> column, fields
    text, title, source, date, place, doc_id). A bad row yields its error, numbered, and the
    reading goes on; a file without a text column yields one error.
    """
    # Characters never outnumber UTF-8 bytes: a longer field is over the limit in any case.
    csv.field_size_limit(max_bytes + 1)
    try:
        with _open_text(path) as handle:
            if path.suffix.lower() == ".csv":
                rows = _csv_rows(handle, max_bytes)
            else:
                rows = _jsonl_rows(handle)
            mapping: dict[str, str] | None = None
            for number, row in rows:
                label = f"{path}, row {number}"
                if isinstance(row, DocumentError):
                    yield label, DocumentError(f"{label}: {row}")
                    continue
                if mapping is None:
                    mapping = _find_columns(path, list(row), columns)
                try:
                    yield label, _row_document(row, mapping, label, max_bytes, path)
                except DocumentError as exc:
                    yield label, exc
    except DocumentError as exc:
        yield str(path), exc
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        yield str(path), DocumentError(f"{path}: cannot read the collection: {exc}".splitlines()[0])


def _open_text(path: Path) -> io.TextIOWrapper:
    """A collection opened as text: UTF-8 (with or without BOM) unless its start says cp1252."""
    with path.open("rb") as probe:
        head = probe.read(1 << 20)
    for magic, what in _MAGIC.items():
        if head.startswith(magic):
            raise DocumentError(f"{path}: this is {what}, not a collection of reports")
    try:
        head.decode("utf-8-sig")
        encoding = "utf-8-sig"
    except UnicodeDecodeError as exc:
        # A cut in the middle of a character at the 1 MB mark is still UTF-8.
        encoding = "utf-8-sig" if exc.start >= len(head) - 3 else "cp1252"
    return path.open("r", encoding=encoding, newline="")


def _csv_rows(handle: io.TextIOWrapper, max_bytes: int) -> Iterator[tuple[int, dict[str, Any] | DocumentError]]:
    reader = csv.reader(handle)
    header = next(reader, None)
    if not header:
        raise DocumentError(f"{handle.name}: empty collection (no header row)")
    header = [h.strip() for h in header]
    number = 0
    while True:
        number += 1
        try:
            values = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            if "field larger than field limit" in str(exc):
                message = f"a field is over the limit of {max_bytes:,} bytes (setting max_file_bytes)"
            else:
                message = f"malformed CSV (line {reader.line_num}): {exc}"
            yield number, DocumentError(message)
            continue
        if not any(v.strip() for v in values):
            continue
        if len(values) != len(header):
            yield number, DocumentError(
                f"has {len(values)} fields, the header has {len(header)} (line {reader.line_num})"
            )
            continue
        yield number, dict(zip(header, values))


def _jsonl_rows(handle: io.TextIOWrapper) -> Iterator[tuple[int, dict[str, Any] | DocumentError]]:
    for number, line in enumerate(handle, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError as exc:
            yield number, DocumentError(f"not valid JSON: {exc}")
            continue
        if not isinstance(row, dict):
            yield number, DocumentError("not a JSON object")
            continue
        yield number, row


def _find_columns(path: Path, names: list[str], given: Mapping[str, str] | None) -> dict[str, str]:
    by_lower = {n.lower(): n for n in names}
    mapping: dict[str, str] = {}
    for field, column in (given or {}).items():
        if field not in COLUMN_NAMES:
            raise DocumentError(f"{path}: unknown field {field!r}; fields are {', '.join(COLUMN_NAMES)}")
        if column.lower() not in by_lower:
            raise DocumentError(f"{path}: no column {column!r} (columns: {', '.join(names)})")
        mapping[field] = by_lower[column.lower()]
    for field, candidates in COLUMN_NAMES.items():
        if field not in mapping:
            found = next((by_lower[c] for c in candidates if c in by_lower and by_lower[c] not in mapping.values()), None)
            if found:
                mapping[field] = found
    if "text" not in mapping:
        raise DocumentError(
            f"{path}: no text column (looked for {', '.join(COLUMN_NAMES['text'])}); "
            f"name it with --text-column (columns: {', '.join(names)})"
        )
    return mapping


def _row_document(row: dict[str, Any], mapping: dict[str, str], label: str, max_bytes: int, path: Path) -> Document:
    text = row.get(mapping["text"])
    if not isinstance(text, str) or not text.strip():
        raise DocumentError(f"{label}: no text in column {mapping['text']!r}")
    if len(text.encode("utf-8")) > max_bytes:
        raise DocumentError(f"{label}: the text is over the limit of {max_bytes:,} bytes (setting max_file_bytes)")
    meta = {field: row.get(column) for field, column in mapping.items() if field != "text"}
    meta = {k: v for k, v in meta.items() if v not in (None, "") and not isinstance(v, (dict, list))}
    if "doc_id" in meta:
        meta["doc_id"] = str(meta["doc_id"]).strip()
    where = meta.get("doc_id") or label.rsplit("row ", 1)[-1]
    return make_document(text, meta, path=f"{path}#{where}")


def _first_line(text: str) -> str:
    for line in text.splitlines():
        line = line.strip().lstrip("#").strip()
        if line:
            return line[:200]
    return ""


class _TextExtractor(HTMLParser):
    _SKIP = {"script", "style", "noscript", "template", "svg", "iframe", "object"}
    _BLOCK = {
        "p", "div", "section", "article", "header", "footer", "aside", "main", "nav", "li", "ul", "ol",
        "h1", "h2", "h3", "h4", "h5", "h6", "table", "tr", "blockquote", "figure", "figcaption",
        "pre", "dl", "dt", "dd", "hr", "form", "address",
    }  # fmt: skip

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.meta: dict[str, str] = {}
        self._skip_depth = 0
        self._in_title = False
        self._title: list[str] = []
        self._h1: list[str] = []
        self._in_h1 = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attr = {k.lower(): (v or "") for k, v in attrs}
        if tag == "title":
            self._in_title = True
        elif tag == "meta":
            key = (attr.get("property") or attr.get("name") or "").lower()
            content = attr.get("content", "").strip()
            mapping = {
                "og:title": "title",
                "og:site_name": "source",
                "article:published_time": "date",
                "date": "date",
                "dc.date": "date",
                "article:section": "",
            }
            field = mapping.get(key)
            if field and content and field not in self.meta:
                self.meta[field] = content
        elif tag == "time" and attr.get("datetime") and "date" not in self.meta:
            self.meta["date"] = attr["datetime"]
        if tag in self._SKIP:
            self._skip_depth += 1
        if tag == "br":
            self.parts.append("\n")
        elif tag in self._BLOCK:
            self.parts.append("\n\n")
        if tag == "h1":
            self._in_h1 = True

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False
            if "title" not in self.meta and "".join(self._title).strip():
                self.meta.setdefault("title", " ".join("".join(self._title).split()))
        if tag in self._SKIP and self._skip_depth:
            self._skip_depth -= 1
        if tag in self._BLOCK:
            self.parts.append("\n\n")
        if tag == "h1" and self._in_h1:
            self._in_h1 = False
            if "title" not in self.meta and "".join(self._h1).strip():
                self.meta["title"] = " ".join("".join(self._h1).split())

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self._title.append(data)
            return
        if self._skip_depth:
            return
        if self._in_h1:
            self._h1.append(data)
        # Inside running HTML text, newlines are just spaces.
        self.parts.append(re.sub(r"\s+", " ", data))
