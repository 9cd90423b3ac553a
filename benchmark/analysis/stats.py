"""Seed statistics: summaries with bootstrap CIs, and a new method compared against baselines.

A GAN result from 3-5 seeds is noisy, so every comparison reports the effect size (mean
difference with a bootstrap CI, probability of improvement) next to two tests (Welch's t and
Mann-Whitney U), Holm-corrected across the metrics compared, and never a test on fewer than
3 seeds per group.

Input everywhere is the long per-run table: one row per (method, seed), columns ``method``,
``seed`` and one float column per metric (``tables.per_seed`` builds it). NaN cells (a metric a
run did not produce) are dropped per metric, so ``n`` can differ between metrics.

Bootstrap CIs use ``scipy.stats.bootstrap(method="percentile")``: BCa needs a jackknife
acceleration that is 0/0 on constant data (scipy warns and returns NaN), while the percentile
interval gives [c, c] for a constant sample and works for n = 2..3. Percentile intervals from
a handful of seeds are too narrow (they cannot be wider than the sample's range), so read them
as "spread of the seeds", not as a calibrated 95 % CI."""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd
from scipy import stats as st

from ...metrics.registry import DIRECTIONS
from ...metrics.registry import METRICS as REGISTRY
from .per_run import validate_runs

#: Which way is better for each metric the benchmark reports (metrics/registry.py).
METRIC_DIRECTIONS: dict[str, str] = {n: m.direction for n, m in REGISTRY.items()}


NO_TEST_NOTE = "n<3: no test possible"


MIN_N_TEST = 3


def metric_direction(metric: str, direction: str | None = None) -> str:
    """``direction`` if given (validated), else the metric's entry in METRIC_DIRECTIONS."""
    if direction is not None:
        if direction not in DIRECTIONS:
            raise ValueError(
                f"direction {direction!r} for metric {metric!r} is invalid; use 'higher' or 'lower'"
            )
        return direction
    try:
        return METRIC_DIRECTIONS[metric]
    except KeyError:
        known = ", ".join(sorted(METRIC_DIRECTIONS))
        raise ValueError(
            f"no known direction for metric {metric!r}; known metrics: {known}; "
            f"pass a direction ('higher' or 'lower') for it"
        ) from None


@dataclass(frozen=True)
class BootstrapConfig:
    """Bootstrap settings; a fixed seed makes every table reproducible byte for byte."""

    n_resamples: int = 9999
    confidence_level: float = 0.95
    seed: int = 0

    def __post_init__(self) -> None:
        if self.n_resamples < 100:
            raise ValueError(f"n_resamples={self.n_resamples} is too small; use at least 100")
        if not 0.0 < self.confidence_level < 1.0:
            raise ValueError(
                f"confidence_level={self.confidence_level} is invalid; use a value in (0, 1)"
            )


@dataclass(frozen=True)
class CompareConfig:
    """How ``compare`` decides significance.

    ``primary_test``: whose p-value is Holm-corrected and drives ``significant`` (Welch by
    default: with 3 vs 3 seeds the exact Mann-Whitney p can never go below 0.1).
    ``holm_family``: "baseline" corrects across the metrics compared against each baseline,
    "all" across every row of the table (more conservative with several baselines).
    """

    primary_test: Literal["welch", "mannwhitney"] = "welch"
    holm_family: Literal["baseline", "all"] = "baseline"
    bootstrap: BootstrapConfig = field(default_factory=BootstrapConfig)

    def __post_init__(self) -> None:
        if self.primary_test not in ("welch", "mannwhitney"):
            raise ValueError(
                f"primary_test={self.primary_test!r} is invalid; use 'welch' or 'mannwhitney'"
            )
        if self.holm_family not in ("baseline", "all"):
            raise ValueError(
                f"holm_family={self.holm_family!r} is invalid; use 'baseline' or 'all'"
            )


def _values(df: pd.DataFrame, method: object, metric: str) -> np.ndarray:
    """Finite values of one metric for one method (NaN = run without that metric, dropped)."""
    v = df.loc[df["method"] == method, metric].to_numpy(dtype=float)
    return v[~np.isnan(v)]


def _methods(df: pd.DataFrame) -> list:
    """Methods in order of first appearance, so tables keep the caller's order."""
    return list(pd.unique(df["method"]))


def _mean_ci(x: np.ndarray, cfg: BootstrapConfig) -> tuple[float, float]:
    """Percentile bootstrap CI of the mean; NaN for n < 2 (nothing to resample)."""
    if x.size < 2:
        return math.nan, math.nan
    res = st.bootstrap(
        (x,),
        np.mean,
        n_resamples=cfg.n_resamples,
        confidence_level=cfg.confidence_level,
        method="percentile",
        rng=np.random.default_rng(cfg.seed),
    )
    return float(res.confidence_interval.low), float(res.confidence_interval.high)


