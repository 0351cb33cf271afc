"""Reading report files (txt, md, html) and collections (csv, jsonl) into Documents.

Metadata comes from YAML front matter (`---` lines at the top of a .txt or .md file), from a
sidecar file `NAME.meta.yaml` beside the report, or from an HTML page's head; what is missing
falls back to the first heading (title) and the file name. A collection holds one report per
row, its columns found by common names (`COLUMN_NAMES`) or named by the caller.

Text is decoded as UTF-8, UTF-16/32 (by their byte-order mark, or UTF-16 by its zero bytes), or
Windows-1252 (which reads latin-1 text right too); a stray legacy byte in a UTF-8 file is read as
Windows-1252 rather than turning the whole file into mojibake. Control characters and terminal
escape sequences are removed from the stored text; binary files and images are refused.
"""

from __future__ import annotations

import codecs
import csv
import errno
import hashlib
import io
import json
import logging
import os
import re
import stat
from collections.abc import Iterator, Mapping
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from .errors import DocumentError
from .metadata import Limits, load_yaml, read_fields
from .text import clean_text
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
    "url": ("url", "link", "article_url", "source_url"),
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
    b"\xd0\xcf\x11\xe0": "an old Word or Excel file",
    b"{\\rtf": "an RTF document (save it as plain text)",
    b"\x1f\x8b": "a gzip archive",
    b"7z\xbc\xaf": "a 7-Zip archive",
    b"Rar!": "a RAR archive",
    b"II*\x00": "a TIFF image",
    b"MM\x00*": "a TIFF image",
    b"\x7fELF": "a program (ELF)",
}
# How a byte Windows-1252 leaves undefined is read: as latin-1 (a C1 control, then removed).
_CP1252 = [bytes([b]).decode("cp1252", errors="ignore") or chr(b) for b in range(256)]


def _cp1252_fallback(exc: UnicodeError) -> tuple[str, int]:
    """Codec error handler: a byte that is not valid UTF-8 (or undefined in cp1252) is read as cp1252."""
    if not isinstance(exc, UnicodeDecodeError):
        raise exc
    return _CP1252[exc.object[exc.start]], exc.start + 1


_FALLBACK = "qa.cp1252-fallback"
codecs.register_error(_FALLBACK, _cp1252_fallback)
_FILE_KINDS = {
    stat.S_IFDIR: "a folder",
    stat.S_IFIFO: "a named pipe",
    stat.S_IFSOCK: "a socket",
    stat.S_IFCHR: "a device",
    stat.S_IFBLK: "a device",
}


def collect_files(paths: list[str | Path]) -> tuple[list[Path], list[tuple[str, str]]]:
    """Expand files and folders into the report files to read, in a stable order.

    In a folder (and its subfolders) only files of a supported type are taken; other files,
    hidden ones (a name starting with "."), README/LICENSE/CHANGELOG and `*.meta.yaml` sidecars
    are skipped without a word, and links to folders are not followed (so a link loop cannot
    hang the walk). Links to files are read like files: a broken one or a loop is reported.

    Returns:
        (files, problems): problems are (path, reason) for paths that do not exist, cannot be
        read, are not a supported type when named directly, or are folders with no report in them.
    """
    supported = ", ".join(sorted(SUPPORTED_SUFFIXES))
    files: list[Path] = []
    problems: list[tuple[str, str]] = []
    for raw in paths:
        path = Path(raw).expanduser()
        if path.is_dir():
            found: list[Path] = []

            def unreadable(exc: OSError) -> None:
                problems.append((str(exc.filename), f"cannot read the folder: {exc.strerror or exc}"))

            for root, dirs, names in os.walk(path, onerror=unreadable):  # does not follow links: no loops
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                for name in sorted(names):
                    candidate = Path(root) / name
                    if (
                        not name.startswith(".")
                        and candidate.suffix.lower() in SUPPORTED_SUFFIXES
                        and not _NOT_REPORTS.match(name)
                        and not name.endswith(".meta.yaml")
                    ):
                        found.append(candidate)
            if not found and not any(p == str(path) for p, _ in problems):
                problems.append((str(raw), f"no report files in this folder (supported: {supported})"))
            files.extend(found)
        elif path.is_file():
            if path.suffix.lower() in SUPPORTED_SUFFIXES:
                files.append(path)
            else:
                problems.append((str(raw), f"unsupported file type {path.suffix or '(none)'!r}; supported: {supported}"))
        else:
            problems.append((str(raw), _missing(path)))
    # A file named twice (directly and inside a named folder) is read and reported once.
    reported = {p for p, _ in problems}
    unique = [f for f in dict.fromkeys(files) if str(f) not in reported]
    return unique, problems


