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

from ...metrics import collapse_dynamics as cd
from ...metrics import diversity as div
from ...metrics.coverage import mode_coverage
from ..errors import BenchError
from ..store.spec import TrainConfig
from .base import ReportedMetrics
from .image import ImageSuite
from .image_catalog import IMAGE_SUITES
from .nets import (
    ToyDiscriminator,
    dyngan_nets,
    gaussian_init,
    mlp,
    orthogonal_init,
    pacgan_nets,
    veegan_nets,
)
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
    #: collapse over training, from the evaluation curve (metrics/collapse_dynamics.py)
    dynamics_names: tuple[str, ...] = cd.NAMES
    #: what `bench run` trains when --methods is not given (`--methods all` for every method)
    default_methods: tuple[str, ...] = ("gan", "wgan", "wgan-gp", "greed-gan", "greed-wgan")
    kind: str = "toy"
    per_class: bool = False
    #: suite options besides the protocol (``--update-order``): a run that departs from its
    #: protocol in one stated way, to measure why a number differs from the published one
    OVERRIDABLE = ("protocol", "update_order")
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
    #: orthogonal initialisation with this gain (VEEGAN/GDPP) instead of ``init_std``
    init_gain: float | None = None
    #: "alternating": D steps, then G steps on fresh noise; "simultaneous": G's step and D's
    #: (last) step come from one forward pass and update together (``training/loop.py``)
    update_order: str = "alternating"
    #: every real batch drawn fresh from the mixture (VEEGAN/GDPP) instead of from the fixed
    #: training set, which then serves only plots and references
    fresh_data: bool = False

    def __post_init__(self) -> None:
        if self.nets not in NETS:
            raise BenchError(f"unknown toy nets {self.nets!r}; valid: {', '.join(NETS)}")
        if self.update_order not in UPDATE_ORDERS:
            raise BenchError(
                f"unknown update order {self.update_order!r}; valid: {', '.join(UPDATE_ORDERS)}"
            )

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
            "dynamics_names",
            "default_methods",
            "kind",
            "per_class",
            "eval_sizes",
        ):
            d.pop(k)
        # a field at its gan-toy value stays out of the key only where the protocol sets that
        # value too: an option that departs from the protocol (--update-order) is always named
        own = get_protocol(self.protocol).suite_fields(self.name)
        for k, default in GAN_TOY_FIELDS.items():
            if d[k] == default and own.get(k, default) == default:
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
        return dataclasses.replace(
            suite,
            n_eval=params.get("n_eval", suite.n_eval),
            update_order=params.get("update_order", suite.update_order),
        )

    def with_protocol(self, name: str) -> GaussianMixtureSuite:
        return dataclasses.replace(self, **get_protocol(name).suite_fields(self.name))

    def with_overrides(self, overrides: Mapping[str, Any]) -> GaussianMixtureSuite:
        """``{"protocol": NAME}`` (``--protocol``), then ``update_order`` (``--update-order``)
        over what the protocol sets."""
        extra = sorted(set(overrides) - set(self.OVERRIDABLE))
        if extra:
            raise BenchError(
                f"suite {self.name} takes no option {', '.join(extra)}; "
                f"toy suites take: {', '.join(self.OVERRIDABLE)}"
            )
        suite = self.with_protocol(overrides["protocol"]) if "protocol" in overrides else self
        if "update_order" in overrides:
            suite = dataclasses.replace(suite, update_order=overrides["update_order"])
        return suite

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
        points per mode). Under ``fresh_data`` the loop draws every batch from the mixture
        instead, and this set serves plots only."""
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
            elif self.nets == "veegan":
                G, D = veegan_nets(noise_dim + cond_dim, cond_dim, self.hidden, pack)
            else:  # pacgan (__post_init__ admits no other value)
                G, D = pacgan_nets(noise_dim + cond_dim, cond_dim, self.hidden, 200, 5, pack)
            if self.init_gain is not None:
                orthogonal_init(G, self.init_gain)
                orthogonal_init(D, self.init_gain)
            elif self.init_std is not None:
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

    def check_evaluable(self, samples: np.ndarray, what: str = "samples") -> np.ndarray:
        """What the full evaluation needs beyond :meth:`validate_samples`: enough rows for
        density/coverage's k = 5 neighbours, and coordinates whose squared distances stay
        finite (k-means and the kernels square them)."""
        arr = self.validate_samples(samples, what)
        if len(arr) < MIN_EVAL_ROWS:
            raise BenchError(
                f"{what} has {len(arr)} rows; the diversity metrics need at least "
                f"{MIN_EVAL_ROWS} (k = 5 neighbours each)"
            )
        if np.abs(arr).max() > MAX_COORDINATE:
            raise BenchError(
                f"{what} has coordinates beyond ±{MAX_COORDINATE:g}: their squared distances "
                "overflow; such samples are a diverged generator's"
            )
        return arr

    def snapshot(self, D: nn.Module, method) -> dict[str, np.ndarray]:
        """D's raw output on a grid over the plane (the greed paper Fig. 3's contours)."""
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
        """One point of the convergence curve: the coverage metrics (``curve_names``) and
        ``covered_mask``, which modes are covered (bit i: mode i), for mode-loss events."""
        cov = mode_coverage(
            self.validate_samples(samples),
            self.centers_array(),
            self.std,
            covered_within=self.covered_within,
            covered_rule=self.covered_rule,
            hq_within=self.hq_within,
            kl_over=self.kl_over,
        )
        return {**cov.as_dict(), "covered_mask": cov.covered_mask}

    def _coverage(self, samples: np.ndarray) -> dict:
        return {k: v for k, v in self.curve_metrics(samples).items() if k != "covered_mask"}

    def dynamics(self, evals) -> dict[str, float]:
        """Collapse over training from the run's evaluation curve (NaN without one)."""
        if evals is None or len(evals) == 0 or "modes_covered" not in evals:
            return dict.fromkeys(self.dynamics_names, float("nan"))
        masks = evals["covered_mask"].to_numpy() if "covered_mask" in evals else None
        return cd.mode_dynamics(
            evals["step"].to_numpy(), evals["modes_covered"].to_numpy(), self.n_modes, masks
        )

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


#: the fewest rows the full toy evaluation takes, and the largest coordinate (bench evaluate)
MIN_EVAL_ROWS = 6
MAX_COORDINATE = 1e100

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


#: the toy nets a protocol may name (suites/nets.py)
NETS = ("gan-toy", "dyngan", "pacgan", "veegan")
UPDATE_ORDERS = ("alternating", "simultaneous")

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
    "init_gain": None,
    "update_order": "alternating",
    "fresh_data": False,
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
