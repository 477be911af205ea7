"""Cascading delete: one ``delete()`` that removes ~100,000 rows over 4 levels of tables.

The chain is A -> B -> C -> D (each inherits its parent's key). The database holds twice
what is deleted; the restriction ``a < K`` picks half of A, and the cascade removes their
B, C and D rows: K + 10 K + 100 K + 9,900 K rows (K = 10: 100,110 rows). The baseline is
the hand-written delete of the same rows: four ``DELETE ... WHERE a < K``, children first,
in one transaction (foreign keys on, as in djflow). The tables are refilled (raw SQL,
untimed) before each repeat.
"""

from __future__ import annotations

from common import Row, best_of, db_path, fill, load, raw_connect, say, standalone, temp_project

PIPEFILE = '''
import djflow


@djflow.manual
def A():
    """
    a : int
    """


@djflow.manual
def B():
    """
    -> A
    b : int
    """


@djflow.manual
def C():
    """
    -> B
    c : int
    """


@djflow.manual
def D():
    """
    -> C
    d : int
    ---
    value : float
    """
'''

FAN_OUT = (10, 10, 99)  # B rows per A, C rows per B, D rows per C


def refill(conn, a_rows: int) -> None:
    """Empty the four tables and fill them again: ``a_rows`` A rows and their descendants."""
    conn.execute("BEGIN")
    for table in ("D", "C", "B", "A"):
        conn.execute(f"DELETE FROM {table}")
    conn.execute("COMMIT")
    nb, nc, nd = FAN_OUT
    fill(conn, "INSERT INTO A (a) VALUES (?)", ((a,) for a in range(a_rows)))
    fill(conn, "INSERT INTO B (a, b) VALUES (?, ?)", ((a, b) for a in range(a_rows) for b in range(nb)))
    fill(conn, "INSERT INTO C (a, b, c) VALUES (?, ?, ?)",
         ((a, b, c) for a in range(a_rows) for b in range(nb) for c in range(nc)))
    fill(conn, "INSERT INTO D (a, b, c, d, value) VALUES (?, ?, ?, ?, 1.0)",
         ((a, b, c, d) for a in range(a_rows) for b in range(nb) for c in range(nc) for d in range(nd)))


def run(quick: bool) -> list[Row]:
    deleted_a = 2 if quick else 10
    repeats = 2 if quick else 3
    nb, nc, nd = FAN_OUT
    expected = deleted_a * (1 + nb + nb * nc + nb * nc * nd)
    say(f"delete: cascade of {expected:,} rows over 4 levels ...")
    with temp_project(PIPEFILE) as project:
        pipeline = load(project)
        conn = raw_connect(db_path(project))
        restriction = f"a < {deleted_a}"

        def cascade() -> None:
            assert (pipeline.A & restriction).delete(safemode=False) == deleted_a

        def baseline() -> None:
            conn.execute("BEGIN IMMEDIATE")
            removed = sum(conn.execute(f"DELETE FROM {t} WHERE {restriction}").rowcount for t in "DCBA")
            conn.execute("COMMIT")
            assert removed == expected, removed

        djflow_seconds = best_of(cascade, repeats, setup=lambda: refill(conn, 2 * deleted_a))
        left = conn.execute("SELECT count(*) FROM D").fetchone()[0]
        assert left == deleted_a * nb * nc * nd, f"the cascade left {left} D rows"
        floor = best_of(baseline, repeats, setup=lambda: refill(conn, 2 * deleted_a))
        conn.close()
        pipeline.close()
    return [
        Row(f"cascading delete of {expected:,} rows over 4 levels", djflow_seconds, floor, "≤ 3×",
            djflow_seconds <= 3 * floor),
    ]


if __name__ == "__main__":
    standalone(run)
