"""Concurrency soak: workers populate while one process inserts rows and another deletes with cascade.

Run on demand (not part of the test suite)::

    python tests/stress/soak.py --seconds 30

For ``--seconds``, on one database:

- ``--workers`` processes each run ``djflow run`` over and over (every other one with ``-j 2``);
- an inserter adds new Source rows (and Notes) through the Python API, a few at a time,
  never reusing a key;
- a deleter deletes random Source rows with cascade, through the Python API and through
  ``djflow delete --where ... --yes``.

Then a final ``djflow run`` finishes the work. Afterwards:

- no "database is locked" and no traceback reached any process's stderr, and every process
  exited 0;
- ``PRAGMA integrity_check`` is ok and ``PRAGMA foreign_key_check`` empty (no orphan rows);
- every Result.Piece has its Result, and every Result has all its Piece rows;
- every Source has its Result, nothing is reserved, nothing failed;
- every key was computed at most once (the make appends to ``makes.log``; keys are never
  reused, so a second line for a key would be a duplicated computation).

Prints a summary and exits 1 if any violation was found.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from stress_common import (  # noqa: E402
    clean_env,
    completion_violations,
    counts,
    djflow_command,
    make_calls,
    run,
    stderr_violations,
    write_project,
)

FIRST_NEW_KEY = 1_000_000

INSERTER = '''
import json, random, sys, time
import djflow

deadline, seed = float(sys.argv[1]), int(sys.argv[2])
rng = random.Random(seed)
pipeline = djflow.load()
n, inserted = {first}, 0
while time.time() < deadline:
    batch = [{{"n": k, "value": float(k % 1000)}} for k in range(n, n + rng.randint(1, 5))]
    with pipeline.transaction():
        pipeline.Source.insert(batch)
        pipeline.Note.insert([{{"n": row["n"], "note_id": 0, "text": "soak"}} for row in batch])
    n += len(batch)
    inserted += len(batch)
    time.sleep(rng.uniform(0.01, 0.05))
print(json.dumps({{"inserted": inserted}}))
'''

DELETER = '''
import json, random, sys, time
import djflow

deadline, seed = float(sys.argv[1]), int(sys.argv[2])
rng = random.Random(seed)
pipeline = djflow.load()
deleted = calls = 0
while time.time() < deadline:
    keys = pipeline.Source.fetch("n")
    if keys:
        chosen = rng.sample(list(keys), min(len(keys), rng.randint(1, 4)))
        deleted += (pipeline.Source & [{"n": int(k)} for k in chosen]).delete(safemode=False)
        calls += 1
    time.sleep(rng.uniform(0.05, 0.2))
print(json.dumps({"deleted": deleted, "deletes": calls}))
'''


@dataclass
class SoakReport:
    seconds: float = 0.0
    runs: int = 0
    cli_deletes: int = 0
    cli_deletes_refused: int = 0  # the rows changed between showing the counts and deleting: nothing deleted
    inserted: int = 0
    deleted: int = 0
    computed: int = 0
    violations: list[str] = field(default_factory=list)
    final_counts: dict[str, int] = field(default_factory=dict)

    def summary(self) -> str:
        return "\n".join([
            "",
            "soak summary",
            "------------",
            f"seconds: {self.seconds:.1f}",
            f"`djflow run` commands: {self.runs}",
            f"Source rows inserted: {self.inserted}; deleted with cascade: {self.deleted} "
            f"(+ {self.cli_deletes} `djflow delete` commands, {self.cli_deletes_refused} of them refused "
            "because the rows changed after their counts were shown)",
            f"makes that ran: {self.computed}",
            f"final rows: {json.dumps(self.final_counts)}",
            f"violations: {len(self.violations)}",
            *[f"  - {violation}" for violation in self.violations],
        ])


class Role(threading.Thread):
    """A thread that starts processes until the deadline and collects their outcome."""

    def __init__(self, name: str, report: SoakReport, lock: threading.Lock):
        super().__init__(name=name, daemon=True)
        self.report = report
        self.lock = lock
        self.outputs: list[str] = []

    def check(self, result: subprocess.CompletedProcess, what: str) -> None:
        found = stderr_violations(result.stderr, f"{self.name} ({what})")
        if result.returncode != 0:
            found.append(f"{self.name} ({what}) exited {result.returncode}: {result.stderr.strip()[-300:]}")
        with self.lock:
            self.report.violations += found


def soak(root: Path, seconds: float = 30.0, workers: int = 3, initial: int = 200, seed: int | None = None,
         quiet: bool = False) -> SoakReport:
    """Run the soak in ``root``; return its report."""
    seed = random.randrange(2**32) if seed is None else seed
    rng = random.Random(seed)
    folder = write_project(root / "soak", make_delay=(0.002, 0.05))
    import djflow

    with djflow.load(folder / "pipefile.py") as pipeline:
        pipeline.Source.insert([{"n": n, "value": float(n)} for n in range(initial)])
    report = SoakReport()
    lock = threading.Lock()
    started = time.time()
    deadline = started + seconds
    env = clean_env()

    def python(code: str, *args: str, timeout: float) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-c", textwrap.dedent(code), *args], cwd=folder, env=env,
                              stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout)

    class Worker(Role):
        def __init__(self, index: int):
            super().__init__(f"worker {index}", report, lock)
            self.jobs = ["-j", "2"] if index % 2 else []

        def run(self) -> None:
            while time.time() < deadline:
                result = run(folder, "run", *self.jobs, timeout=seconds + 120)
                self.check(result, "djflow run " + " ".join(self.jobs))
                with self.lock:
                    self.report.runs += 1
                time.sleep(rng.uniform(0.0, 0.2))

    class Inserter(Role):
        def run(self) -> None:
            result = python(INSERTER.format(first=FIRST_NEW_KEY), str(deadline), str(seed), timeout=seconds + 120)
            self.check(result, "inserting")
            if result.returncode == 0:
                with self.lock:
                    self.report.inserted += json.loads(result.stdout.splitlines()[-1])["inserted"]

    class Deleter(Role):
        def run(self) -> None:
            result = python(DELETER, str(deadline), str(seed + 1), timeout=seconds + 120)
            self.check(result, "deleting")
            if result.returncode == 0:
                with self.lock:
                    self.report.deleted += json.loads(result.stdout.splitlines()[-1])["deleted"]

    class CliDeleter(Role):
        def run(self) -> None:
            while time.time() < deadline:
                time.sleep(rng.uniform(0.5, 1.5))
                low = rng.randrange(0, initial)
                where = f"n >= {low} AND n < {low + 3} OR n % 97 = {rng.randrange(97)} AND n >= {FIRST_NEW_KEY}"
                result = subprocess.run(djflow_command("delete", "Source", "--where", where, "--yes"), cwd=folder,
                                        env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                                        timeout=seconds + 120)
                refused = result.returncode == 1 and "changed since they were shown" in result.stderr
                if not refused:
                    self.check(result, f"djflow delete --where {where!r}")
                with self.lock:
                    self.report.cli_deletes += 1
                    self.report.cli_deletes_refused += refused

    roles = [Worker(i) for i in range(workers)]
    roles += [Inserter("inserter", report, lock), Deleter("deleter", report, lock), CliDeleter("cli deleter", report, lock)]
    for role in roles:
        role.start()
    for role in roles:
        role.join()
    report.seconds = time.time() - started
    final = run(folder, "run", "-j", "2")
    report.violations += stderr_violations(final.stderr, "final djflow run")
    if final.returncode != 0:
        report.violations.append(f"final djflow run exited {final.returncode}: {final.stderr.strip()[-300:]}")
    report.violations += [f"after the final run: {v}" for v in completion_violations(folder)]
    calls = make_calls(folder)
    report.computed = sum(calls.values())
    twice = sorted(n for n, count in calls.items() if count > 1)
    if twice:
        report.violations.append(f"{len(twice)} keys were computed more than once: {twice[:10]}")
    report.final_counts = counts(folder)
    if not quiet:
        print(f"seed {seed}")
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=30.0, help="how long to soak (default 30)")
    parser.add_argument("--workers", type=int, default=3, help="processes running `djflow run` (default 3)")
    parser.add_argument("--initial", type=int, default=200, help="Source rows at the start (default 200)")
    parser.add_argument("--seed", type=int, help="random seed (printed, to repeat a run)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    options = parser.parse_args(argv)
    root = Path(tempfile.mkdtemp(prefix="djflow-soak-"))
    try:
        report = soak(root, options.seconds, options.workers, options.initial, options.seed)
    finally:
        if options.keep:
            print(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    print(report.summary())
    return 1 if report.violations else 0


if __name__ == "__main__":
    sys.exit(main())
