"""`bench check` (the CI gate) and `bench compare` on the shared smoke store."""

from pathlib import Path

import pandas as pd

from collapsebench.benchmark.cli.main import main
from collapsebench.benchmark.suites import get_suite

REPO = Path(__file__).resolve().parents[1]
BASE = ["--suite", "gaussians25", "--preset", "smoke", "--seeds", "0", "1", "--no-progress"]


def test_check_passes_on_reference_and_fails_when_perturbed(smoke_store, tmp_path, capsys):
    out, _ = smoke_store
    ref = tmp_path / "ref.csv"
    argv = ["check", *BASE, "--out", str(out), "--reference", str(ref)]
    assert main([*argv, "--update", "--methods", "gan", "wgan-gp"]) == 0
    table = pd.read_csv(ref)
    assert set(table.columns) >= {"method", "metric", "mean", "std", "n"}
    # 2 methods x the suite's 8 reported metrics (3 mode-coverage + 5 diversity)
    assert len(table) == 16 and (table["n"] == 2).all()
    assert set(table["metric"]) == set(get_suite("gaussians25").evaluated_metrics)
    capsys.readouterr()

    assert main(argv) == 0
    assert "OK" in capsys.readouterr().out
    # rewriting an existing reference keeps its methods without --methods
    assert main([*argv, "--update"]) == 0
    assert "rewritten (16 rows)" in capsys.readouterr().out
    assert pd.read_csv(ref).equals(table)

    table.loc[(table.method == "gan") & (table.metric == "reverse_kl"), "mean"] += 5.0
    table.to_csv(ref, index=False)
    assert main([*argv, "--tolerance", "*=rel:0.01"]) == 1
    diff = capsys.readouterr().out
    bad = [line for line in diff.splitlines() if "reverse_kl" in line and "gan" in line]
    assert bad and "OUT" in bad[0].upper() and "FAIL" in diff


def test_check_malformed_reference(smoke_store, tmp_path, capsys):
    ref = tmp_path / "ref.csv"
    ref.write_text("method,metric,mean\ngan,modes_covered,abc\n")
    rc = main(["check", *BASE, "--out", str(smoke_store[0]), "--reference", str(ref)])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1 and str(ref) in err


def test_bad_tolerance(smoke_store, tmp_path, capsys):
    rc = main(
        [
            "check",
            *BASE,
            "--out",
            str(smoke_store[0]),
            "--reference",
            str(tmp_path / "r"),
            "--tolerance",
            "modes_covered=wide",
        ]
    )
    assert rc == 2 and "wide" in capsys.readouterr().err


def test_compare_with_two_seeds_says_no_test(smoke_store, tmp_path, capsys):
    rc = main(
        [
            "compare",
            "--suite",
            "gaussians25",
            "--preset",
            "smoke",
            "--method",
            "gan",
            "--against",
            "wgan-gp",
            "--seeds",
            "0-1",
            "--out",
            str(smoke_store[0]),
            "--results",
            str(tmp_path),
            "--no-progress",
        ]
    )
    assert rc == 0
    out = capsys.readouterr().out
    assert "no test possible" in out
    written = pd.read_csv(tmp_path / "gaussians25" / "dyngan" / "smoke" / "compare-gan.csv")
    assert written["p_welch"].isna().all() and set(written["n_new"]) == {2}
    assert (tmp_path / "gaussians25" / "dyngan" / "smoke" / "compare-gan.png").stat().st_size > 0


def test_committed_gate_bands_still_catch_a_small_change_to_wgan(tmp_path, capsys):
    """The gate's WGAN rows carry bands wide enough for another CPU's rounding (one mode on one
    seed, a few samples); they must still reject WGAN trained with a clip 10 % wider."""
    committed = pd.read_csv(REPO / "results" / "gaussians25-gan-toy-smoke.csv")
    rows = committed[committed.method == "wgan"]
    assert rows["abs_tol"].notna().any() and rows["rel_tol"].notna().any()
    ref = tmp_path / "wgan.csv"
    rows.to_csv(ref, index=False)
    argv = ["check", "--suite", "gaussians25", "--protocol", "gan-toy", "--preset", "smoke"]
    argv += ["--seeds", "0", "1", "2", "--methods", "wgan", "--no-progress"]
    argv += ["--reference", str(ref), "--tolerance", "*=rel:0.01", "--out", str(tmp_path / "r")]
    assert main([*argv, "--set", "wgan.clip=0.011"]) == 1
    table = capsys.readouterr().out
    out = [line for line in table.splitlines() if "| wgan |" in line and line.endswith("OUT |")]
    assert {"hq_fraction", "density"} <= {line.split("|")[1].strip() for line in out}
    assert all("row " in line for line in out) and "0 missing" in table
