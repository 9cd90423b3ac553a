"""Plan the runs of a suite and execute the missing ones, in-process or in N local processes."""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import multiprocessing.managers
import os
import queue as queue_mod
import signal
import sys
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass
from typing import Any

import torch
from tqdm.auto import tqdm

from .config import RunSpec
from .errors import BenchError
from .methods import method_params
from .reevaluate import complete_evaluations
from .runtime import Runtime
from .store import RunStore
from .suites import get_suite
from .train import train_run

#: per-method parameter overrides, {method: {param: value}} (methods.parse_method_options)
MethodOptions = Mapping[str, Mapping[str, Any]]


def plan(
    suite_name: str,
    methods: Sequence[str],
    seeds: Sequence[int],
    preset: str,
    classes: Sequence[str | None] | None = None,
    suite_options: Mapping[str, Any] | None = None,
    data_root: str | None = None,
    method_options: MethodOptions | None = None,
) -> list[RunSpec]:
    """One spec per (method, class, seed). ``classes`` (per-class suites): None means every
    class (CIFAR-10's names are read from the data); ``suite_options``: e.g.
    ``{"arch": "resnet"}`` for image suites; ``method_options``: {method: {param: value}} over
    the suite's method defaults (``bench --set``)."""
    suite = _suite(suite_name, preset, suite_options)
    if classes is None:
        classes = suite.classes(data_root) if suite.per_class else (None,)
    elif not suite.per_class:
        raise BenchError(f"--classes applies to per-class suites only; {suite_name} is not one")
    else:
        valid = suite.classes(data_root)
        bad = [c for c in classes if c not in valid]
        if bad:
            raise BenchError(f"unknown class(es) {bad} for {suite_name}; valid: {', '.join(valid)}")
    return _specs(suite, methods, seeds, preset, classes, method_options)


def config_hashes(
    suite_name: str,
    methods: Sequence[str],
    preset: str,
    suite_options: Mapping[str, Any] | None = None,
    method_options: MethodOptions | None = None,
) -> set[tuple[str, str]]:
    """(method, config hash) of the current configuration: what a table may aggregate. The hash
    leaves out seed and class, so no data need be read to compute it."""
    suite = _suite(suite_name, preset, suite_options)
    return {
        (s.method, s.config_hash())
        for s in _specs(suite, methods, [0], preset, [None], method_options)
    }


def _suite(suite_name: str, preset: str, suite_options: Mapping[str, Any] | None):
    """The suite with the user's options applied, after checking the preset exists."""
    suite = get_suite(suite_name).with_overrides(suite_options or {})
    if preset not in suite.presets:
        raise BenchError(
            f"unknown preset {preset!r} for suite {suite_name}; valid presets: "
            f"{', '.join(suite.presets)}"
        )
    return suite


def _specs(suite, methods, seeds, preset, classes, method_options=None) -> list[RunSpec]:
    train = suite.presets[preset]
    opts = method_options or {}
    return [
        RunSpec(
            suite=suite.name,
            method=m,
            seed=s,
            preset=preset,
            train=train,
            method_params=method_params(m, {**defaults_for(suite, m), **opts.get(m, {})}),
            suite_params=suite.params(preset),
            cls=c,
        )
        for m in methods
        for c in classes
        for s in seeds
    ]


def defaults_for(suite, method: str) -> dict[str, Any]:
    """The suite's (protocol's) parameter defaults for ``method``: its "*" entry (every method
    that has the parameter) overridden by the method's own entry."""
    table = suite.method_defaults
    return {**table.get("*", {}), **table.get(method, {})}


