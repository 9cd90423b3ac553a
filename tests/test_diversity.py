"""Density/coverage, Vendi and NDB against the reference package and hand-worked cases."""

import contextlib
import io

import numpy as np
import prdc
import pytest
import torch

from collapsebench.metrics import diversity


def _clusters(centres: np.ndarray, per: int, std: float, rng) -> np.ndarray:
    return np.concatenate([c + std * rng.standard_normal((per, centres.shape[1])) for c in centres])


def _grid(k: int) -> np.ndarray:
    return np.array([[10.0 * i, 0.0] for i in range(k)])


@pytest.mark.parametrize(
    "n_real, n_fake, dim", [(300, 250, 8), (2000, 1500, 2), (400, 500, 64)], ids=["8d", "2d", "64d"]
)
def test_density_coverage_equal_prdc_on_the_same_features(n_real, n_fake, dim):
    """The authors' package is the second implementation: same counts on the same features."""
    rng = np.random.default_rng(dim)
    real = rng.standard_normal((n_real, dim))
    fake = 1.3 * rng.standard_normal((n_fake, dim)) + 0.2
    if dim == 2:  # the toys' case: tight clusters, some modes dropped
        centres = 4.0 * rng.standard_normal((10, 2))
        real = _clusters(centres, n_real // 10, 0.1, rng)
        fake = _clusters(centres[:6], n_fake // 6, 0.15, rng)
    with contextlib.redirect_stdout(io.StringIO()):
        ref = prdc.compute_prdc(real_features=real, fake_features=fake, nearest_k=5)
    ours = diversity.density_coverage(real, fake)
    assert ours == pytest.approx({"density": ref["density"], "coverage": ref["coverage"]}, abs=0)
    assert 0 < ours["density"] and 0 < ours["coverage"] < 1


def test_coverage_is_about_half_when_half_the_real_modes_are_dropped():
    rng = np.random.default_rng(1)
    centres = _grid(10)
    real = _clusters(centres, 200, 0.5, rng)
    fake = _clusters(centres[:5], 400, 0.5, rng)
    out = diversity.density_coverage(real, fake)
    assert out["coverage"] == pytest.approx(0.5, abs=0.03)


def test_identical_sets_have_density_one_and_full_coverage():
    # with no ties, each real point's k-NN ball holds itself and k-1 others strictly inside:
    # k hits per ball, so density = k / k = 1 exactly, and every ball holds its own copy
    real = np.random.default_rng(2).standard_normal((400, 3))
    out = diversity.density_coverage(real, real.copy())
    assert out["coverage"] == 1.0
    assert out["density"] == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize("k", [1, 3, 7])
def test_vendi_counts_tight_far_apart_clusters(k):
    rng = np.random.default_rng(k)
    # cosine kernel: clusters along orthogonal axes; gaussian: far apart on a line
    axes = np.eye(8)[:k] * 5.0
    feats = _clusters(axes, 60, 1e-3, rng)
    assert diversity.vendi_score(feats, "cosine") == pytest.approx(k, rel=1e-3)
    points = _clusters(_grid(k), 60, 1e-3, rng)
    assert diversity.vendi_score(points, "gaussian", bandwidth=0.5) == pytest.approx(k, rel=1e-3)


def test_vendi_of_identical_samples_is_one():
    same = np.tile([[0.3, -1.2, 2.0]], (50, 1))
    assert diversity.vendi_score(same, "cosine") == pytest.approx(1.0, rel=1e-9)
    assert diversity.vendi_score(same, "gaussian", bandwidth=1.0) == pytest.approx(1.0, rel=1e-9)


def test_vendi_rejects_bad_kernels():
    x = np.ones((4, 2))
    with pytest.raises(ValueError, match="valid: cosine, gaussian"):
        diversity.vendi_score(x, "rbf")
    with pytest.raises(ValueError, match="positive bandwidth"):
        diversity.vendi_score(x, "gaussian")


def _ndb_case(gen_counts: list[int], per_real: int = 1000):
    """Four far-apart tight clusters, so the k-means bins are exactly the clusters."""
    rng = np.random.default_rng(5)
    centres = _grid(4)
    real = _clusters(centres, per_real, 0.1, rng)
    fake = np.concatenate(
        [c + 0.1 * rng.standard_normal((n, 2)) for c, n in zip(centres, gen_counts, strict=True)]
    )
    return diversity.ndb(real, fake, n_bins=4)


def test_ndb_z_test_against_hand_worked_proportions():
    # real 1000 per bin (p = 0.25). Generated 1100 of 4000 in one bin: q = 0.275, pooled 0.2625,
    # se = sqrt(0.2625 * 0.7375 * 2 / 4000) = 0.00984, z = 2.54 > 1.96: differs; 1040 of 4000:
    # q = 0.26, pooled 0.255, se = 0.00975, z = 1.03: does not.
    assert _ndb_case([1000, 1000, 1100, 900]).n_different == 2
    assert _ndb_case([1000, 1000, 1040, 960]).n_different == 0


def test_ndb_same_distribution_gives_few_bins_and_dropping_modes_gives_their_bins():
    rng = np.random.default_rng(6)
    centres = _grid(20)
    real = _clusters(centres, 150, 0.3, rng)
    same = diversity.ndb(real, _clusters(centres, 150, 0.3, rng), n_bins=20)
    assert same.n_different <= 3  # alpha = 0.05 over 20 bins: 1 expected
    # half the modes dropped, their mass moved to the others: the 10 empty bins differ, and so
    # do the 10 that now hold twice their share, so NDB/K -> 1
    dropped = diversity.ndb(real, _clusters(centres[:10], 300, 0.3, rng), n_bins=20)
    assert dropped.n_different == 20 and dropped.ndb == 1.0


def test_ndb_js_divergence_hand_worked():
    # p = (1/2, 1/2), q = (1, 0), m = (3/4, 1/4):
    # JS = 1/2 [1/2 ln(2/3) + 1/2 ln 2] + 1/2 ln(4/3) = 0.215762 nats
    rng = np.random.default_rng(7)
    real = np.concatenate([rng.normal(0, 0.1, (500, 2)), rng.normal(0, 0.1, (500, 2)) + [10, 0]])
    fake = rng.normal(0, 0.1, (300, 2))
    js = diversity.ndb(real, fake, n_bins=2).ndb_js
    assert js == pytest.approx(0.5 * (0.5 * np.log(2 / 3) + 0.5 * np.log(2)) + 0.5 * np.log(4 / 3))


def test_ndb_rejects_more_bins_than_real_samples():
    with pytest.raises(ValueError, match="bins <= real samples"):
        diversity.ndb(np.zeros((5, 2)), np.zeros((5, 2)), n_bins=6)


def test_every_suite_reports_the_scores_its_diversity_functions_give():
    """The names a table lists (``METRIC_NAMES``) are the keys the toy and the image
    evaluation actually return, so no column is silently empty."""
    from collapsebench.benchmark.suites import get_suite
    from collapsebench.metrics.feature_diversity import feature_diversity

    rng = np.random.default_rng(0)
    toy = get_suite("gaussians25")
    points = toy.sample_real(500, torch.Generator().manual_seed(0)).numpy()
    assert set(diversity.METRIC_NAMES) <= set(toy.diversity(points))
    feats = feature_diversity(rng.normal(size=(300, 8)), rng.normal(size=(300, 8)))
    assert set(diversity.METRIC_NAMES) <= set(feats)
