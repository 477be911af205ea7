"""Populate: find the missing keys with one indexed anti-join, run the makes, write the rows.

A make never holds the write lock while it computes. For each key the engine reads the
inputs, the executor runs the make outside any transaction, and the rows it returned
(master and parts) are written in one short transaction that first checks that the key
is still missing and that its parent rows still exist.
"""

from __future__ import annotations

import random
import sqlite3
import sys
import time
import traceback
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple

from .errors import (
    DatabaseWriteError,
    DataError,
    DefinitionError,
    DjflowError,
    PopulateError,
    QueryError,
)
from .executors import MakeCall, MakeOutcome
from .jobs import Worker, reclaim_dead_reservations
from .query import Query
from .schema import quote
from .shipped import ShippedInput

if TYPE_CHECKING:
    from .pipeline import Pipeline
    from .table import Table

ORDERS = ("original", "reverse", "random")
PAGE_SIZE = 1000
MIN_RESERVE, MAX_RESERVE = 1, 256
RESERVE_SECONDS = 0.5  # how much work, by the recent pace, one reservation takes at most
DRY_RUN_SHOWN_KEYS = 20


def key_source(table: Table) -> Query:
    """The join of the primary parents' keys (renamed as the references say)."""
    parents = [fk for fk in table.heading.foreign_keys if fk.in_key]
    if not parents:
        raise DefinitionError(
            f"{table.table_name} is {table.tier} but has no '-> Parent' in its primary key; "
            "an auto-populated table needs at least one primary parent to compute from"
        )
    pipeline = table._pipeline
    source = None
    for fk in parents:
        parent = pipeline[fk.parent]
        renames = {child: attr for child, attr in fk.attributes.items() if child != attr}
        keys = parent.proj(**renames) if renames else parent.proj()
        source = keys if source is None else source * keys
    return source


class PendingKey(NamedTuple):
    """One missing key as the pending-keys query lists it: its stored values and its JSON."""

    values: tuple
    key_json: str


@dataclass
class PendingKeys:
    """SQL that lists a table's missing keys, as pages ordered by the key."""

    table: Table
    source: Query
    with_jobs: bool
    order: str = "original"
    names: list[str] = field(init=False)

    def __post_init__(self) -> None:
        self.names = self.source.heading.primary_key
        source_sql, self.params = self.source.sql(self.names)
        target = quote(self.table.table_name)
        match = " AND ".join(f"t.{quote(n)} = ks.{quote(n)}" for n in self.names)
        self.key_json = "json_object(" + ", ".join(f"'{n}', ks.{quote(n)}" for n in self.names) + ")"
        self.base = (
            f"SELECT {', '.join('ks.' + quote(n) for n in self.names)}, {self.key_json} FROM ({source_sql}) AS ks "
            f"WHERE NOT EXISTS (SELECT 1 FROM {target} AS t WHERE {match})"
        )
        if self.with_jobs:
            self.base += (
                " AND NOT EXISTS (SELECT 1 FROM _djflow_jobs AS j WHERE j.table_name = ? "
                f"AND j.key_json = {self.key_json})"
            )
            self.params = [*self.params, self.table.table_name]
        self.row_value = f"({', '.join('ks.' + quote(n) for n in self.names)})"
        direction = " DESC" if self.order == "reverse" else ""
        self.order_sql = ", ".join(f"ks.{quote(n)}{direction}" for n in self.names)

    def page_sql(self, after: tuple | None, size: int) -> tuple[str, list]:
        """The next ``size`` pending keys after ``after`` (keyset pagination, so pages stream)."""
        sql, params = self.base, list(self.params)
        if after is not None:
            comparison = "<" if self.order == "reverse" else ">"
            sql += f" AND {self.row_value} {comparison} ({', '.join('?' * len(after))})"
            params += list(after)
        return f"{sql} ORDER BY {self.order_sql} LIMIT {int(size)}", params

    def count(self) -> int:
        db = self.table._pipeline.db
        return db.scalar(f"SELECT count(*) FROM ({self.base})", self.params)


def restricted_source(table: Table, restrictions: tuple) -> Query:
    source = table.key_source
    for restriction in restrictions:
        source = source & restriction
    return source


