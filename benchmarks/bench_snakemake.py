"""Optional: the same N jobs in Snakemake and in djflow, planned (dry run) and run on one core.

Snakemake gets N input files and a rule copying each to an output file (``shell: cp``);
djflow gets N source rows and the trivial make (read the parent row, write one value).
Both are timed as whole commands: ``snakemake -n`` vs ``djflow run -n``, then
``snakemake -c1`` vs ``djflow run``. Skipped when the ``snakemake`` command is not
installed. A ``run:`` block instead of ``shell:`` would be unfair to Snakemake 9: it
starts a new Snakemake process per job (about 1.7 s each here).

Without the djflow CLI, the djflow side runs ``pipeline.run()`` through ``python -c``.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from common import (
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
)

PIPEFILE = TRIVIAL_PIPEFILE

SNAKEFILE = """
N = {n}

rule all:
    input: expand("out/{{i}}.txt", i=range(N))

rule copy:
    input: "in/{{i}}.txt"
    output: "out/{{i}}.txt"
    shell: "cp {{input}} {{output}}"
"""

# the djflow side when there is no CLI yet: the same work as `djflow run [-n]` through the API
API_RUN = "import sys, djflow; djflow.load(sys.argv[1]).run(dry_run=sys.argv[2] == '-n')"


def snakemake_command() -> str | None:
    candidate = Path(sys.executable).parent / "snakemake"
    return str(candidate) if candidate.exists() else shutil.which("snakemake")


def run(quick: bool) -> list[Row]:
    snakemake = snakemake_command()
    if snakemake is None:
        say("snakemake: not installed, skipped")
        return [Row("Snakemake comparison", None, None, "optional", None, note="skipped (snakemake not installed)")]
    n = 200 if quick else 1_000
    repeats = 2 if quick else 3
    say(f"snakemake: {n:,} jobs in Snakemake and in djflow ...")
    djflow = djflow_command()
    via = "djflow" if djflow else "python -c (no CLI yet)"
    with temp_project(SNAKEFILE.format(n=n), prefix="snakemake-bench-") as work, temp_project(PIPEFILE) as project:
        (work / "pipefile.py").rename(work / "Snakefile")
        (work / "in").mkdir()
        for i in range(n):
            (work / "in" / f"{i}.txt").write_text(f"{float(i)}\n")
        load(project).close()
        conn = raw_connect(db_path(project))
        fill(conn, "INSERT INTO Source (n, value) VALUES (?, ?)", ((i, float(i)) for i in range(n)))

        def djflow_argv(dry: bool) -> list[str]:
            if djflow:
                return [djflow, "run", *(["-n"] if dry else [])]
            return [sys.executable, "-c", API_RUN, str(project / "pipefile.py"), "-n" if dry else "run"]

        snake_plan = best_of(lambda: run_command([snakemake, "-n", "-c1", "--quiet"], cwd=work), repeats)
        djflow_plan = best_of(lambda: run_command(djflow_argv(True), cwd=project), repeats)
        snake_run = best_of(lambda: run_command([snakemake, "-c1", "--quiet"], cwd=work), 1)
        djflow_run = best_of(lambda: run_command(djflow_argv(False), cwd=project), 1)
        outputs = len(list((work / "out").iterdir()))
        rows_done = conn.execute("SELECT count(*) FROM Target").fetchone()[0]
        assert outputs == n and rows_done == n, (outputs, rows_done)
        conn.close()
    return [
        Row(f"{n:,} jobs, dry run: djflow vs snakemake -n", djflow_plan, snake_plan, "(optional)", None,
            ratio_text=versus(djflow_plan, snake_plan),
            note=f"Snakemake comparison: the djflow side is {via}; the baseline column is Snakemake"),
        Row(f"{n:,} jobs, full run on 1 core: djflow vs snakemake -c1", djflow_run, snake_run, "(optional)", None,
            ratio_text=versus(djflow_run, snake_run)),
    ]


def versus(djflow: float, snakemake: float) -> str:
    """The ratio, and how many times faster the faster side is."""
    if djflow < snakemake:
        faster = f"djflow {snakemake / djflow:.0f}× faster"
    else:
        faster = f"Snakemake {djflow / snakemake:.0f}× faster"
    return f"{djflow / snakemake:.3f}× ({faster})"


if __name__ == "__main__":
    standalone(run)
