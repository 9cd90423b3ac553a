"""`--executor slurm`: the planned jobs as one Slurm job array, through submitit.

One array task is one job of the planner (a run, or a stacked group), trained by the same
``execute_job`` as a local worker, on the run store's shared file system. The store's
guarantees hold because they live in the store, not in the executor:

* per-run locks (``RunDir.lock``) keep two tasks off one run, so no run is trained twice; a
  second submission skips finished runs before submitting anything;
* a preempted or timed-out task is requeued by submitit (``Checkpointable``: Slurm's warning
  signal makes it resubmit the same call) and resumes from the run's last checkpoint;
* a failed task is one line with its Slurm job id and log file.

submitit (facebookresearch) writes the sbatch script, the pickled call and the logs under one
folder, and reads the result back: it does what this module would otherwise do by hand.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from ..errors import BenchError
from ..store.runstore import RunStore
from ..store.spec import RunSpec
from ..training.runtime import Runtime
from .jobs import execute_job

#: where submitit keeps each submission's scripts, pickles and logs (inside the run store)
LOG_DIR = ".slurm"


@dataclass(frozen=True)
class SlurmOptions:
    """What the array asks Slurm for (flags, or a JSON file with these keys)."""

    partition: str | None = None
    #: time limit per task, minutes
    time: int = 60
    cpus_per_task: int = 1
    gpus_per_task: int = 0
    #: how many array tasks may run at once
    array_parallelism: int = 64
    #: any other sbatch option, e.g. {"qos": "high", "account": "lab"}
    sbatch: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("time", "cpus_per_task", "array_parallelism"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise BenchError(f"slurm option {name} must be a positive integer; got {v!r}")
        g = self.gpus_per_task
        if isinstance(g, bool) or not isinstance(g, int) or g < 0:
            raise BenchError(f"slurm option gpus_per_task must be an integer >= 0; got {g!r}")
        if self.partition is not None and not isinstance(self.partition, str):
            raise BenchError(f"slurm option partition must be a string; got {self.partition!r}")
        bad = {
            k: v for k, v in self.sbatch.items() if not (isinstance(k, str) and isinstance(v, str))
        }
        if bad or not isinstance(self.sbatch, Mapping):
            raise BenchError(f"slurm option sbatch must map option names to strings; got {bad}")


def load_options(path: str | None, overrides: Mapping[str, Any]) -> SlurmOptions:
    """The options of a JSON config file (if given), then the flags given over them."""
    known = {f.name for f in fields(SlurmOptions)}
    data: dict[str, Any] = {}
    if path is not None:
        try:
            data = json.loads(Path(path).read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise BenchError(f"--slurm-config {path}: not a readable JSON object ({exc})") from None
        if not isinstance(data, dict):
            raise BenchError(f"--slurm-config {path}: must be a JSON object of {sorted(known)}")
        unknown = sorted(set(data) - known)
        if unknown:
            raise BenchError(
                f"--slurm-config {path}: unknown keys {unknown}; valid: {sorted(known)}"
            )
    opts = SlurmOptions(**data)
    given = {k: v for k, v in overrides.items() if v is not None}
    if "sbatch" in given:
        given["sbatch"] = {**opts.sbatch, **given["sbatch"]}
    return replace(opts, **given)


def import_submitit():
    try:
        import submitit
    except ImportError:
        raise BenchError("--executor slurm needs submitit: pip install -e '.[slurm]'") from None
    return submitit


def _task_class(submitit):
    class Task(submitit.helpers.Checkpointable):
        """One array task. On Slurm's timeout or preemption signal submitit calls
        ``checkpoint``, which resubmits this same call; the run resumes from its checkpoint."""

        def __call__(self, job, root, threads, data_root, runtime):
            return execute_job(job, root, threads, None, data_root, runtime)

    return Task


def submit(
    store: RunStore,
    jobs: Sequence[Sequence[RunSpec]],
    opts: SlurmOptions,
    data_root: str | None,
    runtime: Runtime | None,
):
    """Submit ``jobs`` as one array; returns the submitit jobs, one per planner job."""
    submitit = import_submitit()
    folder = Path(store.root) / LOG_DIR / "%j"
    executor = submitit.AutoExecutor(folder=folder, cluster="slurm")
    params: dict[str, Any] = {
        "timeout_min": opts.time,
        "cpus_per_task": opts.cpus_per_task,
        "slurm_array_parallelism": opts.array_parallelism,
        "name": "bench",
    }
    if opts.partition:
        params["slurm_partition"] = opts.partition
    if opts.gpus_per_task:
        params["slurm_gpus_per_task"] = opts.gpus_per_task
    if opts.sbatch:
        params["slurm_additional_parameters"] = dict(opts.sbatch)
    executor.update_parameters(**params)
    task = _task_class(submitit)()
    n = len(jobs)
    try:
        return executor.map_array(
            task,
            [list(j) for j in jobs],
            [str(store.root)] * n,
            [opts.cpus_per_task] * n,
            [data_root] * n,
            [runtime] * n,
        )
    except (submitit.core.utils.FailedJobError, OSError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise BenchError(f"sbatch refused the array: {first}") from None


def _finished(sjob, ask_slurm: bool) -> bool:
    """A task is finished when its result file exists (submitit writes it, a value or the
    error, as the task ends); asking Slurm (``done``: sacct, or squeue) covers tasks killed
    before they could write one."""
    if sjob.paths.result_pickle.exists():
        return True
    return ask_slurm and sjob.done(force_check=True)


def wait(submitted, jobs, bars, poll: float = 1.0, ask_every: int = 30) -> dict[str, dict]:
    """Wait for every task; ``bars`` advances by whole runs as tasks finish. A failed task is
    one line naming its Slurm job id and its log file."""
    results: dict[str, dict] = {}
    pending = dict(zip(submitted, jobs, strict=True))
    rounds = 0
    while pending:
        rounds += 1
        ask = rounds % ask_every == 0
        for sjob in [j for j in pending if _finished(j, ask)]:
            job = pending.pop(sjob)
            try:
                out = sjob.result()
            except Exception as exc:  # submitit re-raises the task's failure here
                log = sjob.paths.stderr
                text = str(exc).strip().splitlines()
                last = next((ln for ln in reversed(text) if ln.strip()), type(exc).__name__)
                raise BenchError(
                    f"Slurm task {sjob.job_id} ({', '.join(s.label for s in job)}) failed: "
                    f"{last.strip()}; log: {log}"
                ) from None
            results.update(out)
            for spec in job:
                bars.update(spec.label, spec.train.steps, spec.train.steps)
        if pending:
            time.sleep(poll)
    return results
