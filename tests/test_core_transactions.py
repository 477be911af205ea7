"""pipeline.transaction() (SPEC §2, §3 Transactions): all or nothing, nested use is a
savepoint, and nothing half-done is visible to another reader."""

from __future__ import annotations

import sqlite3

import pytest
from conftest import SEED_SESSIONS, SEED_SUBJECTS, count_rows

from djflow import DuplicateError

M003 = {"subject_id": "M003", "species": "rat", "sex": "F"}


def other_reader(pipeline):
    """Another connection to the same database file, as another process would have."""
    return sqlite3.connect(pipeline.db.path, timeout=1)


def test_an_exception_inside_a_transaction_leaves_nothing(seed_pipeline):
    with pytest.raises(RuntimeError, match="instrument failed"):
        with seed_pipeline.transaction():
            seed_pipeline.Subject.insert(SEED_SUBJECTS)
            seed_pipeline.Session.insert(SEED_SESSIONS)
            assert len(seed_pipeline.Session) == 3  # visible inside
            raise RuntimeError("instrument failed")
    assert len(seed_pipeline.Subject) == 0
    assert len(seed_pipeline.Session) == 0


def test_keyboard_interrupt_rolls_back_too(seed_pipeline):
    with pytest.raises(KeyboardInterrupt):
        with seed_pipeline.transaction():
            seed_pipeline.Subject.insert(SEED_SUBJECTS)
            raise KeyboardInterrupt
    assert len(seed_pipeline.Subject) == 0
    seed_pipeline.Subject.insert(SEED_SUBJECTS)  # the connection is usable afterwards
    assert len(seed_pipeline.Subject) == 2


def test_a_transaction_commits_everything_together(seed_pipeline):
    with seed_pipeline.transaction():
        seed_pipeline.Subject.insert(SEED_SUBJECTS)
        seed_pipeline.Session.insert(SEED_SESSIONS)
        seed_pipeline.Subject.update1({"subject_id": "M001", "notes": "batch"})
    reader = other_reader(seed_pipeline)
    assert reader.execute('SELECT count(*) FROM "Session"').fetchone()[0] == 3
    assert (
        reader.execute("SELECT notes FROM \"Subject\" WHERE subject_id = 'M001'").fetchone()[0]
        == "batch"
    )
    reader.close()


def test_nested_transaction_is_a_savepoint(seed_pipeline):
    Subject = seed_pipeline.Subject
    with seed_pipeline.transaction():
        Subject.insert1(SEED_SUBJECTS[0])
        with pytest.raises(ValueError):
            with seed_pipeline.transaction():
                Subject.insert1(SEED_SUBJECTS[1])
                assert len(Subject) == 2
                raise ValueError("undo only the inner part")
        assert Subject.fetch("subject_id") == ["M001"]
        with seed_pipeline.transaction():
            Subject.insert1(M003)
    assert sorted(Subject.fetch("subject_id")) == ["M001", "M003"]


def test_a_failed_insert_inside_a_transaction_undoes_only_itself(seed_pipeline):
    Subject = seed_pipeline.Subject
    with seed_pipeline.transaction():
        Subject.insert1(SEED_SUBJECTS[0])
        with pytest.raises(DuplicateError):
            Subject.insert([M003, SEED_SUBJECTS[0]])  # all or nothing: M003 is not kept
        Subject.insert1(SEED_SUBJECTS[1])
    assert sorted(Subject.fetch("subject_id")) == ["M001", "M002"]


def test_an_outer_failure_undoes_committed_savepoints(seed_pipeline):
    with pytest.raises(RuntimeError):
        with seed_pipeline.transaction():
            with seed_pipeline.transaction():
                seed_pipeline.Subject.insert(SEED_SUBJECTS)
            raise RuntimeError("later failure")
    assert len(seed_pipeline.Subject) == 0


def test_delete_and_update_inside_a_failed_transaction_are_undone(seed_rows):
    before = count_rows(seed_rows)
    with pytest.raises(RuntimeError):
        with seed_rows.transaction():
            seed_rows.Subject.update1({"subject_id": "M001", "notes": "changed"})
            (seed_rows.Session & {"subject_id": "M001"}).delete(safemode=False)
            assert len(seed_rows.Detection) == 2
            raise RuntimeError("abort")
    assert count_rows(seed_rows) == before
    assert (seed_rows.Subject & {"subject_id": "M001"}).fetch1("notes") == ""


def test_nothing_half_done_is_visible_to_another_reader(seed_pipeline):
    reader = other_reader(seed_pipeline)
    with seed_pipeline.transaction():
        seed_pipeline.Subject.insert(SEED_SUBJECTS)
        seed_pipeline.Session.insert(SEED_SESSIONS)
        assert reader.execute('SELECT count(*) FROM "Subject"').fetchone()[0] == 0
        assert reader.execute('SELECT count(*) FROM "Session"').fetchone()[0] == 0
    assert reader.execute('SELECT count(*) FROM "Session"').fetchone()[0] == 3
    reader.close()


def test_a_reader_is_not_blocked_by_an_open_write(seed_rows, load_project):
    # WAL: another pipeline on the same file reads the last committed state while a write is open
    other = load_project(seed_rows.pipefile)
    with seed_rows.transaction():
        seed_rows.Subject.delete(safemode=False)
        assert len(seed_rows.Subject) == 0
        assert len(other.Subject) == 2
        assert len(other.Detection.Blob) == 9
    assert len(other.Subject) == 0
