"""Shared helpers for the benchmarks: temporary projects, raw SQLite, timers and result rows.

Every benchmark builds its own project in a fresh temporary folder (a ``pipefile.py``
written there and loaded with ``djflow.load``), fills it with raw SQL (setup is never
timed), and times djflow against a baseline measured in the same run. Times are the best
of a few repeats: on a shared machine the minimum is the figure least disturbed by others.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import djflow

REPO = Path(__file__).resolve().parents[1]

# the trivial pipeline several benchmarks use: a manual Source and a computed Target that doubles it
TRIVIAL_PIPEFILE = '''
import djflow


@djflow.manual
def Source():
    """
    n : int
    ---
    value : float
    """


@djflow.computed
def Target(key, Source):
    """
    -> Source
    ---
    doubled : float
    """
    return {"doubled": 2 * Source.fetch1("value")}
'''



@dataclass
class Row:
    """One line of the results table.

    ``djflow`` and ``baseline`` are seconds (or megabytes with ``unit="MB"``); None means
    not measured, and ``note`` then says why. ``met`` is None when there is no target to check.
    ``ratio`` defaults to djflow / baseline; ``ratio_text`` overrides how it is shown.
    """

    figure: str
    djflow: float | None
    baseline: float | None
    target: str
    met: bool | None
    unit: str = "s"
    note: str = ""
    ratio_text: str | None = None

    @property
    def ratio(self) -> float | None:
        if self.djflow is None or not self.baseline:
            return None
        return self.djflow / self.baseline


# ---------------------------------------------------------------- projects


@contextlib.contextmanager
def temp_project(pipefile_source: str, prefix: str = "djflow-bench-") -> Iterator[Path]:
    """A fresh folder holding ``pipefile.py`` (the source is dedented); removed afterwards."""
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        (folder / "pipefile.py").write_text(textwrap.dedent(pipefile_source))
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def load(project: Path) -> djflow.Pipeline:
    """Load the project's pipeline (its database is ``.djflow/pipeline.db`` in the folder)."""
    return djflow.load(project / "pipefile.py")


def db_path(project: Path) -> Path:
    return project / ".djflow" / "pipeline.db"


def raw_connect(path: Path) -> sqlite3.Connection:
    """A plain sqlite3 connection for the baselines: WAL, synchronous=NORMAL, as the issue says.

    It gets the rest of djflow's connection settings too (foreign keys on, a 64 MB page
    cache, temporary tables in memory), so a ratio shows the engine's own cost, not a
    difference in tuning. Autocommit mode: transactions are explicit ``BEGIN``/``COMMIT``.
    """
    conn = sqlite3.connect(path, isolation_level=None, timeout=60)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("PRAGMA cache_size = -65536")
    conn.execute("PRAGMA temp_store = MEMORY")
    return conn


def fill(conn: sqlite3.Connection, sql: str, rows) -> None:
    """Setup: insert many rows with raw SQL in one transaction (never timed)."""
    conn.execute("BEGIN")
    conn.executemany(sql, rows)
    conn.execute("COMMIT")


# ---------------------------------------------------------------- timing


def best_of(action: Callable[[], object], repeats: int, setup: Callable[[], object] | None = None) -> float:
    """The shortest wall time of ``action`` over ``repeats`` runs; ``setup`` runs untimed before each."""
    best = float("inf")
    for _ in range(repeats):
        if setup is not None:
            setup()
        started = time.perf_counter()
        action()
        best = min(best, time.perf_counter() - started)
    return best


def best_of_each(actions: dict[str, Callable[[], object]], repeats: int,
                 setup: Callable[[], object] | None = None) -> dict[str, float]:
    """The shortest wall time of each action, the actions taking turns within every repeat.

    Taking turns means a slow spell of a shared machine hurts all of them alike, so ratios
    between them stay fair; ``setup`` runs untimed before every run.
    """
    best = dict.fromkeys(actions, float("inf"))
    for _ in range(repeats):
        for name, action in actions.items():
            if setup is not None:
                setup()
            started = time.perf_counter()
            action()
            best[name] = min(best[name], time.perf_counter() - started)
    return best


def run_command(argv: list[str], cwd: Path | None = None, check: bool = True) -> subprocess.CompletedProcess:
    """Run a command, capturing its output; raise with its stderr when it fails (if ``check``).

    ``DJFLOW_*`` variables are left out, so a command finds the project's own pipefile and database.
    """
    env = {name: value for name, value in os.environ.items() if not name.startswith("DJFLOW_")}
    done = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, env=env)
    if check and done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} exited {done.returncode}: {done.stderr.strip()[-500:]}")
    return done


def time_command(argv: list[str], repeats: int, cwd: Path | None = None) -> float:
    """The shortest wall time of a command over ``repeats`` runs (it must succeed)."""
    return best_of(lambda: run_command(argv, cwd), repeats)


def python_pass_seconds(repeats: int) -> float:
    """The floor of any command-line figure: start and stop this Python (``python -c pass``)."""
    return time_command([sys.executable, "-c", "pass"], repeats)


# ---------------------------------------------------------------- the djflow command


def djflow_command() -> str | None:
    """The ``djflow`` executable beside this Python (else on PATH), if it runs; None if not.

    The CLI may not exist yet: an entry point whose module is missing fails ``--help``.
    """
    candidate = Path(sys.executable).parent / "djflow"
    path = str(candidate) if candidate.exists() else shutil.which("djflow")
    if path is None:
        return None
    probe = subprocess.run([path, "--help"], capture_output=True, text=True)
    return path if probe.returncode == 0 else None


NO_CLI = "n/a (no CLI yet)"


# ---------------------------------------------------------------- progress and standalone use


def say(message: str) -> None:
    """Progress notices go to stderr; the table alone goes to stdout."""
    print(message, file=sys.stderr, flush=True)


def standalone(run: Callable[[bool], list[Row]]) -> None:
    """Let a benchmark module run on its own: ``python benchmarks/bench_x.py [--quick]``."""
    from run import print_table

    print_table(run("--quick" in sys.argv))
