"""The metric-agreement analysis on hand-built run tables."""

import numpy as np
import pandas as pd
import pytest

from collapsebench.benchmark.analysis.agreement import agreement, toy_collapsed


def _runs():
    modes = np.array([25, 24, 20, 12, 5, 1], dtype=float)
    return pd.DataFrame(
        {
            "modes_covered": modes,
            "coverage": modes / 25,  # same order, higher is better
            "reverse_kl": 1.0 / modes,  # reversed order, but lower is better: agrees
            "density": [1.0, 1.0, 1.0, 1.0, 1.0, 1.0],  # constant: no ranking at all
            "ndb": modes / 25,  # says "better" exactly where modes says worse
        }
    )


def test_oriented_rank_correlation_and_auroc():
    runs = _runs()
    out = agreement(
        runs, "modes_covered", ["coverage", "reverse_kl", "density", "ndb"], toy_collapsed(runs, 25)
    ).set_index("metric")
    assert out.loc["coverage", "spearman"] == pytest.approx(1.0)
    assert out.loc["reverse_kl", "spearman"] == pytest.approx(1.0)
    assert out.loc["ndb", "spearman"] == pytest.approx(-1.0)
    assert np.isnan(out.loc["density", "spearman"])
    # collapsed: fewer than 22.5 of 25 modes -> the last four runs
    assert out.loc["coverage", "auroc"] == 1.0 and out.loc["ndb", "auroc"] == 0.0
    assert out.loc["density", "auroc"] == 0.5  # ties everywhere: chance
    assert (out["runs"] == 6).all()


def test_missing_values_are_left_out_and_one_class_has_no_auroc():
    runs = _runs()
    runs.loc[0, "coverage"] = np.nan
    out = agreement(runs, "modes_covered", ["coverage"], runs["modes_covered"] < 100)
    assert out.loc[0, "runs"] == 5 and np.isnan(out.loc[0, "auroc"])


def test_bench_agreement_writes_one_row_per_metric(smoke_store, tmp_path, capsys):
    import json

    from collapsebench.benchmark.cli.main import main
    from collapsebench.benchmark.suites import get_suite

    out, _ = smoke_store
    assert (
        main(
            ["agreement", "--suites", "gaussians25", "--out", str(out), "--results", str(tmp_path)]
        )
        == 0
    )
    table = pd.read_csv(tmp_path / "agreement" / "gaussians25.csv")
    others = [m for m in get_suite("gaussians25").evaluated_metrics if m != "modes_covered"]
    assert list(table["metric"]) == others and (table["runs"] == 4).all()
    # the spearman column is the oriented rank correlation of the stored metrics, recomputed here
    rows = [json.loads(p.read_text()) for p in out.rglob("metrics.json")]
    runs = pd.DataFrame(rows)
    got = table.set_index("metric").loc["coverage", "spearman"]
    expected = runs["coverage"].rank().corr(runs["modes_covered"].rank())
    assert got == pytest.approx(expected) or (np.isnan(got) and np.isnan(expected))
    assert "reference modes covered" in (tmp_path / "agreement" / "gaussians25.md").read_text()
    assert main(["agreement", "--suites", "nope", "--out", str(out)]) == 2
