"""Tables shaped like the papers': rows = methods, columns = metrics, mean ± std over seeds."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ...metrics.registry import METRICS
from ..analysis.convergence import cell_mark, converged, last_quarter_spread, run_converged
from ..errors import BenchError
from ..runs.planning import config_hashes
from ..store.runstore import RunStore
from ..suites import get_suite
from ..suites.protocols import Protocol


def results_dir(
    results: str | Path,
    suite: str,
    preset: str,
    suite_options: Mapping[str, Any] | None = None,
    method_set: Sequence[str] | None = None,
) -> Path:
    """results/<suite>/<preset>/, plus one folder level naming any non-default option, so the
    table of ``--arch resnet`` or ``--set optimizer=adam`` never overwrites the default one."""
    opts = dict(suite_options or {})
    protocol = opts.pop("protocol", None)  # toy suites: results/<suite>/<protocol>/<preset>/
    out = Path(results) / suite / (f"{protocol}/{preset}" if protocol else preset)
    parts = [f"{k}-{v}" for k, v in sorted(opts.items())]
    parts += [re.sub(r"[^A-Za-z0-9.+-]", "-", s) for s in method_set or ()]
    return out / "_".join(parts) if parts else out


def select_runs(
    df: pd.DataFrame,
    seeds: Sequence[int] | None = None,
    classes: Sequence[str] | None = None,
) -> pd.DataFrame:
    """The rows of a ``per_seed`` frame of these seeds and (per-class suites) classes; None
    keeps every one."""
    if seeds is not None and not df.empty:
        df = df[df["seed"].isin(seeds)]
    if classes is not None and "class" in df:
        df = df[df["class"].astype(str).isin(classes)]
    return df.reset_index(drop=True)


def select_present(
    df: pd.DataFrame,
    seeds: Sequence[int] | None = None,
    classes: Sequence[str] | None = None,
) -> pd.DataFrame:
    """``select_runs``, refusing a selection that leaves none of the store's runs: the error
    names what the store has, so a mistyped class or seed is not read as "nothing trained"."""
    out = select_runs(df, seeds, classes)
    if out.empty and not df.empty:
        asked = [f"class(es) {', '.join(classes)}"] if classes is not None else []
        asked += [f"seed(s) {', '.join(map(str, seeds))}"] if seeds is not None else []
        have = [f"seeds {', '.join(map(str, sorted(set(df['seed']))))}"]
        if "class" in df:
            from .image_plots import class_order  # error path only: it imports matplotlib

            have.insert(0, f"classes {', '.join(class_order(df['class'].astype(str)))}")
        raise BenchError(
            f"no finished runs of {' and '.join(asked)} in the store; it has runs of "
            f"{' and '.join(have)} for this configuration"
        )
    return out


def per_seed(
    store: RunStore,
    suite: str,
    methods: Sequence[str],
    preset: str,
    suite_options: Mapping[str, Any] | None = None,
    method_options: Mapping[str, Mapping[str, Any]] | None = None,
) -> pd.DataFrame:
    """Long table of finished runs of the *current* configuration: one row per (method, seed).

    Runs of another configuration (older code defaults, other presets) share neither hash nor
    table, so a table never mixes budgets.
    """
    hashes = config_hashes(suite, methods, preset, suite_options, method_options)
    resolved = get_suite(suite).with_overrides(suite_options or {})
    numeric = resolved.reported_metrics
    n_modes = resolved.n_modes
    rows = []
    for rec in store.records(suite):
        if (rec.spec.method, rec.spec.config_hash()) in hashes:
            cls = {} if rec.spec.cls is None else {"class": rec.spec.cls}
            evals = rec.run.read_evals()
            status = converged(evals, n_modes)
            ordered = evals.sort_values("step") if status else None  # sorted once per run
            whole = run_converged(status)  # metrics with no curve: the run's own status
            final = rec.run.read_metrics(numeric)
            rows.append(
                {
                    "method": rec.spec.method,
                    **cls,
                    "seed": rec.spec.seed,
                    # a metric added after the run finished is an empty cell, never a KeyError
                    **dict.fromkeys(numeric, np.nan),
                    **final,
                    **resolved.dynamics(evals, final),
                    **{f"{CONVERGED}{m}": status.get(m, whole) for m in numeric},
                    **{f"{SPREAD}{m}": last_quarter_spread(ordered[m]) for m in status},
                    "run_dir": str(rec.run.path),
                }
            )
    return pd.DataFrame(rows)


#: per-seed column prefix: the plateau rule's verdict on each metric of the run
CONVERGED = "converged:"
#: per-seed column prefix: max - min of a curve metric over the last quarter of its points
SPREAD = "spread:"


def seed_list(df: pd.DataFrame) -> str:
    """The seeds a table averages, for its caption ("0, 1, 2"; "none" for no runs)."""
    return ", ".join(str(s) for s in sorted(set(df["seed"]))) if len(df) else "none"


def runs_mark(runs: pd.DataFrame, metric: str) -> str:
    """The convergence mark of a table cell holding these per-seed rows (convergence.cell_mark)."""
    col = f"{CONVERGED}{metric}"
    statuses = list(runs[col]) if col in runs else [None] * len(runs)
    return cell_mark([None if pd.isna(s) else s for s in statuses])


def cell_marks(df: pd.DataFrame, metrics: Sequence[str]) -> dict[tuple[str, str], str]:
    """(method, metric) -> the convergence mark of that table cell."""
    return {
        (method, m): runs_mark(runs, m) for method, runs in df.groupby("method") for m in metrics
    }


def summary(df: pd.DataFrame, metrics: Sequence[str], methods: Sequence[str]) -> pd.DataFrame:
    """Numeric summary: for each method and metric the mean, std (ddof=1) and n seeds."""
    if df.empty:
        raise BenchError(
            "no finished runs of this configuration in the store; run `bench run` first"
        )
    g = df.groupby("method")[list(metrics)]
    out = pd.concat({"mean": g.mean(), "std": g.std(ddof=1), "n": g.count()}, axis=1)
    order = [m for m in methods if m in out.index]
    return out.loc[order]


#: units whose means print with one decimal (counts of modes, events, steps)
COUNTS = ("modes", "events", "steps")


def _unit(metric: str) -> str:
    return METRICS[metric].unit if metric in METRICS else ""


def _fmt(mean: float, std: float | None, pct: bool, count: bool = False) -> str:
    if mean is None or (isinstance(mean, float) and np.isnan(mean)):
        return ""
    scale = 100.0 if pct else 1.0
    digits = 1 if pct or count else (1 if mean >= 5 else 3)
    s = f"{mean * scale:.{digits}f}"
    if std is not None and not np.isnan(std):
        s += f" ± {std * scale:.{digits}f}"
    return s


def display_table(
    summ: pd.DataFrame,
    metrics: Sequence[str],
    marks: Mapping[tuple[str, str], str] | None = None,
    protocol: Protocol | None = None,
    suite: str | None = None,
    diverged: Mapping[str, int] | None = None,
) -> pd.DataFrame:
    """Paper-style strings with convergence marks; a protocol's published rows (mean ± its
    standard error) appended, labelled as published. Published rows appear only under the
    protocol that produced them."""
    pct = {m: _unit(m) == "%" for m in metrics}
    header = {m: (m.replace("hq_fraction", "hq_%")) for m in metrics}
    marks, diverged = marks or {}, diverged or {}
    rows = {}
    for method, r in summ.iterrows():
        cells = {
            header[m]: _fmt(r[("mean", m)], r[("std", m)], pct[m], _unit(m) in COUNTS)
            + marks.get((method, m), "")
            for m in metrics
        }
        cells["seeds"] = str(int(r[("n", metrics[0])]))
        if diverged.get(method):
            cells["seeds"] += f" (+{diverged[method]} diverged)"
        rows[method] = cells
    published = protocol.published.get(suite, {}) if protocol is not None else {}
    for label, vals in published.items():
        cells = {header[m]: _fmt(*vals[m], pct[m]) if m in vals else "" for m in metrics}
        cells["seeds"] = f"{protocol.trials} (published, ± s.e.)"
        rows[f"{label}, published"] = cells
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "method"
    return table


def diverged_counts(df: pd.DataFrame) -> dict[str, int]:
    """method -> runs whose samples were not finite (their metrics are NaN, so the seeds column
    counts only the others; the table says how many diverged)."""
    if df.empty or "diverged" not in df:
        return {}
    flags = df["diverged"].fillna(False).astype(bool)
    return {m: int(n) for m, n in flags.groupby(df["method"]).sum().items() if n}


def render(table: pd.DataFrame, fmt: str, caption: str) -> str:
    if fmt == "csv":
        return table.to_csv()
    if fmt == "latex":
        return table.to_latex(caption=caption, escape=True)
    if fmt == "md":
        # numbers stay as written (0.2940, not 0.294): the cells are already formatted
        return f"{table.to_markdown(disable_numparse=True)}\n\n{caption}\n"
    raise BenchError(f"unknown --format {fmt!r}; valid formats: md, csv, latex")


def trained_options(req) -> list[str]:
    """The command-line options, beyond suite and preset, that ``req``'s runs were trained under
    (suite options other than the protocol, and ``--set``), as a reader would type them."""
    opts = sorted((k, v) for k, v in req.suite_options.items() if k != "protocol")
    sets = [req.method_set] if isinstance(req.method_set, str) else list(req.method_set or ())
    return [f"--{k.replace('_', '-')} {v}" for k, v in opts] + [f"--set {s}" for s in sets]


def trained_with(req) -> str:
    """The caption's clause naming those options ("" for the default configuration), so a
    table copied out of its folder still says which runs it shows."""
    opts = trained_options(req)
    return f", trained with {' '.join(opts)}" if opts else ""
