"""``bench run --batch-models K``: stacked models in the run store (benchmark/training/).

Checked against the one-at-a-time harness: the same files and metrics per run, checkpoints in
``train_run``'s format (a run stopped stacked resumes stacked bit for bit, or one at a time), and
the runner's grouping of runs into stacked jobs.
"""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pandas as pd
import pytest
import torch
from test_cli import one_line_error

from collapsebench.benchmark.cli.main import main
from collapsebench.benchmark.errors import BenchError
from collapsebench.benchmark.runs.planning import plan, plan_jobs
from collapsebench.benchmark.store.runstore import RunStore
from collapsebench.benchmark.training.loop import train_run
from collapsebench.benchmark.training.loop import train_runs as train_stacked_runs
from collapsebench.benchmark.training.models import Stacked as _Stacked


def _run(out, *extra, suite="gaussians25", methods=("gan", "dyngan"), seeds=("0", "1", "2")):
    # gan-toy: its lr keeps float32 rounding differences at the tolerances below over 30 steps
    # (exactness on the published protocols' nets is shown in float64, test_models.py)
    protocol = ["--protocol", "gan-toy"] if suite in ("gaussians25", "ring8") else []
    argv = ["run", "--suite", suite, "--preset", "smoke", *protocol, "--methods", *methods]
    argv += ["--seeds", *seeds, "--out", str(out), "--results", str(out / "results")]
    assert main([*argv, "--no-progress", "--no-plots", *extra]) == 0


def _runs(out, suite, method):
    return {p.name: p for p in sorted((out / suite / method).iterdir())}


def test_bench_run_batch_models_writes_what_one_at_a_time_writes(tmp_path, capsys):
    _run(tmp_path / "stacked", "--batch-models", "3")
    err = capsys.readouterr().err
    assert "dyngan: trained one run at a time" in err and "gan:" not in err.replace("dyngan", "")
    _run(tmp_path / "single")
    # --no-plots (both runs above): the tables are written, no figure is drawn
    results = tmp_path / "single" / "results"
    assert list(results.rglob("table.md")) and not list(results.rglob("*.png"))
    for method in ("gan", "dyngan"):
        stacked = _runs(tmp_path / "stacked", "gaussians25", method)
        single = _runs(tmp_path / "single", "gaussians25", method)
        assert list(stacked) == list(single) and len(stacked) == 3
        for name, a in stacked.items():
            b = single[name]
            assert sorted(p.name for p in a.iterdir()) == sorted(p.name for p in b.iterdir())
            ma, mb = (
                json.loads((a / "metrics.json").read_text()),
                json.loads((b / "metrics.json").read_text()),
            )
            assert ma.keys() == mb.keys()
            ca, cb = pd.read_csv(a / "curves.csv"), pd.read_csv(b / "curves.csv")
            assert list(ca.columns) == list(cb.columns) and list(ca["step"]) == list(cb["step"])
            sa, sb = np.load(a / "snapshots.npz"), np.load(b / "snapshots.npz")
            assert sorted(sa.files) == sorted(sb.files)
            runtime = json.loads((a / "runtime.json").read_text())[-1]
            if method == "dyngan":  # not stackable: exactly the one-at-a-time run
                assert "batch_models" not in runtime
                assert ma == mb
                continue
            assert runtime["batch_models"] == 3 and len(runtime["stacked_with"]) == 3
            # float32 summation order only: batched and per-model kernels round differently, and
            # Adam (lr 1e-3 here) turns a near-zero gradient's rounding into a full step, so
            # samples agree to ~1e-3 over 30 steps (the float64 stacking tests are exact)
            np.testing.assert_allclose(
                np.load(a / "samples.npy"), np.load(b / "samples.npy"), rtol=1e-2, atol=1e-3
            )
            num = [c for c in ca.columns if c != "feature_diversity"]
            np.testing.assert_allclose(ca[num], cb[num], rtol=1e-3, atol=1e-5)
            np.testing.assert_allclose(
                ca["feature_diversity"], cb["feature_diversity"], rtol=1e-3, atol=1e-6
            )
            for key in sa.files:
                np.testing.assert_allclose(sa[key], sb[key], rtol=1e-2, atol=1e-3)
            assert ma["modes_covered"] == mb["modes_covered"]
            for key in ("hq_fraction", "reverse_kl"):
                assert ma[key] == pytest.approx(mb[key], rel=1e-3, abs=1e-3)


