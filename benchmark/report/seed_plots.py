"""The per-seed strip plot with bootstrap CIs beside `bench compare`'s table and in the report."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from ..analysis.per_run import validate_runs
from ..analysis.stats import METRIC_DIRECTIONS, BootstrapConfig, summarize
from ..store.atomic import atomic_write


def plot_seeds(
    df: pd.DataFrame,
    metrics: Sequence[str] | None,
    path: str | Path,
    *,
    bootstrap: BootstrapConfig | None = None,
    ncols: int = 3,
) -> Path:
    """One panel per metric: each seed as a dot, the mean with its bootstrap CI as a bar.

    The bars come from ``summarize``, so the figure shows the same CI as the tables. Drawn on
    an Agg canvas owned by this figure (no pyplot state), written atomically as PNG.
    """
    path = Path(path)
    if path.suffix.lower() != ".png":
        raise ValueError(f"plot path {str(path)!r} must end in .png; only PNG is written")
    metrics = validate_runs(df, metrics)
    summary = summarize(df, metrics, bootstrap)
    methods = list(pd.unique(df["method"]))

    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    ncols = max(1, min(ncols, len(metrics)))
    nrows = math.ceil(len(metrics) / ncols)
    width = max(3.2, 0.9 * len(methods) + 1.5)
    fig = Figure(figsize=(width * ncols, 3.6 * nrows), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    order = [str(m) for m in methods]
    pos = np.arange(len(methods))
    for ax, metric in zip(axes, metrics, strict=False):
        # seaborn's stripplot draws its jitter from numpy's global generator (no seed argument),
        # so a regenerated figure would differ with unchanged numbers: jitter from a fixed one
        jitter = np.random.default_rng(0)
        for i, m in enumerate(methods):
            y = df.loc[df["method"] == m, metric].to_numpy(dtype=float)
            x = i + jitter.uniform(-0.12, 0.12, len(y))
            ax.scatter(x, y, s=25, color="0.45", alpha=0.8, linewidths=0)
        ax.set_xticks(pos, order)
        s = summary[summary["metric"] == metric].set_index("method").loc[methods]
        mean = s["mean"].to_numpy(dtype=float)
        # clipped: seeds with one value give a zero-width CI whose rounding can go below 0
        lo = np.clip(np.nan_to_num(mean - s["ci_low"].to_numpy(dtype=float), nan=0.0), 0, None)
        hi = np.clip(np.nan_to_num(s["ci_high"].to_numpy(dtype=float) - mean, nan=0.0), 0, None)
        ax.errorbar(
            pos + 0.25, mean, yerr=[lo, hi], fmt="o", color="C3", capsize=4, label="mean, 95% CI"
        )
        direction = METRIC_DIRECTIONS.get(metric)
        arrow = {"higher": " (↑ better)", "lower": " (↓ better)"}.get(direction or "", "")
        ns = ", ".join(f"{m}: n={n}" for m, n in zip(order, s["n"], strict=True))
        ax.set_title(f"{metric}{arrow}\n{ns}", fontsize=9)
        ax.set_xlabel("")
        ax.tick_params(axis="x", labelrotation=30)
    for ax in axes[len(metrics) :]:
        ax.set_visible(False)
    axes[0].legend(loc="best", fontsize=8)

    return atomic_write(path, lambda f: fig.savefig(f, format="png", dpi=110))
