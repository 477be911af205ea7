"""Query expressions (SPEC §2): restriction, antijoin, join, proj, aggr, and errors that
are djflow errors (never a raw sqlite3 exception)."""

from __future__ import annotations

import datetime
import sqlite3

import pytest

from djflow import DjflowError, QueryError


@pytest.fixture
def lab(seed_rows):
    return seed_rows


def dates(query):
    return sorted(query.fetch("session_date"))


def test_restriction_by_date_object_and_iso_string_match_the_same_rows(lab):
    Session = lab.Session
    by_object = Session & {"session_date": datetime.date(2024, 1, 15)}
    by_string = Session & {"session_date": "2024-01-15"}
    by_sql = Session & "session_date = '2024-01-15'"
    assert by_object.fetch("KEY") == by_string.fetch("KEY") == by_sql.fetch("KEY")
    assert by_object.fetch1("subject_id") == "M001"
    assert dates(Session & "session_date > '2024-01-15'") == [
        datetime.date(2024, 1, 16),
        datetime.date(2024, 2, 1),
    ]


def test_dict_restriction_ignores_attributes_not_in_the_heading(lab):
    # DataJoint semantics: only attributes in common restrict
    assert len(lab.Session & {"subject_id": "M001", "species": "rat"}) == 2
    assert len(lab.Session & {"unrelated": 1}) == 3
    assert len(lab.Subject & {"subject_id": "M001", "notes": ""}) == 1


def test_dict_restriction_with_a_value_that_does_not_fit(lab):
    with pytest.raises(QueryError) as error:
        lab.Session & {"session_date": "January"}
    assert "Session" in str(error.value) and "session_date='January'" in str(error.value)


def test_list_restriction_is_or(lab):
    Session = lab.Session
    either = Session & [{"session_date": "2024-01-15"}, "session_date = '2024-02-01'"]
    assert dates(either) == [datetime.date(2024, 1, 15), datetime.date(2024, 2, 1)]
    assert len(Session & []) == 0
    assert len(Session - []) == 3


def test_restriction_by_another_query_and_antijoin(lab):
    Subject, Session = lab.Subject, lab.Session
    females = Subject & {"sex": "F"}
    assert dates(Session & females) == [datetime.date(2024, 2, 1)]
    assert dates(Session - females) == [datetime.date(2024, 1, 15), datetime.date(2024, 1, 16)]
    assert (Subject - (Session & "session_date > '2024-01-20'")).fetch("subject_id") == ["M001"]
    # chained restrictions are ANDed
    assert len(Session & {"subject_id": "M001"} & "session_date < '2024-01-16'") == 1
    # antijoin by a dict / string
    assert len(Session - {"subject_id": "M001"}) == 1
    assert len(Session - "subject_id = 'M002'") == 2


def test_restriction_by_a_query_without_common_attributes(lab):
    # no attributes in common: every row when the other query has rows, none when it is empty
    assert len(lab.Subject & lab.BlobParamSet) == 2
    assert len(lab.Subject & (lab.BlobParamSet & {"blob_paramset": 7})) == 0


def test_join(lab):
    joined = lab.Session * lab.Subject
    assert set(joined.heading.names) == {"subject_id", "session_date", "species", "sex", "notes"}
    assert joined.primary_key == ["subject_id", "session_date"]
    assert len(joined) == 3
    assert (joined & {"sex": "F"}).fetch1("session_date") == datetime.date(2024, 2, 1)
    cross = lab.Subject * lab.BlobParamSet
    assert len(cross) == 4
    assert cross.primary_key == ["subject_id", "blob_paramset"]
    three = lab.Subject * lab.Session * lab.Image
    assert len(three) == 3
    assert isinstance((three & {"subject_id": "M002"}).fetch1("image"), list)
    with pytest.raises(QueryError, match="cannot join Subject with a dict"):
        lab.Subject * {"subject_id": "M001"}


def test_proj(lab):
    Subject = lab.Subject
    keys = Subject.proj()
    assert keys.heading.names == ["subject_id"]
    assert keys.fetch(order_by="subject_id") == [{"subject_id": "M001"}, {"subject_id": "M002"}]
    assert Subject.proj("sex").heading.names == ["subject_id", "sex"]
    renamed = Subject.proj(animal="subject_id", kind="species")
    assert renamed.heading.names == ["animal", "kind"]
    assert renamed.primary_key == ["animal"]
    assert (renamed & {"animal": "M002"}).fetch1() == {"animal": "M002", "kind": "mouse"}
    everything = Subject.proj(..., label="upper(species)")
    assert (everything & {"subject_id": "M001"}).fetch1("label") == "MOUSE"
    assert set(everything.heading.names) == {"subject_id", "species", "sex", "notes", "label"}
    # a renamed date keeps its type: restrict by date object or string
    days = lab.Session.proj(day="session_date")
    assert len(days & {"day": datetime.date(2024, 1, 15)}) == len(days & {"day": "2024-01-15"}) == 1
    assert isinstance(days.fetch("day")[0], datetime.date)
    with pytest.raises(QueryError, match="Subject has no attribute 'weight'"):
        Subject.proj("weight")