def _missing(path: Path) -> str:
    """Why a path named for ingest is neither a folder nor a file."""
    try:
        mode = path.stat().st_mode
    except ValueError:  # a NUL in the name
        return "no such file or folder"
    except OSError as exc:
        return _os_problem(path, exc, "no such file or folder")
    return _not_regular(mode)


def _not_regular(mode: int) -> str:
    return f"not a regular file ({_FILE_KINDS.get(stat.S_IFMT(mode), 'a special file')})"


def _os_problem(path: Path, exc: OSError, absent: str = "no such file") -> str:
    if exc.errno == errno.ELOOP:
        return "a symbolic link loop"
    if exc.errno == errno.ENOENT:
        try:
            return f"a broken symbolic link (to {os.readlink(path)!r})"
        except OSError:
            return absent
    return f"cannot read: {exc.strerror or exc}"


def _check_file(path: Path) -> int:
    """The size of a file about to be read; refuses what is not a regular file (a pipe would block)."""
    try:
        info = path.stat()
    except OSError as exc:
        raise DocumentError(f"{path}: {_os_problem(path, exc)}") from exc
    if not stat.S_ISREG(info.st_mode):
        raise DocumentError(f"{path}: {_not_regular(info.st_mode)}")
    return info.st_size


def load_document(path: Path, limits: Limits) -> Document:
    """Read one report file into a Document.

    The size is checked before anything is read, and no more than `limits.file_bytes` + 1 bytes
    are ever read (a file growing meanwhile is still refused); its metadata and text are held
    to the other limits.

    Raises:
        DocumentError: the file cannot be read, is empty, binary, too large or not text, or
            its metadata is refused (see `qa.metadata.read_fields`).
    """
    max_bytes = limits.file_bytes
    size = _check_file(path)
    if size > max_bytes:
        raise DocumentError(_too_large(path, size, max_bytes))
    try:
        with path.open("rb") as handle:
            raw = handle.read(max_bytes + 1)
    except OSError as exc:
        raise DocumentError(f"{path}: {_os_problem(path, exc)}") from exc
    if len(raw) > max_bytes:
        raise DocumentError(_too_large(path, len(raw), max_bytes, grew=True))
    text = decode_text(raw, str(path))
    if path.suffix.lower() in HTML_SUFFIXES:
        text, head = html_to_text(text)
        try:  # a page's head is what a site put there: a date that cannot be read is left out
            fields = read_fields(head, limits, lenient_dates=True)
        except ValueError as exc:
            raise DocumentError(f"{path}: the page's head metadata: {exc}") from exc
    else:
        text, front = split_front_matter(text, str(path), limits)
        if front and not text.strip():
            raise DocumentError(f"{path}: no text to ingest after the front matter")
        try:
            fields = read_fields(front, limits)
        except ValueError as exc:
            raise DocumentError(f"{path}: front matter: {exc}") from exc
    sidecar, declared = read_sidecar(path, limits)
    if declared:
        try:
            fields = {**fields, **read_fields(declared, limits)}
        except ValueError as exc:
            raise DocumentError(f"{sidecar}: {exc}") from exc
    return make_document(text, fields, path=str(path), limits=limits)


def _too_large(path: Path, size: int, max_bytes: int, grew: bool = False) -> str:
    if grew:
        return f"{path}: it grew past the limit of {max_bytes:,} bytes while being read (setting max_file_bytes)"
    return f"{path}: {size:,} bytes is over the limit of {max_bytes:,} bytes (setting max_file_bytes)"


