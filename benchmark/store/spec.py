"""Run configuration: what fully determines a run's result (and so its key in the run store)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Any

from .keys import omit_defaults


@dataclass(frozen=True)
class TrainConfig:
    """Budget of one run. ``steps`` counts generator updates (n_critic critic updates each)."""

    steps: int
    batch_size: int = 256
    log_every: int = 50
    checkpoint_every: int = 1000
    #: number of evenly spaced training steps at which samples and D's output are kept for plots
    n_snapshots: int = 4
    #: number of evenly spaced steps at which the suite's evaluation runs during training
    #: (evals.csv: the convergence curve); 0 = only at the end. Left out of the run config at
    #: 0, so runs from before it existed keep their keys
    n_evals: int = 0

    def snapshot_steps(self) -> list[int]:
        k = max(1, self.n_snapshots)
        return sorted({max(1, round(self.steps * (i + 1) / k)) for i in range(k)})

    def eval_steps(self) -> list[int]:
        k = self.n_evals
        return sorted({max(1, round(self.steps * (i + 1) / k)) for i in range(k)}) if k else []


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
    #: the class a per-class suite's model is trained on (the greed paper Sec. 4.4); None elsewhere,
    #: and then left out of the config so runs of the other suites keep their keys
    cls: str | None = None

    def config(self) -> dict[str, Any]:
        cfg = omit_defaults(asdict(self), {"cls": None})
        cfg["train"] = omit_defaults(cfg["train"], {"n_evals": 0})
        return cfg

    def config_hash(self) -> str:
        """Hash of everything but the seed and the class: runs of one configuration share it
        across seeds and (per-class suites) classes; the run directory names both."""
        cfg = self.config()
        cfg.pop("seed")
        cfg.pop("cls", None)
        blob = json.dumps(cfg, sort_keys=True, default=str).encode()
        return hashlib.sha256(blob).hexdigest()[:10]

    @property
    def label(self) -> str:
        cls = "" if self.cls is None else f"/{self.cls}"
        return f"{self.suite}/{self.method}{cls}/seed{self.seed}"
