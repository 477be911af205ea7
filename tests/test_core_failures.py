"""Failures surface at once as one djflow error naming what is wrong, whatever raised them."""

from __future__ import annotations

import time

import pytest

from djflow.errors import DataError, PopulateError, QueryError

DOCS = '''
import djflow

@djflow.manual
def Doc():
    """
    doc_id : int
    ---
    body : varchar(100)
    size = null : int@archive     # '@store' is accepted and ignored
    """

@djflow.computed
def Stored(key, Doc):
    """
    -> Doc
    ---
    file = null : filepath
    """
    return {"file": 5 if key["doc_id"] == 2 else None}
'''


@pytest.fixture
def docs(make_project):
    pipeline = make_project(DOCS)
    pipeline.Doc.insert([(1, '{"a": 1}', 10), (2, "not json", None)])
    return pipeline


def test_a_column_name_containing_lock_fails_at_once(docs):
    started = time.perf_counter()
    with pytest.raises(QueryError, match="no such column: unlocked"):
        (docs.Doc & "unlocked = 1").fetch()
    assert time.perf_counter() - started < 1  # once retried as if the database were busy


def test_an_error_on_a_later_row_is_a_query_error(docs):
    with pytest.raises(QueryError, match="malformed JSON"):
        (docs.Doc & "json_extract(body, '$.a') = 1").fetch()
    with pytest.raises(QueryError, match="cannot list the pending keys of Stored: malformed JSON"):
        docs.Stored.populate("json_extract(body, '$.a') = 1", reserve_jobs=True)


def test_a_value_a_type_cannot_take_is_a_data_error_and_a_failed_key(docs):
    with pytest.raises(PopulateError, match=r"Stored\.file in row .*5 \(int\) is not a file path"):
        docs.Stored.populate()  # key 2's make returns 5 for a filepath
    result = docs.run(keep_going=True)
    assert result["Stored"]["failed"] == 1 and len(docs.Stored) == 1  # key 1 was written by the first call
    assert "is not a file path" in result["Stored"]["errors"][0][1]


def test_a_plugin_int_type_still_takes_unsigned(make_project):
    plugin = '''
import djflow
from djflow.types import IntegerType

@djflow.hookimpl
def register_types(register):
    register("int", lambda args, unsigned, declared: IntegerType(declared, 32, unsigned))
'''
    pipeline = make_project(
        '''
import djflow

@djflow.manual
def Counter():
    """
    counter_id : int unsigned
    """
''',
        plugins={"ints.py": plugin},
    )
    pipeline.Counter.insert1((4_000_000_000,))
    with pytest.raises(DataError, match="outside the range"):
        pipeline.Counter.insert1((-1,))


def test_run_where_must_be_text(docs):
    with pytest.raises(QueryError, match="takes one SQL expression as text, not a dict"):
        docs.run(where={"doc_id": 1})
