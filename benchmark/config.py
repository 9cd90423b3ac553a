"""Run configuration: what fully determines a run's result (and so its key in the run store)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class TrainConfig:
    """Budget of one run. ``steps`` counts generator updates (n_critic critic updates each)."""

    steps: int
    batch_size: int = 256
    log_every: int = 50
    checkpoint_every: int = 1000
    #: number of evenly spaced training steps at which samples and D's output are kept for plots
    n_snapshots: int = 4

    def snapshot_steps(self) -> list[int]:
        k = max(1, self.n_snapshots)
        return sorted({max(1, round(self.steps * (i + 1) / k)) for i in range(k)})


@dataclass(frozen=True)
class RunSpec:
    """Everything one run needs, in plain values so it pickles to worker processes and hashes."""

    suite: str
    method: str
    seed: int
    preset: str
    train: TrainConfig
    method_params: dict[str, Any] = field(default_factory=dict)
    suite_params: dict[str, Any] = field(default_factory=dict)

    def config(self) -> dict[str, Any]:
        return asdict(self)

    def config_hash(self) -> str:
        """Hash of everything but the seed: runs of one configuration share it across seeds."""
        cfg = self.config()
        cfg.pop("seed")
        blob = json.dumps(cfg, sort_keys=True, default=str).encode()
        return hashlib.sha256(blob).hexdigest()[:10]

    @property
    def label(self) -> str:
        return f"{self.suite}/{self.method}/seed{self.seed}"
