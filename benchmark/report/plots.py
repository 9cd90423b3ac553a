"""Figures written next to the tables: the greed paper's Fig. 3 layout and Xiong et al.'s curves."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402
import torch  # noqa: E402

from ..store.atomic import atomic_write  # noqa: E402
from ..store.rundir import RunDir  # noqa: E402
from ..suites import suite_of  # noqa: E402


def save_figure(fig, path: Path) -> None:
    """Render straight into an atomic write (the figure is closed either way)."""
    try:
        atomic_write(
            path, lambda f: fig.savefig(f, format=path.suffix[1:], dpi=110, bbox_inches="tight")
        )
    finally:
        plt.close(fig)


def can_draw(df: pd.DataFrame, path: Path, needs: str) -> bool:
    """Whether every run in ``df`` has the file ``needs`` that the figure ``path`` draws from.
    A record exported with ``--no-samples`` has none: the figure is not drawn, an older copy
    of it (another set of runs) is removed, and one line on stderr says why."""
    lacking = [r for r in df["run_dir"] if not (Path(r) / needs).is_file()]
    if not lacking:
        return True
    path.unlink(missing_ok=True)
    print(
        f"bench: {path.name} not drawn: {len(lacking)} of {len(df)} runs have no {needs} "
        f"(e.g. {lacking[0]}, a record exported with --no-samples)",
        file=sys.stderr,
    )
    return False


def _runs_by_method(df: pd.DataFrame) -> dict[tuple[str, int], RunDir]:
    """(method, seed) -> run directory, from a ``tables.per_seed`` frame."""
    if df.empty:
        return {}
    return {(r.method, r.seed): RunDir(Path(r.run_dir)) for r in df.itertuples()}


def samples_figure(
    df: pd.DataFrame, suite_name: str, methods: Sequence[str], preset: str, path: Path
):
    """Rows = methods (lowest seed), columns = training steps, last column the real data.
    Green: generated samples; orange crosses: true means; contours: the discriminator's raw
    output (for a packed PacGAN discriminator, on each point repeated m times). ``df`` is the
    ``tables.per_seed`` frame of the runs to draw."""
    runs = _runs_by_method(df)
    chosen = {}
    for (m, _seed), run in sorted(runs.items(), key=lambda kv: kv[0][1]):
        chosen.setdefault(m, run)
    rows = [m for m in methods if m in chosen]
    if not rows:
        return None
    suite = suite_of(chosen[rows[0]].read_config())  # under the runs' own protocol
    steps = suite.presets[preset].snapshot_steps()
    data = suite.training_set()  # a fixed random 1,000 of it: a per-mode set is stored by mode
    pick = torch.randperm(len(data), generator=torch.Generator().manual_seed(0))[:1000]
    real = data[pick].numpy()
    centers = suite.centers_array()
    lo, hi = suite.plot_extent()
    fig, axes = plt.subplots(
        len(rows), len(steps) + 1, figsize=(2.6 * (len(steps) + 1), 2.6 * len(rows)), squeeze=False
    )
    for i, m in enumerate(rows):
        snaps = chosen[m].read_snapshots()
        for j, step in enumerate(steps):
            ax = axes[i, j]
            ax.scatter(centers[:, 0], centers[:, 1], s=14, c="tab:orange", marker="x", lw=0.8)
            if f"disc_{step}" in snaps:
                axis = snaps["axis"]
                ax.contour(
                    axis, axis, snaps[f"disc_{step}"], levels=8, linewidths=0.6, cmap="Greys"
                )
                g = snaps[f"samples_{step}"]
                ax.scatter(g[:, 0], g[:, 1], s=2, c="tab:green", alpha=0.6)
            ax.set_title(f"{m} @ {step}", fontsize=8)
        axes[i, -1].scatter(real[:, 0], real[:, 1], s=2, c="tab:orange", alpha=0.6)
        axes[i, -1].set_title("real data", fontsize=8)
        for ax in axes[i]:
            ax.set_xlim(lo, hi)
            ax.set_ylim(lo, hi)
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_aspect("equal")
    save_figure(fig, path)
    return path


def _curves(df: pd.DataFrame, methods: Sequence[str] | None = None) -> pd.DataFrame | None:
    """Every run's curves.csv stacked, with method and seed columns; None when there are none."""
    frames = []
    for (m, s), run in _runs_by_method(df).items():
        if methods is None or m in methods:
            c = run.read_curves()
            c["method"], c["seed"] = m, s
            frames.append(c)
    return pd.concat(frames, ignore_index=True) if frames else None


