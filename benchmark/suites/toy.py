"""Suite definitions: the data exactly as the literature defines it, the networks, the budgets.

A suite owns its data, its networks, its evaluation and its presets, so a method file holds
losses only and one method runs unchanged on every suite.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from ...metrics import diversity as div
from ...metrics.coverage import mode_coverage
from ..errors import BenchError
from ..store.spec import TrainConfig
from .base import ReportedMetrics
from .image import ImageSuite
from .image_catalog import IMAGE_SUITES
from .nets import ToyDiscriminator, dyngan_nets, gaussian_init, mlp, pacgan_nets
from .protocols import DEFAULT_PROTOCOL, get_protocol


@dataclass(frozen=True)
class GaussianMixtureSuite(ReportedMetrics):
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
    #: presets that evaluate fewer samples (the protocol's; smoke: 1,000)
    eval_sizes: Mapping[str, int] = field(default_factory=dict)
    noise_dim: int = 2
    hidden: int = 512
    depth: int = 3
    #: the protocol's method defaults: {method: {param: value}}, "*" for every method
    method_defaults: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    presets: Mapping[str, TrainConfig] = field(default_factory=dict)
    #: the metrics of every evaluation, including the convergence curve's (evals.csv)
    metric_names: tuple[str, ...] = ("modes_covered", "hq_fraction", "reverse_kl")
    #: computed on the final samples only (metrics/diversity.py, on raw 2-D coordinates)
    diversity_names: tuple[str, ...] = ("density", "coverage", "vendi", "ndb", "ndb_js")
    #: what `bench run` trains when --methods is not given (`--methods all` for every method)
    default_methods: tuple[str, ...] = ("gan", "wgan", "wgan-gp", "greed-gan", "greed-wgan")
    kind: str = "toy"
    per_class: bool = False
    OVERRIDABLE = ("protocol",)
    # -- set by the protocol (suites/protocols.py); the defaults are gan-toy's, and fields at
    # their gan-toy value stay out of the run key so runs from before protocols keep theirs
    protocol: str = "gan-toy"
    #: fixed training set of this many points per mode instead of ``n_train`` random draws
    n_per_mode: int | None = None
    nets: str = "gan-toy"
    init_std: float | None = None
    covered_within: float = 3.0
    covered_rule: str = "nearest"
    hq_within: float = 3.0
    kl_over: str = "all"

    # -- identity ----------------------------------------------------------------------------
    def params(self, preset: str | None = None) -> dict[str, Any]:
        """What defines the suite's data, nets and evaluation; part of every run's config hash."""
        d = asdict(self)
        for k in (
            "description",
            "method_defaults",
            "presets",
            "metric_names",
            "diversity_names",
            "default_methods",
            "kind",
            "per_class",
            "eval_sizes",
        ):
            d.pop(k)
        for k, default in GAN_TOY_FIELDS.items():
            if d[k] == default:
                d.pop(k)
        d["centers"] = [list(c) for c in self.centers]
        d["n_eval"] = self.eval_size(preset)
        return d

    def eval_size(self, preset: str | None = None) -> int:
        """Samples a run of ``preset`` evaluates."""
        return self.eval_sizes.get(preset, self.n_eval) if preset is not None else self.n_eval

    def resolve(self, params: Mapping[str, Any]) -> GaussianMixtureSuite:
        """The suite a run's config describes: its protocol (gan-toy when the key has none) and
        its evaluation size."""
        suite = self.with_protocol(params.get("protocol", "gan-toy"))
        return dataclasses.replace(suite, n_eval=params.get("n_eval", suite.n_eval))

    def with_protocol(self, name: str) -> GaussianMixtureSuite:
        return dataclasses.replace(self, **get_protocol(name).suite_fields(self.name))

    def with_overrides(self, overrides: Mapping[str, Any]) -> GaussianMixtureSuite:
        """``{"protocol": NAME}`` (``--protocol``); nothing else is a toy-suite option."""
        extra = sorted(set(overrides) - {"protocol"})
        if extra:
            raise BenchError(
                f"suite {self.name} takes no option {', '.join(extra)}; "
                "toy suites take --protocol only"
            )
        return self.with_protocol(overrides["protocol"]) if "protocol" in overrides else self

    def classes(self, data_root=None) -> tuple[None]:
        return (None,)

    def check_ready(self, data_root=None) -> None:
        """Nothing to load: the mixture is generated."""

    # -- data --------------------------------------------------------------------------------
    @property
    def n_modes(self) -> int:
        return len(self.centers)

    def centers_array(self) -> np.ndarray:
        return np.asarray(self.centers, dtype=np.float64)

    def sample_real(self, n: int, gen: torch.Generator) -> torch.Tensor:
        c = torch.tensor(self.centers, dtype=torch.float32)
        idx = torch.randint(len(c), (n,), generator=gen)
        return c[idx] + self.std * torch.randn(n, 2, generator=gen)

    def training_set(self, cls: str | None = None, data_root=None) -> torch.Tensor:
        """Fixed training set drawn from the suite's own seed: every method and run seed sees
        exactly the same points (PacGAN trains on a fixed set of 100k samples; DynGAN on 50
        points per mode)."""
        gen = torch.Generator().manual_seed(self.data_seed)
        if self.n_per_mode is None:
            return self.sample_real(self.n_train, gen)
        c = torch.tensor(self.centers, dtype=torch.float32).repeat_interleave(self.n_per_mode, 0)
        return c + self.std * torch.randn(c.shape, generator=gen)

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
            if self.nets == "gan-toy":
                G = mlp(noise_dim + cond_dim, 2, hidden, self.depth)
                D = ToyDiscriminator(2 + cond_dim, hidden, self.depth, pack=pack)
            elif self.nets == "dyngan":  # a published protocol fixes the width
                G, D = dyngan_nets(noise_dim + cond_dim, cond_dim, self.hidden, pack)
            else:  # pacgan
                G, D = pacgan_nets(noise_dim + cond_dim, cond_dim, self.hidden, 200, 5, pack)
            if self.init_std is not None:
                gaussian_init(G, self.init_std)
                gaussian_init(D, self.init_std)
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
        self,
        samples: np.ndarray,
        cls: str | None = None,
        data_root=None,
        device: str = "cpu",
        diversity: bool = True,
    ) -> dict:
        """Mode coverage (a nearest-centre count in numpy; ``device`` is not needed for it) and,
        unless ``diversity`` is False (the points of the convergence curve), the diversity
        metrics of :meth:`diversity`."""
        out = self._coverage(samples)
        return {**out, **self.diversity(samples)} if diversity else out

    def curve_metrics(self, samples: np.ndarray, cls=None, data_root=None, device="cpu") -> dict:
        """One point of the convergence curve: the coverage metrics (``curve_names``)."""
        return self._coverage(samples)

    def _coverage(self, samples: np.ndarray) -> dict:
        cov = mode_coverage(
            self.validate_samples(samples),
            self.centers_array(),
            self.std,
            covered_within=self.covered_within,
            covered_rule=self.covered_rule,
            hq_within=self.hq_within,
            kl_over=self.kl_over,
        )
        return cov.as_dict()

    def diversity(self, samples: np.ndarray) -> dict:
        """Density/coverage, Vendi and NDB on raw coordinates (diversity_caption says how)."""
        x = np.asarray(self.validate_samples(samples), dtype=np.float64)
        real = self.sample_real(TOY_REFERENCE, torch.Generator().manual_seed(self.data_seed + 1))
        real = real.double().numpy()
        return {
            **div.density_coverage(real, x[:TOY_REFERENCE]),
            "vendi": div.vendi_score(x[:TOY_VENDI], "gaussian", bandwidth=3.0 * self.std),
            **div.ndb(real, x, n_bins=2 * len(self.centers), seed=self.data_seed).as_dict(),
        }

    def plot_extent(self) -> tuple[float, float]:
        r = float(np.abs(self.centers_array()).max())
        return -1.5 * r - 0.5, 1.5 * r + 0.5


#: diversity on the toys: this many fresh draws from the mixture are the real reference (and the
#: generated count for density/coverage); Vendi's n×n kernel uses the first TOY_VENDI samples
TOY_REFERENCE = 5_000
TOY_VENDI = 2_000


def diversity_caption(n_eval: int) -> str:
    """How the toys' diversity columns were computed from ``n_eval`` samples per run."""
    n_dc, n_vendi = min(n_eval, TOY_REFERENCE), min(n_eval, TOY_VENDI)
    return (
        "Diversity columns on raw 2-D coordinates, final samples: density and coverage "
        f"(Naeem et al., k = 5) of the first {n_dc:,} samples against {TOY_REFERENCE:,} fresh "
        "draws from the mixture; Vendi score with the Gaussian kernel of bandwidth 3 std on the "
        f"first {n_vendi:,} samples (the real mixture scores about 1.9 per mode: 48 on the grid "
        "at 2,000 samples); NDB/K and its JS divergence (nats) over 2 k-means bins per mode "
        "fitted on the same draws, two-proportion z-test at 0.05."
    )