def progress(table: Table, *restrictions: Any, display: bool = False) -> tuple[int, int]:
    """``(remaining, total)``: keys of the key source not yet in the table, and all of them."""
    source = restricted_source(table, restrictions)
    pending = PendingKeys(table, source, with_jobs=False)
    try:
        remaining = pending.count()
        total = len(source)
    except sqlite3.Error as error:
        raise QueryError(f"cannot compute the progress of {table._name}: {error}") from None
    if display:
        done = total - remaining
        print(f"{table._name}: {done}/{total} done, {remaining} remaining", file=sys.stderr)
    return remaining, total


def _listened(hook_caller: Any) -> Any:
    """The hook caller, or a function doing nothing when no plugin implements the hook."""
    return hook_caller if hook_caller.get_hookimpls() else _ignore


def _ignore(**_: Any) -> None:
    pass


class Populator:
    """One populate call: its pending keys, its worker identity, its counters."""

    def __init__(self, table: Table, restrictions: tuple, reserve_jobs: bool, order: str):
        if order not in ORDERS:
            raise QueryError(f"unknown populate order {order!r}; use one of {', '.join(ORDERS)}")
        self.table = table
        self.pipeline: Pipeline = table._pipeline
        self.db = self.pipeline.db
        self.reserve_jobs = reserve_jobs
        self.order = order
        self.pending = PendingKeys(table, restricted_source(table, restrictions), reserve_jobs, order)
        try:  # compile the pending-keys query now, so a bad restriction fails before any make runs
            self.db.execute(f"EXPLAIN {self.pending.base}", self.pending.params)
        except sqlite3.Error as error:
            raise QueryError(f"cannot populate {table._name} with these restrictions: {error}") from None
        self.worker = Worker(self.pipeline) if reserve_jobs else None
        self.injections = self.pipeline.injections[table.table_name]
        self.key_names = self.pending.names
        self.key_decoder = self.pending.source._row_decoder(self.key_names)
        self.reserve_size = MIN_RESERVE
        self.make_seconds: float | None = None
        # per-key hooks nobody implements are not called: a pluggy call is a few µs on every key
        self.job_started = _listened(self.pipeline.hook.job_started)
        self.job_succeeded = _listened(self.pipeline.hook.job_succeeded)
        self.stop = False
        self.last_page = False  # the page last listed is the end of the pending keys (as far as known)
        self._prepare_writes()

    # ------------------------------------------------------------ reading keys

    def decode_key(self, pending: PendingKey) -> dict:
        """The key dict a make gets (dates as dates) from a pending key's stored values."""
        values = pending.values
        if self.key_decoder is not None:
            values = self.key_decoder(values)
        return dict(zip(self.key_names, values))

    def pages(self) -> Iterator[list[PendingKey]]:
        """Pending keys, page by page; reserved first when reserving."""
        width = len(self.key_names)
        try:
            for rows in self._pages():
                yield [PendingKey(tuple(row[:width]), row[width]) for row in rows]
        except sqlite3.Error as error:
            raise QueryError(f"cannot list the pending keys of {self.table._name}: {error}") from None

    def _pages(self) -> Iterator[list[tuple]]:
        if self.order == "random":
            sql, params = self.pending.page_sql(None, 2**62)
            listed = self.db.query(sql, params)
            random.shuffle(listed)
            start = 0
            while start < len(listed) and not self.stop:
                size = self.reserve_size if self.reserve_jobs else PAGE_SIZE  # reserve no more than we compute
                page = listed[start : start + size]
                start += size
                self.last_page = start >= len(listed)
                yield self._reserve_listed(page) if self.reserve_jobs else page
            return
        after = None
        while not self.stop:
            size = self.reserve_size if self.reserve_jobs else PAGE_SIZE
            sql, params = self.pending.page_sql(after, size)
            rows = self.worker.reserve(self.table.table_name, sql, params) if self.reserve_jobs else self.db.query(sql, params)
            if not rows:
                if self.reserve_jobs and after is not None:
                    # before stopping, free a dead worker's keys and look again from the start: keys
                    # behind us may be pending again (reclaimed, or released by a stopped worker)
                    reclaim_dead_reservations(self.db)
                    after = None
                    continue
                return
            after = tuple(rows[-1][: len(self.key_names)])
            self.last_page = len(rows) < size
            yield rows

    def _reserve_listed(self, rows: list[tuple]) -> list[tuple]:
        """Reserve keys listed earlier (random order) at once, skipping those taken in the meantime."""
        width = len(self.key_names)
        listed = ", ".join(["(" + ", ".join("?" * width) + ")"] * len(rows))
        sql = f"{self.pending.base} AND {self.pending.row_value} IN (VALUES {listed})"  # by key columns: indexed
        params = [*self.pending.params, *(value for row in rows for value in row[:width])]
        held = {row[-1] for row in self.worker.reserve(self.table.table_name, sql, params)}
        return [row for row in rows if row[-1] in held]

    def adapt_reservation(self, seconds: float) -> None:
        """Size the next reservation to about RESERVE_SECONDS of work at the recent pace.

        Quick makes are reserved in batches (one lock and one transaction for many keys);
        slow ones one at a time, so a worker never sits on keys others could be computing.
        """
        self.make_seconds = seconds if self.make_seconds is None else 0.8 * self.make_seconds + 0.2 * seconds
        wanted = int(RESERVE_SECONDS / max(self.make_seconds, 1e-6))
        self.reserve_size = max(MIN_RESERVE, min(MAX_RESERVE, wanted, 2 * self.reserve_size))

    # ------------------------------------------------------------ calling makes

    def make_call(self, pending: PendingKey, prefetch: bool) -> MakeCall:
        key = self.decode_key(pending)
        kwargs = {}
        for parameter, upstream in self.injections.items():
            if upstream == "key":
                kwargs[parameter] = key
            else:
                query = self.pipeline[upstream] & key
                kwargs[parameter] = ShippedInput.from_query(query, upstream) if prefetch else query
        return MakeCall(self.table.table_name, key, self.table.definition, kwargs)

    # ------------------------------------------------------------ writing rows

    def _prepare_writes(self) -> None:
        table = self.table
        where = " AND ".join(f"{quote(n)} = ?" for n in self.key_names)
        self.exists_sql = f"SELECT 1 FROM {quote(table.table_name)} WHERE {where} LIMIT 1"
        self.parent_checks = []
        for fk in table.heading.foreign_keys:
            if fk.in_key:
                condition = " AND ".join(f"{quote(parent)} = ?" for parent in fk.attributes.values())
                positions = [self.key_names.index(child) for child in fk.attributes]
                self.parent_checks.append((f"SELECT 1 FROM {quote(fk.parent)} WHERE {condition}", positions))
        self.primary_key = table.heading.primary_key
        self.parts = {part.table_name: part for part in table.parts.values()}
        self.part_by_name = {}
        for short, part in table.parts.items():
            self.part_by_name[short] = part
            self.part_by_name[part.table_name] = part

    def rows_from_result(self, key: dict, result: Any) -> tuple[list[tuple], dict[str, list[tuple]]]:
        """Check what a make returned and encode it: master rows and part rows."""
        name = self.table._name
        if result is None:
            raise DataError(f"make of {name} returned nothing for key {key}; return a dict with the row's attributes")
        if isinstance(result, dict):
            results = [result]
        elif isinstance(result, (list, tuple)) and all(isinstance(r, dict) for r in result) and result:
            results = list(result)
        else:
            what = type(result).__name__
            if isinstance(result, (list, tuple)):
                odd = [type(r).__name__ for r in result if not isinstance(r, dict)]
                what = f"{what} of {odd[0]}" if odd else f"empty {what}"
            raise DataError(
                f"make of {name} returned a{'n' if what[0] in 'aeiou' else ''} {what} for key {key}; "
                "return a dict (one row) or a list of dicts"
            )
        masters, parts = [], {}
        for returned in results:
            row = dict(key)
            part_rows = {}
            for attribute, value in returned.items():
                part = self.part_by_name.get(attribute)
                if part is not None:
                    part_rows[part] = value
                elif attribute in key and value != key[attribute] and not self._same_stored(attribute, value, key[attribute]):
                    raise DataError(f"make of {name} returned {attribute}={value!r} but the key being computed has {key[attribute]!r}")
                else:
                    row[attribute] = value
            masters.append(self.table.encode_row(row))
            master_key = {n: row[n] for n in self.primary_key if n in row}
            for part, rows in part_rows.items():
                if isinstance(rows, dict) or not isinstance(rows, (list, tuple)):
                    raise DataError(f"make of {name} returned {part._name} as a {type(rows).__name__}; give a list of dicts")
                parts.setdefault(part.table_name, []).extend(
                    part.encode_row({**r, **master_key}) if isinstance(r, dict) else part.encode_row(r) for r in rows
                )
        return masters, parts

    def _same_stored(self, attribute: str, value: Any, expected: Any) -> bool:
        """True when ``value`` is stored as ``expected`` is ('2024-01-15' and date(2024, 1, 15) are)."""
        kind = self.table.heading.attributes[attribute].type
        try:
            return kind.encode(value, self.pipeline.storage) == kind.encode(expected, self.pipeline.storage)
        except (ValueError, TypeError):
            return False

    def write(self, pending: PendingKey, masters: list[tuple], parts: dict[str, list[tuple]]) -> bool:
        """Write a make's rows in one short transaction; False when the key was done or its inputs vanished."""
        key_values = list(pending.values)
        db = self.db
        conn = db.conn
        with db.transaction():
            if conn.execute(self.exists_sql, key_values).fetchone() is not None:
                self._forget_job(pending)
                return False
            for sql, positions in self.parent_checks:
                if conn.execute(sql, [key_values[i] for i in positions]).fetchone() is None:
                    self._forget_job(pending)
                    return False
            try:
                conn.executemany(self.table._insert_statement(False), masters)
                for part_name, rows in parts.items():
                    conn.executemany(self.parts[part_name]._insert_statement(False), rows)
            except sqlite3.IntegrityError as error:
                raise DataError(f"the rows a make of {self.table._name} returned do not fit: {error}") from None
            self._forget_job(pending)
        return True

    def inputs_gone(self, pending: PendingKey) -> bool:
        """True when a parent row of this key was deleted since the key was listed."""
        key_values = list(pending.values)
        return any(self.db.scalar(sql, [key_values[i] for i in positions]) is None for sql, positions in self.parent_checks)

    def _forget_job(self, pending: PendingKey) -> None:
        if self.reserve_jobs:
            self.db.conn.execute(
                "DELETE FROM _djflow_jobs WHERE table_name = ? AND key_json = ?", (self.table.table_name, pending.key_json)
            )


