"""Device selection and the bf16 / channels_last switches (training/runtime.py), on the CPU.

CUDA is faked where only the decision is tested (torch.cuda.is_available patched); nothing here
needs a GPU."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from test_cli import one_line_error

from collapsebench.benchmark.errors import BenchError
from collapsebench.benchmark.runs.planning import plan
from collapsebench.benchmark.runs.runner import execute
from collapsebench.benchmark.store.runstore import RunStore
from collapsebench.benchmark.suites import get_suite
from collapsebench.benchmark.training import runtime as R


def _fake_cuda(monkeypatch, n: int = 1) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: n)


def test_auto_is_cpu_without_a_gpu_and_cuda_with_one(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert R.resolve_device("auto") == "cpu" and R.resolve_device(None) == "cpu"
    _fake_cuda(monkeypatch, n=2)
    assert R.resolve_device("auto") == "cuda"
    assert R.resolve_device("cuda:1") == "cuda:1"
    with pytest.raises(BenchError, match=r"only 2 GPU\(s\) visible \(cuda:0..cuda:1\)"):
        R.resolve_device("cuda:2")


def test_bad_devices_name_the_valid_ones(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(BenchError, match="CUDA is not available here.*use --device cpu or auto"):
        R.resolve_device("cuda")
    for bad in ("tpu", "cuda:x", "gpu"):
        with pytest.raises(BenchError, match="valid: auto, cpu, cuda, cuda:N"):
            R.resolve_device(bad)


def test_amp_and_channels_last_only_for_image_suites_on_cuda(monkeypatch):
    image, toy = get_suite("digits-perclass"), get_suite("ring8")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert R.runtime_for(image.amp_capable, "auto") == R.Runtime("cpu", False, False, True)
    _fake_cuda(monkeypatch)
    assert R.runtime_for(image.amp_capable, "auto") == R.Runtime("cuda", True, True, True)
    no_amp = R.runtime_for(image.amp_capable, "cuda", no_amp=True)
    assert no_amp == R.Runtime("cuda", False, False, True)
    assert R.runtime_for(toy.amp_capable, "cuda") == R.Runtime("cuda", False, False, True)
    assert R.runtime_for(toy.amp_capable, "cuda", fast=True).deterministic is False


def test_cpu_bf16_autocast_really_computes_in_bf16():
    lin = torch.nn.Linear(4, 3)
    with R.Runtime("cpu", amp=True).autocast():
        assert lin(torch.ones(2, 4)).dtype == torch.bfloat16
    with R.Runtime("cpu", amp=False).autocast():
        assert lin(torch.ones(2, 4)).dtype == torch.float32


def test_bad_device_and_executor_are_one_line_errors(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    base = ["run", "--suite", "gaussians25", "--preset", "smoke", "--methods", "gan"]
    base += ["--seeds", "0", "--out", str(tmp_path / "r"), "--no-progress"]
    assert "CUDA is not available" in one_line_error(capsys, [*base, "--device", "cuda"])
    assert "valid: auto, cpu, cuda, cuda:N" in one_line_error(capsys, [*base, "--device", "tpu"])
    err = one_line_error(capsys, [*base, "--executor", "dask"])
    assert "unknown --executor 'dask'; valid: local, ray" in err
    assert not any((tmp_path / "r").rglob("metrics.json"))


def _digits_run(root, runtime):
    spec = plan("digits", ["gan"], [0], "smoke")[0]
    store = RunStore(root)
    execute(store, [spec], progress=False, runtime=runtime)
    run = store.run_dir(spec)
    return run, json.loads((run.path / "runtime.json").read_text())


def test_image_run_under_cpu_bf16_and_channels_last(tmp_path):
    """The switches are honoured end to end (recorded in runtime.json, a finished run with sane
    samples) and are not part of the run's identity (same run directory name)."""
    plain, rec_plain = _digits_run(tmp_path / "fp32", None)
    mixed, rec_mixed = _digits_run(
        tmp_path / "bf16", R.Runtime("cpu", amp=True, channels_last=True)
    )
    assert plain.path.name == mixed.path.name
    assert [r["amp"] for r in rec_plain] == [False] and [r["amp"] for r in rec_mixed] == [True]
    assert rec_mixed[0]["channels_last"] is True and rec_mixed[0]["start_step"] == 0
    a, b = np.load(plain.path / "samples.npy"), np.load(mixed.path / "samples.npy")
    assert a.shape == b.shape and a.dtype == b.dtype == np.uint8
    # bf16 rounding changes the training, so the two runs are not bit-identical ...
    assert not np.array_equal(a, b)
    # ... while both stay finished runs with finite metrics
    for run in (plain, mixed):
        assert all(np.isfinite(v) for v in run.read_metrics().values() if isinstance(v, float))


