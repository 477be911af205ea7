"""What the stress scripts share: the project they build, how they start ``djflow``, and the checks.

The project is a manual ``Source`` (one row per key ``n``) with a manual child ``Note``
and a computed ``Result`` whose part ``Result.Piece`` gets ``n % 4 + 1`` rows, so the
part count of every key is known in advance. The make sleeps a random time between the
two numbers (seconds) in the file ``make_delay`` and appends ``"<n> <pid>"`` to
``makes.log`` just before it returns, so a script can count how often each key was
computed.

Every check reads the database with plain ``sqlite3``, as any SQLite tool would, and
returns a list of violations (empty: all is well).
"""

from __future__ import annotations

import collections
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

PIPEFILE = '''
import os
import random
import time
from pathlib import Path

import djflow

HERE = Path(__file__).parent


def make_delay():
    path = HERE / "make_delay"
    low, high = path.read_text().split() if path.exists() else ("0", "0")
    return float(low), float(high)


def parts_of(n):
    return n % 4 + 1


@djflow.manual
def Source():
    """
    n : int
    ---
    value : float
    label = '' : varchar(32)
    """


@djflow.manual
def Note():
    """
    -> Source
    note_id : int
    ---
    text : varchar(64)
    """


@djflow.computed
def Result(key, Source):
    """
    -> Source
    ---
    total : float
    """
    value = Source.fetch1("value")
    low, high = make_delay()
    time.sleep(random.uniform(low, high))
    count = parts_of(key["n"])
    with open(HERE / "makes.log", "a") as log:
        log.write(f"{key['n']} {os.getpid()}\\n")
    return {"total": value * count, "Piece": [{"k": k, "v": value + k} for k in range(count)]}


@Result.part
def Piece():
    """
    -> master
    k : int
    ---
    v : float
    """
'''

USER_TABLES = ("Source", "Note", "Result", "Result__Piece")


def parts_of(n: int) -> int:
    """How many ``Result.Piece`` rows the make writes for key ``n`` (as in the pipefile)."""
    return n % 4 + 1


def write_project(folder: Path, make_delay: tuple[float, float] = (0.0, 0.0)) -> Path:
    """Write the pipefile (and the make's delay) into ``folder``; return the folder."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "pipefile.py").write_text(textwrap.dedent(PIPEFILE))
    set_make_delay(folder, *make_delay)
    return folder


def set_make_delay(folder: Path, low: float, high: float) -> None:
    (folder / "make_delay").write_text(f"{low} {high}\n")


def database(folder: Path) -> Path:
    return folder / ".djflow" / "pipeline.db"


def djflow_command(*args: str) -> list[str]:
    """The installed ``djflow`` console script of this Python, with ``args``."""
    script = Path(sys.executable).parent / "djflow"
    if script.exists():
        return [str(script), *args]
    return [sys.executable, "-m", "djflow", *args]


def clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DJFLOW_")}
    env["PYTHONUNBUFFERED"] = "1"
    return env


def start(folder: Path, *args: str, stderr_path: Path | None = None) -> subprocess.Popen:
    """Start ``djflow ARGS`` in ``folder`` as the leader of a new process group (stdin closed)."""
    stderr = open(stderr_path, "ab") if stderr_path else subprocess.DEVNULL  # noqa: SIM115
    try:
        return subprocess.Popen(
            djflow_command(*args), cwd=folder, env=clean_env(), stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=stderr, start_new_session=True,
        )
    finally:
        if stderr_path:
            stderr.close()


def run(folder: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run ``djflow ARGS`` in ``folder`` to the end; its output is captured."""
    return subprocess.run(
        djflow_command(*args), cwd=folder, env=clean_env(), stdin=subprocess.DEVNULL,
        capture_output=True, text=True, timeout=timeout,
    )


def kill_group(process: subprocess.Popen) -> bool:
    """SIGKILL the process and everything in its group (its worker processes); True if it was running."""
    running = process.poll() is None
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait(timeout=30)
    return running


