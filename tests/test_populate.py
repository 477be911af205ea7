"""populate in one process: key source, progress, restrictions, options, what a make returns, errors.

Each test writes its own pipefile into tmp_path (see populate_helpers.STANDARD for the
standard Source -> Square (+ Square.Item) project).
"""

from __future__ import annotations

import operator
import re
import sqlite3

import pytest
from populate_helpers import calls, standard_project, write_project

import djflow
from djflow.executors import chunk_size
from djflow.populate import MakeCalls, Populator

# ---------------------------------------------------------------- key source and progress

TWO_PARENTS = '''
import djflow


@djflow.lookup(contents=[(1, 10.0), (2, 100.0)])
def Param():
    """
    p : int
    ---
    scale : float
    """


@djflow.manual
def Source():
    """
    n : int
    ---
    value : float
    """


@djflow.computed
def Scaled(key, Source, Param):
    """
    -> Source
    -> Param
    ---
    out : float
    """
    return {"out": Source.fetch1("value") * Param.fetch1("scale")}


@djflow.computed
def Pair(key):
    """
    -> Source.proj(a='n')
    -> Source.proj(b='n')
    ---
    total : int
    """
    return {"total": key["a"] + key["b"]}
'''


def test_key_source_is_the_join_of_the_primary_parents(tmp_path):
    pipeline = djflow.load(write_project(tmp_path, TWO_PARENTS))
    pipeline.Source.insert([{"n": n, "value": n} for n in range(3)])
    keys = pipeline.Scaled.key_source.fetch("KEY")
    assert sorted((k["n"], k["p"]) for k in keys) == [(n, p) for n in range(3) for p in (1, 2)]
    assert set(pipeline.Scaled.key_source.heading.names) == {"n", "p"}
    # two references to the same parent under other names: every pair
    assert len(pipeline.Pair.key_source) == 9
    assert pipeline.Pair.populate()["success_count"] == 9
    assert (pipeline.Pair & {"a": 2, "b": 1}).fetch1("total") == 3


def test_progress_counts_remaining_and_total(tmp_path):
    pipeline = djflow.load(write_project(tmp_path, TWO_PARENTS))
    pipeline.Source.insert([{"n": n, "value": n} for n in range(3)])
    assert pipeline.Scaled.progress() == (6, 6)
    pipeline.Scaled.populate({"p": 1})
    assert pipeline.Scaled.progress() == (3, 6)
    assert pipeline.Scaled.progress({"p": 1}) == (0, 3)
    assert pipeline.Scaled.progress({"p": 2}, "n < 2") == (2, 2)
    pipeline.Scaled.populate()
    assert pipeline.Scaled.progress() == (0, 6)
    assert (pipeline.Scaled & {"n": 2, "p": 2}).fetch1("out") == 200.0


@pytest.mark.parametrize("order", ["original", "reverse", "random"])
def test_every_order_with_reservation_on_a_two_column_key(tmp_path, order):
    pipeline = djflow.load(write_project(tmp_path, TWO_PARENTS))
    pipeline.Source.insert([{"n": n, "value": n} for n in range(40)])
    result = pipeline.Scaled.populate("n != 7", reserve_jobs=True, order=order)
    assert result["success_count"] == 78
    assert pipeline.Scaled.progress() == (2, 80)
    assert pipeline.Pair.populate("a < 3", reserve_jobs=True, order=order)["success_count"] == 120


def test_progress_display_prints_to_stderr(tmp_path, capsys):
    pipeline = standard_project(tmp_path, count=4)
    pipeline.Square.populate(max_calls=1)
    assert pipeline.Square.progress(display=True) == (3, 4)
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "Square" in captured.err and "1/4" in captured.err


# ---------------------------------------------------------------- restrictions and options


@pytest.mark.parametrize(
    "restriction, expected",
    [
        ({"n": 3}, [3]),
        ("n >= 4", [4, 5]),
        ([{"n": 1}, "n = 5"], [1, 5]),
        ("query", [3, 4, 5]),  # Source & "value > 2.5", a query: a semijoin
        ([], []),  # an empty list matches nothing, as in DataJoint
    ],
    ids=["dict", "string", "list", "query", "empty-list"],
)
def test_populate_and_progress_take_restrictions(tmp_path, restriction, expected):
    pipeline = standard_project(tmp_path, count=6)
    if restriction == "query":
        restriction = pipeline.Source & "value > 2.5"
    assert pipeline.Square.progress(restriction) == (len(expected), len(expected))
    result = pipeline.Square.populate(restriction)
    assert result["success_count"] == len(expected)
    assert sorted(pipeline.Square.fetch("n")) == expected
    assert sorted(calls(tmp_path)) == expected
    assert pipeline.Square.progress() == (6 - len(expected), 6)