#: the fields a protocol sets, at their gan-toy values (left out of gan-toy runs' keys)
GAN_TOY_FIELDS = {
    "protocol": "gan-toy",
    "n_per_mode": None,
    "nets": "gan-toy",
    "init_std": None,
    "covered_within": 3.0,
    "covered_rule": "nearest",
    "hq_within": 3.0,
    "kl_over": "all",
}


def _toy(name: str, description: str) -> GaussianMixtureSuite:
    """A toy suite under the default protocol (``--protocol`` picks another)."""
    base = GaussianMixtureSuite(name=name, description=description, centers=(), std=1.0)
    return base.with_protocol(DEFAULT_PROTOCOL)


TOY_SUITES: dict[str, GaussianMixtureSuite] = {
    s.name: s
    for s in (
        _toy("gaussians25", "25 Gaussians on a 5x5 grid {-4,-2,0,2,4}^2 (PacGAN, VEEGAN, DynGAN)"),
        _toy("ring8", "8 Gaussians on a ring (PacGAN: radius 1; DynGAN: radius 2)"),
    )
}


SUITES: dict[str, GaussianMixtureSuite | ImageSuite] = {**TOY_SUITES, **IMAGE_SUITES}


def suite_of(config: Mapping[str, Any]) -> GaussianMixtureSuite | ImageSuite:
    """The suite a run's config.json describes (its protocol, image options)."""
    return get_suite(config["suite"]).resolve(config["suite_params"])


def get_suite(name: str) -> GaussianMixtureSuite | ImageSuite:
    if name not in SUITES:
        raise BenchError(f"unknown suite {name!r}; valid suites: {', '.join(SUITES)}")
    return SUITES[name]
