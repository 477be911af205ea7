"""Every type SPEC §1 lists: what goes in comes back as the same Python value, and a value
that does not fit is refused with a DataError naming the table and attribute."""

from __future__ import annotations

import datetime
import decimal
import pickle
import sqlite3
import uuid
from pathlib import Path

import numpy as np
import pytest

from djflow import DataError, DjflowError, QueryError

TYPES = '''
import djflow

@djflow.manual
def Value():
    """
    id : int
    ---
    a_tinyint = null : tinyint
    a_tinyint_u = null : tinyint unsigned
    a_smallint = null : smallint
    a_smallint_u = null : smallint unsigned
    an_int = null : int
    an_int_u = null : int unsigned
    a_bigint = null : bigint
    a_bigint_u = null : bigint unsigned
    a_float = null : float
    a_double = null : double
    a_decimal = null : decimal(6,2)
    a_bool = null : bool
    a_varchar = null : varchar(5)
    a_char = null : char(3)
    an_enum = null : enum('red', 'green')
    a_date = null : date
    a_datetime = null : datetime
    a_timestamp = null : timestamp
    a_json = null : json
    a_uuid = null : uuid
    a_blob = null : blob
    a_longblob = null : longblob
    an_attach = null : attach
    a_filepath = null : filepath
    """
'''


@pytest.fixture
def value_table(make_project):
    return make_project(TYPES).Value


def round_trip(table, attribute, value):
    """Insert ``value`` into ``attribute`` of a new row and fetch it back."""
    new_id = len(table) + 1
    table.insert1({"id": new_id, attribute: value})
    return (table & {"id": new_id}).fetch1(attribute)


INTEGER_RANGES = [
    ("a_tinyint", -128, 127),
    ("a_tinyint_u", 0, 255),
    ("a_smallint", -32768, 32767),
    ("a_smallint_u", 0, 65535),
    ("an_int", -(2**31), 2**31 - 1),
    ("an_int_u", 0, 2**32 - 1),
    ("a_bigint", -(2**63), 2**63 - 1),
    ("a_bigint_u", 0, 2**63 - 1),  # SQLite integers are signed 64-bit
]


@pytest.mark.parametrize("attribute, low, high", INTEGER_RANGES)
def test_integer_ranges(value_table, attribute, low, high):
    assert round_trip(value_table, attribute, low) == low
    assert round_trip(value_table, attribute, high) == high
    for outside in (low - 1, high + 1):
        with pytest.raises(DataError) as error:
            value_table.insert1({"id": 99, attribute: outside})
        assert f"Value.{attribute}" in str(error.value)
        assert "outside the range" in str(error.value)
    assert len(value_table & {"id": 99}) == 0


def test_integers_accept_whole_numbers_only(value_table):
    assert round_trip(value_table, "an_int", "42") == 42
    assert round_trip(value_table, "an_int", 7.0) == 7
    assert round_trip(value_table, "an_int", np.int16(5)) == 5
    assert type(round_trip(value_table, "an_int", np.int64(6))) is int
    for bad in (7.5, "seven", [1]):
        with pytest.raises(DataError, match=r"Value\.an_int.*not a whole number"):
            value_table.insert1({"id": 99, "an_int": bad})


def test_float_and_double(value_table):
    assert round_trip(value_table, "a_float", 1.25) == 1.25
    assert round_trip(value_table, "a_double", 1e300) == 1e300
    assert round_trip(value_table, "a_double", np.float32(0.5)) == 0.5
    assert round_trip(value_table, "a_float", 3) == 3.0
    assert round_trip(value_table, "a_float", float("inf")) == float("inf")
    with pytest.raises(DataError, match=r"Value\.a_float.*not a number"):
        value_table.insert1({"id": 99, "a_float": "abc"})
    with pytest.raises(DataError, match=r"Value\.a_float.*bool"):
        value_table.insert1({"id": 99, "a_float": True})


def test_nan_is_null(value_table):
    assert round_trip(value_table, "a_float", float("nan")) is None


def test_decimal_is_exact(value_table):
    assert round_trip(value_table, "a_decimal", "1234.5") == decimal.Decimal("1234.50")
    assert round_trip(value_table, "a_decimal", decimal.Decimal("0.10")) == decimal.Decimal("0.10")
    assert str(round_trip(value_table, "a_decimal", 0.1)) == "0.10"
    with pytest.raises(DataError, match=r"Value\.a_decimal.*more than 6 digits"):
        value_table.insert1({"id": 99, "a_decimal": 12345.6})
    with pytest.raises(DataError, match=r"Value\.a_decimal.*not a number"):
        value_table.insert1({"id": 99, "a_decimal": "ten"})


