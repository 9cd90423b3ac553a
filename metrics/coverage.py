"""Mode coverage on mixtures of isotropic Gaussians (PacGAN / VEEGAN tables).

Definitions (PacGAN, Lin et al. 2018, Sec. 5.1; VEEGAN, Srivastava et al. 2017):

* a sample is *high quality* when its Euclidean distance to its nearest mode mean is at most
  ``3 * std``; ``hq_fraction`` is the share of all samples that are high quality;
* a mode is *covered* when it is the nearest mean of at least one high-quality sample;
  ``modes_covered`` counts them;
* ``reverse_kl`` = sum_i p_i log(p_i / w_i), where p_i is the fraction of *all* samples whose
  nearest mean is mode i and w_i the mode's weight in the mixture, 1/K for K equal modes
  (0 log 0 = 0). It is KL(p || w), natural log.

Protocols differ in these rules (suites/protocols.py), so each is a parameter whose default
is the definition above: ``covered_within`` / ``hq_within`` (std multiples), ``covered_rule``
("nearest": the mode is the nearest mean of a sample within ``covered_within`` std; "any": some
sample lies within ``covered_within`` std of it, DynGAN's sampler2.py) and ``kl_over`` ("all"
samples, or only the "hq" ones, PacGAN's MetricLogger histogram).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial.distance import cdist
from scipy.special import xlogy


@dataclass(frozen=True)
class ModeCoverage:
    modes_covered: int
    hq_fraction: float
    reverse_kl: float
    n_modes: int
    n_samples: int
    #: which modes are covered, as bits: mode i covered <=> bit i set (the curve's per-mode
    #: record, from which mode-loss events are counted)
    covered_mask: int = 0

    def as_dict(self) -> dict[str, float | int]:
        return {
            "modes_covered": self.modes_covered,
            "hq_fraction": self.hq_fraction,
            "reverse_kl": self.reverse_kl,
        }


def mode_coverage(
    samples: np.ndarray,
    centers: np.ndarray,
    std: float,
    covered_within: float = 3.0,
    covered_rule: str = "nearest",
    hq_within: float = 3.0,
    kl_over: str = "all",
    weights: np.ndarray | None = None,
) -> ModeCoverage:
    """Mode coverage of ``samples`` (N, d) against a mixture with ``centers`` (K, d) and mode
    ``weights`` (K,), equal when None."""
    samples = np.asarray(samples, dtype=np.float64)
    centers = np.asarray(centers, dtype=np.float64)
    if samples.ndim != 2 or centers.ndim != 2 or samples.shape[1] != centers.shape[1]:
        raise ValueError(
            f"samples must be (N, d) and centers (K, d) with the same d; "
            f"got {samples.shape} and {centers.shape}"
        )
    if len(samples) == 0:
        raise ValueError("samples is empty; need at least one sample")
    if not np.isfinite(samples).all():
        raise ValueError("samples contain NaN or infinite values")
    if std <= 0:
        raise ValueError(f"std must be positive, got {std}")
    if covered_rule not in ("nearest", "any") or kl_over not in ("all", "hq"):
        raise ValueError(f"unknown rule: covered_rule={covered_rule!r}, kl_over={kl_over!r}")
    k = len(centers)
    w = np.full(k, 1.0 / k) if weights is None else np.asarray(weights, dtype=np.float64)
    if w.shape != (k,) or not (w > 0).all() or not np.isclose(w.sum(), 1.0):
        raise ValueError(f"weights must be {k} positive numbers summing to 1; got {weights}")
    dist = cdist(samples, centers)
    nearest = dist.argmin(axis=1)
    nearest_dist = dist[np.arange(len(samples)), nearest]
    hq = nearest_dist <= hq_within * std
    if covered_rule == "nearest":
        which = np.unique(nearest[nearest_dist <= covered_within * std])
    else:
        which = np.flatnonzero((dist <= covered_within * std).any(axis=0))
    covered = len(which)
    counted = nearest if kl_over == "all" else nearest[hq]
    if len(counted):
        p = np.bincount(counted, minlength=k) / len(counted)
        reverse_kl = float(np.sum(xlogy(p, p / w)))
    else:  # no high-quality sample: the histogram is undefined
        reverse_kl = float("nan")
    return ModeCoverage(
        modes_covered=int(covered),
        hq_fraction=float(hq.mean()),
        reverse_kl=reverse_kl,
        n_modes=k,
        n_samples=len(samples),
        covered_mask=sum(1 << int(i) for i in which),
    )
