"""Command-line start-up: ``djflow --help`` and ``djflow status`` on the demo, against ``python -c pass``.

The demo is the repository's own ``pipefile.py`` (numpy and scipy included), copied with
its ``data/`` folder into a temporary project, with the subjects and sessions of
``data/*.csv`` inserted, so ``status`` has rows and pending keys to report. Each command is
timed as a whole process (best of a few runs).
"""

from __future__ import annotations

import csv
import shutil

from common import (
    NO_CLI,
    REPO,
    Row,
    djflow_command,
    load,
    python_pass_seconds,
    say,
    standalone,
    temp_project,
    time_command,
)


def demo_project(folder) -> None:
    """Put the demo pipefile and data in ``folder`` and insert its subjects and sessions."""
    shutil.copy(REPO / "pipefile.py", folder / "pipefile.py")
    shutil.copytree(REPO / "data", folder / "data")
    pipeline = load(folder)
    for table, name in (("Subject", "subjects.csv"), ("Session", "sessions.csv")):
        with open(folder / "data" / name, newline="") as rows:
            pipeline[table].insert(list(csv.DictReader(rows)))
    pipeline.close()


def run(quick: bool) -> list[Row]:
    repeats = 3 if quick else 7
    say("cli: start-up of djflow --help and djflow status ...")
    floor = python_pass_seconds(repeats)
    command = djflow_command()
    if command is None:
        return [
            Row("djflow --help", None, floor, "< 0.25 s", None, note=NO_CLI),
            Row("djflow status on the demo", None, floor, "—", None, note=NO_CLI),
        ]
    helped = time_command([command, "--help"], repeats)
    with temp_project("") as project:
        demo_project(project)
        status = time_command([command, "status"], repeats, cwd=project)
    return [
        Row("djflow --help", helped, floor, "< 0.25 s", helped < 0.25),
        Row("djflow status on the demo", status, floor, "—", None,
            note="djflow status: the demo pipefile imports numpy and scipy"),
    ]


if __name__ == "__main__":
    standalone(run)
