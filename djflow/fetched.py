"""Rows fetched in advance, for makes that run where the database is not reachable.

A :class:`FetchedRelation` answers ``fetch``, ``fetch1``, ``len``, iteration and ``& dict``
exactly as the live query it was fetched from; it pickles, so an executor can ship it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from .errors import QueryError
from .heading import Heading
from .query import Query, Relation


class FetchedRelation(Relation):
    """The rows of a query, held in memory."""

    def __init__(self, heading: Heading, rows: list[tuple], name: str):
        self.heading = heading
        self._name = name
        self._data = rows

    @classmethod
    def from_query(cls, query: Query) -> FetchedRelation:
        """Fetch every row of ``query`` now."""
        names = query.heading.names
        return cls(query.heading, [tuple(row) for row in query._rows(names)], query._name)

    def _rows(self, names: list[str], order_by=None, limit=None, offset=None) -> Iterator[tuple]:
        positions = [self.heading.names.index(n) for n in names]
        rows = self._data
        if order_by is not None:
            for item in reversed([order_by] if isinstance(order_by, str) else list(order_by)):
                attribute, _, direction = item.partition(" ")
                self._check_attributes([attribute])
                index = self.heading.names.index(attribute)
                rows = sorted(rows, key=lambda r: (r[index] is None, r[index]), reverse=direction.strip().lower() == "desc")
        rows = rows[offset or 0 :]
        if limit is not None:
            rows = rows[: int(limit)]
        return iter([tuple(row[i] for i in positions) for row in rows])

    def _count(self) -> int:
        return len(self._data)

    def __and__(self, restriction: Any) -> FetchedRelation:
        if not isinstance(restriction, Mapping):
            raise QueryError(f"inputs fetched in advance ({self._name}) can be restricted by a dict only")
        checks = [(self.heading.names.index(k), v) for k, v in restriction.items() if k in self.heading.attributes]
        rows = [row for row in self._data if all(row[i] == v for i, v in checks)]
        return FetchedRelation(self.heading, rows, self._name)