def test_several_restrictions_all_apply(tmp_path):
    pipeline = standard_project(tmp_path, count=6)
    pipeline.Square.populate("n > 1", pipeline.Source & "value < 4.5")
    assert sorted(pipeline.Square.fetch("n")) == [2, 3, 4]


def test_a_bad_restriction_is_a_query_error(tmp_path):
    pipeline = standard_project(tmp_path, count=2)
    with pytest.raises(djflow.QueryError, match="no_such_attribute"):
        pipeline.Square.populate("no_such_attribute = 1")
    with pytest.raises(djflow.QueryError, match="no_such_attribute"):
        pipeline.Square.populate("no_such_attribute = 1", reserve_jobs=True)
    with pytest.raises(djflow.QueryError, match="no_such_attribute"):
        pipeline.Square.progress("no_such_attribute = 1")
    with pytest.raises(djflow.QueryError):
        pipeline.Square.populate(42)
    assert len(pipeline.Square) == 0


def test_max_calls(tmp_path):
    pipeline = standard_project(tmp_path, count=5)
    assert pipeline.Square.populate(max_calls=2)["success_count"] == 2
    assert calls(tmp_path) == [0, 1]
    assert pipeline.Square.progress() == (3, 5)
    assert pipeline.Square.populate(max_calls=0)["success_count"] == 0
    assert pipeline.Square.populate(max_calls=10)["success_count"] == 3
    assert sorted(calls(tmp_path)) == [0, 1, 2, 3, 4]


def test_the_calls_left_are_known_at_the_end_so_the_last_chunks_to_workers_are_small(tmp_path):
    pipeline = standard_project(tmp_path, count=5)
    calls_of = lambda max_calls: MakeCalls(Populator(pipeline.Square, (), False, "original"), True, max_calls, {})  # noqa: E731
    stream = calls_of(None)
    assert operator.length_hint(stream, -1) == -1  # nothing listed yet
    assert [operator.length_hint(stream, -1) for _ in stream] == [4, 3, 2, 1, 0]
    assert operator.length_hint(calls_of(3), -1) == 3
    sizes, left = [], 40
    while left:
        sizes.append(chunk_size(8, left, processes=2))
        left -= sizes[-1]
    assert sizes[:3] == [8, 8, 6] and sizes[-3:] == [1, 1, 1]
    assert chunk_size(8, -1, processes=2) == 8


def test_order_reverse_and_random(tmp_path):
    pipeline = standard_project(tmp_path, count=30)
    pipeline.Square.populate("n < 10", order="reverse")
    assert calls(tmp_path) == list(range(9, -1, -1))
    pipeline.Square.populate(order="random")
    shuffled = calls(tmp_path)[10:]
    assert sorted(shuffled) == list(range(10, 30))
    assert shuffled != sorted(shuffled)  # 20 keys in sorted order by chance: 1 in 20!
    with pytest.raises(djflow.QueryError, match="order"):
        pipeline.Square.populate(order="backwards")


def test_order_reverse_pages_through_many_keys_with_reservation(tmp_path):
    # reservation pages the keys a few at a time; every key must still come exactly once
    pipeline = standard_project(tmp_path, count=300)
    result = pipeline.Square.populate(order="reverse", reserve_jobs=True)
    assert result["success_count"] == 300
    assert calls(tmp_path) == list(range(299, -1, -1))
    (tmp_path / "again").mkdir()
    again = standard_project(tmp_path / "again", count=300)
    assert again.Square.populate(order="random", reserve_jobs=True)["success_count"] == 300
    assert sorted(calls(tmp_path / "again")) == list(range(300))


def test_populate_returns_counts_and_does_nothing_twice(tmp_path):
    pipeline = standard_project(tmp_path, count=3)
    assert pipeline.Square.populate() == {"success_count": 3, "error_list": [], "skipped_count": 0}
    assert pipeline.Square.populate()["success_count"] == 0
    assert calls(tmp_path) == [0, 1, 2]


def test_only_auto_populated_tables_populate(tmp_path):
    pipeline = standard_project(tmp_path)
    with pytest.raises(djflow.PopulateError, match="Source"):
        pipeline.Source.populate()
    with pytest.raises(djflow.QueryError):
        pipeline.Square.populate(processes=0)


