import os
import stat

import pytest

from collapsebench.benchmark.store.atomic import atomic_write, atomic_write_text


def test_replaces_whole_file_with_normal_permissions(tmp_path):
    path = tmp_path / "sub" / "t.txt"
    atomic_write_text(path, "one")
    atomic_write_text(path, "two")
    assert path.read_text() == "two"
    mask = os.umask(0)
    os.umask(mask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~mask
    assert [p.name for p in path.parent.iterdir()] == ["t.txt"]  # no temporary left behind


def test_failed_write_keeps_old_file(tmp_path):
    path = tmp_path / "t.txt"
    atomic_write_text(path, "old")

    def boom(f):
        f.write(b"half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        atomic_write(path, boom)
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["t.txt"]


def test_a_killed_writers_temporary_file_is_removed_and_a_live_one_kept(tmp_path):
    """Results folders have no lock: a leftover is removed only when its writer (the pid in its
    name) is gone; a live writer's temporary file survives."""
    import os
    import subprocess
    import sys

    from collapsebench.benchmark.store.atomic import TMP_PID, remove_stale_tmp

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()  # fmt: skip
    stale = tmp_path / f".table.md.{TMP_PID}{dead}.k3j_x.tmp"
    live = tmp_path / f".table.md.{TMP_PID}{os.getpid()}.a8b2c.tmp"
    other = tmp_path / ".table.md.legacy.tmp"  # no pid: nobody can tell, so it stays
    for p in (stale, live, other):
        p.write_text("half a table")
    assert remove_stale_tmp(tmp_path) == 1
    assert not stale.exists() and live.exists() and other.exists()
