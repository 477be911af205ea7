"""Cascading delete, delete_plan, safemode, parts and masters, delete_quick, update1 (SPEC §3)."""

from __future__ import annotations

import datetime
import io
import sqlite3

import pytest
from conftest import SEED_PIPEFILE, count_rows

from djflow import DataError, DjflowError, IntegrityError

JAN15 = {"subject_id": "M001", "session_date": "2024-01-15"}


def raw_counts(path, *tables):
    """Row counts read with plain sqlite3, as any other tool would see them."""
    connection = sqlite3.connect(path)
    try:
        return {
            name: connection.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0]
            for name in tables
        }
    finally:
        connection.close()


def test_delete_cascades_down_the_whole_graph(seed_rows):
    before = count_rows(seed_rows)
    assert before == {
        "BlobParamSet": 2,
        "Subject": 2,
        "Session": 3,
        "Image": 3,
        "Detection": 6,
        "Detection__Blob": 9,
    }
    deleted = (seed_rows.Session & JAN15).delete(safemode=False)
    assert deleted == 1
    assert count_rows(seed_rows) == {
        "BlobParamSet": 2,
        "Subject": 2,
        "Session": 2,
        "Image": 2,
        "Detection": 4,
        "Detection__Blob": 7,
    }
    assert not (seed_rows.Detection & JAN15)
    assert not (seed_rows.Detection.Blob & JAN15)


def test_delete_from_the_top_and_from_a_lookup(seed_rows):
    assert (seed_rows.BlobParamSet & {"blob_paramset": 2}).delete(safemode=False) == 1
    assert seed_rows.Detection.fetch("blob_paramset") == [1, 1, 1]
    assert len(seed_rows.Detection.Blob) == 5
    assert seed_rows.Subject.delete(safemode=False) == 2
    assert count_rows(seed_rows) == {
        "BlobParamSet": 1,
        "Subject": 0,
        "Session": 0,
        "Image": 0,
        "Detection": 0,
        "Detection__Blob": 0,
    }


def test_delete_plan_counts_and_changes_nothing(seed_rows):
    plan = (seed_rows.Subject & {"subject_id": "M001"}).delete_plan()
    assert plan.counts == {
        "Subject": 1,
        "Session": 2,
        "Image": 2,
        "Detection": 4,
        "Detection__Blob": 6,
    }
    assert list(plan.counts)[0] == "Subject"
    assert plan.total == 15
    text = plan.describe()
    assert "Detection.Blob" in text and "6" in text
    assert len(seed_rows.Subject) == 2 and len(seed_rows.Detection.Blob) == 9
    assert (seed_rows.Subject & {"subject_id": "nobody"}).delete_plan().counts == {}


def test_safemode_shows_counts_and_asks(seed_rows, capsys):
    asked = []

    def answer(text):
        asked.append(text)
        return "no"

    assert (seed_rows.Session & JAN15).delete(safemode=True, prompt=answer) == 0
    out = capsys.readouterr().out
    assert "About to delete" in out
    assert "Session" in out and "Detection.Blob" in out
    assert "cancelled" in out
    assert asked and "yes" in asked[0].lower()
    assert len(seed_rows.Session) == 3
    assert (seed_rows.Session & JAN15).delete(safemode=True, prompt=lambda _: "yes") == 1
    assert "Deleted 6 rows." in capsys.readouterr().out
    assert len(seed_rows.Session) == 2


def test_safemode_with_nothing_to_delete_asks_nothing(seed_rows, capsys):
    def never(_):
        raise AssertionError("should not ask")

    assert (seed_rows.Session & {"subject_id": "nobody"}).delete(safemode=True, prompt=never) == 0
    assert "Nothing to delete" in capsys.readouterr().out


def test_safemode_off_without_a_terminal(seed_rows, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO())
    # under pytest stdin is not a terminal: the default deletes without asking
    assert (seed_rows.Session & JAN15).delete() == 1


