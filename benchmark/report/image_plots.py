"""Figures of the image suites: sample grids per class and method, the per-class table as a
figure, training curves, and the independent-critic curve over training (the greed paper Fig. 4)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from ...metrics.registry import get as get_metric
from ..errors import BenchError
from ..store.rundir import RunDir
from .plots import plt, save_figure

#: the greed paper's row order of the CIFAR-10 classes (the dataset's label order)
CIFAR10_ORDER = (
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
)


def class_order(classes: Sequence[str]) -> list[str]:
    canon = {c: i for i, c in enumerate(CIFAR10_ORDER)}
    return sorted(set(classes), key=lambda c: (canon.get(c, len(canon)), _natural(c)))


def _natural(c: str) -> tuple:
    return (0, int(c), "") if c.isdigit() else (1, 0, c)


N_COLS = 8


def _grid(images: np.ndarray, n_cols: int) -> np.ndarray:
    """uint8 N×C×H×W -> one H×(n_cols·W)×C strip (the first n_cols images)."""
    x = images[:n_cols]
    strip = np.concatenate(list(x), axis=-1)  # C×H×(n·W)
    return np.transpose(strip, (1, 2, 0))


def _show(ax, img: np.ndarray) -> None:
    ax.imshow(img[..., 0] if img.shape[-1] == 1 else img, cmap="gray", vmin=0, vmax=255)
    ax.set_xticks([])
    ax.set_yticks([])


def _images(run: RunDir, suite) -> np.ndarray:
    """The run's final samples, checked to be what an image run stores: uint8 N×C×H×W at the
    suite's channels and size (anything else would fail deep inside matplotlib)."""
    x = run.read_samples()
    want = (suite.channels, suite.image_size, suite.image_size)
    if x.dtype != np.uint8 or x.ndim != 4 or tuple(x.shape[1:]) != want:
        raise BenchError(
            f"corrupted run directory {run.path}: samples.npy holds {x.dtype} {x.shape}, not "
            f"uint8 N×{'×'.join(map(str, want))} images; move the directory aside to rerun it"
        )
    return x


def samples_figure(df: pd.DataFrame, suite, path: Path) -> None:
    """One panel per method (in ``df``'s order); per-class suites: one row of samples per class
    (the lowest seed present); otherwise four rows of the lowest seed's samples."""
    methods = list(dict.fromkeys(df["method"]))
    seed = int(df["seed"].min())
    rows = class_order(df["class"]) if "class" in df else [None]
    n_rows = len(rows) if rows != [None] else 4
    fig, axes = plt.subplots(
        n_rows, len(methods), figsize=(2.2 * len(methods), 0.32 * n_rows + 0.6), squeeze=False
    )
    for j, m in enumerate(methods):
        for i in range(n_rows):
            ax = axes[i][j]
            ax.set_xticks([])
            ax.set_yticks([])
            sel = df[(df["method"] == m) & (df["seed"] == seed)]
            if rows != [None]:
                sel = sel[sel["class"] == rows[i]]
                offset = 0
            else:
                offset = i * N_COLS
            if sel.empty or bool(sel["diverged"].iloc[0]):
                continue
            samples = _images(RunDir(Path(sel["run_dir"].iloc[0])), suite)
            if len(samples) > offset:
                _show(ax, _grid(samples[offset:], N_COLS))
            if j == 0 and rows != [None]:
                ax.set_ylabel(rows[i], rotation=0, ha="right", va="center", fontsize=7)
        axes[0][j].set_title(m, fontsize=9)
    fig.suptitle(f"{suite.name}: final samples, seed {seed}", fontsize=9, y=1.02)
    save_figure(fig, path)


def curves_figure(df: pd.DataFrame, path: Path) -> None:
    """loss_d, loss_g and the critic's Wasserstein estimate over training: mean over the runs
    (seeds and classes) of each method, with a min-max band."""
    frames = []
    for r in df.itertuples():
        c = RunDir(Path(r.run_dir)).read_curves()
        c["method"] = r.method
        frames.append(c)
    if not frames:
        return
    curves = pd.concat(frames)
    cols = ["loss_d", "loss_g", "wasserstein_estimate"]
    fig, axes = plt.subplots(1, len(cols), figsize=(4 * len(cols), 3))
    for ax, col in zip(axes, cols, strict=True):
        for m, g in curves.groupby("method", sort=False):
            s = g.groupby("step")[col]
            ax.plot(s.mean().index, s.mean().values, label=m, lw=1)
            ax.fill_between(s.min().index, s.min().values, s.max().values, alpha=0.15)
        ax.set_title(col, fontsize=9)
        ax.set_xlabel("generator step")
    axes[0].legend(fontsize=7)
    save_figure(fig, path)


