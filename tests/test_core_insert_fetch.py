"""insert1 / insert (SPEC §2, §3 Insert) and fetch / fetch1 / len / bool / iteration."""

from __future__ import annotations

import datetime

import numpy as np
import pandas as pd
import pytest
from conftest import SEED_SESSIONS, SEED_SUBJECTS

from djflow import DataError, DuplicateError, IntegrityError, QueryError


@pytest.fixture
def subjects(seed_pipeline):
    seed_pipeline.Subject.insert(SEED_SUBJECTS)
    return seed_pipeline


# ---------------------------------------------------------------- insert


def test_insert1_dict_and_sequence_in_heading_order(seed_pipeline):
    Subject = seed_pipeline.Subject
    Subject.insert1({"subject_id": "M001", "species": "mouse", "sex": "M"})
    Subject.insert1(("M002", "rat", "F", "tagged"))
    assert Subject.fetch(as_dict=True, order_by="subject_id") == [
        {"subject_id": "M001", "species": "mouse", "sex": "M", "notes": ""},
        {"subject_id": "M002", "species": "rat", "sex": "F", "notes": "tagged"},
    ]


def test_insert_returns_count_and_accepts_generators_and_frames(seed_pipeline):
    Subject = seed_pipeline.Subject
    assert (
        Subject.insert({"subject_id": f"S{i}", "species": "fly", "sex": "U"} for i in range(3)) == 3
    )
    frame = pd.DataFrame(
        {"subject_id": ["F1", "F2"], "species": ["fish", "fish"], "sex": ["M", "F"]}
    )
    assert Subject.insert(frame) == 2
    indexed = pd.DataFrame(
        {"species": ["frog"], "sex": ["U"]}, index=pd.Index(["G1"], name="subject_id")
    )
    Subject.insert(indexed)
    assert (Subject & {"subject_id": "G1"}).fetch1("species") == "frog"
    sessions = pd.DataFrame({"subject_id": ["F1"], "session_date": [pd.Timestamp("2024-03-01")]})
    seed_pipeline.Session.insert(sessions)
    assert seed_pipeline.Session.fetch1("session_date") == datetime.date(2024, 3, 1)


def test_insert_is_all_or_nothing(subjects):
    Session = subjects.Session
    rows = [
        {"subject_id": "M001", "session_date": "2024-01-15"},
        {"subject_id": "M001", "session_date": "2024-01-16"},
        {"subject_id": "M001", "session_date": "not a date"},
    ]
    with pytest.raises(DataError, match=r"Session\.session_date.*'not a date'"):
        Session.insert(rows)
    assert len(Session) == 0
    rows[2] = {"subject_id": "NOBODY", "session_date": "2024-01-17"}
    with pytest.raises(IntegrityError) as error:
        Session.insert(rows)
    assert "Subject {'subject_id': 'NOBODY'}, which does not exist" in str(error.value)
    assert "insert that Subject row first" in str(error.value)
    assert len(Session) == 0


def test_duplicate_key(subjects):
    Subject = subjects.Subject
    with pytest.raises(DuplicateError) as error:
        Subject.insert1({"subject_id": "M001", "species": "rat", "sex": "F"})
    message = str(error.value)
    assert "Subject already has a row with key {'subject_id': 'M001'}" in message
    assert "skip_duplicates=True" in message
    assert (Subject & {"subject_id": "M001"}).fetch1("species") == "mouse"


def test_duplicate_within_one_insert(seed_pipeline):
    row = {"subject_id": "M9", "species": "mouse", "sex": "M"}
    with pytest.raises(DuplicateError, match="'M9'"):
        seed_pipeline.Subject.insert([row, row])
    assert len(seed_pipeline.Subject) == 0


def test_skip_duplicates_keeps_the_existing_row(subjects):
    Subject = subjects.Subject
    inserted = Subject.insert(
        [
            {"subject_id": "M001", "species": "rat", "sex": "F"},
            {"subject_id": "M003", "species": "rat", "sex": "F"},
        ],
        skip_duplicates=True,
    )
    assert inserted == 1
    assert (Subject & {"subject_id": "M001"}).fetch1("species") == "mouse"
    assert len(Subject) == 3