def populate(
    table: Table,
    *restrictions: Any,
    display_progress: bool = False,
    reserve_jobs: bool = False,
    suppress_errors: bool = False,
    processes: int = 1,
    max_calls: int | None = None,
    order: str = "original",
    stop_on_error: bool | None = None,
    executor: str | None = None,
) -> dict:
    """Compute the rows of ``table`` that are missing for its key source.

    Returns ``{"success_count": n, "error_list": [(key, "ExcType: message"), ...], "skipped_count": n}``.
    Without ``suppress_errors`` the first failure raises :class:`PopulateError`. With
    ``stop_on_error`` (and errors suppressed), no new make starts after a failure.
    """
    if table.definition.make is None:
        raise PopulateError(f"{table._name} is a {table.tier} table; only imported and computed tables are populated")
    if processes < 1:
        raise QueryError(f"processes must be 1 or more, not {processes}")
    pipeline = table._pipeline
    if processes > 1 and pipeline.db_path is None:
        raise PopulateError("processes > 1 needs a database file; an in-memory database cannot be shared")
    if pipeline.db.readonly:
        raise PopulateError(f"cannot populate {table._name}: {pipeline.db.readonly_reason}")
    if pipeline.db.in_transaction:
        raise PopulateError(
            f"{table._name}.populate cannot run inside pipeline.transaction(): its makes would hold the write lock "
            "while they compute; commit first, then populate (each make's rows are written in a transaction of their own)"
        )
    stop_on_error = (not suppress_errors) if stop_on_error is None else stop_on_error
    populator = Populator(table, restrictions, reserve_jobs, order)
    if reserve_jobs:
        reclaim_dead_reservations(pipeline.db)
    chosen = executor or ("processes" if processes > 1 else "local")
    if chosen not in pipeline.executors:
        raise QueryError(f"unknown executor {chosen!r}; installed executors: {', '.join(pipeline.executors)}")
    runner = pipeline.executors[chosen](processes)
    result = {"success_count": 0, "error_list": [], "skipped_count": 0}
    bar = pending = None
    if display_progress or pipeline.hook.populate_started.get_hookimpls():  # count only when someone looks
        pending = populator.pending.count()
        pending = pending if max_calls is None else min(pending, max_calls)
    if display_progress:
        from tqdm import tqdm

        bar = tqdm(total=pending, desc=table._name, file=sys.stderr, unit="key", leave=True)
    pipeline.hook.populate_started(table=table, pending=pending)
    if populator.worker is not None:
        populator.worker.start_heartbeat()
    pending_of: dict[int, PendingKey] = {}
    failure: PopulateError | None = None
    try:
        calls = MakeCalls(populator, runner.prefetch_inputs, max_calls, pending_of)
        for call, outcome in runner.map(calls):
            error = _finish(populator, call, outcome, pending_of.pop(id(call)), result)
            if bar is not None:
                bar.update(1)
            if error is not None:
                if stop_on_error:
                    populator.stop = True
                if not suppress_errors:
                    failure = error
                    break
    finally:
        runner.close()
        if bar is not None:
            bar.close()
        if populator.worker is not None:
            populator.worker.stop_heartbeat()
            try:
                populator.worker.release(table.table_name)
            except (sqlite3.Error, DatabaseWriteError):
                pass  # what is left is reclaimed as a dead worker's reservation
    pipeline.hook.populate_finished(table=table, result=result)
    if failure is not None:
        raise failure
    return result


