"""Reading report files (txt, md, html) and collections (csv, jsonl) into Documents.

One module for each reason to change: `files` finds the files (and defines the supported types),
`decoding` turns bytes into text, `reports` reads a text, markdown or HTML file with its front
matter, sidecar or page head, `collection` reads the rows of a CSV or JSON Lines file, and
`document` makes a Document of text and metadata (its cleaning, limits and ids). Control
characters and terminal escape sequences are removed from the stored text; binary files and
images are refused.
"""

from __future__ import annotations

import csv
import logging
from collections.abc import Iterator, Mapping
from pathlib import Path

from ..errors import DocumentError
from ..metadata import Limits
from ..types import Document
from .collection import COLUMN_NAMES, collection_rows, read_collection
from .decoding import decode_text
from .document import make_document
from .files import COLLECTION_SUFFIXES, HTML_SUFFIXES, SUPPORTED_SUFFIXES, TEXT_SUFFIXES, collect_files
from .reports import html_to_text, load_document, read_sidecar, split_front_matter

__all__ = [
    "COLLECTION_SUFFIXES",
    "COLUMN_NAMES",
    "HTML_SUFFIXES",
    "SUPPORTED_SUFFIXES",
    "TEXT_SUFFIXES",
    "collect_files",
    "count_items",
    "decode_text",
    "html_to_text",
    "iter_documents",
    "load_document",
    "make_document",
    "read_collection",
    "read_sidecar",
    "split_front_matter",
]

logger = logging.getLogger(__name__)


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
            yield path, str(path), DocumentError(path, f"cannot read: {type(exc).__name__}: {exc}".splitlines()[0])


def count_items(files: list[Path], limits: Limits) -> int:
    """How many documents `iter_documents` will yield at most: files, plus rows of collections."""
    total = 0
    for path in files:
        if path.suffix.lower() not in COLLECTION_SUFFIXES:
            total += 1
            continue
        try:
            total += sum(1 for _ in collection_rows(path, limits))
        except (OSError, UnicodeDecodeError, csv.Error, DocumentError):
            total += 1
    return total
