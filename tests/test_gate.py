"""CI regression gate: tolerance parsing, band arithmetic by hand, reference file validation."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from collapsebench.benchmark.analysis import gate as G
from collapsebench.benchmark.analysis import reference as GR
from collapsebench.benchmark.analysis.gate import Rule, Tolerance

HEADER = "method,metric,mean,std,n\n"


def per_seed() -> pd.DataFrame:
    """Two methods, three seeds each: gan covers [2, 3, 4] modes, wgan_gp always 8."""
    return pd.DataFrame(
        {
            "method": ["gan"] * 3 + ["wgan_gp"] * 3,
            "seed": [0, 1, 2] * 2,
            "modes_covered": [2.0, 3.0, 4.0, 8.0, 8.0, 8.0],
            "reverse_kl": [1.0, 1.2, 1.4, 0.1, 0.2, 0.3],
        }
    )


def ref_rows(*rows: tuple) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["method", "metric", "mean", "std", "n"])


def verdicts(diff: pd.DataFrame) -> dict[tuple[str, str], str]:
    return {(m, k): v for m, k, v in zip(diff.method, diff.metric, diff.verdict, strict=True)}


# --------------------------------------------------------------------------- tolerance strings


def test_parse_tolerance_strings():
    tol = Tolerance.parse(["modes_covered=abs:1", "reverse_kl=rel:0.2", "*=spread:3"])
    assert tol.per_metric == {"modes_covered": Rule("abs", 1.0), "reverse_kl": Rule("rel", 0.2)}
    assert tol.default == Rule("spread", 3.0)
    assert Tolerance.parse("fid=abs:2.5, kid=rel:0.1") == Tolerance(
        {"fid": Rule("abs", 2.5), "kid": Rule("rel", 0.1)}
    )
    assert Tolerance.parse(None).default == Rule("spread", 3.0)
    assert Tolerance.parse([]).per_metric == {}


@pytest.mark.parametrize(
    "spec",
    [
        "modes_covered",  # no '='
        "modes_covered=abs",  # no value
        "modes_covered=pct:1",  # unknown kind
        "modes_covered=abs:one",  # non-numeric
        "modes_covered=abs:-1",  # negative
        "modes_covered=rel:nan",
        "modes_covered=abs:inf",
        "=abs:1",  # no metric
        "modes covered=abs:1",  # whitespace in the name
        "fid=abs:1,fid=rel:0.1",  # same metric twice
        "*=abs:1,*=spread:2",
    ],
)
def test_bad_tolerance_strings_raise_one_line(spec):
    with pytest.raises(ValueError) as e:
        Tolerance.parse(spec)
    assert "\n" not in str(e.value)


# --------------------------------------------------------------------------- check


def test_reference_of_the_runs_passes_against_the_runs_themselves():
    runs = per_seed()
    ref = GR.reference_from_runs(runs, ["modes_covered", "reverse_kl"])
    ok, diff = G.check(ref, runs)
    assert ok
    assert set(diff.verdict) == {"ok"} and len(diff) == 4
    ok2, diff2 = G.check(ref, ref)  # a summary in reference shape works too
    assert ok2 and set(diff2.verdict) == {"ok"}


def test_reference_from_runs_by_hand():
    ref = GR.reference_from_runs(per_seed(), ["modes_covered"]).set_index("method")
    assert ref.loc["gan", "mean"] == pytest.approx(3.0)
    assert ref.loc["gan", "std"] == pytest.approx(1.0)
    assert ref.loc["gan", "n"] == 3
    assert ref.loc["wgan_gp", "std"] == 0.0


def test_perturbed_table_fails_with_the_row_marked_out():
    runs = per_seed()
    ref = GR.reference_from_runs(runs, ["modes_covered", "reverse_kl"])
    bad = runs.copy()
    bad.loc[bad.method == "gan", "reverse_kl"] += 5.0
    ok, diff = G.check(ref, bad)
    assert not ok
    v = verdicts(diff)
    assert v[("gan", "reverse_kl")] == "out"
    assert v[("gan", "modes_covered")] == v[("wgan_gp", "reverse_kl")] == "ok"
    text = G.format_diff(diff)
    assert "FAIL" in text and "OUT" in text


def test_missing_metric_or_method_fails():
    runs = per_seed()
    ref = GR.reference_from_runs(runs, ["modes_covered", "reverse_kl"])
    ok, diff = G.check(ref, runs.drop(columns="reverse_kl"))
    assert not ok
    v = verdicts(diff)
    assert v[("gan", "reverse_kl")] == v[("wgan_gp", "reverse_kl")] == "missing"
    assert v[("gan", "modes_covered")] == "ok"
    ok, diff = G.check(ref, runs[runs.method == "gan"])
    assert not ok and verdicts(diff)[("wgan_gp", "modes_covered")] == "missing"
    assert "MISSING" in G.format_diff(diff)


def test_all_nan_metric_counts_as_missing():
    runs = per_seed()
    ref = GR.reference_from_runs(runs, ["reverse_kl"])
    runs.loc[runs.method == "gan", "reverse_kl"] = math.nan
    ok, diff = G.check(ref, runs)
    assert not ok and verdicts(diff)[("gan", "reverse_kl")] == "missing"


def test_new_rows_are_reported_but_do_not_fail():
    runs = per_seed()
    ref = GR.reference_from_runs(runs, ["modes_covered"])
    ok, diff = G.check(ref, runs)
    assert ok
    assert verdicts(diff)[("gan", "reverse_kl")] == "new"
    assert "new" in G.format_diff(diff)


def test_bands_by_hand():
    ref = ref_rows(
        ("gan", "modes_covered", 5.0, 1.0, 4),
        ("gan", "hq_fraction", 0.5, 0.1, 4),
        ("gan", "reverse_kl", 2.0, 1.0, 3),
    )
    tol = Tolerance.parse(["modes_covered=abs:1", "hq_fraction=rel:0.2", "*=spread:2"])
    ok, diff = G.check(ref, ref, tol)
    assert ok
    d = diff.set_index("metric")
    assert (d.loc["modes_covered", "low"], d.loc["modes_covered", "high"]) == (4.0, 6.0)
    assert d.loc["hq_fraction", "low"] == pytest.approx(0.4)
    assert d.loc["hq_fraction", "high"] == pytest.approx(0.6)
    # spread: 2 * t(0.975, df=2) * std / sqrt(n), t table value 4.3027
    half = 2 * 4.3027 * 1.0 / math.sqrt(3)
    assert d.loc["reverse_kl", "high"] == pytest.approx(2.0 + half, abs=1e-3)
    assert d.loc["reverse_kl", "low"] == pytest.approx(2.0 - half, abs=1e-3)


@pytest.mark.parametrize(
    "current, verdict", [(6.0, "ok"), (4.0, "ok"), (6.01, "out"), (3.9, "out")]
)
def test_band_edges(current, verdict):
    ref = ref_rows(("gan", "modes_covered", 5.0, 0.0, 3))
    cur = ref.assign(mean=current)
    ok, diff = G.check(ref, cur, Tolerance.parse("modes_covered=abs:1"))
    assert diff.verdict.iloc[0] == verdict and ok == (verdict == "ok")


def test_zero_spread_reference_must_be_reproduced_exactly():
    ref = ref_rows(("wgan_gp", "modes_covered", 8.0, 0.0, 5))
    assert G.check(ref, ref.assign(mean=8.0))[0]
    assert not G.check(ref, ref.assign(mean=7.8))[0]


def test_row_tolerances_and_their_precedence():
    ref = ref_rows(("gan", "fid", 100.0, 0.0, 3), ("gan", "kid", 0.5, 0.0, 3))
    ref["abs_tol"] = [5.0, math.nan]
    ref["rel_tol"] = [0.2, math.nan]
    cur = ref[["method", "metric", "mean"]].assign(mean=[115.0, 0.5])
    # row band: max(5, 0.2 * 100) = 20 -> 115 is inside
    ok, diff = G.check(ref, cur)
    assert ok and diff.set_index("metric").loc["fid", "high"] == pytest.approx(120.0)
    # '*' does not override a row's own tolerance ...
    assert G.check(ref, cur, Tolerance.parse("*=abs:1"))[0]
    # ... a tolerance for that metric does
    ok, diff = G.check(ref, cur, Tolerance.parse("fid=abs:10"))
    assert not ok and verdicts(diff)[("gan", "fid")] == "out"


def test_spread_on_a_single_seed_reference_raises():
    ref = ref_rows(("gan", "fid", 100.0, math.nan, 1))
    with pytest.raises(ValueError, match="n=1"):
        G.check(ref, ref)
    assert G.check(ref, ref, Tolerance.parse("fid=abs:1"))[0]


def test_tolerance_for_a_metric_the_reference_lacks_raises():
    ref = ref_rows(("gan", "fid", 100.0, 1.0, 3))
    with pytest.raises(ValueError, match="'fdi'"):
        G.check(ref, ref, Tolerance.parse("fdi=abs:1"))


# --------------------------------------------------------------------------- reference files


def test_write_then_read_round_trip(tmp_path):
    ref = GR.reference_from_runs(per_seed(), ["modes_covered", "reverse_kl"])
    path = tmp_path / "results" / "ring8.csv"
    GR.write_reference(path, ref)
    assert [p.name for p in path.parent.iterdir()] == ["ring8.csv"]  # no temp file left
    assert path.read_text().splitlines()[0] == "method,metric,mean,std,n"  # unused tols dropped
    back = GR.read_reference(path)
    pd.testing.assert_frame_equal(
        back.sort_values(["method", "metric"]).reset_index(drop=True),
        ref.sort_values(["method", "metric"]).reset_index(drop=True),
    )
    assert G.check(back, per_seed())[0]


def test_update_keeps_hand_set_tolerances(tmp_path):
    path = tmp_path / "ring8.csv"
    path.write_text(HEADER.strip() + ",abs_tol\ngan,modes_covered,1.0,0.5,3,2\n")
    ref = GR.update_reference(path, per_seed(), ["modes_covered"])
    back = GR.read_reference(path).set_index(["method", "metric"])
    assert back.loc[("gan", "modes_covered"), "abs_tol"] == 2.0
    assert back.loc[("gan", "modes_covered"), "mean"] == pytest.approx(3.0)
    assert math.isnan(back.loc[("wgan_gp", "modes_covered"), "abs_tol"])
    assert len(ref) == 2


@pytest.mark.parametrize(
    "text, match",
    [
        ("", "empty"),
        (HEADER, "no rows"),
        ("method,metric,mean,n\ngan,fid,1.0,3\n", r"lacks column\(s\) \['std'\]"),
        (HEADER + "gan,fid,abc,1.0,3\n", "'abc', which is not a number"),
        (HEADER + "gan,fid,1.0,x,3\n", "not a number"),
        (HEADER + "gan,fid,1.0,0.5,2.5\n", "whole number"),
        (HEADER + "gan,fid,1.0,0.5,0\n", "whole number"),
        (HEADER + "gan,fid,1.0,0.5,1e300\n", "whole number of seeds from 1 to 1,000,000"),
        (HEADER + "gan,fid,1.0,-0.5,3\n", "must be >= 0"),
        (HEADER + "gan,fid,,0.5,3\n", "needs a mean"),
        (HEADER + ",fid,1.0,0.5,3\n", "empty 'method'"),
        (HEADER + "gan,fid,1.0,0.5,3\ngan,fid,2.0,0.5,3\n", "duplicate rows for \\(gan, fid\\)"),
        ("method,metric,mean,std,n,tol\ngan,fid,1.0,0.5,3,1\n", "unknown column"),
        (HEADER + "gan,fid,inf,0.5,3\n", "infinite"),
        # one field too many: pandas alone would make 'gan' an index and read fid as the method
        (HEADER + "gan,fid,1.0,0.5,3,7\n", "line 2 has 6 fields, its header 5"),
        (HEADER + "gan,fid,1.0,0.5,3\ngan,kid,1.0,0.5\n", "line 3 has 4 fields, its header 5"),
        (HEADER + "gan,fid,nan,0.5,3\n", "'nan', which is not a number"),
        ("method,metric,mean,std,n,abs_tol\ngan,fid,1.0,0.5,3,NaN\n", "'NaN', which is not"),
    ],
)
def test_malformed_reference_files_raise_one_line(tmp_path, text, match):
    path = tmp_path / "ref.csv"
    path.write_text(text)
    with pytest.raises(ValueError, match=match) as e:
        GR.read_reference(path)
    assert "\n" not in str(e.value)
    assert str(path) in str(e.value)


def test_error_names_the_file_line(tmp_path):
    path = tmp_path / "ref.csv"
    path.write_text(HEADER + "gan,fid,1.0,0.5,3\ngan,kid,oops,0.5,3\n")
    with pytest.raises(ValueError, match="line 3"):
        GR.read_reference(path)


def test_missing_reference_file_raises(tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        GR.read_reference(tmp_path / "nope.csv")


def test_write_reference_refuses_bad_tables(tmp_path):
    with pytest.raises(ValueError, match="lacks column"):
        GR.write_reference(tmp_path / "r.csv", pd.DataFrame({"method": ["a"], "mean": [1.0]}))
    assert not (tmp_path / "r.csv").exists()
