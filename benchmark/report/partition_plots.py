"""Partition figures for methods that record a partition history (`dyngan`, `scgan`; the
run's partitions.csv): the real training points coloured by their part at a few check steps,
and the number of parts and of collapsed samples over training.

    partition_figure(df, suite, methods, path)   rows = methods (lowest seed); df: tables.per_seed
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

from ..store.rundir import RunDir  # noqa: E402
from ..suites import suite_of  # noqa: E402
from .plots import save_figure  # noqa: E402

#: 40 distinct colours (tab20 + tab20b); part c gets colour c mod 40
PALETTE = np.concatenate([plt.get_cmap("tab20").colors, plt.get_cmap("tab20b").colors])


def panel_rows(history: pd.DataFrame, n_panels: int) -> list[int]:
    """Rows of the history to draw: evenly spaced, always the first and the last."""
    n = len(history)
    return sorted({int(round(i)) for i in np.linspace(0, n - 1, min(n_panels, n))})


def modes_over_training(run: RunDir, suite_name: str) -> pd.DataFrame:
    """Modes covered by the run's snapshot samples (the first 1,000 evaluation samples) at each
    snapshot step: how coverage grew while parts were added."""
    suite = suite_of(run.read_config())  # the run's own protocol
    snaps = run.read_snapshots()
    rows = [
        {
            "step": int(k.split("_")[1]),
            "modes_covered": suite.evaluate(v, diversity=False)["modes_covered"],
        }
        for k, v in snaps.items()
        if k.startswith("samples_")
    ]
    return pd.DataFrame(rows, columns=["step", "modes_covered"]).sort_values("step")


def _draw(
    axes,
    history: pd.DataFrame,
    suite,
    label: str,
    n_panels: int,
    modes: pd.DataFrame | None = None,
    reference: tuple[str, float] | None = None,
) -> None:
    """One row: ``n_panels`` scatter panels, parts and modes covered over training, then parts
    and collapsed fraction. ``suite``: the run's suite under its protocol. ``reference``:
    (label, modes) of a baseline to draw as a line."""
    n_tracked = len(history.labels.iloc[0].split())
    points = suite.training_set()[:n_tracked].numpy()
    lo, hi = suite.plot_extent()
    rows = panel_rows(history, n_panels)
    scatter_axes = axes[:-2]
    for ax in scatter_axes:
        ax.set_axis_off()
    for ax, i in zip(scatter_axes, rows, strict=False):
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
    ax = axes[-2]
    ax.step(history.step, history.parts, where="post", color="tab:blue", label="parts K")
    if modes is not None and not modes.empty:
        ax.plot(modes.step, modes.modes_covered, "s-", ms=4, color="tab:green", label="modes")
    if reference is not None:
        ax.axhline(reference[1], ls="--", lw=0.8, color="grey", label=reference[0])
    ax.set_xlabel("step", fontsize=8)
    ax.set_title(f"{label}: parts and modes covered", fontsize=8)
    ax.legend(fontsize=6)
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
    fig, axes = plt.subplots(1, n_panels + 2, figsize=(2.8 * (n_panels + 2), 2.8), squeeze=False)
    modes = modes_over_training(run, cfg["suite"])
    _draw(axes[0], history, suite_of(cfg), cfg["method"], n_panels, modes)
    fig.tight_layout()
    save_figure(fig, path)
    return path


def partition_figure(
    df: pd.DataFrame,
    suite_name: str,
    methods: Sequence[str],
    path: Path,
    n_panels: int = 5,
) -> Path | None:
    """Rows = the methods with a partition history (their lowest seed); None if none has one.
    The modes panel draws GAN's final modes covered on the same seed as a dashed line, when the
    frame holds that GAN run (DynGAN should end at least there, DynGAN)."""
    chosen: dict[str, tuple[pd.DataFrame, RunDir, int]] = {}
    for r in df.sort_values("seed").itertuples() if not df.empty else ():
        if r.method not in chosen:
            run = RunDir(Path(r.run_dir))
            history = run.read_partitions()
            if history is not None and not history.empty:
                chosen[r.method] = (history, run, r.seed)
    rows = [m for m in methods if m in chosen]
    if not rows:
        return None
    gan = df[df["method"] == "gan"].set_index("seed")["modes_covered"] if "gan" in methods else None
    fig, axes = plt.subplots(
        len(rows), n_panels + 2, figsize=(2.8 * (n_panels + 2), 2.8 * len(rows)), squeeze=False
    )
    for i, m in enumerate(rows):
        history, run, seed = chosen[m]
        ref = None
        if gan is not None and seed in gan.index:
            ref = (f"gan, seed {seed}", float(gan[seed]))
        modes = modes_over_training(run, suite_name)
        _draw(axes[i], history, suite_of(run.read_config()), f"{m} s{seed}", n_panels, modes, ref)
    fig.tight_layout()
    save_figure(fig, path)
    return path
