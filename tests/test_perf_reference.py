"""`bench perf`'s references are honest: the plain loop trains exactly the harness's algorithm
(same weights after the same steps), and its timed steps run nothing but that algorithm."""

from __future__ import annotations

import dataclasses
import os
import sys
from collections import Counter
from pathlib import Path

import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

from collapsebench.benchmark.runs import plain_loops
from collapsebench.benchmark.runs.layout import STACK_FROM, choose_layout
from collapsebench.benchmark.runs.planning import plan
from collapsebench.benchmark.training.loop import Trainer, train_bare
from collapsebench.benchmark.training.runtime import Runtime

#: the project's source tree (benchmark/, baselines/, metrics/ side by side)
PROJECT = str(Path(plain_loops.__file__).resolve().parents[2])


def _spec(method: str, steps: int, seeds=(0,), suite: str = "gaussians25"):
    specs = plan(suite, [method], list(seeds), "default")
    return [dataclasses.replace(s, train=dataclasses.replace(s.train, steps=steps)) for s in specs]


@pytest.mark.parametrize(
    ("suite", "method", "steps"),
    [("gaussians25", m, 15) for m in plain_loops.PLAIN_METHODS]
    # the DCGAN step on images: BatchNorm in GAN's D, none in WGAN-GP's, a per-image penalty
    + [("digits-perclass", "gan", 4), ("digits-perclass", "wgan-gp", 2)],
)
def test_the_plain_loop_trains_the_harness_algorithm(suite, method, steps):
    """Same nets, draws and updates: after a few generator steps both loops hold the same G
    and D (to float rounding: the losses are the same sums in another order)."""
    spec = _spec(method, steps, suite=suite)[0]
    trained: list = []
    plain_loops.plain_loop(spec, trained=trained)
    G, D = trained[0]
    (ours,) = train_bare([spec], "cpu", eval_samples=False)
    for name, value in G.state_dict().items():
        torch.testing.assert_close(value, ours["G"][name], rtol=1e-4, atol=1e-5)
    for name, value in D.state_dict().items():
        torch.testing.assert_close(value, ours["D"][name], rtol=1e-4, atol=1e-5)


def test_the_plain_loops_timed_steps_call_nothing_of_the_project():
    """While the plain loop steps, the only project code that runs is its own step function
    (and the gradient penalty it writes out): no method object, model axis, hook, logging or
    bookkeeping. The nets' forward passes are the suite's modules, as in any user's loop."""
    (spec,) = _spec("wgan-gp", 3)
    suite, method, G, D, opt_g, opt_d = plain_loops._setup(spec, "cpu")
    data, nz, rng = suite.training_set(), suite.noise_dim, torch.Generator().manual_seed(0)
    called: set[str] = set()

    def profile(frame, event, arg):
        if event == "call" and frame.f_code.co_filename.startswith(PROJECT):
            called.add(frame.f_code.co_name)

    sys.setprofile(profile)
    try:
        plain_loops.plain_steps(
            "wgan-gp", G, D, opt_g, opt_d, data, rng, batch=64, noise_dim=nz, n_critic=5, steps=3,
            gp_lambda=0.1, clip=0.0,
        )  # fmt: skip
    finally:
        sys.setprofile(None)
    # the nets are the suite's modules (suites/nets.py): their forward is the network itself
    assert called - {"forward", "_packed"} == {"plain_steps", "_gradient_penalty"}, called


class _OpCounts(TorchDispatchMode):
    """Every ATen operator dispatched inside the block (forward and backward), by name."""

    def __init__(self):
        super().__init__()
        self.counts: Counter[str] = Counter()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.counts[str(func.overloadpacket)] += 1
        return func(*args, **(kwargs or {}))


#: operators that only reshape or reindex: what a model dim around one model's nets costs
VIEWS = {
    "aten.view", "aten._unsafe_view", "aten.unsqueeze", "aten.squeeze", "aten.select",
    "aten.expand", "aten.slice", "aten.as_strided", "aten.reshape", "aten.flatten",
}  # fmt: skip


