"""Execute one job (a run, or runs trained as one stacked model) under the run's lock, with its
share of the cores: the unit both the local process pool and Ray tasks run."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Sequence
from pathlib import Path

import torch

from ..errors import BenchError
from ..store.runstore import RunStore
from ..store.spec import RunSpec
from ..training.loop import train_run
from ..training.runtime import Runtime


def threads_per_worker(workers: int) -> int:
    """The cores this process may use (its affinity: ``taskset`` and cgroup cpusets count),
    shared among ``workers``."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return max(1, cores // workers)


def _execute(
    spec: RunSpec,
    root: str,
    threads: int,
    progress_queue=None,
    data_root: str | None = None,
    runtime: Runtime | None = None,
) -> dict:
    """Run one spec (in a worker process, a Ray task or in-process) with its share of the
    cores."""
    torch.set_num_threads(threads)
    run = RunStore(root).run_dir(spec)
    every = max(1, spec.train.steps // 200)

    def report(done: int) -> None:
        if progress_queue is not None and (done % every == 0 or done == spec.train.steps):
            progress_queue.put((spec.label, done, spec.train.steps))

    with _untrained_removed([run], root):
        with run.lock(_note):
            if run.finished:  # another process trained it while this one waited
                _note(f"{spec.label}: finished by another process; not trained again")
                report(spec.train.steps)
                return run.read_metrics()
            run.remove_leftovers()
            run.write_config(spec)
            try:
                return train_run(spec, run, report, data_root, runtime)
            except BenchError:
                run.discard_if_untrained()
                raise


@contextlib.contextmanager
def _untrained_removed(runs, root: str):
    """A refusal before any training leaves nothing in the store: once the runs' locks are
    released, their emptied folders (and empty parents) go too."""
    try:
        yield
    except BenchError:
        for run in runs:
            run.remove_if_empty(Path(root))
        raise


def _note(line: str) -> None:
    print(f"bench: {line}", file=sys.stderr, flush=True)


def execute_job(
    job: Sequence[RunSpec],
    root: str,
    threads: int,
    progress_queue=None,
    data_root: str | None = None,
    runtime: Runtime | None = None,
) -> dict[str, dict]:
    """Run one job: a single run, or several trained as one
    stacked model (benchmark/training/loop.py).
    Returns {label: metrics}."""
    if len(job) == 1:
        return {job[0].label: _execute(job[0], root, threads, progress_queue, data_root, runtime)}
    torch.set_num_threads(threads)
    store = RunStore(root)
    with _untrained_removed([store.run_dir(s) for s in job], root), contextlib.ExitStack() as locks:
        # sorted: two processes lock overlapping jobs in one order, so they cannot deadlock
        for spec in sorted(job, key=lambda s: str(store.run_dir(s).path)):
            locks.enter_context(store.run_dir(spec).lock(_note))
        out: dict[str, dict] = {}
        todo = []
        for spec in job:
            run = store.run_dir(spec)
            if run.finished:  # another process trained it while this one waited
                _note(f"{spec.label}: finished by another process; not trained again")
                out[spec.label] = run.read_metrics()
            else:
                run.remove_leftovers()
                run.write_config(spec)
                todo.append(spec)
        # settle staged checkpoints, then stack only runs that resume from one step
        by_step: dict[int, list[RunSpec]] = {}
        for spec in todo:
            state = store.run_dir(spec).load_checkpoint(recover=True)
            by_step.setdefault(0 if state is None else state["step"], []).append(spec)
        try:
            for group in by_step.values():
                if len(group) == 1:
                    out.update(_train_one(group[0], store, progress_queue, data_root, runtime))
                else:
                    out.update(_train_stacked(group, store, progress_queue, data_root, runtime))
        except BenchError:
            for spec in todo:
                store.run_dir(spec).discard_if_untrained()
            raise
    return out


def _train_one(spec, store, progress_queue, data_root, runtime) -> dict[str, dict]:
    every = max(1, spec.train.steps // 200)

    def report(done: int) -> None:
        if progress_queue is not None and (done % every == 0 or done == spec.train.steps):
            progress_queue.put((spec.label, done, spec.train.steps))

    return {spec.label: train_run(spec, store.run_dir(spec), report, data_root, runtime)}


def _train_stacked(job, store, progress_queue, data_root, runtime) -> dict[str, dict]:
    from ..training.loop import train_runs

    runs = [store.run_dir(s) for s in job]
    steps, k = job[0].train.steps, len(job)
    every = max(1, steps // 200)
    # one progress bar for the whole stacked job (K runs advance together)
    label = f"{job[0].label} +{k - 1} stacked"

    def report(done: int) -> None:
        if progress_queue is not None and (done % every == 0 or done == steps):
            progress_queue.put((label, done * k, steps * k))

    metrics = train_runs(job, runs, report, data_root, runtime)
    return {s.label: m for s, m in zip(job, metrics, strict=True)}
