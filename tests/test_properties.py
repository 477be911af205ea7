"""Property tests (hypothesis): the definition parser, type round trips, cascading deletes.

1. Generated valid definitions parse to exactly the heading they describe; anything else
   (generated broken lines, arbitrary text) raises DefinitionError and nothing else.
2. Every type: what is inserted is what is fetched, as a secondary attribute and (for the
   types a key can have) as a primary key found again by restriction.
3. A cascading delete removes exactly the rows that a reference computed with networkx
   over the same rows says it must: every row reachable through foreign keys from the
   deleted rows, and when a part row goes, its master (and so everything below the master).

Examples are bounded so the file runs in a few seconds; set ``DJFLOW_PROPERTY_EXAMPLES``
(default 80) to search harder, e.g. ``DJFLOW_PROPERTY_EXAMPLES=2000 pytest tests/test_properties.py``.
"""

from __future__ import annotations

import datetime
import decimal
import math
import os
import string
import uuid
from typing import Any

import networkx as nx
import numpy as np
import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import djflow
from djflow.definition import CURRENT_TIMESTAMP, NO_DEFAULT, RESERVED_NAMES

EXAMPLES = int(os.environ.get("DJFLOW_PROPERTY_EXAMPLES", 80))
SETTINGS = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def pipeline_of(*definitions: tuple[str, str, str]) -> djflow.Pipeline:
    """An in-memory pipeline of manual tables ``(name, tier, definition)`` (tier: manual or lookup)."""
    table_defs = []
    for name, tier, text in definitions:
        def function():
            pass

        function.__name__ = name
        function.__doc__ = text
        table_defs.append(djflow.manual(function) if tier == "manual" else djflow.lookup(function))
    return djflow.from_tables(*table_defs)


# ---------------------------------------------------------------- 1. the definition parser

names = st.from_regex(r"[a-z][a-z0-9_]{0,12}", fullmatch=True).filter(lambda n: n not in RESERVED_NAMES)
spaces = st.sampled_from(["", " ", "  ", "\t"])
safe_text = st.text(alphabet=string.ascii_letters + string.digits + " _-,.;:#()=[]/", max_size=12)


@st.composite
def attribute_types(draw, in_key: bool) -> tuple[str, Any]:
    """``(declared type, strategy of (default text, default value))`` for one attribute."""
    length = draw(st.integers(1, 40))
    members = draw(st.lists(st.text(alphabet=string.ascii_lowercase + " ", min_size=1, max_size=6),
                            min_size=1, max_size=4, unique=True))
    quoted = ", ".join(f"'{m}'" for m in members)
    choices = [
        ("int", st.integers(-(2**31), 2**31 - 1).map(lambda n: (str(n), n))),
        ("smallint unsigned", st.integers(0, 2**16 - 1).map(lambda n: (str(n), n))),
        ("bigint", st.integers(-(2**63), 2**63 - 1).map(lambda n: (str(n), n))),
        (f"varchar({length})", st.text(alphabet=string.ascii_letters + " #:=()-", max_size=length)
         .map(lambda s: (f"'{s}'", s))),
        (f"char({length})", st.text(alphabet=string.ascii_letters, max_size=length).map(lambda s: (f'"{s}"', s))),
        (f"enum({quoted})", st.sampled_from(members).map(lambda m: (f"'{m}'", m))),
        ("date", st.dates().map(lambda d: (f"'{d.isoformat()}'", d.isoformat()))),
        ("uuid", st.uuids().map(lambda u: (f"'{u}'", str(u)))),
    ]
    if not in_key:
        choices += [
            ("float", st.floats(allow_nan=False, allow_infinity=False).map(lambda x: (repr(x), x))),
            ("double", st.integers(-1000, 1000).map(lambda n: (str(n), n))),
            ("decimal(8,3)", st.decimals(-9999, 9999, places=2).map(lambda d: (str(d), float(str(d))))),
            ("bool", st.booleans().map(lambda b: (str(b).lower(), b))),
            ("datetime", st.just(("CURRENT_TIMESTAMP", CURRENT_TIMESTAMP))),
            ("json", st.just(("'{}'", "{}"))),
            ("blob", st.just(("null", None))),
            ("longblob", st.just(("null", None))),
        ]
    declared, defaults = draw(st.sampled_from(choices))
    return declared, defaults


