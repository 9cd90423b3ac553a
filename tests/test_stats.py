"""Seed statistics: expected values are worked out by hand in comments, not read off the code."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats as st

from collapsebench.benchmark.analysis import stats as S
from collapsebench.benchmark.analysis import stats_format as SF
from collapsebench.benchmark.report import seed_plots

pytestmark = pytest.mark.filterwarnings("error::RuntimeWarning")

FAST = S.BootstrapConfig(n_resamples=999, seed=3)
FAST_CMP = S.CompareConfig(bootstrap=FAST)


def runs(groups: dict[str, dict[str, list[float]]]) -> pd.DataFrame:
    """{method: {metric: per-seed values}} -> the long per-run table."""
    rows = []
    for method, metrics in groups.items():
        n = max(len(v) for v in metrics.values())
        for seed in range(n):
            row = {"method": method, "seed": seed}
            for metric, values in metrics.items():
                row[metric] = values[seed] if seed < len(values) else math.nan
            rows.append(row)
    return pd.DataFrame(rows)


LOW = [0.0, 0.1, 0.2, 0.3, 0.4]
HIGH = [10.0, 10.1, 10.2, 10.3, 10.4]


# --------------------------------------------------------------------------- directions


def test_metric_directions_follow_the_issue():
    assert S.metric_direction("modes_covered") == "higher"
    assert S.metric_direction("reverse_kl") == "lower"
    assert S.metric_direction("fid") == "lower"
    assert S.metric_direction("ms_ssim") == "lower"
    assert S.metric_direction("inception_score") == "higher"


def test_unknown_metric_needs_a_direction():
    with pytest.raises(ValueError, match="no known direction for metric 'foo'"):
        S.metric_direction("foo")
    assert S.metric_direction("foo", "lower") == "lower"
    with pytest.raises(ValueError, match="use 'higher' or 'lower'"):
        S.metric_direction("foo", "up")


# --------------------------------------------------------------------------- summarize


def test_summarize_mean_std_n_by_hand():
    df = runs({"a": {"hq_fraction": [1.0, 2.0, 3.0]}, "b": {"hq_fraction": [4.0, 6.0]}})
    s = S.summarize(df, ["hq_fraction"], FAST).set_index("method")
    # a: mean 2, sample std sqrt(((1)^2 + 0 + 1^2) / 2) = 1
    assert s.loc["a", "mean"] == pytest.approx(2.0)
    assert s.loc["a", "std"] == pytest.approx(1.0)
    assert s.loc["a", "n"] == 3
    # b: mean 5, std sqrt((1 + 1) / 1) = sqrt(2)
    assert s.loc["b", "std"] == pytest.approx(math.sqrt(2))
    # a resampled mean can never leave the sample's range
    for m, lo, hi in (("a", 1.0, 3.0), ("b", 4.0, 6.0)):
        assert lo <= s.loc[m, "ci_low"] <= s.loc[m, "mean"] <= s.loc[m, "ci_high"] <= hi


def test_bootstrap_ci_of_a_constant_has_zero_width():
    df = runs({"a": {"modes_covered": [8.0, 8.0, 8.0]}, "b": {"hq_fraction": [0.1, 0.1]}})
    s = S.summarize(df, ["modes_covered", "hq_fraction"], FAST)
    a = s[(s.method == "a") & (s.metric == "modes_covered")].iloc[0]
    assert a["ci_low"] == a["ci_high"] == pytest.approx(8.0)
    assert a["std"] == 0.0
    b = s[(s.method == "b") & (s.metric == "hq_fraction")].iloc[0]
    assert b["ci_high"] - b["ci_low"] == 0.0
    assert b["ci_low"] == pytest.approx(0.1)


def test_summarize_drops_nan_and_gives_nan_ci_for_one_seed():
    df = runs({"a": {"fid": [10.0, math.nan, 12.0], "kid": [1.0, math.nan, math.nan]}})
    s = S.summarize(df, None, FAST).set_index("metric")
    assert s.loc["fid", "n"] == 2 and s.loc["fid", "mean"] == pytest.approx(11.0)
    assert s.loc["kid", "n"] == 1
    assert math.isnan(s.loc["kid", "std"]) and math.isnan(s.loc["kid", "ci_low"])


def test_summarize_is_reproducible_for_a_seed():
    df = runs({"a": {"fid": [3.0, 1.0, 4.0, 1.0, 5.0]}})
    pd.testing.assert_frame_equal(S.summarize(df, ["fid"], FAST), S.summarize(df, ["fid"], FAST))


@pytest.mark.parametrize(
    "bad, match",
    [
        (pd.DataFrame({"seed": [0], "fid": [1.0]}), "lacks column"),
        (pd.DataFrame({"method": [], "seed": [], "fid": []}), "empty"),
        (pd.DataFrame({"method": ["a", "a"], "seed": [0, 0], "fid": [1.0, 2.0]}), "duplicate"),
        (pd.DataFrame({"method": ["a"], "seed": [0], "fid": ["x"]}), "not numeric"),
        (pd.DataFrame({"method": ["a"], "seed": [0], "fid": [math.inf]}), "infinite"),
    ],
)
def test_bad_per_run_tables_raise_one_line(bad, match):
    with pytest.raises(ValueError, match=match) as e:
        S.summarize(bad, ["fid"], FAST)
    assert "\n" not in str(e.value)


def test_missing_metric_column_raises():
    df = runs({"a": {"fid": [1.0, 2.0]}})
    with pytest.raises(ValueError, match=r"\['kid'\] not in the per-run table"):
        S.summarize(df, ["kid"], FAST)


# --------------------------------------------------------------------------- P(improvement)


def test_probability_of_improvement_hand_examples():
    # pairs (1,0) win, (1,3) loss, (2,0) win, (2,3) loss -> 2/4
    assert S.probability_of_improvement([1, 2], [0, 3], "higher") == 0.5
    # pairs (1,1) tie, (1,0) win, twice -> (0.5 + 1) * 2 / 4
    assert S.probability_of_improvement([1, 1], [1, 0], "higher") == 0.75
    # lower is better: (1,1) tie, (1,0) loss -> 0.5 * 2 / 4
    assert S.probability_of_improvement([1, 1], [1, 0], "lower") == 0.25
    assert S.probability_of_improvement([5, 6], [1, 2, 3], "higher") == 1.0
    assert S.probability_of_improvement([5, 6], [1, 2, 3], "lower") == 0.0


def test_probability_of_improvement_equals_normalised_mann_whitney_u():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 5, 7).astype(float)  # integers: plenty of ties
    y = rng.integers(0, 5, 6).astype(float)
    u = st.mannwhitneyu(x, y, alternative="two-sided").statistic
    assert S.probability_of_improvement(x, y, "higher") == pytest.approx(u / (7 * 6))


# --------------------------------------------------------------------------- Holm


def test_holm_hand_computed():
    # sorted: 0.005*4 = 0.02, 0.01*3 = 0.03, 0.03*2 = 0.06, 0.04*1 = 0.04 -> running max 0.06
    adj = S.holm([0.01, 0.04, 0.03, 0.005])
    np.testing.assert_allclose(adj, [0.03, 0.06, 0.06, 0.02])


def test_holm_skips_nan_and_clips_at_one():
    # m = 2 (NaN is not a test): 0.02*2 = 0.04, 0.04*1 = 0.04
    np.testing.assert_allclose(S.holm([0.02, math.nan, 0.04]), [0.04, math.nan, 0.04])
    # 0.6*2 = 1.2 -> 1, then max(1, 0.7) = 1
    np.testing.assert_allclose(S.holm([0.6, 0.7]), [1.0, 1.0])
    assert S.holm([]).size == 0
    with pytest.raises(ValueError, match="outside"):
        S.holm([0.5, 1.5])


# --------------------------------------------------------------------------- compare


def test_identical_groups_are_not_significant():
    v = [0.2, 0.5, 0.4, 0.9, 0.3]
    df = runs({"new": {"hq_fraction": v}, "gan": {"hq_fraction": list(v)}})
    row = S.compare(df, "new", ["gan"], ["hq_fraction"], config=FAST_CMP).iloc[0]
    assert row["diff"] == 0.0
    assert row["p_welch"] == pytest.approx(1.0)  # t = 0
    assert row["p_mwu"] == pytest.approx(1.0)  # U = n1 n2 / 2
    assert row["prob_improvement"] == pytest.approx(0.5)
    assert not row["significant"]
    assert row["better"] == "n.s."
    assert row["note"] == ""


@pytest.mark.parametrize("primary", ["welch", "mannwhitney"])
def test_well_separated_groups_follow_the_metric_direction(primary):
    # the same numbers: high is better for hq_fraction, worse for reverse_kl
    df = runs(
        {
            "new": {"hq_fraction": HIGH, "reverse_kl": HIGH},
            "gan": {"hq_fraction": LOW, "reverse_kl": LOW},
        }
    )
    cfg = S.CompareConfig(primary_test=primary, bootstrap=FAST)
    t = S.compare(df, "new", ["gan"], ["hq_fraction", "reverse_kl"], config=cfg)
    t = t.set_index("metric")
    assert t["significant"].all()
    assert t.loc["hq_fraction", "better"] == "better"
    assert t.loc["reverse_kl", "better"] == "worse"
    assert t.loc["hq_fraction", "diff"] == pytest.approx(10.0)
    assert t.loc["reverse_kl", "diff"] == pytest.approx(10.0)  # raw new - base, not oriented
    assert t.loc["hq_fraction", "prob_improvement"] == 1.0
    assert t.loc["reverse_kl", "prob_improvement"] == 0.0
    # complete separation of 5 vs 5: exact two-sided p = 2 / C(10, 5) = 2 / 252
    assert t.loc["hq_fraction", "p_mwu"] == pytest.approx(2 / 252)
    # every bootstrap resample of new minus base lies in [10 - 0.4, 10 + 0.4]
    assert 9.6 <= t.loc["hq_fraction", "diff_ci_low"] <= 10 <= t.loc["hq_fraction", "diff_ci_high"]
    assert t.loc["hq_fraction", "diff_ci_high"] <= 10.4
    assert (t["n_new"] == 5).all() and (t["n_base"] == 5).all()

    swapped = S.compare(df, "gan", ["new"], ["hq_fraction", "reverse_kl"], config=cfg)
    assert list(swapped["better"]) == ["worse", "better"]


def test_holm_correction_is_applied_per_baseline_or_over_all():
    df = runs(
        {
            "new": {"hq_fraction": HIGH, "reverse_kl": LOW},
            "gan": {"hq_fraction": LOW, "reverse_kl": HIGH},
            "wgan": {"hq_fraction": [10.0, 10.2, 10.1, 10.5, 10.3], "reverse_kl": HIGH},
        }
    )
    metrics = ["hq_fraction", "reverse_kl"]
    t = S.compare(df, "new", None, metrics, config=FAST_CMP)
    assert list(t["baseline"]) == ["gan", "gan", "wgan", "wgan"]
    for base in ("gan", "wgan"):
        sub = t[t.baseline == base]
        np.testing.assert_allclose(sub["p_holm"], S.holm(sub["p_welch"].to_numpy()))
    cfg_all = S.CompareConfig(holm_family="all", bootstrap=FAST)
    t_all = S.compare(df, "new", None, metrics, config=cfg_all)
    np.testing.assert_allclose(t_all["p_holm"], S.holm(t_all["p_welch"].to_numpy()))
    assert (t_all["p_holm"] >= t["p_holm"] - 1e-15).all()


def test_fewer_than_three_seeds_gives_no_test():
    df = runs({"new": {"fid": [1.0, 2.0]}, "gan": {"fid": [5.0, 6.0, 7.0, 8.0]}})
    row = S.compare(df, "new", ["gan"], ["fid"], config=FAST_CMP).iloc[0]
    assert row["note"] == "n<3: no test possible"
    for col in ("p_welch", "p_mwu", "p_holm"):
        assert math.isnan(row[col])
    assert not row["significant"] and row["better"] == "n.s."
    assert row["n_new"] == 2 and row["n_base"] == 4
    assert row["diff"] == pytest.approx(1.5 - 6.5)
    assert row["prob_improvement"] == 1.0  # every new fid is lower than every baseline fid
    assert not math.isnan(row["diff_ci_low"])  # an effect size is still reported


def test_constant_groups_do_not_warn_and_get_a_note():
    df = runs(
        {
            "new": {"modes_covered": [8.0, 8.0, 8.0], "hq_fraction": [0.5, 0.5, 0.5]},
            "gan": {"modes_covered": [2.0, 2.0, 2.0], "hq_fraction": [0.5, 0.5, 0.5]},
        }
    )
    t = S.compare(df, "new", ["gan"], None, config=FAST_CMP).set_index("metric")
    # 8 against 2 on every seed: no exact test of 3 seeds against 3 gets below 2/20
    assert t.loc["modes_covered", "p_welch"] == pytest.approx(0.1)
    assert t.loc["modes_covered", "better"] == "n.s."
    assert "constant" in t.loc["modes_covered", "note"]
    assert t.loc["modes_covered", "diff_ci_low"] == t.loc["modes_covered", "diff_ci_high"] == 6.0
    assert t.loc["hq_fraction", "better"] == "n.s."
    assert t.loc["hq_fraction", "prob_improvement"] == 0.5


def test_compare_rejects_bad_arguments():
    df = runs({"new": {"foo": LOW}, "gan": {"foo": HIGH}})
    with pytest.raises(ValueError, match="no known direction for metric 'foo'"):
        S.compare(df, "new", ["gan"], ["foo"], config=FAST_CMP)
    t = S.compare(df, "new", ["gan"], ["foo"], directions={"foo": "lower"}, config=FAST_CMP)
    assert t.iloc[0]["better"] == "better"
    with pytest.raises(ValueError, match="'nope' is not in the per-run table"):
        S.compare(df, "nope", ["gan"], ["foo"], directions={"foo": "lower"})
    with pytest.raises(ValueError, match="not in the per-run table"):
        S.compare(df, "new", ["wgan"], ["foo"], directions={"foo": "lower"})
    with pytest.raises(ValueError, match="both the new method and a baseline"):
        S.compare(df, "new", ["new"], ["foo"], directions={"foo": "lower"})
    with pytest.raises(ValueError, match="alpha"):
        S.compare(df, "new", ["gan"], ["foo"], alpha=5, directions={"foo": "lower"})
    with pytest.raises(ValueError, match="primary_test"):
        S.CompareConfig(primary_test="ks")


def test_format_comparison_marks_significance_and_n():
    df = runs(
        {
            "new": {"hq_fraction": HIGH, "reverse_kl": [0.2, 0.5, 0.4, 0.9, 0.3]},
            "gan": {"hq_fraction": LOW, "reverse_kl": [0.3, 0.4, 0.6, 0.8, 0.2]},
        }
    )
    text = SF.format_comparison(S.compare(df, "new", ["gan"], config=FAST_CMP))
    lines = {ln.split("|")[2].strip(): ln for ln in text.splitlines() if ln.startswith("| gan")}
    assert "*" in lines["hq_fraction ↑"] and "better" in lines["hq_fraction ↑"]
    assert "*" not in lines["reverse_kl ↓"] and "n.s." in lines["reverse_kl ↓"]
    assert "(n=5)" in lines["hq_fraction ↑"]
    assert "Holm" in text
    with pytest.raises(ValueError, match="compare"):
        SF.format_comparison(pd.DataFrame({"x": [1]}))


# --------------------------------------------------------------------------- plot


def test_plot_seeds_writes_a_png_atomically(tmp_path):
    df = runs(
        {
            "gan": {"modes_covered": [2.0, 3.0, 2.0], "reverse_kl": [1.0, 1.2, 0.9]},
            "wgan_gp": {"modes_covered": [8.0, 8.0, 8.0], "reverse_kl": [0.1, math.nan, 0.2]},
        }
    )
    out = tmp_path / "figs" / "seeds.png"
    assert seed_plots.plot_seeds(df, ["modes_covered", "reverse_kl"], out, bootstrap=FAST) == out
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [p.name for p in out.parent.iterdir()] == ["seeds.png"]  # no temp file left
    with pytest.raises(ValueError, match=r"must end in \.png"):
        seed_plots.plot_seeds(df, ["modes_covered"], tmp_path / "seeds.pdf")


def test_plot_seeds_is_the_same_figure_whatever_numpy_global_state(tmp_path):
    """The seed dots' horizontal jitter comes from a fixed generator, not numpy's global one, so
    a regenerated report's figure changes only when its numbers do."""
    df = runs({"gan": {"modes_covered": [2.0, 3.0, 2.0]}, "wgan": {"modes_covered": [8.0, 7.0]}})
    png = []
    for state in (1, 2):
        np.random.seed(state)
        png.append(
            seed_plots.plot_seeds(df, ["modes_covered"], tmp_path / f"{state}.png", bootstrap=FAST)
        )
    assert png[0].read_bytes() == png[1].read_bytes()


