"""What every suite kind shares: the columns it reports (one definition for toy and image), and
the ``Suite`` interface every kind implements."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable

import numpy as np
import torch
from torch import nn

from ..store.spec import TrainConfig


class ReportedMetrics:
    """``metric_names``: the final evaluation's metrics; ``curve_names``: the subset measured at
    every point of the convergence curve (evals.csv); ``diversity_names``: computed on the
    final samples only; ``dynamics_names``: derived from the whole curve after the run
    (collapse over training). Tables, ``compare`` and ``check`` show all three."""

    metric_names: tuple[str, ...]
    diversity_names: tuple[str, ...]
    dynamics_names: tuple[str, ...] = ()

    @property
    def curve_names(self) -> tuple[str, ...]:
        return self.metric_names

    @property
    def evaluated_metrics(self) -> tuple[str, ...]:
        """What the final samples give (metrics.json); the dynamics come from the curve."""
        return (*self.metric_names, *self.diversity_names)

    @property
    def reported_metrics(self) -> tuple[str, ...]:
        return (*self.metric_names, *self.diversity_names, *self.dynamics_names)

    def dynamics(self, evals, final=None) -> dict[str, float]:
        """The ``dynamics_names`` measures of one run's evaluation curve and its final metrics
        (none by default)."""
        return {}


@runtime_checkable
class Suite(Protocol):
    """What the runner, the loop, the run store and the tables ask of a suite. A toy suite
    (``toy.GaussianMixtureSuite``) and an image suite (``image.ImageSuite``) each implement it;
    a new kind of suite implements it and registers in ``suites/__init__.py``. Where the two
    kinds differ in what a command does, the difference is a member here, never a
    ``kind ==`` branch at the call site (``kind`` names the table writer in ``report/``)."""

    name: str
    description: str
    kind: str
    per_class: bool
    noise_dim: int
    data_seed: int
    n_eval: int
    presets: Mapping[str, TrainConfig]
    method_defaults: Mapping[str, Mapping[str, Any]]
    default_methods: tuple[str, ...]
    metric_names: tuple[str, ...]
    diversity_names: tuple[str, ...]
    dynamics_names: tuple[str, ...]
    OVERRIDABLE: tuple[str, ...]
    #: samples a training snapshot keeps; whether G is kept with them (bench critic)
    snapshot_samples: int
    stores_generators: bool
    #: mixed precision on a GPU pays (conv nets)
    amp_capable: bool
    #: evaluated on pretrained image features (Inception, DINOv2 weights apply)
    image_features: bool
    #: bench agreement's reference metric and its caption name
    agreement_reference: tuple[str, str]

    @property
    def curve_names(self) -> tuple[str, ...]: ...
    @property
    def evaluated_metrics(self) -> tuple[str, ...]: ...
    @property
    def reported_metrics(self) -> tuple[str, ...]: ...
    @property
    def n_modes(self) -> int | None: ...

    # identity: what goes into every run key, and the suite a stored key describes
    def params(self, preset: str | None = None) -> dict[str, Any]: ...
    def resolve(self, params: Mapping[str, Any]) -> Suite: ...
    def with_overrides(self, overrides: Mapping[str, Any]) -> Suite: ...
    def command_options(self, given: Mapping[str, Any]) -> dict: ...
    def preset_lines(self) -> list[str]: ...

    # data and nets
    def classes(self, data_root=None) -> tuple: ...
    def check_ready(self, data_root=None) -> None: ...
    def training_set(self, cls=None, data_root=None) -> torch.Tensor: ...
    def sample_noise(self, n: int, gen: torch.Generator, dim: int | None = None) -> Any: ...
    def net_sizes(self) -> dict[str, Any]: ...
    def build_nets(self, seed: int, **net_config: Any) -> tuple[nn.Module, nn.Module]: ...

    # evaluation
    def to_stored(self, samples: Any) -> np.ndarray: ...
    def snapshot(self, D: nn.Module, method: Any) -> dict[str, np.ndarray]: ...
    def evaluate(
        self, samples: Any, cls=None, data_root=None, device: str = "cpu", **kw
    ) -> dict: ...
    def curve_metrics(
        self, samples: Any, cls=None, data_root=None, device: str = "cpu"
    ) -> dict: ...
    def dynamics(self, evals: Any, final: Mapping[str, Any] | None = None) -> dict[str, float]: ...
    def evaluate_file(self, path: Any, data_root=None, pairs=None) -> tuple[str, str]: ...
