"""Wang's (2024) variant study: one method under one-at-a-time changes of optimiser or network.

Wang (Wang (2024)) trains WGAN with RMSprop, Adam and SGD, and with ResNet- and DenseNet-block
networks, and follows critic loss, generator loss, the Wasserstein estimate and the variance of
generated samples in a feature space over training. Here a variant is a *configuration* of an
existing method and suite (``--set optimizer=adam``, ``--arch resnet``), never a new method, so
each variant's runs live in the run store under their own key and resume like any other run.

Variants are one change at a time from the baseline (the first value of every axis):
axes optimizer=rmsprop,adam,sgd and arch=dcgan,resnet,densenet give five rows, (rmsprop, dcgan),
adam, sgd, resnet, densenet, as in the paper, not the 3 x 3 product.

The table has, per variant, mean ± std over seeds of
* the training curves' last tenth (mean of the logged rows after 90 % of the steps) of loss_d,
  loss_g, wasserstein_estimate (mean D(real) - mean D(fake)) and feature_diversity (variance of
  D's features of generated samples): what Wang (2024) tracks. Each variant's critic measures in
  its *own* feature space, so compare those two across architectures with care;
* the suite's evaluation metrics (fixed extractor: FID, precision/recall, MS-SSIM on images;
  modes, high-quality fraction, reverse KL on toys), which do compare across rows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import BenchError
from ..runs.planning import plan
from ..store.rundir import RunDir
from ..store.runstore import RunStore
from ..store.spec import RunSpec
from ..suites import get_suite
from ..training.methods import parse_method_options, resolve_method

#: Wang's (2024) axes; arch only where the suite has networks to swap (image suites)
DEFAULT_AXES = {"optimizer": ("rmsprop", "adam", "sgd"), "arch": ("dcgan", "resnet", "densenet")}
CURVE_COLUMNS = ("loss_d", "loss_g", "wasserstein_estimate", "feature_diversity")
#: the curves' summary is the mean of the rows logged after this fraction of the steps
TAIL_FROM = 0.9


@dataclass(frozen=True)
class Variant:
    label: str
    suite_options: Mapping[str, Any] = field(default_factory=dict)
    #: ``--set`` items (NAME=VALUE), parsed per method by methods.parse_method_options
    method_set: tuple[str, ...] = ()


def parse_axes(tokens: Sequence[str] | None, suite_name: str) -> dict[str, tuple[str, ...]]:
    """``NAME=V1,V2,...`` items -> {name: values}; default: Wang's (2024) axes the suite has."""
    suite = get_suite(suite_name)
    overridable = tuple(getattr(suite, "OVERRIDABLE", ()))
    if not tokens:
        return {k: v for k, v in DEFAULT_AXES.items() if k != "arch" or "arch" in overridable}
    axes: dict[str, tuple[str, ...]] = {}
    for tok in tokens:
        name, sep, values = tok.partition("=")
        vals = tuple(v for v in values.split(",") if v)
        if not sep or not name or len(vals) < 2:
            raise BenchError(
                f"bad --vary {tok!r}: write NAME=BASELINE,OTHER[,...], e.g. optimizer=rmsprop,adam"
            )
        if name in axes:
            raise BenchError(f"--vary {name} is given twice")
        axes[name] = vals
    return axes


def variants(axes: Mapping[str, Sequence[str]], suite_name: str, method: str) -> list[Variant]:
    """The baseline, then one variant per non-baseline value of each axis. An axis is a suite
    option (``arch``, ``width`` on image suites) or a parameter of ``method``."""
    overridable = set(getattr(get_suite(suite_name), "OVERRIDABLE", ()))
    params = {f.name for f in fields(resolve_method(method).Params)}
    for name in axes:
        if name not in overridable and name not in params:
            raise BenchError(
                f"--vary {name}: neither an option of suite {suite_name} "
                f"({', '.join(sorted(overridable)) or 'it has none'}) nor a parameter of "
                f"{method} ({', '.join(sorted(params))})"
            )

    def make(choice: Mapping[str, str], label: str) -> Variant:
        suite_opts = {k: v for k, v in choice.items() if k in overridable}
        method_set = tuple(f"{k}={v}" for k, v in choice.items() if k not in overridable)
        return Variant(label, suite_opts, method_set)

    base = {k: v[0] for k, v in axes.items()}
    out = [make(base, ", ".join(base.values()) + " (baseline)")]
    for k, vals in axes.items():
        out += [make({**base, k: v}, v) for v in vals[1:]]
    return out


