"""DynGAN and Self-Conditioned GAN: scores, the collapsed-sample split and k-means refinement on
hand-built cases, conditional shapes, the loop (smoke runs with a partition history) and an
exact resume round trip."""

import dataclasses

import numpy as np
import pytest
import torch
from torch import nn

from collapsebench.baselines import REGISTRY
from collapsebench.baselines.dyngan import (
    check_interval,
    collapsed_mask,
    dyngan_repartition,
    split_collapsed,
)
from collapsebench.baselines.scgan import match_to
from collapsebench.benchmark.report.partition_plots import run_partition_figure
from collapsebench.benchmark.runs.planning import plan
from collapsebench.benchmark.store.runstore import RunStore
from collapsebench.benchmark.suites import get_suite
from collapsebench.benchmark.training.loop import train_run


def make(name, total_steps=100, **params):
    cls = REGISTRY[name]
    return cls(cls.Params(**params), total_steps)


class FixedD(nn.Module):
    """A discriminator with known outputs: logit = w . (x, code) + b; features = x itself."""

    def __init__(self, w, b=0.0):
        super().__init__()
        self.w = torch.tensor(w, dtype=torch.float32)
        self.b = b

    def forward(self, x):
        return x @ self.w + self.b

    def features(self, x):
        return x[:, :2]


def logit(p):
    return float(np.log(p / (1 - p)))


# -- pure machinery ------------------------------------------------------------------------------
def test_collapsed_threshold_and_check_interval():
    # 1 / (1 + 0.2) = 0.8333...: strictly above is collapsed; unscored (NaN) never is
    s = np.array([0.83, 0.834, 0.9, np.nan, 0.8333333333333334])
    assert collapsed_mask(s, 0.2).tolist() == [False, True, True, False, False]
    assert check_interval(3000, 10, 30_000) == 3000  # the toy protocol: 10 checks
    assert check_interval(3000, 10, 100_000) == 3000
    assert check_interval(3000, 10, 3000) == 300
    assert check_interval(3000, 10, 30) == 3
    assert check_interval(3000, 10, 5) == 1


def _blobs():
    """A: 60 points around (0, 0); B: 40 points around (10, 10), features = coordinates."""
    rng = np.random.default_rng(0)
    a = rng.normal(0.0, 0.3, size=(60, 2))
    b = rng.normal(10.0, 0.3, size=(40, 2))
    return np.concatenate([a, b])


def test_collapsed_subset_becomes_its_own_partition():
    feats = _blobs()
    labels = np.zeros(100, dtype=np.int64)
    scores = np.full(100, 0.5)
    scores[60:] = 0.95  # all of B is collapsed (> 1 / 1.2)
    new, active = dyngan_repartition(labels, scores, feats, 1, 30, 0.2, seed=0)
    assert active == 2
    assert new[:60].tolist() == [0] * 60 and new[60:].tolist() == [1] * 40


def test_kmeans_refines_a_partial_split():
    # only 30 of B's 40 points are flagged: the split puts them in part 1, then k-means on the
    # features moves B's other 10 points (nearer part 1's centre) there as well
    feats = _blobs()
    scores = np.full(100, 0.5)
    scores[60:90] = 0.9
    split, active = split_collapsed(np.zeros(100, dtype=np.int64), scores > 1 / 1.2, 1, 30)
    assert active == 2 and (split == 1).sum() == 30
    new, active = dyngan_repartition(np.zeros(100, np.int64), scores, feats, 1, 30, 0.2, seed=0)
    assert active == 2
    assert new[:60].tolist() == [0] * 60 and new[60:].tolist() == [1] * 40


def test_kmeans_weights_samples_by_their_scores():
    # 1-D features: A = 50 points at 0 (score 0.1), M = 10 at 6 (0.8, not collapsed), B = 10 at
    # 10 (0.99, collapsed). The split puts B in part 1 (centre 10). Weighted, part 0's centre is
    # (10 * 0.8 * 6) / (50 * 0.1 + 10 * 0.8) = 48 / 13 = 3.69, so M (2.3 from it, 4 from B)
    # stays in part 0. Unweighted the centre would be 1.0 and M (5 vs 4) would join B.
    x = np.array([0.0] * 50 + [6.0] * 10 + [10.0] * 10)
    feats = np.stack([x, np.zeros_like(x)], axis=1)
    scores = np.array([0.1] * 50 + [0.8] * 10 + [0.99] * 10)
    new, active = dyngan_repartition(np.zeros(70, np.int64), scores, feats, 1, 30, 0.2, seed=0)
    assert active == 2 and new.tolist() == [0] * 60 + [1] * 10


