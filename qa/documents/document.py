"""A Document from text and metadata: the text cleaned and bounded, the fields checked, the ids."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from ..errors import DocumentError
from ..metadata import Limits, read_fields
from ..text import clean_text
from ..types import Document


def make_document(
    text: str,
    meta: dict[str, Any],
    path: str = "",
    id_covers_metadata: bool = False,
    limits: Limits = Limits(),
    name: str = "",
    row: int | None = None,
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
        row: the row of a collection the report is, for messages ("NAME, row N: ...").

    Raises:
        DocumentError: no text, a text over `limits.report_chars`, or refused metadata.
    """
    name = name or path or "document"
    cleaned = clean_text(text)
    if not cleaned.strip():
        why = "the file is empty" if not text else "only blank space or control characters"
        raise DocumentError(name, f"no text to ingest ({why})", row)
    if len(cleaned) > limits.report_chars:
        raise DocumentError(
            name,
            f"the text is {len(cleaned):,} characters; the limit for one report is "
            f"{limits.report_chars:,} (setting max_report_chars): split it into several reports",
            row,
        )
    text = cleaned
    try:
        fields = read_fields(meta, limits)
    except ValueError as exc:
        raise DocumentError(name, str(exc), row) from exc
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


def _first_line(text: str) -> str:
    for line in text.splitlines():
        line = line.strip().lstrip("#").strip()
        if line:
            return line[:200]
    return ""