def wait_group_gone(pgid: int, timeout: float = 10) -> None:
    """Wait until no process of group ``pgid`` is left (worker processes exit after their parent)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.02)


def connect(folder: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(database(folder), timeout=60)
    conn.execute("PRAGMA busy_timeout = 60000")
    return conn


def integrity_violations(conn: sqlite3.Connection) -> list[str]:
    """PRAGMA integrity_check must say ok and PRAGMA foreign_key_check must find nothing."""
    violations = []
    integrity = [row[0] for row in conn.execute("PRAGMA integrity_check")]
    if integrity != ["ok"]:
        violations.append(f"integrity_check: {integrity[:5]}")
    orphans = conn.execute("PRAGMA foreign_key_check").fetchall()
    if orphans:
        violations.append(f"foreign_key_check found {len(orphans)} orphan rows, e.g. {orphans[:3]}")
    return violations


def part_violations(conn: sqlite3.Connection) -> list[str]:
    """Every Result has all its Piece rows, and every Piece has its Result (its master)."""
    violations = []
    wrong = conn.execute(
        'SELECT r.n, count(p.k) FROM Result AS r LEFT JOIN "Result__Piece" AS p ON p.n = r.n GROUP BY r.n'
    ).fetchall()
    for n, count in wrong:
        if count != parts_of(n):
            violations.append(f"Result n={n} has {count} Piece rows, expected {parts_of(n)}")
    masterless = conn.execute(
        'SELECT count(*) FROM "Result__Piece" AS p WHERE NOT EXISTS (SELECT 1 FROM Result AS r WHERE r.n = p.n)'
    ).fetchone()[0]
    if masterless:
        violations.append(f"{masterless} Piece rows have no Result (master)")
    resultless = conn.execute(
        "SELECT count(*) FROM Result AS r WHERE NOT EXISTS (SELECT 1 FROM Source AS s WHERE s.n = r.n)"
    ).fetchone()[0]
    if resultless:
        violations.append(f"{resultless} Result rows have no Source")
    return violations


def consistency_violations(folder: Path) -> list[str]:
    """The checks that must hold at every moment, even right after a SIGKILL."""
    conn = connect(folder)
    try:
        return integrity_violations(conn) + part_violations(conn)
    finally:
        conn.close()


def completion_violations(folder: Path) -> list[str]:
    """After a run that finished: every Source key computed exactly once, nothing reserved or failed."""
    conn = connect(folder)
    try:
        violations = integrity_violations(conn) + part_violations(conn)
        missing = conn.execute("SELECT count(*) FROM Source WHERE n NOT IN (SELECT n FROM Result)").fetchone()[0]
        if missing:
            violations.append(f"{missing} Source keys have no Result after the final run")
        duplicated = conn.execute("SELECT n, count(*) FROM Result GROUP BY n HAVING count(*) > 1").fetchall()
        if duplicated:
            violations.append(f"keys present more than once: {duplicated[:5]}")
        jobs = conn.execute("SELECT status, count(*) FROM _djflow_jobs GROUP BY status").fetchall()
        if jobs:
            violations.append(f"_djflow_jobs is not empty after the final run: {jobs}")
        return violations
    finally:
        conn.close()


def counts(folder: Path) -> dict[str, int]:
    """Rows per user table."""
    conn = connect(folder)
    try:
        return {name: conn.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0] for name in USER_TABLES}
    finally:
        conn.close()


def make_calls(folder: Path) -> collections.Counter:
    """How many times the make ran (to the end) for each key, from ``makes.log``."""
    log = folder / "makes.log"
    if not log.exists():
        return collections.Counter()
    return collections.Counter(int(line.split()[0]) for line in log.read_text().splitlines() if line.strip())


def stderr_violations(text: str, where: str) -> list[str]:
    """Output a user must never see: "database is locked" and tracebacks."""
    violations = []
    if "database is locked" in text or "database is busy" in text:
        violations.append(f"{where}: 'database is locked' reached the user: {text.strip()[-300:]}")
    if "Traceback" in text:
        violations.append(f"{where}: a traceback reached the user: {text.strip()[-300:]}")
    return violations
