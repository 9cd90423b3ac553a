"""Tables and figures of the image suites, laid out like the greed paper's.

* per-class suites (Tables 2-4): one table per metric, classes as rows, methods as columns
  (mean ± std over seeds), the real images' MS-SSIM as the ground-truth column, the greed paper's
  published values in adjacent columns labelled "(greed paper, published)", and a last row with the
  mean over classes;
* CelebA (Table 1): methods as rows, MS-SSIM, plus the ground-truth row;
* stacked suites: methods as rows, modes covered and KL (natural log and log10), with the
  published Stacked-MNIST rows labelled as MNIST numbers.

Every caption names the feature extractor, the sample sizes and the MS-SSIM protocol, so an
Inception number and a digits-classifier number are never read as one.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

import numpy as np
import pandas as pd

from ...metrics.feature_diversity import CAPTION as DIVERSITY_CAPTION
from ...metrics.registry import get as get_metric
from ..analysis.convergence import CAPTION as CONVERGENCE_CAPTION
from ..errors import BenchError
from ..store.atomic import atomic_write_text
from ..suites import data as data_mod
from ..suites import get_suite
from .image_plots import CIFAR10_ORDER, class_order
from .tables import per_seed, render, runs_mark, seed_list, trained_with

#: our method names -> the greed paper's column names
GREED_PAPER_NAMES = {
    "gan": "DCGAN",
    "greed-gan": "DCGAN-Ours",
    "wgan": "WGAN",
    "greed-wgan": "WGAN-Ours",
}
# the greed paper's Tables 2 and 3
# (MS-SSIM; Table 3 heads its WGAN column "WCGAN", a typo) and Table 4
# (Inception Score), per CIFAR-10 class in the order above; one model per class, no seeds given
_T2_3 = {
    "gan": (0.1116, 0.1169, 0.0789, 0.0607, 0.0854, 0.0572, 0.0993, 0.0712, 0.1416, 0.1478),
    "greed-gan": (0.1001, 0.1125, 0.0709, 0.0589, 0.0808, 0.0542, 0.0990, 0.0696, 0.1299, 0.1521),
    "wgan": (0.0899, 0.1038, 0.0647, 0.0537, 0.0610, 0.0474, 0.0498, 0.0636, 0.0691, 0.1395),
    "greed-wgan": (0.0936, 0.1019, 0.0635, 0.0446, 0.0603, 0.0457, 0.0452, 0.0556, 0.0681, 0.1438),
}
_T4 = {
    "gan": (4.46, 3.72, 4.44, 4.21, 3.98, 4.79, 3.63, 4.43, 3.68, 3.19),
    "greed-gan": (4.45, 3.74, 4.32, 4.15, 4.11, 4.89, 3.46, 4.30, 3.58, 3.20),
    "wgan": (4.54, 3.47, 4.77, 4.41, 4.16, 4.97, 3.63, 4.39, 3.82, 3.07),
    "greed-wgan": (4.56, 3.35, 4.72, 4.51, 4.26, 5.04, 3.59, 4.37, 3.87, 3.10),
}
PUBLISHED_PER_CLASS: dict[str, dict[str, dict[str, dict[str, float]]]] = {
    "greed-cifar10": {
        "ms_ssim": {m: dict(zip(CIFAR10_ORDER, v, strict=True)) for m, v in _T2_3.items()},
        "inception_score": {m: dict(zip(CIFAR10_ORDER, v, strict=True)) for m, v in _T4.items()},
    }
}
#: the greed paper Table 1 (CelebA, MS-SSIM)
PUBLISHED_CELEBA = {
    "gan": 0.3150,
    "greed-gan": 0.3083,
    "wgan": 0.2945,
    "greed-wgan": 0.2913,
    "ground truth": 0.2940,
}
#: Stacked-MNIST (modes, KL) from PacGAN Table 3 (its Unrolled GAN and VEEGAN rows); MNIST numbers
PUBLISHED_STACKED = {
    "Unrolled GAN (Stacked-MNIST, published)": (48.7, 4.32),
    "VEEGAN (Stacked-MNIST, published)": (150.0, 2.95),
    "PacGAN (Stacked-MNIST, published)": (1000.0, 0.06),
}


def _cell(values: pd.Series, digits: int, mark: str = "", scale: float = 1.0) -> str:
    """mean ± std of the values (times ``scale``), then the cell's convergence mark
    (tables.runs_mark)."""
    v = values.dropna() * scale
    if v.empty:
        return ""
    s = f"{v.mean():.{digits}f}"
    if len(v) > 1:
        s += f" ± {v.std(ddof=1):.{digits}f}"
    return s + mark


def _digits(metric: str) -> int:
    return get_metric(metric).digits


def _scale(metric: str) -> float:
    """A share (registry unit %) is stored as a fraction and printed as a percentage, as the
    toy tables print theirs."""
    return get_metric(metric).display_scale


def complete_classes(df: pd.DataFrame) -> list[str]:
    """The classes in which every method of ``df`` has a run of every seed of ``df``: the ones a
    mean over classes may average, so that every method's mean covers the same classes (a
    class still training for one method would otherwise pull only that method's mean)."""
    seeds = set(df["seed"])
    have = df.groupby(["method", "class"])["seed"].agg(set)
    methods = set(df["method"])
    return [
        c
        for c in class_order(df["class"])
        if all(have.get((m, c), set()) == seeds for m in methods)
    ]


