"""The exceptions djflow raises. Every one of them is a :class:`DjflowError`.

Library code raises these; only ``cli.py`` turns them into one-line messages.
"""

from __future__ import annotations


class DjflowError(Exception):
    """Base class of every error djflow raises on purpose."""


class DefinitionError(DjflowError):
    """The pipefile or a table definition is wrong (or the database no longer matches it)."""


class SchemaDriftError(DefinitionError):
    """A table in the database differs from its definition in the pipefile."""


class DatabaseWriteError(DjflowError):
    """SQLite could not write: a read-only file or file system, a full disk, an I/O error.

    Nothing was written. It is the database's trouble, not the row's or the key's, so
    populate stops at once instead of recording it as a failed key.
    """


class DuplicateError(DjflowError):
    """A row with the same primary key already exists."""


class IntegrityError(DjflowError):
    """A referenced parent row is missing, dependents exist, or a part has no master."""


class DataError(DjflowError):
    """A value does not fit its attribute's type."""


class QueryError(DjflowError):
    """A restriction, attribute or query expression is not valid."""


class PopulateError(DjflowError):
    """A make failed while errors were not suppressed.

    ``key`` is the primary key being computed and ``__cause__`` / ``original`` the exception
    the make raised.
    """

    def __init__(self, message: str, key: dict | None = None, original: BaseException | None = None):
        super().__init__(message)
        self.key = key
        self.original = original


class UnknownTableError(QueryError, AttributeError):
    """A table name that the pipeline does not have."""