def test_display_progress_shows_a_bar_on_stderr(tmp_path, capsys):
    pipeline = standard_project(tmp_path, count=5)
    pipeline.Square.populate(display_progress=True)
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "Square" in captured.err
    assert re.search(r"5/5", captured.err), captured.err
    assert "|" in captured.err  # the bar itself


# ---------------------------------------------------------------- parts and atomicity


def test_parts_are_written_with_their_master(tmp_path):
    pipeline = standard_project(tmp_path, count=4)
    pipeline.Square.populate()
    assert sorted(pipeline.Square.fetch("sq")) == [0.0, 1.0, 4.0, 9.0]
    items = pipeline.Square.Item.fetch(as_dict=True, order_by=["n", "i"])
    assert [(r["n"], r["i"], r["v"]) for r in items] == [
        (0, 0, 0.0),
        (1, 0, 0.0),
        (1, 1, 1.0),
        (2, 0, 0.0),
        (2, 1, 2.0),
        (2, 2, 4.0),
        (3, 0, 0.0),
    ]


def test_a_make_that_raises_leaves_nothing(tmp_path):
    pipeline = standard_project(tmp_path, count=3)
    (tmp_path / "fail").write_text("1")
    with pytest.raises(djflow.PopulateError) as raised:
        pipeline.Square.populate()
    error = raised.value
    assert error.key == {"n": 1}
    assert isinstance(error.original, ValueError)
    assert error.__cause__ is error.original
    assert "bad value for n=1" in str(error) and "Square" in str(error)
    assert pipeline.Square.fetch("n") == [0]  # stopped at the first failure
    assert len(pipeline.Square & {"n": 1}) == 0
    assert len(pipeline.Square.Item & {"n": 1}) == 0
    assert pipeline.Square.populate(suppress_errors=True)["error_list"] == [
        ({"n": 1}, "ValueError: bad value for n=1")
    ]
    assert sorted(pipeline.Square.fetch("n")) == [0, 2]


PART_TROUBLE = '''
import djflow


@djflow.manual
def Source():
    """
    n : int
    """


@djflow.computed
def Master(key):
    """
    -> Source
    ---
    total : int
    """
    n = key["n"]
    if n == 1:  # two part rows with the same key: fails inside the write transaction
        parts = [{"i": 0}, {"i": 0}]
    elif n == 2:  # a part value that does not fit its type
        parts = [{"i": "not a number"}]
    elif n == 3:  # a part given as a dict instead of a list
        parts = {"i": 0}
    else:
        parts = [{"i": i} for i in range(3)]
    return {"total": n, "Part": parts}


@Master.part
def Part():
    """
    -> master
    i : int
    """
'''


def test_a_failing_part_insert_rolls_back_its_master(tmp_path):
    pipeline = djflow.load(write_project(tmp_path, PART_TROUBLE))
    pipeline.Source.insert([{"n": n} for n in range(4)])
    result = pipeline.Master.populate(suppress_errors=True)
    assert result["success_count"] == 1
    failed = dict((key["n"], message) for key, message in result["error_list"])
    assert set(failed) == {1, 2, 3}
    assert failed[1].startswith("DataError") and "Master" in failed[1]
    assert failed[2].startswith("DataError") and "i" in failed[2]
    assert failed[3].startswith("DataError") and "list of dicts" in failed[3]
    assert pipeline.Master.fetch("n") == [0]
    assert sorted(pipeline.Master.Part.fetch("n")) == [0, 0, 0]


# ---------------------------------------------------------------- what a make returns

SHAPES = '''
import djflow


@djflow.manual
def Source():
    """
    n : int
    """


@djflow.computed
def Trial(key):
    """
    -> Source
    trial : int
    ---
    score : float
    """
    return [{"trial": t, "score": key["n"] * 10 + t} for t in range(key["n"] + 1)]


@djflow.computed
def Shape(key):
    """
    -> Source
    ---
    value = 0 : int
    """
    n = key["n"]
    return {
        0: None,
        1: 42,
        2: ["a", "b"],
        3: {"value": 1, "unknown": 2},
        4: {"n": 99, "value": 1},
        5: [],
        6: {"value": "many"},
        7: {},
        8: {"n": 8, "value": 8},
    }[n]
'''