def _classes_phrase(classes: Sequence[str]) -> str:
    if not classes:
        return "no class"
    return f"class{'es' if len(classes) > 1 else ''} {', '.join(classes)}"


def per_class_table(
    df: pd.DataFrame, metric: str, methods: Sequence[str], published: str | None
) -> pd.DataFrame:
    """Classes as rows; per method mean ± std over seeds; published columns beside ours. The
    mean over classes (ours, published and the real data's) covers ``complete_classes`` only."""
    d = _digits(metric)
    classes = class_order(df["class"])
    complete = complete_classes(df)
    pub = PUBLISHED_PER_CLASS.get(published or "", {}).get(metric, {})
    rows: dict[str, dict[str, str]] = {}
    for c in [*classes, "mean over classes"]:
        mean_row = c == "mean over classes"
        row: dict[str, str] = {}
        for m in methods:
            sub = df[df["method"] == m]
            if sub.empty:
                continue
            # mean over classes: per seed, the mean over classes; then mean ± std over seeds,
            # marked when any run of any class is
            runs = sub[sub["class"].isin(complete)] if mean_row else sub[sub["class"] == c]
            vals = runs.groupby("seed")[metric].mean() if mean_row else runs[metric]
            row[m] = _cell(vals, d, runs_mark(runs, metric), _scale(metric)) if len(runs) else ""
            if m in pub:
                label = f"{GREED_PAPER_NAMES.get(m, m)} (greed paper, published)"
                if mean_row:
                    shown = [pub[m][k] for k in complete if k in pub[m]]
                    row[label] = f"{np.mean(shown):.{d}f}" if shown else ""
                else:
                    row[label] = f"{pub[m][c]:.{d}f}" if c in pub[m] else ""
        if metric == "ms_ssim":
            # the real images' MS-SSIM depends on the class only (same for every run of it)
            real = df.groupby("class")["ms_ssim_real"].first()
            v = real.reindex(complete).mean() if mean_row else real.get(c, np.nan)
            row["real data (ground truth)"] = f"{v:.{d}f}"
        rows[c] = row
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "class"
    return table


def methods_table(
    df: pd.DataFrame, metrics: Sequence[str], methods: Sequence[str], suite
) -> pd.DataFrame:
    """Methods as rows (CelebA's Table 1, stacked modes/KL), seeds aggregated."""
    rows: dict[str, dict[str, str]] = {}
    for m in methods:
        sub = df[df["method"] == m]
        if sub.empty:
            continue
        row = {
            k: _cell(
                sub[k], 1 if k == "modes_covered" else _digits(k), runs_mark(sub, k), _scale(k)
            )
            for k in metrics
        }
        row["seeds"] = str(sub["seed"].nunique())
        rows[m] = row
    if suite.stacked:
        for label, (modes, kl) in PUBLISHED_STACKED.items():
            rows[label] = {"modes_covered": f"{modes:g}", "kl": f"{kl:.2f}", "seeds": "published"}
    else:
        real = df["ms_ssim_real"].dropna() if "ms_ssim_real" in df else ()
        if len(real):  # a diverged run has no value: take one that has
            rows["ground truth (real data)"] = {"ms_ssim": f"{real.iloc[0]:.4f}"}
        if suite.published == "greed-celeba":
            for m, v in PUBLISHED_CELEBA.items():
                name = GREED_PAPER_NAMES.get(m, m)
                rows[f"{name} (greed paper Table 1, published)"] = {
                    "ms_ssim": f"{v:.4f}",
                    "seeds": "published",
                }
    table = pd.DataFrame.from_dict(rows, orient="index").fillna("")
    table.index.name = "method"
    return table


