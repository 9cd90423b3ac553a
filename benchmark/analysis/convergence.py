"""Did a run converge? A documented plateau rule on its evaluation curve (evals.csv).

The rule, per metric: take the evaluation points of the last half of training and split them
into two equal windows (the third and the fourth quarter of the points). The metric has
*plateaued* when the medians of the two windows differ by at most its tolerance:

    |median(Q4) - median(Q3)| <= tol(metric)

``TOLERANCES`` gives tol: 4 % of the modes for ``modes_covered`` but at least half a mode (one
mode of 25; of 8 modes, any change of the typical count; 40 of the 1,000 stacked triples), 2
percentage points for ``hq_fraction``, 0.03 nats for ``reverse_kl``, 0.05 nats for the stacked
suites' ``kl``. Image suites: 0.03 for ``precision`` and ``recall`` (a k-NN fraction on 1,000
samples moves by about that between evaluations of one generator), 0.02 for ``ms_ssim`` and,
for ``fid``, 10 % of the third quarter's median (FID's scale runs from 1 to thousands, so an
absolute tolerance would mean nothing). A run converged when
every tolerated metric plateaued and no value in the last half is NaN (a diverged run never
converged). It needs at least 4 points in the last half (``n_evals`` >= 8); with fewer the
convergence is *not measured*, and tables say so rather than guess.

Why medians of windows rather than a last-point slope or means: a GAN's curve is noisy (a mode
missed at one evaluation, a dip right after DynGAN/SCGAN re-cluster), and one such point should
not read as movement, while a curve still rising, or a mode lost for good, moves the median of
the last window. (Means were used first; on ring8 they flagged runs whose count sat at 8 of 8
with one evaluation at 7.)
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

#: metric -> tolerance; a callable of the number of modes for mode counts
TOLERANCES: Mapping[str, float] = {
    "hq_fraction": 0.02,
    "reverse_kl": 0.03,
    "kl": 0.05,
    "precision": 0.03,
    "recall": 0.03,
    "ms_ssim": 0.02,
}
#: metric -> tolerance as a fraction of the third quarter's median
RELATIVE_TOLERANCES: Mapping[str, float] = {"fid": 0.10}
MODES_TOLERANCE = 0.04  # of the number of modes
MIN_MODES_TOLERANCE = 0.5
MIN_POINTS = 4  # in the last half of the curve

#: what each verdict of :func:`converged` means, for captions
MARKS = {
    "converged": "",
    "still moving": "†",
    "oscillating": "‡",
    "not measured": "?",
}
#: the verdicts of a run that did not converge
NOT_CONVERGED = ("still moving", "oscillating")
#: a curve that failed the plateau rule oscillates when its last quarter spans more than this
#: many times the drift between the quarters' medians (a steady rise spans about 1x)
OSCILLATION_RATIO = 2.0


def tolerance(metric: str, n_modes: int | None = None) -> tuple[float, bool] | None:
    """``metric``'s tolerance and whether it is relative (a fraction of the third quarter's
    median); None when the rule does not read that metric."""
    if metric == "modes_covered":
        if n_modes is None:
            return None
        return max(MIN_MODES_TOLERANCE, MODES_TOLERANCE * n_modes), False
    if metric in RELATIVE_TOLERANCES:
        return RELATIVE_TOLERANCES[metric], True
    return (TOLERANCES[metric], False) if metric in TOLERANCES else None


def _windows(values: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """The third and fourth quarter of the points (the last half split in two), or None when
    the last half has fewer than ``MIN_POINTS``."""
    half = np.asarray(values, dtype=float)[len(values) // 2 :]
    if len(half) < MIN_POINTS:
        return None
    return half[: len(half) // 2], half[len(half) - len(half) // 2 :]


def plateaued(values: np.ndarray, tol: float, relative: bool = False) -> bool | None:
    """Whether the last half of ``values`` (in step order) is flat within ``tol`` (a fraction of
    the third quarter's median when ``relative``); None when there are too few points to tell."""
    windows = _windows(values)
    if windows is None:
        return None
    q3, q4 = windows
    if np.isnan(q3).any() or np.isnan(q4).any():
        return False
    allowed = tol * abs(np.median(q3)) if relative else tol
    return bool(abs(np.median(q4) - np.median(q3)) <= allowed)


def last_quarter_spread(values: np.ndarray) -> float:
    """max - min over the last quarter of the points (NaN with too few points or a NaN)."""
    windows = _windows(values)
    if windows is None or np.isnan(windows[1]).any():
        return float("nan")
    return float(np.ptp(windows[1]))


def curve_status(values: np.ndarray, tol: float, relative: bool = False) -> str:
    """ "converged", "not measured", or why not: "oscillating" when the last quarter spans more
    than ``OSCILLATION_RATIO`` times the drift between the two quarters' medians (the curve
    swings more than it moves), else "still moving" (a trend, or a diverged point)."""
    flat = plateaued(values, tol, relative)
    if flat is None:
        return "not measured"
    if flat:
        return "converged"
    q3, q4 = _windows(values)
    if np.isnan(q3).any() or np.isnan(q4).any():
        return "still moving"
    drift = abs(np.median(q4) - np.median(q3))
    return "oscillating" if np.ptp(q4) > OSCILLATION_RATIO * drift else "still moving"


def converged(evals: pd.DataFrame | None, n_modes: int | None = None) -> dict[str, str]:
    """Per metric of ``evals`` (columns step + metrics) with a tolerance: "converged", "still
    moving", "oscillating" or "not measured" (:func:`curve_status`)."""
    if evals is None or len(evals) == 0:
        return {}
    evals = evals.sort_values("step")
    out = {}
    for metric in evals.columns:
        rule = None if metric == "step" else tolerance(metric, n_modes)
        if rule is None:
            continue
        out[metric] = curve_status(evals[metric].to_numpy(), *rule)
    return out


def run_converged(status: Mapping[str, str]) -> str | None:
    """The verdict on a whole run from its per-metric verdicts: oscillating or still moving if
    any metric is (oscillating first), converged if every one converged, else not measured
    (None when it has no curve at all). Metrics with no curve of their own (the diversity
    columns) carry this verdict."""
    if not status:
        return None
    for word in ("oscillating", "still moving"):
        if word in status.values():
            return word
    return "converged" if set(status.values()) == {"converged"} else "not measured"


def cell_mark(statuses: list[str | None]) -> str:
    """The mark of a table cell holding runs with these statuses (None: no curve recorded): †
    if any run is still moving, ‡ if any oscillates (both when both), ? if any was not
    measured, else nothing."""
    moving = "".join(MARKS[w] for w in NOT_CONVERGED if w in statuses)
    if moving:
        return moving
    if any(s in (None, "not measured") for s in statuses):
        return MARKS["not measured"]
    return ""


CAPTION = (
    "† = at least one run in the cell is still moving, ‡ = at least one oscillates, by the "
    "plateau rule (benchmark/analysis/convergence.py: the medians of the last two quarters of its "
    "evaluation curve differ by more than the metric's tolerance; it oscillates when its last "
    "quarter spans more than twice that drift); ? = convergence not measured (no evaluation "
    "curve, or fewer than 8 points on it). Metrics with no curve of their own (the diversity and "
    "collapse-over-training columns) carry the run's mark: converged only when every metric on "
    "its curve converged."
)
