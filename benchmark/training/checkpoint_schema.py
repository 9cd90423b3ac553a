"""What a checkpoint must hold to resume a run, checked before anything is loaded.

A checkpoint whose CRCs are valid can still not fit: G's tensors stored as int64 load silently
into float parameters (and the run finishes with other numbers), an optimiser state of the wrong
shape fails only at the first step (after the run's runtime.json was appended), and curves
stored as text end in a junk curves.csv. So every tensor is checked against the run's own nets
and optimisers (name, shape, dtype), and the records against their types.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch


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
