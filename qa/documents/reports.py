"""Reading one report file (txt, md, html) into a Document, with its metadata.

Metadata comes from YAML front matter (`---` lines at the top of a .txt or .md file), from a
sidecar file `NAME.meta.yaml` beside the report, or from an HTML page's head; what is missing
falls back to the first heading (title) and the file name.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from ..errors import DocumentError
from ..metadata import Limits, load_yaml, read_fields
from ..types import Document
from .decoding import decode_text
from .document import make_document
from .files import HTML_SUFFIXES, check_file, os_problem

_FRONT_MATTER = re.compile(r"\A---[ \t]*\r?\n(.*?)\r?\n---[ \t]*(?:\r?\n|\Z)", re.DOTALL)


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
    size = check_file(path)
    if size > max_bytes:
        raise DocumentError(path, _too_large(size, max_bytes))
    try:
        with path.open("rb") as handle:
            raw = handle.read(max_bytes + 1)
    except OSError as exc:
        raise DocumentError(path, os_problem(path, exc)) from exc
    if len(raw) > max_bytes:
        raise DocumentError(path, _too_large(len(raw), max_bytes, grew=True))
    text = decode_text(raw, str(path))
    if path.suffix.lower() in HTML_SUFFIXES:
        text, head = html_to_text(text)
        try:  # a page's head is what a site put there: a date that cannot be read is left out
            fields = read_fields(head, limits, lenient_dates=True)
        except ValueError as exc:
            raise DocumentError(path, f"the page's head metadata: {exc}") from exc
    else:
        text, front = split_front_matter(text, str(path), limits)
        if front and not text.strip():
            raise DocumentError(path, "no text to ingest after the front matter")
        try:
            fields = read_fields(front, limits)
        except ValueError as exc:
            raise DocumentError(path, f"front matter: {exc}") from exc
    sidecar, declared = read_sidecar(path, limits)
    if declared:
        try:
            fields = {**fields, **read_fields(declared, limits)}
        except ValueError as exc:
            raise DocumentError(sidecar, str(exc)) from exc
    return make_document(text, fields, path=str(path), limits=limits)


def _too_large(size: int, max_bytes: int, grew: bool = False) -> str:
    if grew:
        return f"it grew past the limit of {max_bytes:,} bytes while being read (setting max_file_bytes)"
    return f"{size:,} bytes is over the limit of {max_bytes:,} bytes (setting max_file_bytes)"


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
        raise DocumentError(name, f"front matter: {exc}") from exc
    if not isinstance(meta, dict):
        raise DocumentError(name, "front matter must be key: value lines")
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
                sidecar,
                f"{size:,} bytes is over the limit of {limits.metadata_bytes:,} for metadata "
                "(setting max_metadata_bytes)",
            )
        meta = load_yaml(decode_text(sidecar.read_bytes(), str(sidecar)), limits) or {}
    except (OSError, ValueError) as exc:
        raise DocumentError(sidecar, f"cannot read metadata: {exc}".splitlines()[0]) from exc
    if not isinstance(meta, dict):
        raise DocumentError(sidecar, "metadata must be key: value lines")
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
