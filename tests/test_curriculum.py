"""Curriculum WGAN-GP (Xiong et al.), WGAN's optimizer option and the Wang (2024) curves
(W estimate, feature diversity)."""

import dataclasses
import math

import numpy as np
import pytest
import torch
from torch import nn

from collapsebench.baselines import REGISTRY
from collapsebench.baselines.base import Method
from collapsebench.benchmark.errors import BenchError
from collapsebench.benchmark.runs.planning import plan
from collapsebench.benchmark.store.runstore import RunStore
from collapsebench.benchmark.suites import get_suite
from collapsebench.benchmark.training.loop import train_run
from collapsebench.benchmark.training.measure import feature_diversity, wasserstein_estimate
from collapsebench.benchmark.training.methods import method_params
from collapsebench.benchmark.training.models import ModelAxis


def make(name, total_steps=100, **params):
    cls = REGISTRY[name]
    return cls(cls.Params(**params), total_steps)


def smoke_spec(method, **train):
    (spec,) = plan("gaussians25", [method], [0], "smoke")
    return dataclasses.replace(spec, train=dataclasses.replace(spec.train, **train))


def run_to_end(root, spec):
    run = RunStore(root).run_dir(spec)
    run.write_config(spec)
    return run, train_run(spec, run)


# -- curriculum schedule ----------------------------------------------------------------------
def test_active_fraction_linear_hand_values():
    m = make("curriculum-wgan-gp", 100, start_fraction=0.2, ramp_end=0.5)
    # ramp over 50 steps from 0.2 to 1: slope 0.8 / 50 = 0.016 per step
    for step, want in [(0, 0.2), (10, 0.36), (25, 0.6), (49, 0.984), (50, 1.0), (99, 1.0)]:
        assert m.active_fraction(step) == pytest.approx(want, abs=1e-12)


def test_active_fraction_step_and_edge_cases():
    m = make("curriculum-wgan-gp", 100, start_fraction=0.3, ramp_end=0.4, schedule="step")
    assert [m.active_fraction(s) for s in (0, 39, 40, 99)] == [0.3, 0.3, 1.0, 1.0]
    assert make("curriculum-wgan-gp", 100, ramp_end=0.0).active_fraction(0) == 1.0
    assert make("curriculum-wgan-gp", 100, start_fraction=1.0).active_fraction(0) == 1.0


@pytest.mark.parametrize(
    "bad",
    [{"start_fraction": 0.0}, {"start_fraction": 1.5}, {"ramp_end": -0.1}, {"schedule": "cos"}],
)
def test_curriculum_rejects_bad_params(bad):
    with pytest.raises(ValueError):
        REGISTRY["curriculum-wgan-gp"].Params(**bad)


def test_curriculum_keeps_wgan_gp_losses_and_toy_defaults():
    m = make("curriculum-wgan-gp")
    assert m.n_critic == 5 and isinstance(m, REGISTRY["wgan-gp"])
    assert method_params("curriculum-wgan-gp", {"gp_lambda": 0.1})["gp_lambda"] == 0.1
    spec = smoke_spec("curriculum-wgan-gp")
    assert spec.method_params["gp_lambda"] == 0.1  # the toy suites' WGAN-GP setting


def test_real_batch_easy_subset_early_and_all_data_at_the_end():
    data = get_suite("gaussians25").training_set()
    norms = data.norm(dim=1)
    m = make("curriculum-wgan-gp", 100, start_fraction=0.2, ramp_end=0.5)
    cut = torch.sort(norms).values[round(0.2 * len(data)) - 1]
    rng = torch.Generator().manual_seed(0)
    real, idx = m.real_batch(data, 4096, rng)
    assert torch.equal(real, data[idx])
    assert (norms[idx] <= cut).all()
    # the 20 % easiest points of the 5x5 grid: the centre mode and the four modes at radius 2
    assert norms[idx].max() < 2.3 and norms[idx].min() < 0.2

    m.observe(None, data, idx, 25, rng)  # halfway up the ramp: 60 % of the points
    _, idx = m.real_batch(data, 4096, rng)
    assert (norms[idx] <= torch.sort(norms).values[round(0.6 * len(data)) - 1]).all()
    assert norms[idx].max() > 3.9  # the radius-4 ring is in by now

    m.observe(None, data, idx, 50, rng)  # ramp done: exactly the plain loop's draw
    state = rng.get_state()
    real, idx = m.real_batch(data, 4096, rng)
    rng.set_state(state)
    plain, plain_idx = Method.real_batch(m, data, 4096, rng)
    assert torch.equal(idx, plain_idx) and torch.equal(real, plain)
    assert norms[idx].max() > 5.5  # the outer corners


def test_curriculum_step_survives_a_checkpoint():
    m = make("curriculum-wgan-gp", 100)
    m.observe(None, None, None, 17, None)
    other = make("curriculum-wgan-gp", 100)
    other.load_state_dict(m.state_dict())
    assert other.step == 17 and other.active_fraction(other.step) == m.active_fraction(17)


