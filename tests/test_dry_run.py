"""`bench run --dry-run`: each planned run's state read from the store, the steps left, and
nothing trained or written, on a store built by hand around finished smoke runs."""

from __future__ import annotations

import shutil

from test_cli import one_line_error

from collapsebench.benchmark.cli.main import main
from collapsebench.benchmark.runs.planning import plan
from collapsebench.benchmark.store.runstore import RECORDS_MARK, RunStore

ARGV = ["run", "--suite", "gaussians25", "--preset", "smoke", "--methods", "gan", "wgan-gp"]


def _tree(root):
    """Every path under ``root`` with its size and modification time."""
    return {p: (p.stat().st_size, p.stat().st_mtime_ns) for p in root.rglob("*")}


def _rows(stdout: str) -> dict[str, tuple[str, str]]:
    """The dry run's table as {run label: (state, step column)}."""
    rows = {}
    for line in stdout.splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if line.startswith("| gaussians25/"):
            rows[cells[0]] = (cells[1], cells[2])
    return rows


def test_dry_run_reports_finished_resuming_and_new_runs(smoke_store, capsys, tmp_path):
    """The smoke store holds gan and wgan-gp seeds 0 and 1, finished. A checkpoint at step 3
    is written by hand for gan seed 2; wgan-gp seed 2 has nothing. So 4 finished, 1 resumes
    at step 3, 1 new, and the steps left are (T - 3) + T for a budget of T steps."""
    out = tmp_path / "runs"
    shutil.copytree(smoke_store[0], out)
    spec = plan("gaussians25", ["gan"], [2], "smoke")[0]
    steps = spec.train.steps
    RunStore(out).run_dir(spec).path.mkdir(parents=True)
    RunStore(out).run_dir(spec).save_checkpoint({"step": 3})
    before = _tree(out)
    rc = main([*ARGV, "--seeds", "0", "1", "2", "--out", str(out), "--dry-run"])
    stdout = capsys.readouterr().out
    assert rc == 0
    rows = _rows(stdout)
    assert rows == {
        "gaussians25/gan/seed0": ("finished", f"{steps:,} / {steps:,}"),
        "gaussians25/gan/seed1": ("finished", f"{steps:,} / {steps:,}"),
        "gaussians25/gan/seed2": ("resumes", f"3 / {steps:,}"),
        "gaussians25/wgan-gp/seed0": ("finished", f"{steps:,} / {steps:,}"),
        "gaussians25/wgan-gp/seed1": ("finished", f"{steps:,} / {steps:,}"),
        "gaussians25/wgan-gp/seed2": ("new", f"0 / {steps:,}"),
    }
    assert "6 runs in" in stdout and "4 finished, 1 resuming from a checkpoint, 1 new" in stdout
    assert f"{(steps - 3) + steps:,} generator steps left to train" in stdout
    assert _tree(out) == before  # nothing trained, written or touched


def test_dry_run_on_a_missing_store_creates_nothing(capsys, tmp_path):
    out = tmp_path / "not-yet"
    assert main([*ARGV, "--methods", "gan", "--seeds", "0", "--out", str(out), "--dry-run"]) == 0
    assert "1 run in" in capsys.readouterr().out  # one method, one seed: singular
    assert not out.exists()


def test_dry_run_names_an_unreadable_checkpoint(smoke_store, capsys, tmp_path):
    """A damaged checkpoint would stop training on that run: the dry run says which file."""
    out = tmp_path / "runs"
    shutil.copytree(smoke_store[0], out)
    spec = plan("gaussians25", ["gan"], [2], "smoke")[0]
    run = RunStore(out).run_dir(spec)
    run.path.mkdir(parents=True)
    (run.path / "checkpoint.pt").write_bytes(b"not a checkpoint")
    assert main([*ARGV, "--seeds", "2", "--out", str(out), "--dry-run"]) == 0
    stdout = capsys.readouterr().out
    line = next(x for x in stdout.splitlines() if x.startswith("| gaussians25/gan/seed2"))
    assert "| unreadable |" in line and "checkpoint.pt" in line
    assert "1 with an unreadable checkpoint" in stdout


def test_dry_run_refuses_missing_runs_in_a_records_folder(smoke_store, capsys, tmp_path):
    """As `bench run` itself does: an export copy is never trained into."""
    out = tmp_path / "records"
    shutil.copytree(smoke_store[0], out)
    (out / RECORDS_MARK).write_text("")
    err = one_line_error(capsys, [*ARGV, "--seeds", "0", "2", "--out", str(out), "--dry-run"])
    assert "holds exported records" in err
    assert main([*ARGV, "--seeds", "0", "1", "--out", str(out), "--dry-run"]) == 0
