"""Finished runs that lack a metric the suite now reports get it from their stored samples.

A metric added to a suite (e.g. the diversity metrics) would otherwise leave every run finished
before it with an empty cell, or force retraining. The samples a run stored are exactly what its
final evaluation saw, so evaluating them again adds the new numbers; the metrics it already has
are kept as they are (``RunDir.add_metrics`` refuses to replace one).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from ..errors import BenchError
from ..store.runstore import RunStore
from ..store.spec import RunSpec
from ..suites import suite_of


def _note(msg: str) -> None:
    print(f"bench: {msg}", file=sys.stderr)


def missing_metrics(store: RunStore, spec: RunSpec) -> list[str]:
    run = store.run_dir(spec)
    if not run.finished:
        return []
    have = run.read_metrics()
    if have.get("diverged"):
        return []  # its samples are not finite; its metrics are NaN by definition
    return [m for m in suite_of(spec.config()).evaluated_metrics if m not in have]


def complete_evaluations(
    store: RunStore, specs: Sequence[RunSpec], data_root=None, device: str = "cpu"
) -> int:
    """Evaluate the stored samples of finished runs that lack metrics; returns how many."""
    todo = [s for s in specs if missing_metrics(store, s)]
    for spec in todo:
        run = store.run_dir(spec)
        if not (run.path / "samples.npy").is_file():
            raise BenchError(
                f"run {run.path} lacks {', '.join(missing_metrics(store, spec))} and has no "
                "samples.npy to evaluate them from (a record exported with --no-samples); give "
                "the store that trained it"
            )
        with run.lock(_note):
            missing = missing_metrics(store, spec)  # another process may have added them
            if not missing:
                continue
            have = run.read_metrics()
            suite = suite_of(spec.config())
            new = suite.evaluate(run.read_samples(), spec.cls, data_root, device=device)
            run.add_metrics({k: v for k, v in new.items() if k not in have})
            _note(f"{spec.label}: evaluated {', '.join(missing)} from its stored samples")
    return len(todo)
