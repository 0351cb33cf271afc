"""Gradio's upload folder: uploads are read from private copies under safe names, and what
Gradio leaves behind in the app's own folder is swept (never anyone else's files)."""

import atexit
import os
import re
import shutil
import tempfile
import time
from pathlib import Path

UPLOAD_MAX_AGE_S = 600  # an upload no handler took is deleted after this long
STRAY_AGE_S = float(UPLOAD_MAX_AGE_S)  # an empty file there this old is no upload in progress, however slow


def safe_name(name: str, limit: int = 120) -> str:
    """A file name with nothing but letters, digits, '.', '-' and '_' (no paths, no leading dots),
    at most `limit` characters: a long name loses the end of its stem, never its extension."""
    cleaned = re.sub(r"[^\w.-]+", "_", name).lstrip("._") or "upload"
    if len(cleaned) <= limit:
        return cleaned
    stem, dot, suffix = cleaned.rpartition(".")
    if not dot or not stem or len(suffix) > 16:
        return cleaned[:limit]
    return stem[: limit - len(suffix) - 1].rstrip("._") + "." + suffix


def remove_gradio_copy(path: Path) -> None:
    """Gradio's own copy of an upload is not kept: the index holds the text."""
    try:
        path.unlink(missing_ok=True)
        path.parent.rmdir()  # its folder, when nothing else is in it
    except OSError:
        pass
    sweep_upload_strays()


def sweep_upload_strays() -> None:
    """Remove the empty temporary files Gradio leaves in its upload folder (one per upload, seen
    with Gradio 6), when that folder is the app's own (see `use_own_upload_folder`): never anyone else's files."""
    folder = os.environ.get("GRADIO_TEMP_DIR", "")
    if not folder or os.environ.get("QA_OWN_GRADIO_TEMP_DIR") != folder:
        return
    cutoff = time.time() - STRAY_AGE_S
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return
    for entry in entries:
        try:
            info = entry.stat(follow_symlinks=False)
            if entry.is_file(follow_symlinks=False) and info.st_size == 0 and info.st_mtime < cutoff:
                os.unlink(entry.path)
        except OSError:
            continue


def use_own_upload_folder() -> None:
    """Give Gradio a private upload folder (unless GRADIO_TEMP_DIR names one), removed when the
    process ends, so what it leaves behind can be swept (see `sweep_upload_strays`) and no
    other app's uploads are ever touched."""
    if os.environ.get("GRADIO_TEMP_DIR"):
        return
    folder = tempfile.mkdtemp(prefix="qa-gradio-")  # mode 0700
    os.environ["GRADIO_TEMP_DIR"] = os.environ["QA_OWN_GRADIO_TEMP_DIR"] = folder
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
