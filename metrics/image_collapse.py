"""Collapse over training on a per-class image suite: what a run's MS-SSIM curve says that its
final snapshot hides.

A GAN on one digit class can swing every ~1,000 steps between a collapsed state (MS-SSIM 0.80,
recall 0.03) and a diverse one (MS-SSIM 0.55, recall 0.65) while a WGAN settles; its last
snapshot is then a coin toss. From the curve every run records (evals.csv: ``step`` and
``ms_ssim``) and the class's ground truth (``ms_ssim_real``: the MS-SSIM of the class's own
images, the greed paper's reference row), per run:

* ``collapsed_share``         the share of evaluations in a collapsed state;
* ``ms_ssim_worst_last_half`` the highest (least diverse) MS-SSIM at any evaluation in the
                              last half of training (points from index n // 2 on);
* ``collapse_episodes``       the number of maximal stretches of consecutive collapsed
                              evaluations (a run collapsed at its first point counts one).

The rule: an evaluation is collapsed when its MS-SSIM exceeds the class's ground truth by more
than ``MARGIN`` (0.1). One rule, on the greed paper's own measure and against its own
reference, so it needs no second threshold. Why 0.1: it is half the excess of the collapsed
states seen on the digits (0.80 against 0.60), and 20 times the standard error of an MS-SSIM
estimate over the suites' pair counts (about 0.005), so sampling noise alone never crosses it.
A recall floor was the alternative; recall needs a feature extractor's manifold and moves with
sample quality as well as diversity, which MS-SSIM against the class's own images does not.
"""

from __future__ import annotations

import numpy as np

NAMES = ("collapsed_share", "ms_ssim_worst_last_half", "collapse_episodes")

#: MS-SSIM above the class's ground truth by more than this is a collapsed state
MARGIN = 0.1


def collapsed(ms_ssim: np.ndarray, ms_ssim_real: float, margin: float = MARGIN) -> np.ndarray:
    """Which evaluations are in a collapsed state."""
    return np.asarray(ms_ssim, dtype=float) > ms_ssim_real + margin


def episodes(flags: np.ndarray) -> int:
    """Maximal stretches of consecutive True values."""
    f = np.asarray(flags, dtype=bool)
    return int(f[0] + np.count_nonzero(f[1:] & ~f[:-1])) if len(f) else 0


def image_dynamics(
    steps: np.ndarray, ms_ssim: np.ndarray, ms_ssim_real: float, margin: float = MARGIN
) -> dict[str, float]:
    """The three measures of one run's curve (points in step order; NaN points skipped)."""
    steps, ms = np.asarray(steps, dtype=float), np.asarray(ms_ssim, dtype=float)
    if len(steps) != len(ms):
        raise ValueError("steps and ms_ssim must have one entry per evaluation")
    ms = ms[np.argsort(steps, kind="stable")]
    ms = ms[~np.isnan(ms)]
    if len(ms) == 0 or not np.isfinite(ms_ssim_real):
        return dict.fromkeys(NAMES, float("nan"))
    flags = collapsed(ms, ms_ssim_real, margin)
    return {
        "collapsed_share": float(flags.mean()),
        "ms_ssim_worst_last_half": float(ms[len(ms) // 2 :].max()),
        "collapse_episodes": float(episodes(flags)),
    }