def describe(df: pd.DataFrame, metrics: Sequence[str] | None = None) -> pd.DataFrame:
    """Mean, std (ddof=1) and n per (method, metric), long format; no resampling, so cheap."""
    metrics = validate_runs(df, metrics)
    rows = []
    for method in _methods(df):
        for m in metrics:
            x = _values(df, method, m)
            rows.append(
                {
                    "method": method,
                    "metric": m,
                    "mean": float(np.mean(x)) if x.size else math.nan,
                    "std": float(np.std(x, ddof=1)) if x.size >= 2 else math.nan,
                    "n": int(x.size),
                }
            )
    return pd.DataFrame(rows, columns=["method", "metric", "mean", "std", "n"])


def summarize(
    df: pd.DataFrame,
    metrics: Sequence[str] | None = None,
    bootstrap: BootstrapConfig | None = None,
) -> pd.DataFrame:
    """Per (method, metric): mean, std (ddof=1), n and the bootstrap CI of the mean.

    Columns: method, metric, mean, std, n, ci_low, ci_high. n < 2 gives NaN std and CI.
    """
    cfg = bootstrap or BootstrapConfig()
    out = describe(df, metrics)
    lows, highs = [], []
    for method, metric in zip(out["method"], out["metric"], strict=True):
        lo, hi = _mean_ci(_values(df, method, metric), cfg)
        lows.append(lo)
        highs.append(hi)
    out["ci_low"] = lows
    out["ci_high"] = highs
    return out


def probability_of_improvement(new: np.ndarray, base: np.ndarray, direction: str) -> float:
    """P(new beats base) over all pairs, ties counting half (rliable's definition).

    Equals the Mann-Whitney U of ``new`` divided by n_new * n_base for a higher-is-better
    metric; written out here because it must also work for n = 1 and all-tied samples.
    """
    if direction not in DIRECTIONS:
        raise ValueError(f"direction {direction!r} is invalid; use 'higher' or 'lower'")
    x = np.asarray(new, dtype=float)[:, None]
    y = np.asarray(base, dtype=float)[None, :]
    if x.size == 0 or y.size == 0:
        return math.nan
    wins = x > y if direction == "higher" else x < y
    return float(np.mean(wins + 0.5 * (x == y)))


def holm(pvalues: Sequence[float] | np.ndarray) -> np.ndarray:
    """Holm's step-down adjusted p-values; NaN entries stay NaN and are not counted in m.

    scipy (1.17) has no Holm: ``false_discovery_control`` does Benjamini-Hochberg/Yekutieli,
    which control the false discovery rate, not the family-wise error rate Holm controls.
    The procedure is three lines: sort, multiply the k-th smallest by (m - k + 1), and take a
    running maximum so adjusted p-values keep the order of the raw ones; clip at 1.
    """
    p = np.asarray(pvalues, dtype=float)
    if p.ndim != 1:
        raise ValueError(f"holm expects a 1-D sequence of p-values, got shape {p.shape}")
    ok = ~np.isnan(p)
    if ((p[ok] < 0) | (p[ok] > 1)).any():
        raise ValueError("holm got p-values outside [0, 1]; p-values must lie in [0, 1]")
    out = np.full(p.shape, np.nan)
    q = p[ok]
    m = q.size
    if m == 0:
        return out
    order = np.argsort(q, kind="stable")
    adjusted = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * q[order]))
    res = np.empty(m)
    res[order] = adjusted
    out[ok] = res
    return out


def _diff_ci(x: np.ndarray, y: np.ndarray, cfg: BootstrapConfig) -> tuple[float, float]:
    """Percentile bootstrap CI of mean(x) - mean(y), each group resampled independently."""
    if x.size < 2 or y.size < 2:
        return math.nan, math.nan

    def mean_diff(a: np.ndarray, b: np.ndarray, axis: int = -1) -> np.ndarray:
        return np.mean(a, axis=axis) - np.mean(b, axis=axis)

    res = st.bootstrap(
        (x, y),
        mean_diff,
        paired=False,
        vectorized=True,
        n_resamples=cfg.n_resamples,
        confidence_level=cfg.confidence_level,
        method="percentile",
        rng=np.random.default_rng(cfg.seed),
    )
    return float(res.confidence_interval.low), float(res.confidence_interval.high)


def welch_p(x: np.ndarray, y: np.ndarray) -> tuple[float, str]:
    """Welch's p-value, and a note where Welch's t is undefined: both groups constant.

    Equal constants give p = 1. Different constants make t infinite, and its p of 0 would claim
    certainty from three seeds of a count metric (modes, collapse episodes) that happen to agree
    within each method. Their p comes instead from the exact permutation test of the difference
    in means, which needs no spread: of the C(n + m, n) ways to split the n + m values only the
    observed one is as extreme, so the two-sided p is 2 / C(n + m, n): 0.1 for three seeds
    against three, the smallest p a two-sided exact test of 3 against 3 can give. Written
    in closed form because ``scipy.stats.permutation_test`` enumerates all C(n + m, n) splits
    (tests/test_stats.py checks the two agree). One constant group is fine for Welch.
    """
    if np.ptp(x) == 0 and np.ptp(y) == 0:
        if x[0] == y[0]:
            return 1.0, "both groups constant and equal"
        p = min(1.0, 2.0 / math.comb(x.size + y.size, x.size))
        return p, "both groups constant: Welch's t undefined, p of the exact permutation test"
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", message="Precision loss occurred", category=RuntimeWarning
        )
        return float(st.ttest_ind(x, y, equal_var=False).pvalue), ""


