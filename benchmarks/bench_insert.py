"""Bulk insert: N rows in one ``insert`` call against ``executemany`` in one transaction.

djflow gets the rows as dicts (how users usually hold them) and checks every value against
its type; the baseline gets ready-made tuples and inserts them with one ``executemany`` in
one transaction on the same table of the same database. The table is emptied (untimed)
before each repeat.
"""

from __future__ import annotations

from common import Row, best_of, db_path, load, raw_connect, say, standalone, temp_project

PIPEFILE = '''
import djflow


@djflow.manual
def Measurement():
    """
    measurement_id : int
    ---
    label : varchar(32)
    value : float
    count : int
    """
'''

INSERT = "INSERT INTO Measurement (measurement_id, label, value, count) VALUES (?, ?, ?, ?)"


def run(quick: bool) -> list[Row]:
    n = 20_000 if quick else 100_000
    repeats = 2 if quick else 3
    say(f"insert: {n:,} rows ...")
    tuples = [(i, f"label-{i % 97}", i * 0.5, i % 1000) for i in range(n)]
    dicts = [{"measurement_id": a, "label": b, "value": c, "count": d} for a, b, c, d in tuples]
    with temp_project(PIPEFILE) as project:
        pipeline = load(project)
        conn = raw_connect(db_path(project))

        def reset() -> None:
            conn.execute("DELETE FROM Measurement")

        def baseline() -> None:
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany(INSERT, tuples)
            conn.execute("COMMIT")

        with_dicts = best_of(lambda: pipeline.Measurement.insert(dicts), repeats, setup=reset)
        with_tuples = best_of(lambda: pipeline.Measurement.insert(tuples), repeats, setup=reset)
        floor = best_of(baseline, repeats, setup=reset)
        conn.close()
        pipeline.close()
    return [
        Row(f"bulk insert {n:,} rows (dicts)", with_dicts, floor, "≤ 3×", with_dicts <= 3 * floor),
        Row(f"bulk insert {n:,} rows (tuples)", with_tuples, floor, "≤ 3×", with_tuples <= 3 * floor),
    ]


if __name__ == "__main__":
    standalone(run)
