"""Rows fetched in advance, for makes that run where the database is not reachable.

A :class:`FetchedRelation` answers ``fetch``, ``fetch1``, ``len``, iteration, ``& dict``,
``- dict`` and ``& [dict, ...]`` exactly as the live query it was fetched from; it pickles,
so an executor can ship it.
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
                names = self.heading.primary_key if attribute == "KEY" else [attribute]  # as Query does
                self._check_attributes(names)
                for name in reversed(names):
                    index = self.heading.names.index(name)
                    rows = sorted(rows, key=lambda r, i=index: (r[i] is None, r[i]), reverse=direction.strip().lower() == "desc")
        rows = rows[offset or 0 :]
        if limit is not None:
            rows = rows[: int(limit)]
        return iter([tuple(row[i] for i in positions) for row in rows])

    def _count(self) -> int:
        return len(self._data)

    def __and__(self, restriction: Any) -> FetchedRelation:
        matches = self._matcher(restriction)
        return FetchedRelation(self.heading, [row for row in self._data if matches(row)], self._name)

    def __sub__(self, restriction: Any) -> FetchedRelation:
        matches = self._matcher(restriction)
        return FetchedRelation(self.heading, [row for row in self._data if not matches(row)], self._name)

    def _matcher(self, restriction: Any):
        """A test for rows matching a dict (values compared as the database would) or a list of them (OR)."""
        if isinstance(restriction, Mapping):
            checks = [
                (self.heading.names.index(name), self._comparable(self.heading.attributes[name], value))
                for name, value in restriction.items()
                if name in self.heading.attributes
            ]
            return lambda row: all(row[i] == value for i, value in checks)
        if isinstance(restriction, (list, tuple)):
            matchers = [self._matcher(item) for item in restriction]
            return lambda row: any(matches(row) for matches in matchers)
        raise QueryError(
            f"inputs fetched in advance ({self._name}) can be restricted by a dict or a list of dicts only, "
            f"not a {type(restriction).__name__}; fetch the rows and filter them in Python"
        )

    def _comparable(self, attribute: Any, value: Any) -> Any:
        """``value`` as a fetched row holds it: '2024-01-15' for a date becomes date(2024, 1, 15)."""
        kind = attribute.type
        if value is None or kind is None:
            return value
        if not kind.comparable:
            raise QueryError(f"cannot restrict {self._name} by {attribute.name}: {attribute.declared} values are not comparable")
        try:
            return kind.decode(kind.encode(value))
        except ValueError as error:
            raise QueryError(f"cannot restrict {self._name} by {attribute.name}={value!r}: {error}") from None
