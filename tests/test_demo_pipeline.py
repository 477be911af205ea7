"""The top-level demo, run the way the README runs it, on a temporary copy of the project."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest
from cli_helpers import rows, run_djflow

pytest.importorskip("scipy")

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def demo(tmp_path) -> Path:
    folder = tmp_path / "demo"
    folder.mkdir()
    shutil.copy(ROOT / "pipefile.py", folder / "pipefile.py")
    shutil.copytree(ROOT / "data", folder / "data")
    return folder


def drawn_blobs(folder: Path, sessions: list[tuple[str, str]]) -> int:
    """How many blobs data/make_demo_data.py drew into these sessions' images."""
    with open(folder / "data" / "ground_truth_blobs.csv") as handle:
        return sum(1 for row in csv.DictReader(handle) if (row["subject_id"], row["session_date"]) in sessions)


def table_counts(folder: Path) -> dict[str, int]:
    names = ["BlobParamSet", "Subject", "Session", "Image", "Detection", "Detection__Blob", "BlobStats"]
    return {name: rows(folder, f'SELECT count(*) FROM "{name}"')[0][0] for name in names}


def test_the_readme_commands_fill_every_table_of_the_demo(demo):
    for command in (["insert", "Subject", "data/subjects.csv", "--skip-duplicates"],
                    ["insert", "Session", "data/sessions.csv", "--skip-duplicates"],
                    ["run"]):
        result = run_djflow(demo, *command)
        assert result.returncode == 0, result.stderr
    counts = table_counts(demo)
    expected = {"BlobParamSet": 2, "Subject": 3, "Session": 6, "Image": 6, "Detection": 12, "BlobStats": 12}
    assert {name: counts[name] for name in expected} == expected
    with open(demo / "data" / "sessions.csv") as handle:
        sessions = [(row["subject_id"], row["session_date"]) for row in csv.DictReader(handle)]
    found_with_set_1 = rows(demo, 'SELECT count(*) FROM "Detection__Blob" WHERE blob_paramset = 1')[0][0]
    assert found_with_set_1 == drawn_blobs(demo, sessions)  # parameter set 1 finds every drawn blob
    assert counts["Detection__Blob"] > found_with_set_1  # set 2 finds some too (it merges close ones)


def test_the_tour_adds_a_session_then_deletes_and_recomputes_one(demo):
    for command in (["insert", "Subject", "data/subjects.csv"], ["insert", "Session", "data/sessions.csv"], ["run"]):
        assert run_djflow(demo, *command).returncode == 0
    before = table_counts(demo)
    assert run_djflow(demo, "insert", "Session", "data/new_sessions.csv").returncode == 0
    assert run_djflow(demo, "run", "-j", "2").returncode == 0
    after_new = table_counts(demo)
    assert after_new["Image"] == before["Image"] + 1 and after_new["Detection"] == before["Detection"] + 2
    where = "subject_id='M001' AND session_date='2024-01-15'"
    deleted = run_djflow(demo, "delete", "Session", "--where", where, "--yes")
    assert deleted.returncode == 0 and "Detection.Blob" in deleted.stdout
    assert table_counts(demo)["Detection"] == after_new["Detection"] - 2
    assert run_djflow(demo, "insert", "Session", "data/sessions.csv", "--skip-duplicates").returncode == 0
    assert run_djflow(demo, "run").returncode == 0
    assert table_counts(demo) == after_new
