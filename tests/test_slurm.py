"""`--executor slurm` against a real one-node Slurm (slurmctld + slurmd on this machine, started
here): a job array of two smoke runs equals the same runs trained locally, a task cancelled
mid-run is resubmitted and resumes from its checkpoint, a second submission trains nothing.

Needs root and Debian's slurm-wlm and munge (``.ci/run`` installs them); skipped, saying why,
where Slurm cannot start."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from collapsebench.benchmark.cli.main import main
from collapsebench.benchmark.runs.planning import plan
from collapsebench.benchmark.store.runstore import RunStore

pytest.importorskip("submitit", reason="submitit is not installed (extra: slurm)")

DAEMONS = ("slurmctld", "slurmd", "munged", "sbatch", "squeue", "scancel", "scontrol", "sinfo")


def _why_not() -> str:
    missing = [d for d in DAEMONS if shutil.which(d) is None]
    if missing:
        return f"Slurm is not installed ({', '.join(missing)} missing; Debian: slurm-wlm munge)"
    if os.geteuid() != 0:
        return "starting slurmctld and slurmd here needs root"
    return ""


def _wait_for(check, what: str, timeout: float = 60.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        out = check()
        if out:
            return out
        time.sleep(0.5)
    pytest.skip(f"Slurm did not come up: {what} after {timeout:.0f} s")


@pytest.fixture(scope="module")
def slurm(tmp_path_factory):
    """A one-node cluster on localhost; yields the environment that reaches it."""
    why = _why_not()
    if why:
        pytest.skip(why)
    root = tmp_path_factory.mktemp("slurm")
    for d in ("state", "spool", "munge", "log"):
        (root / d).mkdir()
    host = socket.gethostname().split(".")[0]
    key = root / "munge" / "munge.key"
    key.write_bytes(os.urandom(1024))
    key.chmod(0o400)
    sock = root / "munge" / "munge.socket"
    munged = [
        "munged", "--force", f"--key-file={key}", f"--socket={sock}",
        f"--pid-file={root / 'munge' / 'munged.pid'}", f"--log-file={root / 'log' / 'munged.log'}",
        f"--seed-file={root / 'munge' / 'munged.seed'}",
    ]  # fmt: skip
    conf = root / "slurm.conf"
    port = 16817 + os.getpid() % 1000
    conf.write_text(
        "\n".join(
            [
                "ClusterName=bench",
                f"SlurmctldHost={host}",
                "SlurmUser=root",
                "SlurmdUser=root",
                f"SlurmctldPort={port}",
                f"SlurmdPort={port + 1}",
                f"AuthInfo=socket={sock}",
                f"StateSaveLocation={root / 'state'}",
                f"SlurmdSpoolDir={root / 'spool'}",
                f"SlurmctldPidFile={root / 'slurmctld.pid'}",
                f"SlurmdPidFile={root / 'slurmd.pid'}",
                f"SlurmctldLogFile={root / 'log' / 'slurmctld.log'}",
                f"SlurmdLogFile={root / 'log' / 'slurmd.log'}",
                "ProctrackType=proctrack/linuxproc",
                "TaskPlugin=task/none",
                "JobAcctGatherType=jobacct_gather/none",
                "AccountingStorageType=accounting_storage/none",
                "SchedulerType=sched/builtin",
                "SelectType=select/cons_tres",
                "SelectTypeParameters=CR_CPU",
                "MpiDefault=none",
                "ReturnToService=2",
                "SlurmctldTimeout=30",
                "SlurmdTimeout=30",
                "KillWait=5",
                f"NodeName={host} CPUs={os.cpu_count()} State=UNKNOWN",
                "PartitionName=bench Nodes=ALL Default=YES MaxTime=INFINITE State=UP",
                "",
            ]
        )
    )
    env = {**os.environ, "SLURM_CONF": str(conf)}
    procs = []
    try:
        subprocess.run(munged, check=True, capture_output=True, timeout=30)
        for cmd in (["slurmctld", "-D", "-i"], ["slurmd", "-D"]):
            log = open(root / "log" / f"{cmd[0]}.out", "w")  # noqa: SIM115 (kept open while it runs)
            procs.append(subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT))
        _wait_for(
            lambda: "idle" in subprocess.run(
                ["sinfo", "-h", "-o", "%T"], env=env, capture_output=True, text=True
            ).stdout,
            "no idle node",
        )  # fmt: skip
        old = os.environ.get("SLURM_CONF")
        os.environ["SLURM_CONF"] = str(conf)  # submitit runs sbatch/squeue in this process
        yield env
    finally:
        os.environ.pop("SLURM_CONF", None)
        if "old" in locals() and old is not None:
            os.environ["SLURM_CONF"] = old
        subprocess.run(["scancel", "--full", "-u", "root"], env=env, capture_output=True)
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
        pid = root / "munge" / "munged.pid"
        if pid.exists():
            try:
                os.kill(int(pid.read_text()), signal.SIGTERM)
            except (ProcessLookupError, ValueError):
                pass


ARGS = ["--suite", "gaussians25", "--preset", "smoke", "--methods", "gan", "--seeds", "0", "1"]


def _slurm_run(out: Path, results: Path, *extra: str) -> int:
    return main(
        ["run", *ARGS, "--out", str(out), "--results", str(results), "--no-progress",
         "--executor", "slurm", "--slurm-partition", "bench", "--slurm-time", "5", *extra]
    )  # fmt: skip


def test_a_job_array_equals_local_runs_and_a_second_submission_trains_nothing(
    slurm, tmp_path, capsys
):
    local, cluster = tmp_path / "local", tmp_path / "cluster"
    assert main(["run", *ARGS, "--out", str(local), "--results", str(tmp_path / "r1"),
                 "--no-progress", "--workers", "2"]) == 0  # fmt: skip
    assert _slurm_run(cluster, tmp_path / "r2") == 0
    err = capsys.readouterr().err
    assert "submitted 2 array tasks as Slurm job" in err, err
    for spec in plan("gaussians25", ["gan"], [0, 1], "smoke"):
        a, b = RunStore(local).run_dir(spec), RunStore(cluster).run_dir(spec)
        assert np.array_equal(np.load(a.path / "samples.npy"), np.load(b.path / "samples.npy"))
        assert a.read_metrics() == b.read_metrics()
        assert json.loads((b.path / "runtime.json").read_text())[-1]["threads"] == 1
    # everything finished: nothing is submitted, nothing trained
    assert _slurm_run(cluster, tmp_path / "r2") == 0
    err = capsys.readouterr().err
    assert "submitted" not in err and "0 trained now" in err, err


def test_a_cancelled_task_is_resubmitted_and_resumes_from_its_checkpoint(slurm, tmp_path):
    """A slow run (its steps sleep) is cancelled once its first checkpoint is on disk; the
    same command resubmits it and the run resumes at that step, ending like a run trained
    straight through."""
    out = tmp_path / "runs"
    env = {**slurm, "SLOW_LOG": str(tmp_path / "slow.log"), "SLOW_SECONDS": "0.3",
           "PYTHONPATH": str(Path(__file__).parent)}  # fmt: skip
    cmd = [sys.executable, "-m", "collapsebench.benchmark.cli.entry", "run", *ARGS[:4]]
    cmd += ["--methods", "slow_method:SlowGAN", "--seeds", "0", "--out", str(out)]
    cmd += ["--results", str(tmp_path / "results")]  # never the repository's results/
    cmd += ["--no-progress", "--executor", "slurm", "--slurm-partition", "bench"]
    cmd += ["--slurm-time", "5", "--no-wait"]
    subprocess.run(cmd, env=env, check=True, capture_output=True, timeout=120)
    (spec,) = plan("gaussians25", ["slow_method:SlowGAN"], [0], "smoke")
    run = RunStore(out).run_dir(spec)
    _wait_for(lambda: (run.path / "checkpoint.pt").exists(), "no checkpoint", timeout=120)
    jobs = subprocess.run(["squeue", "-h", "-o", "%i"], env=env, capture_output=True, text=True)
    ids = jobs.stdout.split()
    assert ids, "the task ended before it could be cancelled"
    subprocess.run(["scancel", *ids], env=env, check=True)
    _wait_for(
        lambda: not subprocess.run(
            ["squeue", "-h"], env=env, capture_output=True, text=True
        ).stdout.strip(),
        "the cancelled task still queued",
    )  # fmt: skip
    assert not run.finished
    resumed_from = run.load_checkpoint()["step"]
    assert resumed_from > 0
    cmd.remove("--no-wait")
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    starts = [r["start_step"] for r in json.loads((run.path / "runtime.json").read_text())]
    assert starts[0] == 0 and starts[-1] == resumed_from, starts
    assert run.finished


def test_a_preempted_task_requeues_itself_and_resumes(slurm, tmp_path):
    """Slurm's warning signal (USR2, as before a time limit or a preemption) makes submitit
    checkpoint and requeue the task; the requeued task resumes the run from its checkpoint and
    the waiting `bench run` ends normally."""
    out = tmp_path / "runs"
    env = {**slurm, "SLOW_LOG": str(tmp_path / "slow.log"), "SLOW_SECONDS": "0.3",
           "PYTHONPATH": str(Path(__file__).parent)}  # fmt: skip
    cmd = [sys.executable, "-m", "collapsebench.benchmark.cli.entry", "run", *ARGS[:4]]
    cmd += ["--methods", "slow_method:SlowGAN", "--seeds", "0", "--out", str(out)]
    cmd += ["--results", str(tmp_path / "results")]  # never the repository's results/
    cmd += ["--no-progress", "--executor", "slurm", "--slurm-partition", "bench"]
    cmd += ["--slurm-time", "5"]
    waiting = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    (spec,) = plan("gaussians25", ["slow_method:SlowGAN"], [0], "smoke")
    run = RunStore(out).run_dir(spec)
    _wait_for(lambda: (run.path / "checkpoint.pt").exists(), "no checkpoint", timeout=120)
    ids = subprocess.run(["squeue", "-h", "-o", "%i"], env=env, capture_output=True, text=True)
    assert ids.stdout.split(), "the task ended before the signal"
    subprocess.run(["scancel", "--signal=USR2", *ids.stdout.split()], env=env, check=True)

    def requeued():
        q = subprocess.run(["squeue", "-h", "-o", "%i %T"], env=env, capture_output=True, text=True)
        return [ln.split()[0] for ln in q.stdout.splitlines() if ln.endswith("PENDING")]

    # Slurm holds a requeued job before it may start again (minutes); start it now instead
    for job_id in _wait_for(requeued, "the task was not requeued", timeout=120):
        subprocess.run(["scontrol", "update", f"JobId={job_id}", "StartTime=now"], env=env)
    _, err = waiting.communicate(timeout=300)
    assert waiting.returncode == 0, err.decode()
    starts = [r["start_step"] for r in json.loads((run.path / "runtime.json").read_text())]
    print(f"preempted task: runtime.json start steps {starts}")
    assert len(starts) == 2 and starts[0] == 0 and starts[1] > 0, starts
    assert run.finished
