"""Self-Conditioned GAN (Liu et al., CVPR 2020): a conditional GAN on clusters of D's features.

It is DynGAN's `PartitionedGAN` (baselines/dyngan.py: nets, losses, scores, check steps,
features and history are shared) with a fixed-k clustering of the discriminator's features
instead of DynGAN's split of collapsed samples.

SCGAN at every check step: k-means with ``clusters`` clusters on the features, k-means++ the
  first time (seeded from the training stream), afterwards initialised at the means of the
  current parts and matched to them (Hungarian, maximum overlap) so slots keep their meaning;
  samples whose part changed lose their score. Before the first check it trains as `gan` (the
  paper clusters a discriminator's features; here that discriminator is the run's own after
  the first interval).

Defaults: DynGAN's toy nets and optimiser, k = 25 clusters (one per grid mode).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

from .dyngan import PartitionedGAN, PartitionParams, kmeans, part_means


@dataclass(frozen=True)
class SCGANParams(PartitionParams):
    #: k of the fixed-k clustering (at most k_max)
    clusters: int = 25

    def __post_init__(self):
        super().__post_init__()
        if not 1 <= self.clusters <= self.k_max:
            raise ValueError(f"clusters must be in [1, k_max={self.k_max}], got {self.clusters}")


def match_to(new: np.ndarray, old: np.ndarray, k: int) -> np.ndarray:
    """Relabel ``new`` (values < k) so that it overlaps ``old`` the most (Hungarian matching)."""
    overlap = np.bincount(new * k + old, minlength=k * k).reshape(k, k)
    rows, cols = linear_sum_assignment(overlap, maximize=True)
    mapping = np.empty(k, dtype=np.int64)
    mapping[rows] = cols
    return mapping[new]


class SCGAN(PartitionedGAN):
    name = "scgan"
    Params = SCGANParams

    def _check(self, D, data, done, rng):
        p = self.params
        census = self._census()
        feats = self._features(D, data)
        if feats is not None:
            k, old = p.clusters, self.labels.numpy()
            seed = self._seed(rng)
            first = not any(r["repartitioned"] for r in self.rows)
            if first:
                init: np.ndarray | str = "k-means++"
            else:
                init = part_means(feats, old, k)
                empty = np.isnan(init[:, 0])
                pick = np.random.RandomState(seed).choice(len(feats), int(empty.sum()), False)
                init[empty] = feats[pick]
            labels = kmeans(feats, k, init, None, seed, p.kmeans_iters)
            self._relabel(match_to(labels, old, k), k)
        self._record(done, census, feats is not None)