def test_extra_fields(seed_pipeline):
    Subject = seed_pipeline.Subject
    row = {"subject_id": "M001", "species": "mouse", "sex": "M", "weight": 21.5}
    with pytest.raises(DataError) as error:
        Subject.insert1(row)
    assert "Subject has no attribute 'weight'" in str(error.value)
    assert "ignore_extra_fields=True" in str(error.value)
    Subject.insert1(row, ignore_extra_fields=True)
    assert Subject.fetch1("subject_id") == "M001"


def test_bad_row_shapes(seed_pipeline):
    Subject = seed_pipeline.Subject
    with pytest.raises(DataError, match=r"Subject row given as a sequence needs 4 values.*has 2"):
        Subject.insert1(("M001", "mouse"))
    with pytest.raises(DataError, match="use insert1 for a single dict"):
        Subject.insert({"subject_id": "M001", "species": "mouse", "sex": "M"})
    with pytest.raises(DataError, match="rows are dicts or sequences, not str"):
        Subject.insert1("M001")
    with pytest.raises(DataError, match=r"Subject row .* has no value for sex, which is required"):
        Subject.insert1({"subject_id": "M001", "species": "mouse"})


def test_direct_insert_into_imported_computed_and_their_parts_is_refused(seed_rows):
    before = len(seed_rows.Detection)
    image_row = {"subject_id": "M001", "session_date": "2024-01-15", "image": [1]}
    with pytest.raises(DataError, match=r"Image is an imported table.*Image.populate\(\)"):
        seed_rows.Image.insert1(image_row)
    key = seed_rows.Detection.fetch("KEY", limit=1)[0]
    with pytest.raises(DataError, match=r"Detection is a computed table"):
        seed_rows.Detection.insert1({**key, "blob_paramset": 2, "nblobs": 0}, skip_duplicates=True)
    with pytest.raises(DataError, match=r"Detection\.Blob .*populate"):
        seed_rows.Detection.Blob.insert1({**key, "blob_id": 99, "x": 0.0, "y": 0.0})
    assert len(seed_rows.Detection) == before


def test_lookup_contents_are_present_after_activation(seed_pipeline):
    assert seed_pipeline.BlobParamSet.fetch(as_dict=True) == [
        {"blob_paramset": 1, "min_sigma": 1.0, "max_sigma": 5.0, "threshold": 0.1},
        {"blob_paramset": 2, "min_sigma": 2.0, "max_sigma": 10.0, "threshold": 0.05},
    ]


# ---------------------------------------------------------------- fetch


@pytest.fixture
def sessions(subjects):
    subjects.Session.insert(SEED_SESSIONS)
    return subjects


def test_fetch_shapes(sessions):
    Session = sessions.Session
    rows = Session.fetch(order_by="session_date")
    assert rows[0] == {"subject_id": "M001", "session_date": datetime.date(2024, 1, 15)}
    assert Session.fetch("session_date", order_by="session_date") == [
        datetime.date(2024, 1, 15),
        datetime.date(2024, 1, 16),
        datetime.date(2024, 2, 1),
    ]
    ids, dates = Session.fetch(
        "subject_id", "session_date", order_by=["subject_id", "session_date desc"]
    )
    assert ids == ["M001", "M001", "M002"]
    assert dates == [
        datetime.date(2024, 1, 16),
        datetime.date(2024, 1, 15),
        datetime.date(2024, 2, 1),
    ]
    assert Session.fetch("subject_id", as_dict=True, order_by="subject_id desc", limit=1) == [
        {"subject_id": "M002"}
    ]
    assert Session.fetch("session_date", order_by="session_date", offset=2) == [
        datetime.date(2024, 2, 1)
    ]
    assert Session.fetch("KEY", order_by="KEY", limit=2, offset=1) == [
        {"subject_id": "M001", "session_date": datetime.date(2024, 1, 16)},
        {"subject_id": "M002", "session_date": datetime.date(2024, 2, 1)},
    ]


