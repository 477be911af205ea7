"""The SQLite connection: pragmas, transactions with savepoints, retry when busy.

SQLite has one writer at a time. Every write here runs in ``BEGIN IMMEDIATE`` so a
transaction takes the write lock when it starts (never half-way, which could deadlock),
and waits with a busy timeout plus backoff rather than failing with "database is locked".
"""

from __future__ import annotations

import contextlib
import os
import random
import sqlite3
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .errors import DatabaseWriteError, DjflowError

BUSY_TIMEOUT_MS = 60_000
NETWORK_FILESYSTEMS = {"nfs", "nfs4", "cifs", "smbfs", "smb3", "fuse.sshfs", "afs", "9p", "lustre", "gpfs", "ceph"}


class Database:
    """One connection to a pipeline's SQLite file."""

    def __init__(self, path: str | Path, readonly: bool = False):
        self.path = str(path)
        # a database on a read-only file system can still be read; every write says why it cannot
        self.on_read_only_filesystem = self.path != ":memory:" and read_only_filesystem(Path(self.path))
        self.readonly = readonly or self.on_read_only_filesystem
        self.depth = 0
        self.reading = False  # inside snapshot(): a read transaction
        # read as immutable only when no change waits in the -wal file: an immutable reader skips it
        immutable = self.on_read_only_filesystem and not unmerged_wal(self.path)
        self.conn = _connect(self.path, self.readonly, immutable=immutable)

    @property
    def readonly_reason(self) -> str:
        """Why nothing can be written, in words for an error message."""
        if self.on_read_only_filesystem:
            return (f"the database {self.path} is on a read-only file system; mount it read-write, "
                    "or copy it somewhere writable and point --db at the copy")
        return f"the database {self.path} is open read-only (readonly=True)"

    def close(self) -> None:
        """Close the connection (any open transaction is rolled back)."""
        self.conn.close()

    def execute(self, sql: str, params: Any = ()) -> sqlite3.Cursor:
        """Run one statement, turning "busy" into waiting and other failures into djflow errors."""
        return with_busy_retry(lambda: self.conn.execute(sql, params))

    def query(self, sql: str, params: Any = ()) -> list[tuple]:
        """All rows of a query."""
        return self.execute(sql, params).fetchall()

    def scalar(self, sql: str, params: Any = ()) -> Any:
        """The first column of the first row (None when there is no row)."""
        row = self.execute(sql, params).fetchone()
        return row[0] if row else None

    @property
    def in_transaction(self) -> bool:
        return self.depth > 0

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Database]:
        """A write transaction; nested use is a savepoint. An exception rolls back everything in it."""
        if self.readonly:
            raise DatabaseWriteError(f"nothing was written: {self.readonly_reason}")
        if self.reading:
            raise DjflowError("a write cannot start inside a read snapshot; finish reading first")
        if self.depth == 0:
            try:
                with_busy_retry(lambda: self.conn.execute("BEGIN IMMEDIATE"))
            except sqlite3.Error as error:
                raise write_failure(self.path, error) from None
            self.depth = 1
            try:
                yield self
            except sqlite3.OperationalError as error:
                self.depth = 0
                self.conn.rollback()
                if primary_code(error) in WRITE_FAILURE_CODES:
                    raise write_failure(self.path, error) from None
                raise
            except BaseException:
                self.depth = 0
                self.conn.rollback()
                raise
            self.depth = 0
            try:
                with_busy_retry(lambda: self.conn.execute("COMMIT"))
            except sqlite3.Error as error:
                if self.conn.in_transaction:
                    self.conn.rollback()
                raise write_failure(self.path, error) from None
            return
        name = f"djflow_{self.depth}"
        self.conn.execute(f"SAVEPOINT {name}")
        self.depth += 1
        try:
            yield self
        except BaseException:
            self.depth -= 1
            self.conn.execute(f"ROLLBACK TO {name}")
            self.conn.execute(f"RELEASE {name}")
            raise
        self.depth -= 1
        self.conn.execute(f"RELEASE {name}")

    @contextlib.contextmanager
    def snapshot(self) -> Iterator[Database]:
        """A read transaction: every query inside sees the same state of the database.

        Not for writing: a write transaction cannot be opened inside it.
        """
        if self.depth > 0 or self.conn.in_transaction:
            yield self
            return
        self.conn.execute("BEGIN")
        self.reading = True
        try:
            yield self
        finally:
            self.reading = False
            self.conn.execute("COMMIT")


def write_failure(path: str, error: sqlite3.Error) -> DatabaseWriteError:
    """A one-line error for a write SQLite refused (read-only file, full disk, I/O error); nothing was written."""
    message = str(error)
    code = primary_code(error)
    if code == sqlite3.SQLITE_READONLY:
        hint = "make the file and its folder writable, or point --db at a writable copy"
    elif code == sqlite3.SQLITE_FULL:
        hint = "free disk space and run again"
    else:
        hint = "check the disk and the file's permissions"
    return DatabaseWriteError(f"cannot write to {path}: {message}; nothing was written, {hint}")