COMPARE_COLUMNS = [
    "method",
    "baseline",
    "metric",
    "direction",
    "n_new",
    "n_base",
    "mean_new",
    "mean_base",
    "diff",
    "diff_ci_low",
    "diff_ci_high",
    "prob_improvement",
    "p_welch",
    "p_mwu",
    "p_holm",
    "significant",
    "better",
    "note",
]


def check_alpha(alpha: float) -> None:
    """The significance level must be a probability strictly between 0 and 1."""
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha={alpha} is invalid; use a value in (0, 1), e.g. 0.05")


def compare(
    df: pd.DataFrame,
    new: str,
    baselines: Sequence[str] | None = None,
    metrics: Sequence[str] | None = None,
    alpha: float = 0.05,
    *,
    directions: Mapping[str, str] | None = None,
    config: CompareConfig | None = None,
) -> pd.DataFrame:
    """One row per (baseline, metric): is ``new`` better than the baseline, and how sure are we.

    ``diff`` is mean_new - mean_base (raw sign); ``prob_improvement`` and ``better`` follow the
    metric's direction. ``p_holm`` is the primary test's p (``config.primary_test``) after Holm
    across the family (``config.holm_family``); ``significant`` is ``p_holm < alpha``. With
    fewer than 3 seeds in a group no test is run: p-values NaN, ``note`` says why, verdict
    "n.s.". ``baselines=None`` means every other method in the table.
    """
    cfg = config or CompareConfig()
    check_alpha(alpha)
    metrics = validate_runs(df, metrics)
    methods = _methods(df)
    if new not in methods:
        raise ValueError(f"method {new!r} is not in the per-run table; it has {methods}")
    if baselines is None:
        baselines = [m for m in methods if m != new]
    elif isinstance(baselines, str):
        baselines = [baselines]
    baselines = list(baselines)
    if not baselines:
        raise ValueError(f"no baselines to compare {new!r} against; the table has only {methods}")
    if new in baselines:
        raise ValueError(f"method {new!r} is both the new method and a baseline; list it once")
    absent = [b for b in baselines if b not in methods]
    if absent:
        raise ValueError(f"baseline(s) {absent} not in the per-run table; it has {methods}")
    directions = dict(directions or {})
    dirs = {m: metric_direction(m, directions.get(m)) for m in metrics}

    rows = []
    for base in baselines:
        for m in metrics:
            x, y = _values(df, new, m), _values(df, base, m)
            notes = []
            mean_new = float(np.mean(x)) if x.size else math.nan
            mean_base = float(np.mean(y)) if y.size else math.nan
            lo, hi = _diff_ci(x, y, cfg.bootstrap)
            p_welch = p_mwu = math.nan
            if x.size < MIN_N_TEST or y.size < MIN_N_TEST:
                notes.append(NO_TEST_NOTE)
            else:
                p_welch, welch_note = welch_p(x, y)
                if welch_note:
                    notes.append(welch_note)
                p_mwu = float(st.mannwhitneyu(x, y, alternative="two-sided").pvalue)
            rows.append(
                {
                    "method": new,
                    "baseline": base,
                    "metric": m,
                    "direction": dirs[m],
                    "n_new": int(x.size),
                    "n_base": int(y.size),
                    "mean_new": mean_new,
                    "mean_base": mean_base,
                    "diff": mean_new - mean_base,
                    "diff_ci_low": lo,
                    "diff_ci_high": hi,
                    "prob_improvement": probability_of_improvement(x, y, dirs[m]),
                    "p_welch": p_welch,
                    "p_mwu": p_mwu,
                    "note": "; ".join(notes),
                }
            )
    table = pd.DataFrame(rows)
    primary = table["p_welch" if cfg.primary_test == "welch" else "p_mwu"].to_numpy(dtype=float)
    p_holm = np.full(len(table), np.nan)
    if cfg.holm_family == "all":
        p_holm[:] = holm(primary)
    else:
        for base in baselines:
            idx = np.flatnonzero(table["baseline"].to_numpy() == base)
            p_holm[idx] = holm(primary[idx])
    table["p_holm"] = p_holm
    table["significant"] = np.nan_to_num(p_holm, nan=1.0) < alpha
    sign = np.where(table["direction"] == "higher", 1.0, -1.0) * table["diff"].to_numpy()
    table["better"] = np.select(
        [table["significant"] & (sign > 0), table["significant"] & (sign < 0)],
        ["better", "worse"],
        default="n.s.",
    )
    table = table[COMPARE_COLUMNS]
    table.attrs.update(alpha=alpha, primary_test=cfg.primary_test, holm_family=cfg.holm_family)
    return table