@st.composite
def definitions(draw) -> tuple[str, list[dict]]:
    """A valid definition and the attributes it declares: name, type, in_key, nullable, default."""
    attribute_names = draw(st.lists(names, min_size=1, max_size=7, unique=True))
    key_count = draw(st.integers(1, min(3, len(attribute_names))))
    lines, expected = [], []
    if draw(st.booleans()):
        lines.append("# a comment line")
    for index, name in enumerate(attribute_names):
        in_key = index < key_count
        if index == key_count:  # the first secondary attribute
            lines.append(draw(st.sampled_from(["---", "----", "-----------"])) + draw(st.sampled_from(["", "  # values"])))
        declared, defaults = draw(attribute_types(in_key))
        nullable, default = False, NO_DEFAULT
        left = name + draw(spaces)
        if not in_key and draw(st.booleans()):
            text, default = draw(st.one_of(st.just(("null", None)), defaults))
            nullable = default is None
            left += "=" + draw(spaces) + text + draw(spaces)
        comment = draw(st.one_of(st.just(""), safe_text.map(lambda c: "  # " + c)))
        lines.append(f"{draw(spaces)}{left}:{draw(spaces)}{declared}{comment}")
        if draw(st.integers(0, 4)) == 0:
            lines.append("")
        expected.append({"name": name, "type": declared, "in_key": in_key, "nullable": nullable, "default": default})
    if key_count == len(attribute_names) and draw(st.booleans()):
        lines.append("---")
    return "\n".join(lines), expected


@SETTINGS
@given(definitions())
def test_a_valid_definition_parses_to_the_heading_it_describes(generated):
    text, expected = generated
    pipeline = pipeline_of(("T", "manual", text))
    heading = pipeline.T.heading
    got = [{"name": a.name, "type": a.declared, "in_key": a.in_key, "nullable": a.nullable, "default": a.default}
           for a in heading.attributes.values()]
    assert got == expected
    pipeline.close()


BROKEN_LINES = [
    "Upper : int",  # a name must start lowercase
    "x y : int",  # a name has no spaces
    "x : notatype",
    "x : varchar",  # needs a length
    "x : int unsigned unsigned",
    "x : enum(a, b)",  # members are quoted
    "x : decimal(2,5)",  # scale > precision
    "x",  # no type
    "x :",  # no type
    "x = : int",  # '=' without a default
    "x = 'unterminated : int",
    "rowid : int",
    "-> ",
    "-> [sideways] P",
    "-> P.proj(a=b)",  # the old name is quoted
    "x = 'abc' : int",  # the default does not fit
    "x = nan : float",
    "index(nope)",
]


@SETTINGS
@given(definitions(), st.sampled_from(BROKEN_LINES), st.integers(0, 10))
def test_a_broken_line_anywhere_is_a_definition_error(generated, broken, where):
    text, _ = generated
    lines = text.splitlines()
    lines.insert(min(where, len(lines)), broken)
    with pytest.raises(djflow.DefinitionError):
        pipeline_of(("P", "manual", "p : int"), ("T", "manual", "\n".join(lines)))


@settings(max_examples=4 * EXAMPLES, deadline=None)
@given(st.lists(st.one_of(
    st.text(max_size=40),
    st.sampled_from(["---", "-> P", "-> [nullable] P", "-> P.proj(q='p')", "x : int", "y = null : float",
                     "unique index(x)", "z = 'a:b' : varchar(3)", "-> master"]),
), max_size=6))
def test_any_text_as_a_definition_parses_or_is_a_definition_error(lines):
    try:
        pipeline = pipeline_of(("P", "manual", "p : int"), ("T", "manual", "\n".join(lines)))
    except djflow.DefinitionError as error:
        assert "\n" not in str(error)
        return
    pipeline.close()


# ---------------------------------------------------------------- 2. insert / fetch round trips