def make_document(
    text: str,
    meta: dict[str, Any],
    path: str = "",
    id_covers_metadata: bool = False,
    limits: Limits = Limits(),
    name: str = "",
) -> Document:
    """Build a Document from text and metadata, with a content-hash id unless one is declared.

    Control characters and escape sequences are removed from the text (line breaks become
    "\\n"); the metadata is read by `qa.metadata.read_fields` (each field one checked line).
    `content_hash` covers the text and every stored field, so a corrected date or outlet
    replaces the stored record on the next ingest.

    Args:
        id_covers_metadata: hash the metadata into the id too, not the text alone: for rows of a
            collection, where the same text under another outlet, date or place is another
            report (a file, by contrast, keeps its id when its front matter is corrected).
        name: what messages call the report (default: its path).

    Raises:
        DocumentError: no text, a text over `limits.report_chars`, or refused metadata.
    """
    name = name or path or "document"
    cleaned = clean_text(text)
    if not cleaned.strip():
        why = "the file is empty" if not text else "only blank space or control characters"
        raise DocumentError(f"{name}: no text to ingest ({why})")
    if len(cleaned) > limits.report_chars:
        raise DocumentError(
            f"{name}: the text is {len(cleaned):,} characters; the limit for one report is "
            f"{limits.report_chars:,} (setting max_report_chars): split it into several reports"
        )
    text = cleaned
    try:
        fields = read_fields(meta, limits)
    except ValueError as exc:
        raise DocumentError(f"{name}: {exc}") from exc
    declared = fields.pop("doc_id", "")
    text_hash = hashlib.sha256(text.encode("utf-8")).hexdigest()
    title = fields.get("title") or _first_line(text) or Path(path).stem or text_hash[:16]
    stored = [text, title, fields.get("source", ""), fields.get("date", ""), fields.get("place", "")]
    url = fields.get("url", "")
    # A row's id covers what says which report it is (text, title, outlet, date, place), not its
    # address; the content hash covers the address too (hashed only where given, so reports
    # stored before addresses were keep their hashes), so a corrected url is stored again.
    row_hash = hashlib.sha256(json.dumps(stored, ensure_ascii=False).encode("utf-8")).hexdigest()
    content_hash = hashlib.sha256(json.dumps(stored + [url], ensure_ascii=False).encode("utf-8")).hexdigest() if url else row_hash
    return Document(
        doc_id=declared or (row_hash if id_covers_metadata else text_hash)[:16],
        text=text,
        title=title,
        source=stored[2],
        date=stored[3],
        place=stored[4],
        url=url,
        path=path,
        content_hash=content_hash,
    )


def decode_text(raw: bytes, name: str) -> str:
    """Decode a report's bytes (see the module's docstring for the encodings), refusing binary data."""
    _refuse_known_binary(raw, name, "a text report")
    encoding = _guess_encoding(raw, complete=True)
    if encoding in _FALLBACK_ENCODINGS and b"\x00" in raw[:65536]:
        raise DocumentError(f"{name}: binary data (NUL bytes), not a text report")
    try:
        text = raw.decode(encoding, errors=_FALLBACK if encoding in _FALLBACK_ENCODINGS else "strict")
    except UnicodeDecodeError as exc:
        raise DocumentError(f"{name}: not valid {encoding.upper()} text") from exc
    if _looks_binary(text[:65536]):
        raise DocumentError(f"{name}: binary data (control characters), not a text report")
    return text


_FALLBACK_ENCODINGS = ("utf-8-sig", "cp1252")


def _guess_encoding(raw: bytes, complete: bool = True) -> str:
    """The encoding of text bytes (the whole file, or its start when `complete` is False).

    A byte-order mark decides; else zero bytes at every other place mean UTF-16 without one;
    else UTF-8 if it decodes, or if its valid multi-byte characters outnumber the stray bytes
    (those are then read as cp1252, see `_FALLBACK`); else Windows-1252, a superset of latin-1's
    printable range and what most legacy Western text really is.
    """
    if raw.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):  # before UTF-16: FF FE 00 00
        return "utf-32"
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    sample = raw[:4096]
    if len(sample) >= 4 and len(sample) % 2 == 0:
        even, odd = sample[0::2], sample[1::2]
        if not even.count(0) and odd.count(0) * 2 > len(odd) and (not complete or len(raw) % 2 == 0):
            return "utf-16-le"
        if not odd.count(0) and even.count(0) * 2 > len(even) and (not complete or len(raw) % 2 == 0):
            return "utf-16-be"
    try:
        raw.decode("utf-8")
        return "utf-8-sig"
    except UnicodeDecodeError as exc:
        if not complete and exc.reason == "unexpected end of data":
            return "utf-8-sig"  # a character cut at the end of the sample
    text = raw.decode("utf-8", errors="surrogateescape")  # each stray byte becomes one surrogate
    valid = text.encode("utf-8", errors="ignore").decode("utf-8")
    stray = len(text) - len(valid)
    multibyte = len(valid) - len(valid.encode("ascii", errors="ignore"))
    return "utf-8-sig" if multibyte > stray else "cp1252"


