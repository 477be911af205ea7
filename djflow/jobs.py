"""Job reservations in ``_djflow_jobs``: reserve, heartbeat, record errors, reclaim dead workers.

A worker reserves keys before computing them, holding a file lock only for the moment of
reserving. Each reservation records the host, the process id (with the process's start
time, so a reused pid is not mistaken for the worker) and a heartbeat. A reservation whose
process is gone is deleted the next time anyone reserves or looks at the jobs: at once for
a process on this host, after ``DJFLOW_HEARTBEAT_TIMEOUT`` seconds without a heartbeat for
one on another host.
"""

from __future__ import annotations

import os
import socket
import sqlite3
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

from filelock import FileLock

from .db import Database, pid_alive, process_start_time
from .errors import DatabaseWriteError, DjflowError, QueryError

if TYPE_CHECKING:
    from .pipeline import Pipeline

HOST = socket.gethostname()
HEARTBEAT_SECONDS = float(os.environ.get("DJFLOW_HEARTBEAT_SECONDS", 20))
HEARTBEAT_TIMEOUT = float(os.environ.get("DJFLOW_HEARTBEAT_TIMEOUT", 300))


class Worker:
    """This process as the jobs table sees it: host, pid, start time; and its heartbeat thread."""

    def __init__(self, pipeline: Pipeline):
        self.pipeline = pipeline
        self.db = pipeline.db
        self.pid = os.getpid()
        self.pid_started = process_start_time(self.pid)
        self.lock = FileLock(lock_path(pipeline))
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def reserve(self, table: str, pending_sql: str, params: list) -> list[tuple]:
        """Reserve the pending keys ``pending_sql`` selects (its last column is the key's JSON).

        Returns the selected rows that this worker now holds.
        """
        now = time.time()
        try:
            self.lock.acquire()
        except OSError as error:
            raise DjflowError(
                f"cannot create the lock file {self.lock.lock_file} ({error.strerror}); workers take turns "
                "reserving keys under it, so remove whatever is in its place or make its folder writable"
            ) from None
        try:
            with self.db.transaction():
                rows = self.db.query(pending_sql, params)
                self.db.conn.executemany(
                    "INSERT INTO _djflow_jobs (table_name, key_json, status, host, pid, pid_started, heartbeat, "
                    "started) VALUES (?, ?, 'reserved', ?, ?, ?, ?, ?)",
                    [(table, row[-1], HOST, self.pid, self.pid_started, now, now) for row in rows],
                )
        finally:
            self.lock.release()
        return rows

    def release(self, table: str | None = None) -> int:
        """Drop this process's reservations (of ``table``, or all)."""
        sql = "DELETE FROM _djflow_jobs WHERE status = 'reserved' AND host = ? AND pid = ?"
        params: list = [HOST, self.pid]
        if table is not None:
            sql += " AND table_name = ?"
            params.append(table)
        with self.db.transaction():
            return self.db.execute(sql, params).rowcount

    def record_error(self, table: str, key_json: str, message: str, traceback: str) -> None:
        """Mark a reserved key as failed; it is skipped until the error is cleared."""
        with self.db.transaction():
            self.db.execute(
                "INSERT OR REPLACE INTO _djflow_jobs (table_name, key_json, status, host, pid, pid_started, heartbeat, "
                "started, error_message, error_traceback) VALUES (?, ?, 'error', ?, ?, ?, ?, ?, ?, ?)",
                (table, key_json, HOST, self.pid, self.pid_started, time.time(), time.time(), message, traceback),
            )

    def start_heartbeat(self) -> None:
        """Refresh this process's reservations every HEARTBEAT_SECONDS from a background thread."""
        if self._thread is not None or self.pipeline.db_path is None:
            return
        self._thread = threading.Thread(target=self._beat, name="djflow-heartbeat", daemon=True)
        self._thread.start()

    def stop_heartbeat(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def _beat(self) -> None:
        db = Database(self.pipeline.db_path)
        try:
            while not self._stop.wait(HEARTBEAT_SECONDS):
                try:
                    with db.transaction():
                        db.execute(
                            "UPDATE _djflow_jobs SET heartbeat = ? WHERE status = 'reserved' AND host = ? AND pid = ?",
                            (time.time(), HOST, self.pid),
                        )
                except DatabaseWriteError:
                    continue  # e.g. a full disk: the populate itself reports it; the next beat tries again
        finally:
            db.close()


def lock_path(pipeline: Pipeline) -> Path:
    """The reservation lock file beside the database."""
    if pipeline.db_path is None:
        return pipeline.project_dir / ".djflow" / "jobs.lock"
    return pipeline.db_path.with_name(pipeline.db_path.name + ".jobs.lock")


def reclaim_dead_reservations(db: Database) -> int:
    """Delete reservations whose worker is gone; return how many were reclaimed."""
    if db.readonly:
        return 0
    dead = []
    now = time.time()
    for table, key_json, host, pid, started, heartbeat in db.query(
        "SELECT table_name, key_json, host, pid, pid_started, heartbeat FROM _djflow_jobs WHERE status = 'reserved'"
    ):
        if host == HOST:
            gone = pid is None or not pid_alive(pid, started)
        else:
            gone = heartbeat is None or now - heartbeat > HEARTBEAT_TIMEOUT
        if gone:
            dead.append((table, key_json, host, pid, started, heartbeat))
    if dead:
        # only the row as it was read: since the SELECT, the key may have been reclaimed and reserved
        # again by a live worker (or a slow remote worker may have beaten), and that must stay
        with db.transaction():
            db.conn.executemany(
                "DELETE FROM _djflow_jobs WHERE table_name = ? AND key_json = ? AND status = 'reserved' "
                "AND host IS ? AND pid IS ? AND pid_started IS ? AND heartbeat IS ?", dead
            )
    return len(dead)


def job_rows(db: Database, table: str | None = None, status: str | None = None) -> list[dict]:
    """Reserved and failed jobs, newest first."""
    sql = (
        "SELECT table_name, key_json, status, host, pid, started, heartbeat, error_message, error_traceback "
        "FROM _djflow_jobs WHERE 1"
    )
    params: list = []
    if table is not None:
        sql += " AND table_name = ?"
        params.append(table)
    if status is not None:
        sql += " AND status = ?"
        params.append(status)
    names = ["table", "key", "status", "host", "pid", "started", "heartbeat", "error_message", "error_traceback"]
    return [dict(zip(names, row)) for row in db.query(sql + " ORDER BY started DESC", params)]


def clear_errors(db: Database, table: str | None = None, where_keys: list[str] | None = None) -> int:
    """Delete failed jobs (of ``table``; of the keys given as JSON) so they run again."""
    sql = "DELETE FROM _djflow_jobs WHERE status = 'error'"
    params: list = []
    if table is not None:
        sql += " AND table_name = ?"
        params.append(table)
    with db.transaction():
        if where_keys is None:
            return db.execute(sql, params).rowcount
        # json() writes the key as SQLite does ('{"n":1}'), so Python's json.dumps spacing matches too
        try:
            return sum(db.execute(sql + " AND key_json = json(?)", [*params, key]).rowcount for key in where_keys)
        except sqlite3.OperationalError as error:
            raise QueryError(f"cannot clear errors: {error}; give each key as a JSON object, e.g. '{{\"n\": 1}}'") from None