@pytest.mark.parametrize(
    ("suite", "method"),
    [("gaussians25", m) for m in plain_loops.PLAIN_METHODS] + [("digits-perclass", "wgan-gp")],
)
def test_a_run_alone_dispatches_no_more_operators_than_the_plain_loop(suite, method):
    """A run alone has no model dim, so its step is the plain loop's algorithm with nothing
    around it: counted per generator step (a machine-independent measure of per-step work),
    the harness dispatches no more operators than the plain loop, and no reshaping one more."""
    (spec,) = _spec(method, 10, suite=suite)[:1]
    trainer = Trainer([spec], Runtime())
    suite_obj, m, G, D, opt_g, opt_d = plain_loops._setup(spec, "cpu")
    data, rng = suite_obj.training_set(spec.cls), torch.Generator().manual_seed(spec.seed)
    kw = dict(
        batch=spec.train.batch_size, noise_dim=suite_obj.noise_dim, n_critic=m.n_critic,
        gp_lambda=getattr(m.params, "gp_lambda", 0.0), clip=getattr(m.params, "clip", 0.0),
    )  # fmt: skip
    for step in range(2):  # optimiser state exists from here on, in both loops
        trainer.step(step, log=False)
    plain_loops.plain_steps(method, G, D, opt_g, opt_d, data, rng, steps=2, **kw)
    with _OpCounts() as ours:
        for step in range(2, 5):
            trainer.step(step, log=False)
    with _OpCounts() as plain:
        plain_loops.plain_steps(method, G, D, opt_g, opt_d, data, rng, steps=3, **kw)
    assert ours.counts.total() <= plain.counts.total(), ours.counts - plain.counts
    more_views = {op: n for op, n in (ours.counts - plain.counts).items() if op in VIEWS}
    assert not more_views, more_views


