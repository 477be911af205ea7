"""Jobs: reservations, recorded errors, dead workers reclaimed, real concurrent worker processes.

The worker processes run small ``python -c`` scripts that load the test's project and
call ``pipeline.run()`` or ``Table.populate(reserve_jobs=True)`` (what ``djflow run`` does).
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from pathlib import Path

import pytest
from populate_helpers import (
    call_pids,
    calls,
    finish,
    interrupt,
    jobs,
    result_of,
    rows,
    standard_project,
    start_worker,
    wait_for,
    wait_for_call,
    write_project,
)

import djflow
from djflow import jobs as djflow_jobs

POPULATE_AND_PRINT = """
result = pipeline.Square.populate(reserve_jobs=True, suppress_errors=True)
print(json.dumps(result))
"""

# ---------------------------------------------------------------- errors in the jobs table


def test_a_failure_is_recorded_with_traceback_and_waits_until_cleared(tmp_path):
    pipeline = standard_project(tmp_path, count=4)
    (tmp_path / "fail").write_text("1 2")
    result = pipeline.Square.populate(reserve_jobs=True, suppress_errors=True)
    assert result["success_count"] == 2
    failed = djflow_jobs.job_rows(pipeline.db, "Square", status="error")
    assert sorted(json.loads(job["key"])["n"] for job in failed) == [1, 2]
    job = next(j for j in failed if json.loads(j["key"]) == {"n": 1})
    assert job["error_message"] == "ValueError: bad value for n=1"
    assert job["error_traceback"].startswith("Traceback (most recent call last)")
    assert (
        "pipefile.py" in job["error_traceback"]
        and 'raise ValueError(f"bad value' in job["error_traceback"]
    )
    assert job["pid"] == os.getpid() and job["host"] == djflow_jobs.HOST

    # fixed, but not retried until cleared
    (tmp_path / "fail").write_text("")
    assert pipeline.Square.populate(reserve_jobs=True)["success_count"] == 0
    assert sorted(calls(tmp_path)) == [0, 1, 2, 3]
    assert pipeline.run()["Square"]["computed"] == 0
    assert pipeline.Square.progress() == (2, 4)  # progress counts rows, not jobs

    assert djflow_jobs.clear_errors(pipeline.db, "Square", where_keys=['{"n":2}']) == 1
    assert pipeline.Square.populate(reserve_jobs=True)["success_count"] == 1
    assert djflow_jobs.clear_errors(pipeline.db, "Square") == 1
    assert pipeline.run()["Square"]["computed"] == 1
    assert sorted(calls(tmp_path)) == [0, 1, 1, 2, 2, 3]
    assert jobs(tmp_path) == []


def test_a_failure_without_suppress_errors_is_recorded_and_raised(tmp_path):
    pipeline = standard_project(tmp_path, count=30)
    pipeline.Square.populate(
        "n < 20", reserve_jobs=True
    )  # quick makes: reservations grow to batches
    (tmp_path / "fail").write_text("25")
    with pytest.raises(djflow.PopulateError, match="n=25") as raised:
        pipeline.Square.populate(reserve_jobs=True)
    assert raised.value.key == {"n": 25}
    assert [(j["key_json"], j["status"]) for j in jobs(tmp_path)] == [
        ('{"n":25}', "error")
    ]  # no reservation left
    assert sorted(pipeline.Square.fetch("n")) == list(range(25))


def test_rows_a_make_returned_that_do_not_fit_are_recorded_as_the_error(tmp_path):
    pipefile = '''
    import djflow


    @djflow.manual
    def Source():
        """
        n : int
        """


    @djflow.computed
    def Bad(key):
        """
        -> Source
        ---
        value : tinyint
        """
        return {"value": 1000}
    '''
    pipeline = djflow.load(write_project(tmp_path, pipefile))
    pipeline.Source.insert1({"n": 1})
    pipeline.Bad.populate(reserve_jobs=True, suppress_errors=True)
    [job] = jobs(tmp_path)
    assert job["status"] == "error" and job["error_message"].startswith("DataError: ")
    assert "value" in job["error_message"] and job["error_traceback"]


def test_reservation_works_with_date_and_text_keys(tmp_path):
    pipefile = '''
    import djflow


    @djflow.manual
    def Session():
        """
        subject_id : varchar(16)
        session_date : date
        """


    @djflow.computed
    def Weekday(key):
        """
        -> Session
        ---
        weekday : int
        """
        if key["subject_id"] == "bad":
            raise KeyError("bad subject")
        return {"weekday": key["session_date"].weekday()}
    '''
    pipeline = djflow.load(write_project(tmp_path, pipefile))
    pipeline.Session.insert(
        [
            {"subject_id": "M001", "session_date": "2024-01-15"},
            {"subject_id": "bad", "session_date": "2024-01-16"},
        ]
    )
    result = pipeline.Weekday.populate(reserve_jobs=True, suppress_errors=True)
    assert result["success_count"] == 1
    [(key, message)] = result["error_list"]
    assert str(key["session_date"]) == "2024-01-16" and message == "KeyError: 'bad subject'"
    [job] = jobs(tmp_path)
    assert json.loads(job["key_json"]) == {"subject_id": "bad", "session_date": "2024-01-16"}
    assert (pipeline.Weekday & {"subject_id": "M001"}).fetch1("weekday") == 0


# ---------------------------------------------------------------- reclaiming reservations


def fake_reservation(pipeline, n, host, pid, heartbeat, pid_started=None):
    with pipeline.transaction():
        pipeline.db.execute(
            "INSERT INTO _djflow_jobs (table_name, key_json, status, host, pid, pid_started, heartbeat, started) "
            "VALUES ('Square', ?, 'reserved', ?, ?, ?, ?, ?)",
            (
                json.dumps({"n": n}, separators=(",", ":")),
                host,
                pid,
                pid_started,
                heartbeat,
                heartbeat,
            ),
        )


def test_reservations_of_live_workers_are_respected_and_dead_ones_reclaimed(tmp_path, monkeypatch):
    monkeypatch.setattr(djflow_jobs, "HEARTBEAT_TIMEOUT", 60)
    pipeline = standard_project(tmp_path, count=6)
    now = time.time()
    parent = os.getppid()
    fake_reservation(
        pipeline, 0, djflow_jobs.HOST, parent, now, djflow_jobs.process_start_time(parent)
    )  # alive here
    fake_reservation(pipeline, 1, djflow_jobs.HOST, 2**22 + 12345, now)  # no such process here
    fake_reservation(
        pipeline, 2, djflow_jobs.HOST, parent, now, "1"
    )  # pid reused by another process
    fake_reservation(pipeline, 3, "elsewhere", 123, now - 10)  # another host, heartbeat fresh
    fake_reservation(pipeline, 4, "elsewhere", 123, now - 3600)  # another host, heartbeat expired
    result = pipeline.Square.populate(reserve_jobs=True)
    assert result["success_count"] == 4
    assert sorted(calls(tmp_path)) == [1, 2, 4, 5]
    assert sorted(json.loads(j["key_json"])["n"] for j in jobs(tmp_path)) == [0, 3]
    # without reservation, populate does not look at the jobs table
    assert pipeline.Square.populate()["success_count"] == 2


def test_the_heartbeat_advances_while_a_make_runs(tmp_path):
    standard_project(tmp_path, count=1)
    (tmp_path / "sleep").write_text("1.2")
    worker = start_worker(tmp_path, POPULATE_AND_PRINT)  # heartbeat every 0.2 s
    wait_for_call(tmp_path, 0, worker)
    [first] = wait_for(lambda: jobs(tmp_path), what="the reservation")
    assert (
        first["status"] == "reserved"
        and first["pid"] == worker.pid
        and first["host"] == djflow_jobs.HOST
    )
    assert first["key_json"] == '{"n":0}' and first["pid_started"]
    wait_for(
        lambda: any(j["heartbeat"] > first["heartbeat"] for j in jobs(tmp_path)),
        timeout=5,
        what="a heartbeat",
    )
    out, _ = finish(worker)
    assert result_of(out)["success_count"] == 1
    assert jobs(tmp_path) == []


# ---------------------------------------------------------------- real concurrent workers


def test_three_workers_compute_each_key_exactly_once(tmp_path):
    pipeline = standard_project(tmp_path, count=24)
    (tmp_path / "sleep").write_text("0.08")
    workers = [
        start_worker(tmp_path, "print(json.dumps(pipeline.run()['Square']))") for _ in range(3)
    ]
    results = [result_of(finish(worker)[0]) for worker in workers]
    assert sorted(calls(tmp_path)) == list(range(24))  # each key once, none twice
    assert sum(r["computed"] for r in results) == 24 and all(r["failed"] == 0 for r in results)
    assert len(set(call_pids(tmp_path))) >= 2  # the work was shared
    assert sorted(pipeline.Square.fetch("n")) == list(range(24))
    assert len(pipeline.Square.Item) == sum(n % 3 + 1 for n in range(24))
    assert jobs(tmp_path) == []


def test_three_workers_with_quick_makes_and_growing_batches(tmp_path):
    pipeline = standard_project(tmp_path, count=600)
    body = "print(json.dumps(pipeline.Square.populate(reserve_jobs=True, order=sys.argv[1])))"
    workers = [start_worker(tmp_path, body, order) for order in ("original", "reverse", "random")]
    results = [result_of(finish(worker)[0]) for worker in workers]
    assert sorted(calls(tmp_path)) == list(range(600))
    assert sum(r["success_count"] for r in results) == 600
    assert sum(r["skipped_count"] for r in results) == 0
    assert len(pipeline.Square) == 600
    assert jobs(tmp_path) == []


def test_a_make_does_not_hold_the_write_lock(tmp_path):
    pipeline = standard_project(tmp_path, count=2)
    (tmp_path / "sleep_0").write_text("2")
    worker = start_worker(tmp_path, POPULATE_AND_PRINT)
    wait_for_call(tmp_path, 0, worker)
    started = time.perf_counter()
    pipeline.Source.insert1({"n": 100, "value": 1.0})
    with pipeline.transaction():
        pipeline.Source.insert1({"n": 101, "value": 2.0})
    took = time.perf_counter() - started
    assert worker.poll() is None, "the make should still be sleeping"
    assert took < 0.5, f"an insert waited {took:.2f}s while a make ran"
    assert len(pipeline.Square) == 0  # nothing half-done is visible
    out, _ = finish(worker)
    assert result_of(out)["success_count"] == 4  # it also computed the rows inserted meanwhile
    assert sorted(pipeline.Square.fetch("n")) == [0, 1, 100, 101]


@pytest.mark.parametrize("read_late", [False, True], ids=["inputs-read-first", "inputs-read-late"])
def test_a_key_whose_parent_is_deleted_during_its_make_is_skipped(tmp_path, read_late):
    pipeline = standard_project(tmp_path, count=3)
    (tmp_path / "sleep_1").write_text("1.5")
    if read_late:
        (tmp_path / "read_late").write_text("yes")
    worker = start_worker(tmp_path, POPULATE_AND_PRINT)
    wait_for_call(tmp_path, 1, worker)
    (pipeline.Source & {"n": 1}).delete(safemode=False)
    result = result_of(finish(worker)[0])
    assert (
        result["success_count"] == 2 and result["skipped_count"] == 1 and result["error_list"] == []
    )
    assert sorted(pipeline.Square.fetch("n")) == [0, 2]
    assert len(pipeline.Square.Item & {"n": 1}) == 0
    assert rows(tmp_path, "Square__Item") and jobs(tmp_path) == []


def test_a_worker_killed_mid_make_leaves_nothing_and_the_next_run_recomputes(tmp_path):
    pipeline = standard_project(tmp_path, count=3)
    (tmp_path / "sleep_1").write_text("30")
    worker = start_worker(tmp_path, "pipeline.run()")
    wait_for_call(tmp_path, 1, worker)
    [reserved] = [j for j in jobs(tmp_path) if j["key_json"] == '{"n":1}']
    assert reserved["status"] == "reserved" and reserved["pid"] == worker.pid
    worker.kill()  # SIGKILL: no cleanup of any kind
    worker.wait(timeout=10)
    assert worker.returncode == -signal.SIGKILL
    assert len(pipeline.Square & {"n": 1}) == 0 and len(pipeline.Square.Item & {"n": 1}) == 0
    assert any(
        j["pid"] == worker.pid for j in jobs(tmp_path)
    )  # the dead worker's reservation is still there

    (tmp_path / "sleep_1").unlink()
    rerun = start_worker(tmp_path, "print(json.dumps(pipeline.run()['Square']))")  # no manual step
    assert result_of(finish(rerun)[0])["computed"] == 2
    assert sorted(pipeline.Square.fetch("n")) == [0, 1, 2]
    assert calls(tmp_path) == [0, 1, 1, 2]
    assert jobs(tmp_path) == []


@pytest.mark.parametrize("processes", [1, 2])
def test_ctrl_c_stops_cleanly_and_leaves_nothing_reserved(tmp_path, processes):
    standard_project(tmp_path, count=4)
    (tmp_path / "sleep").write_text("30")
    body = f"pipeline.Square.populate(reserve_jobs=True, processes={processes})"
    worker = start_worker(tmp_path, body, start_new_session=True)
    wait_for_call(tmp_path, 0, worker)
    wait_for(lambda: jobs(tmp_path), what="the reservation")
    started = time.monotonic()
    interrupt(worker, group=True)  # as Ctrl-C does: the worker and its pool
    _, err = worker.communicate(timeout=15)
    assert time.monotonic() - started < 5, "Ctrl-C waited for the makes to finish"
    assert worker.returncode != 0 and "KeyboardInterrupt" in err
    assert jobs(tmp_path) == []
    assert rows(tmp_path, "Square") == [] and rows(tmp_path, "Square__Item") == []


def test_sigint_to_the_parent_alone_does_not_wait_for_running_makes(tmp_path):
    standard_project(tmp_path, count=4)
    (tmp_path / "sleep").write_text("30")
    worker = start_worker(tmp_path, "pipeline.run(processes=2)", start_new_session=True)
    wait_for(lambda: len(calls(tmp_path)) >= 2, what="two makes to start")
    started = time.monotonic()
    interrupt(worker)
    worker.communicate(timeout=15)
    assert time.monotonic() - started < 5
    assert jobs(tmp_path) == []
    assert rows(tmp_path, "Square") == []


def test_a_failure_with_processes_does_not_wait_for_the_other_makes(tmp_path):
    pipeline = standard_project(tmp_path, count=4)
    (tmp_path / "fail").write_text("0")
    for n in (1, 2, 3):
        (tmp_path / f"sleep_{n}").write_text("30")
    started = time.monotonic()
    with pytest.raises(djflow.PopulateError, match="n=0"):
        pipeline.Square.populate(processes=2, reserve_jobs=True)
    assert time.monotonic() - started < 5
    assert [(j["key_json"], j["status"]) for j in jobs(tmp_path)] == [('{"n":0}', "error")]
    assert len(pipeline.Square) == 0


def test_workers_in_random_order_share_the_work(tmp_path):
    pipeline = standard_project(tmp_path, count=16)
    (tmp_path / "sleep").write_text("0.1")
    body = "print(json.dumps(pipeline.Square.populate(reserve_jobs=True, order='random')))"
    workers = [start_worker(tmp_path, body) for _ in range(2)]
    wait_for(lambda: len(calls(tmp_path)) >= 1, what="the first make")
    assert len(jobs(tmp_path)) <= 2, "a worker reserved more keys than it was computing"
    results = [result_of(finish(worker)[0]) for worker in workers]
    assert sorted(calls(tmp_path)) == list(range(16))
    assert all(result["success_count"] > 0 for result in results)
    assert len(pipeline.Square) == 16 and jobs(tmp_path) == []


def test_clear_errors_takes_keys_as_python_writes_json(tmp_path):
    pipeline = standard_project(tmp_path, count=3)
    (tmp_path / "fail").write_text("0 1 2")
    pipeline.Square.populate(reserve_jobs=True, suppress_errors=True)
    assert djflow_jobs.clear_errors(pipeline.db, "Square", where_keys=[json.dumps({"n": 1})]) == 1
    assert djflow_jobs.clear_errors(pipeline.db, "Other", where_keys=['{"n":2}']) == 0
    assert sorted(j["key_json"] for j in jobs(tmp_path)) == ['{"n":0}', '{"n":2}']
    assert djflow_jobs.clear_errors(pipeline.db) == 2
    with pytest.raises(djflow.QueryError, match="JSON"):
        djflow_jobs.clear_errors(pipeline.db, "Square", where_keys=["n=1"])


def test_a_running_worker_takes_over_the_keys_of_a_worker_that_died(tmp_path):
    pipeline = standard_project(tmp_path, count=6)
    (tmp_path / "sleep_0").write_text("30")
    (tmp_path / "sleep").write_text("0.25")
    doomed = start_worker(tmp_path, "pipeline.run()")
    wait_for_call(tmp_path, 0, doomed)
    survivor = start_worker(tmp_path, "print(json.dumps(pipeline.run()['Square']))")
    wait_for_call(tmp_path, 1, survivor)
    doomed.kill()
    doomed.wait(timeout=10)
    (tmp_path / "sleep_0").unlink()
    result = result_of(finish(survivor)[0])
    assert result["computed"] == 6  # its own five, then the dead worker's key
    assert calls(tmp_path) == [0, 1, 2, 3, 4, 5, 0]
    assert sorted(pipeline.Square.fetch("n")) == list(range(6)) and jobs(tmp_path) == []


@pytest.mark.skipif(
    not os.path.exists("/proc/self/task"), reason="reads child processes from /proc"
)
def test_worker_processes_exit_when_their_parent_is_killed(tmp_path):
    pipeline = standard_project(tmp_path, count=4)
    (tmp_path / "sleep").write_text("30")
    parent = start_worker(tmp_path, "pipeline.run(processes=2)", start_new_session=True)
    wait_for(lambda: len(calls(tmp_path)) >= 2, what="two makes to start")
    children = (
        Path(f"/proc/{parent.pid}/task/{parent.pid}/children").read_text().split()
    )  # the pool's workers
    assert len(children) == 2
    parent.kill()
    parent.wait(timeout=10)

    def gone(pid):
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except FileNotFoundError:
            return True
        return state in ("Z", "X")  # exited (a zombie until the init process reaps it)

    wait_for(
        lambda: all(gone(pid) for pid in children), timeout=5, what="the orphaned workers to exit"
    )
    assert len(pipeline.Square) == 0
    (tmp_path / "sleep").unlink()
    assert pipeline.run()["Square"]["computed"] == 4


@pytest.mark.skipif(not os.path.exists("/proc/self/task"), reason="reads child processes from /proc")
def test_the_workers_are_forked_before_populate_starts_any_thread(tmp_path):
    # a process forked while another thread is inside SQLite can inherit a held SQLite lock and
    # hang at its first query, so the pool forks its workers before the heartbeat thread starts
    pipeline = standard_project(tmp_path, count=4)
    seen = {}

    class Spy:
        @djflow.hookimpl
        def populate_started(self, table, pending):
            me = threading.get_native_id()
            seen["workers"] = len(Path(f"/proc/{os.getpid()}/task/{me}/children").read_text().split())
            seen["threads"] = sorted(t.name for t in threading.enumerate())

    pipeline.plugin_manager.register(Spy())
    assert pipeline.Square.populate(processes=2, reserve_jobs=True)["success_count"] == 4
    assert seen["workers"] == 2
    assert "djflow-heartbeat" not in seen["threads"]

