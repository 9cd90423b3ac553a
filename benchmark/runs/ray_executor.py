"""Runs as Ray tasks (`bench run --executor ray [--address auto|HOST:PORT]`).

Each (suite, method, seed[, class]) run is one Ray task asking for its share of CPUs (and one
GPU when it trains on CUDA); with ``--batch-models K`` a task trains up to K runs of one
configuration as one stacked model (benchmark/training/). Ray is used rather than a
hand-written scheduler because it already does what a cluster needs: placement by resources,
retrying a task whose worker died, and moving results back when the workers do not share a disk.

Where results are written:

* shared filesystem (the workers see the driver's run store; checked by a probe file the driver
  writes with a random token): the task trains straight into its run directory, exactly as a
  local worker does. A worker that dies mid-run is retried by Ray (``max_retries``) and the
  retry resumes from the run's last checkpoint; runs already finished are never submitted.
* no shared filesystem: the task trains into a private directory and returns the run
  directory's files; the driver, the only writer, puts them in place with atomic writes,
  ``metrics.json`` last (so a half-copied run is never "finished"). A retry starts that run from
  its beginning, since its checkpoints lived on the dead worker.

Numbers are the local executor's: same spec, same thread count -> the same training, bit for
bit on CPU (a test on a local cluster checks it).
"""

from __future__ import annotations

import secrets
import socket
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..errors import BenchError
from ..store.atomic import atomic_write_bytes
from ..store.runstore import RunStore
from ..store.spec import RunSpec
from ..training.runtime import Runtime
from .jobs import execute_job

#: retries of a task whose worker process died (Ray's own retry; exceptions are not retried)
MAX_RETRIES = 3
PROBE_NAME = ".ray-probe"


def import_ray():
    try:
        import ray
    except ImportError:
        raise BenchError(
            "--executor ray needs Ray, which is not installed: pip install -e '.[ray]' "
            "(or pip install ray)"
        ) from None
    return ray


def check_reachable(address: str, timeout: float = 5.0) -> None:
    """Fail in seconds, not minutes, on a HOST:PORT nobody listens on (ray.init would wait for
    its GCS server for a long time before giving up)."""
    host, sep, port = address.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise BenchError(f"bad --address {address!r}: write auto or HOST:PORT (e.g. 10.0.0.5:6379)")
    try:
        socket.create_connection((host, int(port)), timeout=timeout).close()
    except OSError as exc:
        raise BenchError(
            f"cannot reach a Ray cluster at {address} ({exc.strerror or exc}); start one with "
            "`ray start --head` there, or use --address auto / --executor local"
        ) from None


def connect(ray, address: str | None) -> bool:
    """Join the cluster at ``address`` (None: start a local one). Returns whether this call
    started the connection (and so should shut it down); an existing connection is reused, but
    a bad or unreachable ``address`` is an error either way."""
    if address not in (None, "auto"):
        check_reachable(address)
    if ray.is_initialized():
        return False
    try:
        ray.init(
            address=address,
            include_dashboard=False,
            log_to_driver=False,
            configure_logging=False,
        )
    except (ConnectionError, RuntimeError, ValueError, TimeoutError) as exc:
        where = address or "a new local instance"
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise BenchError(
            f"cannot reach a Ray cluster at {where} ({first}); start one with `ray start "
            "--head` and pass --address HOST:PORT or auto, or use --executor local"
        ) from None
    return True


def _run_task(job: list[RunSpec], root: str, threads: int, data_root, token: str, runtime):
    """Body of one Ray task (runs on a worker): one run, or several trained stacked.
    Returns {label: {"metrics": ..., "files": None or the run directory's files}}."""

    probe = Path(root) / PROBE_NAME
    shared = probe.is_file() and probe.read_text() == token
    if shared:
        metrics = execute_job(job, root, threads, None, data_root, runtime)
        return {label: {"metrics": m, "files": None} for label, m in metrics.items()}
    out = {}
    with tempfile.TemporaryDirectory(prefix="collapsebench-") as tmp:
        metrics = execute_job(job, tmp, threads, None, data_root, runtime)
        for spec in job:
            run = RunStore(tmp).run_dir(spec).path
            files = {
                str(p.relative_to(run)): p.read_bytes()
                for p in sorted(run.rglob("*"))
                if p.is_file() and p.name not in ("checkpoint.pt", ".lock")
            }
            out[spec.label] = {"metrics": metrics[spec.label], "files": files}
    return out


def _place(store: RunStore, spec: RunSpec, files: dict[str, bytes]) -> None:
    """Write a returned run directory atomically, metrics.json last (it marks 'finished')."""
    run = store.run_dir(spec).path
    for rel in sorted(files, key=lambda r: r == "metrics.json"):
        atomic_write_bytes(run / rel, files[rel])


def execute_ray(
    store: RunStore,
    jobs: Sequence[Sequence[RunSpec]],
    threads: int,
    bars,
    data_root: str | None,
    address: str | None,
    runtime: Runtime | None = None,
) -> dict[str, dict[str, Any]]:
    """Run ``jobs`` (planning.plan_jobs: one run each, or several stacked) as Ray tasks; ``bars``
    (runner._Bars) advances by whole runs. A job on CUDA asks Ray for one GPU."""
    ray = import_ray()
    started = connect(ray, address)
    token = secrets.token_hex(8)
    probe = Path(store.root) / PROBE_NAME
    probe.parent.mkdir(parents=True, exist_ok=True)
    probe.write_text(token)
    gpus = 1 if runtime is not None and runtime.device.startswith("cuda") else 0
    task = ray.remote(num_cpus=threads, num_gpus=gpus, max_retries=MAX_RETRIES)(_run_task)
    results: dict[str, dict[str, Any]] = {}
    try:
        refs = {
            task.remote(list(job), str(store.root), threads, data_root, token, runtime): job
            for job in jobs
        }
        pending = list(refs)
        while pending:
            ready, pending = ray.wait(pending, num_returns=1)
            for ref in ready:
                job = refs[ref]
                try:
                    out = ray.get(ref)
                except ray.exceptions.RayTaskError as exc:
                    # the task raised: re-raise the original (a BenchError stays one line)
                    raise exc.as_instanceof_cause() from None
                except ray.exceptions.WorkerCrashedError:
                    raise BenchError(
                        f"run {', '.join(s.label for s in job)}: its worker died "
                        f"{MAX_RETRIES + 1} times; run the same command again to resume it"
                    ) from None
                for spec in job:
                    got = out[spec.label]
                    if got["files"] is not None:
                        _place(store, spec, got["files"])
                    results[spec.label] = got["metrics"]
                    bars.update(spec.label, spec.train.steps, spec.train.steps)
    finally:
        probe.unlink(missing_ok=True)
        if started:
            ray.shutdown()
    return results
