"""The real ``djflow`` executable, run as a separate process with no terminal attached:
run, delete, insert and jobs (stdin is a pipe, so no one can answer a question)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time

import pytest
from cli_helpers import database, dump, file_hash, rows, run_djflow, write_project

import djflow


@pytest.fixture
def project(tmp_path):
    return write_project(tmp_path / "project")


@pytest.fixture
def filled(project):
    """The project with two subjects and three sessions, inserted through the Python API."""
    with djflow.load(project / "pipefile.py") as pipeline:
        pipeline.Subject.insert([
            {"subject_id": "M001", "species": "mouse"},
            {"subject_id": "M002", "species": "rat"},
        ])
        pipeline.Session.insert([
            {"subject_id": "M001", "session_date": "2024-01-15"},
            {"subject_id": "M001", "session_date": "2024-01-16"},
            {"subject_id": "M002", "session_date": "2024-02-01"},
        ])
    return project


def assert_one_line_error(result: subprocess.CompletedProcess, *fragments: str) -> None:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error: ")]
    assert len(errors) == 1, result.stderr
    for fragment in fragments:
        assert fragment in errors[0]


# ---------------------------------------------------------------- insert


def test_insert_csv_converts_values_by_type(project):
    result = run_djflow(project, "insert", "Subject", "subjects.csv")
    assert result.returncode == 0, result.stderr
    assert "Inserted 2 rows into Subject" in result.stderr
    assert rows(project, "SELECT subject_id, species, age, notes, meta FROM Subject ORDER BY subject_id") == [
        ("M001", "mouse", 3, "", '{"tag": 7}'),  # empty notes: its default ''; meta parsed as JSON
        ("M002", "rat", None, "left ear", None),  # empty age: its default null
    ]


def test_insert_json_lines_from_stdin(project):
    run_djflow(project, "insert", "Subject", "subjects.csv")
    result = run_djflow(project, "insert", "Session", "-", input=(project / "sessions.jsonl").read_text())
    assert result.returncode == 0, result.stderr
    assert "Inserted 3 rows into Session" in result.stderr
    assert rows(project, "SELECT count(*) FROM Session") == [(3,)]


def test_insert_json_array_file(project):
    (project / "subjects.json").write_text(json.dumps([
        {"subject_id": "M009", "species": "fish", "age": 2, "meta": {"tank": "B"}},
    ]))
    result = run_djflow(project, "insert", "Subject", "subjects.json")
    assert result.returncode == 0, result.stderr
    assert rows(project, "SELECT age, meta FROM Subject") == [(2, '{"tank": "B"}')]


def test_insert_is_all_or_nothing(project):
    (project / "bad.csv").write_text("subject_id,species,age\nM001,mouse,3\nM002,rat,old\n")
    result = run_djflow(project, "insert", "Subject", "bad.csv")
    assert_one_line_error(result, "Subject.age", "'old' is not a whole number")
    assert rows(project, "SELECT count(*) FROM Subject") == [(0,)]


def test_insert_duplicates_refused_unless_skipped(project):
    run_djflow(project, "insert", "Subject", "subjects.csv")
    again = run_djflow(project, "insert", "Subject", "subjects.csv")
    assert_one_line_error(again, "already has a row", "--skip-duplicates")
    skipped = run_djflow(project, "insert", "Subject", "subjects.csv", "--skip-duplicates")
    assert skipped.returncode == 0, skipped.stderr
    assert "Inserted 0 rows into Subject (2 already there, skipped)" in skipped.stderr


def test_insert_into_computed_table_is_refused(project):
    result = run_djflow(project, "insert", "Ratio", "-", input='[{"subject_id": "M001"}]')
    assert_one_line_error(result, "computed", "djflow run Ratio")


def test_insert_unknown_column_names_the_attributes(project):
    result = run_djflow(project, "insert", "Subject", "-", input="subject_id,specis\nM1,mouse\n")
    assert_one_line_error(result, "'specis'", "species")


# ---------------------------------------------------------------- run


def test_run_computes_prints_summary_and_exits_1_on_failure(filled):
    result = run_djflow(filled, "run", "--keep-going")
    assert result.returncode == 1
    header, _, line = result.stdout.splitlines()[:3]
    assert header.split() == ["table", "computed", "failed", "skipped", "seconds"]
    assert line.split()[:4] == ["Ratio", "3", "3", "0"]
    assert "ZeroDivisionError" in result.stderr and "djflow jobs" in result.stderr
    assert "Traceback" not in result.stderr
    assert rows(filled, "SELECT count(*) FROM Ratio") == [(3,)]
    assert rows(filled, 'SELECT count(*) FROM "Ratio__Point"') == [(3,)]


def test_run_stops_starting_jobs_after_first_failure(filled):
    result = run_djflow(filled, "run", "--where", "param_id = 2")
    assert result.returncode == 1
    assert result.stdout.splitlines()[2].split()[:3] == ["Ratio", "0", "1"]
    assert "--keep-going" in result.stderr


def test_run_where_and_jobs_exit_0(filled):
    result = run_djflow(filled, "run", "-j", "2", "--where", "param_id = 1")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[2].split()[:3] == ["Ratio", "3", "0"]
    assert rows(filled, "SELECT DISTINCT param_id FROM Ratio") == [(1,)]


def test_run_dry_run_lists_keys_and_leaves_the_file_byte_identical(filled):
    path = database(filled)
    wal = path.with_name("pipeline.db-wal")
    before = file_hash(path)
    result = run_djflow(filled, "run", "-n")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == "Ratio: 6 pending"
    assert '{"subject_id": "M001", "session_date": "2024-01-15", "param_id": 1}' in result.stdout
    assert file_hash(path) == before
    # a read-only SQLite connection may leave an empty -wal file behind, never a written frame
    assert not wal.exists() or wal.stat().st_size == 0
    assert rows(filled, "SELECT count(*) FROM Ratio") == [(0,)]


def test_run_dry_run_json_with_where(filled):
    result = run_djflow(filled, "run", "-n", "--where", "subject_id = 'M002'", "--json")
    assert result.returncode == 0, result.stderr
    [entry] = json.loads(result.stdout)
    assert entry["table"] == "Ratio" and entry["pending"] == 2
    assert {key["param_id"] for key in entry["keys"]} == {1, 2}


def test_run_dry_run_creates_no_database(project):
    result = run_djflow(project, "run", "--dry-run")
    assert result.returncode == 0, result.stderr
    assert "Ratio: 0 pending" in result.stdout
    assert not (project / ".djflow").exists()


def test_run_mistyped_table_suggests_names(filled):
    result = run_djflow(filled, "run", "Ratoi")
    assert_one_line_error(result, "no table 'Ratoi'", "did you mean Ratio")


# ---------------------------------------------------------------- jobs


def test_jobs_show_errors_traceback_and_clear(filled):
    run_djflow(filled, "run", "--keep-going")
    listed = run_djflow(filled, "jobs", "--json")
    jobs = json.loads(listed.stdout)
    assert len(jobs) == 3 and {job["status"] for job in jobs} == {"error"}
    assert all(job["error_message"].startswith("ZeroDivisionError") for job in jobs)
    assert "error_traceback" not in jobs[0]
    table = run_djflow(filled, "jobs", "Ratio", "--traceback")
    assert "ZeroDivisionError: float division by zero" in table.stdout
    assert 'File "' in table.stdout and "pipefile.py" in table.stdout

    cleared = run_djflow(filled, "jobs", "Ratio", "--clear", "--where", "subject_id = 'M002'")
    assert cleared.returncode == 0, cleared.stderr
    assert "Cleared 1 failed job" in cleared.stderr
    left = json.loads(run_djflow(filled, "jobs", "--json").stdout)
    assert [job["key"]["subject_id"] for job in left] == ["M001", "M001"]
    run_djflow(filled, "jobs", "--clear")
    assert json.loads(run_djflow(filled, "jobs", "--json").stdout) == []
    assert "No reserved or failed jobs" in run_djflow(filled, "jobs").stderr


def test_status_and_jobs_reclaim_reservations_of_dead_workers(filled):
    from djflow.db import process_start_time

    run_djflow(filled, "status")  # creates the bookkeeping tables
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    conn = __import__("sqlite3").connect(database(filled))
    now = time.time()
    with conn:
        conn.execute(
            "INSERT INTO _djflow_jobs (table_name, key_json, status, host, pid, pid_started, heartbeat, started) "
            "VALUES ('Ratio', '{\"x\":1}', 'reserved', ?, ?, ?, ?, ?)",
            (socket.gethostname(), dead.pid, process_start_time(os.getpid()), now, now),
        )
    conn.close()
    status = json.loads(run_djflow(filled, "status", "--json").stdout)
    assert {row["table"]: row["reserved"] for row in status}["Ratio"] == 0
    assert rows(filled, "SELECT count(*) FROM _djflow_jobs") == [(0,)]


# ---------------------------------------------------------------- delete


def test_delete_refuses_without_yes_when_no_one_can_answer(filled):
    run_djflow(filled, "run", "--where", "param_id = 1")
    before = dump(filled)
    result = run_djflow(filled, "delete", "Session", "--where", "subject_id = 'M001'")
    assert_one_line_error(result, "--yes", "nothing was deleted")
    assert result.stdout.split() == ["About", "to", "delete:", "2", "Session", "2", "Ratio", "2", "Ratio.Point"]
    assert dump(filled) == before


def test_delete_yes_cascades(filled):
    run_djflow(filled, "run", "--where", "param_id = 1")
    result = run_djflow(filled, "delete", "Session", "--where", "subject_id = 'M001'", "--yes")
    assert result.returncode == 0, result.stderr
    assert "Deleted 6 rows." in result.stdout
    assert rows(filled, "SELECT subject_id FROM Session") == [("M002",)]
    assert rows(filled, "SELECT subject_id FROM Ratio") == [("M002",)]
    assert rows(filled, 'SELECT count(*) FROM "Ratio__Point"') == [(1,)]
    assert rows(filled, "SELECT count(*) FROM Subject") == [(2,)]


def test_delete_dry_run_changes_nothing(filled):
    before = file_hash(database(filled))
    result = run_djflow(filled, "delete", "Subject", "--dry-run")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["Would", "delete:", "2", "Subject", "3", "Session"]
    assert "nothing was deleted" in result.stderr
    assert file_hash(database(filled)) == before


def test_delete_of_part_rows_is_refused(filled):
    result = run_djflow(filled, "delete", "Ratio.Point", "--yes")
    assert_one_line_error(result, "part table", "Ratio")
