"""Seed parity (SPEC §7): the insert, delete and update1 examples of
seed/executing-the-workflow.txt run unchanged, with only ``Subject = pipeline.Subject``
added. (Its populate example is covered with populate.)"""

from __future__ import annotations

import datetime
import io
from pathlib import Path

import pytest

SEED_TEXT = Path(__file__).resolve().parents[2] / "shared" / "seed" / "executing-the-workflow.txt"

# copied verbatim from the seed text, indentation included
INSERT = """# Single row
Subject.insert1({"subject_id": "M001", "species": "mouse", "sex": "M"})
# Multiple rows
Session.insert([
{"subject_id": "M001", "session_date": "2024-01-15"},
{"subject_id": "M001", "session_date": "2024-01-16"},
])"""

DELETE = """# Deleting a session removes all its downstream analysis
(Session & {"subject_id": "M001", "session_date": "2024-01-15"}).delete()"""

UPDATE = """# Use sparingly—only for corrections that don't affect downstream data
Subject.update1({"subject_id": "M001", "notes": "Corrected housing info"})"""


@pytest.mark.skipif(not SEED_TEXT.exists(), reason="the seed text is not beside this checkout")
@pytest.mark.parametrize("snippet", [INSERT, DELETE, UPDATE])
def test_the_snippets_are_the_seeds_own_words(snippet):
    assert snippet in SEED_TEXT.read_text()


def run(snippet, pipeline):
    namespace = {
        "Subject": pipeline.Subject,
        "Session": pipeline.Session,
        "Detection": pipeline.Detection,
    }
    exec(compile(snippet, "seed", "exec"), namespace)


def test_an_empty_pipeline_already_has_its_lookup_contents(seed_pipeline):
    assert seed_pipeline.BlobParamSet.fetch(order_by="blob_paramset", as_dict=True) == [
        {"blob_paramset": 1, "min_sigma": 1.0, "max_sigma": 5.0, "threshold": 0.1},
        {"blob_paramset": 2, "min_sigma": 2.0, "max_sigma": 10.0, "threshold": 0.05},
    ]


def test_seed_insert_delete_update(seed_pipeline, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO())  # no one at the terminal, even under pytest -s
    pipeline = seed_pipeline
    run(INSERT, pipeline)
    assert pipeline.Subject.fetch1() == {
        "subject_id": "M001",
        "species": "mouse",
        "sex": "M",
        "notes": "",
    }
    assert pipeline.Session.fetch("session_date", order_by="session_date") == [
        datetime.date(2024, 1, 15),
        datetime.date(2024, 1, 16),
    ]

    pipeline.run()  # the downstream analysis the delete removes
    assert len(pipeline.Detection) == 4
    run(DELETE, pipeline)
    assert pipeline.Session.fetch("session_date") == [datetime.date(2024, 1, 16)]
    assert pipeline.Image.fetch("session_date") == [datetime.date(2024, 1, 16)]
    assert set(pipeline.Detection.fetch("session_date")) == {datetime.date(2024, 1, 16)}
    assert set(pipeline.Detection.Blob.fetch("session_date")) == {datetime.date(2024, 1, 16)}

    run(UPDATE, pipeline)
    assert (pipeline.Subject & {"subject_id": "M001"}).fetch1("notes") == "Corrected housing info"
    assert len(pipeline.Detection) == 2  # update1 touches no dependents
