"""Suite definitions: the data exactly as the literature defines it, the networks, the budgets.

A suite owns its data, its networks, its evaluation and its presets, so a method file holds
losses only and one method runs unchanged on every suite.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from ..metrics.coverage import mode_coverage
from .config import TrainConfig
from .errors import BenchError
from .image_suites import IMAGE_SUITES, ImageSuite
from .nets import ToyDiscriminator, mlp

TOY_PRESETS: dict[str, TrainConfig] = {
    # seconds: for tests and CI
    "smoke": TrainConfig(steps=30, batch_size=64, log_every=5, checkpoint_every=10, n_snapshots=2),
    # minutes per run on a 2-core CPU (PacGAN's batch of 100): enough for the qualitative result
    "default": TrainConfig(steps=3000, batch_size=100, log_every=50, checkpoint_every=500),
    # gan_toy.py's budget (100k generator iterations): hours per run on a CPU
    "paper": TrainConfig(steps=100_000, batch_size=256, log_every=100, checkpoint_every=5000),
}


@dataclass(frozen=True)
class GaussianMixtureSuite:
    """A 2-D mixture of equal-weight isotropic Gaussians, evaluated by mode coverage."""

    name: str
    description: str
    centers: tuple[tuple[float, float], ...]
    std: float
    #: size of the fixed training set every method and seed sees (drawn from ``data_seed``)
    n_train: int = 100_000
    data_seed: int = 20180101
    #: evaluation: this many samples from a fixed noise batch derived from the run seed
    n_eval: int = 2500
    noise_dim: int = 2
    hidden: int = 512
    depth: int = 3
    #: suite-specific method defaults (e.g. gan_toy.py's gp_lambda 0.1 on toys)
    method_defaults: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    presets: Mapping[str, TrainConfig] = field(default_factory=lambda: dict(TOY_PRESETS))
    metric_names: tuple[str, ...] = ("modes_covered", "hq_fraction", "reverse_kl")
    #: what `bench run` trains when --methods is not given (`--methods all` for every method)
    default_methods: tuple[str, ...] = ("gan", "wgan", "wgan-gp", "greed-gan", "greed-wgan")
    kind: str = "toy"
    per_class: bool = False
    OVERRIDABLE = ()

    # -- identity ----------------------------------------------------------------------------
    def params(self, preset: str | None = None) -> dict[str, Any]:
        """What defines the suite's data and nets; part of every run's config hash."""
        d = asdict(self)
        for k in (
            "description",
            "method_defaults",
            "presets",
            "metric_names",
            "default_methods",
            "kind",
            "per_class",
        ):
            d.pop(k)
        d["centers"] = [list(c) for c in self.centers]
        return d

    def resolve(self, params: Mapping[str, Any]) -> GaussianMixtureSuite:
        """The suite a run's config describes: toy suites have no per-run options."""
        return self

    def with_overrides(self, overrides: Mapping[str, Any]) -> GaussianMixtureSuite:
        if overrides:
            raise BenchError(f"suite {self.name} has no options to set; got {sorted(overrides)}")
        return self

    def classes(self, data_root=None) -> tuple[None]:
        return (None,)

    def check_ready(self, data_root=None) -> None:
        """Nothing to load: the mixture is generated."""

    # -- data --------------------------------------------------------------------------------
    def centers_array(self) -> np.ndarray:
        return np.asarray(self.centers, dtype=np.float64)

    def sample_real(self, n: int, gen: torch.Generator) -> torch.Tensor:
        c = torch.tensor(self.centers, dtype=torch.float32)
        idx = torch.randint(len(c), (n,), generator=gen)
        return c[idx] + self.std * torch.randn(n, 2, generator=gen)

    def training_set(self, cls: str | None = None, data_root=None) -> torch.Tensor:
        """Fixed training set drawn from the suite's own seed: every method and run seed sees
        exactly the same points (PacGAN trains on a fixed set of 100k samples too)."""
        return self.sample_real(self.n_train, torch.Generator().manual_seed(self.data_seed))

    def sample_noise(self, n: int, gen: torch.Generator, dim: int | None = None) -> torch.Tensor:
        """G's noise; ``dim`` overrides the suite's ``noise_dim`` (a method's ``net_config``)."""
        return torch.randn(n, self.noise_dim if dim is None else dim, generator=gen)

    # -- networks ----------------------------------------------------------------------------
    def build_nets(
        self,
        seed: int,
        pack: int = 1,
        cond_dim: int = 0,
        hidden: int | None = None,
        noise_dim: int | None = None,
        d_batchnorm: bool = True,
    ) -> tuple[nn.Module, nn.Module]:
        """G: noise (+ condition code) -> 2-D point; D: point (+ code) -> raw score.

        ``cond_dim``, ``hidden`` and ``noise_dim`` come from the method's ``net_config`` (see
        baselines/base.py): a code of ``cond_dim`` entries is appended to G's noise and to D's
        input; ``hidden`` / ``noise_dim`` replace the suite's width and noise size (the depth
        stays the suite's). The defaults build exactly the suite's own nets. The toy D has no
        BatchNorm, so ``d_batchnorm`` changes nothing here.
        """
        hidden = self.hidden if hidden is None else hidden
        noise_dim = self.noise_dim if noise_dim is None else noise_dim
        # nn.Linear initialises from the global RNG; fork_rng confines the seeding to this block
        # so no global state leaks out of the run.
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            G = mlp(noise_dim + cond_dim, 2, hidden, self.depth)
            D = ToyDiscriminator(2 + cond_dim, hidden, self.depth, pack=pack)
        return G, D

    # -- evaluation --------------------------------------------------------------------------
    def validate_samples(self, samples: np.ndarray, what: str = "samples") -> np.ndarray:
        arr = np.asarray(samples)
        if arr.ndim != 2 or arr.shape[1] != 2:
            raise BenchError(
                f"{what} must have shape (N, 2) for suite {self.name}; got {arr.shape}"
            )
        if not np.issubdtype(arr.dtype, np.floating):
            raise BenchError(f"{what} must be floating point (float32/float64); got {arr.dtype}")
        if len(arr) == 0:
            raise BenchError(f"{what} is empty; need at least one (x, y) sample")
        if not np.isfinite(arr).all():
            raise BenchError(f"{what} contains NaN or infinite values")
        return arr

    def snapshot(self, D: nn.Module, method) -> dict[str, np.ndarray]:
        """D's raw output on a grid over the plane (seed 003 Fig. 3's contours)."""
        lo, hi = self.plot_extent()
        n = 80
        axis = torch.linspace(lo, hi, n)
        xx, yy = torch.meshgrid(axis, axis, indexing="xy")
        points = torch.stack([xx.flatten(), yy.flatten()], dim=1)
        points = points.to(next(D.parameters()).device)
        with torch.no_grad():
            out = method.disc_on(D, points).reshape(n, n)
        return {"disc": out.cpu().numpy(), "axis": axis.numpy()}

    @staticmethod
    def to_stored(samples: torch.Tensor | np.ndarray) -> np.ndarray:
        return np.asarray(samples)

    def evaluate(
        self, samples: np.ndarray, cls: str | None = None, data_root=None, device: str = "cpu"
    ) -> dict:
        """Mode coverage: a nearest-centre count in numpy (``device`` is not needed for it)."""
        cov = mode_coverage(self.validate_samples(samples), self.centers_array(), self.std)
        return cov.as_dict()

    def plot_extent(self) -> tuple[float, float]:
        r = float(np.abs(self.centers_array()).max())
        return -1.5 * r - 0.5, 1.5 * r + 0.5


