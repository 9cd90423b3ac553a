"""Partition figures for methods that record a partition history (`dyngan`, `scgan`; the
run's partitions.csv): the real training points coloured by their part at a few check steps,
and the number of parts and of collapsed samples over training.

    partition_figure(store, suite, methods, preset, path)   rows = methods (lowest seed)
    run_partition_figure(run, path)                         one run
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from .plots import save_figure  # noqa: E402
from .store import RunDir, RunStore  # noqa: E402
from .suites import get_suite  # noqa: E402
from .tables import per_seed  # noqa: E402

#: 40 distinct colours (tab20 + tab20b); part c gets colour c mod 40
PALETTE = np.concatenate([plt.get_cmap("tab20").colors, plt.get_cmap("tab20b").colors])


def panel_rows(history: pd.DataFrame, n_panels: int) -> list[int]:
    """Rows of the history to draw: evenly spaced, always the first and the last."""
    n = len(history)
    return sorted({int(round(i)) for i in np.linspace(0, n - 1, min(n_panels, n))})


def _draw(axes, history: pd.DataFrame, suite_name: str, label: str, n_panels: int) -> None:
    """One row: ``n_panels`` scatter panels, then the parts / collapsed curve in the last axis."""
    suite = get_suite(suite_name)
    n_tracked = len(history.labels.iloc[0].split())
    points = suite.training_set()[:n_tracked].numpy()
    lo, hi = suite.plot_extent()
    rows = panel_rows(history, n_panels)
    for ax in axes[:-1]:
        ax.set_axis_off()
    for ax, i in zip(axes[:-1], rows, strict=False):
        r = history.iloc[i]
        parts = np.array(r.labels.split(), dtype=np.int64)
        ax.set_axis_on()
        ax.scatter(points[:, 0], points[:, 1], s=3, c=PALETTE[parts % len(PALETTE)])
        ax.set_title(f"{label} @ {r.step}: K = {r.parts}", fontsize=8)
        ax.set_xlim(lo, hi)
        ax.set_ylim(lo, hi)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_aspect("equal")
    ax = axes[-1]
    ax.step(history.step, history.parts, where="post", color="tab:blue", label="parts")
    ax.set_xlabel("step", fontsize=8)
    ax.set_ylabel("parts", fontsize=8, color="tab:blue")
    twin = ax.twinx()
    twin.plot(history.step, history.collapsed_frac, "o-", ms=3, color="tab:red")
    twin.set_ylabel("collapsed fraction", fontsize=8, color="tab:red")
    ax.set_title(f"{label}: parts and collapsed", fontsize=8)


def run_partition_figure(run: RunDir, path: Path, n_panels: int = 5) -> Path | None:
    """The partitions of one finished run; None if the run recorded no history."""
    history = run.read_partitions()
    if history is None or history.empty:
        return None
    cfg = run.read_config()
    fig, axes = plt.subplots(1, n_panels + 1, figsize=(2.8 * (n_panels + 1), 2.8), squeeze=False)
    _draw(axes[0], history, cfg["suite"], cfg["method"], n_panels)
    fig.tight_layout()
    save_figure(fig, path)
    return path


def partition_figure(
    store: RunStore,
    suite_name: str,
    methods: Sequence[str],
    preset: str,
    path: Path,
    n_panels: int = 5,
) -> Path | None:
    """Rows = the methods with a partition history (their lowest seed); None if none has one."""
    df = per_seed(store, suite_name, methods, preset)
    chosen: dict[str, pd.DataFrame] = {}
    for r in df.sort_values("seed").itertuples() if not df.empty else ():
        if r.method not in chosen:
            history = RunDir(Path(r.run_dir)).read_partitions()
            if history is not None and not history.empty:
                chosen[r.method] = history
    rows = [m for m in methods if m in chosen]
    if not rows:
        return None
    fig, axes = plt.subplots(
        len(rows), n_panels + 1, figsize=(2.8 * (n_panels + 1), 2.8 * len(rows)), squeeze=False
    )
    for i, m in enumerate(rows):
        _draw(axes[i], chosen[m], suite_name, m, n_panels)
    fig.tight_layout()
    save_figure(fig, path)
    return path
