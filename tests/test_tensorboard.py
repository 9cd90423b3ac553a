"""`bench run --log tensorboard`: the events, read back with TensorBoard's own reader, hold
exactly what the run stored in curves.csv, evals.csv and snapshots.npz."""

import sys

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("tensorboard")
from tensorboard.backend.event_processing.event_accumulator import (  # noqa: E402
    EventAccumulator,
)

from collapsebench.benchmark.cli.main import main  # noqa: E402

BASE = ["run", "--suite", "gaussians25", "--preset", "smoke", "--methods", "gan", "--seeds", "0"]


def _events(folder):
    acc = EventAccumulator(str(folder), size_guidance={"scalars": 0, "images": 0})
    acc.Reload()
    return acc


def test_events_equal_the_stored_curves(tmp_path, capsys):
    out = tmp_path / "runs"
    argv = [*BASE, "--out", str(out), "--results", str(tmp_path / "r"), "--no-progress"]
    assert main([*argv, "--log", "tensorboard"]) == 0
    (run,) = list((out / "gaussians25" / "gan").glob("seed0-*"))
    acc = _events(run / "tensorboard")
    curves = pd.read_csv(run / "curves.csv")
    loss_d = acc.Scalars("train/loss_d")
    assert [e.step for e in loss_d] == list(curves["step"])
    np.testing.assert_allclose([e.value for e in loss_d], curves["loss_d"], rtol=1e-6)
    evals = pd.read_csv(run / "evals.csv")
    modes = acc.Scalars("eval/modes_covered")
    assert [e.step for e in modes] == list(evals["step"])
    assert [e.value for e in modes] == list(evals["modes_covered"].astype(float))
    snaps = [k for k in np.load(run / "snapshots.npz").files if k.startswith("samples_")]
    assert len(acc.Images("samples")) == len(snaps) > 0


def test_log_dir_and_errors(tmp_path, capsys, monkeypatch):
    out, logs = tmp_path / "runs", tmp_path / "tb"
    argv = [*BASE, "--out", str(out), "--results", str(tmp_path / "r"), "--no-progress"]
    assert main([*argv, "--log", "tensorboard", "--log-dir", str(logs)]) == 0
    (folder,) = list((logs / "gaussians25" / "gan").glob("seed0-*"))
    assert _events(folder).Scalars("train/loss_g")
    assert not list(out.rglob("tensorboard"))
    capsys.readouterr()
    assert main([*argv, "--log", "wandb"]) == 2
    assert "valid: tensorboard" in capsys.readouterr().err
    assert main([*argv, "--log-dir", str(logs)]) == 2
    assert "--log-dir applies with --log tensorboard" in capsys.readouterr().err
    monkeypatch.setitem(sys.modules, "tensorboard", None)  # the extra is not installed
    assert main([*argv, "--seeds", "1", "--log", "tensorboard"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "pip install -e '.[tensorboard]'" in err[0]
    assert not list((out / "gaussians25" / "gan").glob("seed1-*"))  # nothing touched
