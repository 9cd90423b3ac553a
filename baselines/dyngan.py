"""DynGAN (Luo & Yang, TPAMI 2024): a conditional GAN on a learned partition of the data.

DynGAN (Luo & Yang, TPAMI 2024) and Self-Conditioned GAN (Liu et al., CVPR 2020) train one
conditional GAN whose conditions are a partition of the real training set, re-estimated during
training from the discriminator; both share this file's machinery (`PartitionedGAN`), and
SCGAN's own rule lives in baselines/scgan.py.

Networks and losses
  G(z, c) and D(x, c), c a one-hot code of ``k_max`` slots appended to G's noise and to D's
  sample (``net_config`` asks the suite for ``cond_dim = k_max``, width ``hidden`` and noise size
  ``noise_dim``; the depth stays the suite's). Every real sample i belongs to a part c_i; D sees
  real pairs (x_i, c_i) and fake pairs (G(z, c), c) with c ~ p(c) = |part c| / N, the partition
  proportions (also for evaluation samples and snapshots). Losses are `gan`'s (non-saturating
  by default). Training starts with one active slot (all samples in part 0), i.e. as `gan`.

Scores (both methods; DynGAN acts on them, SCGAN only records them)
  After every generator step each real sample drawn in that step (drawn twice: updated once)
  gets s_i <- (1 - lambda) s_i + lambda sigmoid(D(x_i, c_i)), with D after the step's update.
  A sample has no score until its first draw, which sets s_i = sigmoid(D(x_i, c_i)) (no prior
  value: with a 100k-point training set a sample is drawn every ~800 steps, so a fixed start
  such as 0.5 would need ~11 draws to cross the threshold and short runs would never
  repartition). Sample i is *collapsed* when s_i > 1 / (1 + delta): with the optimal D,
  D(x) = p(x) / (p(x) + q(x)), this is q(x) < delta p(x). The collapsed fraction is over the
  samples that have a score (unscored ones are unknown, not "covered"): the paper's 30k-step
  toy runs have scored ~98% of 100k samples by the first check at 3k steps, so this only
  matters for short runs, where it lets e.g. the smoke preset repartition at all.

Check steps
  Every ``check_every`` generator steps, or every ``total_steps // min_checks`` steps if that
  is smaller (at least 1), so a run has at least ``min_checks`` checks: the toy protocol's
  30k steps / 3k gives 10 and is unchanged; the 3k-step default preset checks every 300 steps,
  the 30-step smoke preset every 3. No check at the last step (G could not learn a new slot).

Features
  D's penultimate activations (``D.features``) of (x, 0): the code zeroed, so the features
  depend on x alone and k-means can move samples across parts (SCGAN's projection D has
  features independent of c in the same way).

DynGAN at a check step, when the collapsed fraction is >= ``tau`` and a free slot remains:
  each part holding collapsed samples gets a new slot and its collapsed samples move there (most
  collapsed first while slots remain; a part whose samples are *all* collapsed is left as is, as
  moving them would only rename it); then k-means on the features with sample weights s_i
  (unscored: 1/2), initialised at the weighted means of these parts (sklearn KMeans, n_init 1),
  refines the partition; samples whose part changed lose their score.

History (``history()``, written to partitions.csv; one row at step 0 and one per check step):
  step, parts (active slots), scored (samples with a score), collapsed (count before any
  repartition), collapsed_frac (collapsed / scored), repartitioned, sizes (part sizes,
  space-separated), labels (parts of the first ``TRACKED`` training points, space-separated;
  benchmark/report/partition_plots.py colours them).

Defaults: DynGAN's toy setting, MLP width 128, noise 50, Adam lr 1e-3 betas (0.5, 0.999),
k_max 30, delta 0.2, lambda 0.1, tau 0.01, check every 3000 steps. Batch size and step count
are the preset's (DynGAN's toys: 128 and 30k). SCGAN uses the same nets and optimiser (k 25).
Randomness: condition draws and k-means seeds come from the loop's generator.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from sklearn.cluster import KMeans
from threadpoolctl import threadpool_limits

from .gan import GAN, GANParams


@dataclass(frozen=True)
class PartitionParams(GANParams):
    lr: float = 1e-3
    hidden: int = 128
    noise_dim: int = 50
    #: condition slots (one-hot code width)
    k_max: int = 30
    #: lambda, the scores' moving-average rate
    score_rate: float = 0.1
    #: collapsed when score > 1 / (1 + delta)
    delta: float = 0.2
    check_every: int = 3000
    #: at least this many check steps per run (see the module docstring)
    min_checks: int = 10
    kmeans_iters: int = 100

    def __post_init__(self):
        super().__post_init__()
        if self.k_max < 1 or self.hidden < 1 or self.noise_dim < 1:
            raise ValueError("k_max, hidden and noise_dim must be positive")
        if not 0 < self.score_rate <= 1:
            raise ValueError(f"score_rate must be in (0, 1], got {self.score_rate}")
        if self.delta <= 0:
            raise ValueError(f"delta must be positive, got {self.delta}")
        if self.check_every < 1 or self.min_checks < 1 or self.kmeans_iters < 1:
            raise ValueError("check_every, min_checks and kmeans_iters must be positive")


@dataclass(frozen=True)
class DynGANParams(PartitionParams):
    #: repartition when at least this fraction of the scored real samples is collapsed
    tau: float = 0.01

    def __post_init__(self):
        super().__post_init__()
        if not 0 <= self.tau <= 1:
            raise ValueError(f"tau must be in [0, 1], got {self.tau}")


# -- pure helpers (numpy), tested on hand-built cases --------------------------------------------
def check_interval(check_every: int, min_checks: int, total_steps: int) -> int:
    """Generator steps between check steps: ``check_every``, shortened so that a run of
    ``total_steps`` has at least ``min_checks`` of them."""
    return max(1, min(check_every, total_steps // min_checks))


def collapsed_mask(scores: np.ndarray, delta: float) -> np.ndarray:
    """s > 1 / (1 + delta); unscored (NaN) samples are not collapsed."""
    with np.errstate(invalid="ignore"):
        return np.nan_to_num(scores, nan=-1.0) > 1.0 / (1.0 + delta)


def split_collapsed(
    labels: np.ndarray, collapsed: np.ndarray, active: int, k_max: int
) -> tuple[np.ndarray, int]:
    """DynGAN's split: each part holding collapsed samples (but not only collapsed ones) gets the
    next free slot and its collapsed samples move there; parts with the most collapsed samples
    first (ties: lower slot) while slots remain. Returns (new labels, new number of slots)."""
    labels = labels.copy()
    sizes = np.bincount(labels, minlength=k_max)
    parts, counts = np.unique(labels[collapsed], return_counts=True)
    movable = [(int(c), int(p)) for p, c in zip(parts, counts, strict=True) if c < sizes[p]]
    movable.sort(key=lambda cp: (-cp[0], cp[1]))
    for j, (_, p) in enumerate(movable[: k_max - active]):
        labels[collapsed & (labels == p)] = active + j
    return labels, active + min(len(movable), k_max - active)


def part_means(
    feats: np.ndarray, labels: np.ndarray, k: int, weights: np.ndarray | None = None
) -> np.ndarray:
    """(Weighted) mean feature of each part 0..k-1; NaN rows for empty parts."""
    w = np.ones(len(feats)) if weights is None else weights
    centers = np.full((k, feats.shape[1]), np.nan)
    for j in range(k):
        m = labels == j
        if m.any():
            centers[j] = np.average(feats[m], axis=0, weights=w[m])
    return centers


def kmeans(
    feats: np.ndarray,
    k: int,
    init: np.ndarray | str,
    weights: np.ndarray | None,
    seed: int,
    max_iter: int,
) -> np.ndarray:
    """sklearn's Lloyd k-means, on as many threads as torch uses (the run's share of cores)."""
    km = KMeans(n_clusters=k, init=init, n_init=1, max_iter=max_iter, random_state=seed)
    with threadpool_limits(limits=torch.get_num_threads()):
        return km.fit(feats, sample_weight=weights).labels_.astype(np.int64)


def dyngan_repartition(
    labels: np.ndarray,
    scores: np.ndarray,
    feats: np.ndarray,
    active: int,
    k_max: int,
    delta: float,
    seed: int,
    max_iter: int = 100,
) -> tuple[np.ndarray, int]:
    """Split off the collapsed samples, then refine with score-weighted k-means initialised from
    the split. Returns (labels, active); unchanged when nothing can be split."""
    split, new_active = split_collapsed(labels, collapsed_mask(scores, delta), active, k_max)
    if new_active == active:
        return labels.copy(), active
    weights = np.nan_to_num(scores, nan=0.5)
    init = part_means(feats, split, new_active, weights)
    return kmeans(feats, new_active, init, weights, seed, max_iter), new_active


# -- the method ----------------------------------------------------------------------------------
class PartitionedGAN(GAN):
    """Conditional GAN on a partition of the training set; subclasses define ``_check``."""

    Params = PartitionParams
    #: the first training points whose parts are recorded in the history (for plots)
    TRACKED = 1000

    def __init__(self, params: PartitionParams, total_steps: int):
        super().__init__(params, total_steps)
        self.every = check_interval(params.check_every, params.min_checks, total_steps)
        self.labels: torch.Tensor | None = None  # (N,) int64, set on the first real batch
        self.scores: torch.Tensor | None = None  # (N,) float64, NaN = not scored yet
        self.active = 1
        self.rows: list[dict[str, Any]] = []
        self.prior = F.one_hot(torch.tensor(0), params.k_max).double()

    # -- loop hooks --------------------------------------------------------------------------
    def net_config(self):
        p = self.params
        return {"hidden": p.hidden, "noise_dim": p.noise_dim, "cond_dim": p.k_max}

    def code(self, c: torch.Tensor) -> torch.Tensor:
        return F.one_hot(c, self.params.k_max).float()

    def real_batch(self, data, batch, rng):
        if self.labels is None:
            self._start(len(data))
        idx = torch.randint(len(data), (batch,), generator=rng)
        x = data[idx]
        return torch.cat([x, self.code(self.labels[idx]).to(x.device)], dim=1), idx

    def _conditioned(self, G, noise, rng):
        c = self.code(torch.multinomial(self.prior, len(noise), replacement=True, generator=rng))
        c = c.to(noise.device)
        return G(torch.cat([noise, c], dim=1)), c

    def fake_batch(self, G, noise, rng):
        return torch.cat(self._conditioned(G, noise, rng), dim=1)

    def sample(self, G, noise, rng):
        return self._conditioned(G, noise, rng)[0]

    def disc_on(self, D, x):
        """Prior-weighted mean of D's raw output over the parts in use."""
        out = torch.zeros(len(x), device=x.device)
        for c in torch.nonzero(self.prior > 0).flatten().tolist():
            codes = self.code(torch.full((len(x),), c, device=x.device))
            out = out + float(self.prior[c]) * D(torch.cat([x, codes], dim=1))
        return out

    def observe(self, D, data, idx, done, rng):
        u = torch.unique(idx)
        with torch.no_grad():
            x = data[u]
            codes = self.code(self.labels[u]).to(x.device)
            d = torch.sigmoid(D(torch.cat([x, codes], dim=1))).double().cpu()
        old = self.scores[u]
        lam = self.params.score_rate
        self.scores[u] = torch.where(torch.isnan(old), d, (1 - lam) * old + lam * d)
        if done % self.every == 0 and done < self.total_steps:
            self._check(D, data, done, rng)

    def state_dict(self):
        if self.labels is None:
            return {}
        return {
            "labels": self.labels.clone(),
            "scores": self.scores.clone(),
            "active": self.active,
            "rows": [dict(r) for r in self.rows],
        }

    def load_state_dict(self, state):
        if not state:
            return
        self.labels, self.scores = state["labels"].clone(), state["scores"].clone()
        self.active, self.rows = state["active"], [dict(r) for r in state["rows"]]
        self._update_prior()

    def history(self):
        return pd.DataFrame(self.rows) if self.rows else None

    # -- machinery ---------------------------------------------------------------------------
    def _start(self, n: int) -> None:
        self.labels = torch.zeros(n, dtype=torch.int64)
        self.scores = torch.full((n,), float("nan"), dtype=torch.float64)
        self.active = 1
        self._update_prior()
        self._record(0, (0, 0), False)

    def _update_prior(self) -> None:
        counts = torch.bincount(self.labels, minlength=self.params.k_max).double()
        self.prior = counts / counts.sum()

    def _census(self) -> tuple[int, int]:
        """(collapsed, scored) sample counts under the current scores."""
        scores = self.scores.numpy()
        n_scored = int((~np.isnan(scores)).sum())
        return int(collapsed_mask(scores, self.params.delta).sum()), n_scored

    def _record(self, step: int, census: tuple[int, int], repartitioned: bool) -> None:
        n_collapsed, n_scored = census
        sizes = torch.bincount(self.labels, minlength=self.active)[: self.active].tolist()
        self.rows.append(
            {
                "step": step,
                "parts": self.active,
                "scored": n_scored,
                "collapsed": n_collapsed,
                "collapsed_frac": n_collapsed / max(n_scored, 1),
                "repartitioned": repartitioned,
                "sizes": " ".join(map(str, sizes)),
                "labels": " ".join(map(str, self.labels[: self.TRACKED].tolist())),
            }
        )

    def _features(self, D, data) -> np.ndarray | None:
        """D's penultimate features of (x, code 0), float64; None if not finite (diverged)."""
        if not hasattr(D, "features"):
            raise TypeError(
                f"{self.name} needs a discriminator with a .features(x) method "
                "(benchmark/suites/nets.py ToyDiscriminator)"
            )
        zeros = torch.zeros(len(data), self.params.k_max, device=data.device)
        with torch.no_grad():
            feats = D.features(torch.cat([data, zeros], dim=1)).double().cpu().numpy()
        return feats if np.isfinite(feats).all() else None

    def _relabel(self, new_labels: np.ndarray, active: int) -> None:
        new = torch.from_numpy(new_labels)
        self.scores[new != self.labels] = float("nan")
        self.labels, self.active = new, active
        self._update_prior()

    @staticmethod
    def _seed(rng: torch.Generator) -> int:
        return int(torch.randint(2**31 - 1, (1,), generator=rng))

    def _check(self, D, data, done: int, rng: torch.Generator) -> None:
        raise NotImplementedError


class DynGAN(PartitionedGAN):
    name = "dyngan"
    Params = DynGANParams

    def _check(self, D, data, done, rng):
        p = self.params
        census = n_collapsed, n_scored = self._census()
        repartitioned = False
        if n_collapsed > 0 and n_collapsed >= p.tau * n_scored and self.active < p.k_max:
            feats = self._features(D, data)
            if feats is not None:
                labels, active = dyngan_repartition(
                    self.labels.numpy(),
                    self.scores.numpy(),
                    feats,
                    self.active,
                    p.k_max,
                    p.delta,
                    self._seed(rng),
                    p.kmeans_iters,
                )
                repartitioned = active > self.active
                if repartitioned:
                    self._relabel(labels, active)
        self._record(done, census, repartitioned)
