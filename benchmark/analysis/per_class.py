"""A method against a baseline class by class (rliable's runs x tasks: classes are tasks,
seeds are runs), Holm-corrected across the classes, and the verdict on a paper's claim.

The greed paper claims that restricting greed reduces mode collapse class by class. With 3
seeds per class, each class gives one Welch test per metric; testing 10 classes inflates the
chance of a false "better" ten-fold, so the p-values of one metric are Holm-corrected across
the classes (family-wise error at ``alpha`` per metric). The verdict reads the corrected tests:
a metric *supports* the claim when the method is significantly better in at least one class
and significantly worse in none; it *contradicts* it when significantly worse in one and
better in none; otherwise it is *inconclusive* (at n = 3 per group most true differences of a
few hundredths of MS-SSIM are).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from .stats import MIN_N_TEST, holm, metric_direction, probability_of_improvement, welch_p

PER_CLASS_COLUMNS = [
    "metric",
    "class",
    "n_new",
    "n_base",
    "mean_new",
    "mean_base",
    "diff",
    "better",
    "p_welch",
    "p_holm",
    "significant",
]


def per_class_compare(
    df: pd.DataFrame, method: str, baseline: str, metrics: Sequence[str], alpha: float = 0.05
) -> pd.DataFrame:
    """One row per (metric, class): means over seeds, the difference (method - baseline),
    whether it points the metric's better way, Welch's p and its Holm correction across the
    classes of that metric. ``df``: one row per (method, class, seed)."""
    rows = []
    classes = sorted(df["class"].dropna().unique(), key=str)
    for metric in metrics:
        direction = metric_direction(metric)
        block = []
        for cls in classes:
            at = df[df["class"] == cls]
            x = at.loc[at["method"] == method, metric].dropna().to_numpy(float)
            y = at.loc[at["method"] == baseline, metric].dropna().to_numpy(float)
            diff = float(x.mean() - y.mean()) if x.size and y.size else np.nan
            testable = x.size >= MIN_N_TEST and y.size >= MIN_N_TEST
            block.append(
                {
                    "metric": metric,
                    "class": cls,
                    "n_new": x.size,
                    "n_base": y.size,
                    "mean_new": float(x.mean()) if x.size else np.nan,
                    "mean_base": float(y.mean()) if y.size else np.nan,
                    "diff": diff,
                    "better": bool(diff < 0 if direction == "lower" else diff > 0),
                    "p_welch": welch_p(x, y)[0] if testable else np.nan,
                }
            )
        adjusted = holm([r["p_welch"] for r in block])
        for r, p in zip(block, adjusted, strict=True):
            r["p_holm"] = float(p)
            r["significant"] = bool(p < alpha)
        rows += block
    return pd.DataFrame(rows, columns=PER_CLASS_COLUMNS)


def average_probability_of_improvement(
    df: pd.DataFrame,
    method: str,
    baseline: str,
    metric: str,
    n_boot: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
) -> tuple[float, float, float]:
    """rliable's average probability of improvement: P(a run of ``method`` beats a run of
    ``baseline`` on ``metric``, ties half) within each class, averaged over the classes, with a
    stratified bootstrap interval (each class's seeds resampled, per method). One number for a
    claim across classes, where three seeds leave each class's own test without power.
    (point, low, high); NaN where no class has runs of both. Written here, not taken from
    rliable: it pins arch == 5.3.0 (a 2022 release) and brings absl-py, for 20 lines."""
    direction = metric_direction(metric)
    pairs = []
    for _, at in df.groupby("class", sort=True):
        x = at.loc[at["method"] == method, metric].dropna().to_numpy(float)
        y = at.loc[at["method"] == baseline, metric].dropna().to_numpy(float)
        if x.size and y.size:
            pairs.append((x, y))
    if not pairs:
        return np.nan, np.nan, np.nan
    point = float(np.mean([probability_of_improvement(x, y, direction) for x, y in pairs]))
    rng = np.random.default_rng(seed)
    boots = [
        np.mean(
            [
                probability_of_improvement(rng.choice(x, x.size), rng.choice(y, y.size), direction)
                for x, y in pairs
            ]
        )
        for _ in range(n_boot)
    ]
    tail = 50 * (1 - confidence)
    low, high = np.percentile(boots, [tail, 100 - tail])
    return point, float(low), float(high)


def metric_verdicts(table: pd.DataFrame) -> pd.DataFrame:
    """Per metric: classes significantly better / worse after Holm, and the verdict."""
    out = []
    for metric, g in table.groupby("metric", sort=False):
        sig = g[g["significant"]]
        better, worse = int(sig["better"].sum()), int((~sig["better"]).sum())
        if better and not worse:
            verdict = "supports"
        elif worse and not better:
            verdict = "contradicts"
        else:
            verdict = "inconclusive"
        out.append(
            {
                "metric": metric,
                "classes": len(g),
                "n per group": f"{int(g['n_new'].min())}-{int(g['n_new'].max())}",
                "better (Holm)": better,
                "worse (Holm)": worse,
                "classes pointing better": int(g["better"].sum()),
                "verdict": verdict,
            }
        )
    return pd.DataFrame(out)


def claim_verdict(verdicts: pd.DataFrame, claim_metrics: Sequence[str]) -> str:
    """The claim over the metrics that measure it: supported when at least one supports it
    and none contradicts it, not supported when one contradicts it, else inconclusive."""
    v = verdicts[verdicts["metric"].isin(claim_metrics)]
    if (v["verdict"] == "contradicts").any():
        return "not supported"
    if (v["verdict"] == "supports").any():
        return "supported"
    return "inconclusive"


#: the measures a "reduces mode collapse" claim is tested on: the final MS-SSIM and the
#: collapse-over-training measures (FID is reported beside them, not part of the claim)
COLLAPSE_CLAIM = ("ms_ssim", "collapsed_share", "ms_ssim_worst_last_half", "collapse_episodes")


def claim_report(
    df: pd.DataFrame, method: str, baseline: str, metrics: Sequence[str], alpha: float = 0.05
) -> tuple[str, pd.DataFrame]:
    """`bench compare` on a per-class suite: the class-by-class table of the collapse
    measures and FID, the per-metric verdicts, and the verdict on the claim, as text; and the
    full per-class table (every metric) for the CSV."""
    table = per_class_compare(df, method, baseline, metrics, alpha)
    claim = [m for m in COLLAPSE_CLAIM if m in metrics]
    shown = [*claim, *(m for m in ("fid",) if m in metrics)]
    verdicts = metric_verdicts(table[table["metric"].isin(shown)])
    pooled = [average_probability_of_improvement(df, method, baseline, m) for m in verdicts.metric]
    verdicts["P(better), mean over classes [95 % CI]"] = [
        "{:.2f} [{:.2f}, {:.2f}]".format(*p) for p in pooled
    ]
    n = int(table["n_new"].min()) if len(table) else 0
    text = "\n".join(
        [
            "",
            f"{method} against {baseline}, class by class (Welch's t, Holm across the classes "
            f"of each metric, alpha {alpha}):",
            table[table["metric"].isin(shown)].to_markdown(index=False, floatfmt=".4g"),
            "",
            verdicts.to_markdown(index=False),
            "",
            f"Verdict on the claim that {method} reduces mode collapse against {baseline} "
            f"(on {', '.join(claim)}; lower is less collapse): "
            f"{claim_verdict(verdicts, claim)} at n = {n} seeds per class.",
        ]
    )
    return text, table.assign(method=method, baseline=baseline)
