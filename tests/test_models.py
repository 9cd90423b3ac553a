"""Stacked models (benchmark/training/, K > 1) against the same loop run by run (K = 1).

The reference is ``train_run`` itself, one seed at a time: its final checkpoint (G and D) and its
final evaluation samples. In float64 the stacked models match it to rounding (~1e-15), which
shows the same initialisation, the same draws and per-model updates. In float32 the summation
order of the batched kernels differs from the per-model ones; GAN stays within 1e-5, while
WGAN-GP's gradient penalty (a double backward) plus Adam's normalisation of near-zero gradients
amplify the rounding to ~1e-4 on a few hundred of 500k weights, so float32 WGAN-GP is only
checked on the samples, at a looser tolerance.
"""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import torch

from collapsebench.benchmark.cli.main import main
from collapsebench.benchmark.errors import BenchError
from collapsebench.benchmark.runs.planning import plan
from collapsebench.benchmark.store.runstore import RunStore
from collapsebench.benchmark.store.spec import RunSpec
from collapsebench.benchmark.training.loop import train_bare as train_stacked
from collapsebench.benchmark.training.loop import train_run

SEEDS = [0, 1, 2]
STEPS = 20


def _specs(method, seeds=SEEDS, steps=STEPS, suite="gaussians25", **kw):
    specs = plan(suite, [method], seeds, "smoke", **kw)
    return [dataclasses.replace(s, train=dataclasses.replace(s.train, steps=steps)) for s in specs]


def _reference(spec: RunSpec, root) -> tuple[dict, dict, np.ndarray]:
    """The harness's run of one seed: final G, D and evaluation samples."""
    run = RunStore(root).run_dir(spec)
    run.write_config(spec)
    train_run(spec, run)
    ckpt = run.load_checkpoint()
    return ckpt["G"], ckpt["D"], np.load(run.path / "samples.npy")


@pytest.fixture
def float64():
    before = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(before)


def _compare(specs, tmp_path, tol, samples_tol=None, params=True):
    out = train_stacked(specs)
    assert [o["seed"] for o in out] == [s.seed for s in specs]
    for spec, got in zip(specs, out, strict=True):
        g_ref, d_ref, samples_ref = _reference(spec, tmp_path / f"seed{spec.seed}")
        if params:
            assert set(got["G"]) == set(g_ref) and set(got["D"]) == set(d_ref)
            for name, ref in g_ref.items():
                torch.testing.assert_close(got["G"][name], ref, **tol)
            for name, ref in d_ref.items():
                torch.testing.assert_close(got["D"][name], ref, **tol)
        assert got["samples"].dtype == samples_ref.dtype
        torch.testing.assert_close(
            torch.from_numpy(got["samples"]), torch.from_numpy(samples_ref), **(samples_tol or tol)
        )
    # the seeds really are different models
    assert not torch.equal(out[0]["G"]["0.weight"], out[1]["G"]["0.weight"])


def test_stacked_equals_harness_float64_wgan_gp(tmp_path, float64):
    _compare(_specs("wgan-gp", steps=10), tmp_path, {"rtol": 1e-9, "atol": 1e-11})


@pytest.mark.parametrize("protocol,method", [("dyngan", "gan"), ("pacgan", "pacgan2")])
def test_stacked_equals_harness_float64_on_published_protocol_nets(
    tmp_path, float64, protocol, method
):
    """DynGAN's LeakyReLU MLPs; PacGAN's BatchNorm G and packed maxout D."""
    specs = _specs(method, steps=8, suite_options={"protocol": protocol})
    _compare(specs, tmp_path, {"rtol": 1e-9, "atol": 1e-11})


def test_stacked_equals_harness_float32_gan(tmp_path):
    _compare(_specs("gan"), tmp_path, {"rtol": 1e-4, "atol": 1e-5})


def test_stacked_close_to_harness_float32_wgan_gp(tmp_path):
    _compare(
        _specs("wgan-gp", steps=5),
        tmp_path,
        tol={},
        samples_tol={"rtol": 1e-3, "atol": 1e-3},
        params=False,
    )


def test_stacked_equals_harness_float64_gan_minimax_ring8(tmp_path, float64):
    specs = _specs(
        "gan", seeds=[3, 5], steps=5, suite="ring8", method_options={"gan": {"loss": "minimax"}}
    )
    _compare(specs, tmp_path, {"rtol": 1e-9, "atol": 1e-11})


@pytest.mark.parametrize("method", ["greed-gan", "wgan", "greed-wgan", "lsgan", "pacgan3"])
def test_stacked_equals_harness_float64_other_methods(tmp_path, float64, method):
    """Greed relaxation (interpolates drawn per model), weight clipping and RMSprop, least
    squares, packing (batch x 3 samples, a D reading 3 at a time)."""
    _compare(_specs(method, seeds=[0, 4], steps=4), tmp_path, {"rtol": 1e-9, "atol": 1e-11})


