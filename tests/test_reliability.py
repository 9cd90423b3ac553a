"""The run store's guarantees under attack and faults, with real files and real processes:
checkpoints that cannot run code or load damaged, configs that must match their keys, one
writer per run, children that die with their parent, Ctrl-C, temporary leftovers and a full
disk. (Stacked commits: test_stacked_checkpoints.py; bad inputs: test_bad_inputs.py.)"""

from __future__ import annotations

import io
import json
import os
import pickle
import signal
import struct
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from collapsebench.benchmark.errors import BenchError
from collapsebench.benchmark.runs.planning import plan
from collapsebench.benchmark.store.runstore import RunStore
from collapsebench.benchmark.training.loop import train_run

TESTS = Path(__file__).parent
SLOW = "slow_method:SlowGAN"


def bench(*argv: str, cwd=TESTS, env=None, **kw) -> subprocess.Popen:
    """``bench`` as a user runs it: a fresh process (cwd tests/, so the slow plugin imports)."""
    cmd = [sys.executable, "-m", "collapsebench.benchmark.cli.entry", *argv]
    full_env = {**os.environ, "OMP_NUM_THREADS": "1", **(env or {})}
    return subprocess.Popen(
        cmd,
        cwd=cwd,
        env=full_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_as_from_a_terminal,
        **kw,
    )