def test_rows_that_changed_after_the_prompt_are_not_deleted(seed_rows):
    def answer_after_a_change(_):
        seed_rows.Session.insert1({"subject_id": "M001", "session_date": "2024-01-20"})
        return "yes"

    with pytest.raises(IntegrityError, match="changed since they were shown"):
        (seed_rows.Session & {"subject_id": "M001"}).delete(
            safemode=True, prompt=answer_after_a_change
        )
    assert len(seed_rows.Session & {"subject_id": "M001"}) == 3


def test_a_failure_mid_delete_leaves_every_row(seed_rows):
    # another tool's trigger refuses deleting Image rows, which go after Detection and its parts
    connection = sqlite3.connect(seed_rows.db.path)
    connection.execute(
        "CREATE TRIGGER keep_images BEFORE DELETE ON \"Image\" BEGIN SELECT RAISE(ABORT, 'images are kept'); END"
    )
    connection.close()
    before = count_rows(seed_rows)
    with pytest.raises(DjflowError, match="images are kept"):
        seed_rows.Session.delete(safemode=False)
    assert count_rows(seed_rows) == before


# ---------------------------------------------------------------- parts and masters


def test_deleting_a_master_deletes_its_parts(seed_rows):
    key = {**JAN15, "blob_paramset": 1}
    assert (seed_rows.Detection & key).delete(safemode=False) == 1
    assert not (seed_rows.Detection.Blob & key)
    assert len(seed_rows.Detection.Blob) == 8
    assert len(seed_rows.Image) == 3


def test_deleting_part_rows_directly_is_refused(seed_rows):
    for delete in (
        lambda t: t.delete(safemode=False),
        lambda t: t.delete_quick(),
        lambda t: t.delete_plan(),
    ):
        with pytest.raises(IntegrityError) as error:
            delete(seed_rows.Detection.Blob & {"blob_id": 0})
        assert "part table Detection.Blob" in str(error.value)
        assert "delete from Detection instead" in str(error.value)
    assert len(seed_rows.Detection.Blob) == 9


PART_WITH_OTHER_PARENT = '''
import djflow

MARKERS = ["cd4", "cd8"]

@djflow.manual
def Marker():
    """
    marker : varchar(8)
    """

@djflow.manual
def Sample():
    """
    sample : int
    """

@djflow.computed
def Analysis(key, Sample):
    """
    -> Sample
    ---
    n : int
    """
    markers = MARKERS
    return {
        "n": len(markers),
        "Item": [{"marker": m, "level": float(i)} for i, m in enumerate(markers)],
        "Note": [{"note": "done"}],
    }

@Analysis.part
def Item():
    """
    -> master
    -> Marker
    ---
    level : float
    """

@Analysis.part
def Note():
    """
    -> master
    note : varchar(16)
    """

@djflow.computed
def Report(key, Analysis):
    """
    -> Analysis
    ---
    summary : varchar(32)
    """
    return {"summary": f"{Analysis.fetch1('n')} markers"}
'''


def test_cascade_reaching_a_part_through_another_parent_deletes_its_master(make_project):
    pipeline = make_project(PART_WITH_OTHER_PARENT)
    pipeline.Marker.insert([("cd4",), ("cd8",)])
    pipeline.Sample.insert([(1,), (2,)])
    pipeline.run()
    assert len(pipeline.Analysis.Item) == 4 and len(pipeline.Report) == 2
    plan = (pipeline.Marker & {"marker": "cd8"}).delete_plan()
    assert plan.counts == {
        "Marker": 1,
        "Analysis__Item": 4,
        "Analysis": 2,
        "Analysis__Note": 2,
        "Report": 2,
    }
    (pipeline.Marker & {"marker": "cd8"}).delete(safemode=False)
    # the Analysis rows that used cd8 go whole, with every part and every dependent
    assert count_rows(pipeline) == {
        "Marker": 1,
        "Sample": 2,
        "Analysis": 0,
        "Analysis__Item": 0,
        "Analysis__Note": 0,
        "Report": 0,
    }
    pipeline.Marker.insert1(("cd8",))
    pipeline.run()
    assert pipeline.Analysis.fetch("n") == [2, 2]