def test_curriculum_trains_and_resumes_in_the_loop(tmp_path):
    spec = smoke_spec("curriculum-wgan-gp", steps=4, log_every=1, checkpoint_every=2)
    run_a, metrics_a = run_to_end(tmp_path / "a", spec)

    def interrupt(done):
        if done == 2:
            raise KeyboardInterrupt

    run_b = RunStore(tmp_path / "b").run_dir(spec)
    run_b.write_config(spec)
    with pytest.raises(KeyboardInterrupt):
        train_run(spec, run_b, interrupt)
    assert run_b.load_checkpoint()["method"] == {"step": 2}
    metrics_b = train_run(spec, run_b)
    assert metrics_b == metrics_a and metrics_a["diverged"] is False
    assert (run_b.path / "samples.npy").read_bytes() == (run_a.path / "samples.npy").read_bytes()


# -- WGAN optimizer option (Wang (2024)) ---------------------------------------------------------
@pytest.mark.parametrize(
    "name, cls",
    [("rmsprop", torch.optim.RMSprop), ("adam", torch.optim.Adam), ("sgd", torch.optim.SGD)],
)
@pytest.mark.parametrize("method", ["wgan", "greed-wgan"])
def test_wgan_optimizer_option_builds_the_right_optimizer(method, name, cls):
    m = make(method, optimizer=name, lr=3e-4)
    opt_g, opt_d = m.optimizers(nn.Linear(2, 2), nn.Linear(2, 1))
    for opt in (opt_g, opt_d):
        assert type(opt) is cls
        group = opt.param_groups[0]
        assert group["lr"] == 3e-4
        if name == "adam":
            assert group["betas"] == (0.5, 0.9)
        if name == "sgd":
            assert group["momentum"] == 0


def test_wgan_default_optimizer_is_rmsprop_and_bad_names_are_rejected():
    assert REGISTRY["wgan"].Params().optimizer == "rmsprop"
    with pytest.raises(ValueError, match="rmsprop, adam, sgd"):
        REGISTRY["wgan"].Params(optimizer="adagrad")
    with pytest.raises(BenchError, match="bad parameters.*adagrad"):
        method_params("wgan", {"optimizer": "adagrad"})


# -- Wang (2024) curves --------------------------------------------------------------------------
class Linear(nn.Module):
    """f(x) = w.x + b, with ``features`` x -> (x, 2x)."""

    def __init__(self, w, b):
        super().__init__()
        self.w = nn.Parameter(torch.tensor(w, dtype=torch.float64))
        self.b = nn.Parameter(torch.tensor(b, dtype=torch.float64))

    def forward(self, x):
        return x @ self.w + self.b


class LinearWithFeatures(Linear):
    def features(self, x):
        return torch.cat([x, 2 * x], dim=1)


REAL = torch.tensor([[1.0, 2.0], [0.5, -1.0], [-2.0, 0.0]], dtype=torch.float64)
FAKE = torch.tensor([[0.0, 1.0], [3.0, -2.0]], dtype=torch.float64)


def test_wasserstein_estimate_matches_hand_computation():
    D = Linear([0.7, -0.4], 0.2)
    # D(real) = 0.1, 0.95, -1.2 -> mean -0.05; D(fake) = -0.2, 3.1 -> mean 1.45
    want = -0.05 - 1.45
    (got,) = wasserstein_estimate(ModelAxis(D), REAL[None], FAKE[None], [])
    assert got == pytest.approx(want, rel=1e-12)
    # the bias cancels: it is w . (mean real - mean fake)
    diff = REAL.mean(0) - FAKE.mean(0)
    assert want == pytest.approx(0.7 * diff[0].item() - 0.4 * diff[1].item(), rel=1e-12)


def test_feature_diversity_matches_hand_computation():
    # fake columns: (0, 3) var 2.25, (1, -2) var 2.25; doubled: 9, 9 -> mean (2.25*2 + 9*2) / 4
    D = LinearWithFeatures([0.7, -0.4], 0.2)
    assert feature_diversity(ModelAxis(D), FAKE[None], []) == pytest.approx([5.625], rel=1e-12)
    (plain,) = feature_diversity(ModelAxis(Linear([0.7, -0.4], 0.2)), FAKE[None], [])
    assert math.isnan(plain)


def test_smoke_run_curves_have_the_new_finite_columns(tmp_path):
    spec = smoke_spec("wgan", steps=3, log_every=1, checkpoint_every=3)
    run, _ = run_to_end(tmp_path, spec)
    curves = run.read_curves()
    assert list(curves.columns) == [
        "step",
        "loss_d",
        "loss_g",
        "grad_norm_d",
        "grad_norm_g",
        "wasserstein_estimate",
        "feature_diversity",
    ]
    assert len(curves) == 3
    assert np.isfinite(curves[["wasserstein_estimate", "feature_diversity"]].to_numpy()).all()
    assert (curves["feature_diversity"] >= 0).all()
    # WGAN's critic loss is -(mean D(real) - mean D(fake)) on the same last critic batch, but
    # measured before the weight clipping that follows it, so the two agree only roughly
    assert np.allclose(-curves["loss_d"], curves["wasserstein_estimate"], atol=1e-2)


def test_measuring_does_not_change_training(tmp_path):
    # sngan: every D forward in training mode advances the spectral-norm power iteration
    a, ma = run_to_end(tmp_path / "a", smoke_spec("sngan", steps=3, log_every=1))
    b, mb = run_to_end(tmp_path / "b", smoke_spec("sngan", steps=3, log_every=100))
    assert ma == mb
    assert (a.path / "samples.npy").read_bytes() == (b.path / "samples.npy").read_bytes()
