"""Finding the report files to read: files and folders named for ingest, and why one cannot be read.

The supported file types are defined here once (`SUPPORTED_SUFFIXES`, in the order the app's
upload box lists them); everything that takes or lists files uses them.
"""

from __future__ import annotations

import errno
import os
import re
import stat
from pathlib import Path

from ..errors import DocumentError

TEXT_SUFFIXES = (".txt", ".text", ".md", ".markdown")
HTML_SUFFIXES = (".html", ".htm")
COLLECTION_SUFFIXES = (".csv", ".jsonl", ".ndjson")
SUPPORTED_SUFFIXES = TEXT_SUFFIXES + HTML_SUFFIXES + COLLECTION_SUFFIXES
# Files in a folder that describe the folder rather than being reports.
_NOT_REPORTS = re.compile(r"^(readme|license|licence|changelog)(\..*)?$", re.IGNORECASE)
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
        return os_problem(path, exc, "no such file or folder")
    return _not_regular(mode)


def _not_regular(mode: int) -> str:
    return f"not a regular file ({_FILE_KINDS.get(stat.S_IFMT(mode), 'a special file')})"


def os_problem(path: Path, exc: OSError, absent: str = "no such file") -> str:
    if exc.errno == errno.ELOOP:
        return "a symbolic link loop"
    if exc.errno == errno.ENOENT:
        try:
            return f"a broken symbolic link (to {os.readlink(path)!r})"
        except OSError:
            return absent
    return f"cannot read: {exc.strerror or exc}"


def check_file(path: Path) -> int:
    """The size of a file about to be read; refuses what is not a regular file (a pipe would block)."""
    try:
        info = path.stat()
    except OSError as exc:
        raise DocumentError(path, os_problem(path, exc)) from exc
    if not stat.S_ISREG(info.st_mode):
        raise DocumentError(path, _not_regular(info.st_mode))
    return info.st_size