def test_a_make_may_read_the_parents_of_its_own_parts(make_project):
    source = PART_WITH_OTHER_PARENT.replace(
        "def Analysis(key, Sample):", "def Analysis(key, Sample, Marker):"
    )
    source = source.replace(
        "markers = MARKERS", 'markers = Marker.fetch("marker", order_by="marker")'
    )
    pipeline = make_project(source)
    pipeline.Marker.insert([("cd4",), ("cd8",)])
    pipeline.Sample.insert([(1,)])
    pipeline.run()
    assert pipeline.Analysis.fetch1("n") == 2


CHAINED_PARTS = '''
import djflow

@djflow.manual
def C():
    """
    c : int
    """

@djflow.manual
def B():
    """
    b : int
    """

@B.part
def Q():
    """
    -> master
    -> C
    """

@djflow.manual
def A():
    """
    a : int
    """

@A.part
def P():
    """
    -> master
    -> B
    """
'''


def test_cascade_through_a_chain_of_parts_keeps_every_part_with_its_master(make_project):
    # C -> B.Q pulls in master B; B -> A.P must then pull in master A as well
    pipeline = make_project(CHAINED_PARTS)
    pipeline.C.insert([(1,), (2,)])
    pipeline.B.insert([(10,), (20,)])
    pipeline.B.Q.insert([(10, 1), (20, 2)])
    pipeline.A.insert([(100,), (200,)])
    pipeline.A.P.insert([(100, 10), (200, 20)])
    with pytest.raises(
        IntegrityError, match=r"A\.P row refers to A \{'a': 300\}, which does not exist"
    ):
        pipeline.A.P.insert1((300, 10))  # a part row needs its master
    (pipeline.C & {"c": 1}).delete(safemode=False)
    assert pipeline.A.fetch("a") == [200]
    assert pipeline.A.P.fetch("a") == [200]
    assert pipeline.B.fetch("b") == [20]
    orphans = pipeline.db.scalar('SELECT count(*) FROM "A__P" WHERE a NOT IN (SELECT a FROM "A")')
    assert orphans == 0


# ---------------------------------------------------------------- tables no longer declared


def test_cascade_reaches_tables_the_pipefile_no_longer_declares(make_project, seed_rows):
    database = seed_rows.db.path
    seed_rows.close()
    # the same project, without Detection and its part
    without_detection = SEED_PIPEFILE.split("@djflow.computed")[0]
    pipeline = make_project(without_detection)
    assert "Detection" not in pipeline
    plan = (pipeline.Session & JAN15).delete_plan()
    assert plan.counts == {"Session": 1, "Image": 1, "Detection": 2, "Detection__Blob": 2}
    (pipeline.Session & JAN15).delete(safemode=False)
    assert raw_counts(database, "Session", "Image", "Detection", "Detection__Blob") == {
        "Session": 2,
        "Image": 2,
        "Detection": 4,
        "Detection__Blob": 7,
    }
    pipeline.Subject.delete(safemode=False)
    assert raw_counts(database, "Detection", "Detection__Blob") == {
        "Detection": 0,
        "Detection__Blob": 0,
    }


def test_cascade_reaches_a_table_another_tool_created(seed_rows):
    connection = sqlite3.connect(seed_rows.db.path)
    with connection:
        connection.execute(
            'CREATE TABLE "Remark" (subject_id TEXT NOT NULL REFERENCES "Subject" (subject_id), text TEXT)'
        )
        connection.execute("INSERT INTO \"Remark\" VALUES ('M001', 'hand-made')")
    connection.close()
    (seed_rows.Subject & {"subject_id": "M001"}).delete(safemode=False)
    assert raw_counts(seed_rows.db.path, "Remark") == {"Remark": 0}