GRID_CENTERS = tuple((float(x), float(y)) for x in (-4, -2, 0, 2, 4) for y in (-4, -2, 0, 2, 4))
RING_CENTERS = tuple(
    (math.cos(2 * math.pi * k / 8), math.sin(2 * math.pi * k / 8)) for k in range(8)
)
TOY_METHOD_DEFAULTS = {
    # gan_toy.py (Gulrajani et al.) uses lambda = 0.1 on the toy sets; the paper's 10 is for images
    "wgan-gp": {"gp_lambda": 0.1},
    "curriculum-wgan-gp": {"gp_lambda": 0.1},
}

TOY_SUITES: dict[str, GaussianMixtureSuite] = {
    s.name: s
    for s in (
        GaussianMixtureSuite(
            name="gaussians25",
            description="25 Gaussians on a 5x5 grid {-4,-2,0,2,4}^2, std 0.05 (PacGAN/VEEGAN)",
            centers=GRID_CENTERS,
            std=0.05,
            method_defaults=TOY_METHOD_DEFAULTS,
        ),
        GaussianMixtureSuite(
            name="ring8",
            description="8 Gaussians on a ring of radius 1, std 0.01 (PacGAN)",
            centers=RING_CENTERS,
            std=0.01,
            method_defaults=TOY_METHOD_DEFAULTS,
        ),
    )
}


SUITES: dict[str, GaussianMixtureSuite | ImageSuite] = {**TOY_SUITES, **IMAGE_SUITES}


def get_suite(name: str) -> GaussianMixtureSuite | ImageSuite:
    if name not in SUITES:
        raise BenchError(f"unknown suite {name!r}; valid suites: {', '.join(SUITES)}")
    return SUITES[name]