def _toy_specs(method="wgan-gp", seeds=(0, 1), preset="smoke", **train):
    cfg = dict(steps=12, log_every=2, checkpoint_every=5, n_snapshots=3, batch_size=32)
    cfg.update(train)
    return [
        dataclasses.replace(s, train=dataclasses.replace(s.train, **cfg))
        for s in plan("gaussians25", [method], list(seeds), preset)
    ]


class _Stop(Exception):
    pass


def _stop_at(step):
    def report(done):
        if done == step:
            raise _Stop

    return report


def _result(run):
    return (
        np.load(run.path / "samples.npy"),
        run.read_curves(),
        dict(np.load(run.path / "snapshots.npz")),
        run.read_metrics(),
    )


def _store(root, specs):
    store = RunStore(root)
    runs = [store.run_dir(s) for s in specs]
    for r, s in zip(runs, specs, strict=True):
        r.write_config(s)
    return runs


def test_stopped_stacked_run_resumes_stacked_bit_for_bit(tmp_path):
    specs = _toy_specs()
    whole = _store(tmp_path / "whole", specs)
    train_stacked_runs(specs, whole)
    parts = _store(tmp_path / "parts", specs)
    with pytest.raises(_Stop):
        train_stacked_runs(specs, parts, _stop_at(7))
    assert [r.load_checkpoint()["step"] for r in parts] == [5, 5]
    assert not any(r.finished for r in parts)
    train_stacked_runs(specs, parts)
    for a, b in zip(whole, parts, strict=True):
        sa, ca, na, ma = _result(a)
        sb, cb, nb, mb = _result(b)
        assert np.array_equal(sa, sb) and ma == mb
        pd.testing.assert_frame_equal(ca, cb)
        assert na.keys() == nb.keys() and all(np.array_equal(na[k], nb[k]) for k in na)
        starts = [e["start_step"] for e in json.loads((b.path / "runtime.json").read_text())]
        assert starts == [0, 5]


@pytest.fixture
def float64():
    before = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(before)


@pytest.mark.parametrize("method", ["wgan-gp", "gan"])
def test_stacked_checkpoints_resume_one_at_a_time(tmp_path, float64, method):
    """A stacked checkpoint is train_run's own: per-model G, D, optimiser moments and random
    stream. Resumed by train_run, each run ends where its uninterrupted train_run ends (float64:
    only summation order differs)."""
    specs = _toy_specs(method)
    runs = _store(tmp_path / "mixed", specs)
    with pytest.raises(_Stop):
        train_stacked_runs(specs, runs, _stop_at(6))
    for spec, run in zip(specs, runs, strict=True):
        train_run(spec, run)
        ref = _store(tmp_path / f"ref{spec.seed}", [spec])[0]
        train_run(spec, ref)
        sa, ca, na, ma = _result(run)
        sb, cb, nb, mb = _result(ref)
        np.testing.assert_allclose(sa, sb, rtol=1e-9, atol=1e-11)
        pd.testing.assert_frame_equal(ca, cb, rtol=1e-7, atol=1e-9)
        assert na.keys() == nb.keys()
        assert ma == pytest.approx(mb)


