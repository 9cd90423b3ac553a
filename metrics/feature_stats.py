"""IS, FID, KID and precision/recall as pure functions of Inception logits and pool features:
how each published number is computed from features, independent of torch-fidelity's pipeline
(bench evaluate reuses them on features it already has; tests check them against
torch-fidelity on the same inputs)."""

from __future__ import annotations

import numpy as np
import torch
from torch_fidelity.defaults import DEFAULTS
from torch_fidelity.metric_fid import (
    fid_features_to_statistics,
    fid_statistics_to_metric,
)
from torch_fidelity.metric_isc import isc_features_to_metric
from torch_fidelity.metric_kid import kid_features_to_metric
from torch_fidelity.metric_prc import prc_features_to_metric

#: Inception Score splits of the literature protocol (Salimans et al. 2016)
IS_SPLITS = 10


def _features(arr: np.ndarray | torch.Tensor, name: str) -> torch.Tensor:
    x = torch.as_tensor(np.asarray(arr) if not isinstance(arr, torch.Tensor) else arr)
    if x.dim() != 2 or len(x) == 0:
        raise ValueError(f"{name} must be a non-empty 2-D (N, D) array; got {tuple(x.shape)}")
    if not x.is_floating_point():
        raise ValueError(f"{name} must be floating point; got {x.dtype}")
    if not torch.isfinite(x).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    return x.detach().cpu()


def inception_score_from_logits(
    logits: np.ndarray | torch.Tensor,
    splits: int = IS_SPLITS,
    shuffle: bool = True,
    seed: int = DEFAULTS["rng_seed"],
) -> dict[str, float]:
    """IS (mean, std over splits) from per-sample class logits, via torch-fidelity."""
    x = _features(logits, "logits")
    if splits < 1 or len(x) < splits:
        raise ValueError(f"IS with {splits} splits needs at least {splits} samples; got {len(x)}")
    r = isc_features_to_metric(x, splits=splits, shuffle=shuffle, rng_seed=seed)
    return {"mean": r["inception_score_mean"], "std": r["inception_score_std"], "splits": splits}


def inception_score_from_probs(
    probs: np.ndarray | torch.Tensor,
    splits: int = IS_SPLITS,
    shuffle: bool = True,
    seed: int = DEFAULTS["rng_seed"],
) -> dict[str, float]:
    """IS from class-probability rows: log-probabilities are valid logits (softmax(log p) = p).

    Zeros are floored at 1e-300 in float64 so torch-fidelity's p·log p stays finite (0·-inf
    would be NaN); the change to p is below float64 resolution.
    """
    p = _features(probs, "probs").to(torch.float64)
    if (p < 0).any() or not torch.allclose(p.sum(1), torch.ones(len(p), dtype=p.dtype), atol=1e-6):
        raise ValueError("probs rows must be non-negative and sum to 1")
    return inception_score_from_logits(p.clamp_min(1e-300).log(), splits, shuffle, seed)


def fid_from_features(
    generated: np.ndarray | torch.Tensor,
    reference: np.ndarray | torch.Tensor,
    float64: bool = True,
) -> float:
    """Fréchet distance between Gaussians fitted to two feature sets, via torch-fidelity.
    ``float64``: fit the Gaussians in float64 (False: in the features' own precision, as
    torch-fidelity's pipeline does, so its published numbers are reproduced to the bit)."""
    a, b = _features(generated, "generated features"), _features(reference, "reference features")
    if a.shape[1] != b.shape[1] or len(a) < 2 or len(b) < 2:
        raise ValueError(
            f"feature sets need the same width and >= 2 rows each; got {tuple(a.shape)}, "
            f"{tuple(b.shape)}"
        )
    if float64:
        a, b = a.to(torch.float64), b.to(torch.float64)
    s1, s2 = fid_features_to_statistics(a), fid_features_to_statistics(b)
    return float(fid_statistics_to_metric(s1, s2, False)["frechet_inception_distance"])


def kid_from_features(
    generated: np.ndarray | torch.Tensor,
    reference: np.ndarray | torch.Tensor,
    subsets: int = DEFAULTS["kid_subsets"],
    subset_size: int = DEFAULTS["kid_subset_size"],
    seed: int = DEFAULTS["rng_seed"],
) -> dict[str, float]:
    """KID (unbiased MMD² with torch-fidelity's cubic polynomial kernel), mean/std over subsets."""
    a, b = _features(generated, "generated features"), _features(reference, "reference features")
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"feature widths differ: {a.shape[1]} vs {b.shape[1]}")
    if subset_size < 2 or min(len(a), len(b)) < subset_size:
        raise ValueError(
            f"KID subset_size {subset_size} needs >= 2 and at most the smaller set "
            f"({min(len(a), len(b))} rows)"
        )
    r = kid_features_to_metric(
        a, b, kid_subsets=subsets, kid_subset_size=subset_size, rng_seed=seed, verbose=False
    )
    return {"mean": r["kernel_inception_distance_mean"], "std": r["kernel_inception_distance_std"]}


def prc_from_features(
    generated: np.ndarray | torch.Tensor,
    reference: np.ndarray | torch.Tensor,
    neighborhood: int = DEFAULTS["prc_neighborhood"],
) -> dict[str, float]:
    """Improved precision/recall (Kynkäänniemi et al. 2019) via torch-fidelity."""
    a, b = _features(generated, "generated features"), _features(reference, "reference features")
    if a.shape[1] != b.shape[1] or min(len(a), len(b)) <= neighborhood:
        raise ValueError(
            f"PRC needs equal widths and more than {neighborhood} rows per set; got "
            f"{tuple(a.shape)}, {tuple(b.shape)}"
        )
    return prc_features_to_metric(a, b, prc_neighborhood=neighborhood, verbose=False)
