"""The domain's errors: every failure a user can cause is a QAError with the bad value named."""

from __future__ import annotations

import os


class QAError(Exception):
    """Base class of every error the assistant raises on purpose."""


class InputError(QAError):
    """A question, option or argument that cannot be used as given."""


class DocumentError(QAError):
    """A file or report that cannot be read or ingested: where it is, and why.

    Its str() is the one line a user sees, "<path>: <reason>" or "<path>, row N: <reason>".

    Args:
        path: the file (or what messages call the report, for one built in code).
        reason: what is wrong with it, one line, without the path.
        row: the row of a collection the problem is in, numbered from 1 after a CSV header.
    """

    def __init__(self, path: str | os.PathLike[str], reason: str, row: int | None = None) -> None:
        super().__init__(str(path), reason, row)
        self.path = str(path)
        self.reason = reason
        self.row = row

    @property
    def label(self) -> str:
        """What the message calls the file or row (see `item_label`)."""
        return item_label(self.path, self.row)

    def __str__(self) -> str:
        return f"{self.label}: {self.reason}"


class NotFoundError(QAError):
    """A document id (or other named thing) that the index does not hold."""


class ConfigError(QAError):
    """A setting that cannot work, such as an embedding model that cannot be loaded."""


def item_label(path: str | os.PathLike[str], row: int | None = None) -> str:
    """How a report is named to a user: its file, or "file, row N" for a row of a collection."""
    return f"{path}, row {row}" if row is not None else str(path)
