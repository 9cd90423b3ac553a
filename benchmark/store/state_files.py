"""Checkpoint files that cannot run code and cannot silently lie.

A ``.pt`` file in the run store (``checkpoint.pt``, ``generators/step<k>.pt``) is written by
``torch.save`` and read back only through :func:`read_state`, which

1. verifies every member of the file's zip container against the CRC-32 that ``torch.save``
   recorded for it (``zipfile.testzip``). ``torch.load`` itself never checks these CRCs, so a
   flipped bit inside tensor data would otherwise load as a silently different run;
2. unpickles with ``torch.load(weights_only=True)``: tensors, numbers, strings and plain
   containers only. A file whose pickle names any other callable (e.g. ``os.system`` through
   ``__reduce__``) is refused before anything runs.

Both checks read the file's bytes once, so what is verified is what is loaded. What a checkpoint
holds besides tensors must therefore be plain: numpy arrays (the snapshots) are stored as
tensors under a one-key dict ``{"__ndarray__": tensor}`` and turned back into arrays on load.
"""

from __future__ import annotations

import io
import pickle
import zipfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..errors import BenchError
from .atomic import atomic_write_bytes

NDARRAY = "__ndarray__"


def encode(obj: Any) -> Any:
    """``obj`` with numpy arrays and scalars replaced by forms ``weights_only`` accepts."""
    if isinstance(obj, np.ndarray):
        if obj.dtype == object:
            raise TypeError("object arrays cannot be stored in a checkpoint")
        return {NDARRAY: torch.from_numpy(np.ascontiguousarray(obj)).clone()}
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, dict):
        return {k: encode(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return type(obj)(encode(v) for v in obj)
    return obj


def decode(obj: Any) -> Any:
    """The inverse of :func:`encode`."""
    if isinstance(obj, dict):
        if len(obj) == 1 and NDARRAY in obj and isinstance(obj[NDARRAY], torch.Tensor):
            return obj[NDARRAY].numpy()
        return {k: decode(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return type(obj)(decode(v) for v in obj)
    return obj


def write_state(path: str | Path, state: dict[str, Any]) -> Path:
    """Atomically write ``state`` (tensors, numpy arrays, plain values) to ``path``."""
    # serialised in memory first: torch's zip writer turns a full disk into an opaque
    # RuntimeError, a plain file write gives OSError(ENOSPC) naming the file
    buf = io.BytesIO()
    torch.save(encode(state), buf)
    return atomic_write_bytes(path, buf.getvalue())


def read_state(path: str | Path, required: Iterable[str] = (), restart: str = "") -> dict:
    """Verify and load a file written by :func:`write_state`; a damaged, foreign or incomplete
    file is one :class:`BenchError` line naming it and saying what to do (``restart``)."""
    path = Path(path)
    todo = restart or "delete it and run the command again"
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise BenchError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        bad = zipfile.ZipFile(io.BytesIO(data)).testzip()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError) as exc:
        raise BenchError(f"{path} is damaged (not a readable checkpoint: {exc}); {todo}") from None
    if bad is not None:
        raise BenchError(f"{path} is damaged (checksum mismatch in {bad}); {todo}")
    try:
        state = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        raise BenchError(
            f"{path} holds Python objects other than tensors and plain values; it was refused "
            f"and nothing in it ran; {todo}"
        ) from None
    except Exception as exc:  # torch raises many types for a damaged record
        raise BenchError(
            f"{path} is damaged ({exc.__class__.__name__} while loading); {todo}"
        ) from None
    if not isinstance(state, dict):
        raise BenchError(f"{path} does not hold a state dictionary; {todo}")
    missing = [k for k in required if k not in state]
    if missing:
        raise BenchError(f"{path} lacks {', '.join(missing)}; {todo}")
    return decode(state)
