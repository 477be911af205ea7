"""pipeline.run, the populate and job hooks, processes=N and the seed's populate examples."""

from __future__ import annotations

import hashlib

import pytest
from populate_helpers import calls, jobs, standard_project, write_project

import djflow

CHAIN = '''
from pathlib import Path

import djflow

HERE = Path(__file__).parent


def log(table, key):
    with open(HERE / "calls.log", "a") as out:
        out.write(f"{table} {key}\\n")


@djflow.manual
def Source():
    """
    n : int
    ---
    value : float
    """


@djflow.manual
def Other():
    """
    m : int
    """


@djflow.computed
def Double(key, Source):
    """
    -> Source
    ---
    double : float
    """
    log("Double", key)
    return {"double": 2 * Source.fetch1("value")}


@djflow.computed
def Quad(key, Double):
    """
    -> Double
    ---
    quad : float
    """
    log("Quad", key)
    return {"quad": 2 * Double.fetch1("double")}


@djflow.computed
def Total(key, Quad, Source):
    """
    -> Quad
    ---
    total : float
    """
    log("Total", key)
    return {"total": Quad.fetch1("quad") + Source.fetch1("value")}


@djflow.computed
def Unrelated(key):
    """
    -> Other
    ---
    half : float
    """
    log("Unrelated", key)
    return {"half": key["m"] / 2}
'''


def chain(tmp_path, count=3):
    pipeline = djflow.load(write_project(tmp_path, CHAIN))
    pipeline.Source.insert([{"n": n, "value": n} for n in range(count)])
    pipeline.Other.insert([{"m": m} for m in range(2)])
    return pipeline


def logged_tables(tmp_path):
    log = tmp_path / "calls.log"
    return [line.split()[0] for line in log.read_text().splitlines()] if log.exists() else []


