"""`bench perf --executor ray`: the same runs through the local pool and through Ray, as a ratio."""

from __future__ import annotations

import dataclasses
import os
import statistics
import tempfile

from ..store.runstore import RunStore
from ..suites import get_suite
from .jobs import threads_per_worker
from .perf import _timed
from .planning import plan
from .runner import execute


def run_perf_executor(
    suite_name: str,
    method: str,
    runs: int = 4,
    steps: int = 200,
    repeats: int = 3,
    workers: int | None = None,
    address: str | None = None,
) -> dict:
    """The same ``runs`` independent runs through ``--executor local`` and ``--executor ray`` on
    this machine, alternating, medians compared: what Ray's scheduling and task transport cost.

    Ray is connected (and its workers warmed by one untimed run) before timing: starting a
    cluster is a one-off, not a per-run cost. Both executors use ``workers`` parallel runs
    (default: one per core) with the same threads each, so the training work is identical.
    """
    from .ray_executor import connect, import_ray

    workers = workers or (os.cpu_count() or 1)
    suite = get_suite(suite_name)
    train = dataclasses.replace(suite.presets["default"], steps=steps, n_snapshots=1)
    specs = [
        dataclasses.replace(s, train=train)
        for s in plan(suite_name, [method], list(range(runs)), "default")
    ]
    ray = import_ray()
    started = connect(ray, address)
    try:

        def once(executor: str, todo) -> float:
            with tempfile.TemporaryDirectory() as tmp:
                return _timed(
                    lambda: execute(
                        RunStore(tmp),
                        todo,
                        workers=workers,
                        progress=False,
                        executor=executor,
                        address=address,
                    )
                )

        warm = [dataclasses.replace(specs[0], train=dataclasses.replace(train, steps=5))]
        once("ray", warm)
        local_t, ray_t = [], []
        for _ in range(repeats):
            local_t.append(once("local", specs))
            ray_t.append(once("ray", specs))
    finally:
        if started:
            ray.shutdown()
    local_sps = runs * steps / statistics.median(local_t)
    ray_sps = runs * steps / statistics.median(ray_t)
    return {
        "suite": suite_name,
        "method": method,
        "cpu_count": os.cpu_count(),
        "runs": runs,
        "workers": workers,
        "threads_per_run": threads_per_worker(workers),
        "generator_steps_per_run": steps,
        "repeats": repeats,
        "local_gen_steps_per_s": round(local_sps, 2),
        "ray_gen_steps_per_s": round(ray_sps, 2),
        "ray_vs_local_ratio": round(ray_sps / local_sps, 3),
    }
