"""Decoding a report's bytes into text, and refusing what is not text.

Text is decoded as UTF-8, UTF-16/32 (by their byte-order mark, or UTF-16 by its zero bytes), or
Windows-1252 (which reads latin-1 text right too); a stray legacy byte in a UTF-8 file is read as
Windows-1252 rather than turning the whole file into mojibake. Binary files and images are
refused by name.
"""

from __future__ import annotations

import codecs
import io
import re
from pathlib import Path

from ..errors import DocumentError
from .files import check_file

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


def decode_text(raw: bytes, name: str) -> str:
    """Decode a report's bytes (see the module's docstring for the encodings), refusing binary data."""
    _refuse_known_binary(raw, name, "a text report")
    encoding = _guess_encoding(raw, complete=True)
    if encoding in _FALLBACK_ENCODINGS and b"\x00" in raw[:65536]:
        raise DocumentError(name, "binary data (NUL bytes), not a text report")
    try:
        text = raw.decode(encoding, errors=_FALLBACK if encoding in _FALLBACK_ENCODINGS else "strict")
    except UnicodeDecodeError as exc:
        raise DocumentError(name, f"not valid {encoding.upper()} text") from exc
    if _looks_binary(text[:65536]):
        raise DocumentError(name, "binary data (control characters), not a text report")
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
            raise DocumentError(name, f"this is {what}, not {expected}")


def open_text(path: Path) -> io.TextIOWrapper:
    """A collection opened as text, in the encoding its first megabyte shows (see `_guess_encoding`)."""
    check_file(path)
    with path.open("rb") as probe:
        head = probe.read(1 << 20)
    _refuse_known_binary(head, str(path), "a collection of reports")
    encoding = _guess_encoding(head, complete=len(head) < 1 << 20)
    errors = _FALLBACK if encoding in _FALLBACK_ENCODINGS else "strict"
    if _looks_binary(head[:65536].decode(encoding, errors="replace")):
        raise DocumentError(path, "binary data (control characters), not a collection of reports")
    return path.open("r", encoding=encoding, errors=errors, newline="")
