"""Tables: a query over one SQLite table, plus insert, delete and update1."""

from __future__ import annotations

import datetime
import math
import sqlite3
import sys
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from . import cascade
from .declare import TableDef
from .definition import CURRENT_TIMESTAMP, NO_DEFAULT
from .errors import DataError, DuplicateError, IntegrityError, QueryError
from .heading import Attribute, Heading
from .query import Query
from .rowcodec import compile_row_encoder
from .schema import column_list, quote

if TYPE_CHECKING:
    from .pipeline import Pipeline

class Table(Query):
    """One table of a pipeline. Parts are attributes: ``pipeline.Detection.Blob``."""

    def __init__(self, pipeline: Pipeline, table_def: TableDef, heading: Heading):
        super().__init__(pipeline, heading, quote(table_def.name), name=table_def.name.replace("__", "."))
        self.definition = table_def
        self.table_name = table_def.name
        self.tier = table_def.tier
        self.parts: dict[str, Table] = {}
        self._insert_sql: dict[bool, str] = {}
        self._encoders = tuple((a, a.type.encode) for a in heading.attributes.values())
        self._columns = tuple(heading.names)
        self._row_encoder = compile_row_encoder(list(heading.attributes.values()), self._encode_slowly)
        self._names = frozenset(heading.names)

    @property
    def master(self) -> Table | None:
        """The master of a part table (None for other tables)."""
        master = self.definition.master
        return self._pipeline[master.name] if master else None

    def __getattr__(self, name: str) -> Table:
        parts = self.__dict__.get("parts") or {}
        if name in parts:
            return parts[name]
        raise AttributeError(f"table {self.__dict__.get('_name')} has no part or attribute {name!r}")

    def __repr__(self) -> str:
        return f"{self._name} ({self.tier})\n{self.preview()}"

    def describe(self) -> str:
        """The table's definition as declared."""
        return self.definition.definition

    # ------------------------------------------------------------ insert

    def insert1(self, row: Any, skip_duplicates: bool = False, ignore_extra_fields: bool = False) -> None:
        """Insert one row: a dict, or a sequence in heading order."""
        self.insert([row], skip_duplicates=skip_duplicates, ignore_extra_fields=ignore_extra_fields)

    def insert(self, rows: Iterable[Any], skip_duplicates: bool = False, ignore_extra_fields: bool = False) -> int:
        """Insert rows (dicts, sequences or a pandas DataFrame) in one transaction: all or nothing.

        Returns the number of rows inserted.
        """
        if self.definition.is_auto:
            owner = self.definition.master or self.definition
            raise DataError(
                f"{self._name} is {'an' if owner.tier == 'imported' else 'a'} {owner.tier} table: its rows come only from populate; "
                f"run {owner.name}.populate() (or `djflow run {owner.name}`) instead of inserting"
            )
        return self._insert_rows(rows, skip_duplicates, ignore_extra_fields)

    def _insert_rows(self, rows: Iterable[Any], skip_duplicates: bool = False, ignore_extra_fields: bool = False) -> int:
        if type(rows).__name__ == "DataFrame":
            rows = rows.reset_index().to_dict("records") if _has_named_index(rows) else rows.to_dict("records")
        elif isinstance(rows, Mapping):
            raise DataError(f"{self._name}.insert takes a list of rows; use insert1 for a single dict")
        elif not isinstance(rows, Iterable):
            raise DataError(f"{self._name}.insert takes a list of rows, not {type(rows).__name__}")
        encoded = [self.encode_row(row, ignore_extra_fields) for row in rows]
        sql = self._insert_statement(skip_duplicates)
        db = self._pipeline.db
        try:
            with db.transaction():
                before = db.conn.total_changes
                db.conn.executemany(sql, encoded)
                return db.conn.total_changes - before
        except sqlite3.IntegrityError as error:
            raise self._explain_integrity_error(error, encoded) from None

    def _insert_statement(self, skip_duplicates: bool) -> str:
        sql = self._insert_sql.get(skip_duplicates)
        if sql is None:
            names = self.heading.names
            sql = f"INSERT INTO {quote(self.table_name)} ({column_list(names)}) VALUES ({', '.join('?' * len(names))})"
            if skip_duplicates:
                sql += f" ON CONFLICT ({column_list(self.heading.primary_key)}) DO NOTHING"
            self._insert_sql[skip_duplicates] = sql
        return sql

    def encode_row(self, row: Any, ignore_extra_fields: bool = False) -> tuple:
        """Check one row against the heading and return the values to store, in heading order."""
        if isinstance(row, Mapping):
            if not ignore_extra_fields and not self._names.issuperset(row):
                extra = sorted(set(row) - self._names)
                raise DataError(
                    f"{self._name} has no attribute {extra[0]!r}; its attributes are {', '.join(self.heading.names)} "
                    "(pass ignore_extra_fields=True to drop extra fields)"
                )
            get = row.get
            values = [get(name, NO_DEFAULT) for name in self._columns]
        elif isinstance(row, (str, bytes)) or not hasattr(row, "__len__"):
            raise DataError(f"{self._name} rows are dicts or sequences, not {type(row).__name__}")
        elif len(row) != len(self._columns):
            raise DataError(
                f"a {self._name} row given as a sequence needs {len(self._columns)} values "
                f"({', '.join(self.heading.names)}) but has {len(row)}"
            )
        else:
            values = row
        try:
            return self._row_encoder(values)
        except BadValue as bad:
            raise DataError(bad.describe(_show(row))) from None

    def _encode_slowly(self, position: int, value: Any) -> Any:
        """The full check of one value: defaults, NULL, conversion, and the error if it does not fit."""
        attribute, encode = self._encoders[position]
        if value is None or value is NO_DEFAULT or (type(value) not in PLAIN_TYPES and _is_missing(value)):
            value = self._default_or_null(attribute, value)
            if value is None:
                return None
        try:
            return encode(value, self._pipeline.storage)
        except Exception as error:  # noqa: BLE001 - a plugin's type may raise anything for a bad value
            reason = str(error) if isinstance(error, ValueError) else f"{type(error).__name__}: {error}"
            raise BadValue(lambda row: f"{self._name}.{attribute.name} in row {row}: {reason}") from None

    def _encode_value(self, name: str, value: Any, row: Mapping) -> Any:
        """Check one value of ``row`` the way insert does (update1 uses it)."""
        try:
            return self._encode_slowly(self._columns.index(name), value)
        except BadValue as bad:
            raise DataError(bad.describe(_show(row))) from None

    def _default_or_null(self, attribute: Attribute, value: Any) -> Any:
        """What a missing value (not given, None, NaN) becomes: the default, or NULL when allowed."""
        if value is NO_DEFAULT:
            if attribute.required:
                raise BadValue(lambda row: f"{self._name} row {row} has no value for {attribute.name}, which is required")
            value = attribute.default
            if value is CURRENT_TIMESTAMP:
                return datetime.datetime.now().replace(microsecond=0)
            if value is not None:
                return value
        if not attribute.nullable:
            what = "None" if value is None else "NaN"
            raise BadValue(lambda row: f"{self._name}.{attribute.name} cannot be {what}: it is not nullable (row {row})")
        return None

    def _explain_integrity_error(self, error: sqlite3.IntegrityError, encoded: list[tuple]) -> Exception:
        """Turn SQLite's terse constraint error into one naming the row and the fix."""
        message = str(error)
        names = self.heading.names
        key_index = [names.index(n) for n in self.heading.primary_key]
        if "UNIQUE" in message or "PRIMARY KEY" in message:
            seen = set()
            for values in encoded:
                key = tuple(values[i] for i in key_index)
                shown = dict(zip(self.heading.primary_key, key))
                if key in seen:
                    return DuplicateError(
                        f"the rows to insert into {self._name} repeat the key {shown}; each row needs a key of its own"
                    )
                if self._exists(key):
                    return DuplicateError(
                        f"{self._name} already has a row with key {shown}; "
                        "use skip_duplicates=True to skip existing rows, or update1 to change it"
                    )
                seen.add(key)
            return DuplicateError(f"{self._name}: a unique index was violated ({message})")
        if "FOREIGN KEY" in message:
            for values in encoded:
                row = dict(zip(names, values))
                for fk in self.heading.foreign_keys:
                    parent_key = {parent: row[child] for child, parent in fk.attributes.items()}
                    if any(v is None for v in parent_key.values()):
                        continue
                    where = " AND ".join(f"{quote(p)} = ?" for p in parent_key)
                    found = self._pipeline.db.scalar(
                        f"SELECT 1 FROM {quote(fk.parent)} WHERE {where}", list(parent_key.values())
                    )
                    if not found:
                        parent = fk.parent.replace("__", ".")
                        return IntegrityError(
                            f"{self._name} row refers to {parent} {parent_key}, which does not exist; insert that {parent} row first"
                        )
            return IntegrityError(f"{self._name}: a referenced parent row does not exist ({message})")
        return DataError(f"{self._name}: {message}")

    def _exists(self, key: tuple) -> bool:
        where = " AND ".join(f"{quote(n)} = ?" for n in self.heading.primary_key)
        return self._pipeline.db.scalar(f"SELECT 1 FROM {quote(self.table_name)} WHERE {where}", list(key)) is not None

    # ------------------------------------------------------------ delete

    def _check_deletable(self) -> None:
        if self.definition.master is not None:
            master = self.definition.master.name
            raise IntegrityError(
                f"cannot delete rows of part table {self._name} without their master; delete from {master} instead "
                f"(that deletes its parts too)"
            )

    def _restriction_sql(self) -> tuple[str, list]:
        """The WHERE of this restricted table, usable directly on the SQLite table."""
        if self._source != quote(self.table_name):
            raise QueryError(f"only a table restricted by conditions can be deleted from, not {self._name}")
        return self.where_sql()

    def delete_plan(self) -> cascade.DeletePlan:
        """What ``delete()`` would remove: the row count per affected table. Changes nothing."""
        self._check_deletable()
        where, params = self._restriction_sql()
        db = self._pipeline.db
        with db.snapshot():
            try:
                plan = cascade.plan_delete(db, self.table_name, where, params)
            except sqlite3.Error as error:
                raise QueryError(f"cannot plan a delete from {self._name}: {error}") from None
            cascade.clear_marks(db, plan)
        return plan

    def delete(self, safemode: bool | None = None, prompt: Any = None) -> int:
        """Delete these rows and every row that depends on them, in one transaction.

        With ``safemode`` (default: on when a person is at the terminal) the counts per table
        are shown first and the delete happens only if the answer is yes. Returns the number of
        rows deleted from this table.
        """
        self._check_deletable()
        if safemode is None:
            safemode = sys.stdin.isatty() and sys.stdout.isatty()
        shown = None
        if safemode:
            shown = self.delete_plan()
            if not shown.total:
                print(f"Nothing to delete from {self._name}.")
                return 0
            print(f"About to delete:\n{shown.describe()}")
            answer = (prompt or input)("Proceed? [yes/No]: ")
            if answer.strip().lower() not in ("y", "yes"):
                print("Delete cancelled; nothing was deleted.")
                return 0
        deleted = self.delete_cascade(expected=shown)
        if safemode:
            print(f"Deleted {sum(deleted.values())} rows.")
        return deleted.get(self.table_name, 0)

    def delete_cascade(self, expected: cascade.DeletePlan | None = None) -> dict[str, int]:
        """Delete these rows and everything derived from them now, without asking.

        Returns the rows deleted per table. With ``expected`` (a plan shown to someone), the
        delete is refused if the rows to delete changed since.
        """
        where, params = self._restriction_sql()
        db = self._pipeline.db
        with db.transaction():
            try:
                plan = cascade.plan_delete(db, self.table_name, where, params)
            except sqlite3.Error as error:  # turned into a djflow error inside, so the transaction rolls back
                raise QueryError(f"cannot delete from {self._name}: {error}") from None
            if expected is not None and plan.counts != expected.counts:
                cascade.clear_marks(db, plan)
                raise IntegrityError(
                    f"the rows to delete from {self._name} changed since they were shown ({plan.total} rows now); "
                    "nothing was deleted, run the delete again"
                )
            try:
                deleted = cascade.run_delete(db, plan)
            except sqlite3.Error as error:
                raise IntegrityError(f"cannot delete from {self._name}: {error}; nothing was deleted") from None
            cascade.clear_marks(db, plan)
        self._pipeline.hook.rows_deleted(table=self, counts=deleted)
        return deleted

    def delete_quick(self) -> int:
        """Delete these rows without cascading; refused when other rows depend on them."""
        self._check_deletable()
        where, params = self._restriction_sql()
        db = self._pipeline.db
        with db.transaction():
            try:
                return db.execute(f"DELETE FROM {quote(self.table_name)} WHERE {where}", params).rowcount
            except sqlite3.IntegrityError:
                raise IntegrityError(
                    f"cannot delete_quick from {self._name}: other rows depend on these; use delete() to cascade"
                ) from None
            except sqlite3.Error as error:
                raise QueryError(f"cannot delete from {self._name}: {error}") from None

    # ------------------------------------------------------------ update1

    def update1(self, row: Mapping) -> None:
        """Change secondary attributes of exactly one existing row, found by its full primary key.

        Dependents are not touched: for values that feed computations, delete, reinsert and
        populate instead.
        """
        if not isinstance(row, Mapping):
            raise DataError(f"{self._name}.update1 takes a dict with the primary key and the attributes to change")
        key_names = self.heading.primary_key
        missing = [n for n in key_names if n not in row]
        if missing:
            raise DataError(f"{self._name}.update1 needs the whole primary key; {missing[0]!r} is missing")
        unknown = [n for n in row if n not in self.heading.attributes]
        if unknown:
            raise DataError(f"{self._name} has no attribute {unknown[0]!r}; its attributes are {', '.join(self.heading.names)}")
        changes = [n for n in row if n not in key_names]
        if not changes:
            raise DataError(f"{self._name}.update1 got only the primary key; name a secondary attribute to change")
        key_values = [self._encode_value(n, row[n], row) for n in key_names]
        new_values = [self._encode_value(n, row[n], row) for n in changes]
        assignments = ", ".join(f"{quote(n)} = ?" for n in changes)
        where = " AND ".join(f"{quote(n)} = ?" for n in key_names)
        db = self._pipeline.db
        try:
            with db.transaction():
                count = db.execute(
                    f"UPDATE {quote(self.table_name)} SET {assignments} WHERE {where}", new_values + key_values
                ).rowcount
                if count != 1:
                    key = {n: row[n] for n in key_names}
                    raise DataError(f"{self._name} has no row with key {key}; update1 changes an existing row only")
        except sqlite3.IntegrityError as error:
            raise IntegrityError(f"cannot update {self._name}: {error}") from None

    # ------------------------------------------------------------ populate (see populate.py)

    @property
    def key_source(self) -> Query:
        """The keys this table must have: the join of its primary parents' keys."""
        from .populate import key_source

        return key_source(self)

    def populate(self, *restrictions: Any, **options: Any) -> dict:
        """Compute the missing rows; see :func:`djflow.populate.populate` for the options."""
        from .populate import populate

        return populate(self, *restrictions, **options)

    def progress(self, *restrictions: Any, display: bool = False) -> tuple[int, int]:
        """``(remaining, total)`` keys of this table's key source."""
        from .populate import progress

        return progress(self, *restrictions, display=display)


class BadValue(Exception):
    """A value that does not fit; ``describe(row_text)`` is the message naming the row."""

    def __init__(self, describe: Callable[[str], str]):
        super().__init__()
        self.describe = describe


# values that can never mean "missing": checked first because encode_row runs per value
PLAIN_TYPES = frozenset({int, str, bytes, bool})


def _is_missing(value: Any) -> bool:
    """NaN (Python's or numpy's), pandas' NA and NaT: how data frames say "no value"."""
    if isinstance(value, float):
        return math.isnan(value)
    return type(value).__name__ in ("NAType", "NaTType")


def _has_named_index(frame: Any) -> bool:
    return any(name is not None for name in frame.index.names)


def _show(row: Any) -> str:
    text = repr(dict(row) if isinstance(row, Mapping) else row)
    return text if len(text) < 120 else text[:117] + "..."
