"""Crash trials: SIGKILL djflow at random moments and check that nothing is lost, duplicated or half-written.

Run on demand (not part of the test suite)::

    python tests/stress/crash_trials.py --trials 20

Three kinds of trial, each in a fresh temporary folder:

run
    ``--keys`` Source rows; then, ``--trials`` times, start ``djflow run`` (in turn: one
    process, ``-j 2``, and two ``djflow run`` commands at once) and SIGKILL its whole
    process group after a random delay. After every kill the database must pass
    ``PRAGMA integrity_check`` and ``PRAGMA foreign_key_check``, and every Result must
    have all its Piece rows. Then ``djflow status`` must reclaim every reservation the
    killed workers left, and a final ``djflow run -j 2`` must finish: every key present
    exactly once with all its part rows, nothing reserved, nothing failed.
delete
    ``djflow delete Source --where "n % 2 = 0" --yes`` on a populated database (the cascade
    reaches Note, Result and Result.Piece), killed at a random moment: afterwards the
    database holds either every row it had before or exactly what a finished delete leaves.
insert
    ``djflow insert Source big.csv`` of ``--insert-rows`` rows, killed at a random moment:
    afterwards either none or all of the rows are there.

Prints a summary (trials, kills, outcomes, violations) and exits 1 if any violation was found.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from stress_common import (  # noqa: E402
    completion_violations,
    consistency_violations,
    counts,
    database,
    kill_group,
    make_calls,
    run,
    start,
    stderr_violations,
    wait_group_gone,
    write_project,
)

RUN_MODES = ("run", "run -j 2", "two runs")


@dataclass
class Report:
    """What the trials did and found."""

    trials: dict[str, int] = field(default_factory=dict)
    kills: dict[str, int] = field(default_factory=dict)
    outcomes: dict[str, dict[str, int]] = field(default_factory=dict)
    violations: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def count(self, kind: str, killed: int, outcome: str | None = None) -> None:
        self.trials[kind] = self.trials.get(kind, 0) + 1
        self.kills[kind] = self.kills.get(kind, 0) + killed
        if outcome:
            by_outcome = self.outcomes.setdefault(kind, {})
            by_outcome[outcome] = by_outcome.get(outcome, 0) + 1

    def summary(self) -> str:
        lines = ["", "crash trials summary", "--------------------"]
        for kind in self.trials:
            outcome = self.outcomes.get(kind)
            shown = f"  outcomes: {json.dumps(outcome, sort_keys=True)}" if outcome else ""
            lines.append(f"{kind:<7} trials: {self.trials[kind]:>3}   kills: {self.kills[kind]:>3}{shown}")
        lines.append(f"total   trials: {sum(self.trials.values()):>3}   kills: {sum(self.kills.values()):>3}")
        lines += [f"note: {note}" for note in self.notes]
        lines.append(f"violations: {len(self.violations)}")
        lines += [f"  - {violation}" for violation in self.violations]
        return "\n".join(lines)


def say(message: str, quiet: bool) -> None:
    if not quiet:
        print(message, flush=True)


def load_sources(folder: Path, keys: range, notes: int = 0) -> None:
    """Insert Source rows (and ``notes`` Note rows per Source) through the Python API."""
    import djflow

    with djflow.load(folder / "pipefile.py") as pipeline:
        pipeline.Source.insert([{"n": n, "value": float(n)} for n in keys])
        if notes:
            pipeline.Note.insert([{"n": n, "note_id": i, "text": f"note {i}"} for n in keys for i in range(notes)])


# ---------------------------------------------------------------- run


def run_trials(root: Path, trials: int, keys: int, max_delay: float, rng: random.Random, report: Report,
               quiet: bool = False) -> None:
    """Kill ``djflow run`` ``trials`` times, then let a final run finish and check everything."""
    folder = write_project(root / "run", make_delay=(0.002, 0.1))
    load_sources(folder, range(keys))
    say(f"run: {keys} keys, make 2-100 ms, kill after 0.05-{max_delay} s", quiet)
    for trial in range(trials):
        mode = RUN_MODES[trial % len(RUN_MODES)]
        stderr = root / f"run-{trial}.err"
        args = ["run", "-j", "2"] if mode == "run -j 2" else ["run"]
        processes = [start(folder, *args, stderr_path=stderr)]
        if mode == "two runs":
            time.sleep(rng.uniform(0, 0.3))
            processes.append(start(folder, "run", stderr_path=stderr))
        killed = 0
        for process in processes:
            time.sleep(rng.uniform(0.05, max_delay))
            killed += kill_group(process)
            wait_group_gone(process.pid)
        found = consistency_violations(folder)
        found += stderr_violations(stderr.read_text(errors="replace") if stderr.exists() else "", f"run trial {trial}")
        report.violations += [f"run trial {trial} ({mode}): {v}" for v in found]
        report.count("run", killed)
        done = counts(folder)["Result"]
        say(f"  trial {trial:>3} {mode:<9} killed {killed}  results {done}/{keys}  violations {len(found)}", quiet)

    status = run(folder, "status", "--json")
    report.violations += stderr_violations(status.stderr, "djflow status")
    if status.returncode != 0:
        report.violations.append(f"djflow status exited {status.returncode}: {status.stderr.strip()}")
    else:
        reserved = {row["table"]: row["reserved"] for row in json.loads(status.stdout) if row["reserved"]}
        if reserved:
            report.violations.append(f"djflow status left reservations of killed workers: {reserved}")
    final = run(folder, "run", "-j", "2")
    report.violations += stderr_violations(final.stderr, "final djflow run")
    if final.returncode != 0:
        report.violations.append(f"final djflow run exited {final.returncode}: {final.stderr.strip()[-500:]}")
    report.violations += [f"after the final run: {v}" for v in completion_violations(folder)]
    calls = make_calls(folder)
    recomputed = sum(1 for n in range(keys) if calls[n] > 1)
    never = [n for n in range(keys) if calls[n] == 0]
    if never:
        report.violations.append(f"{len(never)} keys have a Result but their make never ran: {never[:5]}")
    report.notes.append(
        f"run: {keys} keys all computed; the make of {recomputed} of them finished twice (a kill fell "
        "between the make's end and the commit of its rows, which were never written)"
    )
    say(f"  final run: {counts(folder)}", quiet)


# ---------------------------------------------------------------- delete and insert


def populated_template(root: Path, sources: int, notes: int) -> Path:
    """A project with ``sources`` Source rows, their Notes, Results and Pieces, its database closed."""
    folder = write_project(root / "template")
    load_sources(folder, range(sources), notes)
    finished = run(folder, "run", "-j", "2")
    if finished.returncode != 0:
        raise SystemExit(f"could not populate the template: {finished.stderr}")
    return folder


def fresh_copy(template: Path, folder: Path) -> Path:
    """``folder`` holding the template's pipefile and a copy of its database (nothing else)."""
    if folder.exists():
        shutil.rmtree(folder)
    write_project(folder)
    database(folder).parent.mkdir()
    shutil.copyfile(database(template), database(folder))
    return folder