def test_a_make_returning_a_list_of_dicts_extends_the_key(tmp_path):
    pipeline = djflow.load(write_project(tmp_path, SHAPES))
    pipeline.Source.insert([{"n": n} for n in range(3)])
    assert pipeline.Trial.populate()["success_count"] == 3
    rows = pipeline.Trial.fetch(as_dict=True, order_by=["n", "trial"])
    assert [(r["n"], r["trial"], r["score"]) for r in rows] == [
        (0, 0, 0.0),
        (1, 0, 10.0),
        (1, 1, 11.0),
        (2, 0, 20.0),
        (2, 1, 21.0),
        (2, 2, 22.0),
    ]
    assert pipeline.Trial.progress() == (0, 3)  # the key source counts Source keys


def test_a_make_returning_the_wrong_shape_is_a_clear_error(tmp_path):
    pipeline = djflow.load(write_project(tmp_path, SHAPES))
    pipeline.Source.insert([{"n": n} for n in range(9)])
    result = pipeline.Shape.populate(suppress_errors=True)
    messages = {key["n"]: message for key, message in result["error_list"]}
    assert sorted(pipeline.Shape.fetch("n")) == [
        7,
        8,
    ]  # {} takes the default; the key may be repeated
    assert set(messages) == {0, 1, 2, 3, 4, 5, 6}
    assert all(message.startswith("DataError: ") for message in messages.values())
    assert "returned nothing" in messages[0]
    assert "int" in messages[1] and "dict" in messages[1]
    assert "list of str" in messages[2] and "list of dicts" in messages[2]
    assert "unknown" in messages[3]
    assert "99" in messages[4] and "n" in messages[4]
    assert "empty list" in messages[5]
    assert "value" in messages[6]
    for message in messages.values():
        assert "Shape" in message


def test_a_make_returning_nothing_raises_populate_error(tmp_path):
    pipeline = djflow.load(write_project(tmp_path, SHAPES))
    pipeline.Source.insert1({"n": 0})
    with pytest.raises(djflow.PopulateError, match="returned nothing") as raised:
        pipeline.Shape.populate()
    assert raised.value.key == {"n": 0}
    assert isinstance(raised.value.original, djflow.DataError)


# ---------------------------------------------------------------- injection

INJECTION = '''
import djflow

SEEN = {}


@djflow.manual
def Animal():
    """
    animal : varchar(8)
    ---
    weight : float
    """


@djflow.manual
def Visit():
    """
    -> Animal
    visit : int
    ---
    note : varchar(16)
    """


@djflow.computed
def Summary(key, Animal, Visit, scale=2.0, label="x"):
    """
    -> Visit
    ---
    value : float
    """
    SEEN[tuple(sorted(key.items()))] = {
        "animals": len(Animal), "visits": len(Visit), "scale": scale, "label": label,
    }
    return {"value": Animal.fetch1("weight") * scale + Visit.fetch1("visit")}


@djflow.computed
def Report(Summary, Animal):
    """
    -> Summary
    ---
    text : varchar(64)
    """
    return {"text": f"{Animal.fetch1('animal')}:{Summary.fetch1('value')}"}
'''


def test_make_parameters_are_injected_by_name(tmp_path):
    pipeline = djflow.load(write_project(tmp_path, INJECTION))
    pipeline.Animal.insert([{"animal": "a", "weight": 1.5}, {"animal": "b", "weight": 3.0}])
    pipeline.Visit.insert([{"animal": a, "visit": v, "note": ""} for a in "ab" for v in (1, 2)])
    pipeline.run()
    module = pipeline.Summary.definition.function.__globals__
    seen = module["SEEN"]
    assert len(seen) == 4
    for injected in seen.values():  # upstream tables restricted by the key; defaults untouched
        assert injected == {"animals": 1, "visits": 1, "scale": 2.0, "label": "x"}
    assert (pipeline.Summary & {"animal": "b", "visit": 2}).fetch1("value") == 8.0
    # an ancestor two levels up, and a make without `key`
    assert sorted(pipeline.Report.fetch("text")) == ["a:4.0", "a:5.0", "b:7.0", "b:8.0"]


def test_an_unknown_make_parameter_fails_at_load(tmp_path):
    pipefile = INJECTION.replace("def Report(Summary, Animal):", "def Report(Summary, Animals):")
    with pytest.raises(djflow.DefinitionError) as raised:
        djflow.load(write_project(tmp_path, pipefile))
    message = str(raised.value)
    assert "Animals" in message and "Report" in message
    for choice in ("key", "Animal", "Visit", "Summary"):
        assert choice in message
    assert "did you mean Animal" in message


