"""The environment: a network file system gets a warning, a read-only one can still be read.

The error rows of environment faults (read-only file system, full disk, a lock file that
cannot be made, a pipefile edited during a run) are in tests/test_bad_inputs.py with the
rest of the catalogue; here is what is not an error.

Both tests here need root: one runs djflow in a private mount namespace (``unshare -m``)
whose ``/proc/mounts`` says the project is on NFS, the other puts the project on a tmpfs
remounted read-only (root writes through ``chmod a-w``, so permissions prove nothing).
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent / "stress"))

import stress_common  # noqa: E402

import djflow  # noqa: E402

needs_root = pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("mount"), reason="needs root and mount")


def fake_network_mount(folder: Path, kind: str) -> list[str]:
    """``djflow status`` in a private mount namespace whose /proc/mounts lists ``folder`` as a ``kind`` mount."""
    line = f"server:/export {folder} {kind} rw,relatime 0 0"
    script = (
        "mount --make-rprivate / && mount -t tmpfs none /proc && "
        f"printf '%s\\n' '{line}' > /proc/mounts && exec \"$0\" status"
    )
    return ["unshare", "-m", "sh", "-c", script, *stress_common.djflow_command()]


@needs_root
@pytest.mark.skipif(not shutil.which("unshare"), reason="needs unshare (util-linux)")
@pytest.mark.parametrize("kind, warned", [("nfs4", True), ("cifs", True), ("ext4", False)])
def test_a_database_on_a_network_file_system_gets_a_warning(tmp_path, kind, warned):
    folder = stress_common.write_project(tmp_path / "project")
    result = subprocess.run(fake_network_mount(folder, kind), cwd=folder, env=stress_common.clean_env(),
                            capture_output=True, text=True, timeout=60)
    if result.returncode != 0 and ("unshare" in result.stderr or "mount:" in result.stderr):
        pytest.skip(f"cannot make a private mount namespace here: {result.stderr.strip()}")
    assert result.returncode == 0, result.stderr
    warning = f"Warning: {folder}/.djflow/pipeline.db is on a network filesystem ({kind}); SQLite locking is unreliable there."
    assert (warning in result.stderr) is warned, result.stderr
    assert "Result" in result.stdout  # and it went on to do its work


@needs_root
def test_a_database_on_a_read_only_file_system_can_still_be_read(tmp_path):
    mount_point = tmp_path / "mnt"
    mount_point.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(mount_point)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        folder = stress_common.write_project(mount_point / "project")
        with djflow.load(folder / "pipefile.py") as pipeline:
            pipeline.Source.insert([{"n": n, "value": float(n)} for n in range(4)])
            pipeline.Result.populate(max_calls=2)
        subprocess.run(["mount", "-o", "remount,ro", str(mount_point)], check=True)

        status = stress_common.run(folder, "status", "--json")
        assert status.returncode == 0, status.stderr
        assert {row["table"]: (row["rows"], row["pending"]) for row in json.loads(status.stdout)}["Result"] == (2, 2)
        shown = stress_common.run(folder, "show", "Source", "--csv")
        assert shown.returncode == 0 and shown.stdout.splitlines()[1:] == [f"{n},{float(n)}," for n in range(4)]
        dry = stress_common.run(folder, "run", "-n")
        assert dry.returncode == 0 and dry.stdout.startswith("Result: 2 pending"), dry.stderr
        plan = stress_common.run(folder, "delete", "Source", "--where", "n = 0", "--dry-run")
        assert plan.returncode == 0 and "Would delete" in plan.stdout, plan.stderr
        with djflow.load(folder / "pipefile.py") as pipeline:  # the Python API reads too, and refuses to write
            assert len(pipeline.Result) == 2
            with pytest.raises(djflow.DatabaseWriteError, match="read-only file system"):
                pipeline.Source.insert1({"n": 9, "value": 9.0})
        assert not (folder / ".djflow" / "pipeline.db-wal").exists()  # nothing was written, not even a WAL
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], capture_output=True)


@needs_root
@pytest.mark.parametrize("with_shm", [True, False])
def test_changes_still_in_the_wal_are_read_or_a_clear_error_says_why_not(tmp_path, with_shm):
    """A database copied (or a disk remounted) while its -wal file held changes: never a stale read."""
    source = stress_common.write_project(tmp_path / "source")
    with djflow.load(source / "pipefile.py") as pipeline:
        pipeline.Source.insert1({"n": 1, "value": 1.0})
    writer = sqlite3.connect(stress_common.database(source), isolation_level=None)
    writer.execute("PRAGMA wal_autocheckpoint = 0")
    writer.execute("INSERT INTO Source (n, value, label) VALUES (2, 2.0, 'only in the wal')")
    mount_point = tmp_path / "mnt"
    mount_point.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(mount_point)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        folder = mount_point / "project"
        shutil.copytree(source, folder, ignore=shutil.ignore_patterns("*-shm") if not with_shm else None)
        writer.close()
        assert (folder / ".djflow" / "pipeline.db-wal").stat().st_size > 0
        subprocess.run(["mount", "-o", "remount,ro", str(mount_point)], check=True)
        shown = stress_common.run(folder, "show", "Source", "--csv")
        if with_shm:
            assert shown.returncode == 0, shown.stderr
            assert shown.stdout.splitlines()[1:] == ["1,1.0,", "2,2.0,only in the wal"]
        else:
            assert shown.returncode == 1
            assert shown.stderr.startswith("Error: cannot open the database ") and "Traceback" not in shown.stderr
            assert "pipeline.db-wal were never merged into it" in shown.stderr
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], capture_output=True)
