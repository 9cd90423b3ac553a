"""One writer per run: an exclusive ``flock`` on the run directory's lock file, holding the
holder's pid so a waiting process can say whom it waits for. The OS drops the lock when its
holder dies, so a stale file never blocks (tests/test_reliability.py)."""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Callable, Iterator
from pathlib import Path


@contextlib.contextmanager
def run_lock(lock: Path, note: Callable[[str], None] | None = None) -> Iterator[None]:
    """flock on the file ``lock`` (a run directory's ``.lock``), removed again on release so
    a run directory holds no trace of who trained it. Removing a lock file races with a process
    that opened it and waits: after acquiring, a waiter checks that the file it locked is still
    the one at the path, else retries on the new one."""
    lock.parent.mkdir(parents=True, exist_ok=True)
    told = False
    while True:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if note and not told:
                holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
                who = f"another process (pid {holder})"
                note(f"{lock.parent} is being trained by {who}; waiting for it")
                told = True
            fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            same = os.path.samestat(os.fstat(fd), os.stat(lock))
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)  # the holder removed that file on release: lock the current one
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        yield
    finally:
        lock.unlink(missing_ok=True)  # while still held: no waiter can think it holds it
        os.close(fd)
