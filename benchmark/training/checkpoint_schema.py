"""What a checkpoint must hold to resume a run, checked before anything is loaded.

A checkpoint whose CRCs are valid can still not fit: G's tensors stored as int64 load silently
into float parameters (and the run finishes with other numbers), an optimiser state of the wrong
shape fails only at the first step (after the run's runtime.json was appended), and curves
stored as text end in a junk curves.csv. So every tensor is checked against the run's own nets
and optimisers (name, shape, dtype), and the records against their types. ``resume_states``
also checks that a checkpoint names its own run and that a stack's runs resume from one step.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch

from ..errors import BenchError
from ..store.rundir import CHECKPOINT_KEYS, RunDir
from ..store.spec import RunSpec


def _tensor_problem(where: str, got: Any, want: torch.Tensor) -> str | None:
    if not isinstance(got, torch.Tensor):
        return f"{where} is {type(got).__name__}, not a tensor"
    if got.shape != want.shape or got.dtype != want.dtype:
        return (
            f"{where} is {got.dtype} {tuple(got.shape)} where the run's is "
            f"{want.dtype} {tuple(want.shape)}"
        )
    return None


def _net_problem(name: str, got: Any, want: Mapping[str, torch.Tensor]) -> str | None:
    if not isinstance(got, Mapping) or set(got) != set(want):
        return f"{name} does not hold the run's tensors"
    for key, value in want.items():
        problem = _tensor_problem(f"{name}[{key!r}]", got[key], value)
        if problem:
            return problem
    return None


def _optimizer_problem(name: str, got: Any, shapes: Sequence[torch.Size]) -> str | None:
    if not isinstance(got, Mapping) or not isinstance(got.get("state"), Mapping):
        return f"{name} is not an optimiser state"
    if not isinstance(got.get("param_groups"), list):
        return f"{name} has no parameter groups"
    for idx, entry in got["state"].items():
        if not isinstance(idx, int) or not 0 <= idx < len(shapes) or not isinstance(entry, Mapping):
            return f"{name} holds state for parameter {idx!r}, which the run does not have"
        for key, value in entry.items():
            if not isinstance(value, torch.Tensor):
                return f"{name}[{idx}][{key!r}] is {type(value).__name__}, not a tensor"
            if value.dim() > 0 and (value.shape != shapes[idx] or not value.is_floating_point()):
                return (
                    f"{name}[{idx}][{key!r}] is {value.dtype} {tuple(value.shape)} for a "
                    f"parameter of shape {tuple(shapes[idx])}"
                )
    return None


#: the records a checkpoint carries, and the type each must have
RECORDS = {"curves": list, "snapshots": dict, "evals": list, "method": dict}


def checkpoint_problem(state: Mapping[str, Any], models, k: int) -> str | None:
    """What in ``state`` does not fit model ``k`` of ``models`` (its fresh nets and optimisers,
    before loading), or None."""
    for name, want in (("G", models.g_state(k)), ("D", models.d_state(k))):
        problem = _net_problem(name, state["G" if name == "G" else "D"], want)
        if problem:
            return problem
    for name, which in (("opt_g", "G"), ("opt_d", "D")):
        problem = _optimizer_problem(name, state[name], models.param_shapes(which))
        if problem:
            return problem
    for name, kind in RECORDS.items():
        if name in state and not isinstance(state[name], kind):
            return f"{name} is {type(state[name]).__name__}, not a {kind.__name__}"
    for name in ("curves", "evals"):
        if not all(isinstance(row, dict) for row in state.get(name, [])):
            return f"{name} holds rows that are not records"
    return None


def run_identity(spec: RunSpec) -> str:
    """What a checkpoint says it belongs to: the run's label and configuration hash."""
    return f"{spec.label}@{spec.config_hash()}"


def resume_states(
    specs: Sequence[RunSpec], runs: Sequence[RunDir], max_step: int, models: Any
) -> list[dict] | None:
    """The checkpoints to resume ``runs`` from (None: train from step 0), each checked to
    belong to its run, to be at one step for all of a stack's runs, and to fit ``models`` (the
    loop's ``OneModel`` or ``StackedModels``)."""
    states = [r.load_checkpoint(recover=True) for r in runs]
    if all(s is None for s in states):
        return None
    steps = {None if s is None else s["step"] for s in states}
    if len(steps) != 1:
        raise BenchError(
            "stacked runs must resume from the same step; their checkpoints are at "
            f"{sorted(steps, key=lambda x: -1 if x is None else x)}: train them one at a time"
        )
    for spec, run, state in zip(specs, runs, states, strict=True):
        run.check_state(state, CHECKPOINT_KEYS, max_step=max_step)
        # checkpoints written before runs named themselves carry no identity and are trusted
        own, theirs = run_identity(spec), state.get("run", run_identity(spec))
        if theirs != own:
            raise BenchError(
                f"{run.path / 'checkpoint.pt'} belongs to run {theirs}, not to {own}; "
                "move it aside to train this run from the start"
            )
    for k, (run, state) in enumerate(zip(runs, states, strict=True)):
        problem = checkpoint_problem(state, models, k)
        if problem:
            raise BenchError(
                f"{run.path / 'checkpoint.pt'} does not fit this run: {problem}; delete it "
                "to train the run again from step 0"
            )
    return states