def plan_variants(
    suite_name: str,
    method: str,
    variant_list: Sequence[Variant],
    seeds: Sequence[int],
    preset: str,
    data_root: str | None = None,
    base_options: Mapping[str, Any] | None = None,
) -> dict[str, list[RunSpec]]:
    """Variant label -> its run specs (every class of a per-class suite); ``base_options``:
    suite options every variant shares (a toy suite's protocol)."""
    out = {}
    for v in variant_list:
        opts = parse_method_options(v.method_set, [method])
        out[v.label] = plan(
            suite_name,
            [method],
            seeds,
            preset,
            suite_options={**(base_options or {}), **v.suite_options},
            data_root=data_root,
            method_options=opts,
        )
    return out


def curve_tail(curves: pd.DataFrame, total_steps: int) -> dict[str, float]:
    """Mean of each tracked curve over the rows logged after ``TAIL_FROM`` of the steps."""
    tail = curves[curves["step"] > TAIL_FROM * total_steps]
    if tail.empty:
        tail = curves.tail(1)
    return {c: float(tail[c].mean()) for c in CURVE_COLUMNS if c in tail}


def collect(
    store: RunStore, specs_by_variant: Mapping[str, Sequence[RunSpec]]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(per-seed rows, stacked curves) of the finished runs. Per-class suites: one row per
    (variant, seed), the mean over classes (classes are not replicates)."""
    rows, curves = [], []
    for label, specs in specs_by_variant.items():
        for spec in specs:
            run: RunDir = store.run_dir(spec)
            if not run.finished:
                continue
            c = run.read_curves()
            metrics = {k: v for k, v in run.read_metrics().items() if _is_number(v)}
            rows.append(
                {
                    "variant": label,
                    "seed": spec.seed,
                    **metrics,
                    **curve_tail(c, spec.train.steps),
                }
            )
            curves.append(c.assign(variant=label, seed=spec.seed, cls=spec.cls))
    if not rows:
        raise BenchError("no finished variant runs in the store; run `bench variants` first")
    df = pd.DataFrame(rows)
    df = df.groupby(["variant", "seed"], sort=False, as_index=False).mean(numeric_only=True)
    cv = pd.concat(curves, ignore_index=True)
    cv = cv.groupby(["variant", "seed", "step"], sort=False, as_index=False).mean(numeric_only=True)
    return df, cv


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _cell(values: pd.Series) -> str:
    v = values.dropna()
    if v.empty:
        return ""
    s = f"{v.mean():.4g}"
    return s + (f" ± {v.std(ddof=1):.2g}" if len(v) > 1 else "")


def variant_table(df: pd.DataFrame, metric_names: Sequence[str]) -> pd.DataFrame:
    """Rows = variants in the order run; columns = the tracked curves, then the suite metrics."""
    cols = [c for c in (*CURVE_COLUMNS, *metric_names) if c in df]
    rows = {}
    for label, sub in df.groupby("variant", sort=False):
        rows[label] = {c: _cell(sub[c]) for c in cols}
        rows[label]["seeds"] = str(sub["seed"].nunique())
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "variant"
    return table


def caption(suite_name: str, method: str, preset: str) -> str:
    return (
        f"{suite_name}, preset {preset}: {method} variants, one change at a time from the "
        "baseline (Wang (2024)); mean ± std over seeds. loss_d, loss_g, wasserstein_estimate "
        "(mean D(real) - mean D(fake)) and feature_diversity (variance of the critic's features "
        f"of generated samples, in each variant's own critic) are the mean of the last "
        f"{100 * (1 - TAIL_FROM):.0f} % of training; the remaining columns are the suite's "
        "evaluation on a fixed extractor, comparable across rows."
    )


def curves_figure(curves: pd.DataFrame, path: Path, title: str) -> Path:
    """Wang's (2024) four panels over training: one line per variant, band = min..max over seeds."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import seaborn as sns

    from .plots import save_figure

    cols = [c for c in CURVE_COLUMNS if c in curves and np.isfinite(curves[c]).any()]
    fig, axes = plt.subplots(1, len(cols), figsize=(4.2 * len(cols), 3.4), squeeze=False)
    for ax, col in zip(axes[0], cols, strict=True):
        sns.lineplot(
            data=curves,
            x="step",
            y=col,
            hue="variant",
            errorbar=("pi", 100),
            ax=ax,
            legend=ax is axes[0][0],
        )
        ax.set_title(col)
    fig.suptitle(title, fontsize=10)
    save_figure(fig, path)
    return path
