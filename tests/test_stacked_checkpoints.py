"""A stacked job's K checkpoints are one commit: kill -9 at every point between their writes,
resume, and the runs end bit for bit where an uninterrupted stacked job ends."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from collapsebench.benchmark.store.rundir import CHECKPOINT, PENDING
from collapsebench.benchmark.store.runstore import RunStore

ARGV = [
    "run", "--suite", "gaussians25", "--preset", "smoke", "--methods", "gan",
    "--seeds", "0", "1", "2", "--batch-models", "3", "--no-progress", "--no-plots",
]  # fmt: skip

#: a bench process that SIGKILLs itself at the chosen file operation of the step-20 checkpoint
#: (smoke: 30 steps, a checkpoint every 10): the n-th staging write or the n-th commit rename
KILLER = textwrap.dedent(
    """
    import os, signal, sys
    from collapsebench.benchmark.store import rundir as store
    kind, n = sys.argv[1], int(sys.argv[2])
    seen = {"stage": 0, "commit": 0}
    real_write, real_replace = store.write_state, os.replace

    def step_of(state):
        return state.get("step")

    def write_state(path, state):
        if path.name == store.PENDING and step_of(state) == 20:
            if kind == "stage" and seen["stage"] == n:
                os.kill(os.getpid(), signal.SIGKILL)
            seen["stage"] += 1
        return real_write(path, state)

    def replace(src, dst):
        if str(src).endswith(store.PENDING) and seen["stage"] == 3:
            if kind == "commit" and seen["commit"] == n:
                os.kill(os.getpid(), signal.SIGKILL)
            seen["commit"] += 1
        return real_replace(src, dst)

    store.write_state = write_state
    store.os.replace = replace
    from collapsebench.benchmark.cli.main import main
    sys.exit(main(sys.argv[3:]))
    """
)


def _bench(argv, killer=None):
    code = KILLER if killer else "import sys; from collapsebench.benchmark.cli.entry import main;" \
        " sys.exit(main(sys.argv[1:]))"  # fmt: skip
    extra = [str(k) for k in killer] if killer else []
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run(
        [sys.executable, "-c", code, *extra, *argv], capture_output=True, text=True, env=env
    )


def _files(root: Path) -> dict[str, bytes]:
    out = {}
    for run in sorted(root.glob("gaussians25/gan/seed*")):
        for name in ("samples.npy", "curves.csv", "snapshots.npz", "metrics.json"):
            out[f"{run.name}/{name}"] = (run / name).read_bytes()
    return out


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    root = tmp_path_factory.mktemp("whole")
    done = _bench([*ARGV, "--out", str(root / "runs"), "--results", str(root / "results")])
    assert done.returncode == 0, done.stderr
    return _files(root / "runs")


@pytest.mark.parametrize(
    "kill_at",
    [("stage", 1), ("stage", 2), ("commit", 0), ("commit", 1), ("commit", 2)],
    ids=[
        "after-1-staged",
        "after-2-staged",
        "all-staged",
        "after-1-committed",
        "after-2-committed",
    ],  # fmt: skip
)
def test_kill_between_stacked_checkpoint_writes(tmp_path, uninterrupted, kill_at):
    argv = [*ARGV, "--out", str(tmp_path / "runs"), "--results", str(tmp_path / "results")]
    killed = _bench(argv, killer=kill_at)
    assert killed.returncode == -9, killed.stderr
    runs = sorted((tmp_path / "runs" / "gaussians25" / "gan").glob("seed*"))
    assert len(runs) == 3 and not any((r / "metrics.json").exists() for r in runs)
    # what a kill leaves: staged files of the step-20 commit, beside step-10 or step-20 ones
    staged = [(r / PENDING).exists() for r in runs]
    kind, n = kill_at
    assert sum(staged) == (n if kind == "stage" else 3 - n)
    # every run resumes from one step: 10 if staging was cut short, 20 once all were staged
    store = RunStore(tmp_path / "runs")
    from collapsebench.benchmark.store.rundir import RunDir
    from collapsebench.benchmark.training.stacking import checkpoint_step

    steps = {checkpoint_step(RunDir(r)) for r in runs}
    assert steps == ({10} if kind == "stage" else {20})
    resumed = _bench(argv)
    assert resumed.returncode == 0, resumed.stderr
    assert "one at a time" not in resumed.stderr
    assert not any((r / PENDING).exists() for r in runs)
    assert all((r / CHECKPOINT).exists() for r in runs)
    assert _files(tmp_path / "runs") == uninterrupted
    assert store.root.is_dir()
