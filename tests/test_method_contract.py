"""The contract every registered method keeps, tested for each one (a new method gets these
tests without writing any), and for a plugin: it trains a few steps, a run stopped at its
checkpoint resumes to the same bits as one trained straight through, and it trains stacked
with its seeds or says why it cannot."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from collapsebench.baselines import REGISTRY
from collapsebench.baselines.base import why_not_stackable
from collapsebench.benchmark.runs.planning import plan
from collapsebench.benchmark.store.runstore import RunStore
from collapsebench.benchmark.training.loop import train_run, train_runs
from collapsebench.benchmark.training.methods import build_method

#: every registered method, and a plugin (tests/hinge_plugin.py) loaded by its import path
METHODS = [*sorted(REGISTRY), "hinge_plugin:HingeGAN"]


class _Stop(Exception):
    pass


def _spec(method: str, seed: int = 0):
    (spec,) = plan("ring8", [method], [seed], "smoke")
    cfg = dataclasses.replace(
        spec.train, steps=6, batch_size=16, log_every=2, checkpoint_every=3, n_snapshots=1
    )
    return dataclasses.replace(spec, train=cfg)


def _train(root, spec, stop_at=None):
    run = RunStore(root).run_dir(spec)
    run.write_config(spec)

    def progress(done):
        if done == stop_at:
            raise _Stop

    return run, train_run(spec, run, progress if stop_at else None)


@pytest.mark.parametrize("method", METHODS)
def test_method_trains_and_resumes_bit_for_bit(tmp_path, method):
    spec = _spec(method)
    straight, metrics = _train(tmp_path / "straight", spec)
    assert metrics["diverged"] is False
    with pytest.raises(_Stop):
        _train(tmp_path / "resumed", spec, stop_at=3)
    resumed, _ = _train(tmp_path / "resumed", spec)
    a, b = np.load(straight.path / "samples.npy"), np.load(resumed.path / "samples.npy")
    assert np.array_equal(a, b), f"{method}: resumed samples differ by {np.abs(a - b).max()}"
    assert straight.read_curves().equals(resumed.read_curves())


@pytest.mark.parametrize("method", METHODS)
def test_method_stacks_or_says_why(tmp_path, method):
    specs = [_spec(method, seed) for seed in (0, 1)]
    why = why_not_stackable(build_method(method, specs[0].method_params, 6))
    if why:
        assert len(why) > 10  # a reason a user can read, not a flag
        return
    store = RunStore(tmp_path)
    runs = [store.run_dir(s) for s in specs]
    for run, spec in zip(runs, specs, strict=True):
        run.write_config(spec)
    out = train_runs(specs, runs)
    assert [m["diverged"] for m in out] == [False, False]
    assert all(np.isfinite(np.load(r.path / "samples.npy")).all() for r in runs)
