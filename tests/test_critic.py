"""The independent Wasserstein critic against exact W1 computed independently (optimal
assignment in 2-D, scipy's 1-D formula), and the fixed-critic mode's behaviour."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.optimize import linear_sum_assignment
from scipy.spatial.distance import cdist
from scipy.stats import wasserstein_distance

from collapsebench.metrics import critic as C

RING = [(2 * np.cos(2 * np.pi * k / 8), 2 * np.sin(2 * np.pi * k / 8)) for k in range(8)]


def ring_mixture(n: int, modes: list[int], rng: np.random.Generator) -> np.ndarray:
    """n points from the equal-weight mixture of the given ring modes, std 0.1."""
    centres = np.asarray(RING)[rng.choice(modes, n)]
    return (centres + 0.1 * rng.standard_normal((n, 2))).astype(np.float32)


def exact_w1(a: np.ndarray, b: np.ndarray) -> float:
    """W1 between two equal-size point sets = the optimal assignment's mean cost."""
    cost = cdist(a.astype(np.float64), b.astype(np.float64))
    rows, cols = linear_sum_assignment(cost)
    return float(cost[rows, cols].mean())


def test_fitted_critic_matches_exact_w1_on_2d_mode_collapse():
    # the real data has 8 modes; the "generator" collapsed onto 2 of them
    rng = np.random.default_rng(0)
    real, fake = ring_mixture(1000, list(range(8)), rng), ring_mixture(1000, [0, 4], rng)
    real_ho, fake_ho = ring_mixture(500, list(range(8)), rng), ring_mixture(500, [0, 4], rng)
    est = C.fitted_w1(real, fake, real_heldout=real_ho, fake_heldout=fake_ho, steps=800, seed=0)
    # the estimate is scored on the same held-out sets the exact W1 uses; the critic never saw
    # them in training
    exact = exact_w1(real_ho, fake_ho)
    assert exact > 1.0
    assert est.value <= exact * (1 + 1e-9)  # rescaled critic: a feasible dual, a lower bound
    assert est.value >= 0.9 * exact, (est, exact)
    assert est.n_real == est.n_fake == 500 and est.mode == "fitted"


def test_fitted_critic_matches_scipy_in_1d():
    # bimodal vs unimodal with equal means: a linear critic scores 0, the W1 critic is |x|-like
    rng = np.random.default_rng(1)

    def bimodal(n):
        return np.concatenate([rng.normal(-2, 0.5, n // 2), rng.normal(2, 0.5, n // 2)])

    real, fake = bimodal(1000), rng.normal(0, 1, 1000)
    real_ho, fake_ho = bimodal(500), rng.normal(0, 1, 500)
    est = C.fitted_w1(
        real.astype(np.float32),
        fake.astype(np.float32),
        real_heldout=real_ho.astype(np.float32),
        fake_heldout=fake_ho.astype(np.float32),
        steps=800,
        seed=0,
    )
    exact = wasserstein_distance(real_ho, fake_ho)
    assert est.value <= exact * (1 + 1e-6)
    assert est.value >= 0.9 * exact, (est, exact)


def test_fitted_w1_splits_its_input_when_no_heldout_sets_are_given():
    # a translated Gaussian (W1 = 1.5 between the distributions); the held-out halves are
    # different draws, so their own exact W1 differs a little from 1.5: only a loose range here
    # (the exact comparisons are the two tests above)
    rng = np.random.default_rng(2)
    real = rng.standard_normal((800, 2)).astype(np.float32)
    fake = real + np.float32([0.9, 1.2])
    est = C.fitted_w1(real, fake, steps=300, seed=0)
    assert est.n_real == est.n_fake == 400
    assert 0.8 * 1.5 <= est.value <= 1.1 * 1.5, est
    assert C.fitted_w1(real, fake, steps=300, seed=0) == est  # seeded split and training


def test_fixed_critic_scores_checkpoints_on_one_scale():
    rng = np.random.default_rng(3)
    train = ring_mixture(2000, list(range(8)), rng)
    heldout = ring_mixture(500, list(range(8)), rng)
    f = C.train_critic(train, None, steps=400, lr=1e-3, seed=0)  # vs moment-matched noise
    good = C.critic_distance(f, heldout, ring_mixture(500, list(range(8)), rng))
    off_modes = rng.uniform(-2.5, 2.5, (500, 2)).astype(np.float32)
    bad = C.critic_distance(f, heldout, off_modes)
    assert good.mode == "fixed" and good.value == good.raw and good.lipschitz_ratio is None
    assert bad.value > 0.3 and abs(good.value) < 0.2 * bad.value
    # frozen: scoring again gives the same number
    again = C.critic_distance(f, heldout, off_modes)
    assert again.value == bad.value and not any(p.requires_grad for p in f.parameters())


def test_training_is_seeded_without_global_state():
    rng = np.random.default_rng(4)
    real, fake = ring_mixture(300, [0, 1], rng), ring_mixture(300, [5], rng)
    torch.manual_seed(123)
    f1 = C.train_critic(real, fake, steps=30, seed=7)
    torch.manual_seed(456)  # the global RNG must not matter
    f2 = C.train_critic(real, fake, steps=30, seed=7)
    f3 = C.train_critic(real, fake, steps=30, seed=8)
    x = torch.from_numpy(real[:50])
    assert torch.equal(f1(x), f2(x)) and not torch.equal(f1(x), f3(x))


def test_image_critic_on_uint8_images():
    g = torch.Generator().manual_seed(0)
    real = torch.zeros(64, 1, 16, 16, dtype=torch.uint8)
    real[:, :, 4:12, 4:12] = 255  # a white square
    noise = torch.randint(0, 256, (64, 1, 16, 16), generator=g, dtype=torch.uint8)
    f = C.train_critic(real, noise, steps=40, batch_size=32, seed=0)
    assert C.critic_distance(f, real, noise).value > C.critic_distance(f, real, real).value
    assert C.critic_distance(f, real, real).value == pytest.approx(0.0, abs=1e-6)


@pytest.mark.parametrize(
    "call, match",
    [
        (
            lambda: C.train_critic(np.zeros((5, 2), np.float32), np.zeros((5, 3), np.float32)),
            "shape",
        ),
        (lambda: C.train_critic(np.full((5, 2), np.nan, np.float32)), "NaN"),
        (lambda: C.train_critic(np.zeros((5, 2), np.int64)), "floating point"),
        (lambda: C.train_critic(np.zeros((5, 2), np.float32), penalty="zero"), "unknown penalty"),
        (
            lambda: C.fitted_w1(
                np.zeros((5, 2), np.float32),
                np.zeros((5, 2), np.float32),
                real_heldout=np.zeros((5, 2), np.float32),
            ),
            "both",
        ),
        (lambda: C.make_critic((1, 12, 12), torch.Generator()), "divisible by 8"),
    ],
)
def test_bad_input_is_a_one_line_error(call, match):
    with pytest.raises(ValueError, match=match) as e:
        call()
    assert "\n" not in str(e.value)
