"""Inputs shipped to makes that run where the database is not reachable (worker processes).

The engine reads each injected input (an upstream table restricted by the key) as stored
rows and sends them with the make call. In the worker, :func:`open_shipped_inputs` loads
them into a private in-memory SQLite database and hands the make real :class:`Query`
objects over it, so ``&`` with any restriction, ``*``, ``proj``, ``aggr`` and ``fetch``
behave exactly as they do on the live database: there is one query engine, not two.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Any

from .db import Database
from .errors import QueryError
from .heading import Heading
from .query import Query
from .schema import column_list, quote
from .types import Storage


@dataclass
class ShippedInput:
    """The stored rows of one injected input, with what is needed to query them again."""

    name: str  # as the make's error messages should name it, e.g. "Detection.Blob"
    table: str  # the SQLite table name, e.g. "Detection__Blob"
    heading: Heading
    rows: list[tuple]
    storage: Storage

    @classmethod
    def from_query(cls, query: Query, table: str) -> ShippedInput:
        """Read every row of ``query`` as stored (nothing is decoded until the make fetches it)."""
        sql, params = query.sql()
        try:
            rows = query._pipeline.db.query(sql, params)
        except sqlite3.Error as error:
            raise QueryError(f"cannot read the input {query._name}: {error}") from None
        return cls(query._name, table, query.heading, rows, query._pipeline.storage)


@dataclass
class InputsDatabase:
    """What a Query needs of a pipeline: a database and where attach/filepath files live."""

    db: Database
    storage: Storage


def open_shipped_inputs(kwargs: dict[str, Any]) -> tuple[dict[str, Any], Database | None]:
    """Replace shipped inputs in a make's arguments by queries over an in-memory database.

    Returns the arguments and the database to close after the make (None if nothing was shipped).
    """
    shipped = {name: value for name, value in kwargs.items() if isinstance(value, ShippedInput)}
    if not shipped:
        return kwargs, None
    db = Database(":memory:")
    opened = dict(kwargs)
    for parameter, item in shipped.items():
        context = InputsDatabase(db, item.storage)
        attributes = list(item.heading.attributes.values())
        columns = ", ".join(f"{quote(a.name)} {a.type.sql_type if a.type else ''}" for a in attributes)
        db.execute(f"CREATE TABLE {quote(item.table)} ({columns})")
        names = [a.name for a in attributes]
        db.conn.executemany(
            f"INSERT INTO {quote(item.table)} ({column_list(names)}) VALUES ({', '.join('?' * len(names))})",
            item.rows,
        )
        opened[parameter] = Query(context, item.heading, quote(item.table), name=item.name)
    return opened, db
