"""Execute the missing runs of a plan, in-process or in N local processes (or as Ray tasks),
with progress bars; planning is benchmark/runs/planning.py, one job benchmark/runs/jobs.py."""

from __future__ import annotations

import multiprocessing as mp
import multiprocessing.managers
import os
import queue as queue_mod
import signal
import sys
import time
from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path

from tqdm.auto import tqdm

from ..errors import BenchError
from ..store.runstore import RunStore
from ..store.spec import RunSpec
from ..training.runtime import Runtime
from .jobs import execute_job, threads_per_worker
from .planning import longest_first, plan_jobs
from .reevaluate import complete_evaluations


class _DirectSink:
    """Queue-like progress sink for in-process runs: updates the bars directly."""

    def __init__(self, bars: _Bars):
        self.bars = bars

    def put(self, item: tuple[str, int, int]) -> None:
        self.bars.update(*item)


@dataclass
class _Bars:
    """One overall bar (generator steps over all runs) plus one bar per run in flight, each with
    its step, steps/s and ETA (tqdm). Where stderr is not a terminal (a log file under nohup),
    one plain line per run at every tenth of its steps instead: bars would be unreadable there."""

    total: int
    enabled: bool

    def __post_init__(self):
        self.lines = self.enabled and not sys.stderr.isatty()
        bars = self.enabled and not self.lines
        self.overall = tqdm(
            total=self.total, desc="all runs", unit="step", position=0, disable=not bars
        )
        self.runs: dict[str, tuple[tqdm, int]] = {}
        self.free_slots: list[int] = []
        self.started: dict[str, tuple[float, int]] = {}

    def _line(self, label: str, done: int, total: int) -> None:
        now = time.monotonic()
        t0, first = self.started.setdefault(label, (now, done))
        tenth = max(1, total // 10)
        if done != total and (done == first or done // tenth == (done - 1) // tenth):
            return
        rate = (done - first) / max(now - t0, 1e-9)
        eta = (total - done) / rate if rate > 0 else float("nan")
        print(
            f"bench: {label}: step {done:,}/{total:,}, {rate:.1f} steps/s, ETA {_duration(eta)}",
            file=sys.stderr,
            flush=True,
        )

    def update(self, label: str, done: int, total: int) -> None:
        if self.lines:
            self._line(label, done, total)
            return
        if label not in self.runs:
            slot = self.free_slots.pop(0) if self.free_slots else len(self.runs) + 1
            bar = tqdm(
                total=total,
                desc=label,
                unit="step",
                position=slot,
                leave=False,
                disable=not self.enabled,
            )
            self.runs[label] = (bar, slot)
        bar, slot = self.runs[label]
        delta = done - bar.n
        bar.update(delta)
        self.overall.update(delta)
        if done >= total:
            bar.close()
            del self.runs[label]
            self.free_slots.append(slot)
            self.free_slots.sort()

    def close(self) -> None:
        for bar, _ in self.runs.values():
            bar.close()
        self.overall.close()


def _duration(seconds: float) -> str:
    if seconds != seconds:  # NaN: no rate yet
        return "unknown"
    m, s = divmod(int(round(seconds)), 60)
    h, m = divmod(m, 60)
    return f"{h}h{m:02d}m" if h else f"{m}m{s:02d}s"


EXECUTORS = ("local", "ray", "slurm")


def check_trainable(store: RunStore, todo: Sequence[RunSpec]) -> None:
    """Runs to train need a run store, not a `bench export` copy of finished runs."""
    if todo and store.holds_records:
        raise BenchError(
            f"--out {store.root} holds exported records (bench export), and {len(todo)} of these "
            f"runs are not among them (e.g. {todo[0].label}); nothing is trained into a "
            "records folder: give the run store that trains them, then export again"
        )


def execute(
    store: RunStore,
    specs: Sequence[RunSpec],
    workers: int = 1,
    progress: bool = True,
    data_root: str | None = None,
    executor: str = "local",
    address: str | None = None,
    runtime: Runtime | None = None,
    batch_models: int | None = None,
    slurm=None,
    wait: bool = True,
) -> dict[str, dict]:
    """Run every spec not yet finished; finished runs are skipped, never recomputed.

    ``executor``: "local" (in-process, or a pool of ``workers`` processes) or "ray" (one Ray
    task per job on the cluster at ``address``; None starts a local one). Each job gets
    ``cpu_count // workers`` torch threads either way, so both give the same numbers.
    ``batch_models`` K > 1: runs of one configuration are trained K at a time as one stacked
    model (``plan_jobs``); the others one at a time. "slurm": one job array (``slurm``: its
    ``SlurmOptions``); with ``wait`` False it submits and returns nothing."""
    if workers < 1:
        raise BenchError(f"--workers must be a positive integer; got {workers}")
    if batch_models is not None and batch_models < 1:
        raise BenchError(f"--batch-models must be a positive integer; got {batch_models}")
    if executor not in EXECUTORS:
        raise BenchError(f"unknown executor {executor!r}; valid: {', '.join(EXECUTORS)}")
    if address is not None and executor != "ray":
        raise BenchError("--address applies to --executor ray only")
    complete_evaluations(store, specs, data_root, runtime.device if runtime else "cpu")
    todo = [s for s in specs if not store.run_dir(s).finished]
    check_trainable(store, todo)
    jobs, notes = plan_jobs(store, todo, batch_models)
    if runtime is not None and runtime.amp and any(len(j) > 1 for j in jobs):
        notes.append("stacked runs train in float32 (bf16 autocast does not apply inside vmap)")
    for note in notes:
        print(f"bench: {note}", file=sys.stderr)
    bars = _Bars(total=sum(s.train.steps for s in todo), enabled=progress)
    results: dict[str, dict] = {}
    threads = threads_per_worker(workers)
    try:
        if executor == "slurm":
            from .slurm_executor import submit
            from .slurm_executor import wait as wait_for

            if jobs:
                submitted = submit(store, jobs, slurm, data_root, runtime)
                ids = sorted({j.job_id.split("_")[0] for j in submitted})
                print(
                    f"bench: submitted {len(jobs)} array tasks as Slurm job {', '.join(ids)} "
                    f"(logs: {Path(store.root) / '.slurm'})",
                    file=sys.stderr,
                )
                if wait:
                    results.update(wait_for(submitted, jobs, bars))
        elif executor == "ray":
            from .ray_executor import execute_ray

            if jobs:
                results.update(execute_ray(store, jobs, threads, bars, data_root, address, runtime))
        elif workers == 1 or len(jobs) <= 1:
            sink = _DirectSink(bars)
            for job in jobs:
                results.update(execute_job(job, str(store.root), threads, sink, data_root, runtime))
        else:
            jobs = longest_first(jobs)
            results.update(_execute_pool(store, jobs, workers, threads, bars, data_root, runtime))
    finally:
        bars.close()
    return results


def _child_init(parent: int) -> None:
    """Every helper process (pool worker, queue manager) dies with the parent and leaves Ctrl-C
    to it: SIGINT ignored (the parent stops the children, so no child prints a traceback) and,
    on Linux, SIGKILL when the parent dies (``PR_SET_PDEATHSIG``), so a kill -9 of ``bench``
    leaves no orphan still training and writing."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if sys.platform.startswith("linux"):
        import ctypes

        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL)
    if os.getppid() != parent:  # the parent died before the request took effect
        os._exit(1)


def _execute_pool(store, jobs, workers, threads, bars, data_root, runtime) -> dict[str, dict]:
    ctx = mp.get_context("spawn")
    results: dict[str, dict] = {}
    manager = mp.managers.SyncManager(ctx=ctx)
    # children start with SIGINT ignored (inherited through exec, so Python installs no
    # KeyboardInterrupt handler): a Ctrl-C while they import torch prints nothing from them
    sigint = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        manager.start(_child_init, (os.getpid(),))
        q = manager.Queue()
        pool = ProcessPoolExecutor(
            max_workers=workers,
            mp_context=ctx,
            initializer=_child_init,
            initargs=(os.getpid(),),
        )
        futures = [
            pool.submit(execute_job, job, str(store.root), threads, q, data_root, runtime)
            for job in jobs
        ]  # the pool spawns its workers here
    except BaseException:
        manager.shutdown()
        raise
    finally:
        signal.signal(signal.SIGINT, sigint)
    try:
        pending = set(futures)
        try:
            while pending:
                finished, pending = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
                _drain(q, bars)
                for fut in finished:
                    results.update(fut.result())
            _drain(q, bars)
        except BaseException:
            # Ctrl-C or a failed run: stop the workers now (a run killed mid-step resumes from
            # its checkpoint next time); waiting for them could take a whole run
            for fut in pending:
                fut.cancel()
            for proc in mp.active_children():
                proc.terminate()
            pool.shutdown(wait=True, cancel_futures=True)
            raise
        pool.shutdown(wait=True)
    finally:
        manager.shutdown()
    return results


def _drain(q, bars: _Bars) -> None:
    while True:
        try:
            label, done, total = q.get_nowait()
        except queue_mod.Empty:
            return
        bars.update(label, done, total)