VALUES = """
id : int
---
v_int = null : int
v_tinyint = null : tinyint
v_smallint = null : smallint unsigned
v_bigint = null : bigint
v_float = null : float
v_double = null : double
v_decimal = null : decimal(8,3)
v_wide_decimal = null : decimal(20,6)
v_bool = null : bool
v_varchar = null : varchar(20)
v_char = null : char(4)
v_text = null : text
v_enum = null : enum('a', 'b', 'c d')
v_date = null : date
v_datetime = null : datetime
v_timestamp = null : timestamp
v_json = null : json
v_uuid = null : uuid
v_blob = null : blob
v_longblob = null : longblob
"""

KEYED = """
k_int : bigint
k_text : varchar(12)
k_date : date
k_uuid : uuid
k_enum : enum('x', 'y')
k_datetime : datetime
---
note = null : varchar(8)
"""

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=12,
)
array_dtypes = st.sampled_from(["<i1", "<i2", ">i4", "<i8", "<u1", "<u4", "<f4", ">f8", "<c16", "|b1"])
arrays = array_dtypes.flatmap(lambda dtype: hnp.arrays(np.dtype(dtype), hnp.array_shapes(min_dims=0, max_dims=3, max_side=4)))
text_arrays = hnp.arrays(np.dtype("<U5"), hnp.array_shapes(min_dims=1, max_dims=2, max_side=3),
                         elements=st.text(alphabet="abc", max_size=5))
blob_scalars = (st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8) | st.binary(max_size=8)
                | st.dates() | st.datetimes() | st.decimals(allow_nan=False, places=3) | st.uuids())
blob_values = st.recursive(
    blob_scalars | arrays | text_arrays,
    lambda inner: (st.lists(inner, max_size=4) | st.tuples(inner, inner)
                   | st.dictionaries(st.text(max_size=6), inner, max_size=3)  # keys starting with '$' included
                   | st.dictionaries(st.integers(-5, 5) | st.tuples(st.integers(0, 3)), inner, max_size=3)),
    max_leaves=10,
)
row_values = st.fixed_dictionaries({}, optional={
    "v_int": st.integers(-(2**31), 2**31 - 1),
    "v_tinyint": st.integers(-128, 127),
    "v_smallint": st.integers(0, 2**16 - 1),
    "v_bigint": st.integers(-(2**63), 2**63 - 1),
    "v_float": st.floats(allow_nan=False),
    "v_double": st.floats(allow_nan=False, width=32),
    "v_decimal": st.decimals(min_value=-99999, max_value=99999, places=3),
    "v_wide_decimal": st.decimals(min_value=-(10**13), max_value=10**13, places=6),
    "v_bool": st.booleans(),
    "v_varchar": st.text(max_size=20),
    "v_char": st.text(max_size=4),
    "v_text": st.text(max_size=200),
    "v_enum": st.sampled_from(["a", "b", "c d"]),
    "v_date": st.dates(),
    "v_datetime": st.datetimes(),
    "v_timestamp": st.datetimes(min_value=datetime.datetime(1970, 1, 1)),
    "v_json": json_values,
    "v_uuid": st.uuids(),
    "v_blob": blob_values,
    "v_longblob": blob_values,
})


