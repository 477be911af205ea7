"""Helpers for the populate and jobs tests: small projects in tmp_path and real worker processes.

Every test builds its own project: a ``pipefile.py`` in its tmp_path, loaded with
``djflow.load``. The standard project (``STANDARD``) is a manual ``Source`` and a computed
``Square`` with a part ``Square.Item``. Its make is steered by small files in the project
folder, so the same pipefile behaves the same in the test process and in worker processes:

- every call appends ``"<n> <pid>"`` to ``calls.log`` (how tests count make calls);
- ``sleep`` holds the seconds each make sleeps (``sleep_<n>`` for key n only);
- ``fail`` lists the keys (n) whose make raises ``ValueError``;
- ``read_late`` (present or not): read ``Source`` after sleeping instead of before.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import djflow

STANDARD = '''
import os
import time
from pathlib import Path

import djflow

HERE = Path(__file__).parent


def knob(name, default=""):
    path = HERE / name
    return path.read_text().strip() if path.exists() else default


@djflow.manual
def Source():
    """
    n : int
    ---
    value : float
    """


@djflow.computed
def Square(key, Source):
    """
    -> Source
    ---
    sq : float
    """
    value = None if knob("read_late") else Source.fetch1("value")
    with open(HERE / "calls.log", "a") as log:
        log.write(f"{key['n']} {os.getpid()}\\n")
    time.sleep(float(knob(f"sleep_{key['n']}", knob("sleep", "0"))))
    if str(key["n"]) in knob("fail").split():
        raise ValueError(f"bad value for n={key['n']}")
    if value is None:
        value = Source.fetch1("value")
    return {"sq": value * value, "Item": [{"i": i, "v": value * i} for i in range(key["n"] % 3 + 1)]}


@Square.part
def Item():
    """
    -> master
    i : int
    ---
    v : float
    """
'''

# Worker processes beat their heartbeat often, so tests see it without waiting.
WORKER_ENV = {"DJFLOW_HEARTBEAT_SECONDS": "0.2", "PYTHONUNBUFFERED": "1"}


def write_project(folder: Path, pipefile: str = STANDARD) -> Path:
    """Write ``pipefile.py`` into ``folder`` and return its path."""
    path = folder / "pipefile.py"
    path.write_text(textwrap.dedent(pipefile))
    return path


def standard_project(folder: Path, count: int = 0) -> djflow.Pipeline:
    """The standard project loaded, with ``count`` Source rows (n = 0 .. count-1, value = n)."""
    pipeline = djflow.load(write_project(folder))
    if count:
        pipeline.Source.insert([{"n": n, "value": float(n)} for n in range(count)])
    return pipeline


def calls(folder: Path) -> list[int]:
    """The keys (n) of every make call so far, in call order."""
    log = folder / "calls.log"
    if not log.exists():
        return []
    return [int(line.split()[0]) for line in log.read_text().splitlines() if line.strip()]


def call_pids(folder: Path) -> list[int]:
    log = folder / "calls.log"
    return [int(line.split()[1]) for line in log.read_text().splitlines() if line.strip()]


def worker_script(folder: Path, body: str, *args: str) -> list[str]:
    """``python -c`` arguments that load the project in ``folder`` as ``pipeline`` and run ``body``.

    ``args`` become ``sys.argv[1:]`` of the script.
    """
    code = (
        "import json, sys\n"
        "import djflow\n"
        f"pipeline = djflow.load({str(folder / 'pipefile.py')!r})\n" + textwrap.dedent(body)
    )
    return [sys.executable, "-c", code, *args]


def start_worker(folder: Path, body: str, *args: str, **popen) -> subprocess.Popen:
    """Start a worker process running ``body`` against the project in ``folder``."""
    env = {**os.environ, **WORKER_ENV}
    return subprocess.Popen(
        worker_script(folder, body, *args),
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **popen,
    )


def finish(process: subprocess.Popen, timeout: float = 30) -> tuple[str, str]:
    """Wait for a worker; fail with its stderr if it exited non-zero."""
    out, err = process.communicate(timeout=timeout)
    assert process.returncode == 0, f"worker exited {process.returncode}:\n{err}"
    return out, err


def result_of(out: str) -> dict:
    """The JSON a worker printed on its last line."""
    return json.loads(out.strip().splitlines()[-1])


def wait_for(condition, timeout: float = 15, interval: float = 0.02, what: str = "condition"):
    """Poll ``condition`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def wait_for_call(
    folder: Path, n: int, process: subprocess.Popen | None = None, timeout: float = 15
) -> None:
    """Wait until the make for key ``n`` has started (it logs itself before sleeping)."""

    def started():
        if process is not None and process.poll() is not None:
            raise AssertionError(
                f"worker exited {process.returncode} early:\n{process.stderr.read()}"
            )
        return n in calls(folder)

    wait_for(started, timeout, what=f"the make of n={n} to start")


def jobs(folder: Path) -> list[dict]:
    """Rows of ``_djflow_jobs`` read with plain sqlite3 (what any SQLite tool would see)."""
    with sqlite3.connect(folder / ".djflow" / "pipeline.db") as conn:
        conn.row_factory = sqlite3.Row
        return [dict(row) for row in conn.execute("SELECT * FROM _djflow_jobs")]


def rows(folder: Path, table: str) -> list[tuple]:
    with sqlite3.connect(folder / ".djflow" / "pipeline.db") as conn:
        return conn.execute(f'SELECT * FROM "{table}"').fetchall()


def interrupt(process: subprocess.Popen, group: bool = False) -> None:
    """Send SIGINT as Ctrl-C does (to the whole process group with ``group``)."""
    if group:
        os.killpg(process.pid, signal.SIGINT)
    else:
        process.send_signal(signal.SIGINT)