def test_fetch_frame(sessions):
    frame = sessions.Subject.fetch(format="frame", order_by="subject_id")
    assert isinstance(frame, pd.DataFrame)
    assert frame.index.names == ["subject_id"]
    assert list(frame.columns) == ["species", "sex", "notes"]
    assert frame.loc["M002", "notes"] == "left ear tag"
    dates = sessions.Session.fetch(format="frame").reset_index()["session_date"].tolist()
    assert sorted(dates) == [
        datetime.date(2024, 1, 15),
        datetime.date(2024, 1, 16),
        datetime.date(2024, 2, 1),
    ]
    with pytest.raises(QueryError, match="unknown fetch format 'xml'"):
        sessions.Subject.fetch(format="xml")


def test_fetch_errors_name_the_attribute(sessions):
    with pytest.raises(QueryError) as error:
        sessions.Subject.fetch("weight")
    assert (
        "Subject has no attribute 'weight'; its attributes are subject_id, species, sex, notes"
        in str(error.value)
    )
    with pytest.raises(QueryError, match="cannot order Subject by 'species sideways'"):
        sessions.Subject.fetch(order_by="species sideways")
    with pytest.raises(QueryError, match="weight"):
        sessions.Subject.fetch(order_by="weight")
    with pytest.raises(QueryError, match="'KEY' must be fetched alone"):
        sessions.Subject.fetch("KEY", "species")


def test_fetch1(sessions):
    Subject = sessions.Subject
    one = Subject & {"subject_id": "M001"}
    assert one.fetch1() == {"subject_id": "M001", "species": "mouse", "sex": "M", "notes": ""}
    assert one.fetch1("species") == "mouse"
    assert one.fetch1("species", "sex") == ("mouse", "M")
    assert one.fetch1("KEY") == {"subject_id": "M001"}
    with pytest.raises(QueryError) as error:
        Subject.fetch1()
    assert "fetch1 needs exactly one row of Subject but 2 matched" in str(error.value)
    with pytest.raises(QueryError) as error:
        sessions.Session.fetch1("session_date")
    assert "but 3 matched" in str(error.value)
    with pytest.raises(QueryError, match="but none matched"):
        (Subject & {"subject_id": "nobody"}).fetch1()


def test_len_bool_iteration(sessions):
    Session = sessions.Session
    assert len(Session) == 3
    assert bool(Session)
    assert not (Session & {"subject_id": "nobody"})
    rows = list(Session & {"subject_id": "M001"})
    assert {row["session_date"] for row in rows} == {
        datetime.date(2024, 1, 15),
        datetime.date(2024, 1, 16),
    }
    assert all(set(row) == {"subject_id", "session_date"} for row in rows)


def test_repr_shows_rows(sessions):
    text = repr(sessions.Subject)
    assert "*subject_id" in text and "M001" in text and "(2 rows)" in text


def test_missing_values_in_a_frame_are_null(make_project):
    pipeline = make_project(
        '''
        import djflow

        @djflow.manual
        def Weighing():
            """
            weighing : int
            ---
            grams = null : float
            count = null : int
            day = null : date
            """
        '''
    )
    frame = pd.DataFrame(
        {
            "weighing": [1, 2],
            "grams": [20.5, float("nan")],
            "count": pd.array([3, None], dtype="Int64"),
            "day": [pd.Timestamp("2024-01-01"), pd.NaT],
        }
    )
    pipeline.Weighing.insert(frame)
    assert pipeline.Weighing.fetch(order_by="weighing") == [
        {"weighing": 1, "grams": 20.5, "count": 3, "day": datetime.date(2024, 1, 1)},
        {"weighing": 2, "grams": None, "count": None, "day": None},
    ]
    with pytest.raises(DataError, match=r"Weighing\.weighing cannot be NaN"):
        pipeline.Weighing.insert1({"weighing": np.float64("nan")})