def same(a: Any, b: Any) -> bool:
    """Equal, with NaN equal to NaN and numpy arrays compared by dtype, shape and values."""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return (isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and a.dtype == b.dtype
                and a.shape == b.shape and all(same(x, y) for x, y in zip(a.ravel().tolist(), b.ravel().tolist())))
    if isinstance(a, float) and isinstance(b, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    if isinstance(a, complex) and isinstance(b, complex):
        return same(a.real, b.real) and same(a.imag, b.imag)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b or (isinstance(a, (int, float)) and not isinstance(a, bool) and a == b)


@pytest.fixture(scope="module")
def typed():
    pipeline = pipeline_of(("Values", "manual", VALUES), ("Keyed", "manual", KEYED))
    yield pipeline
    pipeline.close()


@SETTINGS
@given(row_values)
def test_every_type_round_trips_as_a_secondary_attribute(typed, values):
    table = typed.Values
    (table & "id = 1").delete_quick()
    table.insert1({"id": 1, **values})
    fetched = (table & {"id": 1}).fetch1()
    expected = {name: None for name in table.heading.secondary} | values
    for name, value in expected.items():
        if isinstance(value, decimal.Decimal) and name in ("v_decimal", "v_wide_decimal"):
            value = value.quantize(decimal.Decimal(1).scaleb(-table.heading.attributes[name].type.scale))
        assert same(fetched[name], value), (name, value, fetched[name])


@SETTINGS
@given(st.integers(-(2**63), 2**63 - 1), st.text(max_size=12), st.dates(), st.uuids(), st.sampled_from(["x", "y"]),
       st.datetimes())
def test_every_key_type_round_trips_and_finds_its_row(typed, k_int, k_text, k_date, k_uuid, k_enum, k_datetime):
    table = typed.Keyed
    table.delete_quick()
    key = {"k_int": k_int, "k_text": k_text, "k_date": k_date, "k_uuid": k_uuid, "k_enum": k_enum,
           "k_datetime": k_datetime}
    table.insert1({**key, "note": "here"})
    assert (table & key).fetch1() == {**key, "note": "here"}
    assert (table & key).fetch1("KEY") == key
    assert len(table & {**key, "k_int": k_int ^ 1}) == 0


# ---------------------------------------------------------------- 3. cascading deletes vs. networkx


@djflow.manual
def A():
    """
    a : int
    ---
    mask : int          # which B rows E's make puts in its parts
    """


@djflow.manual
def B():
    """
    b : int
    """


@djflow.manual
def C():
    """
    -> A
    -> B
    c : int
    """


@djflow.manual
def D():
    """
    -> C
    d : int
    ---
    -> [nullable] B.proj(alt_b='b')
    """


@djflow.computed
def E(key, A, B):
    """
    -> A
    ---
    size : int
    """
    mask = A.fetch1("mask")
    chosen = [b for b in B.fetch("b") if mask & (1 << b)]
    return {"size": len(chosen), "Item": [{"b": b} for b in chosen]}


@E.part
def Item():
    """
    -> master
    -> B
    """


@djflow.computed
def F(key, E):
    """
    -> E
    ---
    doubled : int
    """
    return {"doubled": 2 * E.fetch1("size")}


# every foreign key as (child, parent, {child attribute: parent attribute})
FOREIGN_KEYS = [
    ("C", "A", {"a": "a"}), ("C", "B", {"b": "b"}), ("D", "C", {"a": "a", "b": "b", "c": "c"}),
    ("D", "B", {"alt_b": "b"}), ("E", "A", {"a": "a"}), ("E__Item", "E", {"a": "a"}), ("E__Item", "B", {"b": "b"}),
    ("F", "E", {"a": "a"}),
]
MASTERS = {"E__Item": ("E", {"a": "a"})}


@st.composite
def databases(draw) -> dict[str, list[dict]]:
    a_rows = [{"a": a, "mask": draw(st.integers(0, 63))} for a in draw(st.sets(st.integers(0, 4), max_size=4))]
    b_rows = [{"b": b} for b in draw(st.sets(st.integers(0, 5), max_size=5))]
    c_rows = [{"a": a["a"], "b": b["b"], "c": c} for a in a_rows for b in b_rows
              for c in draw(st.sets(st.integers(0, 1), max_size=2))]
    d_rows = []
    for c in c_rows:
        for d in draw(st.sets(st.integers(0, 1), max_size=2)):
            alt = draw(st.none() | st.sampled_from([b["b"] for b in b_rows])) if b_rows else None
            d_rows.append({**c, "d": d, "alt_b": alt})
    return {"A": a_rows, "B": b_rows, "C": c_rows, "D": d_rows}


def rows_of(pipeline: djflow.Pipeline) -> dict[str, list[dict]]:
    return {name: pipeline[name].fetch(as_dict=True) for name in ("A", "B", "C", "D", "E", "E__Item", "F")}


def node(table: str, row: dict, pipeline: djflow.Pipeline) -> tuple:
    return (table, *(row[n] for n in pipeline[table].heading.primary_key))


def expected_deletion(pipeline: djflow.Pipeline, rows: dict[str, list[dict]], doomed: list[tuple]) -> set[tuple]:
    """Rows a cascading delete of ``doomed`` must remove, worked out on a networkx graph of rows."""
    graph = nx.DiGraph()
    for table, table_rows in rows.items():
        graph.add_nodes_from(node(table, row, pipeline) for row in table_rows)
    for child, parent, attributes in FOREIGN_KEYS:
        parents = {tuple(row[p] for p in attributes.values()): row for row in rows[parent]}
        for row in rows[child]:
            value = tuple(row[c] for c in attributes)
            if None not in value and value in parents:
                graph.add_edge(node(parent, parents[value], pipeline), node(child, row, pipeline))
    gone = set(doomed)
    while True:
        reached = gone.union(*(nx.descendants(graph, n) for n in gone))
        masters = set()
        for part, (master, attributes) in MASTERS.items():
            for row in rows[part]:
                if node(part, row, pipeline) in reached:
                    [master_row] = [m for m in rows[master] if all(m[p] == row[c] for c, p in attributes.items())]
                    masters.add(node(master, master_row, pipeline))
        if masters <= reached:
            return reached
        gone = reached | masters


@pytest.fixture(scope="module")
def cascading():
    pipeline = djflow.from_tables(A, B, C, D, E, F)
    yield pipeline
    pipeline.close()


@settings(max_examples=3 * EXAMPLES // 4, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(databases(), st.sampled_from(["A", "B", "C", "D"]), st.data())
def test_a_cascading_delete_removes_exactly_what_networkx_says(cascading, contents, root, data):
    pipeline = cascading
    pipeline.A.delete(safemode=False)
    pipeline.B.delete(safemode=False)
    for name in ("A", "B", "C", "D"):
        pipeline[name].insert(contents[name])
    pipeline.E.populate()
    pipeline.F.populate()
    before = rows_of(pipeline)
    assume(before[root])
    chosen = data.draw(st.lists(st.sampled_from(before[root]), max_size=3, unique_by=lambda r: str(r)))
    keys = [{n: row[n] for n in pipeline[root].heading.primary_key} for row in chosen]
    doomed = [node(root, row, pipeline) for row in chosen]
    expected = expected_deletion(pipeline, before, doomed)
    deleted = (pipeline[root] & keys).delete(safemode=False)
    after = rows_of(pipeline)
    remaining = {node(t, row, pipeline) for t, table_rows in after.items() for row in table_rows}
    everything = {node(t, row, pipeline) for t, table_rows in before.items() for row in table_rows}
    assert everything - remaining == expected
    assert deleted == len(doomed)


def test_the_networkx_reference_itself_on_a_known_case(cascading):
    """Deleting B row 1 takes the D row pointing at it, the Item on it, so its master E and all E's Items, and F."""
    pipeline = cascading
    pipeline.A.delete(safemode=False)
    pipeline.B.delete(safemode=False)
    pipeline.A.insert([{"a": 0, "mask": 0b11}, {"a": 1, "mask": 0b01}])
    pipeline.B.insert([{"b": 0}, {"b": 1}])
    pipeline.C.insert1({"a": 1, "b": 0, "c": 0})
    pipeline.D.insert1({"a": 1, "b": 0, "c": 0, "d": 0, "alt_b": 1})
    pipeline.E.populate()
    pipeline.F.populate()
    before = rows_of(pipeline)
    expected = expected_deletion(pipeline, before, [("B", 1)])
    assert expected == {("B", 1), ("D", 1, 0, 0, 0), ("E__Item", 0, 1), ("E", 0), ("E__Item", 0, 0), ("F", 0)}
    (pipeline.B & {"b": 1}).delete(safemode=False)
    assert len(pipeline.E) == 1 and len(pipeline.D) == 0 and len(pipeline.C) == 1


def test_uuid_keys_match_their_text_form(typed):
    """A key given as text finds the row inserted with a UUID object (both are stored as the canonical text)."""
    table = typed.Keyed
    table.delete_quick()
    key = {"k_int": 1, "k_text": "t", "k_date": datetime.date(2024, 1, 1), "k_uuid": uuid.UUID(int=5),
           "k_enum": "x", "k_datetime": datetime.datetime(2024, 1, 1, 12)}
    table.insert1(key)
    assert len(table & {**key, "k_uuid": str(uuid.UUID(int=5)).upper()}) == 1


# ---------------------------------------------------------------- 4. any value at all: stored, or a DataError

anything = st.one_of(
    st.none(), st.booleans(), st.integers(), st.integers(10**300, 10**400), st.floats(), st.complex_numbers(),
    st.text(max_size=30), st.binary(max_size=10), st.dates(), st.datetimes(), st.times(), st.timedeltas(),
    st.decimals(), st.uuids(), st.lists(st.integers(), max_size=3), st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
    st.sets(st.integers(), max_size=2), st.just(object()), st.just(np.float64("nan")), st.just(np.int64(7)),
    st.just(np.array([1, 2])), st.just(float("inf")),
)
SECONDARY = [line.split("=")[0].strip() for line in VALUES.splitlines() if line.startswith("v_")]


@SETTINGS
@given(st.sampled_from(SECONDARY), anything)
@example("v_float", 10**400)  # found here: OverflowError escaped
@example("v_decimal", -2.137278061477211e112)  # found here: decimal.InvalidOperation escaped
@example("v_bool", decimal.Decimal("sNaN"))  # found here: decimal.InvalidOperation escaped
def test_any_value_is_stored_or_refused_with_a_data_error(typed, name, value):
    table = typed.Values
    (table & "id = 2").delete_quick()
    try:
        table.insert1({"id": 2, name: value})
    except djflow.DataError as error:
        assert "\n" not in str(error)
        assert len(table & "id = 2") == 0
        return
    (table & {"id": 2}).fetch1()  # and what was stored can be read back


@SETTINGS
@given(st.sampled_from(["id", *SECONDARY]), anything)
@example("v_float", 10**400)
@example("v_bool", decimal.Decimal("sNaN"))
def test_any_value_in_a_restriction_matches_or_is_a_djflow_error(typed, name, value):
    try:
        (typed.Values & {name: value}).fetch()
    except djflow.DjflowError as error:
        assert "\n" not in str(error)


# ---------------------------------------------------------------- 5. --where and input files: parsed or refused

where_pieces = st.sampled_from([
    "id", "v_int", "v_text", "nope", "=", "<", "AND", "OR", "NOT", "(", ")", "'x'", "'", '"', "1", "NULL", "IS",
    ";", "--", "/*", "*/", "SELECT", "FROM", "Values", "sqlite_schema", "length(", "load_extension(", ",", "[", "]",
    "IN", "CASE", "WHEN", "THEN", "END", "WITH", "RECURSIVE", "x(n)", "AS", "||", "LIKE", "\x00",
])


@settings(max_examples=4 * EXAMPLES, deadline=None)
@given(st.one_of(st.text(max_size=30), st.lists(where_pieces, max_size=8).map(" ".join)))
def test_a_where_expression_is_checked_or_refused_and_then_runs(typed, expression):
    from djflow.where import WhereError, check_where

    table = typed.Values
    try:
        checked = check_where(expression, table.heading.names, "Values")
    except WhereError as error:
        assert "\n" not in str(error)
        return
    try:
        (table & checked).fetch()
    except djflow.QueryError:
        pass  # e.g. a type mismatch SQLite only finds when it runs


@settings(max_examples=4 * EXAMPLES, deadline=None)
@given(st.text(max_size=60), st.sampled_from([None, "csv", "tsv", "json", "jsonl"]))
def test_an_input_file_is_read_as_rows_or_refused_with_a_data_error(text, format):
    import io

    from djflow.rowfiles import read_rows

    try:
        rows, used = read_rows(io.StringIO(text), "rows.txt", format)
    except djflow.DataError as error:
        assert "\n" not in str(error)
        return
    assert all(isinstance(row, dict) for row in rows)