def all_or_nothing_trials(kind: str, template: Path, root: Path, args: list[str], trials: int,
                          rng: random.Random, report: Report, quiet: bool = False) -> None:
    """Kill ``djflow ARGS`` at random moments; the database must show all of it or none of it."""
    reference = fresh_copy(template, root / f"{kind}-reference")
    before = counts(reference)
    started = time.perf_counter()
    run(reference, "show", "Source", "--limit", "1")  # how long loading takes, before any writing
    startup = time.perf_counter() - started
    started = time.perf_counter()
    finished = run(reference, *args)
    duration = time.perf_counter() - started
    if finished.returncode != 0:
        raise SystemExit(f"djflow {' '.join(args)} failed: {finished.stderr}")
    after = counts(reference)
    say(f"{kind}: `djflow {' '.join(args)}` takes {duration:.2f} s of which ~{startup:.2f} s loading; "
        f"before {before}, after {after}", quiet)
    for trial in range(trials):
        folder = fresh_copy(template, root / kind)
        stderr = root / f"{kind}-{trial}.err"
        process = start(folder, *args, stderr_path=stderr)
        # between "loaded" and "exited": most kills land while it plans and writes, a few after the commit
        time.sleep(rng.uniform(startup * 0.95, duration))
        killed = kill_group(process)
        wait_group_gone(process.pid)
        wal = database(folder).with_name("pipeline.db-wal")
        wal_bytes = wal.stat().st_size if wal.exists() else 0  # frames of a transaction the kill cut short
        now = counts(folder)
        outcome = "nothing" if now == before else "all" if now == after else "partial"
        if outcome == "nothing" and wal_bytes:
            outcome = "nothing (killed mid-write)"
        found = consistency_violations(folder)
        found += stderr_violations(stderr.read_text(errors="replace") if stderr.exists() else "", f"{kind} trial {trial}")
        if outcome == "partial":
            found.append(f"half done: {now} is neither the state before {before} nor after {after}")
        report.violations += [f"{kind} trial {trial}: {v}" for v in found]
        report.count(kind, killed, outcome if killed else "finished before the kill")
        say(f"  trial {trial:>3} killed {int(killed)}  outcome {outcome:<8} violations {len(found)}", quiet)


