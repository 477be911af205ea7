"""Query expressions: restriction, antijoin, join, projection, aggregation and fetch.

A query is a FROM clause plus a list of WHERE conditions and a heading. Restricting adds
a condition (no nesting), so ``Table & key`` stays a plain indexed lookup. Projection with
renames, joins and aggregations wrap their operands as subqueries, which SQLite flattens.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from .errors import DataError, QueryError
from .heading import Attribute, Heading
from .schema import column_list, quote
from .types import AttributeType

if TYPE_CHECKING:
    from .pipeline import Pipeline

ORDER_DIRECTIONS = {"asc", "desc"}


class Relation:
    """What every relation can do once it can list its rows: fetch, fetch1, len, iteration.

    Subclasses provide ``heading``, ``_name``, ``_rows(names, order_by, limit, offset)`` and
    ``_check_attributes``.
    """

    heading: Heading
    _name: str

    def _check_attributes(self, names: Iterable[str]) -> None:
        for name in names:
            if name not in self.heading.attributes:
                raise QueryError(
                    f"{self._name} has no attribute {name!r}; its attributes are {', '.join(self.heading.names)}"
                )

    @property
    def primary_key(self) -> list[str]:
        return self.heading.primary_key

    def fetch(
        self,
        *attributes: str,
        as_dict: bool = False,
        order_by: str | list[str] | None = None,
        limit: int | None = None,
        offset: int | None = None,
        format: str | None = None,
    ) -> Any:
        """Rows of this query.

        No attributes: a list of dicts. One attribute: a list of its values. Several: a tuple
        of lists, one per attribute (DataJoint's order). ``as_dict=True``: a list of dicts
        with those attributes. ``"KEY"`` stands for the primary key as dicts.
        ``format="frame"``: a pandas DataFrame indexed by the primary key.
        """
        if attributes == ("KEY",):
            names = self.heading.primary_key
            return [dict(zip(names, row)) for row in self._rows(names, order_by, limit, offset)]
        if "KEY" in attributes:
            raise QueryError("'KEY' must be fetched alone: fetch('KEY')")
        self._check_attributes(attributes)
        names = list(attributes) or self.heading.names
        rows = self._rows(names, order_by, limit, offset)
        if format == "frame":
            return self._frame(names, list(rows))
        if format not in (None, "array"):
            raise QueryError(f"unknown fetch format {format!r}; use format='frame' or leave it out")
        if as_dict or not attributes:
            return [dict(zip(names, row)) for row in rows]
        if len(names) == 1:
            return [row[0] for row in rows]
        columns: tuple[list, ...] = tuple([] for _ in names)
        for row in rows:
            for column, value in zip(columns, row):
                column.append(value)
        return columns

    def _frame(self, names: list[str], rows: list) -> Any:
        import pandas

        frame = pandas.DataFrame.from_records([tuple(r) for r in rows], columns=names)
        index = [n for n in self.heading.primary_key if n in names]
        return frame.set_index(index) if index else frame

    def fetch1(self, *attributes: str) -> Any:
        """Exactly one row: a dict, the value of one attribute, or a tuple of several."""
        names = self.heading.primary_key if attributes == ("KEY",) else list(attributes) or self.heading.names
        self._check_attributes(names)
        rows = list(self._rows(names, limit=2))
        if len(rows) != 1:
            count = 0 if not rows else self._count()
            raise QueryError(
                f"fetch1 needs exactly one row of {self._name} but {count or 'none'} matched; "
                f"restrict it to one row first, e.g. ({self._name} & key).fetch1()"
            )
        row = rows[0]
        if attributes == ("KEY",) or not attributes:
            return dict(zip(names, row))
        return row[0] if len(names) == 1 else tuple(row)

    def __len__(self) -> int:
        return self._count()

    def __bool__(self) -> bool:
        return any(True for _ in self._rows(self.heading.primary_key[:1] or self.heading.names[:1], limit=1))

    def __iter__(self) -> Iterator[dict]:
        names = self.heading.names
        for row in self._rows(names):
            yield dict(zip(names, row))

    def __repr__(self) -> str:
        return self.preview()

    def preview(self, limit: int = 10) -> str:
        """A small text table of the first rows, as DataJoint shows in a notebook."""
        names = self.heading.names
        shown = [self.heading.attributes[n] for n in names]
        rows = [[_short(v, a) for v, a in zip(row, shown)] for row in self._rows(names, limit=limit)]
        headers = [("*" if a.in_key else "") + a.name for a in shown]
        widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(headers)]
        lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths))]
        lines.append("  ".join("-" * w for w in widths))
        lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths)) for r in rows]
        total = len(self)
        if total > len(rows):
            lines.append(f"... ({total} rows)")
        else:
            lines.append(f"({total} row{'s' if total != 1 else ''})")
        return "\n".join(lines)




class Query(Relation):

    """A query expression over a pipeline's tables (DataJoint semantics)."""

    def __init__(
        self,
        pipeline: Pipeline,
        heading: Heading,
        source: str,
        source_params: tuple = (),
        conditions: tuple[str, ...] = (),
        condition_params: tuple = (),
        name: str = "query",
    ):
        self._pipeline = pipeline
        self.heading = heading
        self._source = source
        self._source_params = source_params
        self._conditions = conditions
        self._condition_params = condition_params
        self._name = name

    # ------------------------------------------------------------ building queries

    def _derive(self, **changes: Any) -> Query:
        """A copy with some fields changed; a restricted table stays a Table (it can be deleted from)."""
        derived = object.__new__(type(self))
        derived.__dict__.update(self.__dict__)
        for name, value in changes.items():
            setattr(derived, "_" + name if name != "heading" else name, value)
        return derived

    def restrict(self, restriction: Any, negate: bool = False) -> Query:
        """Rows that match ``restriction`` (or, with ``negate``, that do not)."""
        condition, params = self._condition(restriction)
        if negate:
            condition = f"NOT ({condition})"
        if condition == "1":
            return self
        return self._derive(
            conditions=self._conditions + (condition,),
            condition_params=self._condition_params + tuple(params),
        )

    def __and__(self, restriction: Any) -> Query:
        return self.restrict(restriction)

    def __sub__(self, restriction: Any) -> Query:
        return self.restrict(restriction, negate=True)

    def __mul__(self, other: Query) -> Query:
        return self.join(other)

    def join(self, other: Query, left: bool = False) -> Query:
        """The natural join with ``other`` on their common attributes."""
        if not isinstance(other, Query):
            raise QueryError(f"cannot join {self._name} with a {type(other).__name__}; join two tables or queries")
        attributes = dict(self.heading.attributes)
        for name, attribute in other.heading.attributes.items():
            if name not in attributes:
                attributes[name] = _copy_attribute(attribute, in_key=attribute.in_key)
        left_sql, left_params = self.sql()
        right_sql, right_params = other.sql()
        kind = "NATURAL LEFT JOIN" if left else "NATURAL JOIN"
        return Query(
            self._pipeline,
            Heading(attributes),
            f"({left_sql}) {kind} ({right_sql})",
            tuple(left_params) + tuple(right_params),
            name=f"({self._name} * {other._name})",
        )

    def proj(self, *attributes: Any, **renames: str) -> Query:
        """Keep the primary key and ``attributes``; ``new='old'`` renames, ``new='expr'`` computes."""
        keep = list(self.heading.primary_key)
        for attribute in attributes:
            if attribute is Ellipsis or attribute == "...":
                keep += [a for a in self.heading.names if a not in keep]
                continue
            self._check_attributes([attribute])
            if attribute not in keep:
                keep.append(attribute)
        if not renames:
            heading = Heading({n: self.heading.attributes[n] for n in keep})
            return Query(self._pipeline, heading, self._source, self._source_params, self._conditions,
                         self._condition_params, self._name)
        renamed_away = {old for old in renames.values() if old in self.heading.attributes}
        select: list[str] = []
        attributes_out: dict[str, Attribute] = {}
        for name in keep:
            if name in renamed_away and name not in renames:
                continue
            select.append(quote(name))
            attributes_out[name] = self.heading.attributes[name]
        for new, expression in renames.items():
            if expression in self.heading.attributes:
                source_attribute = self.heading.attributes[expression]
                select.append(f"{quote(expression)} AS {quote(new)}")
                attributes_out[new] = _copy_attribute(source_attribute, name=new)
            else:
                select.append(f"({expression}) AS {quote(new)}")
                attributes_out[new] = Attribute(new, None)
        inner_sql, inner_params = self._select_sql(", ".join(select))
        return Query(self._pipeline, Heading(attributes_out), f"({inner_sql})", tuple(inner_params), name=self._name)

    def aggr(self, other: Query, keep_all_rows: bool = False, **expressions: str) -> Query:
        """One row per row of this query with SQL aggregates over the matching rows of ``other``."""
        if not expressions:
            raise QueryError("aggr needs at least one aggregate, e.g. n='count(*)'")
        joined = self.join(other, left=keep_all_rows)
        select = [quote(n) for n in self.heading.names]
        attributes = dict(self.heading.attributes)
        for name, expression in expressions.items():
            select.append(f"({expression}) AS {quote(name)}")
            attributes[name] = Attribute(name, None)
        inner_sql, inner_params = joined._select_sql(", ".join(select))
        inner_sql += f" GROUP BY {column_list(self.heading.primary_key)}"
        return Query(self._pipeline, Heading(attributes), f"({inner_sql})", tuple(inner_params), name=f"{self._name}.aggr")

    # ------------------------------------------------------------ SQL

    def _select_sql(self, select: str, order_by: str = "", limit: int | None = None, offset: int | None = None) -> tuple[str, list]:
        sql = f"SELECT {select} FROM {self._source}"
        if self._conditions:
            sql += " WHERE " + " AND ".join(self._conditions)
        if order_by:
            sql += f" ORDER BY {order_by}"
        if limit is not None or offset:
            sql += f" LIMIT {int(limit) if limit is not None else -1}"  # -1: no limit, only the offset
            if offset:
                sql += f" OFFSET {int(offset)}"
        return sql, [*self._source_params, *self._condition_params]

    def sql(self, attributes: Iterable[str] | None = None) -> tuple[str, list]:
        """The SELECT statement of this query and its parameters."""
        names = list(attributes) if attributes is not None else self.heading.names
        return self._select_sql(column_list(names))

    def where_sql(self) -> tuple[str, list]:
        """The WHERE conditions of this query over its source (``"1"`` when there are none)."""
        return (" AND ".join(self._conditions) or "1"), list(self._condition_params)

    def _execute(self, sql: str, params: list) -> sqlite3.Cursor:
        try:
            return self._pipeline.db.execute(sql, params)
        except sqlite3.Error as error:
            raise self._query_error(error) from None

    def _query_error(self, error: sqlite3.Error) -> QueryError:
        return QueryError(f"cannot query {self._name}: {error}; its attributes are {', '.join(self.heading.names)}")

    def _condition(self, restriction: Any) -> tuple[str, list]:
        if isinstance(restriction, Query):
            return self._semijoin_condition(restriction)
        if isinstance(restriction, str):
            if not restriction.strip():
                return "1", []
            return f"({restriction})", []
        if isinstance(restriction, Mapping):
            return self._dict_condition(restriction)
        if isinstance(restriction, bool):
            return ("1" if restriction else "0"), []
        if type(restriction).__name__ == "DataFrame":
            restriction = restriction.to_dict("records")
        if isinstance(restriction, (list, tuple, set)):
            if not restriction:
                return "0", []
            parts, params = [], []
            for item in restriction:
                condition, item_params = self._condition(item)
                if condition == "1":
                    return "1", []
                parts.append(condition)
                params += item_params
            return "(" + " OR ".join(parts) + ")", params
        raise QueryError(
            f"cannot restrict {self._name} by a {type(restriction).__name__}; use a dict, an SQL string, a list or a query"
        )

    def _dict_condition(self, restriction: Mapping) -> tuple[str, list]:
        parts, params = [], []
        for name, value in restriction.items():
            attribute = self.heading.attributes.get(name)
            if attribute is None:
                continue  # DataJoint semantics: only the attributes in common restrict
            if value is None:
                parts.append(f"{quote(name)} IS NULL")
                continue
            parts.append(f"{quote(name)} = ?")
            params.append(self._encode_for_comparison(attribute, value))
        return (" AND ".join(parts) or "1"), params

    def _encode_for_comparison(self, attribute: Attribute, value: Any) -> Any:
        if attribute.type is None:
            return value
        if not attribute.type.comparable:
            raise QueryError(f"cannot restrict {self._name} by {attribute.name}: {attribute.declared} values are not comparable")
        try:
            return attribute.type.encode(value, self._pipeline.storage)
        except ValueError as error:
            raise QueryError(f"cannot restrict {self._name} by {attribute.name}={value!r}: {error}") from None

    def _semijoin_condition(self, other: Query) -> tuple[str, list]:
        common = [n for n in self.heading.names if n in other.heading.attributes]
        other_sql, other_params = other.sql(common or ["1"])
        if not common:
            return f"EXISTS ({other_sql})", other_params
        left = quote(common[0]) if len(common) == 1 else f"({column_list(common)})"
        return f"{left} IN ({other_sql})", other_params

    def _order_sql(self, order_by: str | list[str] | None) -> str:
        if order_by is None:
            return ""
        items = [order_by] if isinstance(order_by, str) else list(order_by)
        clauses = []
        for item in items:
            words = item.split()
            if not words or len(words) > 2 or (len(words) == 2 and words[1].lower() not in ORDER_DIRECTIONS):
                raise QueryError(f"cannot order {self._name} by {item!r}; write 'attribute' or 'attribute desc'")
            direction = f" {words[1].upper()}" if len(words) == 2 else ""
            names = self.heading.primary_key if words[0] == "KEY" else [words[0]]
            self._check_attributes(names)
            clauses += [quote(n) + direction for n in names]
        return ", ".join(clauses)

    # ------------------------------------------------------------ fetching

    def _row_decoder(self, names: list[str]):
        storage = self._pipeline.storage
        decoders = []
        for index, name in enumerate(names):
            attribute_type = self.heading.attributes[name].type
            if attribute_type is not None and type(attribute_type).decode is not AttributeType.decode:
                decoders.append((index, name, attribute_type.decode))
        if not decoders:
            return None

        def decode(row: tuple) -> list:
            values = list(row)
            for index, name, decoder in decoders:
                if values[index] is not None:
                    try:
                        values[index] = decoder(values[index], storage)
                    except ValueError as error:  # e.g. bytes some other tool wrote into a blob
                        raise DataError(f"cannot read {self._name}.{name}: {error}") from None
            return values

        return decode

    def _rows(self, names: list[str], order_by=None, limit=None, offset=None) -> Iterator[tuple | list]:
        order = self._order_sql(order_by)
        sql, params = self._select_sql(column_list(names), order, limit, offset)
        cursor = self._execute(sql, params)
        decode = self._row_decoder(names)
        return self._read(cursor if decode is None else map(decode, cursor))

    def _read(self, rows: Iterator) -> Iterator:
        """Rows from a cursor; SQLite can fail on any row (malformed JSON, overflow), not only the first."""
        try:
            yield from rows
        except sqlite3.Error as error:
            raise self._query_error(error) from None

    def _count(self) -> int:
        sql, params = self._select_sql("count(*)")
        return self._execute(sql, params).fetchone()[0]

    def __bool__(self) -> bool:
        sql, params = self._select_sql("1", limit=1)
        return self._execute(sql, params).fetchone() is not None


def _short(value: Any, attribute: Attribute) -> str:
    if attribute.type is not None and attribute.type.sql_type == "BLOB":
        return "=BLOB="
    text = f"{value:.6g}" if type(value) is float else str(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _copy_attribute(attribute: Attribute, **changes: Any) -> Attribute:
    fields = dict(attribute.__dict__)
    fields.update(changes)
    return Attribute(**fields)