# C0 controls other than tab, line breaks and form feed, DEL, and the C1 range: in text, rare;
# in binary data, about one byte in nine.
_BINARY_CONTROLS = re.compile(r"[\x00-\x08\x0e-\x1a\x1c-\x1f\x7f-\x9f]")


def _looks_binary(text: str) -> bool:
    controls = len(_BINARY_CONTROLS.findall(text))
    return controls >= 4 and controls * 50 > len(text)


def _refuse_known_binary(raw: bytes, name: str, expected: str) -> None:
    for magic, what in _MAGIC.items():
        if raw.startswith(magic):
            raise DocumentError(f"{name}: this is {what}, not {expected}")


def split_front_matter(text: str, name: str, limits: Limits = Limits()) -> tuple[str, dict[str, Any]]:
    """Split YAML front matter off the top of a text; returns (body, metadata).

    Raises:
        DocumentError: the block is not YAML key: value lines, or is refused (see `load_yaml`).
    """
    match = _FRONT_MATTER.match(text)
    if not match:
        return text, {}
    try:
        meta = load_yaml(match.group(1), limits) or {}
    except ValueError as exc:
        raise DocumentError(f"{name}: front matter: {exc}") from exc
    if not isinstance(meta, dict):
        raise DocumentError(f"{name}: front matter must be key: value lines")
    return text[match.end() :].lstrip("\r\n"), meta


def read_sidecar(path: Path, limits: Limits = Limits()) -> tuple[Path, dict[str, Any]]:
    """Metadata declared next to a report in `NAME.meta.yaml` (NAME without the suffix), and
    the sidecar's path; no sidecar gives an empty mapping.

    Raises:
        DocumentError: the sidecar cannot be read, is over `limits.metadata_bytes` or not YAML
            key: value lines.
    """
    sidecar = path.with_name(path.stem + ".meta.yaml")
    try:
        if not sidecar.is_file():
            return sidecar, {}
    except OSError:  # e.g. ENAMETOOLONG: the report's name leaves no room for ".meta.yaml"
        return sidecar, {}
    try:
        size = sidecar.stat().st_size
        if size > limits.metadata_bytes:
            raise DocumentError(
                f"{sidecar}: {size:,} bytes is over the limit of {limits.metadata_bytes:,} for metadata "
                "(setting max_metadata_bytes)"
            )
        meta = load_yaml(decode_text(sidecar.read_bytes(), str(sidecar)), limits) or {}
    except (OSError, ValueError) as exc:
        raise DocumentError(f"{sidecar}: cannot read metadata: {exc}".splitlines()[0]) from exc
    if not isinstance(meta, dict):
        raise DocumentError(f"{sidecar}: metadata must be key: value lines")
    return sidecar, meta


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
    files: list[Path], limits: Limits, columns: Mapping[str, str] | None = None
) -> Iterator[tuple[Path, str, Document | DocumentError]]:
    """Load each file (each row of a collection), yielding (the file, a label, the Document or
    the error that stopped it). The label is the file's path, or "path, row N" for a row."""
    for path in files:
        try:
            if path.suffix.lower() in COLLECTION_SUFFIXES:
                for label, item in read_collection(path, limits, columns):
                    yield path, label, item
            else:
                yield path, str(path), load_document(path, limits)
        except DocumentError as exc:
            logger.warning("skipping %s", exc)
            yield path, str(path), exc
        except Exception as exc:  # one file's surprise must not stop the files after it
            logger.exception("unexpected error reading %s", path)
            yield path, str(path), DocumentError(f"{path}: cannot read: {type(exc).__name__}: {exc}".splitlines()[0])