def test_plan_jobs_groups_one_configuration_at_a_time(tmp_path):
    store = RunStore(tmp_path)
    gan = plan("gaussians25", ["gan"], [0, 1, 2, 3, 4], "smoke")
    gp = plan("gaussians25", ["wgan-gp"], [0, 1], "smoke")
    gp_other = plan(
        "gaussians25", ["wgan-gp"], [2], "smoke", method_options={"wgan-gp": {"gp_lambda": 1.0}}
    )
    dyn = plan("gaussians25", ["dyngan"], [0], "smoke")
    todo = gan + gp + gp_other + dyn
    jobs, notes = plan_jobs(store, todo, 2)
    labels = [[s.label for s in j] for j in jobs]
    g = "gaussians25/gan/seed"
    assert labels == [
        [f"{g}0", f"{g}1"],
        [f"{g}2", f"{g}3"],
        [f"{g}4"],
        ["gaussians25/wgan-gp/seed0", "gaussians25/wgan-gp/seed1"],
        ["gaussians25/wgan-gp/seed2"],
        ["gaussians25/dyngan/seed0"],
    ]
    assert len(notes) == 1 and notes[0].startswith("dyngan: trained one run at a time")
    # a run that resumes from step 10 is not stacked with fresh ones
    run = store.run_dir(gan[1])
    run.write_config(gan[1])
    run.save_checkpoint({"step": 10})
    jobs, _ = plan_jobs(store, gan, 5)
    assert sorted(len(j) for j in jobs) == [1, 4]
    assert [s.seed for j in jobs if len(j) == 1 for s in j] == [1]
    # no batching: one run per job, in order
    assert plan_jobs(store, todo, None) == ([[s] for s in todo], [])


def test_runs_at_different_steps_are_not_stacked_directly(tmp_path):
    specs = _toy_specs("gan")
    runs = _store(tmp_path, specs)
    runs[1].save_checkpoint({"step": 5})
    with pytest.raises(BenchError) as e:
        train_stacked_runs(specs, runs)
    assert "\n" not in str(e.value) and "resume from the same step" in str(e.value)


def test_bad_batch_models_is_a_one_line_error(tmp_path, capsys):
    argv = ["run", "--suite", "ring8", "--preset", "smoke", "--methods", "gan"]
    err = one_line_error(capsys, [*argv, "--out", str(tmp_path), "--batch-models", "0"])
    assert "--batch-models: must be a positive integer, got 0" in err


def test_per_class_image_runs_stacked_in_the_store(tmp_path, capsys):
    """Two digit classes' DCGANs (BatchNorm) stacked: generator snapshots for the independent
    critic, image metrics, and numbers at rounding distance from the one-at-a-time runs."""
    extra = ("--classes", "0", "1")
    kw = dict(suite="digits-perclass", methods=("gan",), seeds=("0",))
    _run(tmp_path / "stacked", *extra, "--batch-models", "2", **kw)
    _run(tmp_path / "single", *extra, **kw)
    capsys.readouterr()
    stacked = _runs(tmp_path / "stacked", "digits-perclass", "gan")
    single = _runs(tmp_path / "single", "digits-perclass", "gan")
    assert list(stacked) == list(single) and len(stacked) == 2
    for name, a in stacked.items():
        b = single[name]
        assert sorted(p.name for p in (a / "generators").iterdir()) == sorted(
            p.name for p in (b / "generators").iterdir()
        )
        ma = json.loads((a / "metrics.json").read_text())
        mb = json.loads((b / "metrics.json").read_text())
        assert ma.keys() == mb.keys() and ma["extractor"] == mb["extractor"]
        for key in ("fid", "inception_score", "precision", "recall", "ms_ssim"):
            assert ma[key] == pytest.approx(mb[key], rel=0.02, abs=0.02), key


def test_stacked_image_runs_ignore_bf16_autocast_and_say_so(tmp_path, capsys):
    """Autocast does not reach inside vmap, so a stacked job trains in float32 even when the
    runtime asks for bf16: the same weights as a float32 job, and runtime.json says amp false;
    the command line says it on stderr."""
    from collapsebench.benchmark.training.runtime import Runtime

    specs = [
        dataclasses.replace(s, train=dataclasses.replace(s.train, steps=4))
        for s in plan("digits-perclass", ["gan"], [0], "smoke", classes=["2", "5"])
    ]
    fp32 = _store(tmp_path / "fp32", specs)
    train_stacked_runs(specs, fp32)
    asked = _store(tmp_path / "bf16", specs)
    train_stacked_runs(specs, asked, runtime=Runtime("cpu", amp=True, channels_last=True))
    for a, b in zip(fp32, asked, strict=True):
        ga, gb = a.load_checkpoint()["G"], b.load_checkpoint()["G"]
        assert all(torch.equal(ga[n], gb[n]) for n in ga)
        entry = json.loads((b.path / "runtime.json").read_text())[-1]
        assert entry["amp"] is False and entry["channels_last"] is False
        assert entry["batch_models"] == 2
    # the vmapped nets really ignore autocast (if torch ever changes this, stacking.py should
    # start using it): a vmapped conv under autocast still returns float32
    G = _Stacked([torch.nn.Conv2d(1, 2, 3)] * 2, torch.device("cpu"))
    with Runtime("cpu", amp=True).autocast():
        assert G(torch.randn(2, 3, 1, 8, 8)).dtype == torch.float32
    from collapsebench.benchmark.runs.runner import execute

    execute(
        RunStore(tmp_path / "cli"),
        specs,
        progress=False,
        batch_models=2,
        runtime=Runtime("cpu", amp=True),
    )
    assert "stacked runs train in float32" in capsys.readouterr().err


