"""The long per-run table every statistic reads: one row per (method, seed), columns ``method``,
``seed`` and one float column per metric (``tables.per_seed`` builds it). Checked in one place so
`compare`, `summarize` and the comparison figure reject the same bad tables with the same words."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd


def validate_runs(df: pd.DataFrame, metrics: Sequence[str] | None = None) -> list[str]:
    """Check the long per-run table; return the metric columns to use.

    ``metrics=None`` means every numeric column other than ``seed``.
    """
    if not isinstance(df, pd.DataFrame):
        raise ValueError(f"expected a pandas DataFrame of per-run results, got {type(df).__name__}")
    missing = [c for c in ("method", "seed") if c not in df.columns]
    if missing:
        raise ValueError(
            f"per-run table lacks column(s) {missing}; it needs 'method', 'seed' and metric columns"
        )
    if df.empty:
        raise ValueError("per-run table is empty; it needs at least one row per method")
    if df["method"].isna().any():
        raise ValueError("per-run table has rows with an empty 'method'; every run needs one")
    if metrics is None:
        metrics = [
            c
            for c in df.columns
            if c not in ("method", "seed") and pd.api.types.is_numeric_dtype(df[c])
        ]
        if not metrics:
            raise ValueError("per-run table has no numeric metric columns besides 'seed'")
    if isinstance(metrics, str):
        metrics = [metrics]
    metrics = list(metrics)
    if not metrics:
        raise ValueError("no metrics given; name at least one metric column")
    if len(set(metrics)) != len(metrics):
        raise ValueError(f"metrics {metrics} contain duplicates; name each metric once")
    absent = [m for m in metrics if m not in df.columns]
    if absent:
        have = [c for c in df.columns if c not in ("method", "seed")]
        raise ValueError(f"metric column(s) {absent} not in the per-run table; it has {have}")
    for m in metrics:
        col = df[m]
        if not pd.api.types.is_numeric_dtype(col) or pd.api.types.is_bool_dtype(col):
            raise ValueError(f"metric column {m!r} is not numeric (dtype {col.dtype}); use floats")
        if np.isinf(col.to_numpy(dtype=float)).any():
            raise ValueError(f"metric column {m!r} has infinite values; only finite floats or NaN")
    dup = df.duplicated(subset=["method", "seed"])
    if dup.any():
        first = df.loc[dup, ["method", "seed"]].iloc[0].tolist()
        raise ValueError(
            f"per-run table has duplicate (method, seed) rows, e.g. {first}; one row per run"
        )
    return metrics