def test_layout_spreads_few_seeds_over_cores_and_stacks_many(monkeypatch):
    """The measured rule (runs/layout.py): one 1-thread process per core; seeds stacked from
    STACK_FROM per configuration on, one stack per process; on a GPU one process, seeds
    stacked."""
    from collapsebench.benchmark.runs import layout

    monkeypatch.setattr(layout, "threads_per_worker", lambda workers: max(1, 2 // workers))
    first_command = plan("gaussians25", ["gan", "wgan", "wgan-gp"], [0, 1, 2], "default")
    auto = choose_layout(first_command, "cpu")
    assert (auto.workers, auto.batch_models) == (2, None)
    assert "2 processes x 1 thread" in auto.why
    many = plan("gaussians25", ["gan"], list(range(STACK_FROM)), "default")
    assert choose_layout(many, "cpu").batch_models == STACK_FROM // 2  # both cores busy
    ten = plan("gaussians25", ["gan"], list(range(11)), "default")
    assert choose_layout(ten, "cpu").batch_models == 6  # 11 seeds: stacks of 6 and 5
    assert choose_layout(many, "cpu", streaming_log=True).batch_models is None
    one = plan("gaussians25", ["gan"], [0], "default")
    assert choose_layout(one, "cpu").workers == 1
    smoke = plan("gaussians25", ["gan", "wgan"], [0, 1, 2], "smoke")  # 180 steps in all
    assert choose_layout(smoke, "cpu").workers == 1
    gpu = choose_layout(first_command, "cuda")
    assert (gpu.workers, gpu.batch_models) == (1, 3)


def test_layout_does_not_stack_where_stacking_was_measured_not_to_pay(monkeypatch):
    """Batches of 512 (the veegan protocol) and the digits DCGAN nets train one run at a time
    on a CPU however many seeds or classes share a configuration; a GPU still stacks them."""
    from collapsebench.benchmark.runs import layout

    monkeypatch.setattr(layout, "threads_per_worker", lambda workers: max(1, 2 // workers))
    options = {"protocol": "veegan"}
    veegan = plan("ring8", ["gan"], list(range(10)), "default", suite_options=options)
    assert veegan[0].train.batch_size == 512
    chosen = choose_layout(veegan, "cpu")
    assert (chosen.workers, chosen.batch_models) == (2, None)
    assert "stacking does not pay at these sizes" in chosen.why
    classes = plan("digits-perclass", ["gan"], [0], "table")
    assert len(classes) == 10 and choose_layout(classes, "cpu").batch_models is None
    assert choose_layout(veegan, "cuda").batch_models == 10


def test_parallel_jobs_start_longest_first():
    """WGAN-GP (5 critic steps) before GAN before a GAN of half the steps; ties keep order."""
    from collapsebench.benchmark.runs.planning import longest_first

    gan, gp = _spec("gan", 100, seeds=(0, 1)), _spec("wgan-gp", 100)
    short = _spec("gan", 50)
    order = longest_first([[short[0]], [gan[0]], [gp[0]], [gan[1]]])
    assert [(j[0].method, j[0].seed, j[0].train.steps) for j in order] == [
        ("wgan-gp", 0, 100), ("gan", 0, 100), ("gan", 1, 100), ("gan", 0, 50)
    ]  # fmt: skip


def test_perf_layout_trains_the_chosen_jobs_against_one_plain_process_per_core(monkeypatch):
    """`bench perf --layout`: the harness side trains the jobs `bench run` would make (8 seeds
    on 2 cores: two stacks of 4; 3 seeds: one run at a time), the reference one plain process
    per core, and the ratio is the two throughputs'."""
    from collapsebench.benchmark.runs import layout, perf_layout

    two_cores = lambda workers: max(1, 2 // workers)  # noqa: E731
    monkeypatch.setattr(layout, "threads_per_worker", two_cores)
    monkeypatch.setattr(perf_layout, "threads_per_worker", two_cores)
    walls = iter([2.0, 3.0, 1.0, 1.0])
    sides = []

    def fake_wall(side, shares, threads):
        sides.append((side, [[len(j) for j in share] for share in shares], threads))
        return next(walls)

    monkeypatch.setattr(perf_layout, "_wall", fake_wall)
    r = perf_layout.run_perf_layout("gaussians25", "gan", runs=8, steps=50)
    assert sides == [("harness", [[4], [4]], 1), ("plain", [[1] * 4, [1] * 4], 1)]
    assert r["harness_jobs"] == [4, 4] and "4 runs stacked" in r["harness_layout"]
    # 8 x 50 steps in 2 s against 3 s: 200 and 133.33 steps/s, ratio 1.5
    assert (r["harness_gen_steps_per_s"], r["reference_gen_steps_per_s"]) == (200.0, 133.33)
    assert r["layout_vs_reference_ratio"] == 1.5
    r = perf_layout.run_perf_layout("gaussians25", "gan", runs=3, steps=50)
    assert r["harness_jobs"] == [1, 1, 1] and sides[2] == ("harness", [[1, 1], [1]], 1)


def test_perf_layout_processes_really_train(tmp_path):
    """The timed processes run: two spawned 1-thread processes, a short stack of 2 each."""
    from collapsebench.benchmark.runs import perf_layout
    from collapsebench.benchmark.runs.planning import plan

    specs = plan("gaussians25", ["gan"], [0, 1, 2, 3], "default")
    specs = [dataclasses.replace(s, train=dataclasses.replace(s.train, steps=5)) for s in specs]
    wall = perf_layout._wall("harness", [[specs[:2]], [specs[2:]]], 1)
    assert 0 < wall < 60


def _exit_3(barrier, queue):
    os._exit(3)


def test_a_timed_process_that_dies_is_an_error_not_a_hang():
    from collapsebench.benchmark.errors import BenchError
    from collapsebench.benchmark.runs.perf_layout import together

    with pytest.raises(BenchError, match="a timed process exited with code 3"):
        together(_exit_3, [()])
