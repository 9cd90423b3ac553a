"""Collapse as it unfolds: what a run's evaluation curve says that its final snapshot hides.

A GAN on the grid can hold 25 modes at one evaluation and 11 at the next; its last snapshot is
then a coin toss. From the mode-coverage curve every toy run records (evals.csv: ``step``,
``modes_covered`` and ``covered_mask``, bit i set when mode i is covered), per run:

* ``modes_min_last_half``      the fewest modes at any evaluation in the last half of training
                               (the points from index n // 2 on, the plateau rule's half);
* ``mode_loss_events``         the number of (mode, consecutive evaluations) pairs in which a
                               mode covered at one evaluation is not covered at the next;
* ``full_coverage_share``      the share of evaluations at which every mode is covered;
* ``first_full_coverage_step`` the first evaluation step with every mode covered (NaN: never).

Modes at the end are the run's final ``modes_covered``. Without ``covered_mask`` (curves
recorded before it existed), mode-loss events are counted from the counts alone as the sum of
the drops, a lower bound: a mode lost while another is found goes unseen.
"""

from __future__ import annotations

import numpy as np

NAMES = (
    "modes_min_last_half",
    "mode_loss_events",
    "full_coverage_share",
    "first_full_coverage_step",
)


def lost_modes(masks: np.ndarray) -> int:
    """Modes covered at one evaluation and not at the next, summed over consecutive pairs."""
    masks = [int(m) for m in masks]
    return sum(bin(a & ~b).count("1") for a, b in zip(masks[:-1], masks[1:], strict=True))


def mode_dynamics(
    steps: np.ndarray, modes: np.ndarray, n_modes: int, masks: np.ndarray | None = None
) -> dict[str, float]:
    """The four measures of one run's curve (points in step order; NaN points are skipped,
    so a diverged evaluation neither covers nor loses a mode)."""
    steps, modes = np.asarray(steps, dtype=float), np.asarray(modes, dtype=float)
    if len(steps) != len(modes) or (masks is not None and len(masks) != len(modes)):
        raise ValueError("steps, modes and masks must have one entry per evaluation")
    order = np.argsort(steps, kind="stable")
    steps, modes = steps[order], modes[order]
    ok = ~np.isnan(modes)
    if masks is not None:
        masks = np.asarray(masks, dtype=float)[order]
        ok &= ~np.isnan(masks)
    steps, modes = steps[ok], modes[ok]
    if len(modes) == 0:
        return dict.fromkeys(NAMES, float("nan"))
    if masks is not None:
        losses = lost_modes(masks[ok])
    else:
        losses = int(np.clip(modes[:-1] - modes[1:], 0, None).sum())
    full = modes >= n_modes
    return {
        "modes_min_last_half": float(modes[len(modes) // 2 :].min()),
        "mode_loss_events": float(losses),
        "full_coverage_share": float(full.mean()),
        "first_full_coverage_step": float(steps[full][0]) if full.any() else float("nan"),
    }