def count_items(files: list[Path], limits: Limits) -> int:
    """How many documents `iter_documents` will yield at most: files, plus rows of collections."""
    total = 0
    for path in files:
        if path.suffix.lower() not in COLLECTION_SUFFIXES:
            total += 1
            continue
        try:
            total += sum(1 for _ in _collection_rows(path, limits))
        except (OSError, UnicodeDecodeError, csv.Error, DocumentError):
            total += 1
    return total


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
        for number, row in _collection_rows(path, limits):
            rows += 1
            label = f"{path}, row {number}"
            if isinstance(row, DocumentError):
                yield label, DocumentError(f"{label}: {row}")
                continue
            try:
                if mapping is None or per_row:
                    mapping = _find_columns(label if per_row else path, list(row), columns, row=per_row)
                yield label, _row_document(row, mapping, label, limits, path)
            except DocumentError as exc:
                if not per_row and mapping is None:
                    raise  # the header has no text column: nothing in the file can be read
                yield label, exc
        if not rows:
            yield str(path), DocumentError(f"{path}: no reports in the collection (nothing after its header row)"
                                            if path.suffix.lower() == ".csv" else f"{path}: no reports in the collection")
    except DocumentError as exc:
        yield str(path), exc
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        yield str(path), DocumentError(f"{path}: cannot read the collection: {exc}".splitlines()[0])


def _collection_rows(path: Path, limits: Limits) -> Iterator[tuple[int, dict[str, Any] | DocumentError]]:
    if path.suffix.lower() == ".csv":
        return _csv_rows(path, limits)
    return _jsonl_rows(path, limits)


def _row_limit(limits: Limits) -> str:
    """Why a row of a collection is too long: the limit and the settings behind it."""
    settings = "max_file_bytes" if limits.row_chars == limits.file_bytes else "max_report_chars and max_field_chars"
    return f"the limit of {limits.row_chars:,} characters (setting {settings})"


def _open_text(path: Path) -> io.TextIOWrapper:
    """A collection opened as text, in the encoding its first megabyte shows (see `_guess_encoding`)."""
    _check_file(path)
    with path.open("rb") as probe:
        head = probe.read(1 << 20)
    _refuse_known_binary(head, str(path), "a collection of reports")
    encoding = _guess_encoding(head, complete=len(head) < 1 << 20)
    errors = _FALLBACK if encoding in _FALLBACK_ENCODINGS else "strict"
    if _looks_binary(head[:65536].decode(encoding, errors="replace")):
        raise DocumentError(f"{path}: binary data (control characters), not a collection of reports")
    return path.open("r", encoding=encoding, errors=errors, newline="")


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
    for _ in range(_REREADS + 1):
        with _open_text(path) as handle:
            lines = _Lines(handle, max_chars, quote='"')
            lines.skip_lines(resume_at)
            reader = csv.reader(lines, strict=True)
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
                    yield number, DocumentError(f"the row is over {_row_limit(limits)}")
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
                            f"a quote opened on line {lines.row_line} is never closed; "
                            f"the rows after it are read from line {lines.row_line + 1}"
                        )
                        resume_at = lines.row_line
                        break
                    yield number, DocumentError(f"malformed CSV (line {lines.line}): {exc}")
                    continue
                if not any(v.strip() for v in values):
                    continue
                if len(values) != len(header):
                    yield number, DocumentError(
                        f"has {len(values)} fields, the header has {len(header)} (line {lines.line})"
                    )
                    continue
                yield number, dict(zip(header, values))
    yield number + 1, DocumentError(f"{_REREADS} quotes were never closed; the file is not read after line {resume_at}")


def _csv_header(reader: Iterator[list[str]], lines: _Lines, path: Path, max_chars: int) -> list[str]:
    lines.start_row()
    try:
        header = next(reader, None)
    except (csv.Error, _Unterminated) as exc:
        raise DocumentError(f"{path}: the header row is not valid CSV: {exc or 'a quote is never closed'}") from exc
    except _RowTooLong as exc:
        raise DocumentError(f"{path}: the header row is over the limit of {max_chars:,} characters") from exc
    if not header or not any(h.strip() for h in header):
        raise DocumentError(f"{path}: empty collection (no header row)")
    names = [h.strip() for h in header]
    first: dict[str, int] = {}
    for i, name in enumerate(names, start=1):
        if name and name.lower() in first:
            raise DocumentError(
                f"{path}: the header names the column {name!r} twice (columns {first[name.lower()]} and {i}); "
                "rename one of them"
            )
        first.setdefault(name.lower(), i)
    return names


