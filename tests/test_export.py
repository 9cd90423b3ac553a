"""`bench export`: finished runs copied without their weights into a second run store that
tables read like the first; a record is never replaced, and a refused export writes nothing."""

from __future__ import annotations

import json
import shutil

import pandas as pd

from collapsebench.benchmark.cli.main import main


def _export(out, to, *extra: str) -> list[str]:
    argv = "export --suite gaussians25 --preset smoke --methods gan wgan-gp".split()
    return [*argv, "--out", str(out), "--to", str(to), *extra]


def _table(out, results) -> pd.DataFrame:
    argv = ["table", "--suite", "gaussians25", "--preset", "smoke", "--methods", "gan", "wgan-gp"]
    assert main([*argv, "--out", str(out), "--results", str(results), "--no-plots"]) == 0
    return pd.read_csv(next(results.rglob("per_seed.csv")))


def test_tables_from_an_export_equal_the_stores(smoke_store, tmp_path, capsys):
    out, _ = smoke_store
    to = tmp_path / "exported"
    assert main(_export(out, to)) == 0
    assert "exported 4 runs' records and samples (no weights)" in capsys.readouterr().out
    runs = sorted(to.glob("gaussians25/*/seed*"))
    assert len(runs) == 4
    for run in runs:
        names = {p.name for p in run.iterdir()}
        assert {"config.json", "metrics.json", "evals.csv", "samples.npy"} <= names
        assert not names & {"checkpoint.pt", "generators", ".lock"}
        source = out / run.relative_to(to)
        assert (run / "metrics.json").read_bytes() == (source / "metrics.json").read_bytes()
    pd.testing.assert_frame_equal(
        _table(to, tmp_path / "from-export"), _table(out, tmp_path / "from-store")
    )
    # a second export finds every run there and copies nothing
    capsys.readouterr()
    assert main(_export(out, to)) == 0
    text = capsys.readouterr().out
    assert "exported 0 runs" in text and "4 were there already" in text


def test_export_never_replaces_a_different_record(smoke_store, tmp_path, capsys):
    out, _ = smoke_store
    to = tmp_path / "exported"
    assert main(_export(out, to, "--seeds", "0")) == 0
    capsys.readouterr()
    (edited,) = to.glob("gaussians25/gan/seed0-*")
    metrics = json.loads((edited / "metrics.json").read_text())
    metrics["modes_covered"] = 25.0
    (edited / "metrics.json").write_text(json.dumps(metrics))
    before = sorted(p.relative_to(to) for p in to.rglob("*"))
    assert main(_export(out, to)) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "differs from run" in err and "another metrics.json" in err
    assert sorted(p.relative_to(to) for p in to.rglob("*")) == before  # seed 1 not copied
    assert json.loads((edited / "metrics.json").read_text())["modes_covered"] == 25.0


def test_export_with_weights_keeps_the_checkpoint(smoke_store, tmp_path, capsys):
    out, _ = smoke_store
    to = tmp_path / "exported"
    assert main(_export(out, to, "--seeds", "1", "--weights")) == 0
    (run,) = to.glob("gaussians25/gan/seed1-*")
    source = out / run.relative_to(to)
    assert (run / "checkpoint.pt").read_bytes() == (source / "checkpoint.pt").read_bytes()
    assert "records, samples and weights" in capsys.readouterr().out


def test_export_bad_input_is_one_line(smoke_store, tmp_path, capsys):
    out, _ = smoke_store
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    cases = [
        (_export(tmp_path / "missing", tmp_path / "x"), "does not exist"),
        (_export(out, tmp_path / "x", "--seeds", "7"), "no finished runs"),
        (_export(out, tmp_path / "x", "--classes", "3"), "per-class suites only"),
        (_export(out, blocker), "cannot write"),
        (_export(out, out), "is the run store itself"),
    ]
    for argv, why in cases:
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and why in err, err
    assert not (tmp_path / "x").exists()


def test_an_exported_run_counts_as_finished(smoke_store, tmp_path, capsys):
    """`bench run` on the copy trains nothing: the copy's runs are finished runs."""
    out, _ = smoke_store
    to = tmp_path / "exported"
    assert main(_export(out, to, "--seeds", "0")) == 0
    shutil.rmtree(tmp_path / "results", ignore_errors=True)
    argv = ["run", "--suite", "gaussians25", "--preset", "smoke", "--methods", "gan"]
    argv += ["--seeds", "0", "--out", str(to), "--results", str(tmp_path / "results")]
    assert main([*argv, "--no-progress", "--no-plots"]) == 0
    assert "0 trained now" in capsys.readouterr().err


def test_a_record_without_samples_gives_tables_and_says_which_figures_it_cannot(
    smoke_store, tmp_path, capsys
):
    out, _ = smoke_store
    to = tmp_path / "exported"
    assert main(_export(out, to, "--no-samples")) == 0
    assert "records (no samples, no weights)" in capsys.readouterr().out
    assert not list(to.rglob("samples.npy")) and not list(to.rglob("snapshots.npz"))
    results = tmp_path / "results"
    folder = results / "gaussians25" / "dyngan" / "smoke"
    folder.mkdir(parents=True)
    (folder / "samples.png").write_bytes(b"an older figure of other runs")
    argv = ["table", "--suite", "gaussians25", "--preset", "smoke", "--methods", "gan", "wgan-gp"]
    assert main([*argv, "--out", str(to), "--results", str(results)]) == 0
    err = capsys.readouterr().err
    assert "samples.png not drawn: 4 of 4 runs have no snapshots.npz" in err
    assert not (folder / "samples.png").exists()  # never a figure of other runs
    assert (folder / "convergence.png").exists() and (folder / "per_seed.csv").exists()
    # a metric the copy lacks cannot be evaluated without the samples: one line, exit 2
    (run,) = to.glob("gaussians25/gan/seed0-*")
    metrics = json.loads((run / "metrics.json").read_text())
    del metrics["vendi"]
    (run / "metrics.json").write_text(json.dumps(metrics))
    rerun = ["run", "--suite", "gaussians25", "--preset", "smoke", "--methods", "gan"]
    rerun += ["--seeds", "0", "--out", str(to), "--results", str(results), "--no-progress"]
    assert main(rerun) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "lacks vendi and has no samples.npy" in err


def test_a_damaged_run_is_refused_before_anything_is_copied(smoke_store, tmp_path, capsys):
    out = tmp_path / "runs"
    shutil.copytree(smoke_store[0], out)
    (damaged,) = out.glob("gaussians25/wgan-gp/seed1-*")
    (damaged / "evals.csv").write_text("step,modes_covered\n10,\x00not a number\n")
    to = tmp_path / "exported"
    assert main(_export(out, to)) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "corrupted run directory" in err and str(damaged) in err
    assert not list(to.rglob("seed*"))


def test_nothing_is_trained_into_a_records_folder(smoke_store, tmp_path, capsys):
    """A run missing from the copy is refused in one line, not trained into it (`bench run` and
    `bench compare` train missing runs into --out)."""
    out, _ = smoke_store
    to = tmp_path / "exported"
    assert main(_export(out, to, "--seeds", "0")) == 0
    assert (to / "RECORDS.md").is_file()
    before = sorted(p.relative_to(to) for p in to.rglob("*"))
    argv = ["compare", "--suite", "gaussians25", "--preset", "smoke", "--method", "wgan-gp"]
    argv += ["--against", "gan", "--seeds", "0", "1", "--out", str(to)]
    assert main([*argv, "--results", str(tmp_path / "r"), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "holds exported records" in err
    assert sorted(p.relative_to(to) for p in to.rglob("*")) == before