class MakeCalls:
    """The make calls of one populate, drawn lazily from the pending keys (reserving them as it goes).

    Once the last page of keys is in hand it knows how many calls are left, and says so through
    ``operator.length_hint``, so an executor can send smaller chunks as the work runs out.
    """

    def __init__(self, populator: Populator, prefetch: bool, max_calls: int | None, pending_of: dict):
        self.populator = populator
        self.prefetch = prefetch
        self.max_calls = max_calls
        self.pending_of = pending_of  # the pending key of each call in flight, by id
        self.pages = populator.pages()
        self.page: list[PendingKey] = []
        self.position = 0
        self.drawn = 0

    def __iter__(self) -> MakeCalls:
        return self

    def __next__(self) -> MakeCall:
        populator = self.populator
        if populator.stop or (self.max_calls is not None and self.drawn >= self.max_calls):
            populator.stop = True  # checked before listing more keys: listing reserves them
            raise StopIteration
        while self.position >= len(self.page):
            self.page, self.position = next(self.pages), 0
        pending = self.page[self.position]
        self.position += 1
        self.drawn += 1
        call = populator.make_call(pending, self.prefetch)
        self.pending_of[id(call)] = pending
        populator.job_started(table=populator.table, key=call.key)
        return call

    def __length_hint__(self) -> int:
        left = len(self.page) - self.position if self.populator.last_page else None
        if self.max_calls is not None:
            allowed = self.max_calls - self.drawn
            left = allowed if left is None else min(left, allowed)
        return NotImplemented if left is None else left


