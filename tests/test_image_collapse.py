"""Collapse over training on image suites, and the class-by-class test of a paper's claim, on
constructed curves and tables with answers worked by hand."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from collapsebench.benchmark.analysis.per_class import (
    average_probability_of_improvement,
    claim_verdict,
    metric_verdicts,
    per_class_compare,
)
from collapsebench.benchmark.suites import get_suite
from collapsebench.metrics.image_collapse import MARGIN, episodes, image_dynamics
from collapsebench.metrics.registry import METRICS


def test_a_swinging_gan_curve_worked_by_hand():
    """Ground truth 0.60, so collapsed means MS-SSIM > 0.70. The curve (in step order)
    0.55 0.80 0.81 0.56 0.79 0.58 0.57 0.82: collapsed at points 2, 3, 5 and 8 -> share 4/8,
    three episodes ({2,3}, {5}, {8}); the last half (points 5-8) peaks at 0.82."""
    steps = np.array([8, 1, 2, 3, 4, 5, 6, 7]) * 500  # given out of order: sorted by step
    ms = np.array([0.82, 0.55, 0.80, 0.81, 0.56, 0.79, 0.58, 0.57])
    d = image_dynamics(steps, ms, 0.60)
    assert d == {"collapsed_share": 0.5, "ms_ssim_worst_last_half": 0.82, "collapse_episodes": 3}


def test_a_settling_wgan_curve_never_collapses():
    """A WGAN whose MS-SSIM falls from noise-like 0.9 to the data's 0.6 collapses only while
    above 0.7: the first two points, one episode; its last half (points 4-6) peaks at 0.62."""
    d = image_dynamics(np.arange(1, 7), np.array([0.9, 0.75, 0.68, 0.62, 0.61, 0.60]), 0.60)
    assert d["collapsed_share"] == pytest.approx(2 / 6)
    assert (d["collapse_episodes"], d["ms_ssim_worst_last_half"]) == (1, 0.62)


def test_the_margin_is_strict_and_nan_points_are_skipped():
    at_margin = 0.60 + MARGIN
    d = image_dynamics(np.arange(1, 5), np.array([at_margin, np.nan, 0.9, 0.5]), 0.60)
    assert d["collapsed_share"] == pytest.approx(1 / 3) and d["collapse_episodes"] == 1
    assert all(math.isnan(v) for v in image_dynamics([1], [np.nan], 0.6).values())
    assert all(math.isnan(v) for v in image_dynamics([1], [0.7], float("nan")).values())
    assert episodes(np.array([], dtype=bool)) == 0
    assert episodes(np.array([True, True, False, True])) == 2


def test_per_class_suites_report_and_register_the_three_measures():
    suite = get_suite("digits-perclass")
    assert set(suite.dynamics_names) <= set(suite.reported_metrics)
    assert all(METRICS[n].direction == "lower" for n in suite.dynamics_names)
    evals = pd.DataFrame({"step": [1, 2, 3, 4], "ms_ssim": [0.9, 0.6, 0.9, 0.6]})
    d = suite.dynamics(evals, {"ms_ssim_real": 0.6})
    assert d["collapse_episodes"] == 2 and d["collapsed_share"] == 0.5
    assert math.isnan(suite.dynamics(evals, {})["collapsed_share"])
    assert get_suite("stacked-digits").dynamics_names == ()


def _table(new: dict, base: dict) -> pd.DataFrame:
    rows = []
    for method, per_class in (("greed-gan", new), ("gan", base)):
        for cls, values in per_class.items():
            rows += [
                {"method": method, "class": cls, "seed": s, "ms_ssim": v}
                for s, v in enumerate(values)
            ]
    return pd.DataFrame(rows)


def test_holm_across_classes_worked_by_hand():
    """Class 0: a large, clean improvement; class 1: none. Welch's p for class 0 (means 0.55
    and 0.80, both groups' sample variance 1e-4, n = 3) is t = -0.25 / sqrt(2e-4 / 3) = -30.6
    on 4 degrees of freedom: p = 6.8e-6; Holm over the two classes doubles the smaller p."""
    df = _table(
        {0: [0.54, 0.55, 0.56], 1: [0.70, 0.72, 0.74]},
        {0: [0.79, 0.80, 0.81], 1: [0.71, 0.72, 0.73]},
    )
    t = per_class_compare(df, "greed-gan", "gan", ["ms_ssim"]).set_index("class")
    from scipy import stats

    p0 = stats.ttest_ind([0.54, 0.55, 0.56], [0.79, 0.80, 0.81], equal_var=False).pvalue
    assert t.loc[0, "p_welch"] == pytest.approx(p0) and p0 < 1e-4
    assert t.loc[0, "p_holm"] == pytest.approx(2 * p0)
    assert t.loc[1, "p_holm"] == pytest.approx(1.0)  # Holm: max(2 p0, p1) clipped at 1
    assert t.loc[0, "better"] and t.loc[0, "significant"] and not t.loc[1, "significant"]
    v = metric_verdicts(t.reset_index())
    assert v.loc[0, "verdict"] == "supports" and claim_verdict(v, ["ms_ssim"]) == "supported"


def test_the_verdicts_inconclusive_and_not_supported():
    noisy = _table({0: [0.5, 0.7, 0.9]}, {0: [0.6, 0.7, 0.8]})
    v = metric_verdicts(per_class_compare(noisy, "greed-gan", "gan", ["ms_ssim"]))
    assert claim_verdict(v, ["ms_ssim"]) == "inconclusive"
    worse = _table({0: [0.89, 0.90, 0.91]}, {0: [0.59, 0.60, 0.61]})
    v = metric_verdicts(per_class_compare(worse, "greed-gan", "gan", ["ms_ssim"]))
    assert v.loc[0, "verdict"] == "contradicts"
    assert claim_verdict(v, ["ms_ssim"]) == "not supported"


def test_constant_counts_are_not_significant_at_three_seeds():
    """Every greed seed has 2 collapse episodes, every baseline seed none, on two classes:
    Welch's t is infinite, the exact permutation p is 2 / C(6, 3) = 0.1 in each class and
    Holm makes both 0.2, so the counts contradict nothing at n = 3."""
    rows = [
        {"method": m, "class": c, "seed": s, "collapse_episodes": v}
        for m, v in (("greed-gan", 2.0), ("gan", 0.0))
        for c in (5, 6)
        for s in range(3)
    ]
    t = per_class_compare(pd.DataFrame(rows), "greed-gan", "gan", ["collapse_episodes"])
    assert t["p_welch"].tolist() == pytest.approx([0.1, 0.1])
    assert t["p_holm"].tolist() == pytest.approx([0.2, 0.2])
    assert not t["significant"].any()
    assert metric_verdicts(t).loc[0, "verdict"] == "inconclusive"


def test_average_probability_of_improvement_worked_by_hand():
    """MS-SSIM (lower is better). Class 0: greed 0.1 and 0.3 against 0.2, one win and one
    loss, P = 0.5; class 1: greed 0.5 against 0.5 and 0.9, a tie (half) and a win, P = 0.75;
    averaged over the classes 0.625. A resample can only move class 0 to 0, 0.5 or 1 and
    class 1 to 0.5, 0.75 or 1, so every bootstrap mean lies in [0.25, 1]."""
    df = _table({0: [0.1, 0.3], 1: [0.5]}, {0: [0.2], 1: [0.5, 0.9]})
    point, low, high = average_probability_of_improvement(df, "greed-gan", "gan", "ms_ssim")
    assert point == pytest.approx(0.625)
    assert 0.25 <= low <= point <= high <= 1.0
    better = _table({0: [0.1, 0.2], 1: [0.3, 0.3]}, {0: [0.5, 0.6], 1: [0.7, 0.8]})
    assert average_probability_of_improvement(better, "greed-gan", "gan", "ms_ssim") == (
        1.0,
        1.0,
        1.0,
    )
    same = _table({0: [0.4, 0.4]}, {0: [0.4, 0.4]})
    assert average_probability_of_improvement(same, "greed-gan", "gan", "ms_ssim") == (
        0.5,
        0.5,
        0.5,
    )
    absent = _table({0: [0.4]}, {1: [0.4]})  # no class holds both methods
    assert all(
        math.isnan(v)
        for v in average_probability_of_improvement(absent, "greed-gan", "gan", "ms_ssim")
    )


def test_a_share_prints_as_a_percentage_in_the_per_class_table():
    """collapsed_share is stored as a fraction (registry unit %): shares 0.05, 0.10 and 0.15
    of three seeds print as 10.0 ± 5.0 (percent, one decimal, as the toy tables print theirs),
    not as 0.1 ± 0.1; MS-SSIM keeps its own scale."""
    from collapsebench.benchmark.report.image_tables import per_class_table

    df = pd.DataFrame(
        {
            "method": "gan",
            "class": "1",
            "seed": [0, 1, 2],
            "collapsed_share": [0.05, 0.10, 0.15],
            "ms_ssim": [0.30, 0.32, 0.34],
            "ms_ssim_real": 0.3,
        }
    )
    share = per_class_table(df, "collapsed_share", ["gan"], None)
    assert share.loc["1", "gan"].startswith("10.0 ± 5.0")
    ms = per_class_table(df, "ms_ssim", ["gan"], None)
    assert ms.loc["1", "gan"].startswith("0.3200 ± 0.0200")
