"""The run store: one directory per (suite, method, seed, config hash).

Layout::

    ROOT/<suite>/<method>/seed<k>-<hash>/          (per-class suites: seed<k>-<class>-<hash>/)
        config.json      the full RunSpec (written first)
        checkpoint.pt    latest checkpoint: nets, optimisers, RNG state, curves, snapshots
        curves.csv       losses and gradient norms over training
        snapshots.npz    samples and discriminator output at a few steps (for plots)
        generators/      image suites: G's weights at each snapshot step (step<k>.pt), for the
                         independent-critic curve over training (seed 003 Fig. 4)
        samples.npy      final evaluation samples (image suites: uint8 N×C×H×W)
        partitions.csv   only for methods with a history (dyngan, scgan): the partition of the
                         real data over training (baselines/dyngan.py describes the columns)
        runtime.json     device, bf16 autocast, channels_last, determinism and threads of every
                         (re)start of the run (not part of its key)
        metrics.json     final metrics; its presence marks the run finished

Every file is written to a temporary name in the same directory and renamed into place, so a
kill at any moment leaves either the old file or the new one, never half a file.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from .atomic import atomic_write, atomic_write_text
from .config import RunSpec, TrainConfig
from .errors import BenchError


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

    def read_metrics(self) -> dict[str, Any]:
        return self._read_json("metrics.json")

    def _read_json(self, name: str) -> dict[str, Any]:
        try:
            return json.loads((self.path / name).read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise BenchError(
                f"corrupted run directory {self.path}: cannot read {name} "
                f"({exc.__class__.__name__}); move the directory aside to rerun it"
            ) from None

    # -- checkpoints -------------------------------------------------------------------------
    def save_checkpoint(self, state: dict[str, Any]) -> None:
        atomic_write(self.path / "checkpoint.pt", lambda f: torch.save(state, f))

    def load_checkpoint(self) -> dict[str, Any] | None:
        ckpt = self.path / "checkpoint.pt"
        if not ckpt.exists():
            return None
        try:
            return torch.load(ckpt, map_location="cpu", weights_only=False)
        except Exception as exc:  # torch raises many types for a damaged zip/pickle
            raise BenchError(
                f"corrupted run directory {self.path}: checkpoint.pt is unreadable "
                f"({exc.__class__.__name__}); move the directory aside to rerun"
            ) from None

    def record_runtime(self, entry: dict[str, Any]) -> None:
        """Append where and how this (re)start computes to runtime.json (a list, one entry per
        start): not part of the run's key, kept so every number can be traced to its hardware."""
        path = self.path / "runtime.json"
        entries = json.loads(path.read_text()) if path.exists() else []
        atomic_write_text(path, json.dumps([*entries, entry], indent=2))

    def save_generator(self, step: int, state: dict[str, Any]) -> None:
        atomic_write(self.path / "generators" / f"step{step}.pt", lambda f: torch.save(state, f))

    def generator_steps(self) -> list[int]:
        gdir = self.path / "generators"
        if not gdir.is_dir():
            return []
        return sorted(int(p.stem[4:]) for p in gdir.glob("step*.pt") if p.stem[4:].isdigit())

    def load_generator(self, step: int) -> dict[str, Any]:
        return torch.load(self.path / "generators" / f"step{step}.pt", map_location="cpu")

    # -- results -----------------------------------------------------------------------------
    def finish(
        self,
        samples: np.ndarray,
        metrics: dict[str, Any],
        curves: pd.DataFrame,
        snapshots: dict[str, np.ndarray],
        partitions: pd.DataFrame | None = None,
    ) -> None:
        """Write the results; metrics.json last, because its presence means 'finished'."""
        if partitions is not None:
            atomic_write_text(self.path / "partitions.csv", partitions.to_csv(index=False))
        atomic_write(self.path / "samples.npy", lambda f: np.save(f, samples))
        atomic_write_text(self.path / "curves.csv", curves.to_csv(index=False))
        atomic_write(self.path / "snapshots.npz", lambda f: np.savez(f, **snapshots))
        atomic_write_text(self.path / "metrics.json", json.dumps(metrics, indent=2, sort_keys=True))

    def read_curves(self) -> pd.DataFrame:
        return pd.read_csv(self.path / "curves.csv")

    def read_partitions(self) -> pd.DataFrame | None:
        """The partition history (None for methods without one); ``sizes`` and ``labels`` are
        space-separated integers, read as text."""
        path = self.path / "partitions.csv"
        if not path.exists():
            return None
        return pd.read_csv(path, dtype={"sizes": str, "labels": str})

    def read_snapshots(self) -> dict[str, np.ndarray]:
        with np.load(self.path / "snapshots.npz") as z:
            return {k: z[k] for k in z.files}


@dataclass(frozen=True)
class RunRecord:
    spec: RunSpec
    run: RunDir


class RunStore:
    def __init__(self, root: str | Path):
        self.root = Path(root)

    def ensure_writable(self) -> None:
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=self.root, prefix=".probe-"):
                pass
        except OSError as exc:
            raise BenchError(
                f"cannot write to --out {self.root}: {exc.strerror or exc}; "
                "give a writable directory"
            ) from None

    def run_dir(self, spec: RunSpec) -> RunDir:
        method_dir = spec.method.replace(":", "__")  # plugin paths: package.module:Class
        cls = "" if spec.cls is None else f"{_safe(spec.cls)}-"
        return RunDir(
            self.root / spec.suite / method_dir / f"seed{spec.seed}-{cls}{spec.config_hash()}"
        )

    def records(self, suite: str) -> Iterator[RunRecord]:
        """Every finished run of ``suite`` in the store."""
        base = self.root / suite
        if not base.is_dir():
            return
        for path in sorted(base.glob("*/seed*-*")):
            run = RunDir(path)
            if not run.finished:
                continue
            yield RunRecord(spec_from_config(run.read_config(), path), run)


def _safe(name: str) -> str:
    """A class name as a path component (CIFAR's are plain words; guard anything else)."""
    return "".join(c if c.isalnum() or c in "._" else "_" for c in name)


def spec_from_config(cfg: dict[str, Any], path: Path | None = None) -> RunSpec:
    try:
        return RunSpec(**{**cfg, "train": TrainConfig(**cfg["train"])})
    except (TypeError, KeyError) as exc:
        raise BenchError(
            f"corrupted run directory {path}: config.json is not a run config ({exc}); "
            "move the directory aside"
        ) from None