def threads_per_worker(workers: int) -> int:
    """The cores this process may use (its affinity: ``taskset`` and cgroup cpusets count),
    shared among ``workers``."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return max(1, cores // workers)


class _DirectSink:
    """Queue-like progress sink for in-process runs: updates the bars directly."""

    def __init__(self, bars: _Bars):
        self.bars = bars

    def put(self, item: tuple[str, int, int]) -> None:
        self.bars.update(*item)


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

    with run.lock(_note):
        if run.finished:  # another process trained it while this one waited
            _note(f"{spec.label}: finished by another process; not trained again")
            report(spec.train.steps)
            return run.read_metrics()
        run.remove_leftovers()
        run.write_config(spec)
        return train_run(spec, run, report, data_root, runtime)


def _note(line: str) -> None:
    print(f"bench: {line}", file=sys.stderr, flush=True)


def _execute_job(
    job: Sequence[RunSpec],
    root: str,
    threads: int,
    progress_queue=None,
    data_root: str | None = None,
    runtime: Runtime | None = None,
) -> dict[str, dict]:
    """Run one job: a single run, or several trained as one stacked model (benchmark/stacked.py).
    Returns {label: metrics}."""
    if len(job) == 1:
        return {job[0].label: _execute(job[0], root, threads, progress_queue, data_root, runtime)}
    torch.set_num_threads(threads)
    store = RunStore(root)
    with contextlib.ExitStack() as locks:
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
        for group in by_step.values():
            if len(group) == 1:
                out.update(_train_one(group[0], store, progress_queue, data_root, runtime))
            else:
                out.update(_train_stacked(group, store, progress_queue, data_root, runtime))
    return out


def _train_one(spec, store, progress_queue, data_root, runtime) -> dict[str, dict]:
    every = max(1, spec.train.steps // 200)

    def report(done: int) -> None:
        if progress_queue is not None and (done % every == 0 or done == spec.train.steps):
            progress_queue.put((spec.label, done, spec.train.steps))

    return {spec.label: train_run(spec, store.run_dir(spec), report, data_root, runtime)}


def _train_stacked(job, store, progress_queue, data_root, runtime) -> dict[str, dict]:
    from .stacked import train_stacked_runs

    runs = [store.run_dir(s) for s in job]
    steps, k = job[0].train.steps, len(job)
    every = max(1, steps // 200)
    # one progress bar for the whole stacked job (K runs advance together)
    label = f"{job[0].label} +{k - 1} stacked"

    def report(done: int) -> None:
        if progress_queue is not None and (done % every == 0 or done == steps):
            progress_queue.put((label, done * k, steps * k))

    metrics = train_stacked_runs(job, runs, [report], data_root, runtime)
    return {s.label: m for s, m in zip(job, metrics, strict=True)}


def plan_jobs(
    store: RunStore, todo: Sequence[RunSpec], batch_models: int | None
) -> tuple[list[list[RunSpec]], list[str]]:
    """Group ``todo`` into jobs of at most ``batch_models`` runs trained stacked: runs of one
    configuration (suite, method, parameters) that resume from the same step. Runs a stacked
    model cannot train go alone; the second value says which and why, once per method."""
    if not batch_models or batch_models == 1:
        return [[s] for s in todo], []
    from .stacked import checkpoint_step, unstackable

    groups: dict[tuple, list[RunSpec]] = {}
    singles: list[list[RunSpec]] = []
    notes: dict[str, str] = {}
    for s in todo:
        reason = unstackable(s)
        if reason:
            singles.append([s])
            notes.setdefault(s.method, f"{s.method}: trained one run at a time ({reason})")
            continue
        key = (s.suite, s.method, s.config_hash(), checkpoint_step(store.run_dir(s)))
        groups.setdefault(key, []).append(s)
    jobs = [
        g[i : i + batch_models] for g in groups.values() for i in range(0, len(g), batch_models)
    ]
    return jobs + singles, list(notes.values())


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
        self.done_all = 0

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


EXECUTORS = ("local", "ray")


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
) -> dict[str, dict]:
    """Run every spec not yet finished; finished runs are skipped, never recomputed.

    ``executor``: "local" (in-process, or a pool of ``workers`` processes) or "ray" (one Ray
    task per job on the cluster at ``address``; None starts a local one). Each job gets
    ``cpu_count // workers`` torch threads either way, so both give the same numbers.
    ``batch_models`` K > 1: runs of one configuration are trained K at a time as one stacked
    model (``plan_jobs``); the others one at a time."""
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
    jobs, notes = plan_jobs(store, todo, batch_models)
    if runtime is not None and runtime.amp and any(len(j) > 1 for j in jobs):
        notes.append("stacked runs train in float32 (bf16 autocast does not apply inside vmap)")
    for note in notes:
        print(f"bench: {note}", file=sys.stderr)
    bars = _Bars(total=sum(s.train.steps for s in todo), enabled=progress)
    results: dict[str, dict] = {}
    threads = threads_per_worker(workers)
    try:
        if executor == "ray":
            from .ray_executor import execute_ray

            if jobs:
                results.update(execute_ray(store, jobs, threads, bars, data_root, address, runtime))
        elif workers == 1 or len(jobs) <= 1:
            sink = _DirectSink(bars)
            for job in jobs:
                results.update(
                    _execute_job(job, str(store.root), threads, sink, data_root, runtime)
                )
        else:
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
            pool.submit(_execute_job, job, str(store.root), threads, q, data_root, runtime)
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