def critic_figure(curve: pd.DataFrame, suite_name: str, path: Path) -> None:
    """The greed paper Fig. 4: the fixed independent critic's W over training, per method (mean over
    seeds and classes, min-max band)."""
    fig, ax = plt.subplots(figsize=(5, 3.2))
    for m, g in curve.groupby("method", sort=False):
        s = g.groupby(["step", "seed"])["w"].mean().groupby("step")
        ax.plot(s.mean().index, s.mean().values, marker="o", ms=3, label=m)
        ax.fill_between(s.min().index, s.min().values, s.max().values, alpha=0.15)
    ax.set_xlabel("generator step")
    ax.set_ylabel("independent critic W")
    classes = class_order(curve["class"].dropna().astype(str)) if "class" in curve else []
    shown = f", class{'es' if len(classes) > 1 else ''} {', '.join(classes)}" if classes else ""
    ax.set_title(
        f"{suite_name}{shown}: independent Wasserstein critic (the greed paper Fig. 4)", fontsize=9
    )
    ax.legend(fontsize=7)
    save_figure(fig, path)


#: the per-class figure's panels: the paper's two columns, then collapse over training
PER_CLASS_METRICS = ("ms_ssim", "fid", "recall", "collapsed_share")
#: the per-class figure's name for the real images' MS-SSIM (the ground-truth row)
REAL = "real data"


def per_class_summary(
    df: pd.DataFrame, metrics: Sequence[str], methods: Sequence[str]
) -> pd.DataFrame:
    """The per-class table's numbers in long form: one row per (metric, class, method) with the
    mean, std and n over seeds; for MS-SSIM also the real images' value per class (method
    ``REAL``, std 0). Diverged runs (NaN) are left out of n, as in the tables."""
    rows = []
    for metric in metrics:
        if metric not in df or df[metric].isna().all():
            continue
        for c in class_order(df["class"].astype(str)):
            at = df[df["class"].astype(str) == c]
            for m in methods:
                v = at.loc[at["method"] == m, metric].dropna().to_numpy(dtype=float)
                if len(v):
                    std = float(v.std(ddof=1)) if len(v) > 1 else 0.0
                    rows.append((metric, c, m, float(v.mean()), std, len(v)))
            if metric == "ms_ssim" and "ms_ssim_real" in at and at["ms_ssim_real"].notna().any():
                rows.append((metric, c, REAL, float(at["ms_ssim_real"].dropna().iloc[0]), 0.0, 1))
    return pd.DataFrame(rows, columns=["metric", "class", "method", "mean", "std", "n"])


def per_class_figure(summary: pd.DataFrame, path: Path):
    """The per-class table as a figure: one panel per metric, classes along x, each method's
    mean ± std over seeds side by side, the real images' MS-SSIM as a black bar. Returns the
    figure's data (one errorbar container per method and panel, in ``summary``'s order)."""
    metrics = list(dict.fromkeys(summary["metric"]))
    if not metrics:
        return None
    fig, axes = plt.subplots(len(metrics), 1, figsize=(9, 2.6 * len(metrics)), squeeze=False)
    for ax, metric in zip(axes[:, 0], metrics, strict=True):
        s = summary[summary["metric"] == metric]
        classes = list(dict.fromkeys(s["class"]))
        methods = [m for m in dict.fromkeys(s["method"]) if m != REAL]
        x = np.arange(len(classes))
        width = 0.8 / max(1, len(methods))
        info = get_metric(metric)
        scale = info.display_scale
        for i, m in enumerate(methods):
            sm = s[s["method"] == m].set_index("class").reindex(classes)
            pos = x - 0.4 + width * (i + 0.5)
            mean, std = (sm[k].to_numpy(dtype=float) * scale for k in ("mean", "std"))
            ax.errorbar(pos, mean, yerr=std, fmt="o", ms=4, capsize=2, label=m, color=f"C{i}")
        real = s[s["method"] == REAL].set_index("class").reindex(classes)
        if len(s[s["method"] == REAL]):
            ax.hlines(real["mean"], x - 0.45, x + 0.45, colors="k", lw=1.5, label=REAL)
        arrow = {"higher": "↑", "lower": "↓"}[info.direction]
        unit = " (%)" if scale != 1.0 else ""
        ax.set_title(f"{info.label}{unit} {arrow}, mean ± std over seeds", fontsize=9)
        ax.set_xticks(x, classes)
        ax.set_xlim(-0.5, len(classes) - 0.5)
        ax.grid(axis="y", alpha=0.3)
    handles, labels = axes[0, 0].get_legend_handles_labels()
    axes[-1, 0].set_xlabel("class")
    fig.tight_layout(rect=(0, 0, 1, 0.97))
    fig.legend(handles, labels, loc="upper center", ncol=len(labels), fontsize=8, frameon=False)
    drawn = [
        [tuple(np.asarray(v, dtype=float) for v in c.lines[0].get_data()) for c in ax.containers]
        for ax in axes[:, 0]
    ]
    save_figure(fig, path)
    return drawn
