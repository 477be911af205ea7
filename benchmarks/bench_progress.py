"""Planning: ``progress()``, ``pipeline.run(dry_run=True)`` and ``djflow run -n`` on N keys, half done.

The key source has N keys and the computed table every other one of them (filled with raw
SQL, untimed). The baseline is the one query any engine must run at least: a raw anti-join
count of the missing keys, on the same database. ``progress()`` counts the missing keys
and all keys; ``run(dry_run=True)`` counts and lists the first few; ``djflow run -n`` is the
command line, start-up and pipefile loading included.
"""

from __future__ import annotations

from common import (
    NO_CLI,
    TRIVIAL_PIPEFILE,
    Row,
    best_of,
    db_path,
    djflow_command,
    fill,
    load,
    raw_connect,
    run_command,
    say,
    standalone,
    temp_project,
    time_command,
)

PIPEFILE = TRIVIAL_PIPEFILE

ANTI_JOIN_COUNT = "SELECT count(*) FROM Source AS s WHERE NOT EXISTS (SELECT 1 FROM Target AS t WHERE t.n = s.n)"


def target(seconds: float, floor: float) -> bool:
    return seconds < 1 and seconds <= 3 * floor


def run(quick: bool) -> list[Row]:
    n = 200_000 if quick else 1_000_000
    repeats = 2 if quick else 3
    say(f"progress: {n:,} keys, half done ...")
    with temp_project(PIPEFILE) as project:
        pipeline = load(project)
        conn = raw_connect(db_path(project))
        fill(conn, "INSERT INTO Source (n, value) VALUES (?, ?)", ((i, float(i)) for i in range(n)))
        conn.execute("INSERT INTO Target (n, doubled) SELECT n, 2 * value FROM Source WHERE n % 2 = 0")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        assert pipeline.Target.progress() == (n // 2, n)

        floor = best_of(lambda: conn.execute(ANTI_JOIN_COUNT).fetchone(), repeats)
        progress = best_of(lambda: pipeline.Target.progress(), repeats)
        dry_run = best_of(lambda: pipeline.run(dry_run=True), repeats)
        figure = f"{n:,} keys, half done"
        rows = [
            Row(f"progress() on {figure}", progress, floor, "< 1 s and ≤ 3×", target(progress, floor)),
            Row(f"pipeline.run(dry_run=True) on {figure}", dry_run, floor, "< 1 s and ≤ 3×", target(dry_run, floor)),
        ]
        command = djflow_command()
        if command is None:
            rows.append(Row(f"djflow run -n on {figure}", None, floor, "< 1 s and ≤ 3×", None, note=NO_CLI))
        else:
            shown = run_command([command, "run", "-n"], cwd=project).stdout
            assert f"{n // 2:,}" in shown or str(n // 2) in shown, shown[:500]
            cli = time_command([command, "run", "-n"], repeats, cwd=project)
            rows.append(Row(f"djflow run -n on {figure}", cli, floor, "< 1 s and ≤ 3×", target(cli, floor),
                            note="djflow run -n: a new process; start-up and pipefile loading included"))
        conn.close()
        pipeline.close()
    return rows


if __name__ == "__main__":
    standalone(run)
