"""The domain's errors: every failure a user can cause is a QAError with the bad value named."""


class QAError(Exception):
    """Base class of every error the assistant raises on purpose."""


class InputError(QAError):
    """A question, option or argument that cannot be used as given."""


class DocumentError(QAError):
    """A file or report that cannot be read or ingested."""


class NotFoundError(QAError):
    """A document id (or other named thing) that the index does not hold."""


class ConfigError(QAError):
    """A setting that cannot work, such as an embedding model that cannot be loaded."""
