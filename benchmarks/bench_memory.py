"""Peak memory of populate over 1,000,000 pending keys (target < 300 MB: keys are streamed).

The source table gets N rows with raw SQL (untimed); then a fresh Python process loads
the pipeline, notes its peak resident size (the baseline: Python, djflow and the pipeline
loaded), populates the trivial make, and notes the peak again. The full run computes every
key; the quick pass stops after ``max_calls`` makes, which still shows that the pending
keys are not all held in memory.

The peak is ``resource.getrusage(RUSAGE_SELF).ru_maxrss`` where that is the process's own:
on Linux it is not, for a process started from a larger one (exec keeps the parent's high-water
mark, so the child would report this runner's size), and the child reads ``VmHWM`` from
``/proc/self/status`` instead, the peak resident size of its own address space.
"""

from __future__ import annotations

import json
import sys
import time

from common import (
    TRIVIAL_PIPEFILE,
    Row,
    db_path,
    fill,
    load,
    raw_connect,
    run_command,
    say,
    standalone,
    temp_project,
)

PIPEFILE = TRIVIAL_PIPEFILE

CHILD = """
import json, resource, sys
import djflow


def peak_kb():
    try:
        with open("/proc/self/status") as status:
            return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
    except (OSError, StopIteration):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


pipeline = djflow.load(sys.argv[1])
loaded = peak_kb()
max_calls = int(sys.argv[2]) or None
result = pipeline.Target.populate(max_calls=max_calls)
print(json.dumps({"loaded_kb": loaded, "peak_kb": peak_kb(), "computed": result["success_count"]}))
"""


def run(quick: bool) -> list[Row]:
    n = 1_000_000
    max_calls = 20_000 if quick else 0
    say(f"memory: populate over {n:,} pending keys{f' (max_calls={max_calls:,})' if max_calls else ''} ...")
    with temp_project(PIPEFILE) as project:
        load(project).close()
        conn = raw_connect(db_path(project))
        fill(conn, "INSERT INTO Source (n, value) VALUES (?, ?)", ((i, float(i)) for i in range(n)))
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.close()
        started = time.perf_counter()
        done = run_command([sys.executable, "-c", CHILD, str(project / "pipefile.py"), str(max_calls)])
        seconds = time.perf_counter() - started
    measured = json.loads(done.stdout.strip().splitlines()[-1])
    assert measured["computed"] == (max_calls or n), measured
    peak, loaded = measured["peak_kb"] / 1024, measured["loaded_kb"] / 1024
    computed = f"{measured['computed']:,} makes"
    return [
        Row(f"peak memory, populate over {n:,} pending keys", peak, loaded, "< 300 MB", peak < 300, unit="MB",
            note=f"memory: peak resident size (VmHWM) of a fresh process; baseline: the same after djflow.load; "
                 f"{computed} in {seconds:.1f} s"),
    ]


if __name__ == "__main__":
    standalone(run)
