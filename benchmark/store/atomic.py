"""Atomic file writes: nothing in the run store, the caches or results/ is ever half written.

Everything is written into a temporary file in the destination's own folder, flushed to disk,
and renamed over the destination (``os.replace`` is atomic within one file system), so a kill at
any moment leaves either the old file or the new one.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from ..errors import BenchError


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


#: marks the writer's pid in a temporary file's name
TMP_PID = "pid"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    return True


def remove_stale_tmp(folder: str | Path) -> int:
    """Delete the temporary files in ``folder`` whose writer was killed mid-write (its pid is no
    longer running): results folders have no lock, so a live writer's file must survive.
    Returns how many were removed."""
    removed = 0
    for p in Path(folder).glob(".*.tmp"):
        match = re.search(rf"\.{TMP_PID}(\d+)\.[^.]*\.tmp$", p.name)
        if match and not _alive(int(match.group(1))):
            p.unlink(missing_ok=True)
            removed += 1
    return removed


def atomic_write(path: str | Path, write: Callable[[BinaryIO], object]) -> Path:
    """Call ``write(f)`` with a binary file open on a temporary file, then rename it to ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # the writer's pid in the name: remove_stale_tmp can tell a killed writer's leftover from a
    # live writer's file
    prefix = f".{path.name}.{TMP_PID}{os.getpid()}."
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=prefix, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            # mkstemp creates 0600; give the file the permissions a plain open() would have
            os.fchmod(f.fileno(), 0o666 & ~_umask())
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as exc:  # e.g. ENOSPC: name the destination, not the temporary file
        Path(tmp).unlink(missing_ok=True)
        raise OSError(exc.errno, exc.strerror or str(exc), str(path)) from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    return atomic_write(path, lambda f: f.write(data))


def atomic_write_text(path: str | Path, text: str) -> Path:
    return atomic_write_bytes(path, text.encode())


def check_writable_dir(path: str | Path, flag: str) -> None:
    """Fail before any work, creating nothing, when ``path`` cannot become a writable folder:
    it (or its nearest existing ancestor) is a file, or is not writable (e.g. a read-only
    file system, which stops root too)."""
    probe = Path(path).absolute()
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if not probe.is_dir():
        raise BenchError(f"{flag} {path}: {probe} is not a folder; give a writable folder")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise BenchError(f"{flag} {path}: {probe} is not writable; give a writable folder")
