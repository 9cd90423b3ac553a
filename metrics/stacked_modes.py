"""Mode counting on stacked digits (Stacked MNIST, VEEGAN/PacGAN): each generated image's three
channels are read by a digit classifier, and the label triple (one of 1,000) is its mode.

Pure functions of the predicted triples, so the same count serves any classifier; bad input is a
``ValueError`` naming what was wrong (the commands turn it into one line).
"""

from __future__ import annotations

import math

import numpy as np
import torch

#: 10 digits per channel, 3 channels
N_STACKED_MODES = 1000


def triple_ids(triples) -> np.ndarray:
    """Label triples (N, 3) with digits 0..9 -> mode ids 100 r + 10 g + b (N,); ids (N,) in
    0..999 pass through."""
    t = np.asarray(torch.as_tensor(triples).cpu().numpy() if torch.is_tensor(triples) else triples)
    if t.size and not np.issubdtype(t.dtype, np.integer):
        raise ValueError(f"predicted triples must be integers; got dtype {t.dtype}")
    t = t.astype(np.int64)
    if t.ndim == 2 and t.shape[1] == 3:
        if t.size and (t.min() < 0 or t.max() > 9):
            raise ValueError("predicted triples must hold digits 0..9")
        return t[:, 0] * 100 + t[:, 1] * 10 + t[:, 2]
    if t.ndim == 1:
        if t.size and (t.min() < 0 or t.max() >= N_STACKED_MODES):
            raise ValueError(f"mode ids must lie in 0..{N_STACKED_MODES - 1}")
        return t
    raise ValueError(f"predicted triples must be (N, 3) digits or (N,) mode ids; got {t.shape}")


def _log_base(base: float | str) -> tuple[float, float]:
    if base in ("e", math.e):
        return math.e, 1.0
    try:
        b = float(base)
    except (TypeError, ValueError):
        b = float("nan")
    if not math.isfinite(b) or b <= 0 or b == 1:
        raise ValueError(
            f"invalid log base {base!r}; valid: 'e' (default), 10, 2 or any b > 0, b != 1"
        )
    return b, math.log(b)


def stacked_modes(pred_triples, base: float | str = "e", min_count: int = 1) -> dict[str, float]:
    """Modes covered (predicted triples seen at least ``min_count`` times; 1 = any sample, the
    PacGAN/VEEGAN rule) and KL(p || uniform over 1000) in ``base`` over all samples.

    Returns ``{'modes_covered': int, 'kl': float, 'kl_base': float}`` where ``kl_base`` is the
    logarithm base used (``math.e`` for natural log, 10.0 for log10)."""
    if min_count < 1:
        raise ValueError(f"min_count must be at least 1; got {min_count}")
    ids = triple_ids(pred_triples)
    if len(ids) == 0:
        raise ValueError("no predicted triples; need at least one generated sample")
    b, ln_b = _log_base(base)
    counts = np.bincount(ids, minlength=N_STACKED_MODES).astype(np.float64)
    p = counts[counts > 0] / len(ids)
    kl = float(np.sum(p * np.log(N_STACKED_MODES * p)) / ln_b)
    covered = int((counts >= min_count).sum())
    return {"modes_covered": covered, "kl": max(kl, 0.0), "kl_base": b}
