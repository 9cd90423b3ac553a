"""One run's directory in the run store (runstore.py maps a run's spec to it): one directory per
(suite, method, seed, config hash).

Layout::

    ROOT/<suite>/<method>/seed<k>-<hash>/          (per-class suites: seed<k>-<class>-<hash>/)
        config.json      the full RunSpec (written first)
        checkpoint.pt    latest checkpoint: nets, optimisers, RNG state, curves, snapshots
        curves.csv       losses and gradient norms over training
        snapshots.npz    samples and discriminator output at a few steps (for plots)
        evals.csv        the suite's evaluation metrics at ``n_evals`` evenly spaced steps: the
                         convergence curve (runs whose preset sets n_evals)
        generators/      image suites: G's weights at each snapshot step (step<k>.pt), for the
                         independent-critic curve over training (the greed paper Fig. 4)
        samples.npy      final evaluation samples (image suites: uint8 N×C×H×W)
        partitions.csv   only for methods with a history (dyngan, scgan): the partition of the
                         real data over training (baselines/dyngan.py describes the columns)
        runtime.json     device, bf16 autocast, channels_last, determinism and threads of every
                         (re)start of the run (not part of its key)
        metrics.json     final metrics; its presence marks the run finished
        .lock            only while a process trains the run: its ``flock`` (and pid)
        checkpoint.pending.pt   only between the two phases of a stacked job's checkpoint

Guarantees (tests/test_reliability.py, tests/test_bad_inputs.py):

* Every file is written to a temporary name in the same directory and renamed into place, so a
  kill at any moment leaves either the old file or the new one, never half a file; the next
  trainer of a run removes temporary files an earlier kill left behind.
* ``.pt`` files are read through ``state_files.read_state``: CRC-checked and unpickled with
  ``weights_only=True``, so they can neither run code nor load silently damaged.
* One writer per run: training holds an exclusive ``flock`` on the run's ``.lock``; a second
  process waits for it and then finds the run finished (or resumes its checkpoint). The OS
  drops the lock when its holder dies, so a stale lock never blocks.
* A stacked job's K checkpoints are committed together (``save_checkpoints_together``): a kill
  between its writes leaves all K runs at one step, the old one or the new one.
* A finished run's ``config.json`` must produce its directory's key; a table refuses a directory
  whose config was edited, in one line.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import math
import os
import zipfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import BenchError
from .atomic import atomic_write, atomic_write_text
from .csv_shape import ragged_line
from .run_lock import run_lock
from .spec import RunSpec
from .state_files import read_state, write_state

#: what ``train_run`` needs from a checkpoint to resume
CHECKPOINT_KEYS = ("step", "G", "D", "opt_g", "opt_d", "rng", "curves", "snapshots")
CHECKPOINT = "checkpoint.pt"
PENDING = "checkpoint.pending.pt"
LOCK = ".lock"
#: what to do with a damaged or foreign checkpoint (the run keeps nothing else to resume from)
RESTART = "delete it to train the run again from step 0"


#: what every partitions.csv holds (DynGAN, SCGAN: baselines' ``history``)
PARTITION_COLUMNS = ("step", "parts", "collapsed_frac", "sizes", "labels")
#: nesting a run's JSON files never need (config.json is 3 deep)
MAX_JSON_DEPTH = 16


def json_problem(value: Any) -> str | None:
    """What is wrong with a parsed run file, or None: nesting beyond ``MAX_JSON_DEPTH``, an
    infinite number, or an integer no float can hold (a metric is read as a float). NaN is a
    diverged run's metric and passes."""
    stack = [(value, 0)]
    while stack:
        v, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            return f"nested deeper than {MAX_JSON_DEPTH} levels"
        if isinstance(v, dict):
            stack.extend((x, depth + 1) for x in v.values())
        elif isinstance(v, list):
            stack.extend((x, depth + 1) for x in v)
        elif isinstance(v, float) and math.isinf(v):
            return "an infinite number"
        elif isinstance(v, int) and not isinstance(v, bool) and abs(v) > 2**53:
            return "an integer beyond 2**53"
    return None


