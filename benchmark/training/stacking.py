"""Which runs may train together as one stacked model (``bench run --batch-models K``).

A stack is K runs of one configuration that differ only in seed or class, of a method that
keeps to the losses (``baselines.base.why_not_stackable``: no loop hook overridden, no declared
reason). Methods that cannot stack train one run at a time; the runner says which and why.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from ...baselines.base import why_not_stackable
from ..errors import BenchError
from ..store.rundir import RunDir
from ..store.spec import RunSpec
from .methods import build_method
from .runtime import Runtime


def unstackable(spec: RunSpec) -> str | None:
    """Why ``spec`` cannot be trained stacked (one line), or None if it can."""
    method = build_method(spec.method, spec.method_params, spec.train.steps)
    reason = why_not_stackable(method)
    if not reason and method.net_config():
        reason = "it changes the suite's nets (net_config)"
    return f"method {spec.method!r} cannot train stacked: {reason}" if reason else None


def check_specs(specs: Sequence[RunSpec]) -> None:
    """One-line BenchError unless ``specs`` are K >= 1 distinct runs of one configuration (they
    may differ in seed and class only) of a method that stacks (K > 1)."""
    if not specs:
        raise BenchError("training needs at least one run spec")
    if len(specs) == 1:
        return
    first = specs[0]
    reason = unstackable(first)
    if reason:
        raise BenchError(reason)
    for s in specs[1:]:
        if dataclasses.replace(s, seed=first.seed, cls=first.cls) != first:
            raise BenchError(
                f"stacked runs must differ only in the seed or class; {s.label} differs from "
                f"{first.label}"
            )
    keys = [(s.seed, s.cls) for s in specs]
    if len(set(keys)) != len(keys):
        raise BenchError(f"stacked runs must be distinct runs; got {[s.label for s in specs]}")


def stacked_runtime(rt: Runtime) -> Runtime:
    """What a stacked job actually uses: ``rt`` without bf16 autocast and channels_last.
    Autocast does not reach inside ``torch.func.vmap`` (functorch's batching rules run above
    the autocast dispatch key: a vmapped conv under ``torch.autocast`` returns float32, checked),
    and vmap folds the model dimension into the batch, so stacked models train in the nets' own
    dtype; runtime.json records it."""
    return dataclasses.replace(rt, amp=False, channels_last=False)


def checkpoint_step(run: RunDir) -> int:
    """The step ``run`` would resume from (0: fresh); the runner stacks equal ones together."""
    state = run.load_checkpoint()
    return 0 if state is None else int(state["step"])
