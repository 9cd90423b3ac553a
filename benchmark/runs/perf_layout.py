"""`bench perf --layout`: the layout `bench run` chooses for N runs, against the best a user
gets from the plain loop on this machine without any harness: one process per core at one
thread each, the runs shared out among them.

Both sides train the same N runs (seeds 0 .. N-1 of one method) for the same steps, their
processes started together behind a barrier after a warm-up; each side's wall time is its
slowest process's. The harness side trains exactly the jobs ``plan_jobs`` makes under the
layout ``choose_layout`` picks for the command at its full budget (stacked or one run at a
time), through ``train_bare`` (the loop without run store or evaluation: those are per-run
costs, not throughput). Throughput is generator steps per second summed over the N runs.
"""

from __future__ import annotations

import dataclasses
import multiprocessing as mp
import os
import queue as queue_mod
import tempfile
import time

import torch

from ..errors import BenchError
from ..store.runstore import RunStore
from ..suites import get_suite
from ..training.loop import train_bare
from . import plain_loops
from .jobs import threads_per_worker
from .layout import choose_layout
from .planning import plan, plan_jobs


def _share(jobs: list[list], workers: int) -> list[list[list]]:
    """Jobs dealt to ``workers`` processes, largest first to the least loaded (as the runner's
    longest-first order over a pool)."""
    loads: list[list[list]] = [[] for _ in range(workers)]
    for job in sorted(jobs, key=len, reverse=True):
        min(loads, key=lambda a: sum(len(j) for j in a)).append(job)
    return [a for a in loads if a]


def together(target, arg_lists: list[tuple]) -> list:
    """Run ``target(*args, barrier, queue)`` in one spawned process per ``args``, all timing
    the same stretch of wall time (each waits at ``barrier`` after its warm-up and puts one
    result on ``queue``); returns the results. A process that dies is a one-line error, not
    a wait on a result that never comes."""
    ctx = mp.get_context("spawn")
    barrier, queue = ctx.Barrier(len(arg_lists)), ctx.Queue()
    procs = [ctx.Process(target=target, args=(*args, barrier, queue)) for args in arg_lists]
    for p in procs:
        p.start()
    results: list = []
    while len(results) < len(procs):
        try:
            results.append(queue.get(timeout=1.0))
        except queue_mod.Empty:
            dead = [p.exitcode for p in procs if p.exitcode not in (None, 0)]
            if dead:
                for p in procs:
                    p.kill()
                raise BenchError(
                    f"bench perf: a timed process exited with code {dead[0]}"
                ) from None
    for p in procs:
        p.join()
    return results


def _process(side: str, jobs: list[list], threads: int, barrier, queue) -> None:
    torch.set_num_threads(threads)

    def train(job: list) -> None:
        if side == "harness":
            train_bare(job, "cpu", eval_samples=False)
        else:
            for spec in job:
                plain_loops.plain_loop(spec)

    first = jobs[0][0]  # warm-up: allocator and kernel set-up, outside the timed stretch
    train([dataclasses.replace(first, train=dataclasses.replace(first.train, steps=3))])
    barrier.wait()
    t0 = time.perf_counter()
    for job in jobs:
        train(job)
    queue.put(time.perf_counter() - t0)


def _wall(side: str, shares: list[list[list]], threads: int) -> float:
    """The slowest process's seconds, one process per share of the jobs."""
    return max(together(_process, [(side, share, threads) for share in shares]))


def run_perf_layout(
    suite_name: str, method: str, runs: int, steps: int, protocol: str | None = None
) -> dict:
    """Harness in its chosen layout vs plain loops in one 1-thread process per core."""
    if method not in plain_loops.PLAIN_METHODS:
        raise BenchError(
            f"bench perf --layout: no plain loop for {method}; valid: "
            f"{', '.join(plain_loops.PLAIN_METHODS)}"
        )
    options = {"protocol": protocol} if protocol else None
    full = plan(suite_name, [method], list(range(runs)), "default", suite_options=options)
    full = [s for s in full if s.cls == full[0].cls]  # per-class suites: the first class's seeds
    try:
        plain_loops.check_plain(get_suite(suite_name).resolve(full[0].suite_params))
    except ValueError as exc:
        raise BenchError(f"bench perf --layout: {exc}") from None
    layout = choose_layout(full, "cpu")  # the command's layout, at its full budget
    specs = [
        dataclasses.replace(s, train=dataclasses.replace(s.train, steps=steps, n_snapshots=1))
        for s in full
    ]
    with tempfile.TemporaryDirectory() as tmp:
        jobs, _ = plan_jobs(RunStore(tmp), specs, layout.batch_models)
    cores = threads_per_worker(1)
    harness = _wall("harness", _share(jobs, layout.workers), threads_per_worker(layout.workers))
    plain = _wall("plain", _share([[s] for s in specs], cores), 1)
    total = runs * steps
    return {
        "suite": suite_name,
        "method": method,
        "protocol": full[0].suite_params.get("protocol"),
        "cpu_count": os.cpu_count(),
        "runs": runs,
        "generator_steps_per_run": steps,
        "harness_layout": layout.why,
        "harness_jobs": [len(j) for j in jobs],
        "reference_layout": f"plain loop, {cores} process{'es' if cores > 1 else ''} x 1 thread",
        "harness_gen_steps_per_s": round(total / harness, 2),
        "reference_gen_steps_per_s": round(total / plain, 2),
        "layout_vs_reference_ratio": round(plain / harness, 3),
    }
