"""The bad-input catalogue: every row of docs/bad-inputs.md, tried for real.

Each case starts from a fresh copy of one small project (``CATALOGUE_PIPEFILE``: a lookup,
two manual tables with one attribute of nearly every type, a computed table with a part;
two subjects and three sessions in its database), feeds it one bad input through the
Python API, the command line or the pipefile itself, and checks that

- the error is the documented one: its class (Python API) and its exact one-line message,
  as docs/bad-inputs.md shows it (with the project's folder written ``<project>``);
- on the command line the error is one line ``Error: ...``, no traceback, exit status non-zero;
- nothing was written: a dump of the whole database (djflow's own tables included) is the
  same before and after; where a row is written by design (a failed key's job) the row says so.

Cases marked ``mount`` need root and ``mount`` (a read-only or a tiny tmpfs); elsewhere
they are skipped with the reason.

``python tests/test_bad_inputs.py`` runs every case and rewrites docs/bad-inputs.md.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

import djflow
from djflow.cli import cli

DOC = Path(__file__).resolve().parents[1] / "docs" / "bad-inputs.md"

CATALOGUE_PIPEFILE = '''
import time
from pathlib import Path

import djflow

HERE = Path(__file__).parent


def knob(name, default=""):
    path = HERE / name
    return path.read_text().strip() if path.exists() else default


@djflow.lookup(contents=[(1, 2.0), (2, 4.0)])
def Param():
    """
    param_id : int
    ---
    divisor : float
    """


@djflow.manual
def Subject():
    """
    subject_id : varchar(8)
    ---
    species : enum('mouse', 'rat')
    age = null : tinyint unsigned
    weight = null : float
    born = null : date
    seen = null : datetime
    tag = null : uuid
    active = 1 : bool
    price = null : decimal(5,2)
    meta = null : json
    photo = null : blob
    """


@djflow.manual
def Session():
    """
    -> Subject
    session : int
    """


@djflow.computed
def Ratio(key, Session, Param):
    """
    -> Session
    -> Param
    ---
    value : float
    """
    time.sleep(float(knob("sleep", "0")))
    value = key["session"] / Param.fetch1("divisor")
    shapes = {
        "": {"value": value, "Point": [{"i": 0, "data": [value] * int(knob("points", "1"))}]},
        "none": None,
        "number": 42,
        "list of numbers": [1, 2],
        "empty list": [],
        "part as a dict": {"value": value, "Point": {"i": 0, "data": [value]}},
        "another key": {"value": value, "session": 999},
        "unknown attribute": {"value": value, "colour": "red"},
        "wrong type": {"value": "high"},
        "missing attribute": {},
        "repeated part key": {"value": value, "Point": [{"i": 0, "data": 1}, {"i": 0, "data": 2}]},
    }
    shape = knob("returns")
    if shape == "raise":
        raise FileNotFoundError(f"no image file for session {key['session']}")
    return shapes[shape]


@Ratio.part
def Point():
    """
    -> master
    i : int
    ---
    data : blob
    """
'''

SUBJECTS = [{"subject_id": "M001", "species": "mouse", "age": 3}, {"subject_id": "M002", "species": "rat"}]
SESSIONS = [{"subject_id": "M001", "session": 1}, {"subject_id": "M001", "session": 2}, {"subject_id": "M002", "session": 1}]


# ---------------------------------------------------------------- what a case is


@dataclass
class Outcome:
    """What a bad input got: the error class (or ``exit N`` on the command line) and its message."""

    error: str
    message: str
    output: str = ""  # everything the command printed
    exception: BaseException | None = None  # what escaped the command, if anything did


@dataclass
class Case:
    id: str
    what: str  # the bad input, in words
    tried: str  # how it was tried, shown as code in the catalogue
    action: Callable[[Path], Outcome]
    prepare: Callable[[Path], None] | None = None  # before the "before" dump
    place: str = "plain"  # "plain", "readonly" (read-only tmpfs), "full" (tiny tmpfs), "full-before" (already full)
    written: str | None = None  # what is written by design, in words
    leave_out: tuple[str, ...] = ()  # tables written by design: left out of the before/after comparison...
    check: Callable[[Path], None] | None = None  # ...and checked by this instead


def api(call: Callable[[djflow.Pipeline], object]) -> Callable[[Path], Outcome]:
    """Load the project and run ``call(pipeline)``; the DjflowError it raises is the outcome."""

    def action(folder: Path) -> Outcome:
        pipeline = None
        try:
            pipeline = djflow.load(folder / "pipefile.py")
            call(pipeline)
        except djflow.DjflowError as error:
            return Outcome(type(error).__name__, str(error))
        finally:
            if pipeline is not None:
                pipeline.close()
        return Outcome("no error", "")

    return action


def load_only() -> Callable[[Path], Outcome]:
    return api(lambda pipeline: None)


def command(*args: str, stdin: str | None = None) -> Callable[[Path], Outcome]:
    """Run ``djflow ARGS`` (click's test runner, in the project folder, stdin not a terminal)."""

    def action(folder: Path) -> Outcome:
        runner = CliRunner(env={"DJFLOW_DB": None, "DJFLOW_PIPEFILE": None})
        with contextlib.chdir(folder):
            result = runner.invoke(cli, list(args), input=stdin)
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        errors = [line for line in lines if line.startswith("Error: ")]
        failures = [line for line in lines if line.startswith("Failed: ")]  # `djflow run`: a key failed
        if len(errors) == 1:
            message = errors[0].removeprefix("Error: ")
        elif result.exit_code == 0 or not errors and failures:
            message = (failures or lines or [""])[0 if failures else -1]
        else:
            message = result.output
        escaped = result.exception if not isinstance(result.exception, SystemExit) else None
        return Outcome(f"exit {result.exit_code}", message, result.output, escaped)

    return action


def edited(old: str, new: str, source: str = CATALOGUE_PIPEFILE) -> Callable[[Path], None]:
    """A ``prepare`` step that replaces ``old`` by ``new`` in the pipefile."""
    assert old in source, old

    def prepare(folder: Path) -> None:
        (folder / "pipefile.py").write_text(textwrap.dedent(source.replace(old, new, 1)))

    return prepare


def files(**contents: str | bytes) -> Callable[[Path], None]:
    """A ``prepare`` step that writes files into the project folder (name__ext for name.ext)."""

    def prepare(folder: Path) -> None:
        for name, content in contents.items():
            path = folder / name.replace("__", ".")
            if isinstance(content, bytes):
                path.write_bytes(content)
            else:
                path.write_text(content, encoding="utf-8")

    return prepare


def knob(name: str, value: str) -> Callable[[Path], None]:
    def prepare(folder: Path) -> None:
        (folder / name).write_text(value)

    return prepare


def steps(*prepares: Callable[[Path], None]) -> Callable[[Path], None]:
    def prepare(folder: Path) -> None:
        for step in prepares:
            step(folder)

    return prepare


# ---------------------------------------------------------------- the catalogue


def subject(**values) -> dict:
    return {"subject_id": "M003", "species": "mouse", **values}


def insert_subject(**values) -> Callable[[Path], Outcome]:
    return api(lambda p: p.Subject.insert1(subject(**values)))


def make_returns(shape: str) -> dict:
    return {"prepare": knob("returns", shape), "action": api(lambda p: p.Ratio.populate())}


def fill_disk(folder: Path) -> None:
    """Fill the file system holding ``folder`` to the last byte."""
    handle = os.open(folder.parent / "filler", os.O_WRONLY | os.O_CREAT)
    try:
        for size in (1 << 16, 1 << 12, 1):
            with contextlib.suppress(OSError):
                while True:
                    os.write(handle, b"\0" * size)
    finally:
        os.close(handle)


def edit_during_run(folder: Path) -> None:
    """Start `djflow run` with slow makes, add an attribute to Ratio while it runs, let it finish."""
    (folder / "sleep").write_text("0.1")
    env = {k: v for k, v in os.environ.items() if not k.startswith("DJFLOW_")}
    djflow_script = Path(sys.executable).parent / "djflow"
    run = subprocess.Popen([str(djflow_script), "run"], cwd=folder, env=env, stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(0.5)
    edited("    value : float\n", "    value : float\n    note = '' : varchar(16)\n")(folder)
    _, err = run.communicate(timeout=60)
    assert run.returncode == 0, err
    (folder / "sleep").unlink()


def duplicate_subject(folder: Path) -> None:
    plugin = folder / "plugins" / "more.py"
    plugin.parent.mkdir()
    plugin.write_text('import djflow\n\n\n@djflow.manual\ndef Subject():\n    """\n    subject_id : int\n    """\n')


def check_jobs(folder: Path, expected: dict[str, int]) -> None:
    with contextlib.closing(sqlite3.connect(database(folder))) as conn:
        jobs = dict(conn.execute("SELECT status, count(*) FROM _djflow_jobs GROUP BY status").fetchall())
    assert jobs == expected


def whole_keys_only(folder: Path) -> None:
    """Every Ratio row has its Point row, every Point its Ratio, and no job is left or failed."""
    with contextlib.closing(sqlite3.connect(database(folder))) as conn:
        ratios = conn.execute("SELECT count(*) FROM Ratio").fetchone()[0]
        points = conn.execute('SELECT count(*) FROM "Ratio__Point"').fetchone()[0]
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
    assert ratios == points
    check_jobs(folder, {})


def not_a_database(folder: Path) -> None:
    database(folder).write_text("these are my notes, not a database\n" * 40)


def big_csv_elsewhere(folder: Path) -> None:
    """A CSV of 3000 long rows two folders up (off the tiny tmpfs the project is on)."""
    rows = "".join(f'B{n},rat,"{{""note"": ""{"x" * 200}""}}"\n' for n in range(3000))
    (folder.parent.parent / "big.csv").write_text("subject_id,species,meta\n" + rows)


def definition(id: str, what: str, tried: str, old: str, new: str) -> Case:
    return Case(id, what, tried, load_only(), edited(old, new))


CASES: list[Case] = [
    # ------------------------------------------------ definitions and the pipefile
    definition("attribute-without-type", "an attribute line without a type", "Subject: `species`",
               "    species : enum('mouse', 'rat')\n", "    species\n"),
    definition("attribute-name-uppercase", "an attribute name that is not lowercase", "Subject: `Species : enum(...)`",
               "    species : enum", "    Species : enum"),
    definition("unknown-type", "an unknown type", "Subject: `weight = null : flaot`",
               "weight = null : float", "weight = null : flaot"),
    definition("varchar-without-length", "varchar without a length", "Subject: `subject_id : varchar`",
               "subject_id : varchar(8)", "subject_id : varchar"),
    definition("second-divider", "two `---` lines", "Subject: a second `---` before `meta`",
               "    meta = null : json\n", "    ---\n    meta = null : json\n"),
    definition("no-primary-key", "no attribute above `---`", "Session: `---` first",
               "    -> Subject\n    session : int\n", "    ---\n    -> Subject\n    session : int\n"),
    definition("default-in-primary-key", "a default on a primary-key attribute", "Subject: `subject_id = 'x' : varchar(8)`",
               "subject_id : varchar(8)", "subject_id = 'x' : varchar(8)"),
    definition("attribute-twice", "the same attribute declared twice", "Subject: `age` twice",
               "    weight = null : float\n", "    age = null : int\n"),
    definition("reserved-name", "an attribute named `rowid`", "Session: `rowid : int`",
               "    session : int\n", "    rowid : int\n"),
    definition("default-of-wrong-type", "a default that does not fit its type", "Subject: `age = 'old' : tinyint unsigned`",
               "age = null : tinyint unsigned", "age = 'old' : tinyint unsigned"),
    definition("default-nan", "NaN as a default (inserts would refuse it as a missing value)",
               "Subject: `weight = nan : float`", "weight = null : float", "weight = nan : float"),
    definition("enum-unquoted", "enum members without quotes", "Subject: `enum(mouse, rat)`",
               "enum('mouse', 'rat')", "enum(mouse, rat)"),
    definition("unsigned-float", "`unsigned` on a float", "Subject: `float unsigned`",
               "weight = null : float", "weight = null : float unsigned"),
    definition("decimal-scale", "a decimal whose scale exceeds its precision", "Subject: `decimal(2,5)`",
               "decimal(5,2)", "decimal(2,5)"),
    definition("empty-definition", "a table function without a docstring", "Session: no docstring",
               '    """\n    -> Subject\n    session : int\n    """\n', "    pass\n"),
    definition("unknown-parent", "a reference to a table that does not exist", "Session: `-> Subjet`",
               "    -> Subject\n    session", "    -> Subjet\n    session"),
    definition("cycle", "tables that depend on each other in a cycle", "Subject: `-> [nullable] Session` below `---`",
               "    photo = null : blob\n", "    photo = null : blob\n    -> [nullable] Session\n"),
    Case("duplicate-table-name", "two tables with the same name", "a `plugins/more.py` declaring `Subject` again",
         load_only(), duplicate_subject),
    definition("nullable-key-reference", "a nullable reference in the primary key", "Session: `-> [nullable] Subject`",
               "    -> Subject\n    session", "    -> [nullable] Subject\n    session"),
    definition("master-outside-part", "`-> master` outside a part table", "Session: `-> master`",
               "    -> Subject\n    session", "    -> master\n    session"),
    definition("part-without-master", "a part that does not reference its master", "Ratio.Point: no `-> master`",
               "    -> master\n    i : int", "    i : int"),
    definition("make-asks-unknown-table", "a make parameter that names no upstream table",
               "`def Ratio(key, Sesion, Param)`", "def Ratio(key, Session, Param)", "def Ratio(key, Sesion, Param)"),
    definition("make-varargs", "a make taking `*args`", "`def Ratio(key, *inputs)`",
               "def Ratio(key, Session, Param)", "def Ratio(key, *inputs)"),
    definition("pipefile-raises", "a pipefile that raises on import", "`raise RuntimeError(...)` at the top",
               "import djflow\n", "import djflow\n\nraise RuntimeError('set DATA_DIR first')\n"),
    definition("pipefile-syntax-error", "a pipefile with a syntax error", "`def Subject(:`",
               "def Subject():", "def Subject(:"),
    definition("pipefile-exits", "a pipefile that calls `sys.exit` on import", "`sys.exit('configure me')` at the top",
               "import djflow\n", "import sys\n\nimport djflow\n\nsys.exit('configure me')\n"),
    Case("pipefile-declares-nothing", "a pipefile without tables", "`x = 1`", load_only(), files(pipefile__py="x = 1\n")),
    Case("pipefile-missing", "a `--pipefile` that does not exist", "`djflow --pipefile nowhere/pipefile.py status`",
         command("--pipefile", "nowhere/pipefile.py", "status")),
    definition("lookup-contents-wrong-type", "lookup contents that do not fit the table", "`contents=[(1, 2.0), (2, 'four')]`",
               "contents=[(1, 2.0), (2, 4.0)]", "contents=[(1, 2.0), (2, 'four')]"),
    definition("schema-drift", "a definition changed after the table was created", "Session: `session : smallint`",
               "    session : int\n", "    session : smallint\n"),
    # ------------------------------------------------ values (Python API)
    Case("int-not-a-number", "text in an int attribute", "`Subject.insert1({..., 'age': 'old'})`", insert_subject(age="old")),
    Case("int-out-of-range", "a number outside the type's range", "`age = 300` (tinyint unsigned)", insert_subject(age=300)),
    Case("unsigned-negative", "a negative number in an unsigned attribute", "`age = -1`", insert_subject(age=-1)),
    Case("int-not-whole", "a fraction in an int attribute", "`age = 2.5`", insert_subject(age=2.5)),
    Case("float-not-a-number", "text in a float attribute", "`weight = 'heavy'`", insert_subject(weight="heavy")),
    Case("none-in-key", "None in a primary-key attribute", "`subject_id = None`", insert_subject(subject_id=None)),
    Case("nan-in-key", "NaN in a primary-key attribute", "`Session.insert1({'subject_id': 'M001', 'session': nan})`",
         api(lambda p: p.Session.insert1({"subject_id": "M001", "session": math.nan}))),
    Case("none-not-nullable", "None in a required secondary attribute", "`species = None`", insert_subject(species=None)),
    Case("string-too-long", "a string longer than varchar(n)", "`subject_id = 'M' * 9` (varchar(8))",
         insert_subject(subject_id="M" * 9)),
    Case("enum-not-a-member", "a value that is not an enum member", "`species = 'cat'`", insert_subject(species="cat")),
    Case("date-invalid", "a date that does not exist", "`born = '2024-02-30'`", insert_subject(born="2024-02-30")),
    Case("datetime-invalid", "text that is not a date and time", "`seen = 'yesterday'`", insert_subject(seen="yesterday")),
    Case("uuid-invalid", "text that is not a UUID", "`tag = 'not-a-uuid'`", insert_subject(tag="not-a-uuid")),
    Case("bool-invalid", "a word that is not a bool", "`active = 'maybe'`", insert_subject(active="maybe")),
    Case("decimal-too-wide", "more digits than decimal(5,2) holds", "`price = 12345.6`", insert_subject(price=12345.6)),
    Case("json-nan", "NaN inside a json value", "`meta = {'x': nan}`", insert_subject(meta={"x": math.nan})),
    Case("blob-unsupported", "a Python object a blob cannot hold", "`photo = {1, 2}` (a set)", insert_subject(photo={1, 2})),
    Case("text-not-a-string", "a number in a text attribute", "`subject_id = 7`", insert_subject(subject_id=7)),
    Case("missing-required", "a row without a required attribute", "`Subject.insert1({'subject_id': 'M003'})`",
         api(lambda p: p.Subject.insert1({"subject_id": "M003"}))),
    Case("unknown-attribute", "an attribute the table does not have", "`colour = 'brown'`", insert_subject(colour="brown")),
    Case("sequence-wrong-length", "a row as a sequence of the wrong length", "`Subject.insert1(('M003', 'mouse'))`",
         api(lambda p: p.Subject.insert1(("M003", "mouse")))),
    Case("insert-a-dict", "insert given one dict instead of a list", "`Subject.insert({...})`",
         api(lambda p: p.Subject.insert(subject()))),
    Case("insert-not-rows", "insert given something that is not rows", "`Subject.insert(5)`",
         api(lambda p: p.Subject.insert(5))),
    Case("duplicate-key", "a primary key that exists", "`Subject.insert1({'subject_id': 'M001', ...})`",
         insert_subject(subject_id="M001")),
    Case("duplicate-in-batch", "the same key twice in one insert", "`Subject.insert([row, row])`",
         api(lambda p: p.Subject.insert([subject(), subject()]))),
    Case("missing-parent", "a row whose parent does not exist", "`Session.insert1({'subject_id': 'M999', 'session': 1})`",
         api(lambda p: p.Session.insert1({"subject_id": "M999", "session": 1}))),
    Case("one-bad-row-of-many", "one bad row among 100 good ones", "`Subject.insert([...99 good..., bad])`",
         api(lambda p: p.Subject.insert([subject(subject_id=f"G{n}") for n in range(99)] + [subject(age="old")]))),
    Case("insert-into-computed", "an insert into a computed table", "`Ratio.insert1({...})`",
         api(lambda p: p.Ratio.insert1({"subject_id": "M001", "session": 1, "param_id": 1, "value": 0.5}))),
    Case("insert-into-part", "an insert into a part table", "`Ratio.Point.insert1({...})`",
         api(lambda p: p.Ratio.Point.insert1({"subject_id": "M001", "session": 1, "param_id": 1, "i": 0, "data": 1}))),
    Case("update-missing-row", "update1 of a row that does not exist", "`Subject.update1({'subject_id': 'M999', 'age': 4})`",
         api(lambda p: p.Subject.update1({"subject_id": "M999", "age": 4}))),
    Case("update-key-only", "update1 with nothing to change", "`Subject.update1({'subject_id': 'M001'})`",
         api(lambda p: p.Subject.update1({"subject_id": "M001"}))),
    Case("update-wrong-type", "update1 with a value that does not fit", "`Subject.update1({'subject_id': 'M001', 'age': 'old'})`",
         api(lambda p: p.Subject.update1({"subject_id": "M001", "age": "old"}))),
    Case("delete-part-rows", "a delete of part rows without their master", "`Ratio.Point.delete()`",
         api(lambda p: p.Ratio.Point.delete(safemode=False))),
    Case("delete-quick-with-dependents", "delete_quick of rows others depend on", "`(Subject & 'subject_id = \"M001\"').delete_quick()`",
         api(lambda p: (p.Subject & "subject_id = 'M001'").delete_quick())),
    Case("fetch1-not-one-row", "fetch1 when several rows match", "`Session.fetch1()`", api(lambda p: p.Session.fetch1())),
    Case("restriction-not-sql", "a restriction that is not valid SQL", "`Subject & '1; DROP TABLE Subject'`",
         api(lambda p: (p.Subject & "1; DROP TABLE Subject").fetch())),
    Case("restriction-unknown-attribute", "a restriction naming an unknown attribute", "`Subject & 'colour = \"red\"'`",
         api(lambda p: (p.Subject & "colour = 'red'").fetch())),
    Case("fetch-unknown-attribute", "fetch of an unknown attribute", "`Subject.fetch('colour')`",
         api(lambda p: p.Subject.fetch("colour"))),
    Case("unknown-table", "a table name with a typo", "`pipeline.Sesion`", api(lambda p: p.Sesion)),
    # ------------------------------------------------ what a make returns
    Case("make-returns-none", "a make that returns nothing", "`return None`", **make_returns("none")),
    Case("make-returns-number", "a make that returns a number", "`return 42`", **make_returns("number")),
    Case("make-returns-list-of-numbers", "a make that returns a list of numbers", "`return [1, 2]`",
         **make_returns("list of numbers")),
    Case("make-returns-empty-list", "a make that returns an empty list", "`return []`", **make_returns("empty list")),
    Case("make-part-as-dict", "a make that returns a part's rows as one dict", "`'Point': {'i': 0, ...}`",
         **make_returns("part as a dict")),
    Case("make-returns-another-key", "a make that returns a different key", "`return {'value': v, 'session': 999}`",
         **make_returns("another key")),
    Case("make-unknown-attribute", "a make that returns an unknown attribute", "`return {'value': v, 'colour': 'red'}`",
         **make_returns("unknown attribute")),
    Case("make-wrong-type", "a make that returns a value of the wrong type", "`return {'value': 'high'}`",
         **make_returns("wrong type")),
    Case("make-missing-attribute", "a make that leaves out a required attribute", "`return {}`",
         **make_returns("missing attribute")),
    Case("make-repeats-part-key", "a make that returns two part rows with the same key", "`'Point': [{'i': 0}, {'i': 0}]`",
         **make_returns("repeated part key")),
    Case("make-raises", "a make that raises", "`raise FileNotFoundError(...)`", **make_returns("raise")),
    Case("make-raises-in-run", "a make that raises, in `djflow run`", "`djflow run`",
         command("run"), knob("returns", "raise"), written="the failed key and its traceback, in `_djflow_jobs`",
         leave_out=("_djflow_jobs",), check=lambda folder: check_jobs(folder, {"error": 1})),
    # ------------------------------------------------ files for `djflow insert`
    Case("csv-extra-values", "a CSV line with more values than the header", "`djflow insert Subject extra.csv`",
         command("insert", "Subject", "extra.csv"), files(extra__csv="subject_id,species\nM003,mouse,3\n")),
    Case("csv-repeated-column", "a CSV header naming a column twice", "`djflow insert Subject twice.csv`",
         command("insert", "Subject", "twice.csv"), files(twice__csv="subject_id,subject_id\nM003,M004\n")),
    Case("csv-wrong-type", "a CSV cell that does not fit its type (all or nothing)", "`djflow insert Subject old.csv`",
         command("insert", "Subject", "old.csv"), files(old__csv="subject_id,species,age\nM003,mouse,3\nM004,rat,old\n")),
    Case("csv-json-cell", "a CSV cell of a json attribute that is not JSON", "`djflow insert Subject meta.csv`",
         command("insert", "Subject", "meta.csv"), files(meta__csv="subject_id,species,meta\nM003,mouse,{tank: 4}\n")),
    Case("json-broken", "a JSON file cut short", "`djflow insert Subject cut.json`",
         command("insert", "Subject", "cut.json"), files(cut__json='[{"subject_id": "M003", "species": ')),
    Case("json-not-objects", "a JSON array of numbers", "`djflow insert Subject numbers.json`",
         command("insert", "Subject", "numbers.json"), files(numbers__json="[1, 2, 3]")),
    Case("jsonl-not-an-object", "a JSON lines file with an array on a line", "`djflow insert Subject rows.jsonl`",
         command("insert", "Subject", "rows.jsonl"),
         files(rows__jsonl='{"subject_id": "M003", "species": "rat"}\n["M004", "rat"]\n')),
    Case("not-utf8", "a Latin-1 file", "`djflow insert Subject latin1.csv`",
         command("insert", "Subject", "latin1.csv"), files(latin1__csv="subject_id,species,meta\nM003,mouse,\"{\"\"n\"\": \"\"Müller\"\"}\"\n".encode("latin-1"))),
    Case("binary-file", "a binary file", "`djflow insert Subject photo.csv`",
         command("insert", "Subject", "photo.csv"), files(photo__csv=bytes(range(256)))),
    Case("input-file-missing", "a file that does not exist", "`djflow insert Subject nowhere.csv`",
         command("insert", "Subject", "nowhere.csv")),
    Case("insert-unknown-column", "a column the table does not have", "`djflow insert Subject -` with a `specis` column",
         command("insert", "Subject", "-", stdin="subject_id,specis\nM003,mouse\n")),
    # ------------------------------------------------ --where and other options
    Case("where-two-statements", "a second SQL statement", "`djflow show Subject --where \"1; DROP TABLE Subject\"`",
         command("show", "Subject", "--where", "1; DROP TABLE Subject")),
    Case("where-escapes-parentheses", "an expression that closes the restriction's parenthesis",
         "`djflow delete Subject --where \"1) OR (1\" --yes`", command("delete", "Subject", "--where", "1) OR (1", "--yes")),
    Case("where-comment", "an SQL comment", "`--where \"species = 'rat' -- and more\"`",
         command("show", "Subject", "--where", "species = 'rat' -- and more")),
    Case("where-reads-another-table", "a subquery reading another table",
         "`--where \"(SELECT count(*) FROM Session) > 0\"`", command("show", "Subject", "--where", "(SELECT count(*) FROM Session) > 0")),
    Case("where-reads-schema", "a subquery reading the schema", "`--where \"EXISTS (SELECT 1 FROM sqlite_schema)\"`",
         command("delete", "Subject", "--where", "EXISTS (SELECT 1 FROM sqlite_schema)", "--yes")),
    Case("where-unknown-attribute", "an attribute the table does not have", "`--where \"specis = 'rat'\"`",
         command("show", "Subject", "--where", "specis = 'rat'")),
    Case("where-load-extension", "a call of load_extension()", "`--where \"load_extension('evil.so') IS NULL\"`",
         command("show", "Subject", "--where", "load_extension('evil.so') IS NULL")),
    Case("where-unterminated-quote", "an unterminated quote", "`--where \"species = 'rat\"`",
         command("show", "Subject", "--where", "species = 'rat")),
    Case("where-empty", "an empty expression", "`--where \"\"`", command("show", "Subject", "--where", "")),
    Case("run-where-unknown-attribute", "a `run --where` naming no key attribute", "`djflow run --where \"colour = 1\"`",
         command("run", "--where", "colour = 1")),
    Case("cli-unknown-table", "a table name with a typo", "`djflow show Sesion`", command("show", "Sesion")),
    Case("delete-without-yes", "a delete with no one to answer the question", "`djflow delete Session` (stdin not a terminal)",
         command("delete", "Session")),
    Case("update-several-rows", "an update whose --where matches several rows",
         "`djflow update Subject --where \"species IN ('mouse', 'rat')\" --set age=4`",
         command("update", "Subject", "--where", "species IN ('mouse', 'rat')", "--set", "age=4")),
    Case("update-key-attribute", "an update of a primary-key attribute", "`--set subject_id=M009`",
         command("update", "Subject", "--where", "subject_id = 'M001'", "--set", "subject_id=M009")),
    Case("update-json-not-json", "--set of a json attribute with text that is not JSON", "`--set meta={tank: 4}`",
         command("update", "Subject", "--where", "subject_id = 'M001'", "--set", "meta={tank: 4}")),
    # ------------------------------------------------ the environment
    Case("database-not-sqlite", "a database file that is not SQLite", "`.djflow/pipeline.db` holds text; `djflow status`",
         command("status"), not_a_database),
    Case("database-is-a-folder", "--db pointing at a folder", "`djflow --db .djflow status`", command("--db", ".djflow", "status")),
    Case("read-only-insert", "a database on a read-only file system: insert", "`djflow insert Subject -` (read-only mount)",
         command("insert", "Subject", "-", stdin='[{"subject_id": "M003", "species": "rat"}]'), place="readonly"),
    Case("read-only-run", "a database on a read-only file system: run", "`djflow run` (read-only mount)",
         command("run"), place="readonly"),
    Case("read-only-delete", "a database on a read-only file system: delete", "`djflow delete Session --yes` (read-only mount)",
         command("delete", "Session", "--yes"), place="readonly"),
    Case("disk-full-insert", "a disk that fills up during a bulk insert",
         "`djflow insert Subject ../../big.csv` (project on a tiny tmpfs, the file elsewhere)",
         command("insert", "Subject", "../../big.csv"), big_csv_elsewhere, place="full"),
    Case("disk-full-run", "a disk that fills up while `djflow run` writes", "`djflow run`, makes return big blobs (tiny tmpfs)",
         command("run"), knob("points", "40000"), place="full", leave_out=("Ratio", "Ratio__Point"),
         written="the keys finished before the disk filled, each whole (master and part); nothing of the others",
         check=whole_keys_only),
    Case("disk-full-before", "a disk that is full before djflow starts", "`djflow status` (tmpfs filled up)",
         command("status"), place="full-before"),
    Case("lock-file-blocked", "a lock file that cannot be created", "a folder in place of `.djflow/pipeline.db.jobs.lock`; `djflow run`",
         command("run"), lambda folder: (folder / ".djflow" / "pipeline.db.jobs.lock").mkdir()),
    Case("pipefile-edited-during-run", "a pipefile edited while `djflow run` is going",
         "`djflow run` with slow makes, Ratio gets an attribute meanwhile; then `djflow status`",
         command("status"), edit_during_run, written="by the run before the edit: its rows, all of the old shape"),
    Case("missing-state-folder", "a missing `.djflow/` folder, in a dry run", "`rm -r .djflow; djflow run -n`",
         command("run", "-n"), lambda folder: shutil.rmtree(folder / ".djflow")),
]
# where nothing goes wrong, by design
NOT_ERRORS = {"missing-state-folder"}


# ---------------------------------------------------------------- running a case


def build_template(folder: Path) -> Path:
    """The project every case copies: pipefile, activated database, two subjects, three sessions."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "pipefile.py").write_text(textwrap.dedent(CATALOGUE_PIPEFILE))
    with djflow.load(folder / "pipefile.py") as pipeline:
        pipeline.Subject.insert(SUBJECTS)
        pipeline.Session.insert(SESSIONS)
    return folder


def database(folder: Path) -> Path:
    return folder / ".djflow" / "pipeline.db"


def state(folder: Path, leave_out: tuple[str, ...] = ()) -> str:
    """Everything in the database as SQL (its bytes when it is not SQLite), but the tables ``leave_out``."""
    path = database(folder)
    if not path.exists():
        return "no database"
    readonly = bool(os.statvfs(path).f_flag & os.ST_RDONLY)
    uri = path.resolve().as_uri() + ("?mode=ro&immutable=1" if readonly else "?mode=ro")
    try:
        conn = sqlite3.connect(uri, uri=True)
        try:
            lines = list(conn.iterdump())
        finally:
            conn.close()
    except sqlite3.DatabaseError:
        return "bytes " + hashlib.sha256(path.read_bytes()).hexdigest()
    lines = [line for line in lines if not any(f'"{name}"' in line for name in leave_out)]
    return "\n".join(lines)


@contextlib.contextmanager
def placed(template: Path, place: str, scratch: Path) -> Iterator[Path]:
    """A copy of the template project: in ``scratch``, or on a tmpfs mounted for the case."""
    if place == "plain":
        folder = scratch / "project"
        shutil.copytree(template, folder)
        yield folder
        return
    if os.geteuid() != 0 or not shutil.which("mount"):
        pytest.skip("needs root and mount for a read-only or a tiny tmpfs")
    mount_point = scratch / "mnt"
    mount_point.mkdir()
    size = "4m" if place == "readonly" else "320k"
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mount_point)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        folder = mount_point / "project"
        shutil.copytree(template, folder)
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], capture_output=True)


def run_case(case: Case, template: Path, scratch: Path) -> tuple[Outcome, str, str, Path]:
    """Run one case; return its outcome, the database before and after, and the project folder."""
    with placed(template, case.place, scratch) as folder:
        if case.prepare is not None:
            case.prepare(folder)
        if case.place == "readonly":
            subprocess.run(["mount", "-o", "remount,ro", str(folder.parent)], check=True)
        elif case.place == "full-before":
            fill_disk(folder)
        before = state(folder, case.leave_out)
        outcome = case.action(folder)
        after = state(folder, case.leave_out)
        if case.check is not None:
            case.check(folder)
        outcome.message = outcome.message.replace(str(folder.resolve()), "<project>").replace(str(folder), "<project>")
        return outcome, before, after, folder


# ---------------------------------------------------------------- the catalogue document


def documented() -> dict[str, tuple[str, str]]:
    """``{case id: (error, message)}`` from the table in docs/bad-inputs.md."""
    rows = {}
    for line in DOC.read_text(encoding="utf-8").splitlines():
        cells = [cell.strip() for cell in split_row(line)]
        if len(cells) == 5 and cells[0].startswith("`") and cells[0] != "`id`":
            rows[cells[0].strip("`")] = (cells[3], unquote(cells[4]))
    return rows


def split_row(line: str) -> list[str]:
    if not line.startswith("|"):
        return []
    cells, current, escaped = [], "", False
    for char in line[1:]:
        if escaped:
            current += char
            escaped = False
        elif char == "\\":
            current += char
            escaped = True
        elif char == "|":
            cells.append(current)
            current = ""
        else:
            current += char
    return cells


def quote(message: str) -> str:
    return "`` " + message.replace("|", "\\|") + " ``" if message else ""


def unquote(cell: str) -> str:
    if cell.startswith("`` ") and cell.endswith(" ``"):
        cell = cell[3:-3]
    return cell.replace("\\|", "|")


def write_doc(results: dict[str, Outcome]) -> None:
    """Rewrite the table of docs/bad-inputs.md from ``results`` (rows of skipped cases are kept)."""
    old = documented() if DOC.exists() else {}
    head, _, _ = DOC.read_text(encoding="utf-8").partition("<!-- catalogue -->")
    lines = ["<!-- catalogue -->", "", "| id | bad input | tried with | error | message |", "| --- | --- | --- | --- | --- |"]
    for case in CASES:
        if case.id in results:
            error, message = results[case.id].error, results[case.id].message
        elif case.id in old:
            error, message = old[case.id]
        else:
            continue
        what = case.what + (f" (writes {case.written})" if case.written else "")
        lines.append(f"| `{case.id}` | {what.replace('|', '/')} | {case.tried.replace('|', '/')} | {error} | {quote(message)} |")
    DOC.write_text(head + "\n".join(lines) + "\n", encoding="utf-8")


# ---------------------------------------------------------------- the tests


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    return build_template(tmp_path_factory.mktemp("catalogue") / "template")


@pytest.fixture(scope="module")
def catalogue() -> dict[str, tuple[str, str]]:
    return documented()


def test_the_catalogue_has_at_least_40_rows_each_with_a_case(catalogue):
    assert len(catalogue) >= 40
    assert set(catalogue) == {case.id for case in CASES}
    assert len({case.id for case in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_bad_input(case, template, catalogue, tmp_path):
    outcome, before, after, _ = run_case(case, template, tmp_path)
    error, message = catalogue[case.id]
    assert outcome.exception is None, f"{type(outcome.exception).__name__} escaped: {outcome.exception}"
    assert "Traceback" not in outcome.output
    assert (outcome.error, outcome.message) == (error, message), (
        "not the error docs/bad-inputs.md shows; if the new one is right, run `python tests/test_bad_inputs.py` "
        "to rewrite the catalogue"
    )
    assert "\n" not in outcome.message
    if case.id in NOT_ERRORS:
        assert outcome.error in ("no error", "exit 0")
    else:
        assert outcome.error not in ("no error", "exit 0"), "the bad input was accepted"
        assert outcome.message, "no message"
    if outcome.error.startswith("exit") and not outcome.message.startswith("Failed: "):
        errors = [line for line in outcome.output.splitlines() if line.startswith("Error: ")]
        assert len(errors) == (0 if case.id in NOT_ERRORS else 1), outcome.output
    assert after == before, "the database changed"


def main() -> None:
    """Run every case and rewrite docs/bad-inputs.md with what each one got."""
    results: dict[str, Outcome] = {}
    with tempfile.TemporaryDirectory() as scratch_root:
        template = build_template(Path(scratch_root) / "template")
        for index, case in enumerate(CASES):
            scratch = Path(scratch_root) / f"case-{index}"
            scratch.mkdir()
            try:
                outcome, before, after, _ = run_case(case, template, scratch)
            except pytest.skip.Exception as skipped:
                print(f"skipped {case.id}: {skipped}")
                continue
            if before != after:
                print(f"WARNING {case.id}: the database changed")
            results[case.id] = outcome
            print(f"{case.id}: {outcome.error}: {outcome.message}")
    write_doc(results)
    print(f"wrote {DOC} ({len(results)} cases run)")


if __name__ == "__main__":
    main()
