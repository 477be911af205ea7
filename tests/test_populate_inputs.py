"""The inputs a make gets are the same whether it runs here or in a worker process.

With ``processes=1`` a make gets live queries; with ``processes=2`` it gets queries over the
same rows shipped to the worker (``djflow.shipped``), because worker processes never touch
the database. Every operation a make is likely to use must answer the same.
"""

from __future__ import annotations

import pickle

import pytest
from populate_helpers import write_project

import djflow
from djflow.shipped import ShippedInput, opened_inputs

PIPEFILE = '''
import djflow


@djflow.manual
def Session():
    """
    subject_id : varchar(16)
    session_date : date
    ---
    weight : float
    """


@djflow.computed
def Recording(key):
    """
    -> Session
    """
    return {"Trial": [{"trial": t, "score": float(t), "label": "ab"[t % 2]} for t in range(3)]}


@Recording.part
def Trial():
    """
    -> master
    trial : int
    ---
    score : float
    label : varchar(8)
    """


def attempt(check):
    try:
        return repr(check())
    except Exception as error:
        return f"{type(error).__name__}: {error}"


@djflow.computed
def Summary(key, Session, Trial):
    """
    -> Recording
    ---
    report : longblob
    """
    checks = {
        "fetch1": lambda: Session.fetch1(),
        "fetch1_attr": lambda: Session.fetch1("weight"),
        "fetch1_two": lambda: Session.fetch1("weight", "subject_id"),
        "fetch1_key": lambda: (Trial & {"trial": 0}).fetch1("KEY"),
        "fetch_attr": lambda: Trial.fetch("trial", order_by="trial"),
        "fetch_two": lambda: Trial.fetch("trial", "score", order_by="trial desc"),
        "fetch_dicts": lambda: Trial.fetch(as_dict=True, order_by="trial", limit=2),
        "fetch_all": lambda: Trial.fetch(order_by="trial"),
        "keys": lambda: Trial.fetch("KEY", order_by="trial"),
        "order_key": lambda: Trial.fetch("trial", order_by="KEY desc"),
        "order_two": lambda: Trial.fetch("trial", order_by=["label", "score desc"]),
        "offset": lambda: Trial.fetch("trial", order_by="trial", limit=1, offset=1),
        "len": lambda: len(Trial),
        "bool": lambda: (bool(Trial), bool(Trial & {"trial": 99})),
        "iter": lambda: sorted(row["trial"] for row in Trial),
        "restrict": lambda: len(Trial & {"trial": 1}),
        "restrict_ignores_other_names": lambda: len(Trial & {"nothing": 1}),
        "restrict_date": lambda: len(Trial & {"session_date": key["session_date"]}),
        "restrict_date_text": lambda: len(Trial & {"session_date": str(key["session_date"])}),
        "restrict_float_by_int": lambda: len(Trial & {"score": 1}),
        "restrict_list": lambda: len(Trial & [{"trial": 0}, {"trial": 2}]),
        "restrict_bad_value": lambda: len(Trial & {"trial": "one"}),
        "antijoin": lambda: len(Trial - {"trial": 0}),
        "frame": lambda: list(Trial.fetch(format="frame").index.names),
        "fetch1_of_many": lambda: Trial.fetch1(),
        "bad_attribute": lambda: Trial.fetch("nope"),
        "heading": lambda: Trial.heading.names,
        "primary_key": lambda: Trial.primary_key,
        "restrict_string": lambda: len(Trial & "trial > 0 AND label = 'a'"),
        "join": lambda: len(Session * Trial),
        "proj": lambda: Trial.proj(s="score").fetch("s", order_by="s"),
        "aggr": lambda: Session.aggr(Trial, n="count(*)", best="max(score)").fetch1("n", "best"),
        "semijoin": lambda: len(Trial & (Session & {"weight": 20.0})),
    }
    return {"report": {name: attempt(check) for name, check in checks.items()}}
'''


@pytest.fixture
def reports(tmp_path):
    """The make's observations with live queries (processes=1) and with fetched rows (processes=2)."""
    pipeline = djflow.load(write_project(tmp_path, PIPEFILE))
    pipeline.Session.insert1({"subject_id": "M1", "session_date": "2024-01-15", "weight": 20.0})
    pipeline.Recording.populate()
    pipeline.Summary.populate()
    live = pipeline.Summary.fetch1("report")
    pipeline.Summary.delete_quick()
    assert pipeline.Summary.populate(processes=2)["success_count"] == 1
    return live, pipeline.Summary.fetch1("report")


def test_injected_inputs_answer_the_same_in_worker_processes(reports):
    live, fetched = reports
    assert (
        live["fetch1"]
        == "{'subject_id': 'M1', 'session_date': datetime.date(2024, 1, 15), 'weight': 20.0}"
    )
    assert live["order_key"] == "[2, 1, 0]"
    assert live["restrict_date_text"] == "3"
    assert live["restrict_bad_value"].startswith("QueryError")
    assert live["fetch1_of_many"].startswith("QueryError: fetch1 needs exactly one row")
    assert (live["restrict_string"], live["join"], live["semijoin"]) == ("1", "3", "3")
    assert (live["proj"], live["aggr"]) == ("[0.0, 1.0, 2.0]", "(3, 2.0)")
    differences = {
        name: (live[name], fetched[name]) for name in live if live[name] != fetched[name]
    }
    assert differences == {}


def test_shipped_inputs_pickle_and_open_as_the_same_query(tmp_path):
    pipeline = djflow.load(write_project(tmp_path, PIPEFILE))
    pipeline.Session.insert1({"subject_id": "M1", "session_date": "2024-01-15", "weight": 20.0})
    pipeline.Recording.populate()
    live = pipeline.Recording.Trial & {"subject_id": "M1"}
    shipped = pickle.loads(pickle.dumps(ShippedInput.from_query(live, "Recording__Trial")))
    with opened_inputs({"Trial": shipped, "key": {"subject_id": "M1"}}) as opened:
        assert opened["key"] == {"subject_id": "M1"}
        assert opened["Trial"].fetch(order_by="trial") == live.fetch(order_by="trial")
        assert len(opened["Trial"] & "trial > 0") == len(live & "trial > 0") == 2
        # a make running inside a make gets inputs of its own, not the ones the outer make is reading
        first_trial = ShippedInput.from_query(live & "trial = 0", "Recording__Trial")
        with opened_inputs({"Trial": first_trial}) as inner:
            assert len(inner["Trial"]) == 1
        assert len(opened["Trial"]) == 3
    with opened_inputs({"Trial": shipped}) as again:  # the next make sees its own rows, not the last one's too
        assert len(again["Trial"]) == 3