def _as_from_a_terminal() -> None:
    """SIGINT at its default, as in a shell at a terminal: a test runner started in the
    background inherits it ignored, and then no Ctrl-C could be tested."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def run_argv(out: Path, method: str = "gan", seeds=("0",), *extra: str) -> list[str]:
    return [
        "run", "--suite", "gaussians25", "--preset", "smoke", "--methods", method,
        "--seeds", *seeds, "--out", str(out), "--results", str(out.parent / "results"),
        "--no-progress", *extra,
    ]  # fmt: skip


def one_line(err: str) -> str:
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def smoke_spec(method="gan", seed=0):
    (spec,) = plan("gaussians25", [method], [seed], "smoke")
    return spec


def partial_run(root: Path, method="gan", step: int = 10):
    """A run stopped at its checkpoint of ``step`` (10 or 20 of 30), as a crash would leave it."""
    spec = smoke_spec(method)
    run = RunStore(root).run_dir(spec)
    run.write_config(spec)
    stop_at_first_checkpoint(spec, run, step)
    return spec, run


class _Crash(Exception):
    pass


def stop_at_first_checkpoint(spec, run, step: int = 10) -> None:
    """Train ``run`` until its checkpoint of ``step`` is written, then stop as a crash would."""

    def crash(done: int) -> None:
        if done == step:
            raise _Crash

    try:
        train_run(spec, run, crash)
    except _Crash:
        return
    raise AssertionError(f"the run finished before step {step}")


# -- 1. no code runs from a stored file ------------------------------------------------------
class Hostile:
    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.mark.parametrize("form", ["plain pickle", "torch.save zip"])
def test_hostile_checkpoint_runs_nothing(tmp_path, form):
    spec, run = partial_run(tmp_path / "runs")
    marker = tmp_path / "pwned"
    ckpt = run.path / "checkpoint.pt"
    if form == "plain pickle":
        ckpt.write_bytes(pickle.dumps({"step": 10, "G": Hostile(marker)}))
    else:
        torch.save({"step": 10, "G": Hostile(marker)}, ckpt)
    before = ckpt.read_bytes()
    proc = bench(*run_argv(tmp_path / "runs"))
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 2
    line = one_line(err)
    assert "checkpoint.pt" in line
    assert not marker.exists()  # nothing executed
    assert ckpt.read_bytes() == before and not run.finished
    # and the same file through the planner of a stacked job (it reads checkpoints too)
    proc = bench(*run_argv(tmp_path / "runs", "gan", ("0", "1"), "--batch-models", "2"))
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 2 and "checkpoint.pt" in one_line(err) and not marker.exists()


# -- 2. no silently wrong result -------------------------------------------------------------
def _same(a, b) -> bool:
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, torch.Tensor):
        return (  # bytes, so NaN scores compare equal to themselves
            isinstance(b, torch.Tensor)
            and a.dtype == b.dtype
            and a.shape == b.shape
            and a.numpy().tobytes() == b.numpy().tobytes()
        )
    if isinstance(a, np.ndarray):
        return isinstance(b, np.ndarray) and a.dtype == b.dtype and np.array_equal(a, b, True)
    if isinstance(a, float) and np.isnan(a):
        return isinstance(b, float) and np.isnan(b)
    return type(a) is type(b) and a == b


def test_every_bit_flip_in_a_checkpoint_is_caught_or_harmless(tmp_path):
    """Flip one bit at 400 positions spread over a real checkpoint: each load either ends in
    one line naming the file or returns exactly the original state (flips in zip padding)."""
    # dyngan: method state too; step 20: after the step-15 snapshot
    _, run = partial_run(tmp_path / "runs", "dyngan", step=20)
    ckpt = run.path / "checkpoint.pt"
    good = ckpt.read_bytes()
    original = run.load_checkpoint()
    assert isinstance(original["snapshots"]["samples_15"], np.ndarray)  # arrays round-trip
    caught = harmless = 0
    for pos in np.linspace(0, len(good) - 1, 400).astype(int):
        bad = bytearray(good)
        bad[pos] ^= 1 << (pos % 8)
        ckpt.write_bytes(bytes(bad))
        try:
            state = run.load_checkpoint()
        except BenchError as exc:
            assert "checkpoint.pt" in str(exc) and "\n" not in str(exc)
            caught += 1
            continue
        assert _same(original, state), f"flip at byte {pos} loaded a different state"
        harmless += 1
    assert caught > 300  # most bytes are data or structure


def test_flip_inside_tensor_data_stops_the_run(tmp_path):
    spec, run = partial_run(tmp_path / "runs")
    ckpt = run.path / "checkpoint.pt"
    with zipfile.ZipFile(ckpt) as z:
        info = next(i for i in z.infolist() if "/data/" in i.filename and i.file_size > 64)
    raw = bytearray(ckpt.read_bytes())
    # the member's bytes follow its 30-byte local header, its name and its extra field
    name_len, extra_len = struct.unpack(
        "<HH", raw[info.header_offset + 26 : info.header_offset + 30]
    )
    data_start = info.header_offset + 30 + name_len + extra_len
    raw[data_start + 10] ^= 0x10
    ckpt.write_bytes(bytes(raw))
    with pytest.raises(BenchError, match=r"checkpoint.pt is damaged \(checksum mismatch"):
        train_run(spec, run)
    assert not run.finished


def test_edited_config_of_a_finished_run_is_refused_by_table(tmp_path, capsys):
    from collapsebench.benchmark.cli.main import main

    out = tmp_path / "runs"
    assert main(run_argv(out, "gan", ("0", "1"))) == 0
    capsys.readouterr()
    run = RunStore(out).run_dir(smoke_spec("gan", 1))
    cfg = (run.path / "config.json").read_text()
    table = ["table", "--suite", "gaussians25", "--preset", "smoke", "--methods", "gan"]
    table += ["--out", str(out), "--results", str(tmp_path / "results"), "--no-plots"]
    as_dict = json.loads(cfg)
    as_dict["method_params"]["lr"] = 0.5
    for edited in (cfg.replace('"seed": 1', '"seed": 5'), json.dumps(as_dict)):
        assert edited != cfg
        (run.path / "config.json").write_text(edited)
        assert main(table) == 2
        err = capsys.readouterr().err
        assert str(run.path) in one_line(err) and "does not match its config.json" in err
    (run.path / "config.json").write_text(cfg)
    assert main(table) == 0


# -- 3. one writer per run -------------------------------------------------------------------
def _wait_for(pred, timeout=120.0, proc=None, interval=0.05):
    deadline = time.time() + timeout
    while not pred():
        if proc is not None and proc.poll() is not None:
            pytest.fail(f"process ended early: {proc.communicate()}")
        assert time.time() < deadline, "timed out"
        time.sleep(interval)


def test_two_processes_never_train_the_same_run(tmp_path):
    out, log, gate = tmp_path / "runs", tmp_path / "starts.txt", tmp_path / "gate"
    env = {"SLOW_LOG": str(log), "SLOW_SECONDS": "0.01", "SLOW_GATE": str(gate)}
    first = bench(*run_argv(out, SLOW), env=env)  # holds the run's lock, paused at step 0
    _wait_for(lambda: log.exists(), proc=first)
    err_file = tmp_path / "second.err"
    with open(err_file, "w") as err_out:
        second = subprocess.Popen(
            [sys.executable, "-m", "collapsebench.benchmark.cli.entry", *run_argv(out, SLOW)],
            cwd=TESTS,
            env={**os.environ, "OMP_NUM_THREADS": "1", **env},
            stdout=subprocess.DEVNULL,
            stderr=err_out,
        )
        _wait_for(lambda: "waiting for it" in err_file.read_text(), proc=second)
        gate.write_text("go")  # the first trains to the end; the second then finds it finished
        second.wait(timeout=300)
    err2 = err_file.read_text()
    _, err1 = first.communicate(timeout=300)
    assert first.returncode == 0 and second.returncode == 0, (err1, err2)
    assert "being trained by another process" in err2 and "not trained again" in err2
    starts = log.read_text().split()
    assert len(starts) == 2 and starts[1] == "0"  # one process, one start, from step 0
    (run_dir,) = (out / "gaussians25").glob("*/seed0-*")
    assert len(json.loads((run_dir / "runtime.json").read_text())) == 1


def test_lock_of_a_killed_process_does_not_block(tmp_path):
    out, log = tmp_path / "runs", tmp_path / "starts.txt"
    env = {"SLOW_LOG": str(log), "SLOW_SECONDS": "0.08"}
    first = bench(*run_argv(out, SLOW), env=env)

    def checkpointed():
        found = list((out / "gaussians25").glob("*/seed0-*/checkpoint.pt"))
        return bool(found)

    _wait_for(checkpointed, proc=first)
    first.kill()
    first.wait()
    t0 = time.time()
    second = bench(*run_argv(out, SLOW), env=env)
    _, err = second.communicate(timeout=300)
    assert second.returncode == 0, err
    assert "another process" not in err  # the dead holder's lock was released by the OS
    steps = [int(s) for s in log.read_text().split()[1::2]]
    assert steps[0] == 0 and steps[1] >= 10  # the second resumed from the checkpoint
    assert time.time() - t0 < 120


def _children(pid: int) -> list[int]:
    out = subprocess.run(["ps", "-e", "-o", "pid=,ppid="], capture_output=True, text=True).stdout
    kids = {}
    for line in out.splitlines():
        p, pp = map(int, line.split())
        kids.setdefault(pp, []).append(p)
    found, todo = [], [pid]
    while todo:
        for k in kids.get(todo.pop(), []):
            found.append(k)
            todo.append(k)
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _maps(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/maps").read_text()
    except OSError:
        return ""


def _tree_state(root: Path) -> dict[str, bytes]:
    return {str(p): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_kill_9_of_the_parent_leaves_no_worker_running(tmp_path):
    out, log = tmp_path / "runs", tmp_path / "starts.txt"
    env = {"SLOW_LOG": str(log), "SLOW_SECONDS": "0.1"}
    parent = bench(*run_argv(out, SLOW, ("0", "1"), "--workers", "2"), env=env)
    _wait_for(lambda: log.exists() and len(log.read_text().split()) >= 4, proc=parent)
    kids = _children(parent.pid)
    assert len(kids) >= 3  # two pool workers and the progress manager (and helpers)
    parent.kill()
    parent.wait()
    _wait_for(lambda: not any(_alive(k) for k in kids), timeout=10)
    frozen = _tree_state(out)
    time.sleep(1.0)
    assert _tree_state(out) == frozen  # nobody writes any more


@pytest.mark.parametrize("moment", ["importing", "workers starting", "training"])
def test_ctrl_c_with_workers_is_one_line(tmp_path, moment):
    out, log = tmp_path / "runs", tmp_path / "starts.txt"
    # a gate never opened: the workers hold at their first step, so however slowly this test
    # reaches its moment on a loaded machine, no run can finish before the Ctrl-C
    env = {"SLOW_LOG": str(log), "SLOW_SECONDS": "0.1", "SLOW_GATE": str(tmp_path / "closed")}
    proc = bench(
        *run_argv(out, SLOW, ("0", "1"), "--workers", "2"), env=env, start_new_session=True
    )
    if moment == "importing":
        # torch's library is mapped early in its import, which takes seconds more: the CLI is
        # importing now (a fixed sleep could land in interpreter start-up on a loaded machine)
        _wait_for(lambda: "libtorch" in _maps(proc.pid), proc=proc, interval=0.01)
    elif moment == "workers starting":
        _wait_for(lambda: len(_children(proc.pid)) >= 3, proc=proc)
        time.sleep(0.5)  # the spawned workers are importing torch now
    else:
        _wait_for(lambda: log.exists() and len(log.read_text().split()) >= 4, proc=proc)
    kids = _children(proc.pid)
    os.killpg(proc.pid, signal.SIGINT)  # what a terminal's Ctrl-C does: the whole group
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert "interrupted" in one_line(err)
    _wait_for(lambda: not any(_alive(k) for k in kids), timeout=10)


# -- leftovers and a full disk ---------------------------------------------------------------
def test_leftover_temporary_files_are_removed_by_the_next_run(tmp_path, capsys):
    from collapsebench.benchmark.cli.main import main

    spec, run = partial_run(tmp_path / "runs")
    junk = [run.path / ".curves.csv.abc123.tmp", run.path / ".checkpoint.pt.x1y2.tmp"]
    for j in junk:
        j.write_bytes(b"half written")
    assert main(run_argv(tmp_path / "runs")) == 0
    assert run.finished and not any(j.exists() for j in junk)


@pytest.fixture
def tiny_disk(tmp_path):
    mount = tmp_path / "disk"
    mount.mkdir()
    made = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=96k", "tmpfs", str(mount)], capture_output=True
    )
    if made.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {made.stderr.decode().strip()}")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


def test_full_disk_is_one_line_and_leaves_the_store_consistent(tiny_disk, capsys):
    from collapsebench.benchmark.cli.main import main

    out = tiny_disk / "runs"
    rc = main(run_argv(out, "gan", ("0",)))
    err = capsys.readouterr().err
    assert rc == 2
    line = one_line(err)
    assert "No space left on device" in line and str(out) in line
    (run_dir,) = (out / "gaussians25" / "gan").glob("seed0-*")
    assert not list(run_dir.rglob(".*.tmp"))  # no half-written file left
    assert not (run_dir / "metrics.json").exists()
    for f in run_dir.glob("*.json"):
        json.loads(f.read_text())  # every file there is whole
    if (run_dir / "checkpoint.pt").exists():
        RunStore(out).run_dir(smoke_spec()).load_checkpoint()


@pytest.fixture
def read_only_dir(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    made = subprocess.run(["mount", "--bind", "-o", "ro", str(ro), str(ro)], capture_output=True)
    if made.returncode != 0:
        pytest.skip(f"cannot bind-mount read-only here (needs root): {made.stderr.decode()}")
    subprocess.run(["mount", "-o", "remount,bind,ro", str(ro)], check=False)
    yield ro
    subprocess.run(["umount", "-l", str(ro)], check=False)


def test_read_only_results_are_refused_before_training(read_only_dir, tmp_path, capsys):
    from collapsebench.benchmark.cli.main import main

    out = tmp_path / "runs"
    argv = run_argv(out, "gan", ("0",))
    argv[argv.index("--results") + 1] = str(read_only_dir / "results")
    assert main(argv) == 2
    assert "not writable" in one_line(capsys.readouterr().err)
    assert not out.exists()  # nothing trained, nothing written


def test_checkpoint_round_trip_is_exact_and_plain(tmp_path):
    """What write_state stores loads back equal, with numpy arrays as arrays, through a file
    that ``torch.load(weights_only=True)`` accepts as it is."""
    from collapsebench.benchmark.store.state_files import read_state, write_state

    state = {
        "step": 3,
        "t": torch.arange(5.0),
        "snap": {"a": np.arange(6, dtype=np.uint8).reshape(2, 3), "f": np.float32(1.5)},
        "rows": [{"k": 1, "v": 0.25}],
        "betas": (0.5, 0.9),
    }
    path = write_state(tmp_path / "s.pt", state)
    torch.load(io.BytesIO(path.read_bytes()), weights_only=True)  # no unsafe global needed
    back = read_state(path)
    assert back["snap"]["a"].dtype == np.uint8 and np.array_equal(
        back["snap"]["a"], state["snap"]["a"]
    )
    assert (
        back["snap"]["f"] == 1.5 and back["rows"] == state["rows"] and back["betas"] == (0.5, 0.9)
    )
    assert torch.equal(back["t"], state["t"])


def test_torch_fidelity_cache_files_are_checked_before_it_loads_them(tmp_path):
    """torch-fidelity reloads cached reference statistics with weights_only=False; the harness
    loads each one safely first: arrays pass, a crafted pickle is refused and runs nothing."""
    from collapsebench.metrics.fidelity import check_cache_files

    name = "digits.32px.all-train-digits-cnn-x-n10"
    torch.save({"mu": np.zeros(3, np.float32), "sigma": np.eye(3)}, tmp_path / f"{name}-stat.pt")
    torch.save(torch.zeros(10, 4), tmp_path / f"{name}-features.pt")
    check_cache_files(tmp_path, name)  # real cache contents load
    marker = tmp_path / "pwned"
    torch.save({"mu": Hostile(marker)}, tmp_path / f"{name}-stat2.pt")
    with pytest.raises(ValueError, match="stat2.pt is damaged or holds more than arrays"):
        check_cache_files(tmp_path, name)
    assert not marker.exists()