# ---------------------------------------------------------------- delete_quick


def test_delete_quick(seed_rows):
    with pytest.raises(IntegrityError) as error:
        (seed_rows.Session & JAN15).delete_quick()
    assert "cannot delete_quick from Session" in str(error.value)
    assert "use delete() to cascade" in str(error.value)
    assert len(seed_rows.Session) == 3
    seed_rows.Subject.insert1({"subject_id": "M003", "species": "rat", "sex": "U"})
    assert (seed_rows.Subject & {"subject_id": "M003"}).delete_quick() == 1
    assert len(seed_rows.Subject) == 2


# ---------------------------------------------------------------- update1


def test_update1_changes_secondary_attributes_of_one_row(seed_rows):
    Subject = seed_rows.Subject
    Subject.update1(
        {"subject_id": "M001", "notes": "Corrected housing info", "species": "Mus musculus"}
    )
    assert (Subject & {"subject_id": "M001"}).fetch1() == {
        "subject_id": "M001",
        "species": "Mus musculus",
        "sex": "M",
        "notes": "Corrected housing info",
    }
    assert (Subject & {"subject_id": "M002"}).fetch1("notes") == "left ear tag"


def test_update1_does_not_touch_dependents(seed_rows):
    before = count_rows(seed_rows)
    blobs = seed_rows.Detection.Blob.fetch(order_by="KEY")
    seed_rows.Detection.update1({**JAN15, "blob_paramset": 1, "nblobs": 99})
    assert count_rows(seed_rows) == before
    assert seed_rows.Detection.Blob.fetch(order_by="KEY") == blobs


def test_update1_errors(seed_rows):
    Subject = seed_rows.Subject
    with pytest.raises(DataError, match=r"Subject has no row with key \{'subject_id': 'M009'\}"):
        Subject.update1({"subject_id": "M009", "notes": "x"})
    with pytest.raises(DataError, match="needs the whole primary key; 'subject_id' is missing"):
        Subject.update1({"notes": "x"})
    with pytest.raises(DataError, match="got only the primary key"):
        Subject.update1({"subject_id": "M001"})
    with pytest.raises(DataError, match="Subject has no attribute 'weight'"):
        Subject.update1({"subject_id": "M001", "weight": 3})
    with pytest.raises(DataError, match=r"Subject\.sex.*'X' is not one of"):
        Subject.update1({"subject_id": "M001", "sex": "X"})
    with pytest.raises(DataError, match=r"Subject\.species cannot be None"):
        Subject.update1({"subject_id": "M001", "species": None})
    with pytest.raises(DataError, match="takes a dict"):
        Subject.update1(("M001", "mouse", "M", ""))
    # a primary-key change is not an update: the new key names no existing row
    with pytest.raises(DataError, match="no row with key"):
        seed_rows.Detection.update1(
            {**JAN15, "session_date": datetime.date(2030, 1, 1), "blob_paramset": 1, "nblobs": 1}
        )
    assert (Subject & {"subject_id": "M001"}).fetch1("sex") == "M"


def test_update1_of_a_secondary_reference_checks_the_parent(make_project):
    pipeline = make_project(
        '''
        import djflow

        @djflow.manual
        def Rig():
            """
            rig : varchar(8)
            """

        @djflow.manual
        def Scan():
            """
            scan : int
            ---
            -> [nullable] Rig
            """
        '''
    )
    pipeline.Rig.insert1(("R1",))
    pipeline.Scan.insert1((1, "R1"))
    with pytest.raises(IntegrityError, match="Scan"):
        pipeline.Scan.update1({"scan": 1, "rig": "R9"})
    pipeline.Scan.update1({"scan": 1, "rig": None})
    assert pipeline.Scan.fetch1("rig") is None
