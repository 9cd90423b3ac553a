"""Regression gate: does a fresh run of a suite still reproduce the committed reference numbers?

``bench check --suite S --reference results/S.csv [--tolerance ...] [--update]`` reruns S,
compares the new per-(method, metric) means against the reference and fails CI when one falls
outside its allowed band or is missing. ``--update`` rewrites the reference from the new runs
(keeping hand-set per-row tolerances).

Reference CSV format (one row per (method, metric); order of rows and columns is free)::

    method,metric,mean,std,n,abs_tol,rel_tol
    gan,modes_covered,5.4,0.894,5,1,
    gan,reverse_kl,0.71,0.052,5,,0.2
    wgan_gp,modes_covered,8.0,0.0,5,,

* ``method``, ``metric``: non-empty names; each pair appears once.
* ``mean``: finite float, the mean over seeds.
* ``std``: sample std over seeds (ddof=1), >= 0; empty when n = 1.
* ``n``: number of seeds behind the mean, integer >= 1.
* ``abs_tol``, ``rel_tol`` (optional columns, cells may be empty): a per-row band
  ``mean +- max(abs_tol, rel_tol * |mean|)``, for metrics whose seed spread is a poor yardstick.

Which tolerance a row gets, most specific first: a ``--tolerance`` for that metric, then the
row's own ``abs_tol``/``rel_tol``, then ``--tolerance '*=...'``, then the default ``spread:3``.

Tolerance kinds (``METRIC=KIND:VALUE`` on the command line):

* ``abs:A``: current within reference mean +- A.
* ``rel:R``: current within reference mean +- R * |mean| (zero width when the mean is 0).
* ``spread:F``: current within reference mean +- F * h, where h = t_{0.975, n-1} * std / sqrt(n)
  is the half-width of the reference's 95 % t confidence interval of the mean. It scales with
  how much the seeds disagreed, so a noisy metric gets a wide band and a deterministic one
  (std 0) must be reproduced exactly. F = 3 leaves room for the current run's own seed noise.
  Needs n >= 2 in the reference row.

Comparisons allow a floating-point slack of 1e-9 * max(1, |mean|), so a bit-for-bit rerun
never fails on the last digit of a CSV round trip."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats as st

from .reference import validate_reference
from .stats import describe

KINDS = ("abs", "rel", "spread")


#: a gate row's verdict is "ok", "out", "missing" or "new"; these fail the gate
FAILING = ("out", "missing")


DIFF_COLUMNS = [
    "metric",
    "method",
    "reference",
    "current",
    "low",
    "high",
    "verdict",
    "rule",
    "ref_n",
    "cur_n",
]


_SPEC_HELP = "expected METRIC=KIND:VALUE with KIND abs, rel or spread, e.g. reverse_kl=rel:0.2"


_SLACK = 1e-9


@dataclass(frozen=True)
class Rule:
    """One tolerance: ``kind`` abs/rel/spread and its non-negative ``value``."""

    kind: str
    value: float

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"tolerance kind {self.kind!r} is invalid; use abs, rel or spread")
        if not (
            isinstance(self.value, (int, float)) and math.isfinite(self.value) and self.value >= 0
        ):
            raise ValueError(f"tolerance value {self.value!r} is invalid; use a finite number >= 0")

    @classmethod
    def parse(cls, text: str, spec: str | None = None) -> Rule:
        """``"abs:1"`` -> Rule("abs", 1.0); ``spec`` is the whole CLI string, for messages."""
        shown = spec if spec is not None else text
        kind, sep, value = text.strip().partition(":")
        kind = kind.strip().lower()
        if not sep or kind not in KINDS:
            raise ValueError(f"tolerance {shown!r} is invalid; {_SPEC_HELP}")
        try:
            v = float(value)
        except ValueError:
            raise ValueError(
                f"tolerance {shown!r} has a non-numeric value {value.strip()!r}; {_SPEC_HELP}"
            ) from None
        if not (math.isfinite(v) and v >= 0):
            raise ValueError(f"tolerance {shown!r} needs a finite value >= 0; {_SPEC_HELP}")
        return cls(kind, v)

    def half_width(self, mean: float, std: float, n: int, where: str = "") -> float:
        """Half-width of the allowed band around the reference ``mean``."""
        if self.kind == "abs":
            return self.value
        if self.kind == "rel":
            return self.value * abs(mean)
        if n < 2 or not math.isfinite(std):
            raise ValueError(
                f"reference {where} has n={n} and no seed spread, so spread:{self.value:g} is "
                "undefined; give that metric abs:X or rel:X (--tolerance or abs_tol/rel_tol)"
            )
        return self.value * float(st.t.ppf(0.975, n - 1)) * std / math.sqrt(n)

    def __str__(self) -> str:
        return f"{self.kind}:{self.value:g}"


@dataclass(frozen=True)
class Tolerance:
    """Tolerances per metric (``per_metric``) and for every other metric (``default``).

    Build it from CLI strings with ``Tolerance.parse``; ``"*"`` sets the default.
    """

    per_metric: Mapping[str, Rule] = field(default_factory=dict)
    default: Rule = field(default_factory=lambda: Rule("spread", 3.0))

    @classmethod
    def parse(cls, specs: str | Iterable[str] | None) -> Tolerance:
        """Parse ``["modes_covered=abs:1", "reverse_kl=rel:0.2", "*=spread:3"]``.

        Each string may also hold several comma-separated specs. A metric given twice is an
        error rather than "last one wins", so a typo cannot silently override a rule.
        """
        if specs is None:
            return cls()
        if isinstance(specs, str):
            specs = [specs]
        per_metric: dict[str, Rule] = {}
        default: Rule | None = None
        for spec in specs:
            if not isinstance(spec, str):
                raise ValueError(f"tolerance {spec!r} is not a string; {_SPEC_HELP}")
            for part in spec.split(","):
                metric, sep, rule_text = part.partition("=")
                metric = metric.strip()
                if not sep or not metric or any(c.isspace() for c in metric):
                    raise ValueError(f"tolerance {part.strip()!r} is invalid; {_SPEC_HELP}")
                rule = Rule.parse(rule_text, spec=part.strip())
                if metric == "*":
                    if default is not None:
                        raise ValueError(f"tolerance for '*' given twice ({part.strip()!r})")
                    default = rule
                else:
                    if metric in per_metric:
                        raise ValueError(
                            f"tolerance for metric {metric!r} given twice; give each metric once"
                        )
                    per_metric[metric] = rule
        return cls(per_metric, default) if default is not None else cls(per_metric)

    def rule_for(
        self, metric: str, abs_tol: float = math.nan, rel_tol: float = math.nan
    ) -> Rule | RowTolerance:
        """The rule that wins for one reference row (see the module docstring for the order)."""
        if metric in self.per_metric:
            return self.per_metric[metric]
        if not (math.isnan(abs_tol) and math.isnan(rel_tol)):
            return RowTolerance(abs_tol, rel_tol)
        return self.default


@dataclass(frozen=True)
class RowTolerance:
    """A reference row's own abs_tol/rel_tol: the wider of the two bands when both are set."""

    abs_tol: float = math.nan
    rel_tol: float = math.nan

    def half_width(self, mean: float, std: float, n: int, where: str = "") -> float:
        widths = [w for w in (self.abs_tol, self.rel_tol * abs(mean)) if not math.isnan(w)]
        if not widths:
            raise ValueError(f"reference {where} has neither abs_tol nor rel_tol set")
        return max(widths)

    def __str__(self) -> str:
        parts = [] if math.isnan(self.abs_tol) else [f"abs:{self.abs_tol:g}"]
        parts += [] if math.isnan(self.rel_tol) else [f"rel:{self.rel_tol:g}"]
        return "row " + "|".join(parts)


