"""The Ray executor on a local cluster (``ray.init(num_cpus=2)``): the same numbers as the local
executor, a worker killed mid-run is retried and resumes from its checkpoint, results come back
to the driver when workers share no disk, and the bad-input cases are one-line errors."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from test_cli import one_line_error

from collapsebench.benchmark.cli.main import main
from collapsebench.benchmark.runs import ray_executor
from collapsebench.benchmark.runs.planning import plan
from collapsebench.benchmark.store.runstore import RunStore
from collapsebench.benchmark.store.spec import RunSpec
from collapsebench.benchmark.suites import get_suite

ray = pytest.importorskip("ray")
pytestmark = pytest.mark.slow
TESTS = Path(__file__).parent


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    marker_dir = tmp_path_factory.mktemp("kill")
    path = os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")])
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        runtime_env={"env_vars": {"PYTHONPATH": path, "KILL_MARKER_DIR": str(marker_dir)}},
    )
    yield marker_dir
    ray.shutdown()


def _run(out, method, executor, *extra):
    argv = [
        "run",
        "--suite",
        "gaussians25",
        "--preset",
        "smoke",
        "--methods",
        method,
        "--seeds",
        "0",
        "1",
        "--out",
        str(out),
        "--results",
        str(out.parent / f"results-{out.name}"),
        "--no-progress",
        "--executor",
        executor,
        *extra,
    ]
    assert main(argv) == 0


def _outputs(out: Path, method: str) -> dict:
    """(run dir name) -> (metrics, samples) of every run of ``method`` in the store."""
    folder = out / "gaussians25" / method.replace(":", "__")
    if not folder.exists():
        folder = next(p for p in (out / "gaussians25").iterdir())
    return {
        d.name: (json.loads((d / "metrics.json").read_text()), np.load(d / "samples.npy"))
        for d in sorted(folder.iterdir())
    }


def _assert_same(a: dict, b: dict) -> None:
    """Samples bit for bit; metrics equal, Vendi to 1e-12: its eigenvalues come from a threaded
    BLAS whose thread count differs between a Ray worker and a pool process (same samples)."""
    assert a.keys() == b.keys() and len(a) == 2
    for k in a:
        assert np.array_equal(a[k][1], b[k][1])
        ma, mb = dict(a[k][0]), dict(b[k][0])
        assert ma.pop("vendi") == pytest.approx(mb.pop("vendi"), rel=1e-12)
        assert ma == mb


def test_ray_gives_the_local_executors_numbers(cluster, tmp_path):
    # one thread per task: two-thread OpenMP next to Ray's own busy daemons on a 2-core machine
    # spins for tens of seconds per run
    _run(tmp_path / "local", "wgan-gp", "local", "--workers", "2")
    _run(tmp_path / "ray", "wgan-gp", "ray", "--workers", "2")
    _assert_same(_outputs(tmp_path / "local", "wgan-gp"), _outputs(tmp_path / "ray", "wgan-gp"))
    runtime = json.loads(next((tmp_path / "ray").rglob("runtime.json")).read_text())
    assert runtime[0]["device"] == "cpu" and runtime[0]["start_step"] == 0


def test_stacked_jobs_on_ray_give_the_local_numbers(cluster, tmp_path):
    """--batch-models 2: the two seeds are one Ray task training one stacked model."""
    _run(tmp_path / "local", "gan", "local", "--workers", "2", "--batch-models", "2")
    _run(tmp_path / "ray", "gan", "ray", "--workers", "2", "--batch-models", "2")
    _assert_same(_outputs(tmp_path / "local", "gan"), _outputs(tmp_path / "ray", "gan"))
    for runtime in (tmp_path / "ray").rglob("runtime.json"):
        assert json.loads(runtime.read_text())[0]["batch_models"] == 2


def test_killed_worker_is_retried_and_resumes_from_its_checkpoint(cluster, tmp_path):
    method = "ray_kill_method:KillOnceGAN"
    _run(tmp_path / "ray", method, "ray", "--workers", "2")
    assert (cluster / "killed").exists()
    starts = sorted(int(v) for v in (cluster / "starts.txt").read_text().split())
    # two runs started at step 1; the killed one came back at 11 (its checkpoint was step 10)
    assert starts == [1, 1, 11]
    # and ended exactly where an uninterrupted run ends (the marker now exists: no kill)
    os.environ["KILL_MARKER_DIR"] = str(cluster)
    try:
        _run(tmp_path / "local", method, "local", "--workers", "2")
    finally:
        del os.environ["KILL_MARKER_DIR"]
    _assert_same(_outputs(tmp_path / "local", method), _outputs(tmp_path / "ray", method))


def test_without_a_shared_disk_the_driver_writes_the_run(tmp_path):
    spec: RunSpec = plan("gaussians25", ["gan"], [0], "smoke")[0]
    remote = tmp_path / "worker-side"  # the probe is not there: the worker sees no shared disk
    out = ray_executor._run_task([spec], str(remote), 1, None, "token", None)[spec.label]
    assert out["files"] is not None and "checkpoint.pt" not in out["files"]
    assert not remote.exists() or not any(remote.rglob("metrics.json"))
    store = RunStore(tmp_path / "driver")
    ray_executor._place(store, spec, out["files"])
    run = store.run_dir(spec)
    assert run.finished and run.read_metrics() == out["metrics"]
    n_eval = get_suite("gaussians25").resolve(spec.suite_params).n_eval  # 10,000 under dyngan
    assert np.load(run.path / "samples.npy").shape == (n_eval, 2)


def test_without_a_shared_disk_a_stacked_job_returns_every_run(tmp_path):
    specs = plan("gaussians25", ["wgan-gp"], [0, 1], "smoke")
    out = ray_executor._run_task(specs, str(tmp_path / "worker-side"), 1, None, "token", None)
    assert sorted(out) == sorted(s.label for s in specs)
    store = RunStore(tmp_path / "driver")
    for spec in specs:
        ray_executor._place(store, spec, out[spec.label]["files"])
        run = store.run_dir(spec)
        assert run.finished and run.read_metrics() == out[spec.label]["metrics"]
        assert json.loads((run.path / "runtime.json").read_text())[0]["batch_models"] == 2


def test_bad_ray_inputs_are_one_line_errors(tmp_path, capsys, monkeypatch):
    base = ["run", "--suite", "gaussians25", "--preset", "smoke", "--methods", "gan"]
    base += ["--seeds", "0", "--out", str(tmp_path / "r"), "--no-progress"]
    err = one_line_error(capsys, [*base, "--executor", "ray", "--address", "127.0.0.1:1"])
    assert "cannot reach a Ray cluster at 127.0.0.1:1" in err
    err = one_line_error(capsys, [*base, "--executor", "ray", "--address", "nowhere"])
    assert "bad --address 'nowhere'" in err
    monkeypatch.setitem(__import__("sys").modules, "ray", None)  # as if not installed
    err = one_line_error(capsys, [*base, "--executor", "ray"])
    assert "pip install -e '.[ray]'" in err


def test_perf_compares_ray_with_local(cluster, capsys):
    argv = ["perf", "--suite", "ring8", "--method", "gan", "--executor", "ray", "--json"]
    assert main([*argv, "--steps", "3", "--runs", "2", "--workers", "2", "--repeats", "1"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["runs"] == 2 and out["workers"] == 2 and out["threads_per_run"] == 1
    assert out["local_gen_steps_per_s"] > 0 and out["ray_gen_steps_per_s"] > 0
    ratio = out["ray_gen_steps_per_s"] / out["local_gen_steps_per_s"]  # of 2-decimal values
    # the rates are rounded to 2 decimals and tiny here (pool start-up dominates 3 steps)
    assert out["ray_vs_local_ratio"] == pytest.approx(ratio, rel=0.05, abs=0.05)
    assert ray.is_initialized()  # the test's cluster was reused, not shut down
