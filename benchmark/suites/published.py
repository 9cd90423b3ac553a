"""Our numbers beside a protocol's published ones, with a verdict.

A verdict compares our mean ± standard error (std / sqrt(n) over our seeds) with the published
mean ± standard error:

* "agrees"  when |ours - published| <= 2 * sqrt(se_ours^2 + se_published^2);
* "differs" otherwise;
* where the source publishes no spread (VEEGAN, GDPP), the same test with our standard error
  alone, and the cell says so ("agrees (our SE only)"); where our seeds all agree as well (a
  standard error of 0, e.g. every seed covers all 8 modes) the test has no tolerance, and the
  cell says that instead;
* "not comparable: ..." when the runs did not follow the published protocol in full: a smaller
  budget than the source's, fewer trials, or no finished run. A number next to a published one
  counts only under the same protocol and budget; this says so in the cell itself.
"""

from __future__ import annotations

import math

import pandas as pd

from .protocols import Protocol

#: the verdict's suffix where the source gives no spread
OUR_SE_ONLY = " (our SE only)"
#: ... and where our seeds all gave the same value too: the test has no tolerance left, so any
#: difference "differs" and only an exact match "agrees"; the reader should know that
NO_SPREAD = " (no spread: none published, and every one of our seeds gave the same value)"


def verdict(
    mean: float,
    se: float,
    pub_mean: float,
    pub_se: float | None,
    not_comparable: str | None = None,
) -> str:
    if not_comparable:
        return f"not comparable: {not_comparable}"
    if any(math.isnan(v) for v in (mean, se, pub_mean)) or (
        pub_se is not None and math.isnan(pub_se)
    ):
        return "not comparable: no estimate"
    tol = 2 * math.hypot(se, pub_se or 0.0)
    word = "agrees" if abs(mean - pub_mean) <= tol else "differs"
    if pub_se is None:
        return word + (NO_SPREAD if se == 0 else OUR_SE_ONLY)
    return word


def comparability(steps: int, source_steps: int, n: int, trials: int | None) -> str | None:
    """Why our cell cannot be set against the published one, or None when it can."""
    why = []
    if n == 0:
        return "no finished run"
    if steps < source_steps:
        why.append(f"budget {steps:,} of the source's {source_steps:,} steps")
    if trials is not None and n < trials:
        why.append(f"{n} of the source's {trials} trials")
    return "; ".join(why) or None


def published_table(
    df: pd.DataFrame, protocol: Protocol, suite: str, steps: int, departs: bool = False
) -> pd.DataFrame:
    """One row per published cell of ``protocol`` on ``suite``: ours (mean ± SE, n) beside the
    published value, and the verdict. ``df``: per-seed metrics (method, seed, metrics...).
    ``departs``: the runs depart from the protocol (--update-order, --ring, --set), so the
    protocol's reasons, which explain its own runs, are not theirs and stay out."""
    cells_of = protocol.published.get(suite, {})
    if not cells_of:
        return pd.DataFrame()
    source_steps = protocol.presets[protocol.published_preset].steps
    reasons = {} if departs else protocol.differences.get(suite, {})
    rows = []
    for label, cells in cells_of.items():
        method = protocol.published_methods[label]
        if method is None:
            for metric, (pub_mean, pub_se) in cells.items():
                rows.append(_published_only(label, metric, pub_mean, pub_se, protocol.trials))
            continue
        runs = df[df["method"] == method] if len(df) else df
        for metric, (pub_mean, pub_se) in cells.items():
            vals = runs[metric].dropna() if metric in runs else pd.Series(dtype=float)
            n = len(vals)
            mean = float(vals.mean()) if n else math.nan
            se = float(vals.std(ddof=1) / math.sqrt(n)) if n > 1 else math.nan
            why = comparability(steps, source_steps, n, protocol.trials)
            rows.append(
                {
                    "published row": label,
                    "method": method,
                    "metric": metric,
                    "ours mean": mean,
                    "ours se": se,
                    "ours n": n,
                    "published mean": pub_mean,
                    "published se": pub_se,
                    "published trials": protocol.trials,
                    "verdict": verdict(mean, se, pub_mean, pub_se, why),
                    "why": reasons.get((label, metric), ""),
                }
            )
    return pd.DataFrame(rows)


def verdict_counts(pub: pd.DataFrame) -> str:
    """One sentence counting a published table's verdicts, e.g. "Of 8 published cells of
    methods implemented here, 3 agree, 5 differ and 0 are not comparable; 4 cells are
    published only."."""
    verdicts = pub["verdict"].astype(str)
    agree = int(verdicts.str.startswith("agrees").sum())
    differ = int(verdicts.str.startswith("differs").sum())
    not_comparable = int(verdicts.str.startswith("not comparable").sum())
    only = int(verdicts.str.startswith("published only").sum())
    total = agree + differ + not_comparable
    text = f"Of {total} published cells of methods implemented here, {agree} agree, {differ} "
    text += f"differ and {not_comparable} are not comparable"
    return text + (f"; {only} cells are published only." if only else ".")


def _published_only(label: str, metric: str, mean: float, se, trials) -> dict:
    """A published row no method of ours implements: its value, and no verdict."""
    return {
        "published row": label,
        "method": "",
        "metric": metric,
        "ours mean": math.nan,
        "ours se": math.nan,
        "ours n": 0,
        "published mean": mean,
        "published se": se,
        "published trials": trials,
        "verdict": "published only: not implemented here",
        "why": "",
    }