def test_a_make_may_not_ask_for_a_table_that_is_not_upstream(tmp_path):
    pipefile = INJECTION.replace(
        "def Summary(key, Animal, Visit,", "def Summary(key, Animal, Report,"
    )
    with pytest.raises(djflow.DefinitionError, match="'Report'") as raised:
        djflow.load(write_project(tmp_path, pipefile))
    assert "Visit" in str(raised.value)


def test_a_make_taking_star_args_is_refused(tmp_path):
    pipefile = INJECTION.replace("def Report(Summary, Animal):", "def Report(**inputs):")
    with pytest.raises(djflow.DefinitionError, match="inputs"):
        djflow.load(write_project(tmp_path, pipefile))


@pytest.mark.parametrize("processes", [1, 2])
def test_a_make_may_ask_for_an_upstream_part_by_its_name(tmp_path, processes):
    pipefile = '''
    import djflow


    @djflow.manual
    def Source():
        """
        n : int
        """


    @djflow.computed
    def Square(key):
        """
        -> Source
        ---
        sq : int
        """
        return {"sq": key["n"] ** 2, "Item": [{"i": i} for i in range(key["n"])]}


    @Square.part
    def Item():
        """
        -> master
        i : int
        """


    @djflow.computed
    def ItemCount(key, Item, Square__Item):
        """
        -> Square
        ---
        count : int
        """
        assert len(Item) == len(Square__Item)
        return {"count": len(Item)}
    '''
    pipeline = djflow.load(write_project(tmp_path, pipefile))
    pipeline.Source.insert([{"n": n} for n in range(4)])
    pipeline.run(processes=processes)  # with 2, both names of the part are shipped to the worker
    assert dict(zip(*pipeline.ItemCount.fetch("n", "count"))) == {0: 0, 1: 1, 2: 2, 3: 3}


# ---------------------------------------------------------------- errors with and without suppress_errors


def test_suppress_errors_collects_every_failure(tmp_path):
    pipeline = standard_project(tmp_path, count=5)
    (tmp_path / "fail").write_text("1 3")
    result = pipeline.Square.populate(suppress_errors=True)
    assert result["success_count"] == 3
    assert result["error_list"] == [
        ({"n": 1}, "ValueError: bad value for n=1"),
        ({"n": 3}, "ValueError: bad value for n=3"),
    ]
    assert sorted(pipeline.Square.fetch("n")) == [0, 2, 4]
    # without reservation nothing is recorded: the failed keys are simply tried again
    (tmp_path / "fail").write_text("")
    assert pipeline.Square.populate()["success_count"] == 2


def test_the_database_is_plain_sqlite_after_populate(tmp_path):
    pipeline = standard_project(tmp_path, count=3)
    pipeline.Square.populate()
    pipeline.close()
    with sqlite3.connect(tmp_path / ".djflow" / "pipeline.db") as conn:
        assert conn.execute('SELECT count(*) FROM "Square__Item"').fetchone() == (6,)
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []


def test_populate_refuses_to_run_inside_a_transaction(tmp_path):
    pipeline = standard_project(tmp_path, count=2)
    with pytest.raises(djflow.PopulateError, match="transaction"):
        with pipeline.transaction():
            pipeline.Source.insert1({"n": 10, "value": 1.0})
            pipeline.Square.populate()
    assert len(pipeline.Source) == 2 and calls(tmp_path) == []
    assert pipeline.Square.populate()["success_count"] == 2


ECHO = '''
import numpy as np

import djflow


@djflow.manual
def Session():
    """
    subject_id : varchar(16)
    session_date : date
    """


@djflow.computed
def Stats(key):
    """
    -> Session
    ---
    count : int
    mean : float
    flag : bool
    """
    values = np.arange(4)
    # the key echoed back as text, and numpy scalars: both are what the row would store
    return {"session_date": str(key["session_date"]), "count": values.sum(), "mean": np.float32(1.5),
            "flag": values.sum() > 1}


@djflow.computed
def Samples(key):
    """
    -> Session
    sample : int
    ---
    value : double
    """
    return [{"sample": k, "value": v, "subject_id": key["subject_id"]} for k, v in zip(np.arange(3), np.linspace(0, 1, 3))]
'''


def test_a_make_may_echo_the_key_and_return_numpy_values(tmp_path):
    pipeline = djflow.load(write_project(tmp_path, ECHO))
    pipeline.Session.insert1({"subject_id": "M1", "session_date": "2024-01-15"})
    pipeline.run()
    assert pipeline.Stats.fetch1("count", "mean", "flag") == (6, 1.5, True)
    assert pipeline.Samples.fetch("value", order_by="sample") == [0.0, 0.5, 1.0]