def test_a_diverged_model_keeps_every_sample_row_and_its_peer_is_unaffected(tmp_path):
    """A diverged stacked model must keep its earlier sample chunks. Model 1's G is
    made non-finite after training: its samples.npy must still hold all n_eval rows (NaN), the
    run is marked diverged, and model 0 is evaluated as usual."""
    from collapsebench.benchmark.training.loop import Trainer
    from collapsebench.benchmark.training.measure import finish_run
    from collapsebench.benchmark.training.runtime import Runtime

    # the default preset's suite: the protocol's 10,000 evaluation samples (smoke evaluates 1,000)
    specs = _toy_specs("gan", preset="default", n_evals=0)[:2]
    runs = _store(tmp_path, specs)
    t = Trainer(specs, Runtime())
    t.step(0, log=False)
    with torch.no_grad():
        t.models.G.stacked[-1][1].fill_(float("nan"))  # the last layer of model 1 only
    z = t.eval_noise()
    samples = t.samples(z)
    n_eval = t.suite.n_eval
    assert z.shape[1] == n_eval > 1000  # more than one generation chunk
    assert [len(x) for x in samples] == [n_eval, n_eval]
    assert np.isfinite(samples[0]).all() and np.isnan(samples[1]).all()
    metrics = [
        finish_run(s, r, t.suite, x, [], {}, None, None, Runtime(), [])
        for s, r, x in zip(specs, runs, samples, strict=True)
    ]
    assert metrics[0]["diverged"] is False and metrics[1]["diverged"] is True
    assert np.load(runs[1].path / "samples.npy").shape == (n_eval, 2)
    assert np.isfinite(metrics[0]["modes_covered"])


def test_a_checkpoint_copied_from_another_run_is_refused_naming_both(tmp_path):
    """Seed 0's checkpoint copied into seed 2's directory: seed 2 must not finish with seed 0's
    model. The refusal names both runs and touches nothing."""
    import shutil

    spec0, spec2 = _toy_specs("gan", seeds=(0, 2))
    run0, run2 = _store(tmp_path, [spec0, spec2])
    with pytest.raises(_Stop):
        train_run(spec0, run0, progress=_stop_at(5))
    shutil.copy(run0.path / "checkpoint.pt", run2.path / "checkpoint.pt")
    before = sorted((p.name, p.stat().st_mtime_ns) for p in run2.path.iterdir())
    with pytest.raises(BenchError) as err:
        train_run(spec2, run2)
    msg = str(err.value)
    assert "belongs to run gaussians25/gan/seed0@" in msg and "not to gaussians25/gan/seed2@" in msg
    assert "\n" not in msg
    assert sorted((p.name, p.stat().st_mtime_ns) for p in run2.path.iterdir()) == before
    # its own checkpoint resumes as before
    train_run(spec0, run0)
    assert run0.finished


@pytest.mark.parametrize("peers", [5, "seed1", [3], [""]])
def test_a_staged_checkpoint_whose_peers_are_not_runs_is_one_line(tmp_path, peers):
    from collapsebench.benchmark.store.rundir import PENDING
    from collapsebench.benchmark.store.state_files import write_state

    (spec,) = _toy_specs("gan", seeds=(0,))
    (run,) = _store(tmp_path, [spec])
    with pytest.raises(_Stop):
        train_run(spec, run, progress=_stop_at(5))
    write_state(run.path / PENDING, {**run.load_checkpoint(), "peers": peers})
    with pytest.raises(BenchError, match="'peers' is not a list of run directories"):
        run.load_checkpoint(recover=True)