def test_perf_executor_bad_inputs_are_one_line_errors(capsys):
    err = one_line_error(capsys, ["perf", "--executor", "local"])
    assert "--executor 'local' is not measurable; valid: ray" in err
    err = one_line_error(capsys, ["perf", "--executor", "ray", "--batch-models", "2"])
    assert "--executor and --batch-models are different measurements; use one of" in err
    err = one_line_error(capsys, ["perf", "--layout", "--batch-models", "2"])
    assert "--batch-models and --layout are different measurements" in err
    err = one_line_error(capsys, ["perf", "--layout", "--method", "dyngan"])
    assert "no plain loop for dyngan; valid: gan, wgan, wgan-gp" in err


def test_perf_default_measures_the_loops_only(capsys):
    """`bench perf` with no options is the quick harness-vs-bare ratio; the 4-run workers
    comparison (minutes) is behind --workers-check."""
    from collapsebench.benchmark.cli.main import main

    assert (
        main(
            [
                "perf",
                "--suite",
                "ring8",
                "--method",
                "gan",
                "--steps",
                "5",
                "--repeats",
                "1",
                "--json",
            ]
        )
        == 0
    )
    out = json.loads(capsys.readouterr().out)
    assert out["harness_vs_bare_ratio"] == pytest.approx(
        out["harness_gen_steps_per_s"] / out["bare_loop_gen_steps_per_s"], abs=0.01
    )
    assert not any(k.startswith("workers") for k in out)
    # one repeat: its own ratio is the ratio of the medians, and no interval exists
    assert out["paired_ratio_median"] == pytest.approx(out["harness_vs_bare_ratio"], abs=0.002)
    assert out["paired_ratio_ci95"] is None


def test_paired_ratio_interval_is_the_order_statistics_of_the_binomial():
    """9 repeats: the sign test's 95 % interval for a median runs from the 2nd to the 8th
    smallest value (P(Binomial(9, 1/2) <= 1) = 10/512 <= 0.025 < P(<= 2) = 46/512)."""
    from collapsebench.benchmark.runs.perf import paired_ratios

    ratios = [0.97, 0.93, 0.99, 0.95, 0.96, 1.01, 0.94, 0.98, 0.955]
    out = paired_ratios(ratios)
    assert out["paired_ratio_median"] == 0.96
    assert out["paired_ratio_ci95"] == [0.94, 0.99]
    assert paired_ratios(ratios[:5])["paired_ratio_ci95"] is None


def test_progress_in_a_log_file_is_one_line_per_tenth_with_rate_and_eta(tmp_path, capsys):
    from collapsebench.benchmark.cli.main import main

    argv = ["run", "--suite", "ring8", "--preset", "smoke", "--methods", "gan", "--seeds", "0"]
    assert main([*argv, "--out", str(tmp_path / "r"), "--results", str(tmp_path / "t")]) == 0
    err = capsys.readouterr().err.splitlines()
    lines = [ln for ln in err if ln.startswith("bench: ring8/gan/seed0: step ")]
    # smoke: 30 steps, a line at every third step (each tenth)
    assert [ln.split("step ")[1].split(",")[0] for ln in lines] == [
        f"{s}/30" for s in range(3, 31, 3)
    ]
    assert all("steps/s, ETA " in ln for ln in lines)
    assert "1 runs: 1 trained now" in err[-1] and "bench report --suite ring8" in err[-1]