def caption(suite, preset: str, df: pd.DataFrame, options: str = "") -> str:
    """The table's caption, from the evaluation details of a run that did not diverge;
    ``options``: the clause naming the options the runs were trained under."""
    finished = df[~df["diverged"].astype(bool)] if "diverged" in df else df
    if finished.empty:
        return (
            f"{suite.name}, preset {preset}{options}: every run diverged (non-finite samples), "
            "so no metric could be computed; the cells are empty."
        )
    first = finished.iloc[0]
    budget = suite.presets[preset]
    seeds = seed_list(df)
    curve = (
        f"convergence curve: {', '.join(suite.curve_names)} at {budget.n_evals} points of training"
        if budget.n_evals
        else "no convergence curve at this preset"
    )
    head = (
        f"{suite.name}, preset {preset} ({budget.steps:,} generator steps, batch "
        f"{budget.batch_size}; seeds {seeds}; {curve}){options}"
    )
    if suite.stacked:
        rule = (
            "distinct predicted digit triples (of 1,000; any sample counts: the published rule)"
            if int(first.get("min_count", 1)) == 1
            else f"predicted digit triples (of 1,000) seen at least {int(first['min_count'])} "
            "times (the calibrated rule)"
        )
        return (
            f"{head}: mean ± std over seeds; modes = {rule} among "
            f"{int(first['n_generated'])} samples, each channel "
            f"labelled by the {first['classifier']} classifier (held-out accuracy "
            f"{first['classifier_accuracy']:.3f}); kl = KL(generated triples || uniform) in nats, "
            "kl_log10 the same in log10. Published rows are Stacked-MNIST numbers (MNIST, not "
            f"sklearn digits): compare shapes, not values. {CONVERGENCE_CAPTION}"
        )
    return (
        f"{head}: mean ± std over seeds. IS/FID/KID/precision-recall on "
        f"{first['extractor']} features, {int(first['n_generated'])} generated vs "
        + (
            "the class's real training images (per class)"
            if "class" in df
            else f"all {int(first['n_reference'])} real training images"
        )
        + f"; MS-SSIM: protocol "
        f"{first['msssim_protocol']}, {int(first['n_pairs'])} random pairs, lower = more "
        "diverse; real data = the same measure on real images."
        + _PUBLISHED_NOTE.get(suite.published or "", "")
        + f" {CONVERGENCE_CAPTION}"
    )


_PUBLISHED_NOTE = {
    "greed-cifar10": " Published columns: the greed paper's Tables 2-4 (Inception IS on CIFAR-10; "
    "its "
    "MS-SSIM protocol and sample sizes are not stated), one model per class, no seeds reported.",
    "greed-celeba": " Published rows: the greed paper Table 1 (CelebA 64×64, DCGAN architecture; "
    "MS-SSIM protocol and sample sizes not stated), one run each.",
}


