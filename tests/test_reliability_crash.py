"""Crash trials, short: SIGKILL ``djflow run``, ``djflow delete`` and ``djflow insert`` a few times.

The full version is ``python tests/stress/crash_trials.py --trials 20`` (see docs/reliability.md).
Here: three kills of ``djflow run`` (one process, ``-j 2``, two runs at once), two of a
cascading delete and two of a bulk insert, with the same checks after every kill.
"""

from __future__ import annotations

import os
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent / "stress"))

import crash_trials  # noqa: E402
import stress_common  # noqa: E402

import djflow  # noqa: E402
from djflow import jobs as djflow_jobs  # noqa: E402
from djflow.db import process_start_time  # noqa: E402

pytestmark = pytest.mark.skipif(not hasattr(os, "killpg"), reason="needs POSIX process groups")


def test_a_few_kills_of_run_delete_and_insert_lose_and_duplicate_nothing(tmp_path):
    report = crash_trials.crash_trials(
        tmp_path, trials=3, keys=40, delete_trials=2, insert_trials=2, sources=300, insert_rows=10_000,
        max_delay=0.6, seed=7, quiet=True,
    )
    assert report.violations == [], report.summary()
    assert report.trials == {"run": 3, "delete": 2, "insert": 2}
    assert report.kills["run"] >= 3, report.summary()
    for kind in ("delete", "insert"):  # each trial ended with all of it or none of it
        assert set(report.outcomes[kind]) <= {"all", "nothing", "nothing (killed mid-write)", "finished before the kill"}


def test_a_kill_mid_write_of_a_make_leaves_neither_master_nor_parts(tmp_path):
    """SIGKILL while a make's rows are being written: nothing of that key is visible afterwards."""
    folder = stress_common.write_project(tmp_path / "project")
    with djflow.load(folder / "pipefile.py") as pipeline:
        pipeline.Source.insert([{"n": n, "value": float(n)} for n in range(200)])
    for delay in (0.25, 0.3, 0.35, 0.4):  # quick makes: most of the time goes to writing rows
        process = stress_common.start(folder, "run")
        time.sleep(delay)
        stress_common.kill_group(process)
        assert stress_common.consistency_violations(folder) == []
    final = stress_common.run(folder, "run")
    assert final.returncode == 0, final.stderr
    assert stress_common.completion_violations(folder) == []


def test_reclaiming_a_dead_workers_key_never_drops_a_live_workers_new_reservation(tmp_path, monkeypatch):
    """Between reading the dead worker's row and deleting it, a live worker may reserve the same key.

    The race is forced at the one point where it can happen: while the reclaimer asks
    whether the dead worker's pid is alive, another connection replaces the dead row with a
    live worker's reservation of the same key. That reservation must survive.
    """
    folder = stress_common.write_project(tmp_path / "project")
    pipeline = djflow.load(folder / "pipefile.py")
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    now = time.time()
    host, me = socket.gethostname(), os.getpid()
    insert = ("INSERT INTO _djflow_jobs (table_name, key_json, status, host, pid, pid_started, heartbeat, started) "
              "VALUES ('Result', '{\"n\":1}', 'reserved', ?, ?, ?, ?, ?)")
    with pipeline.transaction():
        pipeline.db.execute(insert, (host, dead.pid, "1", now, now))
    other = sqlite3.connect(stress_common.database(folder), isolation_level=None)
    real_pid_alive = djflow_jobs.pid_alive

    def pid_alive_while_a_live_worker_takes_the_key(pid, started):
        if pid == dead.pid:
            other.execute("BEGIN IMMEDIATE")
            other.execute("DELETE FROM _djflow_jobs")
            other.execute(insert, (host, me, process_start_time(me), now, now))
            other.execute("COMMIT")
        return real_pid_alive(pid, started)

    monkeypatch.setattr(djflow_jobs, "pid_alive", pid_alive_while_a_live_worker_takes_the_key)
    djflow_jobs.reclaim_dead_reservations(pipeline.db)
    left = other.execute("SELECT key_json, pid FROM _djflow_jobs").fetchall()
    other.close()
    pipeline.close()
    assert left == [('{"n":1}', me)]