def curves_figure(
    df: pd.DataFrame, path: Path, methods: Sequence[str] | None = None, title: str | None = None
):
    """Loss and gradient-norm curves (Xiong et al.'s figures): mean, band = min..max over seeds.
    ``methods``: only these (e.g. Xiong et al.'s GAN vs curriculum WGAN-GP); None: every method."""
    curves = _curves(df, methods)
    if curves is None:
        return None
    panels = ["loss_d", "loss_g", "grad_norm_d", "grad_norm_g"]
    # constrained layout: a log axis's tick labels are wide and ran into the next panel
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 3.4), layout="constrained")
    for ax, col in zip(axes, panels, strict=True):
        sns.lineplot(
            data=curves,
            x="step",
            y=col,
            hue="method",
            errorbar=("pi", 100),
            ax=ax,
            legend=ax is axes[0],
        )
        if col.startswith("grad"):
            ax.set_yscale("log")
        ax.set_title(col)
        ax.set_ylabel("")  # the title names the panel
    if title:
        fig.suptitle(title, fontsize=10)
    save_figure(fig, path)
    return path


def convergence_figure(df: pd.DataFrame, metrics: Sequence[str], path: Path):
    """The evaluation metrics over training (each run's evals.csv): mean over seeds (and classes,
    on per-class suites), band = min..max; what the plateau rule (convergence.py) reads. None if
    no run recorded a curve."""
    frames = []
    for r in df.itertuples():
        evals = RunDir(Path(r.run_dir)).read_evals()
        if evals is not None:
            frames.append(evals.assign(method=r.method, seed=r.seed))
    if not frames:
        return None
    evals = pd.concat(frames, ignore_index=True)
    shown = [m for m in metrics if m in evals]
    methods = list(dict.fromkeys(evals["method"]))  # the table's order
    # tab10 repeats its colours after ten methods; the 14-method toy tables need tab20
    colours = sns.color_palette("tab10" if len(methods) <= 10 else "tab20", len(methods))
    fig, axes = plt.subplots(1, len(shown), figsize=(4.2 * len(shown) + 1.6, 3.4), squeeze=False)
    for ax, col in zip(axes[0], shown, strict=True):
        sns.lineplot(
            data=evals, x="step", y=col, hue="method", errorbar=("pi", 100), ax=ax,
            palette=dict(zip(methods, colours, strict=True)), legend=ax is axes[0][-1],
        )  # fmt: skip
        ax.set_title(f"{col} during training")
        if col == "fid":  # from thousands at the start to tens at the end
            ax.set_yscale("log")
    # beside the panels, not over the curves
    sns.move_legend(axes[0][-1], "upper left", bbox_to_anchor=(1.02, 1.0), frameon=False)
    save_figure(fig, path)
    return path


def modes_by_seed_figure(df: pd.DataFrame, n_modes: int, path: Path):
    """Collapse as it unfolds: every run's modes covered at each evaluation, one panel per
    method, one line per seed, the full count dashed. A mean curve hides a run that drops from 8
    modes to 1 and back; these lines show it. None if no run recorded a mode curve."""
    frames = []
    for r in df.itertuples():
        evals = RunDir(Path(r.run_dir)).read_evals()
        if evals is not None and "modes_covered" in evals:
            frames.append(evals.assign(method=r.method, seed=r.seed))
    if not frames:
        return None
    evals = pd.concat(frames, ignore_index=True)
    methods = list(dict.fromkeys(evals["method"]))
    cols = min(3, len(methods))
    rows = -(-len(methods) // cols)
    fig, axes = plt.subplots(
        rows, cols, figsize=(4.2 * cols, 2.6 * rows), squeeze=False, sharex=True, sharey=True
    )
    for ax, method in zip(axes.flat, methods, strict=False):
        runs = evals[evals["method"] == method]
        for _, run in runs.groupby("seed"):
            ax.plot(run["step"], run["modes_covered"], lw=0.9, alpha=0.7)
        ax.axhline(n_modes, color="k", ls="--", lw=0.8)
        ax.set_title(f"{method} ({runs['seed'].nunique()} seeds)", fontsize=9)
        ax.set_ylim(-0.5, n_modes + 0.5)
    for ax in axes.flat[len(methods) :]:
        ax.axis("off")
    for ax in axes[:, 0]:
        ax.set_ylabel("modes covered")
    for ax in axes[-1]:
        ax.set_xlabel("step")
    save_figure(fig, path)
    return path


#: Xiong et al. (Xiong et al. 2025) compares GAN with its simple-to-complex WGAN-GP by gradient-norm
#: (Fig. 1) and D / G loss curves (Figs. 2-3); plain WGAN-GP is drawn too when it was run, so
#: the curriculum's own effect can be told from WGAN-GP's
XIONG_METHODS = ("gan", "wgan-gp", "curriculum-wgan-gp")


def curriculum_figure(df: pd.DataFrame, path: Path):
    """Xiong et al.'s Figs. 1-3 from real runs; None unless gan and curriculum-wgan-gp both ran."""
    have = set(df["method"]) if not df.empty else set()
    if not {"gan", "curriculum-wgan-gp"} <= have:
        return None
    return curves_figure(
        df,
        path,
        methods=[m for m in XIONG_METHODS if m in have],
        title="Xiong et al., Figs. 1-3: GAN vs simple-to-complex WGAN-GP "
        "(mean, band = min..max over seeds)",
    )