def test_split_gives_each_part_with_collapsed_samples_a_new_slot():
    labels = np.array([0] * 5 + [1] * 5 + [2] * 4)
    collapsed = np.zeros(14, dtype=bool)
    collapsed[[0, 1]] = True  # part 0: 2 collapsed
    collapsed[[5, 6, 7]] = True  # part 1: 3 collapsed -> first new slot
    collapsed[10:14] = True  # part 2: all collapsed -> left as is
    new, active = split_collapsed(labels, collapsed, 3, 30)
    assert active == 5
    assert new.tolist() == [4, 4, 0, 0, 0, 3, 3, 3, 1, 1, 2, 2, 2, 2]
    # one free slot only: the part with the most collapsed samples gets it
    new, active = split_collapsed(labels, collapsed, 3, 4)
    assert active == 4 and new.tolist() == [0] * 5 + [3, 3, 3, 1, 1] + [2] * 4
    # no free slot: nothing moves
    assert split_collapsed(labels, collapsed, 3, 3)[1] == 3


def test_matching_keeps_slot_meaning():
    old = np.array([0, 0, 0, 1, 1, 2, 2, 2])
    new = np.array([2, 2, 2, 0, 0, 1, 1, 0])  # the same clusters, renamed, one point moved
    assert match_to(new, old, 3).tolist() == [0, 0, 0, 1, 1, 2, 2, 1]


# -- the method's state --------------------------------------------------------------------------
def test_score_moving_average_by_hand():
    lam = 0.25
    m = make("dyngan", score_rate=lam, k_max=3)
    data = torch.tensor([[1.0, 0.0], [0.0, 1.0], [2.0, 2.0]])
    m.real_batch(data, 2, torch.Generator().manual_seed(0))  # starts the state
    # logit = x1 + 2 x2 + 0.5 [code slot 0]: D = sigmoid(1.5), sigmoid(2.5), sigmoid(6.5)
    D = FixedD([1.0, 2.0, 0.5, 0.0, 0.0])
    sig = [1 / (1 + np.exp(-v)) for v in (1.5, 2.5, 6.5)]
    m.observe(D, data, torch.tensor([0, 0, 2]), 1, None)  # sample 0 drawn twice: once
    np.testing.assert_allclose(m.scores.numpy(), [sig[0], np.nan, sig[2]], rtol=1e-6)
    # D changes to a constant 0.9: sample 0 moves a quarter of the way there, 1 starts at 0.9
    D2 = FixedD([0.0] * 5, b=logit(0.9))
    m.observe(D2, data, torch.tensor([1, 0]), 2, None)
    s0 = 0.75 * sig[0] + 0.25 * 0.9
    np.testing.assert_allclose(m.scores.numpy(), [s0, 0.9, sig[2]], rtol=1e-6)
    m.observe(D, data, torch.tensor([0]), 3, None)
    np.testing.assert_allclose(
        m.scores.numpy(), [0.75 * s0 + 0.25 * sig[0], 0.9, sig[2]], rtol=1e-6
    )