def _current_summary(current: pd.DataFrame) -> pd.DataFrame:
    """Current results as (method, metric, mean, n): from per-seed rows or an already-summary."""
    if not isinstance(current, pd.DataFrame):
        raise ValueError(f"current results must be a DataFrame, got {type(current).__name__}")
    if {"metric", "mean"} <= set(current.columns) and "method" in current.columns:
        cur = current.copy()
        cur["mean"] = pd.to_numeric(cur["mean"], errors="coerce")
        if "n" not in cur.columns:
            cur["n"] = np.where(cur["mean"].isna(), 0, 1)
        if cur.duplicated(subset=["method", "metric"]).any():
            raise ValueError("current summary has duplicate (method, metric) rows; one each")
        return cur[["method", "metric", "mean", "n"]]
    if "seed" in current.columns and "method" in current.columns:
        return describe(current)[["method", "metric", "mean", "n"]]
    raise ValueError(
        "current results need columns method, seed and metrics (per run) or method, metric, mean"
    )


def check(
    reference_df: pd.DataFrame, current_df: pd.DataFrame, tolerance: Tolerance | None = None
) -> tuple[bool, pd.DataFrame]:
    """Compare current results with the reference; ok is False on any "out" or "missing" row.

    ``current_df`` is either the per-seed long table (method, seed, metric columns) or a summary
    in the reference's shape. The diff has one row per reference (method, metric), verdict
    ok/out/missing, then one "new" row per current pair the reference lacks (not a failure).
    """
    tol = tolerance or Tolerance()
    ref = validate_reference(reference_df)
    unknown = sorted(set(tol.per_metric) - set(ref["metric"]))
    if unknown:
        raise ValueError(
            f"--tolerance names metric(s) {unknown} the reference lacks; it has "
            f"{sorted(set(ref['metric']))}"
        )
    cur = _current_summary(current_df)
    cur = cur.assign(method=cur["method"].astype(str), metric=cur["metric"].astype(str))
    cur_map = {
        (m, k): (float(v), int(n))
        for m, k, v, n in cur[["method", "metric", "mean", "n"]].itertuples(index=False)
        if not math.isnan(float(v))
    }
    rows = []
    for r in ref.itertuples(index=False):
        rule = tol.rule_for(r.metric, r.abs_tol, r.rel_tol)
        h = rule.half_width(r.mean, r.std, r.n, where=f"row ({r.method}, {r.metric})")
        low, high = r.mean - h, r.mean + h
        current, cur_n = cur_map.get((r.method, r.metric), (math.nan, 0))
        if math.isnan(current):
            verdict = "missing"
        else:
            slack = _SLACK * max(1.0, abs(r.mean))
            verdict = "ok" if low - slack <= current <= high + slack else "out"
        rows.append(
            dict(
                metric=r.metric,
                method=r.method,
                reference=r.mean,
                current=current,
                low=low,
                high=high,
                verdict=verdict,
                rule=str(rule),
                ref_n=r.n,
                cur_n=cur_n,
            )
        )
    known = set(zip(ref["method"], ref["metric"], strict=True))
    for (m, k), (v, n) in cur_map.items():
        if (m, k) not in known:
            rows.append(
                dict(
                    metric=k,
                    method=m,
                    reference=math.nan,
                    current=v,
                    low=math.nan,
                    high=math.nan,
                    verdict="new",
                    rule="",
                    ref_n=0,
                    cur_n=n,
                )
            )
    diff = pd.DataFrame(rows, columns=DIFF_COLUMNS)
    ok = not diff["verdict"].isin(FAILING).any()
    return ok, diff


