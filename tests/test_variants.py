"""Method parameters from the CLI (`--set`), where option tables go, Wang's (2024) variant study
(`bench variants`), the whole-data image suites, Xiong et al.'s figure and DynGAN's modes panel."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from test_cli import one_line_error
from test_image import _argv

from collapsebench.benchmark.cli.main import main
from collapsebench.benchmark.errors import BenchError
from collapsebench.benchmark.report import variants as V
from collapsebench.benchmark.report.partition_plots import modes_over_training
from collapsebench.benchmark.report.plots import curriculum_figure
from collapsebench.benchmark.report.tables import results_dir
from collapsebench.benchmark.runs.planning import plan
from collapsebench.benchmark.store.rundir import RunDir
from collapsebench.benchmark.suites import get_suite
from collapsebench.benchmark.training.methods import parse_method_options


# -- --set ---------------------------------------------------------------------------------------
def test_set_applies_to_every_method_with_the_parameter_and_takes_its_type():
    opts = parse_method_options(["optimizer=adam", "wgan.lr=1e-4"], ["wgan", "greed-wgan", "gan"])
    assert opts == {"wgan": {"optimizer": "adam", "lr": 1e-4}, "greed-wgan": {"optimizer": "adam"}}
    assert isinstance(opts["wgan"]["lr"], float)
    opts = parse_method_options(["n_critic=3"], ["wgan"])
    assert opts == {"wgan": {"n_critic": 3}} and isinstance(opts["wgan"]["n_critic"], int)
    assert parse_method_options(None, ["gan"]) == {}


@pytest.mark.parametrize(
    "items, needle",
    [
        (["n_critic=three"], "n_critic takes a int value"),
        (["nope=1"], "no parameter 'nope' in wgan; valid: clip, lr, n_critic, optimizer"),
        (["gan.lr=1"], "method 'gan' is not among the methods run"),
        (["optimizer"], "write NAME=VALUE"),
        (["=adam"], "write NAME=VALUE"),
        # int("٣") is 3 in Python; --seeds refuses it, and so does --set
        (["n_critic=٣"], "write the number with ASCII digits"),
        (["clip=٠.01"], "write the number with ASCII digits"),
    ],
)
def test_set_bad_items_name_what_is_valid(items, needle):
    with pytest.raises(BenchError, match=needle):
        parse_method_options(items, ["wgan"])


def test_set_lr_trains_both_nets_at_that_rate_under_every_protocol():
    """`--set lr=X` means both nets at X, also where a protocol gives D and G their own rates
    (VEEGAN's: D 1e-4, G 1e-3); a per-net rate given beside it still wins for its net."""
    from collapsebench.baselines.base import own_rates
    from collapsebench.benchmark.runs.planning import plan
    from collapsebench.benchmark.training.methods import build_method

    def rates(options, protocol="veegan"):
        (spec,) = plan("ring8", ["gan"], [0], "smoke", None, {"protocol": protocol}, None, options)
        return own_rates(build_method("gan", spec.method_params, 1).params)  # (G, D)

    assert rates({}) == (1e-3, 1e-4)
    assert rates({"gan": {"lr": 1e-3}}) == (1e-3, 1e-3)
    assert rates({"gan": {"lr_d": 1e-3}}) == (1e-3, 1e-3)
    assert rates({"gan": {"lr": 2e-3, "lr_g": 5e-4}}) == (5e-4, 2e-3)
    assert rates({}, "dyngan") == (1e-3, 1e-3)  # dyngan sets lr, lr_d and lr_g alike
    assert rates({"gan": {"lr": 2e-3}}, "dyngan") == (2e-3, 2e-3)


def test_results_dir_names_non_default_options(tmp_path):
    base = tmp_path / "gaussians25" / "smoke"
    assert results_dir(tmp_path, "gaussians25", "smoke") == base
    toy = results_dir(tmp_path, "gaussians25", "smoke", {"protocol": "pacgan"})
    assert toy == tmp_path / "gaussians25" / "pacgan" / "smoke"
    got = results_dir(tmp_path, "digits", "default", {"arch": "resnet"}, ["wgan.lr=1e-4"])
    assert got == tmp_path / "digits" / "default" / "arch-resnet_wgan.lr-1e-4"


def test_run_with_set_is_its_own_configuration_and_table(tmp_path, capsys):
    out, res = tmp_path / "runs", tmp_path / "results"
    assert main(_argv("run", "gaussians25", out, res, "--methods", "wgan", "--seeds", "0")) == 0
    default_table = (res / "gaussians25" / "dyngan" / "smoke" / "table.md").read_text()
    args = _argv("run", "gaussians25", out, res, "--methods", "wgan", "--seeds", "0")
    assert main([*args, "--set", "optimizer=sgd"]) == 0
    runs = sorted((out / "gaussians25" / "wgan").iterdir())
    assert len(runs) == 2  # a new key; the default run is untouched
    cfgs = [json.loads((r / "config.json").read_text())["method_params"] for r in runs]
    assert sorted(c.get("optimizer", "rmsprop") for c in cfgs) == ["rmsprop", "sgd"]
    # the option's table lives one level down; the default table is not overwritten
    sgd_table = (
        res / "gaussians25" / "dyngan" / "smoke" / "optimizer-sgd" / "table.md"
    ).read_text()
    assert (res / "gaussians25" / "dyngan" / "smoke" / "table.md").read_text() == default_table
    # the caption names the option, so the table still says what it shows out of its folder
    assert "), trained with --set optimizer=sgd: mean ± std over seeds 0" in sgd_table
    assert "trained with" not in default_table
    capsys.readouterr()  # the runs above printed their tables and summaries
    err = one_line_error(capsys, [*args, "--set", "optimizer=adamw"])
    assert "unknown optimizer 'adamw'; valid: rmsprop, adam, sgd" in err
    err = one_line_error(capsys, [*args, "--set", "lr"])
    assert "write NAME=VALUE" in err


def test_a_tables_caption_names_the_options_its_runs_were_trained_with():
    from collapsebench.benchmark.report.tables import trained_with
    from collapsebench.benchmark.report.writers import TableRequest

    def req(suite, options=None, method_set=None):
        return TableRequest(suite, "smoke", ("wgan",), "r", options or {}, {}, method_set)

    assert trained_with(req("digits")) == ""
    assert trained_with(req("ring8", {"protocol": "veegan"})) == ""  # the protocol is named apart
    got = trained_with(req("digits", {"arch": "resnet"}, "wgan.lr=1e-4"))
    assert got == ", trained with --arch resnet --set wgan.lr=1e-4"
    got = trained_with(req("ring8", {"protocol": "veegan", "update_order": "alternating"}))
    assert got == ", trained with --update-order alternating"


# -- bench variants ------------------------------------------------------------------------------
def test_variants_are_one_change_at_a_time():
    axes = V.parse_axes(None, "digits")
    assert axes == {
        "optimizer": ("rmsprop", "adam", "sgd"),
        "arch": ("dcgan", "resnet", "densenet"),
    }
    vs = V.variants(axes, "digits", "wgan")
    assert [v.label for v in vs] == [
        "rmsprop, dcgan (baseline)",
        "adam",
        "sgd",
        "resnet",
        "densenet",
    ]
    assert vs[0].suite_options == {"arch": "dcgan"} and vs[0].method_set == ("optimizer=rmsprop",)
    assert vs[3].suite_options == {"arch": "resnet"} and vs[3].method_set == ("optimizer=rmsprop",)
    # toy suites have no networks to swap: the default axes are the optimisers only
    assert V.parse_axes(None, "ring8") == {"optimizer": ("rmsprop", "adam", "sgd")}
    for bad in (["optimizer=adam"], ["optimizer"], ["optimizer=a,b", "optimizer=c,d"]):
        with pytest.raises(BenchError, match="--vary"):
            V.parse_axes(bad, "ring8")
    with pytest.raises(
        BenchError, match="neither an option of suite digits .arch, counter, min_count, width."
    ):
        V.variants({"momentum": ("0", "0.9")}, "digits", "wgan")


def test_curve_tail_is_the_mean_of_the_last_tenth():
    curves = pd.DataFrame(
        {
            "step": [10, 50, 90, 95, 100],
            "loss_d": [9.0, 9.0, 9.0, 1.0, 3.0],
            "loss_g": [0.0, 0.0, 0.0, 4.0, 6.0],
        }
    )
    assert V.curve_tail(curves, 100) == {"loss_d": 2.0, "loss_g": 5.0}
    # a run logged only once before the tail still reports its last row
    assert V.curve_tail(curves.head(1), 100) == {"loss_d": 9.0, "loss_g": 0.0}


def test_bench_variants_end_to_end_on_toys(tmp_path, capsys):
    out, res = tmp_path / "runs", tmp_path / "results"
    args = _argv(
        "variants", "ring8", out, res, "--vary", "optimizer=rmsprop,sgd", "--seeds", "0", "1"
    )
    assert main(args) == 0
    text = capsys.readouterr().out
    assert "rmsprop (baseline)" in text and "| sgd" in text
    d = res / "ring8" / "dyngan" / "smoke"
    table = pd.read_csv(d / "variants-wgan.csv", index_col=0)
    assert list(table.index) == ["rmsprop (baseline)", "sgd"]
    assert (table["seeds"] == 2).all()
    assert (d / "variants-wgan-curves.png").stat().st_size > 0
    # per-seed numbers are read back from each run's own files
    per_seed = pd.read_csv(d / "variants-wgan-per_seed.csv")
    for run in (out / "ring8" / "wgan").iterdir():
        cfg = json.loads((run / "config.json").read_text())
        label = "sgd" if cfg["method_params"].get("optimizer") == "sgd" else "rmsprop (baseline)"
        row = per_seed[(per_seed.variant == label) & (per_seed.seed == cfg["seed"])].iloc[0]
        curves = pd.read_csv(run / "curves.csv")
        assert row.loss_d == pytest.approx(curves[curves.step > 27].loss_d.mean())
        metrics = json.loads((run / "metrics.json").read_text())
        assert row.modes_covered == metrics["modes_covered"]
    # the baseline variant *is* the default configuration: plain `bench run` finds it finished
    plain = _argv("run", "ring8", out, res, "--methods", "wgan", "--seeds", "0", "1")
    assert main(plain) == 0
    assert "2 runs: 0 trained now (0 diverged), 2 already finished" in capsys.readouterr().err
    bad = _argv("variants", "ring8", out, res, "--vary", "arch=dcgan,resnet")
    err = one_line_error(capsys, bad)
    assert (
        "--vary arch: neither an option of suite ring8 (batch_size, nets, protocol, ring, "
        "update_order) nor a parameter" in err
    )


# -- whole-data image suites ---------------------------------------------------------------------
def test_whole_data_digits_suite_trains_on_every_class():
    from sklearn.datasets import load_digits

    suite = get_suite("digits")
    assert not suite.per_class and suite.classes() == (None,)
    assert len(suite.training_set()) == len(load_digits().target) == 1797
    with pytest.raises(BenchError, match="no per-class runs"):
        suite.training_set("3")
    assert get_suite("cifar10").dataset == "cifar10" and not get_suite("cifar10").per_class


# -- Xiong et al. figure, DynGAN's modes over training -------------------------------------
def test_curriculum_figure_needs_both_methods(smoke_store, tmp_path):
    out, _ = smoke_store
    runs = sorted((out / "gaussians25" / "gan").iterdir())
    df = pd.DataFrame({"method": ["gan"], "seed": [0], "run_dir": [str(runs[0])]})
    assert curriculum_figure(df, tmp_path / "c.png") is None
    both = pd.concat([df, df.assign(method="curriculum-wgan-gp")])
    assert curriculum_figure(both, tmp_path / "c.png").stat().st_size > 0


def test_modes_over_training_counts_each_snapshot(tmp_path):
    suite = get_suite("gaussians25")
    centers = suite.centers_array()
    run = RunDir(tmp_path)
    (spec,) = plan("gaussians25", ["gan"], [0], "smoke")  # the run's protocol: the default
    run.write_config(spec)
    # step 10: every sample on mode 0; step 20: samples exactly on 7 modes
    snaps = {
        "samples_10": np.repeat(centers[:1], 100, axis=0),
        "samples_20": np.repeat(centers[:7], 20, axis=0),
        "disc_10": np.zeros((2, 2)),
    }
    np.savez(tmp_path / "snapshots.npz", **snaps)
    got = modes_over_training(run, "gaussians25")
    assert got.step.tolist() == [10, 20] and got.modes_covered.tolist() == [1, 7]
