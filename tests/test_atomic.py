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