@pytest.mark.parametrize("method", ["gan", "wgan-gp", "pacgan2"])
def test_stacked_per_class_dcgans_match_harness(tmp_path, method):
    """Ten-class style stacking on an image suite: models differ in class (their data) and seed;
    gan's DCGAN has BatchNorm in G and D, whose running statistics are stacked buffers."""
    specs = _specs(method, seeds=[0, 1], steps=6, suite="digits-perclass", classes=["0", "7"])
    out = train_stacked(specs)
    assert [(o["seed"], o["cls"]) for o in out] == [(s.seed, s.cls) for s in specs]
    for spec, got in zip(specs, out, strict=True):
        g_ref, d_ref, samples_ref = _reference(spec, tmp_path / spec.label.replace("/", "_"))
        assert set(got["G"]) == set(g_ref) and set(got["D"]) == set(d_ref)
        if method != "wgan-gp":
            assert any("running_mean" in n for n in d_ref)
        # float32: rounding differs between batched and per-model kernels, and Adam turns a
        # near-zero gradient's rounding into a step of up to lr (2e-4): 6 steps bound a weight's
        # difference by ~1e-3 (the float64 tests above hold the exact equality); WGAN-GP's
        # double backward amplifies rounding further (module docstring)
        tol = {"rtol": 1e-2, "atol": 1e-3}
        for ref, mine in ((g_ref, got["G"]), (d_ref, got["D"])):
            for name, value in ref.items():
                torch.testing.assert_close(mine[name], value, **tol)
        # uint8 images: float rounding may move a pixel across a quantisation boundary
        assert got["samples"].dtype == np.uint8 and got["samples"].shape == samples_ref.shape
        diff = np.abs(got["samples"].astype(int) - samples_ref.astype(int))
        assert diff.max() <= 1 and (diff == 0).mean() > 0.99
    assert not np.array_equal(out[0]["samples"], out[1]["samples"])


def _one_line(exc_info, *fragments):
    msg = str(exc_info.value)
    assert "\n" not in msg
    for f in fragments:
        assert f in msg


def test_unsupported_method():
    with pytest.raises(BenchError) as e:
        train_stacked(_specs("sngan", steps=1))
    _one_line(e, "method 'sngan' cannot train stacked", "spectral-norm")
    with pytest.raises(BenchError) as e:
        train_stacked(_specs("dyngan", steps=1))
    _one_line(e, "method 'dyngan' cannot train stacked", "overrides the loop hooks", "real_batch")


def test_specs_must_share_one_configuration():
    a = _specs("wgan-gp", seeds=[0], steps=1)
    b = _specs("wgan-gp", seeds=[1], steps=2)
    with pytest.raises(BenchError) as e:
        train_stacked(a + b)
    _one_line(e, "differ only in the seed or class")
    c = _specs("wgan-gp", seeds=[1], steps=1, method_options={"wgan-gp": {"gp_lambda": 1.0}})
    with pytest.raises(BenchError) as e:
        train_stacked(a + c)
    _one_line(e, "differ only in the seed or class")
    with pytest.raises(BenchError) as e:
        train_stacked(a + _specs("gan", seeds=[1], steps=1))
    _one_line(e, "differ only in the seed or class")


def test_bad_spec_lists():
    with pytest.raises(BenchError) as e:
        train_stacked(_specs("gan", seeds=[0], steps=1) * 2)
    _one_line(e, "distinct runs")
    with pytest.raises(BenchError) as e:
        train_stacked([])
    _one_line(e, "at least one")


def test_cli_perf_batch_models_json(capsys):
    argv = ["perf", "--suite", "ring8", "--method", "gan", "--batch-models", "2", "--threads", "1"]
    assert main([*argv, "--steps", "5", "--repeats", "1", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    for key in ("batch_models", "stacked_steps_per_s", "sequential_steps_per_s"):
        assert key in result
    assert result["batch_models"] == 2 and result["device"] == "cpu"
    assert result["stacked_steps_per_s"] > 0 and result["sequential_steps_per_s"] > 0
    ratio = result["stacked_steps_per_s"] / result["sequential_steps_per_s"]
    assert result["stacked_over_sequential"] == pytest.approx(ratio, rel=0.01)
    assert result["protocol"] == "dyngan" and result["batch_size"] == 128  # the default's
    # --protocol times that protocol's nets and batch (VEEGAN/GDPP: batch 512)
    assert main([*argv, "--steps", "2", "--repeats", "1", "--json", "--protocol", "veegan"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["protocol"] == "veegan" and result["batch_size"] == 512


def test_cli_perf_batch_models_unsupported_method(capsys):
    assert main(["perf", "--method", "dyngan", "--batch-models", "2", "--steps", "1"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "method 'dyngan' cannot train stacked" in err


def test_cli_perf_batch_models_per_class_suite_stacks_classes(capsys):
    argv = ["perf", "--suite", "digits-perclass", "--method", "wgan", "--batch-models", "3"]
    assert main([*argv, "--steps", "2", "--repeats", "1", "--threads", "1", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["models"] == [f"digits-perclass/wgan/{c}/seed0" for c in "012"]
    assert result["stacked_steps_per_s"] > 0 and result["sequential_steps_per_s"] > 0


def test_cli_perf_device_needs_batch_models(capsys):
    assert main(["perf", "--device", "auto", "--steps", "1"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "--batch-models only" in err