def format_diff(diff: pd.DataFrame, marks: Mapping[tuple[str, str], str] | None = None) -> str:
    """Markdown table of ``check``'s diff, failures in capitals, and a one-line verdict;
    ``marks`` (method, metric) -> a convergence mark after the current value."""
    marks = marks or {}
    missing = [c for c in DIFF_COLUMNS if c not in diff.columns]
    if missing:
        raise ValueError(f"diff lacks column(s) {missing}; pass the diff returned by check()")

    def f(v: float) -> str:
        return "-" if math.isnan(v) else f"{v:.4g}"

    header = ["metric", "method", "reference (n)", "current (n)", "allowed band", "rule", "verdict"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for r in diff.itertuples(index=False):
        verdict = r.verdict.upper() if r.verdict in FAILING else r.verdict
        band = "-" if math.isnan(r.low) else f"[{f(r.low)}, {f(r.high)}]"
        cells = [
            str(r.metric),
            str(r.method),
            f"{f(r.reference)} (n={r.ref_n})",
            f"{f(r.current)}{marks.get((r.method, r.metric), '')} (n={r.cur_n})",
            band,
            r.rule,
            verdict,
        ]
        lines.append("| " + " | ".join(cells) + " |")
    counts = diff["verdict"].value_counts()
    n_out, n_missing = int(counts.get("out", 0)), int(counts.get("missing", 0))
    n_checked = int((diff["verdict"] != "new").sum())
    n_new = int(counts.get("new", 0))
    if n_out or n_missing:
        summary = f"FAIL: {n_out} out of tolerance, {n_missing} missing (of {n_checked} checked)"
    else:
        summary = f"OK: all {n_checked} reference values within tolerance"
    if n_new:
        summary += f"; {n_new} new (not in the reference, not checked)"
    return "\n".join(lines + ["", summary])