def test_decimal_compares_as_a_number(value_table):
    for value in ("9.50", "10.00", "100.25", "-3"):
        round_trip(value_table, "a_decimal", value)
    assert (value_table & "a_decimal > 9.6").fetch("a_decimal", order_by="a_decimal") == [
        decimal.Decimal("10.00"),
        decimal.Decimal("100.25"),
    ]
    assert value_table.fetch("a_decimal", order_by="a_decimal desc", limit=2) == [
        decimal.Decimal("100.25"),
        decimal.Decimal("10.00"),
    ]
    assert (value_table & {"a_decimal": 10}).fetch1("a_decimal") == decimal.Decimal("10.00")


def test_bool(value_table):
    assert round_trip(value_table, "a_bool", True) is True
    assert round_trip(value_table, "a_bool", 0) is False
    assert round_trip(value_table, "a_bool", "yes") is True
    assert round_trip(value_table, "a_bool", np.bool_(False)) is False
    with pytest.raises(DataError, match=r"Value\.a_bool.*not a bool"):
        value_table.insert1({"id": 99, "a_bool": 2})
    assert (value_table & {"a_bool": True}).fetch("a_bool") == [True, True]


def test_varchar_and_char_lengths(value_table):
    assert round_trip(value_table, "a_varchar", "abcde") == "abcde"
    assert round_trip(value_table, "a_char", "xyz") == "xyz"
    assert round_trip(value_table, "a_varchar", np.str_("numpy")) == "numpy"
    with pytest.raises(
        DataError, match=r"Value\.a_varchar.*6 characters is longer than varchar\(5\)"
    ):
        value_table.insert1({"id": 99, "a_varchar": "abcdef"})
    with pytest.raises(DataError, match=r"Value\.a_char.*longer than char\(3\)"):
        value_table.insert1({"id": 99, "a_char": "abcd"})
    with pytest.raises(DataError, match=r"Value\.a_varchar.*not text"):
        value_table.insert1({"id": 99, "a_varchar": 12})


def test_enum_members(value_table):
    assert round_trip(value_table, "an_enum", "green") == "green"
    with pytest.raises(DataError) as error:
        value_table.insert1({"id": 99, "an_enum": "blue"})
    assert "Value.an_enum" in str(error.value)
    assert "'blue' is not one of 'red', 'green'" in str(error.value)


def test_date(value_table):
    day = datetime.date(2024, 1, 15)
    assert round_trip(value_table, "a_date", day) == day
    assert round_trip(value_table, "a_date", "2024-01-16") == datetime.date(2024, 1, 16)
    assert round_trip(value_table, "a_date", datetime.datetime(2024, 1, 17)) == datetime.date(
        2024, 1, 17
    )
    for bad in ("2024-13-01", "15/01/2024", datetime.datetime(2024, 1, 1, 10, 30), 20240101):
        with pytest.raises(DataError, match=r"Value\.a_date"):
            value_table.insert1({"id": 99, "a_date": bad})


@pytest.mark.parametrize("attribute", ["a_datetime", "a_timestamp"])
def test_datetime_and_timestamp(value_table, attribute):
    moment = datetime.datetime(2024, 1, 15, 10, 30, 5, 250)
    assert round_trip(value_table, attribute, moment) == moment
    assert round_trip(value_table, attribute, "2024-01-15 10:30:00") == datetime.datetime(
        2024, 1, 15, 10, 30
    )
    assert round_trip(value_table, attribute, "2024-01-15T08:00") == datetime.datetime(
        2024, 1, 15, 8
    )
    assert round_trip(value_table, attribute, datetime.date(2024, 2, 1)) == datetime.datetime(
        2024, 2, 1
    )
    with pytest.raises(DataError, match=rf"Value\.{attribute}.*not a date and time"):
        value_table.insert1({"id": 99, attribute: "yesterday"})
    assert len(value_table & {attribute: "2024-01-15 10:30:00"}) == 1