def _jsonl_rows(path: Path, limits: Limits) -> Iterator[tuple[int, dict[str, Any] | DocumentError]]:
    """Objects of a JSON Lines file (or the error of each bad line), numbered by line."""
    with _open_text(path) as handle:
        lines = _Lines(handle, limits.row_chars)
        while True:
            lines.start_row()
            try:
                line = next(lines)
            except StopIteration:
                return
            except _RowTooLong:
                yield lines.row_line, DocumentError(f"the line is over {_row_limit(limits)}")
                continue
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except RecursionError:
                yield lines.row_line, DocumentError("not valid JSON: nested too deeply")
                continue
            except ValueError as exc:
                yield lines.row_line, DocumentError(f"not valid JSON: {exc}")
                continue
            if not isinstance(row, dict):
                yield lines.row_line, DocumentError(f"not a JSON object but {_json_kind(row)}")
                continue
            yield lines.row_line, row


def _json_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, (int, float)):
        return "a number"
    return {list: "a list", dict: "an object", str: "a string", type(None): "null"}.get(type(value), type(value).__name__)


def _find_columns(
    path: Path | str, names: list[str], given: Mapping[str, str] | None, row: bool = False
) -> dict[str, str]:
    """Which column (a CSV header's) or key (one JSON object's, with `row`) holds each field.

    A named column must exist in a header; in an object only the text's must (a field the
    object lacks is empty for that row).
    """
    by_lower = {n.lower(): n for n in names}
    mapping: dict[str, str] = {}
    what = "key" if row else "column"
    for field, column in (given or {}).items():
        if field not in COLUMN_NAMES:
            raise DocumentError(f"{path}: unknown field {field!r}; fields are {', '.join(COLUMN_NAMES)}")
        if column.lower() in by_lower:
            mapping[field] = by_lower[column.lower()]
        elif not row or field == "text":
            raise DocumentError(f"{path}: no {what} {column!r} ({what}s: {', '.join(names) or 'none'})")
    for field, candidates in COLUMN_NAMES.items():
        if field not in mapping:
            found = next((by_lower[c] for c in candidates if c in by_lower and by_lower[c] not in mapping.values()), None)
            if found:
                mapping[field] = found
    if "text" not in mapping:
        raise DocumentError(
            f"{path}: no text {what} (looked for {', '.join(COLUMN_NAMES['text'])}); "
            f"name it with --text-column ({what}s: {', '.join(names) or 'none'})"
        )
    return mapping


def _row_document(row: dict[str, Any], mapping: dict[str, str], label: str, limits: Limits, path: Path) -> Document:
    column = mapping["text"]
    text = row.get(column)
    if text is None or (isinstance(text, str) and not text.strip()):
        raise DocumentError(f"{label}: no text in column {column!r}")
    if not isinstance(text, str):
        raise DocumentError(f"{label}: column {column!r} holds {_json_kind(text)}, not text")
    for name in mapping.values():
        if isinstance(row.get(name), str) and "\x00" in row[name]:
            raise DocumentError(f"{label}: binary data (NUL bytes) in column {name!r}")
    meta = {field: row.get(column) for field, column in mapping.items() if field != "text"}
    if isinstance(meta.get("doc_id"), str):
        meta["doc_id"] = meta["doc_id"].strip()
    where = f"{path}#{meta.get('doc_id') or label.rsplit('row ', 1)[-1]}"
    return make_document(text, meta, path=where, id_covers_metadata=True, limits=limits, name=label)


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
                "og:url": "url",
                "article:published_time": "date",
                "date": "date",
                "dc.date": "date",
                "article:section": "",
            }
            field = mapping.get(key)
            if field == "url" and not re.match(r"https?://", content, re.IGNORECASE):
                field = ""  # a relative address says nothing on its own
            if field and content and field not in self.meta:
                self.meta[field] = content
        elif tag == "link" and "canonical" in attr.get("rel", "").lower().split() and attr.get("href"):
            if re.match(r"https?://", attr["href"].strip(), re.IGNORECASE):  # a relative address says nothing on its own
                self.meta.setdefault("url", attr["href"].strip())
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
