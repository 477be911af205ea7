"""Concurrency soak, short: about 4 seconds of workers populating while rows are inserted and deleted.

The full version is ``python tests/stress/soak.py --seconds 30`` (see docs/reliability.md).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent / "stress"))

import soak  # noqa: E402


def test_workers_inserts_and_cascading_deletes_at_once_leave_a_consistent_database(tmp_path):
    report = soak.soak(tmp_path, seconds=4, workers=2, initial=60, seed=11, quiet=True)
    assert report.violations == [], report.summary()
    assert report.runs >= 2 and report.inserted > 0 and report.deleted > 0, report.summary()
    assert report.computed > 0