def test_json(value_table):
    document = {"a": [1, 2.5, None, True], "b": {"c": "d"}}
    assert round_trip(value_table, "a_json", document) == document
    assert round_trip(value_table, "a_json", [1, "two"]) == [1, "two"]
    assert round_trip(value_table, "a_json", "text") == "text"
    with pytest.raises(DataError, match=r"Value\.a_json.*JSON"):
        value_table.insert1({"id": 99, "a_json": {"bad": {1, 2}}})
    with pytest.raises(DataError, match=r"Value\.a_json"):
        value_table.insert1({"id": 99, "a_json": float("inf")})


def test_uuid(value_table):
    value = uuid.uuid4()
    assert round_trip(value_table, "a_uuid", value) == value
    assert round_trip(value_table, "a_uuid", str(value).upper()) == value
    assert (value_table & {"a_uuid": str(value)}).fetch("id") == [1, 2]
    with pytest.raises(DataError, match=r"Value\.a_uuid.*not a UUID"):
        value_table.insert1({"id": 99, "a_uuid": "not-a-uuid"})


@pytest.mark.parametrize("attribute", ["a_blob", "a_longblob"])
def test_blob_round_trips(value_table, attribute):
    values = [
        42,
        -1.5,
        float("nan"),
        "text",
        b"\x00bytes",
        [1, "two", [3.0]],
        (1, 2),
        {"x": 1, "nested": {"y": [1, 2]}},
        {1: "int key", ("a", 2): "tuple key"},
        {"$dollar": 1},
        None,
        True,
        datetime.date(2024, 1, 1),
        decimal.Decimal("1.10"),
    ]
    for value in values:
        back = round_trip(value_table, attribute, [value])[0]  # a list, so None is stored too
        if isinstance(value, float) and value != value:
            assert back != back
        else:
            assert back == value and type(back) is type(value)


def test_blob_numpy_arrays(value_table):
    arrays = {
        "image": np.arange(12, dtype=np.float32).reshape(3, 4),
        "fortran": np.asfortranarray(np.arange(6, dtype=np.int64).reshape(2, 3)),
        "mask": np.array([True, False]),
        "complex": np.array([1 + 2j]),
        "empty": np.zeros((0, 3)),
        "unsigned": np.array([2**64 - 1], dtype=np.uint64),
        "scalar": np.float64(2.5),
        "strings": np.array([["a", "bc"], ["def", ""]]),
        "bytes": np.array([b"x", b"yz"]),
        "objects": np.array([1, "two", [3]], dtype=object),
    }
    back = round_trip(value_table, "a_longblob", arrays)
    for name, array in arrays.items():
        np.testing.assert_array_equal(back[name], array)
        if isinstance(array, np.ndarray):
            assert back[name].dtype == array.dtype and back[name].shape == array.shape
    assert back["image"].flags.writeable
    lists = np.empty(2, dtype=object)
    lists[0], lists[1] = [1, 2], [3, 4]
    back_lists = round_trip(value_table, "a_blob", lists)
    assert back_lists.shape == (2,) and back_lists[1] == [3, 4]
    single = round_trip(value_table, "a_blob", np.eye(3))
    assert isinstance(single, np.ndarray) and single.shape == (3, 3)


def test_blob_refuses_what_it_cannot_store_safely(value_table):
    with pytest.raises(DataError, match=r"Value\.a_blob.*cannot hold a set"):
        value_table.insert1({"id": 99, "a_blob": {1, 2}})
    with pytest.raises(DataError, match=r"Value\.a_blob.*cannot hold an object"):
        value_table.insert1({"id": 99, "a_blob": object()})
    with pytest.raises(DataError, match=r"Value\.a_blob.*dtype"):
        value_table.insert1({"id": 99, "a_blob": np.array(["2024-01-01"], dtype="datetime64[D]")})


def test_a_blob_holding_pickle_bytes_is_never_unpickled(value_table, tmp_path):
    marker = tmp_path / "unpickled"

    class Boom:
        def __reduce__(self):
            return (Path.touch, (marker,))  # unpickling would create the marker file

    payload = pickle.dumps(Boom())
    # stored as bytes by djflow: comes back as the same bytes
    assert round_trip(value_table, "a_blob", payload) == payload
    # written behind djflow's back by another tool: refused on read, not unpickled
    connection = sqlite3.connect(value_table._pipeline.db.path)
    with connection:
        connection.execute('INSERT INTO "Value" (id, a_blob) VALUES (50, ?)', (payload,))
    connection.close()
    with pytest.raises(DataError) as error:
        (value_table & {"id": 50}).fetch1("a_blob")
    assert "Value.a_blob" in str(error.value)
    assert "not a djflow blob" in str(error.value)
    # the rest of the row still reads
    assert (value_table & {"id": 50}).fetch1("id") == 50
    assert not marker.exists()