def test_proj_then_join_renames_the_join_attribute(lab):
    # join two sessions of the same subject under other names
    first = lab.Session.proj(first="session_date")
    second = lab.Session.proj(second="session_date")
    pairs = (first * second) & "first < second"
    assert pairs.fetch("first", "second") == (
        [datetime.date(2024, 1, 15)],
        [datetime.date(2024, 1, 16)],
    )


def test_aggr(lab):
    counts = lab.Session.aggr(lab.Detection, n="count(*)", blobs="sum(nblobs)")
    rows = {(r["subject_id"], r["session_date"]): (r["n"], r["blobs"]) for r in counts.fetch()}
    assert rows == {
        ("M001", datetime.date(2024, 1, 15)): (2, 2),
        ("M001", datetime.date(2024, 1, 16)): (2, 4),
        ("M002", datetime.date(2024, 2, 1)): (2, 3),
    }
    per_subject = lab.Subject.aggr(lab.Session, n="count(*)")
    assert dict(zip(*per_subject.fetch("subject_id", "n"))) == {"M001": 2, "M002": 1}
    assert (per_subject & "n > 1").fetch1("subject_id") == "M001"
    assert per_subject.fetch("subject_id", order_by="n desc", limit=1) == ["M001"]
    with pytest.raises(QueryError, match="aggr needs at least one aggregate"):
        lab.Subject.aggr(lab.Session)


def test_aggr_keep_all_rows(lab):
    lab.Subject.insert1({"subject_id": "M003", "species": "rat", "sex": "U"})
    assert "M003" not in lab.Subject.aggr(lab.Session, n="count(*)").fetch("subject_id")
    every = lab.Subject.aggr(lab.Session, keep_all_rows=True, n="count(session_date)")
    assert dict(zip(*every.fetch("subject_id", "n"))) == {"M001": 2, "M002": 1, "M003": 0}


def test_restricted_query_keeps_types_through_fetch(lab):
    detection = lab.Detection & {
        "subject_id": "M001",
        "session_date": "2024-01-16",
        "blob_paramset": 1,
    }
    assert detection.fetch1("nblobs") == 2
    blobs = lab.Detection.Blob & detection
    assert blobs.fetch("x", order_by="blob_id") == [16.0, 17.0]


# ---------------------------------------------------------------- no raw sqlite3 errors


@pytest.mark.parametrize(
    "use",
    [
        lambda q: q.fetch(),
        lambda q: q.fetch1(),
        lambda q: q.fetch("subject_id"),
        lambda q: len(q),
        lambda q: bool(q),
        lambda q: list(q),
        lambda q: repr(q),
        lambda q: q.proj(x="subject_id").fetch(),
        lambda q: (q * q).fetch(),
        lambda q: q.delete_plan(),
        lambda q: q.delete(safemode=False),
        lambda q: q.delete_quick(),
    ],
)
def test_bad_sql_restriction_is_a_query_error(lab, use):
    bad = lab.Subject & "no_such_column = 1"
    with pytest.raises(QueryError) as error:
        use(bad)
    assert "Subject" in str(error.value)
    assert "no_such_column" in str(error.value)
    assert len(lab.Subject) == 2


def test_a_statement_is_not_a_restriction(lab):
    with pytest.raises(QueryError):
        (lab.Subject & "1); DROP TABLE Subject; --").fetch()
    with pytest.raises(QueryError):
        (lab.Subject & "1=1; DELETE FROM Subject").fetch()
    assert len(lab.Subject) == 2


def test_bad_expressions_in_proj_and_aggr(lab):
    with pytest.raises(QueryError):
        lab.Subject.proj(x="nonsense_function(species)").fetch()
    with pytest.raises(QueryError):
        lab.Subject.aggr(lab.Session, n="count(").fetch()


def test_restriction_by_an_unsupported_object(lab):
    with pytest.raises(QueryError, match="cannot restrict Subject by a int"):
        lab.Subject & 3


def test_no_sqlite3_exception_is_a_djflow_error_subclass():
    # the guarantee the tests above rely on: sqlite3 errors are not DjflowErrors by accident
    assert not issubclass(sqlite3.Error, DjflowError)