def _finish(populator: Populator, call: MakeCall, outcome: MakeOutcome, pending: PendingKey, result: dict) -> PopulateError | None:
    """Write a finished make's rows or record its failure; return the error, if any."""
    table = populator.table
    hook = populator.pipeline.hook
    error, trace = outcome.error, outcome.traceback
    if error is None:
        started = time.perf_counter()
        try:
            masters, parts = populator.rows_from_result(call.key, outcome.result)
            written = populator.write(pending, masters, parts)
        except DatabaseWriteError:
            raise  # a full disk or a read-only file is no fault of the key: stop, record nothing against it
        except DjflowError as rejected:
            error, trace = rejected, f"{type(rejected).__name__}: {rejected}\n"
        except Exception as rejected:  # noqa: BLE001 - e.g. a plugin type failing on what the make returned
            error, trace = rejected, traceback.format_exc()
        else:
            if written:
                result["success_count"] += 1
                populator.job_succeeded(table=table, key=call.key, seconds=outcome.seconds + time.perf_counter() - started)
            else:
                result["skipped_count"] += 1
            if populator.reserve_jobs:
                populator.adapt_reservation(outcome.seconds)
            return None
    if populator.inputs_gone(pending):  # e.g. its inputs were deleted while it ran: the key is gone, not failed
        with populator.db.transaction():
            populator._forget_job(pending)
        result["skipped_count"] += 1
        return None
    message = f"{type(error).__name__}: {error}"
    result["error_list"].append((call.key, message))
    if populator.reserve_jobs:
        populator.worker.record_error(table.table_name, pending.key_json, message, trace)
    hook.job_failed(table=table, key=call.key, exception=error, traceback=trace)
    failure = PopulateError(f"make of {table._name} failed for key {call.key}: {message}", call.key, error)
    failure.__cause__ = error
    return failure


