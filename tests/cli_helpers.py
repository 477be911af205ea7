"""Helpers for the command-line tests: a small project in tmp_path, and ways to run ``djflow``.

``PIPEFILE``: a lookup ``Param`` (divisor 2.0 and 0.0, so keys with ``param_id = 2``
fail with ZeroDivisionError), manual ``Subject`` and ``Session``, a computed ``Ratio``
with a part ``Ratio.Point`` holding a blob.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

PIPEFILE = '''
import djflow


@djflow.lookup(contents=[(1, 2.0), (2, 0.0)])
def Param():
    """
    param_id : int
    ---
    divisor : float
    """


@djflow.manual
def Subject():
    """
    subject_id : varchar(16)
    ---
    species : varchar(32)
    age = null : int
    notes = '' : varchar(255)
    meta = null : json
    """


@djflow.manual
def Session():
    """
    -> Subject
    session_date : date
    """


@djflow.computed
def Ratio(key, Session, Param):
    """
    -> Session
    -> Param
    ---
    value : float
    """
    value = 1.0 / Param.fetch1("divisor")
    return {"value": value, "Point": [{"i": 0, "data": [value, 2 * value]}]}


@Ratio.part
def Point():
    """
    -> master
    i : int
    ---
    data : blob
    """
'''

SUBJECTS_CSV = 'subject_id,species,age,notes,meta\nM001,mouse,3,,"{""tag"": 7}"\nM002,rat,,left ear,\n'
SESSIONS_JSONL = (
    '{"subject_id": "M001", "session_date": "2024-01-15"}\n'
    '{"subject_id": "M001", "session_date": "2024-01-16"}\n'
    '{"subject_id": "M002", "session_date": "2024-02-01"}\n'
)


def write_project(folder: Path, source: str = PIPEFILE) -> Path:
    """Write ``folder/pipefile.py`` and the input files; return the folder."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "pipefile.py").write_text(textwrap.dedent(source))
    (folder / "subjects.csv").write_text(SUBJECTS_CSV)
    (folder / "sessions.jsonl").write_text(SESSIONS_JSONL)
    return folder


def djflow_executable() -> str:
    """The installed ``djflow`` console script of the Python running the tests."""
    beside = Path(sys.executable).parent / "djflow"
    return str(beside) if beside.exists() else shutil.which("djflow")


def run_djflow(folder: Path, *args: str, input: str | None = None) -> subprocess.CompletedProcess:
    """Run the real ``djflow`` in ``folder`` with stdin a pipe (never a terminal)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DJFLOW_")}
    return subprocess.run(
        [djflow_executable(), *args], cwd=folder, input=input or "", capture_output=True, text=True,
        env=env, timeout=60,
    )


def database(folder: Path) -> Path:
    return folder / ".djflow" / "pipeline.db"


def rows(folder: Path, sql: str, params: tuple = ()) -> list[tuple]:
    """Query the project's database directly, as any SQLite tool would."""
    conn = sqlite3.connect(database(folder))
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def dump(folder: Path) -> str:
    """Every table's contents (djflow's own included), for "nothing changed" checks."""
    conn = sqlite3.connect(database(folder))
    try:
        return "\n".join(conn.iterdump())
    finally:
        conn.close()


def file_hash(path: Path) -> str | None:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else None
