"""How a comparison reads: the Markdown table of bench compare (figure: report/seed_plots.py)."""

from __future__ import annotations

import math
from collections.abc import Mapping

import pandas as pd

from .stats import COMPARE_COLUMNS


def _fmt(v: float) -> str:
    return "nan" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.4g}"


def _fmt_p(p: float) -> str:
    if isinstance(p, float) and math.isnan(p):
        return "-"
    return "<1e-4" if p < 1e-4 else f"{p:.4f}"


def format_comparison(
    table: pd.DataFrame, marks: Mapping[tuple[str, str], str] | None = None
) -> str:
    """Markdown table of ``compare``'s output; '*' marks significant rows, n sits in each cell;
    ``marks`` (method, metric) -> a convergence mark after that group's mean (tables.cell_marks)."""
    marks = marks or {}
    missing = [c for c in COMPARE_COLUMNS if c not in table.columns]
    if missing:
        raise ValueError(f"table lacks column(s) {missing}; pass the output of compare()")
    alpha = table.attrs.get("alpha", math.nan)
    test = {"welch": "Welch", "mannwhitney": "Mann-Whitney"}.get(
        table.attrs.get("primary_test", "welch"), "Welch"
    )
    header = [
        "baseline",
        "metric",
        "new mean (n)",
        "baseline mean (n)",
        "diff [95% CI]",
        "P(new better)",
        "p Welch",
        "p MWU",
        "p Holm",
        "verdict",
    ]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    notes = []
    for r in table.itertuples(index=False):
        arrow = "↑" if r.direction == "higher" else "↓"
        star = "*" if r.significant else ""
        ci = f"[{_fmt(r.diff_ci_low)}, {_fmt(r.diff_ci_high)}]"
        cells = [
            str(r.baseline),
            f"{r.metric} {arrow}",
            f"{_fmt(r.mean_new)}{marks.get((r.method, r.metric), '')} (n={r.n_new})",
            f"{_fmt(r.mean_base)}{marks.get((r.baseline, r.metric), '')} (n={r.n_base})",
            f"{_fmt(r.diff)}{star} {ci}",
            _fmt(r.prob_improvement),
            _fmt_p(r.p_welch),
            _fmt_p(r.p_mwu),
            _fmt_p(r.p_holm) + star,
            r.better,
        ]
        lines.append("| " + " | ".join(cells) + " |")
        if r.note:
            notes.append(f"- {r.baseline} / {r.metric}: {r.note}")
    method = table["method"].iloc[0] if len(table) else "?"
    lines.append("")
    lines.append(
        f"new method: {method}. * = significant, Holm-corrected {test} p < {alpha:g}; "
        "↑/↓ = higher/lower is better; diff = new - baseline."
    )
    lines.extend(notes)
    return "\n".join(lines)
