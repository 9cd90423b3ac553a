"""`bench perf`: the harness's speed measured against an honest reference in the same process,
as ratios.

The reference is the plain loop a competent user writes (``plain_loops.py``: the same nets,
optimisers and batch, the losses inline, nothing else), at 1 thread and at all threads, and
its best sequential layout on the machine (one process per core may beat one process with
all cores). Methods or protocols without a plain loop are timed against the generic loop
below (the methods' own loss functions, no run store) and the output says so. Harness and
reference alternate and the medians are compared, so drift hits both sides alike; each
repeat's own ratio is reported too, with a 95 % interval for their median.

``--batch-models K`` measures stacking: K seeds trained as one stacked model against the
same K seeds as K plain loops one after the other, and against a bare ``torch.func`` vmapped
loop of the K models (``plain_loops.vmapped_loop``), in one process, alternating, medians;
all count generator steps summed over models.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import statistics
import tempfile
import time

import torch

from ...baselines.base import Draws
from ..errors import BenchError
from ..store.runstore import RunStore
from ..suites import get_suite
from ..training.loop import train_bare, train_run
from ..training.methods import build_method
from ..training.runtime import resolve_device
from ..training.stacking import check_specs
from . import plain_loops
from .jobs import threads_per_worker
from .planning import plan
from .runner import execute


def bare_loop(
    spec,
    device: str = "cpu",
    data_root=None,
    compiled: bool = False,
    warmup: int = 0,
    around: contextlib.AbstractContextManager | None = None,
) -> float:
    """Train ``spec`` in a plain loop; returns the seconds of its steps after the first
    ``warmup`` (set-up excluded). ``compiled``: G and D through ``torch.compile`` (the warm-up
    steps pay for compiling). ``around`` is entered for the timed steps (a profiler, a FLOP
    counter)."""
    suite = get_suite(spec.suite).resolve(spec.suite_params)
    method = build_method(spec.method, spec.method_params, spec.train.steps)
    data = suite.training_set(spec.cls, data_root).to(device)
    nets = method.net_config()
    G, D = suite.build_nets(spec.seed, pack=method.pack, d_batchnorm=method.d_batchnorm, **nets)
    G, D = G.to(device), D.to(device)
    method.prepare(G, D)
    opt_g, opt_d = method.optimizers(G, D)
    rng = torch.Generator().manual_seed(spec.seed)
    if compiled:  # the optimisers hold the parameters; the compiled modules share them
        G, D = torch.compile(G), torch.compile(D)
    draw = Draws([rng], device)  # one model: the losses see (B, ...) batches, return scalars
    B = spec.train.batch_size * method.pack
    zdim = nets.get("noise_dim")
    t0, ctx = time.perf_counter(), contextlib.ExitStack()
    for step in range(spec.train.steps):
        if step == warmup:
            if torch.device(device).type == "cuda":
                torch.cuda.synchronize(device)
            ctx.enter_context(around or contextlib.nullcontext())
            t0 = time.perf_counter()
        drawn = []
        for _ in range(method.n_critic):
            real, idx = method.real_batch(data, B, rng)
            drawn.append(idx)
            with torch.no_grad():
                fake = method.fake_batch(G, suite.sample_noise(B, rng, zdim).to(device), rng)
            loss_d = method.d_loss(D, real, fake, step, draw)
            opt_d.zero_grad(set_to_none=True)
            loss_d.backward()
            opt_d.step()
            method.after_d_step(D)
        fake = method.fake_batch(G, suite.sample_noise(B, rng, zdim).to(device), rng)
        loss_g = method.g_loss(D, real, fake, step, draw)
        opt_g.zero_grad(set_to_none=True)
        loss_g.backward(inputs=list(G.parameters()))  # G's step: no gradient for D
        opt_g.step()
        method.observe(D, data, torch.cat(drawn), step + 1, rng)
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)
    seconds = time.perf_counter() - t0
    ctx.close()
    return seconds


def harness_loop(spec, run) -> float:
    """Train ``spec`` through the real harness loop (``train_run``: run store, curve logging,
    checkpoints, snapshots); returns the seconds per step of its steps 1 .. steps - 1. Set-up,
    the final step's snapshot and checkpoint and the final evaluation stay out, as they do in
    the reference: they are per-run costs (the first command's wall time counts them), not
    the per-step cost this ratio measures. Curve rows stay in, at ``spec``'s ``log_every``."""
    marks: dict[int, float] = {}
    train_run(spec, run, lambda done: marks.setdefault(done, time.perf_counter()))
    last = spec.train.steps - 1
    return (marks[last] - marks[min(marks)]) / (last - min(marks))


def _timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def _reference(spec):
    """The honest reference for ``spec``: the plain loop where one exists (``plain_loops``),
    else the generic loop above; and its name for the report."""
    try:
        suite = get_suite(spec.suite).resolve(spec.suite_params)
        plain_loops.check_plain(suite)
    except ValueError:
        suite = None
    if suite is not None and spec.method in plain_loops.PLAIN_METHODS:
        return lambda: plain_loops.plain_loop(spec), "plain loop (runs/plain_loops.py)"
    return (
        lambda: bare_loop(spec),
        "generic loop (the method's loss functions, no run store; no plain loop for this "
        "method or protocol)",
    )


def paired_ratios(ratios: list[float]) -> dict:
    """The harness/reference ratio of each repeat (the two timed back to back, so a slow
    minute of the machine hits both), their median and a distribution-free 95 % interval for
    that median (scipy's quantile test: order statistics, no assumption on the noise). A
    claim such as "at least 0.95" holds when the interval's low end does; the interval needs
    at least 6 repeats, and is None below that."""
    from scipy import stats

    med = statistics.median(ratios)
    ci = None
    if len(ratios) >= 6:
        low, high = stats.quantile_test(ratios, q=med, p=0.5).confidence_interval(0.95)
        ci = [round(float(low), 3), round(float(high), 3)]
    return {
        "paired_ratios": [round(x, 3) for x in ratios],
        "paired_ratio_median": round(med, 3),
        "paired_ratio_ci95": ci,
    }


def _thread_counts() -> list[int]:
    """1 thread, and every core this process may use: small nets are often faster on one."""
    return sorted({1, threads_per_worker(1)})


def run_perf(
    suite_name: str,
    method: str,
    steps: int = 200,
    repeats: int = 3,
    workers_check: bool = False,
    protocol: str | None = None,
) -> dict:
    """Harness loop vs the honest reference (medians of alternating repeats), at 1 thread and
    at all threads; and the best sequential throughput of the reference on this machine (one
    process with all threads, or one process per core with 1 thread each). With
    ``workers_check`` also 4 whole runs with 1 process vs 2. The harness runs without
    evaluation points (``n_evals = 0``): they are not training."""
    if steps < 3:
        raise BenchError(
            f"bench perf --steps {steps}: at least 3 (the timed steps are 1 .. steps - 1)"
        )
    options = {"protocol": protocol} if protocol else None
    # seed 0 (of the first class, on a per-class suite: every class has the same nets)
    spec = plan(suite_name, [method], [0], "default", suite_options=options)[0]
    suite = get_suite(suite_name).resolve(spec.suite_params)
    # a curve row at least every quarter of the timed steps: at least as often as a real run
    log_every = min(spec.train.log_every, max(1, steps // 4))
    train = dataclasses.replace(
        spec.train, steps=steps, n_snapshots=1, n_evals=0, log_every=log_every
    )
    spec = dataclasses.replace(spec, train=train)
    reference, ref_name = _reference(spec)
    by_threads = {}
    for threads in _thread_counts():
        torch.set_num_threads(threads)
        # warm-up: the first iterations of a process pay for allocator and kernel set-up
        bare_loop(dataclasses.replace(spec, train=dataclasses.replace(train, steps=10)))
        reference()
        harness_t, bare_t = [], []
        for i in range(repeats):
            with tempfile.TemporaryDirectory() as tmp:
                run = RunStore(tmp).run_dir(dataclasses.replace(spec, seed=i))
                run.write_config(spec)
                harness_t.append(harness_loop(spec, run))
            bare_t.append(reference())
        h, r = 1 / statistics.median(harness_t), steps / statistics.median(bare_t)
        by_threads[threads] = {
            "harness_gen_steps_per_s": round(h, 2),
            "bare_loop_gen_steps_per_s": round(r, 2),
            "harness_vs_bare_ratio": round(h / r, 3),
            **paired_ratios([b / (steps * t) for t, b in zip(harness_t, bare_t, strict=True)]),
        }
    torch.set_num_threads(threads_per_worker(1))
    main = by_threads[threads_per_worker(1)]
    result = {
        "suite": suite_name,
        "protocol": spec.suite_params.get("protocol"),
        "method": method,
        "sizes": {
            **suite.net_sizes(),
            "batch_size": train.batch_size,
            "critic_steps": build_method(method, spec.method_params, steps).n_critic,
            "generator_steps_per_run": steps,
        },
        "cpu_count": os.cpu_count(),
        "reference": ref_name,
        **main,
        "by_threads": by_threads,
    }
    if ref_name.startswith("plain") and threads_per_worker(1) > 1:
        result["best_sequential"] = best_sequential(spec, by_threads)
    if not workers_check:
        return result
    # workers: the same 4 independent runs with 1 process (all cores) vs 2 processes (half each)
    n_runs = 4
    wspecs = [dataclasses.replace(spec, seed=s) for s in range(n_runs)]
    walls = {}
    for workers in (1, 2):
        with tempfile.TemporaryDirectory() as tmp:
            walls[workers] = _timed(
                lambda tmp=tmp, w=workers: execute(RunStore(tmp), wspecs, workers=w, progress=False)
            )
    return {
        **result,
        "workers_runs": n_runs,
        "workers1_gen_steps_per_s": round(n_runs * steps / walls[1], 2),
        "workers2_gen_steps_per_s": round(n_runs * steps / walls[2], 2),
        "workers2_vs_workers1_ratio": round(walls[1] / walls[2], 3),
    }


def _plain_in_process(spec, barrier, queue) -> None:
    torch.set_num_threads(1)
    plain_loops.plain_loop(spec, steps=10)  # warm-up
    barrier.wait()  # every process times the same stretch of wall time
    queue.put(spec.train.steps / plain_loops.plain_loop(spec))


def best_sequential(spec, by_threads: dict) -> dict:
    """The plain loop's throughput (generator steps/s, all models together) in the layouts a
    user can choose without stacking: 1 process at each thread count (``by_threads``), and one
    process per core at 1 thread each, started together."""
    from .perf_layout import together

    procs = threads_per_worker(1)
    rates = together(_plain_in_process, [(spec,)] * procs)
    layouts = {
        f"1 process x {t} threads": v["bare_loop_gen_steps_per_s"] for t, v in by_threads.items()
    }
    layouts[f"{procs} processes x 1 thread"] = round(sum(rates), 2)
    best = max(layouts, key=layouts.get)
    return {"layouts": layouts, "best": best, "best_gen_steps_per_s": layouts[best]}


def _stack_specs(
    suite_name: str, method: str, k: int, data_root=None, protocol: str | None = None
) -> list:
    """K runs of the default preset: seeds 0..K-1, or on a per-class suite its classes first
    (seed 0 of every class, then seed 1, ...): the models a paper run trains side by side.
    A toy suite's runs are its ``protocol``'s (default: the default protocol's)."""
    suite = get_suite(suite_name)
    if not suite.per_class:
        options = {"protocol": protocol} if protocol else None
        return plan(suite_name, [method], list(range(k)), "default", suite_options=options)
    n = len(suite.classes(data_root))
    specs = plan(suite_name, [method], list(range(-(-k // n))), "default", data_root=data_root)
    return sorted(specs, key=lambda s: s.seed)[:k]


def run_perf_stacked(
    suite_name: str,
    method: str,
    batch_models: int,
    steps: int = 200,
    repeats: int = 3,
    device: str | None = "cpu",
    threads: int | None = None,
    data_root=None,
    protocol: str | None = None,
) -> dict:
    """K stacked models vs K sequential bare loops: generator steps/s summed over the models.
    ``threads``: torch CPU threads (default: all cores, as ``run_perf``); ``protocol``: a toy
    suite's protocol, whose nets and batch are timed."""
    dev = resolve_device(device)
    base = _stack_specs(suite_name, method, batch_models, data_root, protocol)
    train = dataclasses.replace(base[0].train, steps=steps, n_snapshots=1)
    specs = [dataclasses.replace(s, train=train) for s in base]
    check_specs(specs)  # an unsupported method fails before any timing
    torch.set_num_threads(threads or threads_per_worker(1))

    references = [_reference(s) for s in specs]
    ref_name = references[0][1]

    def sequential(refs=references) -> None:
        for run, _ in refs:
            run()

    def stacked(specs=specs) -> None:
        train_bare(specs, dev, eval_samples=False, data_root=data_root)

    vmapped = None
    if ref_name.startswith("plain") and method in ("gan", "wgan") and dev == "cpu":

        def vmapped(specs=specs) -> None:
            plain_loops.vmapped_loop(specs, dev)

    # warm-up every path (allocator, kernel selection, vmap tracing caches)
    short = [dataclasses.replace(s, train=dataclasses.replace(train, steps=3)) for s in specs]
    sequential([_reference(s) for s in short])
    stacked(short)
    if vmapped is not None:
        plain_loops.vmapped_loop(short, dev)
    stacked_t, sequential_t, vmapped_t = [], [], []
    for _ in range(repeats):
        stacked_t.append(_timed(stacked))
        sequential_t.append(_timed(sequential))
        if vmapped is not None:
            vmapped_t.append(_timed(vmapped))
    total = batch_models * steps
    stacked_sps = total / statistics.median(stacked_t)
    sequential_sps = total / statistics.median(sequential_t)
    result = {
        "suite": suite_name,
        "method": method,
        "device": dev,
        "cpu_count": os.cpu_count(),
        "threads": torch.get_num_threads(),
        "batch_models": batch_models,
        "models": [s.label for s in specs],
        "generator_steps_per_model": steps,
        "batch_size": train.batch_size,
        "protocol": specs[0].suite_params.get("protocol"),
        "repeats": repeats,
        "reference": ref_name,
        "stacked_steps_per_s": round(stacked_sps, 2),
        "sequential_steps_per_s": round(sequential_sps, 2),
        "stacked_over_sequential": round(stacked_sps / sequential_sps, 3),
    }
    if vmapped_t:
        vmapped_sps = total / statistics.median(vmapped_t)
        result["vmapped_reference_steps_per_s"] = round(vmapped_sps, 2)
        result["stacked_over_vmapped"] = round(stacked_sps / vmapped_sps, 3)
    return result
