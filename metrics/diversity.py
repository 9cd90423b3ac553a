"""Diversity metrics adopted after FID: density/coverage, the Vendi score and NDB.

Each is a pure function of feature arrays (rows are samples); the suite decides the feature
space (raw coordinates for the 2-D toys, the digits classifier's features, Inception's 2048-d
pool features, DINOv2's CLS token) and writes it into every caption.

* **density / coverage** (Naeem et al., ICML 2020) with the authors' recommended
  ``nearest_k = 5``, computed by scikit-learn's exact neighbour search and tested equal to the
  authors' ``prdc.compute_prdc`` (tests/test_diversity.py). Density counts, per generated
  sample, how many real k-NN balls contain it (divided by k, so ≈ 1 when the two sets are
  alike, > 1 when samples crowd the dense real regions); coverage is the share of real samples
  whose k-NN ball holds at least one generated sample, so a generator that drops half of the
  real modes has coverage ≈ 0.5. Unlike precision/recall neither is fooled by a few outliers.
* **Vendi score** (Friedman & Dieng, TMLR 2023) comes from the ``vendi-score`` package: the
  exponential of the Shannon entropy of the eigenvalues of K/n, the effective number of
  distinct samples; it needs no real data. Its kernel is part of the definition:
  ``kernel="cosine"`` (L2-normalised features, linear kernel, the paper's choice for
  embeddings; computed in the d×d dual, so every sample counts) or ``kernel="gaussian"``
  (exp(-|x - y|² / (2 h²)), for raw 2-D coordinates where a direction means nothing).
* **NDB** (Richardson & Weiss, NeurIPS 2018, "number of statistically different bins"): bins
  are k-means cells (scikit-learn) fitted on the real set; each bin's real and generated
  proportions are compared with a two-proportion z-test at ``alpha``; reported as NDB/K (the
  fraction of bins that differ) and the Jensen-Shannon divergence between the two bin
  histograms (natural log). No maintained package implements NDB, so this one is ours.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from scipy.spatial.distance import jensenshannon
from scipy.stats import norm
from sklearn.cluster import KMeans
from sklearn.neighbors import NearestNeighbors
from vendi_score import vendi

#: Naeem et al.'s recommendation, also prdc's README example
NEAREST_K = 5
VENDI_KERNELS = ("cosine", "gaussian")
NDB_ALPHA = 0.05
GAUSSIAN_MAX_ROWS = 5_000
#: the scores these functions give a suite's table (``ndb_bins`` is a setting, not a score)
METRIC_NAMES = ("density", "coverage", "vendi", "ndb", "ndb_js")


def _rows(x: np.ndarray, name: str) -> np.ndarray:
    a = np.asarray(x, dtype=np.float64)
    if a.ndim != 2 or len(a) == 0:
        raise ValueError(f"{name} must be a non-empty 2-D (N, D) array; got shape {a.shape}")
    if not np.isfinite(a).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    return a


def density_coverage(
    real: np.ndarray, generated: np.ndarray, nearest_k: int = NEAREST_K
) -> dict[str, float]:
    """Density and coverage of ``generated`` (y_1..y_M) against ``real`` (x_1..x_N): real
    sample i's ball has the radius r_i of its k-th nearest real neighbour;
    density = sum_j #{i: |y_j - x_i| < r_i} / (k M), coverage = #{i: min_j |y_j - x_i| < r_i} / N.

    Not ``prdc.compute_prdc``: it builds three dense N×N distance matrices, partitions two of
    them and computes precision/recall we discard; a k-d tree gives the same radii and counts
    without them. In a profile of the test suite ``compute_prdc`` was 17 % of all in-process
    time: every toy run evaluates it on 5,000 samples."""
    r, g = _rows(real, "real features"), _rows(generated, "generated features")
    if r.shape[1] != g.shape[1]:
        raise ValueError(f"feature widths differ: real {r.shape[1]}, generated {g.shape[1]}")
    if nearest_k < 1 or min(len(r), len(g)) <= nearest_k:
        raise ValueError(
            f"density/coverage with nearest_k={nearest_k} needs more than {nearest_k} rows per "
            f"set; got {len(r)} real, {len(g)} generated"
        )
    # the k+1 nearest reals of a real sample include itself, at distance 0
    radii = NearestNeighbors(n_neighbors=nearest_k + 1).fit(r).kneighbors(r)[0][:, -1]
    fake = NearestNeighbors().fit(g)
    nearest_fake = fake.kneighbors(r, n_neighbors=1)[0][:, 0]
    near, _ = fake.radius_neighbors(r, radius=float(radii.max()))
    hits = sum(int((d < r_i).sum()) for d, r_i in zip(near, radii, strict=True))
    return {
        "density": hits / (nearest_k * len(g)),
        "coverage": float((nearest_fake < radii).mean()),
    }


def vendi_score(
    features: np.ndarray, kernel: str = "cosine", bandwidth: float | None = None
) -> float:
    """Effective number of distinct samples (1 for identical samples, k for k far-apart tight
    clusters of equal size), via ``vendi_score.vendi``."""
    x = _rows(features, "features")
    if kernel == "cosine":
        if (np.linalg.norm(x, axis=1) == 0).any():
            raise ValueError("the cosine kernel needs non-zero feature vectors")
        return float(vendi.score_dual(x, q=1, normalize=True))
    if kernel == "gaussian":
        if bandwidth is None or not bandwidth > 0:
            raise ValueError(f"the gaussian kernel needs a positive bandwidth; got {bandwidth}")
        if len(x) > GAUSSIAN_MAX_ROWS:  # an n×n eigenproblem: O(n³) time, 8n² bytes
            raise ValueError(
                f"the gaussian Vendi kernel takes at most {GAUSSIAN_MAX_ROWS} rows; got {len(x)}"
            )
        sq = (x * x).sum(1)
        d2 = np.maximum(sq[:, None] + sq[None, :] - 2.0 * x @ x.T, 0.0)
        with warnings.catch_warnings():  # vendi-score 0.0.3 names a deprecated scipy module
            warnings.simplefilter("ignore", DeprecationWarning)
            return float(vendi.score_K(np.exp(-d2 / (2.0 * bandwidth**2)), q=1))
    raise ValueError(f"unknown Vendi kernel {kernel!r}; valid: {', '.join(VENDI_KERNELS)}")


@dataclass(frozen=True)
class NDB:
    """NDB/K, the JS divergence of the bin histograms, and what they were computed from."""

    ndb: float
    ndb_js: float
    n_bins: int
    n_different: int

    def as_dict(self) -> dict[str, float | int]:
        return {"ndb": self.ndb, "ndb_js": self.ndb_js, "ndb_bins": self.n_bins}


def ndb(
    real: np.ndarray,
    generated: np.ndarray,
    n_bins: int,
    alpha: float = NDB_ALPHA,
    seed: int = 0,
) -> NDB:
    """Bins = k-means cells of ``real`` (``n_bins`` clusters, ``seed``); a bin differs when the
    two-sided two-proportion z-test (pooled proportion) rejects equal shares at ``alpha``."""
    r, g = _rows(real, "real features"), _rows(generated, "generated features")
    if r.shape[1] != g.shape[1]:
        raise ValueError(f"feature widths differ: real {r.shape[1]}, generated {g.shape[1]}")
    if not 2 <= n_bins <= len(r):
        raise ValueError(f"NDB needs 2 <= bins <= real samples ({len(r)}); got {n_bins}")
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must lie in (0, 1); got {alpha}")
    km = KMeans(n_clusters=n_bins, n_init=3, random_state=seed).fit(r)
    p = np.bincount(km.labels_, minlength=n_bins) / len(r)
    q = np.bincount(km.predict(g), minlength=n_bins) / len(g)
    pooled = (p * len(r) + q * len(g)) / (len(r) + len(g))
    se = np.sqrt(pooled * (1 - pooled) * (1 / len(r) + 1 / len(g)))
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(se > 0, (q - p) / se, 0.0)
    different = int((2 * norm.sf(np.abs(z)) < alpha).sum())
    js = float(jensenshannon(p, q) ** 2)  # scipy returns the distance, the root of the divergence
    return NDB(ndb=different / n_bins, ndb_js=js, n_bins=n_bins, n_different=different)
