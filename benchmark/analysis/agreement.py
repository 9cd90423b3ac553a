"""Which metric separates collapsed from non-collapsed generators? Agreement with a reference.

Over a set of finished runs (rows) and their metrics (columns), each metric is compared with a
reference metric whose meaning is settled on that suite: modes covered on the 2-D toys (it
*defines* collapse there), per-class MS-SSIM on digits-perclass (the diversity measure of the
seed papers). Two numbers per metric:

* **oriented Spearman ρ** with the reference: the rank correlation, with its sign turned so that
  +1 means "ranks the runs exactly as the reference does, better where it says better" (each
  metric's direction comes from metrics/registry.py);
* **AUROC** for telling collapsed runs (the reference's verdict, e.g. fewer than 90 % of the
  modes covered) from the others, the metric oriented so that higher is better: 1 separates them
  perfectly, 0.5 is chance. Absent when the runs are all collapsed or all not.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy.stats import spearmanr
from sklearn.metrics import roc_auc_score

from ...metrics.registry import get as metric

#: a toy run is collapsed when it covers fewer than this share of the modes
COLLAPSED_BELOW = 0.9


def _sign(name: str) -> int:
    return 1 if metric(name).direction == "higher" else -1


def agreement(
    runs: pd.DataFrame,
    reference: str,
    metrics: Sequence[str],
    collapsed: pd.Series | None = None,
) -> pd.DataFrame:
    """One row per metric: n runs, oriented Spearman ρ with ``reference`` and, given the
    ``collapsed`` verdict of each run, the AUROC for separating the collapsed runs."""
    rows = []
    for m in metrics:
        ok = runs[[m, reference]].notna().all(axis=1)
        x, ref = runs.loc[ok, m].astype(float), runs.loc[ok, reference].astype(float)
        row = {"metric": m, "runs": int(ok.sum()), "spearman": np.nan, "auroc": np.nan}
        if ok.sum() >= 3 and x.nunique() > 1 and ref.nunique() > 1:
            row["spearman"] = float(spearmanr(x, ref).statistic) * _sign(m) * _sign(reference)
        if collapsed is not None:
            y = ~collapsed[ok].astype(bool)
            if 0 < y.sum() < len(y):
                row["auroc"] = float(roc_auc_score(y, _sign(m) * x))
        rows.append(row)
    return pd.DataFrame(rows)


def toy_collapsed(runs: pd.DataFrame, n_modes: int) -> pd.Series:
    return runs["modes_covered"] < COLLAPSED_BELOW * n_modes


CAPTION = (
    "Agreement of each metric with the suite's reference over every finished run in the store "
    "(all methods, seeds, presets and protocols of the suite): oriented Spearman ρ (+1 = ranks "
    "runs exactly as the reference does, better where it says better; each metric's direction "
    "from metrics/registry.py) and AUROC for separating collapsed runs (toys: fewer than "
    f"{COLLAPSED_BELOW:.0%} of the modes covered) from the rest (1 = perfectly, 0.5 = chance)."
)


def store_runs(store, suite: str, data_root=None) -> pd.DataFrame:
    """Every finished, non-diverged run of ``suite`` in ``store``: its key and its metrics (runs
    that lack a metric the suite now reports get it from their stored samples first)."""
    from ..runs.reevaluate import complete_evaluations
    from ..suites import suite_of

    records = list(store.records(suite))
    complete_evaluations(store, [r.spec for r in records], data_root)
    rows = []
    for r in records:
        s = suite_of(r.spec.config())
        m = r.run.read_metrics(s.evaluated_metrics)
        if m.get("diverged"):
            continue
        rows.append(
            {
                "method": r.spec.method,
                "class": r.spec.cls,
                "seed": r.spec.seed,
                "protocol": getattr(s, "protocol", None),
                "steps": r.spec.train.steps,
                **{k: m.get(k, np.nan) for k in s.evaluated_metrics},
            }
        )
    return pd.DataFrame(rows)


def suite_agreement(store, suite: str, data_root=None) -> tuple[pd.DataFrame, int]:
    """The agreement table of one suite (toys: with modes covered; per-class images: with
    MS-SSIM), and the number of runs it was computed from."""
    from ..suites import get_suite

    s = get_suite(suite)
    runs = store_runs(store, suite, data_root)
    if runs.empty:
        return pd.DataFrame(), 0
    ref = s.agreement_reference[0]
    collapsed = toy_collapsed(runs, s.n_modes) if ref == "modes_covered" else None
    others = [m for m in s.evaluated_metrics if m != ref and m in runs]
    return agreement(runs, ref, others, collapsed), len(runs)
