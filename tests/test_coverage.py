"""Mode coverage against hand-built sample sets whose answers are known in closed form."""

import math

import numpy as np
import pytest

from collapsebench.benchmark.suites import get_suite
from collapsebench.metrics.coverage import mode_coverage

GRID = get_suite("gaussians25")
CENTERS = GRID.centers_array()
STD = GRID.std


def test_all_modes_equally_hit_is_perfect():
    samples = np.repeat(CENTERS, 4, axis=0)  # 4 samples exactly on every mean
    cov = mode_coverage(samples, CENTERS, STD)
    assert cov.modes_covered == 25
    assert cov.hq_fraction == 1.0
    assert cov.reverse_kl == pytest.approx(0.0, abs=1e-12)


def test_ten_modes_uniformly():
    samples = np.repeat(CENTERS[:10], 7, axis=0)
    cov = mode_coverage(samples, CENTERS, STD)
    assert cov.modes_covered == 10
    # p_i = 1/10 on ten modes, 0 elsewhere: sum 0.1 log(25 * 0.1) = log 2.5
    assert cov.reverse_kl == pytest.approx(math.log(2.5), rel=1e-12)


def test_low_quality_samples_count_in_kl_but_do_not_cover():
    # mode 0: two samples on the mean; mode 1: two samples 4 std away (nearest mean still mode 1)
    off = CENTERS[1] + np.array([4 * STD, 0.0])
    samples = np.stack([CENTERS[0], CENTERS[0], off, off])
    cov = mode_coverage(samples, CENTERS, STD)
    assert cov.modes_covered == 1
    assert cov.hq_fraction == 0.5
    # p = (1/2, 1/2, 0, ...): KL = log(25/2)
    assert cov.reverse_kl == pytest.approx(math.log(12.5), rel=1e-12)


def test_three_std_boundary_is_inclusive_and_euclidean():
    d = 3 * STD / math.sqrt(2)  # exactly 3 std away along the diagonal
    inside = CENTERS[5] + np.array([d, d]) * (1 - 1e-9)
    outside = CENTERS[6] + np.array([d, d]) * (1 + 1e-6)
    cov = mode_coverage(np.stack([inside, outside]), CENTERS, STD)
    assert cov.modes_covered == 1
    assert cov.hq_fraction == 0.5


def test_true_distribution_samples_score_near_perfect():
    rng = np.random.default_rng(0)
    idx = rng.integers(0, 25, 2500)
    samples = CENTERS[idx] + STD * rng.standard_normal((2500, 2))
    cov = mode_coverage(samples, CENTERS, STD)
    assert cov.modes_covered == 25
    # P(chi2_2 <= 9) = 1 - exp(-4.5) = 0.98889
    assert cov.hq_fraction == pytest.approx(1 - math.exp(-4.5), abs=0.01)
    assert cov.reverse_kl < 0.02


@pytest.mark.parametrize(
    "bad",
    [np.zeros((3, 3)), np.zeros(5), np.array([[np.nan, 0.0]]), np.zeros((0, 2))],
)
def test_bad_samples_raise(bad):
    with pytest.raises(ValueError):
        mode_coverage(bad, CENTERS, STD)


def test_reverse_kl_against_unequal_mode_weights():
    """KL(p || w): samples split as the weights are score 0; a uniform split against weights
    (1/2, 1/4, 1/4) scores 1/3 log(2/3) + 2 * 1/3 log(4/3) = log(4/3) - 1/3 log 2 by hand."""
    centers = CENTERS[:3]
    weights = np.array([0.5, 0.25, 0.25])
    as_weighted = np.repeat(centers, [2, 1, 1], axis=0)
    assert mode_coverage(as_weighted, centers, STD, weights=weights).reverse_kl == pytest.approx(
        0.0, abs=1e-12
    )
    uniform = np.repeat(centers, 5, axis=0)
    kl = mode_coverage(uniform, centers, STD, weights=weights).reverse_kl
    assert kl == pytest.approx(math.log(4 / 3) - math.log(2) / 3, rel=1e-12)


@pytest.mark.parametrize("weights", [[0.5, 0.5], [0.5, 0.6, -0.1], [0.2, 0.2, 0.2]])
def test_weights_must_be_a_distribution_over_the_modes(weights):
    with pytest.raises(ValueError, match="weights must be 3 positive numbers summing to 1"):
        mode_coverage(CENTERS[:3], CENTERS[:3], STD, weights=np.array(weights))