def file_hash(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


# ---------------------------------------------------------------- pipeline.run


def test_run_populates_everything_in_dependency_order(tmp_path):
    pipeline = chain(tmp_path)
    summary = pipeline.run()
    assert {name: entry["computed"] for name, entry in summary.items()} == {
        "Double": 3,
        "Quad": 3,
        "Total": 3,
        "Unrelated": 2,
    }
    order = logged_tables(tmp_path)
    last = {table: max(i for i, t in enumerate(order) if t == table) for table in set(order)}
    first = {table: min(i for i, t in enumerate(order) if t == table) for table in set(order)}
    assert last["Double"] < first["Quad"] and last["Quad"] < first["Total"]
    assert (pipeline.Total & {"n": 2}).fetch1("total") == 10.0
    assert jobs(tmp_path) == []  # run reserves, and a finished job leaves no trace
    assert all(entry["computed"] == 0 for entry in pipeline.run().values())


def test_run_with_targets_computes_only_what_they_need(tmp_path):
    pipeline = chain(tmp_path)
    summary = pipeline.run("Quad")
    assert set(summary) == {"Double", "Quad"}
    assert sorted(set(logged_tables(tmp_path))) == ["Double", "Quad"]
    assert len(pipeline.Total) == 0 and len(pipeline.Unrelated) == 0
    pipeline.run("Unrelated")
    assert len(pipeline.Unrelated) == 2 and len(pipeline.Total) == 0
    with pytest.raises(djflow.UnknownTableError, match="Quadd"):
        pipeline.run("Quadd")


def test_dry_run_lists_pending_keys_and_writes_nothing(tmp_path):
    pipeline = chain(tmp_path)
    pipeline.run("Double", where="n = 0")
    pipeline.close()
    db_file = tmp_path / ".djflow" / "pipeline.db"
    before = {p.name: file_hash(p) for p in db_file.parent.iterdir() if p.is_file()}
    pipeline = djflow.load(tmp_path / "pipefile.py")
    summary = pipeline.run(dry_run=True)
    pipeline.close()
    assert summary["Double"]["pending"] == 2
    assert summary["Double"]["keys"] == [{"n": 1}, {"n": 2}]
    assert summary["Quad"]["pending"] == 1 and summary["Quad"]["keys"] == [{"n": 0}]
    assert summary["Unrelated"]["pending"] == 2
    assert not (tmp_path / "calls.log").read_text().count("Quad")
    after = {p.name: file_hash(p) for p in db_file.parent.iterdir() if p.is_file()}
    assert after == before


def test_dry_run_with_a_readonly_pipeline_on_a_fresh_project(tmp_path):
    write_project(tmp_path, CHAIN)
    pipeline = djflow.load(tmp_path / "pipefile.py", readonly=True)
    summary = pipeline.run(dry_run=True)
    assert all(entry["pending"] == 0 for entry in summary.values())
    assert not (tmp_path / ".djflow" / "pipeline.db").exists()


def test_a_readonly_pipeline_lists_pending_keys_but_refuses_to_populate(tmp_path):
    chain(tmp_path).close()
    pipeline = djflow.load(tmp_path / "pipefile.py", readonly=True)
    assert pipeline.run(dry_run=True)["Double"] == {
        "pending": 3,
        "keys": [{"n": 0}, {"n": 1}, {"n": 2}],
    }
    with pytest.raises(djflow.PopulateError, match="read-only"):
        pipeline.Double.populate()
    with pytest.raises(djflow.PopulateError, match="read-only"):
        pipeline.run()
    assert not (tmp_path / "calls.log").exists()  # no make ran


def test_run_restricted_by_where(tmp_path):
    pipeline = chain(tmp_path)
    summary = pipeline.run(where="n = 1")
    assert summary["Double"]["computed"] == 1 and summary["Total"]["computed"] == 1
    assert summary["Unrelated"] == {"skipped_by_where": True}
    assert pipeline.Total.fetch("n") == [1]


def test_run_where_naming_no_key_attribute_raises_and_computes_nothing(tmp_path):
    pipeline = chain(tmp_path)
    with pytest.raises(djflow.QueryError) as raised:
        pipeline.run(where="nn = 1")  # a typo of n
    assert str(raised.value) == (
        "--where names 'nn', which no table to run has in its keys (Double: n; Quad: n; Total: n; Unrelated: m)"
    )
    assert logged_tables(tmp_path) == [] and jobs(tmp_path) == []
    with pytest.raises(djflow.QueryError, match="names 'm', which no table to run has in its keys"):
        pipeline.run("Quad", where="m = 1", dry_run=True)  # m is a key of Unrelated, which Quad does not need


@pytest.mark.parametrize(("where", "message"), [
    ("n >", "--where is not a valid SQL expression over Double's keys: near \")\": syntax error"),
    ("n = 1; DELETE FROM Source", "--where must be one expression, not statements: remove the ';'"),
    ("n = 1) OR (1", "--where has a ')' without its '(' at character 6"),
    ("   ", "--where is empty"),
])
@pytest.mark.parametrize("dry_run", [False, True])
def test_run_where_that_is_not_an_expression_raises_and_computes_nothing(tmp_path, where, message, dry_run):
    pipeline = chain(tmp_path)
    with pytest.raises(djflow.QueryError) as raised:
        pipeline.run(where=where, dry_run=dry_run)
    assert str(raised.value).startswith(message)
    assert logged_tables(tmp_path) == [] and jobs(tmp_path) == []
    assert len(pipeline.Source) == 3 and len(pipeline.Double) == 0


FAILING_CHAIN = CHAIN.replace(
    '    log("Double", key)\n',
    '    log("Double", key)\n    if key["n"] == 1:\n        raise RuntimeError("no")\n',
)


def test_run_stops_after_a_failure_unless_keep_going(tmp_path):
    pipeline = djflow.load(write_project(tmp_path, FAILING_CHAIN))
    pipeline.Source.insert([{"n": n, "value": n} for n in range(3)])
    pipeline.Other.insert1({"m": 1})
    summary = pipeline.run()
    assert summary["Double"]["failed"] == 1 and summary["Double"]["computed"] == 1  # n=0, then stop
    assert summary["Double"]["errors"] == [({"n": 1}, "RuntimeError: no")]
    assert summary["Quad"].get("not_run") and len(pipeline.Quad) == 0
    assert [j["status"] for j in jobs(tmp_path)] == ["error"]
    summary = pipeline.run(keep_going=True)  # the failed key waits until its error is cleared
    assert summary["Double"]["computed"] == 1 and summary["Double"]["failed"] == 0  # n=2 only
    assert summary["Quad"]["computed"] == 2 and summary["Total"]["computed"] == 2
    assert summary["Unrelated"]["computed"] == 1


# ---------------------------------------------------------------- hooks


class Recorder:
    """A plugin that records every populate and job hook with the keywords it got."""

    def __init__(self):
        self.events = []

    @djflow.hookimpl
    def populate_started(self, table, pending):
        self.events.append(("populate_started", table._name, pending))

    @djflow.hookimpl
    def populate_finished(self, table, result):
        self.events.append(
            ("populate_finished", table._name, result["success_count"], len(result["error_list"]))
        )

    @djflow.hookimpl
    def job_started(self, table, key):
        self.events.append(("job_started", table._name, key))

    @djflow.hookimpl
    def job_succeeded(self, table, key, seconds):
        assert isinstance(seconds, float) and seconds >= 0
        self.events.append(("job_succeeded", table._name, key))

    @djflow.hookimpl
    def job_failed(self, table, key, exception, traceback):
        self.events.append(
            ("job_failed", table._name, key, type(exception).__name__, "bad value" in traceback)
        )


class KeyOnly:
    """Implementations may take only the keywords they need."""

    def __init__(self):
        self.keys = []

    @djflow.hookimpl
    def job_started(self, key):
        self.keys.append(key)


@pytest.mark.parametrize("reserve_jobs", [False, True], ids=["plain", "reserving"])
def test_populate_and_job_hooks_fire_with_keywords(tmp_path, reserve_jobs):
    pipeline = standard_project(tmp_path, count=3)
    (tmp_path / "fail").write_text("1")
    recorder, key_only = Recorder(), KeyOnly()
    pipeline.plugin_manager.register(recorder)
    pipeline.plugin_manager.register(key_only)
    pipeline.Square.populate(suppress_errors=True, reserve_jobs=reserve_jobs)
    assert recorder.events == [
        ("populate_started", "Square", 3),
        ("job_started", "Square", {"n": 0}),
        ("job_succeeded", "Square", {"n": 0}),
        ("job_started", "Square", {"n": 1}),
        ("job_failed", "Square", {"n": 1}, "ValueError", True),
        ("job_started", "Square", {"n": 2}),
        ("job_succeeded", "Square", {"n": 2}),
        ("populate_finished", "Square", 2, 1),
    ]
    assert key_only.keys == [{"n": 0}, {"n": 1}, {"n": 2}]


def test_populate_started_counts_what_this_call_will_compute(tmp_path, capsys):
    pipeline = standard_project(tmp_path, count=5)
    recorder = Recorder()
    pipeline.plugin_manager.register(recorder)
    pipeline.Square.populate(max_calls=2, display_progress=True)
    pipeline.Square.populate("n > 3")
    assert "2/2" in capsys.readouterr().err  # the bar's total is what max_calls allows
    started = [event for event in recorder.events if event[0] == "populate_started"]
    assert started == [("populate_started", "Square", 2), ("populate_started", "Square", 1)]


def test_populate_finished_fires_when_populate_raises(tmp_path):
    pipeline = standard_project(tmp_path, count=2)
    (tmp_path / "fail").write_text("0")
    recorder = Recorder()
    pipeline.plugin_manager.register(recorder)
    with pytest.raises(djflow.PopulateError):
        pipeline.Square.populate()
    assert recorder.events[-1] == ("populate_finished", "Square", 0, 1)
    assert recorder.events[-2][:2] == ("job_failed", "Square")


def test_a_rejected_result_fires_job_failed(tmp_path):
    pipeline = djflow.load(
        write_project(tmp_path, CHAIN.replace('return {"half": key["m"] / 2}', "return None"))
    )
    pipeline.Other.insert1({"m": 1})
    recorder = Recorder()
    pipeline.plugin_manager.register(recorder)
    pipeline.Unrelated.populate(suppress_errors=True)
    assert recorder.events[2][:4] == ("job_failed", "Unrelated", {"m": 1}, "DataError")


# ---------------------------------------------------------------- processes


def test_processes_two_computes_every_key_once(tmp_path):
    pipeline = standard_project(tmp_path, count=12)
    (tmp_path / "fail").write_text("5")
    result = pipeline.Square.populate(processes=2, suppress_errors=True)
    assert result["success_count"] == 11
    assert result["error_list"] == [({"n": 5}, "ValueError: bad value for n=5")]
    assert sorted(calls(tmp_path)) == list(range(12))
    assert sorted(pipeline.Square.fetch("n")) == [n for n in range(12) if n != 5]
    assert len(pipeline.Square.Item) == sum(n % 3 + 1 for n in range(12) if n != 5)
    assert (pipeline.Square & {"n": 7}).fetch1("sq") == 49.0
    from populate_helpers import call_pids

    assert len(set(call_pids(tmp_path))) == 2  # two worker processes, neither of them this one


def test_processes_two_with_reservation_and_run(tmp_path):
    pipeline = chain(tmp_path, count=6)
    summary = pipeline.run(processes=2)
    assert {name: entry["computed"] for name, entry in summary.items()} == {
        "Double": 6,
        "Quad": 6,
        "Total": 6,
        "Unrelated": 2,
    }
    assert jobs(tmp_path) == []


POOL = '''
import multiprocessing

import djflow


def cube(x):
    return x ** 3


@djflow.manual
def Source():
    """
    n : int
    """


@djflow.computed
def Cubes(key):
    """
    -> Source
    ---
    total : int
    """
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        return {"total": sum(pool.map(cube, range(key["n"] + 1)))}
'''


def test_a_make_may_start_its_own_pool_in_a_worker_process(tmp_path):
    pipeline = djflow.load(
        write_project(tmp_path, POOL.replace('get_context("spawn")', 'get_context("fork")'))
    )
    pipeline.Source.insert([{"n": n} for n in range(3)])
    result = pipeline.Cubes.populate(processes=2)
    assert result == {"success_count": 3, "error_list": [], "skipped_count": 0}
    assert sorted(pipeline.Cubes.fetch("total")) == [0, 1, 9]


def test_processes_need_a_database_file(tmp_path):
    @djflow.manual
    def Source():
        """
        n : int
        """

    @djflow.computed
    def Copy(key):
        """
        -> Source
        """
        return {}

    pipeline = djflow.from_tables(Source, Copy, project_dir=tmp_path)
    pipeline.Source.insert1({"n": 1})
    with pytest.raises(djflow.PopulateError, match="in-memory"):
        pipeline.Copy.populate(processes=2)
    assert pipeline.Copy.populate()["success_count"] == 1


# ---------------------------------------------------------------- the seed's examples

SEED = '''
import djflow


def find_blobs(image, params):
    """Bright pixels above the threshold: enough science for a test."""
    return [(x, y) for y, row in enumerate(image) for x, v in enumerate(row) if v > params["threshold"]]


@djflow.lookup(contents=[(1, 1.0, 5.0, 0.1), (2, 2.0, 10.0, 0.05)])
def BlobParamSet():
    """
    blob_paramset : int
    ---
    min_sigma : float
    max_sigma : float
    threshold : float
    """


@djflow.manual
def Subject():
    """
    subject_id : varchar(16)        # lab identifier
    ---
    species : varchar(32)
    sex : enum('M', 'F', 'U')
    notes = '' : varchar(255)
    """


@djflow.manual
def Session():
    """
    -> Subject
    session_date : date
    ---
    brightness = 0.08 : float
    """


@djflow.imported
def Image(key, Session):
    """
    -> Session
    ---
    image : blob
    """
    b = Session.fetch1("brightness")
    return {"image": [[0.0, b, 0.2], [b, 0.0, 0.07]]}


@djflow.computed
def Detection(key, Image, BlobParamSet):
    """
    -> Image
    -> BlobParamSet
    ---
    nblobs : int
    """
    image = Image.fetch1("image")
    params = BlobParamSet.fetch1()
    blobs = find_blobs(image, params)
    return {"nblobs": len(blobs), "Blob": [{"blob_id": i, "x": x, "y": y} for i, (x, y) in enumerate(blobs)]}


@Detection.part
def Blob():
    """
    -> master
    blob_id : int
    ---
    x : float
    y : float
    """
'''


def test_seed_populate_with_progress_bar_and_the_delete_reinsert_populate_cycle(tmp_path, capsys):
    pipeline = djflow.load(write_project(tmp_path, SEED))
    Subject, Session, Image, Detection = (
        pipeline.Subject,
        pipeline.Session,
        pipeline.Image,
        pipeline.Detection,
    )
    Subject.insert1({"subject_id": "M001", "species": "mouse", "sex": "M"})
    Session.insert(
        [
            {"subject_id": "M001", "session_date": "2024-01-15"},
            {"subject_id": "M001", "session_date": "2024-01-16"},
        ]
    )
    Image.populate()
    Detection.populate(display_progress=True)
    err = capsys.readouterr().err
    assert "Detection" in err and "4/4" in err
    key = {"subject_id": "M001", "session_date": "2024-01-15"}
    # threshold 0.1 sees 0.2 only; threshold 0.05 sees 0.2, 0.08, 0.08 and 0.07
    assert sorted((Detection & key).fetch("nblobs")) == [1, 4]
    assert len(Detection.Blob & key) == 5

    # the value was wrong: delete (cascades), reinsert corrected, populate again
    (Session & key).delete()
    assert len(Image & key) == 0 and len(Detection & key) == 0 and len(Detection.Blob & key) == 0
    assert len(Detection) == 2  # the other session's results stay
    Session.insert1({**key, "brightness": 0.5})
    assert Image.progress() == (1, 2)
    Image.populate()
    assert Detection.progress() == (2, 4)
    Detection.populate(display_progress=True)
    assert sorted((Detection & key).fetch("nblobs")) == [3, 4]
    assert len(Detection.Blob) == 5 + 7
    assert Detection.progress() == (0, 4)

    Subject.update1({"subject_id": "M001", "notes": "Corrected housing info"})
    assert len(Detection) == 4  # update1 touches no dependents


TROUBLE_IN_WORKERS = '''
import os
from pathlib import Path

import djflow

HERE = Path(__file__).parent


@djflow.manual
def Source():
    """
    n : int
    """


@djflow.computed
def Out(key):
    """
    -> Source
    ---
    value : longblob
    """
    n = key["n"]
    if n == 1:
        return {"value": lambda: 1}  # cannot be sent back from a worker process
    if n == 2:
        class LocalError(Exception):
            pass

        raise LocalError("defined inside the make")
    if n == 4 and (HERE / "crash").exists():
        os._exit(3)  # the worker process dies, as when it is killed for memory
    return {"value": n}
'''


def test_what_cannot_come_back_from_a_worker_is_recorded_as_the_error(tmp_path):
    pipeline = djflow.load(write_project(tmp_path, TROUBLE_IN_WORKERS))
    pipeline.Source.insert([{"n": n} for n in range(4)])
    result = pipeline.Out.populate(processes=2, reserve_jobs=True, suppress_errors=True)
    errors = dict((key["n"], message) for key, message in result["error_list"])
    assert result["success_count"] == 2 and set(errors) == {1, 2}
    assert "pickle" in errors[1]
    assert errors[2] == "RuntimeError: LocalError: defined inside the make"
    failed = {j["key_json"]: j for j in jobs(tmp_path)}
    assert "LocalError" in failed['{"n":2}']["error_traceback"]  # the worker's traceback is kept


def test_a_bad_result_inside_a_chunk_of_quick_makes_fails_only_its_own_key(tmp_path):
    # quick makes are sent to workers in chunks; keys 41 and 42 come late, inside a chunk
    late_trouble = TROUBLE_IN_WORKERS.replace("if n == 1:", "if n == 41:").replace("if n == 2:", "if n == 42:")
    pipeline = djflow.load(write_project(tmp_path, late_trouble))
    pipeline.Source.insert([{"n": n} for n in range(80)])
    result = pipeline.Out.populate(processes=2, reserve_jobs=True, suppress_errors=True)
    assert sorted(key["n"] for key, _ in result["error_list"]) == [41, 42]
    assert result["success_count"] == 78
    assert sorted(pipeline.Out.fetch("n")) == [n for n in range(80) if n not in (41, 42)]


def test_a_worker_process_that_dies_aborts_populate_and_blames_no_key(tmp_path):
    pipeline = djflow.load(write_project(tmp_path, TROUBLE_IN_WORKERS))
    pipeline.Source.insert([{"n": n} for n in (0, 3, 4, 5, 6, 7)])
    (tmp_path / "crash").write_text("")
    with pytest.raises(djflow.PopulateError, match="worker process died") as raised:
        pipeline.Out.populate(processes=2, reserve_jobs=True, suppress_errors=True)
    assert "{'n': 4}" in str(raised.value)
    assert jobs(tmp_path) == []  # nothing reserved, no key marked failed
    (tmp_path / "crash").unlink()
    assert pipeline.run()["Out"]["failed"] == 0
    assert sorted(pipeline.Out.fetch("n")) == [0, 3, 4, 5, 6, 7]