def write_image_tables(req, store) -> str:
    """Write every table and figure of an image suite under results/<suite>/<preset>/ and
    return the main table(s) rendered in ``req.format`` (``req``: a ``writers.TableRequest``)."""
    from . import image_plots

    suite = get_suite(req.suite).with_overrides(dict(req.suite_options))
    df = req.select(
        per_seed(
            store, req.suite, list(req.methods), req.preset, req.suite_options, req.method_options
        )
    )
    if df.empty:
        raise BenchError(
            "no finished runs of this configuration in the store; run `bench run` first"
        )
    if req.classes is not None:
        absent = [c for c in req.classes if c not in set(df["class"].astype(str))]
        if absent:  # a class still to train: the tables show the others (a report lists it)
            shown = ", ".join(class_order(df["class"].astype(str)))
            absent_names = ", ".join(absent)
            print(
                f"bench: no finished runs of class(es) {absent_names}; the tables show {shown}",
                file=sys.stderr,
            )
    methods = [m for m in req.methods if m in set(df["method"])]
    # rows in the order the methods were asked for (the store lists them alphabetically)
    df = df.assign(_order=df["method"].map(methods.index)).sort_values(
        ["_order", "seed"], kind="stable"
    )
    df = df.drop(columns="_order").reset_index(drop=True)
    out = req.out
    cap = caption(suite, req.preset, df, trained_with(req))
    if suite.per_class:
        complete, shown = complete_classes(df), class_order(df["class"])
        if complete != shown:
            cap += (
                f" Mean over classes: over {_classes_phrase(complete)} only, the classes with a "
                "finished run of every method and seed."
            )
    printed = []
    if suite.per_class:
        for metric in suite.reported_metrics:
            t = per_class_table(df, metric, methods, suite.published)
            label = get_metric(metric).label
            if _scale(metric) != 1.0:
                label = f"{label} (%)"
            if metric in suite.diversity_names:
                space = "DINOv2" if metric.endswith("_dinov2") else f"{df['extractor'].iloc[0]}"
                label = f"{label} on {space} features ({DIVERSITY_CAPTION})"
            if metric == "inception_score" and df["extractor"].iloc[0] != "inception-v3-compat":
                label = f"Inception Score computed with the {df['extractor'].iloc[0]} classifier"
            c = f"{label}. {cap}"
            atomic_write_text(out / f"table_{metric}.md", render(t, "md", c))
            atomic_write_text(out / f"table_{metric}.csv", render(t, "csv", c))
            # the same cells with methods as rows and classes as columns (the ground truth a
            # row of its own), for readers who compare methods across a line
            by_method = t.T.rename_axis("method")
            by_method.columns.name = None
            c_by_method = f"{c} Methods as rows, classes as columns."
            atomic_write_text(
                out / f"table_{metric}_by_method.md", render(by_method, "md", c_by_method)
            )
            atomic_write_text(
                out / f"table_{metric}_by_method.csv", render(by_method, "csv", c_by_method)
            )
            if metric in ("ms_ssim", "inception_score", "fid"):
                printed.append(f"## {label}\n\n" + render(t, req.format, c))
    else:
        t = methods_table(df, suite.reported_metrics, methods, suite)
        atomic_write_text(out / "table.md", render(t, "md", cap))
        atomic_write_text(out / "table.csv", render(t, "csv", cap))
        printed.append(render(t, req.format, cap))
    if suite.stacked and suite.dataset == "digits":
        printed.append(_calibration(suite, int(df["n_generated"].iloc[0]), out, req.format))
    atomic_write_text(out / "per_seed.csv", df.drop(columns="run_dir").to_csv(index=False))
    if not req.no_plots:
        from .plots import can_draw, convergence_figure

        if can_draw(df, out / "samples.png", "samples.npy"):
            image_plots.samples_figure(df, suite, out / "samples.png")
        if suite.per_class:
            summary = image_plots.per_class_summary(df, image_plots.PER_CLASS_METRICS, methods)
            image_plots.per_class_figure(summary, out / "per_class.png")
        image_plots.curves_figure(df, out / "curves.png")
        convergence_figure(df, suite.curve_names, out / "convergence.png")
    return "\n".join(printed)


def _calibration(suite, n: int, out, fmt: str) -> str:
    """The counting rules on real stacks with a known number of distinct triples (calibration.py),
    at the runs' own evaluation size: the bias of the mode counts above."""
    from ..suites.calibration import calibration_table
    from ..suites.image_eval import cache_dir

    images, labels = data_mod.load_digits(suite.image_size, 1)
    table = calibration_table(images, labels, n, cache_dir()).set_index("real stacks")
    cap = (
        f"Calibration: each counting rule on {n:,} real stacks built from exactly K distinct "
        "digit triples (suites/calibration.py). The published rule counts every predicted "
        "triple, so classifier errors add modes; the calibrated rule counts a triple seen at "
        "least 10 times, each channel labelled by digits-cnn-aug (held-out accuracy 0.997). "
        "Real stacks reuse the 1,797 digits, 80 % of which the classifiers trained on."
    )
    atomic_write_text(out / "calibration.md", render(table, "md", cap))
    atomic_write_text(out / "calibration.csv", table.to_csv())
    return render(table, fmt, cap)