# ---------------------------------------------------------------- pipeline.run


def run_targets(pipeline: Pipeline, names: tuple[str, ...]) -> list[Table]:
    """The auto-populated tables to run, in dependency order: the named ones and what they need."""
    from .graph import ancestors

    if not names:
        wanted = {t.table_name for t in pipeline.tables}
    else:
        wanted = set()
        for name in names:
            table = pipeline[name]
            wanted |= {table.table_name} | ancestors(pipeline.graph, table.table_name)
    return [t for t in pipeline.tables if t.table_name in wanted and t.definition.make is not None]


def tables_where_applies_to(targets: list[Table], where: str) -> set[str]:
    """The tables among ``targets`` whose key attributes the SQL expression ``where`` may restrict.

    ``where`` is checked against each table's key attributes with :func:`djflow.where.check_where`.
    Only an attribute the table's keys lack leaves a table out; any other problem (a syntax
    error, a second statement, ...) raises :class:`~djflow.where.WhereError`, and so does an
    attribute that no table in ``targets`` has in its keys.
    """
    from .where import UnknownAttributeError, WhereError, check_where

    applies = set()
    unknown = None
    for table in targets:
        try:
            check_where(where, table.key_source.heading.names, f"{table._name}'s keys")
        except UnknownAttributeError as error:
            unknown = error
        else:
            applies.add(table.table_name)
    if unknown is not None and not applies:
        keys = "; ".join(f"{t._name}: {', '.join(t.key_source.heading.names)}" for t in targets)
        raise WhereError(f"--where names {unknown.attribute!r}, which no table to run has in its keys ({keys})")
    return applies


def run(
    pipeline: Pipeline,
    *tables: str,
    processes: int = 1,
    dry_run: bool = False,
    keep_going: bool = False,
    where: str | None = None,
    display_progress: bool = False,
    on_table: Any = None,
) -> dict:
    """Populate the auto-populated tables in dependency order, reserving every key.

    Returns per table ``{"computed", "failed", "skipped", "seconds", "errors"}``; with
    ``dry_run`` instead ``{"pending": n, "keys": [first keys]}`` and nothing is written.
    Without ``keep_going``, nothing new starts after the first failure. A table whose key
    source lacks an attribute that ``where`` names is left out (``"skipped_by_where": True``);
    a ``where`` that is not one SQL expression, or names an attribute no table to run has in
    its keys, raises :class:`QueryError` before anything runs.
    """
    targets = run_targets(pipeline, tables)
    if where is not None and not isinstance(where, str):
        raise QueryError(f"run(where=...) takes one SQL expression as text, not a {type(where).__name__}")
    if where:
        where = where.strip()
        applies = tables_where_applies_to(targets, where)
    summary: dict[str, dict] = {}
    failed = False
    for table in targets:
        if where and table.table_name not in applies:
            summary[table.table_name] = {"skipped_by_where": True}
            continue
        restrictions = (where,) if where else ()
        if dry_run:
            pending = PendingKeys(table, restricted_source(table, restrictions), with_jobs=False)
            sql, params = pending.page_sql(None, DRY_RUN_SHOWN_KEYS)
            decode = pending.source._row_decoder(pending.names)  # keys as populate gives them to makes
            rows = [row[:-1] for row in pipeline.db.query(sql, params)]
            keys = [dict(zip(pending.names, decode(row) if decode else row)) for row in rows]
            summary[table.table_name] = {"pending": pending.count(), "keys": keys}
            continue
        if failed and not keep_going:
            summary[table.table_name] = {"computed": 0, "failed": 0, "skipped": 0, "seconds": 0.0, "not_run": True}
            continue
        started = time.perf_counter()
        outcome = populate(
            table, *restrictions, reserve_jobs=True, suppress_errors=True, stop_on_error=not keep_going,
            processes=processes, display_progress=display_progress,
        )
        summary[table.table_name] = {
            "computed": outcome["success_count"],
            "failed": len(outcome["error_list"]),
            "skipped": outcome["skipped_count"],
            "seconds": time.perf_counter() - started,
            "errors": outcome["error_list"],
        }
        failed = failed or bool(outcome["error_list"])
        if on_table is not None:
            on_table(table, summary[table.table_name])
    return summary