def open_failure(path: str, error: sqlite3.Error) -> DjflowError:
    """A one-line error for a database SQLite could not open, saying why as well as the file system tells."""
    message = str(error)
    if "not a database" in message:
        return DjflowError(f"{path} cannot be opened as a SQLite database ({message}); point --db at a djflow database")
    file = Path(path)
    if file.is_dir():
        why = "it is a folder; point --db at a database file"
    elif not file.parent.is_dir():
        why = f"the folder {file.parent} does not exist"
    elif read_only_filesystem(file.parent) and unmerged_wal(path):
        why = (f"the changes in {file.name}-wal were never merged into it, and SQLite cannot merge them on a "
               "read-only file system; mount it read-write once (any djflow command merges them)")
    elif read_only_filesystem(file.parent):
        why = "its folder is on a read-only file system, where a new database cannot be made"
    elif disk_full(file.parent):
        why = "the disk holding it is full (SQLite needs room for its -wal and -shm files); free disk space and run again"
    else:
        why = "check the disk and the permissions of the file and its folder"
    return DjflowError(f"cannot open the database {path} ({message}): {why}")


def read_only_filesystem(path: Path) -> bool:
    """True when ``path`` (or, if it does not exist, its folder) is on a file system mounted read-only."""
    target = path if path.exists() else path.parent
    try:
        return bool(os.statvfs(target).f_flag & os.ST_RDONLY)
    except OSError:
        return False


def unmerged_wal(path: str) -> bool:
    """True when the database's -wal file holds changes not yet merged into the file itself."""
    try:
        return os.path.getsize(path + "-wal") > 0
    except OSError:
        return False


def disk_full(folder: Path) -> bool:
    try:
        return os.statvfs(folder).f_bavail == 0
    except OSError:
        return False


def _connect(path: str, readonly: bool, immutable: bool = False) -> sqlite3.Connection:
    try:
        if readonly:
            # on a read-only file system SQLite cannot make the -shm file a WAL reader needs; nothing
            # can change the file there, so it may be read as immutable
            uri = Path(path).resolve().as_uri() + ("?mode=ro&immutable=1" if immutable else "?mode=ro")
            conn = sqlite3.connect(uri, uri=True, isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000)
        else:
            conn = sqlite3.connect(path, isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000)
    except sqlite3.Error as error:
        raise open_failure(path, error) from None
    try:
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        if not readonly and path != ":memory:":
            with_busy_retry(lambda: conn.execute("PRAGMA journal_mode = WAL").fetchone())
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA temp_store = MEMORY")
        conn.execute("PRAGMA cache_size = -65536")
        conn.execute("SELECT count(*) FROM sqlite_schema").fetchone()
    except sqlite3.DatabaseError as error:
        conn.close()
        raise open_failure(path, error) from None
    return conn


def primary_code(error: sqlite3.Error) -> int | None:
    """SQLite's primary result code of ``error`` (SQLITE_BUSY, SQLITE_FULL, ...), if it has one."""
    code = getattr(error, "sqlite_errorcode", None)
    return None if code is None else code & 0xFF


BUSY_CODES = {sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED}
# failures of the write itself (as opposed to a bad statement): a transaction reports these as such
WRITE_FAILURE_CODES = BUSY_CODES | {sqlite3.SQLITE_READONLY, sqlite3.SQLITE_FULL, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_CANTOPEN}


def with_busy_retry(action, attempts: int = 20):
    """Run ``action``; if SQLite reports the database busy or locked, wait with backoff and retry.

    SQLite's busy timeout already waits inside most calls; this covers the cases where SQLite
    answers busy at once (such as a stale read snapshot).
    """
    delay = 0.005
    for attempt in range(attempts):
        try:
            return action()
        except sqlite3.OperationalError as error:
            if primary_code(error) not in BUSY_CODES or attempt == attempts - 1:
                raise
            time.sleep(delay * (1 + random.random()))
            delay = min(delay * 2, 1.0)
    raise AssertionError("unreachable")


def filesystem_type(path: Path) -> str | None:
    """The filesystem type holding ``path`` according to /proc/mounts (Linux), else None."""
    try:
        mounts = Path("/proc/mounts").read_text().splitlines()
    except OSError:
        return None
    target = str(path.resolve())
    best, best_type = "", None
    for line in mounts:
        fields = line.split()
        if len(fields) >= 3 and (target == fields[1] or target.startswith(fields[1].rstrip("/") + "/")):
            if len(fields[1]) > len(best):
                best, best_type = fields[1], fields[2]
    return best_type


def warn_if_network_filesystem(path: Path) -> None:
    """Print a warning to stderr when the database sits on a network filesystem."""
    kind = filesystem_type(path.parent)
    if kind in NETWORK_FILESYSTEMS:
        print(
            f"Warning: {path} is on a network filesystem ({kind}); SQLite locking is unreliable there. "
            "Keep the database on a local disk (set DJFLOW_DB).",
            file=sys.stderr,
        )


def process_start_time(pid: int) -> str | None:
    """When process ``pid`` started (Linux: clock ticks since boot), to tell a reused pid apart."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]


def pid_alive(pid: int, started: str | None) -> bool:
    """True when process ``pid`` exists on this host and (if known) started at ``started``."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    if started is not None:
        current = process_start_time(pid)
        if current is not None and current != started:
            return False
    return True