def test_check_step_repartitions_and_prior_follows_sizes():
    # 100 points: A (60) near the origin, B (40) near (10, 10); D says B is real-only (0.95)
    data = torch.tensor(_blobs(), dtype=torch.float32)
    m = make("dyngan", total_steps=100, check_every=10, k_max=4, tau=0.3)
    m.real_batch(data, 1, torch.Generator().manual_seed(0))
    w = [0.0] * 6
    D = FixedD(w, b=logit(0.5))
    m.observe(D, data, torch.arange(60), 1, None)
    m.observe(FixedD(w, b=logit(0.95)), data, torch.arange(60, 100), 2, None)
    assert m.labels.tolist() == [0] * 100  # step 2 is no check step
    assert m.prior.tolist() == [1.0, 0.0, 0.0, 0.0]
    # a check step: 40 % collapsed >= tau = 30 %: B becomes part 1 and its scores are reset
    m.observe(D, data, torch.tensor([0]), 10, torch.Generator().manual_seed(1))
    assert m.labels.tolist() == [0] * 60 + [1] * 40
    assert m.prior.tolist() == pytest.approx([0.6, 0.4, 0.0, 0.0])
    assert torch.isnan(m.scores[60:]).all() and not torch.isnan(m.scores[:60]).any()
    last = m.history().iloc[-1]
    assert (last.step, last.parts, last.scored, last.collapsed) == (10, 2, 100, 40)
    assert last.sizes == "60 40" and last.collapsed_frac == pytest.approx(0.4)
    assert bool(last.repartitioned)
    # conditions for fakes follow the prior: never a slot without samples
    G = nn.Linear(50 + 4, 2)
    c = m.fake_batch(G, torch.zeros(4000, 50), torch.Generator().manual_seed(2))[:, 2:]
    assert c.sum(1).tolist() == [1.0] * 4000 and c[:, 2:].sum() == 0
    assert c[:, 1].mean().item() == pytest.approx(0.4, abs=0.03)
    # below tau: B's 40 scores were reset; 10 of B get 0.99: 10 collapsed of 70 scored (14 % <
    # 30 %) at the next check: no change, counts recorded
    m.observe(FixedD(w, b=logit(0.99)), data, torch.arange(60, 70), 11, None)
    m.observe(D, data, torch.tensor([0]), 20, torch.Generator().manual_seed(1))
    assert m.labels.tolist() == [0] * 60 + [1] * 40
    last = m.history().iloc[-1]
    assert (last.step, last.parts, last.scored, last.collapsed) == (20, 2, 70, 10)
    assert last.collapsed_frac == pytest.approx(1 / 7) and not last.repartitioned


def test_conditional_shapes():
    suite = get_suite("gaussians25").with_protocol("gan-toy")
    m = make("dyngan")
    cfg = m.net_config()
    assert cfg == {"hidden": 128, "noise_dim": 50, "cond_dim": 30}
    G, D = suite.build_nets(0, **cfg)
    assert G[0].in_features == 80 and D.net[0].in_features == 32 and G[0].out_features == 128
    rng = torch.Generator().manual_seed(0)
    real, idx = m.real_batch(suite.training_set(), 16, rng)
    assert real.shape == (16, 32) and idx.shape == (16,)
    assert real[:, 2].tolist() == [1.0] * 16 and real[:, 3:].sum() == 0  # one slot active
    z = suite.sample_noise(16, rng, cfg["noise_dim"])
    assert z.shape == (16, 50)
    assert m.fake_batch(G, z, rng).shape == (16, 32) and D(real).shape == (16,)
    assert m.sample(G, z, rng).shape == (16, 2)
    assert D.features(real).shape == (16, 128)
    assert m.disc_on(D, torch.zeros(5, 2)).shape == (5,)


# -- the loop ------------------------------------------------------------------------------------
def _spec(name, steps, **params):
    spec = plan("gaussians25", [name], [0], "smoke")[0]
    train = dataclasses.replace(spec.train, steps=steps, batch_size=32, checkpoint_every=4)
    return dataclasses.replace(spec, train=train, method_params={**spec.method_params, **params})


def _run(spec, root, progress=None):
    run = RunStore(root).run_dir(spec)
    run.write_config(spec)
    return run, train_run(spec, run, progress)


# min_checks 1: check_every as given. dyngan: delta 100 (threshold 1/101) makes every scored
# sample collapsed (fraction 1 >= tau), so each check with a free slot splits: 1 -> 2 parts at
# step 2, -> 3 (k_max) at step 4, then no slot is left. scgan: one clustering into 3 parts.
FAST = {
    "dyngan": {"check_every": 2, "min_checks": 1, "k_max": 3, "delta": 100.0},
    "scgan": {"check_every": 3, "min_checks": 1, "k_max": 4, "clusters": 3},
}


