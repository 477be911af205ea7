"""The generated row encoders: the inline fast path and the full check must agree."""

from __future__ import annotations

import math

import numpy as np
import pytest

from djflow.errors import DataError

NUMBERS = '''
import djflow

@djflow.manual
def Reading():
    """
    reading_id : tinyint unsigned
    ---
    label : varchar(4)
    value : float
    note = null : varchar(8)
    """

@djflow.manual
def Single():
    """
    only : int
    """
'''


@pytest.fixture
def pipeline(make_project):
    return make_project(NUMBERS)


def test_values_at_the_edges_of_their_types_are_stored_as_given(pipeline):
    pipeline.Reading.insert([(0, "", 0.0, None), (255, "abcd", -1.5e300, "12345678")])
    assert pipeline.Reading.fetch("reading_id", "label", order_by="reading_id") == ([0, 255], ["", "abcd"])


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ((256, "a", 1.0, None), r"Reading\.reading_id in row .*256 is outside the range of tinyint unsigned"),
        ((-1, "a", 1.0, None), r"outside the range"),
        ((1, "abcde", 1.0, None), r"Reading\.label in row .*longer than varchar\(4\)"),
        ((1, "a", math.nan, None), r"Reading\.value cannot be NaN: it is not nullable"),
        ((1, "a", "heavy", None), r"Reading\.value in row .*'heavy' is not a number"),
        ((1, 7, 1.0, None), r"Reading\.label in row .*7 \(int\) is not text"),
    ],
)
def test_values_that_miss_the_fast_path_get_the_full_check(pipeline, row, message):
    with pytest.raises(DataError, match=message):
        pipeline.Reading.insert1(row)
    assert len(pipeline.Reading) == 0


def test_values_of_other_python_types_are_converted_as_before(pipeline):
    pipeline.Reading.insert1((np.uint8(3), np.str_("ab"), np.float32(2.5), None))
    pipeline.Reading.insert1({"reading_id": True, "label": "x", "value": 1})  # bool and int convert
    assert pipeline.Reading.fetch(order_by="reading_id", as_dict=True) == [
        {"reading_id": 1, "label": "x", "value": 1.0, "note": None},
        {"reading_id": 3, "label": "ab", "value": 2.5, "note": None},
    ]


def test_a_table_of_one_attribute_round_trips(pipeline):
    pipeline.Single.insert([(1,), {"only": 2}])
    assert pipeline.Single.fetch("only", order_by="only") == [1, 2]