@dataclass(frozen=True)
class RunDir:
    path: Path

    @property
    def finished(self) -> bool:
        return (self.path / "metrics.json").exists()

    def write_config(self, spec: RunSpec) -> None:
        cfg_path = self.path / "config.json"
        if cfg_path.exists():
            if self.read_config() != spec.config():
                raise BenchError(
                    f"corrupted run directory {self.path}: config.json does not match its key; "
                    "move the directory aside to rerun"
                )
            return
        atomic_write_text(cfg_path, json.dumps(spec.config(), indent=2, sort_keys=True))

    def read_config(self) -> dict[str, Any]:
        return self._read_json("config.json")

    def read_metrics(self, numeric: Sequence[str] = ()) -> dict[str, Any]:
        """metrics.json: an object of scalars; the ``numeric`` keys (the suite's metrics) must be
        numbers (NaN for a diverged run). Anything else is one line naming the directory."""
        metrics = self._read_json("metrics.json")
        bad = [k for k, v in metrics.items() if not isinstance(v, int | float | str | None)]
        bad += [
            k
            for k in numeric
            if k in metrics and (not isinstance(metrics[k], int | float) or metrics[k] is True)
        ]
        if bad:
            raise BenchError(
                f"corrupted run directory {self.path}: metrics.json holds non-numbers "
                f"({', '.join(map(str, dict.fromkeys(bad)))}); move the directory aside to rerun it"
            )
        return metrics

    def _read_json(self, name: str, kind: type = dict) -> Any:
        try:
            value = json.loads((self.path / name).read_bytes().decode("utf-8"))
            why = json_problem(value)
        # ValueError: bad JSON and invalid UTF-8; RecursionError: nesting deeper than Python's
        # parser goes
        except (OSError, ValueError, RecursionError) as exc:
            why = exc.__class__.__name__
        if why:
            raise BenchError(
                f"corrupted run directory {self.path}: cannot read {name} ({why}); move the "
                "directory aside to rerun it"
            ) from None
        if not isinstance(value, kind):
            raise BenchError(
                f"corrupted run directory {self.path}: {name} is not a JSON {kind.__name__}; "
                "move the directory aside to rerun it"
            )
        return value

    def check_key(self, spec: RunSpec, expected: Path) -> None:
        """A finished run's config must produce its own directory name (seed, class, hash):
        an edited config.json would otherwise move its run to another seed or drop it."""
        if expected.name != self.path.name or expected.parent.name != self.path.parent.name:
            raise BenchError(
                f"run directory {self.path} does not match its config.json (the config gives "
                f"{expected.parent.name}/{expected.name}); restore the config or move the "
                "directory aside"
            )

    # -- checkpoints -------------------------------------------------------------------------
    def save_checkpoint(self, state: dict[str, Any]) -> None:
        write_state(self.path / CHECKPOINT, state)

    def load_checkpoint(
        self, required: Sequence[str] = ("step",), recover: bool = False
    ) -> dict[str, Any] | None:
        """The state this run resumes from (None: from scratch), verified (state_files).
        A stacked job's staged checkpoint counts once all its peers staged it (see
        ``save_checkpoints_together``); ``recover`` (only under the run's lock) also settles
        the files: the staged checkpoint is committed or dropped."""
        staged = self._staged_state()
        if staged is not None and recover:
            os.replace(self.path / PENDING, self.path / CHECKPOINT)
        elif recover:
            (self.path / PENDING).unlink(missing_ok=True)
        if staged is not None:
            state = staged
        elif (self.path / CHECKPOINT).exists():
            state = read_state(self.path / CHECKPOINT, (), RESTART)
        else:
            return None
        self.check_state(state, required)
        return state

    def check_state(
        self, state: dict[str, Any], required: Sequence[str], max_step: int | None = None
    ) -> None:
        """One line naming the checkpoint if ``state`` lacks a key or a valid step (a step
        beyond the run's budget would 'finish' it without training)."""
        missing = [k for k in required if k not in state]
        step = state.get("step")
        too_far = max_step is not None and isinstance(step, int) and step > max_step
        if missing or not isinstance(step, int) or isinstance(step, bool) or step < 0 or too_far:
            why = f"lacks {', '.join(missing)}" if missing else "has no valid step"
            raise BenchError(f"{self.path / CHECKPOINT} {why}; {RESTART}")

    def _staged_state(self) -> dict[str, Any] | None:
        """The staged checkpoint if the stacked commit it belongs to is complete: every peer
        holds the same step either staged or already committed; else None (rolled back)."""
        pending = self.path / PENDING
        if not pending.exists():
            return None
        state = read_state(pending, ("step", "peers"), RESTART)
        peers = state["peers"]
        if not isinstance(peers, list) or not all(isinstance(p, str) and p for p in peers):
            raise BenchError(
                f"{pending}: 'peers' is not a list of run directories; delete it to resume from "
                f"{CHECKPOINT}"
            )
        for rel in peers:
            peer = RunDir((self.path / rel).resolve())
            got = None
            for name in (PENDING, CHECKPOINT):
                if (peer.path / name).exists():
                    got = read_state(peer.path / name, ("step",), RESTART)["step"]
                    if got == state["step"]:
                        break
            if got != state["step"]:
                return None
        return state

    def lock(self, note: Callable[[str], None] | None = None) -> contextlib.AbstractContextManager:
        """Exclusive lock on this run (``flock`` on .lock, released by the OS when the holder
        dies); ``note`` hears one line if another process holds it and this one waits."""
        return run_lock(self.path / LOCK, note)

    def discard_if_untrained(self) -> bool:
        """Under the run's lock, after a refusal before training (a plugin that breaks the
        method contract on its first step): delete what was written to start the run, when it
        has no checkpoint to resume and is not finished. Returns whether it did."""
        if self.finished or (self.path / CHECKPOINT).exists() or (self.path / PENDING).exists():
            return False
        for name in ("config.json", "runtime.json"):
            (self.path / name).unlink(missing_ok=True)
        return True

    def remove_if_empty(self, root: Path) -> None:
        """After the lock is released: remove the run's folder and then its empty parents up
        to (not including) the store's ``root``."""
        path, root = self.path, Path(root).resolve()
        while path.resolve() != root and root in path.resolve().parents:
            try:
                path.rmdir()
            except OSError:  # not empty, or already gone
                return
            path = path.parent

    def remove_leftovers(self) -> None:
        """Temporary files of atomic writes a kill interrupted (only under the run's lock)."""
        for folder in (self.path, self.path / "generators"):
            for p in folder.glob(".*.tmp"):
                p.unlink(missing_ok=True)

    def record_runtime(self, entry: dict[str, Any]) -> None:
        """Append where and how this (re)start computes to runtime.json (a list, one entry per
        start): not part of the run's key, kept so every number can be traced to its hardware."""
        path = self.path / "runtime.json"
        atomic_write_text(path, json.dumps([*self.read_runtime(), entry], indent=2))

    def read_runtime(self) -> list[dict[str, Any]]:
        """runtime.json's entries, one JSON object per (re)start; [] when it was never written."""
        if not (self.path / "runtime.json").exists():
            return []
        entries = self._read_json("runtime.json", list)
        if not all(isinstance(e, dict) for e in entries):
            raise BenchError(
                f"corrupted run directory {self.path}: runtime.json is not a list of JSON "
                "objects; move the directory aside to rerun it"
            )
        return entries

    def save_generator(self, step: int, state: dict[str, Any]) -> None:
        write_state(self.path / "generators" / f"step{step}.pt", state)

    def generator_steps(self) -> list[int]:
        gdir = self.path / "generators"
        if not gdir.is_dir():
            return []
        return sorted(int(p.stem[4:]) for p in gdir.glob("step*.pt") if p.stem[4:].isdigit())

    def load_generator(self, step: int) -> dict[str, Any]:
        path = self.path / "generators" / f"step{step}.pt"
        return read_state(path, (), "delete it to leave that step out of the critic curve")

    # -- results -----------------------------------------------------------------------------
    def finish(
        self,
        samples: np.ndarray,
        metrics: dict[str, Any],
        curves: pd.DataFrame,
        snapshots: dict[str, np.ndarray],
        partitions: pd.DataFrame | None = None,
        evals: pd.DataFrame | None = None,
    ) -> None:
        """Write the results; metrics.json last, because its presence means 'finished'."""
        if partitions is not None:
            atomic_write_text(self.path / "partitions.csv", partitions.to_csv(index=False))
        if evals is not None and len(evals):
            atomic_write_text(self.path / "evals.csv", evals.to_csv(index=False))
        atomic_write(self.path / "samples.npy", lambda f: np.save(f, samples))
        atomic_write_text(self.path / "curves.csv", curves.to_csv(index=False))
        atomic_write(self.path / "snapshots.npz", lambda f: np.savez(f, **snapshots))
        atomic_write_text(self.path / "metrics.json", json.dumps(metrics, indent=2, sort_keys=True))

    def read_samples(self) -> np.ndarray:
        """The final evaluation samples (never unpickled)."""
        try:
            return np.load(self.path / "samples.npy", allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise BenchError(
                f"corrupted run directory {self.path}: cannot read samples.npy "
                f"({exc.__class__.__name__}); move the directory aside to rerun it"
            ) from None

    def add_metrics(self, new: Mapping[str, Any]) -> None:
        """Add metrics evaluated after the run finished; a metric it has is never replaced."""
        metrics = self.read_metrics()
        clash = sorted(set(new) & set(metrics))
        if clash:
            raise BenchError(f"{self.path}: metrics.json already has {', '.join(clash)}")
        metrics.update(new)
        atomic_write_text(self.path / "metrics.json", json.dumps(metrics, indent=2, sort_keys=True))

    def read_curves(self) -> pd.DataFrame:
        return self._read_numbers("curves.csv")

    def read_evals(self) -> pd.DataFrame | None:
        """The evaluation metrics at evenly spaced steps (None: the run recorded none)."""
        if not (self.path / "evals.csv").exists():
            return None
        return self._read_numbers("evals.csv")

    def _read_numbers(self, name: str) -> pd.DataFrame:
        """A CSV of numbers with a step column, or one line naming the damaged directory."""
        try:
            text = (self.path / name).read_text(encoding="utf-8")
            ragged = ragged_line(text)
            table = pd.read_csv(io.StringIO(text))
        except (OSError, ValueError, csv.Error, pd.errors.ParserError) as exc:
            raise BenchError(
                f"corrupted run directory {self.path}: cannot read {name} "
                f"({exc.__class__.__name__}); move the directory aside to rerun it"
            ) from None
        if ragged:
            raise BenchError(
                f"corrupted run directory {self.path}: {name} {ragged}; move the directory "
                "aside to rerun it"
            )
        if "step" not in table.columns or not all(
            pd.api.types.is_numeric_dtype(t) for t in table.dtypes
        ):
            raise BenchError(
                f"corrupted run directory {self.path}: {name} is not a table of numbers "
                "with a step column; move the directory aside to rerun it"
            )
        return table

    def read_partitions(self) -> pd.DataFrame | None:
        """The partition history (None for methods without one); ``sizes`` and ``labels`` are
        space-separated integers, read as text."""
        path = self.path / "partitions.csv"
        if not path.exists():
            return None
        try:
            text = path.read_text(encoding="utf-8")
            why = ragged_line(text)
            table = pd.read_csv(io.StringIO(text), dtype={"sizes": str, "labels": str})
        except (OSError, ValueError, csv.Error, pd.errors.ParserError) as exc:
            why = exc.__class__.__name__
        if why is None:
            missing = [c for c in PARTITION_COLUMNS if c not in table.columns]
            if missing:
                why = f"no column {', '.join(missing)}"
            elif any(
                not pd.api.types.is_numeric_dtype(table[c]) or table[c].isna().any()
                for c in ("step", "parts", "collapsed_frac")
            ):
                why = "a step, part count or collapsed fraction that is not a number"
            elif not all(
                isinstance(v, str) and all(t.isascii() and t.isdigit() for t in v.split())
                for c in ("sizes", "labels")
                for v in table[c]
            ):
                why = "sizes or labels that are not integers separated by spaces"
        if why:
            raise BenchError(
                f"corrupted run directory {self.path}: cannot read partitions.csv ({why}); "
                "move the directory aside to rerun it"
            )
        return table

    def read_snapshots(self) -> dict[str, np.ndarray]:
        try:
            with np.load(self.path / "snapshots.npz", allow_pickle=False) as z:
                return {k: z[k] for k in z.files}
        except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile) as exc:
            raise BenchError(
                f"corrupted run directory {self.path}: cannot read snapshots.npz "
                f"({exc.__class__.__name__}); move the directory aside to rerun it"
            ) from None


def save_checkpoints_together(runs: Sequence[RunDir], states: Sequence[dict[str, Any]]) -> None:
    """Checkpoint the K runs of one stacked job as one commit. Phase 1 stages every state as
    ``checkpoint.pending.pt`` (naming its peers); phase 2 renames each into place. A kill in
    phase 1 leaves an incomplete set of staged files, which every run then ignores and drops
    (all stay at the old step); a kill in phase 2 leaves a complete set, which every run then
    commits (all move to the new step). Either way the K runs resume from one step."""
    if len(runs) == 1:
        runs[0].save_checkpoint(states[0])
        return
    for run, state in zip(runs, states, strict=True):
        peers = [os.path.relpath(r.path, run.path) for r in runs if r is not run]
        write_state(run.path / PENDING, {**state, "peers": peers})
    for run in runs:
        os.replace(run.path / PENDING, run.path / CHECKPOINT)
