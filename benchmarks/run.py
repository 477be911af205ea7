"""Run djflow's benchmarks and print one table: figure | djflow | baseline | ratio | target | met?

    python benchmarks/run.py            # the figures of issue 6 at full size (a few minutes)
    python benchmarks/run.py --quick    # smaller N, under a minute
    python benchmarks/run.py --only populate,cli

Each figure builds its own temporary project and measures its baseline in the same run.
Progress goes to stderr, the table (Markdown) to stdout. In a quick pass the targets are
still checked, but they are meant for the full sizes.
"""

from __future__ import annotations

import argparse
import os
import platform
import sqlite3
import sys
import time

import bench_cli
import bench_delete
import bench_insert
import bench_memory
import bench_populate
import bench_progress
import bench_snakemake
from common import Row, say

BENCHMARKS = {
    "populate": bench_populate,
    "insert": bench_insert,
    "delete": bench_delete,
    "progress": bench_progress,
    "cli": bench_cli,
    "memory": bench_memory,
    "snakemake": bench_snakemake,
}


def show_value(value: float | None, unit: str) -> str:
    if value is None:
        return "—"
    if unit == "MB":
        return f"{value:.0f} MB"
    if value < 1:
        return f"{value * 1e3:.1f} ms"
    return f"{value:.2f} s"


def print_table(rows: list[Row]) -> None:
    """The results as one Markdown table, with notes as footnotes under it."""
    header = ["figure", "djflow", "baseline", "ratio", "target", "met?"]
    lines, notes = [], []
    for row in rows:
        djflow = show_value(row.djflow, row.unit) if row.djflow is not None else (row.note or "—")
        if row.note and row.djflow is not None:
            notes.append(row.note)
            djflow += f" [{len(notes)}]"
        ratio = row.ratio_text or (f"{row.ratio:.2f}×" if row.ratio is not None else "—")
        met = {True: "yes", False: "**NO**", None: "—"}[row.met]
        lines.append([row.figure, djflow, show_value(row.baseline, row.unit), ratio, row.target, met])
    widths = [max(len(str(line[i])) for line in [header, *lines]) for i in range(len(header))]

    def render(cells: list[str]) -> str:
        return "| " + " | ".join(str(c).ljust(w) for c, w in zip(cells, widths)) + " |"

    print(render(header))
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for line in lines:
        print(render(line))
    if notes:
        print()
        for number, note in enumerate(notes, 1):
            print(f"- [{number}] {note}")


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as info:
            return next(line.split(":", 1)[1].strip() for line in info if line.startswith("model name"))
    except (OSError, StopIteration):
        return platform.processor() or "unknown CPU"


def machine() -> str:
    """One line about the machine and its load, for the record."""
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return (
        f"{os.cpu_count()} × {cpu_model()}, Python {platform.python_version()}, "
        f"SQLite {sqlite3.sqlite_version}, load average {load}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a short pass with smaller N (under a minute)")
    parser.add_argument("--only", default="", help=f"comma-separated subset of: {', '.join(BENCHMARKS)}")
    options = parser.parse_args(argv)
    chosen = [name.strip() for name in options.only.split(",") if name.strip()] or list(BENCHMARKS)
    unknown = [name for name in chosen if name not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark {unknown[0]!r}; choose from {', '.join(BENCHMARKS)}")
    say(f"{'quick pass' if options.quick else 'full run'} on {machine()}")
    started = time.perf_counter()
    rows: list[Row] = []
    for name in chosen:
        rows += BENCHMARKS[name].run(options.quick)
    say(f"done in {time.perf_counter() - started:.0f} s; {machine()}")
    print_table(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
