"""Published protocols: nets counted by hand from the sources' layer sizes, optimiser settings,
evaluation rules on hand-built sample sets, the plateau rule on constructed curves, the verdict
rule on constructed means, and a smoke run of every protocol through the CLI."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pandas as pd
import pytest
import torch

from collapsebench.benchmark.analysis.convergence import (
    cell_mark,
    converged,
    curve_status,
    last_quarter_spread,
    plateaued,
    run_converged,
)
from collapsebench.benchmark.cli.main import main
from collapsebench.benchmark.errors import BenchError
from collapsebench.benchmark.runs.planning import plan
from collapsebench.benchmark.suites import get_suite
from collapsebench.benchmark.suites.protocols import DEFAULT_PROTOCOL, PROTOCOLS, get_protocol
from collapsebench.benchmark.suites.published import comparability, verdict, verdict_counts
from collapsebench.metrics.coverage import mode_coverage


def _count(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def test_pacgan_nets_have_the_sources_parameter_counts():
    """pacgan_task.py: G 2 -> 4 x [Linear(400, no bias), BN(400), ReLU] -> Linear(2);
    D 3 maxout layers (200 units x 5 pieces) and Linear(1), input 2m for PacGAN-m."""
    suite = get_suite("gaussians25").with_protocol("pacgan")
    g_hidden = 2 * 400 + 2 * 400  # first Linear (no bias) + BN scale and shift
    g_hidden += 3 * (400 * 400 + 2 * 400)
    g_out = 400 * 2 + 2
    for m in (1, 2, 4):
        d = (2 * m * 1000 + 1000) + 2 * (200 * 1000 + 1000) + (200 + 1)
        G, D = suite.build_nets(0, pack=m)
        assert _count(G) == g_hidden + g_out == 484_802
        assert _count(D) == d
    # the source's init: weights N(0, 0.02), biases 0
    G, D = suite.build_nets(0)
    w = torch.cat([p.flatten() for n, p in D.named_parameters() if n.endswith("weight")])
    assert abs(w.std().item() - 0.02) < 0.002 and abs(w.mean().item()) < 0.002
    assert all((p == 0).all() for n, p in D.named_parameters() if n.endswith("bias"))
    bn = [m for m in G.modules() if isinstance(m, torch.nn.BatchNorm1d)]
    assert len(bn) == 4 and all(b.momentum == 0.05 for b in bn)


def test_dyngan_nets_have_the_sources_parameter_counts():
    """net.py: G Linear(50 + c, 128) ReLU Linear(128, 128) ReLU Linear(128, 2); D the same
    widths with LeakyReLU(0.1) and one output."""
    suite = get_suite("gaussians25").with_protocol("dyngan")
    G, D = suite.build_nets(0)
    assert _count(G) == (50 * 128 + 128) + (128 * 128 + 128) + (128 * 2 + 2) == 23_298
    assert _count(D) == (2 * 128 + 128) + (128 * 128 + 128) + (128 + 1) == 17_025
    assert any(isinstance(m, torch.nn.LeakyReLU) and m.negative_slope == 0.1 for m in D.modules())
    G, D = suite.build_nets(0, cond_dim=30, noise_dim=50)  # DynGAN's condition code
    assert _count(G) == (80 * 128 + 128) + (128 * 128 + 128) + (128 * 2 + 2)
    assert D.features(torch.zeros(5, 32)).shape == (5, 128)


def test_veegan_nets_and_data_follow_the_gdpp_script():
    """gdppgan_Synthetic.py: G 256 -> 128 tanh -> 128 tanh -> 2, D 2 -> 128 tanh -> 128 tanh -> 1,
    every layer orthogonal with gain 1.4 and zero biases; batches fresh from the mixture."""
    suite = get_suite("ring8").with_protocol("veegan")
    G, D = suite.build_nets(0)
    assert _count(G) == (256 * 128 + 128) + (128 * 128 + 128) + (128 * 2 + 2) == 49_666
    assert _count(D) == (2 * 128 + 128) + (128 * 128 + 128) + (128 + 1) == 17_025
    assert sum(isinstance(m, torch.nn.Tanh) for m in G.modules()) == 2
    w = G[2].weight.detach()  # square: gain^2 * I = W^T W for an orthogonal init
    torch.testing.assert_close(w.T @ w, 1.4**2 * torch.eye(128), atol=1e-4, rtol=0)
    assert all((p == 0).all() for n, p in D.named_parameters() if n.endswith("bias"))
    assert D.features(torch.zeros(3, 2)).shape == (3, 128)
    assert suite.fresh_data and suite.update_order == "simultaneous"
    assert suite.n_modes == 8 and suite.std == 0.01  # 8 distinct modes, not the script's 7
    p = get_protocol("veegan")
    assert (p.presets["default"].steps, p.presets["default"].batch_size) == (25_000, 512)
    # an evaluation every 500 steps (the script's viz_every), also at four times the budget
    # (a departure: see test_a_departure_keeps_the_verdicts_but_not_the_protocols_reasons)
    default, long = p.presets["default"], p.presets["long"]
    assert (
        set(np.diff([0, *default.eval_steps()])) == set(np.diff([0, *long.eval_steps()])) == {500}
    )
    assert long.steps == 4 * 25_000
    assert p.n_eval == 2_500 and p.trials == 5
    with pytest.raises(BenchError, match="unknown toy nets 'mlp'; valid: gan-toy, dyngan"):
        dataclasses.replace(p, nets="mlp")  # validated where it is set


def test_protocol_data_and_optimisers_follow_the_sources():
    dyn = get_suite("ring8").with_protocol("dyngan")
    assert dyn.std == 0.05 and np.allclose(np.linalg.norm(dyn.centers_array(), axis=1), 2.0)
    data = dyn.training_set()
    assert data.shape == (8 * 50, 2)  # 50 points per mode
    grid = get_suite("gaussians25").with_protocol("dyngan")
    assert grid.std == 0.1 and grid.training_set().shape == (25 * 50, 2)
    pac = get_suite("ring8").with_protocol("pacgan")
    assert pac.std == 0.01 and pac.training_set().shape == (100_000, 2)
    assert np.allclose(np.linalg.norm(pac.centers_array(), axis=1), 1.0)
    (gan,) = plan("gaussians25", ["gan"], [0], "paper", suite_options={"protocol": "pacgan"})
    assert gan.method_params["lr"] == 1e-4 and gan.method_params["beta1"] == 0.8
    assert gan.train.steps == 400 * 100_000 // 100 and gan.train.batch_size == 100
    (gan,) = plan("gaussians25", ["gan"], [0], "default", suite_options={"protocol": "dyngan"})
    assert (gan.method_params["lr"], gan.method_params["beta1"]) == (1e-3, 0.5)
    assert gan.train.steps == 30_000 and gan.train.batch_size == 128
    # dyngan gives every Adam method its source's Adam (RMSprop methods keep WGAN's 5e-5);
    # pacgan keeps the papers' own where the source did not train the method
    dyn = {"protocol": "dyngan"}
    (wgan, gp) = plan("gaussians25", ["wgan", "wgan-gp"], [0], "default", suite_options=dyn)
    assert wgan.method_params["lr"] == 5e-5 and "beta1" not in wgan.method_params  # RMSprop
    assert (gp.method_params["lr"], gp.method_params["beta1"], gp.method_params["beta2"]) == (
        1e-3,
        0.5,
        0.999,
    )
    assert gp.method_params["gp_lambda"] == 0.1  # gan_toy.py's toy setting, not the paper's 10
    pac = {"protocol": "pacgan"}
    (wgan, gp) = plan("gaussians25", ["wgan", "wgan-gp"], [0], "default", suite_options=pac)
    assert wgan.method_params["lr"] == 5e-5  # not trained by the source: WGAN's own setting
    assert (gp.method_params["lr"], gp.method_params["beta2"]) == (1e-4, 0.9)


def test_one_std_any_rule_and_three_std_nearest_rule_differ_on_one_sample_set():
    """Two modes at 0 and 10 (std 1). Samples: 0.5 (within 1 std of mode 0), 12.5 (2.5 std
    from mode 1: high quality, not within 1 std), 5.2 (nearest mode 1 at 4.8 std: neither)."""
    centers = np.array([[0.0, 0.0], [10.0, 0.0]])
    x = np.array([[0.5, 0.0], [12.5, 0.0], [5.2, 0.0]])
    pac = mode_coverage(x, centers, 1.0)  # PacGAN: nearest mode of a sample within 3 std
    dyn = mode_coverage(x, centers, 1.0, covered_within=1.0, covered_rule="any")
    assert pac.modes_covered == 2 and dyn.modes_covered == 1
    assert pac.hq_fraction == pytest.approx(2 / 3) == dyn.hq_fraction
    # KL over all samples: nearest modes (0, 1, 1) -> p = (1/3, 2/3)
    p = np.array([1 / 3, 2 / 3])
    assert pac.reverse_kl == pytest.approx(float(np.sum(p * np.log(2 * p))))
    # KL over the high-quality samples only (PacGAN's histogram): (0, 1) -> uniform -> 0
    hq = mode_coverage(x, centers, 1.0, kl_over="hq")
    assert hq.reverse_kl == pytest.approx(0.0)


def test_plateau_rule_on_constructed_curves():
    flat = np.r_[np.linspace(0, 20, 10), np.full(10, 24.0) + np.tile([0.3, -0.3], 5)]
    rising = np.linspace(0, 25, 20)
    assert plateaued(flat, tol=1.0) is True
    assert plateaued(rising, tol=1.0) is False  # Q4 mean - Q3 mean = 25 * 5 / 19 > 1
    assert plateaued(np.r_[flat[:-1], np.nan], tol=1.0) is False
    assert plateaued(np.arange(6.0), tol=1.0) is None  # 3 points in the last half: too few
    # a count sitting at 8 with a single dip in each window has not moved (medians 8 and 8);
    # one that drops to 7 and stays there has (medians 8 and 7)
    dips = np.r_[np.full(10, 8.0), [7, 8, 8, 8, 8], [8, 8, 5, 8, 8]]
    lost = np.r_[np.full(10, 8.0), [8, 8, 8, 8, 7], [7, 7, 7, 7, 7]]
    assert plateaued(dips, tol=0.5) is True and plateaued(lost, tol=0.5) is False
    curve = pd.DataFrame({"step": np.arange(1, 21), "modes_covered": flat, "hq_fraction": rising})
    assert converged(curve, n_modes=25) == {
        "modes_covered": "converged",  # tolerance 0.04 * 25 = 1 mode
        "hq_fraction": "still moving",  # a steady rise: Q4 spans about what the medians drift
    }
    # of 8 modes the tolerance is half a mode: the medians 24.3 and 23.7 differ by 0.6, and the
    # last quarter spans 0.6, not more than twice that drift: still moving, not oscillating
    assert converged(curve, n_modes=8)["modes_covered"] == "still moving"
    assert cell_mark(["converged", "still moving"]) == "†"
    assert cell_mark(["oscillating", "converged"]) == "‡"
    assert cell_mark(["oscillating", "still moving"]) == "†‡"
    assert cell_mark(["converged", None]) == "?" and cell_mark(["converged"]) == ""
    # a run is judged on its whole curve (what the end-only diversity columns carry)
    assert run_converged(converged(curve, n_modes=25)) == "still moving"
    assert run_converged({"modes_covered": "oscillating", "hq_fraction": "still moving"}) == (
        "oscillating"
    )
    assert run_converged({"modes_covered": "converged", "hq_fraction": "converged"}) == "converged"
    assert run_converged({"modes_covered": "converged", "reverse_kl": "not measured"}) == (
        "not measured"
    )
    assert run_converged({}) is None


def test_oscillating_and_still_moving_are_told_apart_by_the_last_quarters_spread():
    """Both fail the plateau rule; a curve that swings within its last quarter by more than twice
    the drift of the medians oscillates, one that moves steadily is still moving."""
    # a grid GAN's mode count as it swings: 16 points, last half 25 11 25 3 | 25 1 24 25
    swing = np.r_[np.full(8, 25.0), [25, 11, 25, 3], [25, 1, 24, 25]]
    # Q3 = (25, 11, 25, 3) median 18, Q4 = (25, 1, 24, 25) median 24.5: drift 6.5 > 1 mode;
    # Q4 spans 24 > 2 * 6.5
    assert curve_status(swing, 1.0) == "oscillating"
    assert last_quarter_spread(swing) == 24.0
    # a steady climb of 1 per point, 18 points: the last half is 9..17, Q3 (9..12) median 10.5,
    # Q4 (14..17) median 15.5; Q4 spans 3 < 2 * 5
    climb = np.arange(18.0)
    assert curve_status(climb, 1.0) == "still moving"
    assert curve_status(np.full(12, 5.0), 1.0) == "converged"
    assert curve_status(np.arange(6.0), 1.0) == "not measured"
    assert np.isnan(last_quarter_spread(np.arange(6.0)))


def test_plateau_rule_on_image_metric_curves():
    """FID's tolerance is 10 % of the third quarter's median: the same absolute wobble is flat
    at FID 1,000 and movement at FID 30; precision's is 0.03 absolute; stacked KL's 0.05."""
    steps = np.arange(1, 11)
    wobble = np.tile([20.0, -20.0], 5)
    high = pd.DataFrame({"step": steps, "fid": 1000.0 + wobble})  # medians 1000 and 1000 -> flat
    assert converged(high) == {"fid": "converged"}
    # GAN on digits class 0 at 400 steps (a measured curve's shape): the last half is 268, 141,
    # 80, 46, 34; windows (268, 141) and (46, 34): medians 204.5 and 40, far beyond 10 %
    falling = pd.DataFrame(
        {"step": steps, "fid": [4135, 3890, 2836, 1679, 687, 268, 141, 80, 46, 34]}
    )
    assert converged(falling) == {"fid": "still moving"}
    # the same 40-point drop from 1,040 to 1,000 is within 10 %; from 70 to 30 it is not
    assert plateaued(np.r_[np.full(6, 1040.0), np.full(4, 1000.0)], 0.10, relative=True) is True
    assert plateaued(np.r_[np.full(6, 70.0), np.full(4, 30.0)], 0.10, relative=True) is False
    prec = pd.DataFrame(
        {
            "step": steps,
            "precision": [0, 0, 0, 0, 0.06, 0.29, 0.76, 0.90, 0.89, 0.91],
            "recall": [0, 0, 0, 0, 0, 0.5, 0.52, 0.5, 0.51, 0.5],  # flat within 0.03
            "ms_ssim": [0.8] * 5 + [0.7, 0.72, 0.7, 0.71, 0.7],
            "kl": [3, 2, 1, 0.5, 0.4, 0.3, 0.31, 0.3, 0.29, 0.3],
            "modes_covered": [10, 200, 500, 800, 900, 960, 970, 980, 990, 999],
        }
    )
    assert converged(prec, n_modes=1000) == {
        "precision": "still moving",  # windows (0.29, 0.76) and (0.89, 0.91): 0.525 -> 0.90
        "recall": "converged",
        "ms_ssim": "converged",
        "kl": "converged",
        "modes_covered": "converged",  # medians 965 and 994.5: within 40 (4 % of 1,000)
    }


def test_verdict_rule_on_constructed_means():
    # |17.0 - 17.3| = 0.3 <= 2 * hypot(0.5, 0.8) = 1.89: agrees
    assert verdict(17.0, 0.5, 17.3, 0.8) == "agrees"
    # |12.0 - 17.3| = 5.3 > 1.89: differs
    assert verdict(12.0, 0.5, 17.3, 0.8) == "differs"
    assert verdict(17.0, float("nan"), 17.3, 0.8) == "not comparable: no estimate"
    why = comparability(20_000, 400_000, 5, 10)
    assert why == "budget 20,000 of the source's 400,000 steps; 5 of the source's 10 trials"
    assert verdict(17.0, 0.5, 17.3, 0.8, why).startswith("not comparable: budget 20,000")
    assert comparability(400_000, 400_000, 10, 10) is None
    pub = pd.DataFrame(
        {
            "verdict": [
                "agrees",
                "differs (our SE only)",
                "agrees (our SE only)",
                "not comparable: no finished run",
                "published only: x",
            ]
        }
    )
    assert verdict_counts(pub) == (
        "Of 4 published cells of methods implemented here, 2 agree, 1 differ and 1 are not "
        "comparable; 1 cells are published only."
    )
    # no published spread (VEEGAN, GDPP): our standard error alone, and the cell says so;
    # |1.4 - 1.0| = 0.4 <= 2 * 0.3, |2.0 - 1.0| = 1.0 > 0.6
    assert verdict(1.4, 0.3, 1.0, None) == "agrees (our SE only)"
    assert verdict(2.0, 0.3, 1.0, None) == "differs (our SE only)"
    # every seed the same and no published spread: no tolerance at all, and the cell says so
    assert verdict(8.0, 0.0, 6.8, None).startswith("differs (no spread: none published")
    assert verdict(8.0, 0.0, 8.0, None).startswith("agrees (no spread")


def test_protocol_is_in_the_run_key_except_gan_toys():
    keys = {}
    for name in PROTOCOLS:
        (spec,) = plan("gaussians25", ["gan"], [0], "default", suite_options={"protocol": name})
        keys[name] = spec.config_hash()
        assert spec.suite_params.get("protocol") == (None if name == "gan-toy" else name)
        assert spec.suite_params["n_eval"] == PROTOCOLS[name].n_eval  # smoke's 1,000 is smoke's
    assert len(set(keys.values())) == len(PROTOCOLS)
    (default,) = plan("gaussians25", ["gan"], [0], "smoke")
    assert default.suite_params["protocol"] == DEFAULT_PROTOCOL
    # gan-toy is the harness's original configuration: its key is the pre-protocol one, which
    # the committed gan-toy tables' runs carry (smoke keys changed with SMOKE_EVAL, on purpose)
    assert keys["gan-toy"] == "dc8cf6014e"
    with pytest.raises(BenchError, match="unknown protocol 'nope'; valid protocols"):
        get_protocol("nope")


@pytest.mark.parametrize("protocol", list(PROTOCOLS))
def test_smoke_run_of_every_protocol(tmp_path, capsys, protocol):
    out, res = tmp_path / "runs", tmp_path / "results"
    argv = ["run", "--suite", "ring8", "--preset", "smoke", "--protocol", protocol]
    argv += ["--methods", "gan", "pacgan2", "--seeds", "0", "1", "--out", str(out)]
    assert main([*argv, "--results", str(res), "--no-progress"]) == 0
    captured = capsys.readouterr()
    text = captured.out
    assert f"under protocol {protocol}" in text
    # the closing one-screen summary says what happened and where the tables are
    assert (
        f"4 runs: 4 trained now (0 diverged), 0 already finished; tables and figures in {res}"
        in captured.err
    )
    folder = res / "ring8" / protocol / "smoke"
    assert (folder / "table.md").exists() and (folder / "samples.png").exists()
    runs = sorted((out / "ring8" / "gan").glob("seed*"))
    assert len(runs) == 2
    cfg = json.loads((runs[0] / "config.json").read_text())
    assert cfg["suite_params"].get("protocol", "gan-toy") == protocol
    # smoke evaluates 1,000 samples, whatever the protocol's own evaluation size, and says so
    assert get_protocol(protocol).n_eval in (2_500, 10_000)
    # collapse over training: every toy table carries the curve's measures
    per_seed = pd.read_csv(folder / "per_seed.csv")
    assert {"modes_min_last_half", "mode_loss_events", "full_coverage_share"} <= set(per_seed)
    assert np.load(runs[0] / "samples.npy").shape == (1_000, 2)
    # the caption names the seeds it averages (seeds 0 and 1 above)
    assert "over seeds 0, 1 (1,000 samples each)" in text
    assert "first 1,000 samples against 5,000" in text
    if protocol != "gan-toy":  # its smoke preset records the convergence curve
        assert (folder / "convergence.png").stat().st_size > 0
        assert (folder / "modes_by_seed.png").stat().st_size > 0
        evals = pd.read_csv(runs[0] / "evals.csv")
        assert list(evals["step"]) == [10, 20, 30]
        assert set(evals.columns) >= {"modes_covered", "hq_fraction", "reverse_kl"}
    published = get_protocol(protocol).published.get("ring8")
    assert (folder / "published.md").exists() == bool(published)
    if published:
        pub = pd.read_csv(folder / "published.csv", keep_default_na=False)
        ran = pub[pub["method"].isin(["gan", "pacgan2"])]
        assert len(ran) and all(
            v.startswith("not comparable: budget 30 of") for v in ran["verdict"]
        )
        others = pub[~pub["method"].isin(["gan", "pacgan2"])]
        for method, v in zip(others["method"], others["verdict"], strict=True):
            assert v == (
                "published only: not implemented here"
                if method == ""
                else "not comparable: no finished run"
            )


def test_bench_list_names_every_protocol(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert "protocols (toy suites, --protocol NAME):" in out
    for name in PROTOCOLS:
        assert f"\n  {name} " in out
    assert "dyngan" in out.split("(default)")[0].splitlines()[-1]


def test_a_departure_keeps_the_verdicts_but_not_the_protocols_reasons():
    """The protocol's why texts explain its own runs; a table of runs that depart from it
    (--update-order, --ring, --set) shows verdicts and says where the reasons are."""
    from collapsebench.benchmark.report.toy_tables import departures
    from collapsebench.benchmark.report.writers import TableRequest
    from collapsebench.benchmark.suites.published import published_table

    veegan = get_protocol("veegan")
    cell = ("GAN (VEEGAN Table 1)", "modes_covered")
    assert veegan.differences["ring8"][cell]  # the protocol does give a reason for this cell
    df = pd.DataFrame({"method": ["gan"] * 2, "seed": [0, 1], "modes_covered": [1.0, 1.0]})
    df["hq_fraction"] = [0.01, 0.02]
    own = published_table(df, veegan, "ring8", 25_000).set_index(["published row", "metric"])
    dep = published_table(df, veegan, "ring8", 25_000, departs=True)
    dep = dep.set_index(["published row", "metric"])
    assert own.loc[cell, "why"] == veegan.differences["ring8"][cell]
    assert (dep["why"] == "").all()
    assert (dep["verdict"] == own["verdict"]).all()

    def request(options, method_set=None):
        return TableRequest("ring8", "default", ("gan",), "r", options, method_set=method_set)

    assert departures(request({"protocol": "veegan"})) == []
    assert departures(request({"protocol": "veegan", "ring": "linspace"}, ["n_critic=1"])) == [
        "--ring linspace",
        "--set n_critic=1",
    ]
    assert departures(request({"protocol": "veegan", "update_order": "alternating"})) == [
        "--update-order alternating"
    ]
    # four times the source's budget is a departure too; PacGAN's 20,000 of 400,000 steps is not
    # (its cells already read "not comparable: budget")
    long = TableRequest("ring8", "long", ("gan",), "r", {"protocol": "veegan"})
    assert departures(long) == ["--preset long"]
    assert departures(TableRequest("ring8", "default", ("gan",), "r", {"protocol": "pacgan"})) == []
