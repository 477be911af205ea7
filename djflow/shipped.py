"""Inputs shipped to makes that run where the database is not reachable (worker processes).

The engine reads each injected input (an upstream table restricted by the key) as stored
rows and sends them with the make call. In the worker, :func:`opened_inputs` loads them
into an in-memory SQLite database (one per worker thread, kept between makes) and hands
the make real :class:`Query` objects over it, so ``&`` with any restriction, ``*``,
``proj``, ``aggr`` and ``fetch`` behave exactly as they do on the live database: there is
one query engine, not two.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
from collections.abc import Iterator
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


class ScratchDatabase:
    """An in-memory database that holds shipped inputs while a make runs.

    A worker keeps one per thread between makes: each input's table is created once per
    heading and emptied after the make, which is several times cheaper than opening a new
    database for every make.
    """

    def __init__(self) -> None:
        self.db = Database(":memory:")
        self.pid = os.getpid()  # a forked child must not share it with its parent
        self.columns: dict[str, str] = {}  # table -> the column definitions it was created with
        self.busy = False

    def load(self, item: ShippedInput) -> None:
        """Create (or reuse) the table of ``item`` and fill it with its rows."""
        attributes = list(item.heading.attributes.values())
        columns = ", ".join(f"{quote(a.name)} {a.type.sql_type if a.type else ''}" for a in attributes)
        table = quote(item.table)
        if self.columns.get(item.table) != columns:
            self.db.execute(f"DROP TABLE IF EXISTS {table}")
            self.db.execute(f"CREATE TABLE {table} ({columns})")
            self.columns[item.table] = columns
        names = [a.name for a in attributes]
        self.db.conn.executemany(
            f"INSERT INTO {table} ({column_list(names)}) VALUES ({', '.join('?' * len(names))})", item.rows
        )

    def empty(self, tables: list[str]) -> None:
        """Drop the rows of ``tables``, so a finished make's inputs do not stay in memory."""
        for table in tables:
            self.db.execute(f"DELETE FROM {quote(table)}")


_scratch = threading.local()


def _scratch_database() -> ScratchDatabase:
    """This thread's scratch database; a private one while it is in use (a make running a make)."""
    scratch = getattr(_scratch, "database", None)
    if scratch is None or scratch.pid != os.getpid():
        scratch = _scratch.database = ScratchDatabase()
    return ScratchDatabase() if scratch.busy else scratch


@contextlib.contextmanager
def opened_inputs(kwargs: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """A make's arguments with every shipped input replaced by a query over an in-memory database.

    The rows are there while the ``with`` block runs (while the make runs) and emptied after it.
    """
    shipped = {name: value for name, value in kwargs.items() if isinstance(value, ShippedInput)}
    if not shipped:
        yield kwargs
        return
    scratch = _scratch_database()
    scratch.busy = True
    opened = dict(kwargs)
    loaded: set[str] = set()
    try:
        for parameter, item in shipped.items():
            if item.table not in loaded:  # two parameters may name one table (a part by both its names)
                scratch.load(item)
                loaded.add(item.table)
            opened[parameter] = Query(InputsDatabase(scratch.db, item.storage), item.heading, quote(item.table),
                                      name=item.name)
        yield opened
    finally:
        scratch.empty(sorted(loaded))
        scratch.busy = False