def test_blob_cannot_restrict(value_table):
    round_trip(value_table, "a_blob", [1])
    with pytest.raises(QueryError, match="a_blob"):
        value_table & {"a_blob": [1]}


def test_attach_copies_the_file_into_the_store(value_table, tmp_path):
    source = tmp_path / "notes.txt"
    source.write_text("first version")
    stored = round_trip(value_table, "an_attach", source)
    source.write_text("changed later")
    assert stored.read_text() == "first version"
    assert stored.name == "notes.txt"
    project = Path(value_table._pipeline.project_dir)
    assert stored.is_relative_to(project / ".djflow")
    with pytest.raises(DataError, match=r"Value\.an_attach.*not a file"):
        value_table.insert1({"id": 99, "an_attach": tmp_path / "missing.txt"})


def test_filepath_is_relative_to_the_project(value_table, tmp_path):
    project = Path(value_table._pipeline.project_dir)
    (project / "raw").mkdir()
    (project / "raw" / "scan.dat").write_bytes(b"\x01\x02")
    assert round_trip(value_table, "a_filepath", "raw/scan.dat") == project / "raw" / "scan.dat"
    assert (
        round_trip(value_table, "a_filepath", project / "raw" / "scan.dat")
        == project / "raw" / "scan.dat"
    )
    outside = tmp_path / "outside.dat"
    outside.write_bytes(b"")
    with pytest.raises(DataError, match=r"Value\.a_filepath.*outside the project folder"):
        value_table.insert1({"id": 99, "a_filepath": outside})
    with pytest.raises(DataError, match=r"Value\.a_filepath.*not an existing file"):
        value_table.insert1({"id": 99, "a_filepath": "raw/missing.dat"})


def test_null_is_refused_where_not_nullable(make_project):
    table = make_project(TYPES.replace("a_bool = null : bool", "a_bool : bool")).Value
    with pytest.raises(DataError, match=r"Value\.a_bool cannot be None"):
        table.insert1({"id": 1, "a_bool": None})
    with pytest.raises(DataError, match="no value for a_bool, which is required"):
        table.insert1({"id": 1})
    assert isinstance(DataError("x"), DjflowError)


def test_a_plugin_type_from_the_pipefile(make_project):
    pipeline = make_project(
        '''
        import djflow
        from djflow.types import AttributeType

        class Percent(AttributeType):
            sql_type = "REAL"

            def encode(self, value, storage=None):
                if not 0 <= value <= 100:
                    raise ValueError(f"{value} is not a percentage")
                return value / 100

            def decode(self, stored, storage=None):
                return stored * 100

        @djflow.hookimpl
        def register_types(register):
            register("percent", lambda args, unsigned, declared: Percent(declared))

        @djflow.manual
        def Score():
            """
            id : int
            ---
            score : percent
            """
        '''
    )
    pipeline.Score.insert1((1, 50))
    assert pipeline.Score.fetch1("score") == 50
    assert pipeline.db.scalar('SELECT score FROM "Score"') == 0.5
    with pytest.raises(DataError, match=r"Score\.score.*120 is not a percentage"):
        pipeline.Score.insert1((2, 120))


hypothesis = pytest.importorskip("hypothesis")
strategies = hypothesis.strategies

blob_values = strategies.recursive(
    strategies.none()
    | strategies.booleans()
    | strategies.integers()
    | strategies.floats(allow_nan=False)
    | strategies.text()
    | strategies.binary(),
    lambda children: (
        strategies.lists(children)
        | strategies.tuples(children, children)
        | strategies.dictionaries(strategies.text(), children)
        | strategies.dictionaries(strategies.integers(), children)
    ),
    max_leaves=20,
)


@hypothesis.settings(max_examples=200, deadline=None)
@hypothesis.given(blob_values)
def test_blob_codec_round_trips_any_nesting(value):
    from djflow.codec import decode_blob, encode_blob

    assert decode_blob(encode_blob(value)) == value
