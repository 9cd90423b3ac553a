"""`bench perf --profile`: where one training step's time goes, and how close it comes to the
machine's arithmetic rate.

Four measurements of the same bare loop (``perf.bare_loop``: the protocol's nets, optimiser,
batch and losses, no harness), in one process:

* FLOPs per generator step, counted by ``torch.utils.flop_counter.FlopCounterMode`` over one
  step (every matmul of D's and G's forward and backward passes), not worked out by hand;
* the eager step time, and what the step's FLOPs per second are as a fraction of the
  machine's measured float32 matmul rate (a large square ``torch.mm``, same thread count): a
  small-batch MLP step cannot reach it, and the fraction says by how much;
* the top operators by self CPU time under ``torch.profiler`` (what to optimise);
* the same loop with G and D through ``torch.compile``, as a ratio to eager (or the reason it
  could not be compiled here). Compilation is paid in the warm-up steps, outside the timing.
"""

from __future__ import annotations

import dataclasses
import statistics
import time

import torch
from torch.utils.flop_counter import FlopCounterMode

from .perf import bare_loop
from .planning import plan


def matmul_rate(n: int = 1024, repeats: int = 10) -> float:
    """The machine's float32 matmul rate in FLOP/s: the best of ``repeats`` n x n products."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    torch.mm(a, b)  # warm-up
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        torch.mm(a, b)
        best = min(best, time.perf_counter() - t0)
    return 2 * n**3 / best


def flops_per_step(spec) -> int:
    counter = FlopCounterMode(display=False)
    bare_loop(dataclasses.replace(spec, train=dataclasses.replace(spec.train, steps=2)), warmup=1,
              around=counter)  # fmt: skip
    return int(counter.get_total_flops())


def top_operators(spec, steps: int, top: int = 8) -> list[dict]:
    """Operators by self CPU time over ``steps`` eager steps, as shares of the profiled total."""
    prof = torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU])
    train = dataclasses.replace(spec.train, steps=steps + 5)
    bare_loop(dataclasses.replace(spec, train=train), warmup=5, around=prof)
    events = prof.key_averages()
    total = sum(e.self_cpu_time_total for e in events) or 1.0
    rows = sorted(events, key=lambda e: e.self_cpu_time_total, reverse=True)[:top]
    return [
        {"op": e.key, "share": round(e.self_cpu_time_total / total, 3), "calls": e.count}
        for e in rows
    ]


def step_seconds(spec, steps: int, repeats: int, compiled: bool = False) -> float:
    """Median seconds per step of the bare loop (20 warm-up steps untimed)."""
    train = dataclasses.replace(spec.train, steps=steps + 20)
    s = dataclasses.replace(spec, train=train)
    return statistics.median(bare_loop(s, compiled=compiled, warmup=20) / steps
                             for _ in range(repeats))  # fmt: skip


def step_profile(
    suite_name: str,
    method: str,
    protocol: str | None = None,
    steps: int = 200,
    repeats: int = 3,
    try_compile: bool = True,
) -> dict:
    options = {"protocol": protocol} if protocol else None
    spec = plan(suite_name, [method], [0], "default", suite_options=options)[0]  # first class
    flops = flops_per_step(spec)
    rate = matmul_rate()
    eager = step_seconds(spec, steps, repeats)
    result = {
        "suite": suite_name,
        "protocol": spec.suite_params.get("protocol"),
        "method": method,
        "batch_size": spec.train.batch_size,
        "threads": torch.get_num_threads(),
        "flops_per_step": flops,
        "eager_step_ms": round(1000 * eager, 3),
        "eager_gflops_per_s": round(flops / eager / 1e9, 3),
        "machine_matmul_gflops_per_s": round(rate / 1e9, 2),
        "fraction_of_matmul_rate": round(flops / eager / rate, 4),
        "top_operators": top_operators(spec, min(steps, 50)),
    }
    if try_compile:
        try:
            compiled = step_seconds(spec, steps, repeats, compiled=True)
        except Exception as exc:  # inductor needs a C++ toolchain; say why, do not fail
            result["compiled"] = f"unavailable: {type(exc).__name__}: {str(exc)[:200]}"
        else:
            result["compiled_step_ms"] = round(1000 * compiled, 3)
            result["compiled_speedup"] = round(eager / compiled, 3)
    return result
