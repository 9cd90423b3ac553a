"""Run store: determinism, skipping finished runs, resume after SIGKILL, corrupted directories."""

import dataclasses
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from collapsebench.benchmark.errors import BenchError
from collapsebench.benchmark.runs.planning import plan
from collapsebench.benchmark.runs.runner import execute
from collapsebench.benchmark.store.runstore import RunStore
from collapsebench.benchmark.store.spec import TrainConfig
from collapsebench.benchmark.training.loop import train_run


def smoke_spec(method="wgan-gp", seed=0, **train):
    (spec,) = plan("gaussians25", [method], [seed], "smoke")
    return (
        dataclasses.replace(spec, train=dataclasses.replace(spec.train, **train)) if train else spec
    )


def run_to_end(root, spec):
    run = RunStore(root).run_dir(spec)
    run.write_config(spec)
    metrics = train_run(spec, run)
    return run, metrics


def test_same_seed_is_bit_identical_and_seeds_differ(tmp_path):
    spec = smoke_spec("greed-gan")
    a, ma = run_to_end(tmp_path / "a", spec)
    b, mb = run_to_end(tmp_path / "b", spec)
    assert ma == mb
    assert (a.path / "samples.npy").read_bytes() == (b.path / "samples.npy").read_bytes()
    assert a.read_curves().equals(b.read_curves())
    c, _ = run_to_end(tmp_path / "c", dataclasses.replace(spec, seed=1))
    assert not np.array_equal(np.load(a.path / "samples.npy"), np.load(c.path / "samples.npy"))


def test_config_hash_keys_the_directory():
    spec = smoke_spec()
    assert spec.config_hash() == dataclasses.replace(spec, seed=7).config_hash()
    other = dataclasses.replace(spec, method_params={**spec.method_params, "gp_lambda": 1.0})
    assert other.config_hash() != spec.config_hash()
    assert RunStore("x").run_dir(other).path != RunStore("x").run_dir(spec).path


def test_finished_run_is_skipped_not_overwritten(tmp_path):
    spec = smoke_spec("gan")
    store = RunStore(tmp_path)
    execute(store, [spec], progress=False)
    metrics_file = store.run_dir(spec).path / "metrics.json"
    stamp = metrics_file.stat().st_mtime_ns
    assert execute(store, [spec], progress=False) == {}  # nothing ran
    assert metrics_file.stat().st_mtime_ns == stamp


CHILD = """
import sys, torch, dataclasses
torch.set_num_threads(1)
from collapsebench.benchmark.runs.planning import plan
from collapsebench.benchmark.store.runstore import RunStore
from collapsebench.benchmark.training.loop import train_run
(spec,) = plan("gaussians25", ["wgan-gp"], [0], "smoke")
train = dataclasses.replace(spec.train, steps=150, checkpoint_every=10)
spec = dataclasses.replace(spec, train=train)
run = RunStore(sys.argv[1]).run_dir(spec)
run.write_config(spec)
train_run(spec, run)
"""


def test_resume_after_sigkill_equals_uninterrupted(tmp_path):
    spec = smoke_spec(steps=150, checkpoint_every=10)
    killed_root = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, "-c", CHILD, str(killed_root)])
    run = RunStore(killed_root).run_dir(spec)
    deadline = time.time() + 120
    try:
        while time.time() < deadline:
            if (run.path / "checkpoint.pt").exists():
                state = run.load_checkpoint()
                if state["step"] >= 20:
                    break
            if proc.poll() is not None:
                pytest.fail("child finished before it could be killed")
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert not run.finished
    step_at_kill = run.load_checkpoint()["step"]
    assert 0 < step_at_kill < 150

    resumed = train_run(spec, run)
    _, fresh = run_to_end(tmp_path / "fresh", spec)
    assert resumed == fresh
    fresh_run = RunStore(tmp_path / "fresh").run_dir(spec)
    assert (run.path / "samples.npy").read_bytes() == (fresh_run.path / "samples.npy").read_bytes()
    assert run.read_curves().equals(fresh_run.read_curves())


def test_corrupted_checkpoint_is_reported_and_left_alone(tmp_path):
    spec = smoke_spec()
    run = RunStore(tmp_path).run_dir(spec)
    run.write_config(spec)
    (run.path / "checkpoint.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(BenchError, match="checkpoint.pt is damaged"):
        train_run(spec, run)
    assert (run.path / "checkpoint.pt").read_bytes() == b"not a checkpoint"


def test_config_mismatch_is_reported(tmp_path):
    spec = smoke_spec()
    run = RunStore(tmp_path).run_dir(spec)
    run.path.mkdir(parents=True)
    (run.path / "config.json").write_text(json.dumps({"suite": "other"}))
    with pytest.raises(BenchError, match="does not match"):
        run.write_config(spec)


def test_snapshot_steps_cover_the_run():
    assert TrainConfig(steps=4000, n_snapshots=4).snapshot_steps() == [1000, 2000, 3000, 4000]


def test_parameter_added_later_keeps_old_run_keys():
    """wgan's `optimizer` (Wang (2024)) arrived after runs existed: at its default it stays out of
    the run config, so the key equals one built without the field; set, it makes a new key."""
    from collapsebench.benchmark.training.methods import build_method, method_params

    # gan-toy sets no wgan parameter, so the planned run holds wgan's own defaults
    (spec,) = plan("gaussians25", ["wgan"], [0], "smoke", suite_options={"protocol": "gan-toy"})
    params = method_params("wgan")
    assert "optimizer" not in params
    legacy = dataclasses.replace(spec, method_params=dict(params))
    assert legacy.config_hash() == spec.config_hash()
    adam = dataclasses.replace(legacy, method_params=method_params("wgan", {"optimizer": "adam"}))
    assert adam.config_hash() != legacy.config_hash()
    method = build_method("wgan", params, total_steps=10)
    assert method.params.optimizer == "rmsprop"
