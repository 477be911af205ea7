"""Shared fixtures: real pipefiles written to ``tmp_path`` and loaded with ``djflow.load``.

``make_project(source)`` writes a pipefile (dedented), optional ``plugins/*.py`` files, and
returns the loaded pipeline; every pipeline it opens is closed after the test.
``seed_pipeline`` is the pipeline of SPEC §1 (BlobParamSet, Subject, Session, Image,
Detection + Detection.Blob) with makes that need no data files; ``seed_rows`` adds two
subjects with three sessions and populates everything.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

import djflow

SEED_PIPEFILE = '''
import djflow


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
    """


@djflow.imported
def Image(key, Session):
    """
    -> Session
    ---
    image : blob
    """
    # a tiny "image" whose size depends on the day, so counts differ per session
    day = key["session_date"].day
    return {"image": [[float(i + day), float(i)] for i in range(day % 3 + 1)]}


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
    blobs = [(x, y) for x, y in image if x >= params["min_sigma"]]
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

SEED_SUBJECTS = [
    {"subject_id": "M001", "species": "mouse", "sex": "M"},
    {"subject_id": "M002", "species": "mouse", "sex": "F", "notes": "left ear tag"},
]
SEED_SESSIONS = [
    {"subject_id": "M001", "session_date": "2024-01-15"},
    {"subject_id": "M001", "session_date": "2024-01-16"},
    {"subject_id": "M002", "session_date": "2024-02-01"},
]


def write_project(folder: Path, source: str, plugins: dict[str, str] | None = None) -> Path:
    """Write ``folder/pipefile.py`` (and ``folder/plugins/NAME.py``); return the pipefile path."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "pipefile.py"
    path.write_text(textwrap.dedent(source))
    for name, text in (plugins or {}).items():
        plugin = folder / "plugins" / (name if name.endswith(".py") else f"{name}.py")
        plugin.parent.mkdir(exist_ok=True)
        plugin.write_text(textwrap.dedent(text))
    return path


@pytest.fixture
def opened() -> list:
    """Pipelines opened during the test; closed at its end."""
    pipelines: list = []
    yield pipelines
    for pipeline in pipelines:
        try:
            pipeline.close()
        except Exception:
            pass


@pytest.fixture
def load_project(opened) -> Callable[..., djflow.Pipeline]:
    """``load_project(path_or_none, db=None)``: ``djflow.load`` whose pipeline is closed after the test."""

    def load(pipefile=None, db=None, **options):
        pipeline = djflow.load(pipefile, db=db, **options)
        opened.append(pipeline)
        return pipeline

    return load


@pytest.fixture
def make_project(tmp_path, load_project) -> Callable[..., djflow.Pipeline]:
    """``make_project(source, plugins=None, folder="project", db=None)`` -> loaded Pipeline.

    Writing again to the same folder replaces the pipefile and reloads it against the same
    database (handy for drift and "table no longer declared" tests).
    """

    def make(source: str, plugins: dict[str, str] | None = None, folder: str = "project", db=None):
        path = write_project(tmp_path / folder, source, plugins)
        return load_project(path, db=db)

    return make


@pytest.fixture
def seed_pipeline(make_project) -> djflow.Pipeline:
    """The pipeline of SPEC §1, activated on a fresh database (lookup contents in place)."""
    return make_project(SEED_PIPEFILE)


@pytest.fixture
def seed_rows(seed_pipeline) -> djflow.Pipeline:
    """``seed_pipeline`` with two subjects, three sessions, and Image/Detection populated."""
    seed_pipeline.Subject.insert(SEED_SUBJECTS)
    seed_pipeline.Session.insert(SEED_SESSIONS)
    seed_pipeline.run()
    return seed_pipeline


def count_rows(pipeline: djflow.Pipeline) -> dict[str, int]:
    """Rows per declared table, for before/after comparisons."""
    return {table.table_name: len(table) for table in pipeline.tables}