def test_every_metric_a_suite_produces_has_a_direction():
    """`bench compare` needs to know whether higher is better for each metric of a suite;
    stacked-digits' kl / kl_log10 had none, so compare trained everything and then failed."""
    from collapsebench.benchmark.analysis.stats import METRIC_DIRECTIONS
    from collapsebench.benchmark.suites import SUITES
    from collapsebench.benchmark.suites.protocols import PROTOCOLS

    suites = [*SUITES.values()]
    suites += [SUITES[n].with_protocol(p) for n in ("gaussians25", "ring8") for p in PROTOCOLS]
    missing = {
        (s.name, m) for s in suites for m in s.reported_metrics if m not in METRIC_DIRECTIONS
    }
    assert not missing


@pytest.mark.parametrize(
    ("n", "m", "hand"), [(3, 3, 2 / 20), (3, 5, 2 / 56), (4, 4, 2 / 70), (2, 2, 2 / 6)]
)
def test_constant_groups_get_the_exact_permutation_p(n, m, hand):
    """Two constant groups: Welch's t is infinite, so the p is the exact permutation test's,
    2 / C(n + m, n) by hand (only the observed split is as extreme), and scipy's enumeration of
    every split agrees."""
    x, y = np.full(n, 2.0), np.full(m, 0.0)
    p, note = S.welch_p(x, y)
    assert p == pytest.approx(hand)
    assert "exact permutation" in note
    diff = lambda a, b, axis: np.mean(a, axis=axis) - np.mean(b, axis=axis)  # noqa: E731
    scipy_p = st.permutation_test(
        (x, y), diff, permutation_type="independent", n_resamples=np.inf, vectorized=True
    ).pvalue
    assert p == pytest.approx(scipy_p)
    assert S.welch_p(y, x)[0] == pytest.approx(hand)  # symmetric in the groups
    assert S.welch_p(x, x.copy()) == (1.0, "both groups constant and equal")


def test_one_constant_group_keeps_welch():
    """Welch by hand: t = 1.5 / sqrt(0.25 / 3), all the spread in y, so Welch-Satterthwaite's
    degrees of freedom are m - 1 = 2."""
    x, y = np.array([2.0, 2.0, 2.0]), np.array([0.0, 1.0, 0.5])
    t = 1.5 / math.sqrt(0.25 / 3)
    assert S.welch_p(x, y) == (pytest.approx(2 * st.t.sf(t, 2)), "")