@pytest.mark.parametrize("name", ["dyngan", "scgan"])
def test_smoke_run_records_partition_history(name, tmp_path):
    spec = _spec(name, 6, **FAST[name])
    run, metrics = _run(spec, tmp_path)
    assert run.finished and metrics["diverged"] is False
    assert set(metrics) == {"diverged", "ndb_bins", *get_suite(spec.suite).evaluated_metrics}
    hist = run.read_partitions()
    steps = [0, 2, 4] if name == "dyngan" else [0, 3]  # never at the last step (6)
    assert hist.step.tolist() == steps
    assert hist.repartitioned.tolist() == [False] + [True] * (len(steps) - 1)
    assert hist.parts.tolist() == ([1, 2, 3] if name == "dyngan" else [1, 3])
    for row in hist.itertuples():
        sizes = [int(v) for v in row.sizes.split()]
        # the parts cover the run's whole training set (its protocol's: 25 modes x 50 points)
        assert len(sizes) == row.parts and sum(sizes) == 25 * 50
        assert len(row.labels.split()) == 1000
    assert np.load(run.path / "samples.npy").shape == (1_000, 2)  # smoke evaluates 1,000 samples
    assert run.read_snapshots()["disc_6"].shape == (80, 80)
    png = run_partition_figure(run, tmp_path / "partitions.png")
    assert png.stat().st_size > 0


def test_resume_round_trip_is_exact(tmp_path):
    spec = _spec("dyngan", 8, **FAST["dyngan"])
    run_a, metrics_a = _run(spec, tmp_path / "a")

    def interrupt(done):
        if done == 4:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        _run(spec, tmp_path / "b", interrupt)
    run_b = RunStore(tmp_path / "b").run_dir(spec)
    ckpt = run_b.load_checkpoint()
    assert not run_b.finished and ckpt["step"] == 4 and ckpt["method"]["active"] == 3
    starts = []
    _, metrics_b = _run(spec, tmp_path / "b", starts.append)
    assert starts[0] == 4
    assert metrics_b == metrics_a
    assert (run_b.path / "samples.npy").read_bytes() == (run_a.path / "samples.npy").read_bytes()
    hist_a, hist_b = run_a.read_partitions(), run_b.read_partitions()
    assert hist_a.step.tolist() == [0, 2, 4, 6] and hist_a.parts.tolist() == [1, 2, 3, 3]
    assert hist_a.repartitioned.tolist() == [False, True, True, False]
    assert hist_b.equals(hist_a)
    assert (run_b.path / "partitions.csv").read_bytes() == (
        run_a.path / "partitions.csv"
    ).read_bytes()


def test_existing_methods_write_no_partitions(tmp_path):
    run, _ = _run(_spec("gan", 2), tmp_path)
    assert run.read_partitions() is None and not (run.path / "partitions.csv").exists()


@pytest.mark.parametrize(
    "text",
    [
        "",  # empty
        "\x00\x01\x02garbage\xff",  # binary
        "a,b\n1,2\n",  # wrong columns
        "step,parts,collapsed_frac,sizes,labels\nx,1,0.5,3 4,0 1\n",  # a step that is not a number
        "step,parts,collapsed_frac,sizes,labels\n2,1,0.5,3 four,0 1\n",  # sizes not integers
        # one field too many: pandas alone would read 100 as an index and step 2, parts 1, ...
        "step,parts,collapsed_frac,sizes,labels\n100,2,1,0.5,3 4,0 1\n",
    ],
)
def test_damaged_partitions_file_is_one_line(tmp_path, text):
    """DynGAN's partitions.csv as written by a finished run, then damaged: the reader names the
    directory in one line (and `bench table` exits 2 with it) instead of a traceback."""
    from collapsebench.benchmark.errors import BenchError

    run, _ = _run(_spec("dyngan", 6, **FAST["dyngan"]), tmp_path)
    assert run.read_partitions() is not None  # the real file reads
    (run.path / "partitions.csv").write_bytes(text.encode("latin-1"))
    with pytest.raises(BenchError, match="cannot read partitions.csv") as err:
        run.read_partitions()
    assert str(run.path) in str(err.value) and "\n" not in str(err.value)