def write_big_csv(path: Path, first: int, rows: int) -> Path:
    with open(path, "w") as handle:
        handle.write("n,value,label\n")
        for n in range(first, first + rows):
            handle.write(f"{n},{n / 2},row {n}\n")
    return path


# ---------------------------------------------------------------- main


def crash_trials(root: Path, trials: int = 20, keys: int | None = None, delete_trials: int = 10,
                 insert_trials: int = 10, sources: int = 20_000, insert_rows: int = 100_000,
                 max_delay: float = 1.5, seed: int | None = None, quiet: bool = False) -> Report:
    """Run every kind of trial under ``root``; return the report."""
    seed = random.randrange(2**32) if seed is None else seed
    rng = random.Random(seed)
    report = Report()
    report.notes.append(f"seed {seed}")
    if trials:
        run_trials(root, trials, keys or 30 * trials, max_delay, rng, report, quiet)
    if delete_trials or insert_trials:
        template = populated_template(root, sources, notes=5)
        if delete_trials:
            all_or_nothing_trials("delete", template, root, ["delete", "Source", "--where", "n % 2 = 0", "--yes"],
                                  delete_trials, rng, report, quiet)
        if insert_trials:
            big = write_big_csv(root / "big.csv", 10**6, insert_rows)
            all_or_nothing_trials("insert", template, root, ["insert", "Source", str(big)],
                                  insert_trials, rng, report, quiet)
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=20, help="kills of `djflow run` (default 20)")
    parser.add_argument("--keys", type=int, help="Source rows for the run trials (default 30 per trial)")
    parser.add_argument("--delete-trials", type=int, default=10, help="kills of `djflow delete` (default 10)")
    parser.add_argument("--insert-trials", type=int, default=10, help="kills of `djflow insert` (default 10)")
    parser.add_argument("--sources", type=int, default=20_000,
                        help="Source rows of the delete template (default 20000)")
    parser.add_argument("--insert-rows", type=int, default=100_000, help="rows of big.csv (default 100000)")
    parser.add_argument("--max-delay", type=float, default=1.5, help="longest wait before a kill, seconds")
    parser.add_argument("--seed", type=int, help="random seed (printed, to repeat a run)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    parser.add_argument("--quiet", action="store_true", help="print only the summary")
    options = parser.parse_args(argv)
    root = Path(tempfile.mkdtemp(prefix="djflow-crash-"))
    started = time.perf_counter()
    try:
        report = crash_trials(
            root, options.trials, options.keys, options.delete_trials, options.insert_trials, options.sources,
            options.insert_rows, options.max_delay, options.seed, options.quiet,
        )
    finally:
        if options.keep:
            print(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    print(report.summary())
    print(f"took {time.perf_counter() - started:.1f} s")
    return 1 if report.violations else 0


if __name__ == "__main__":
    sys.exit(main())
