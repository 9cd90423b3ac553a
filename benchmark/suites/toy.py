"""Suite definitions: the data exactly as the literature defines it, the networks, the budgets.

A suite owns its data, its networks, its evaluation and its presets, so a method file holds
losses only and one method runs unchanged on every suite.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from ...metrics import collapse_dynamics as cd
from ...metrics import diversity as div
from ..errors import BenchError
from ..store.keys import omit_defaults
from ..store.spec import TrainConfig
from .base import ReportedMetrics
from .nets import OWN_INIT, toy_nets
from .protocol import GAN_TOY_FIELDS
from .protocols import (
    DEFAULT_PROTOCOL,
    NET_CHOICES,
    RING_LAYOUTS,
    TOY_DESCRIPTIONS,
    UPDATE_ORDERS,
    Protocol,
    get_protocol,
    linspace_ring,
)
from .toy_eval import MixtureEvaluation

#: the largest --batch-size: a batch of a million 2-D points and their noise fits in memory
MAX_BATCH = 1_000_000


def _from_protocol(name: str) -> property:
    """A suite attribute that is its protocol's setting of the same name."""
    return property(lambda self: getattr(self.protocol, name), doc=f"the protocol's {name}")


def _radius(name: str) -> property:
    """A protocol's radius (std multiples), or the one ``bench evaluate --within`` gave."""
    return property(
        lambda self: getattr(self.protocol, name) if self.within is None else self.within,
        doc=f"the protocol's {name}, unless --within overrides it",
    )


@dataclass(frozen=True)
class GaussianMixtureSuite(MixtureEvaluation, ReportedMetrics):
    """A 2-D mixture of equal-weight isotropic Gaussians, evaluated by mode coverage.

    The suite *holds* the protocol it runs under: data, nets, budgets and evaluation are the
    protocol's (``suites/protocols.py``), read through the properties below, never copied."""

    name: str
    description: str
    protocol: Protocol
    #: ``--update-order``: a run that departs from its protocol's order in this one stated way,
    #: to measure why a number differs from the published one (None: the protocol's order)
    order: str | None = None
    #: ``--ring linspace``: the ring as its sources' code builds it (``linspace_ring``), to
    #: measure what that layout changes (None: the protocol's ring of distinct modes)
    ring: str | None = None
    #: ``--nets NAME``: other toy nets than the protocol's (``NET_CHOICES``), to measure what
    #: the nets change (None: the protocol's)
    net_choice: str | None = None
    #: ``--batch-size N``: every preset's batch size replaced by N, to measure what the batch
    #: changes (None: each preset's own)
    batch: int | None = None
    #: ``bench evaluate --within K``: one radius, in std, for both high quality and coverage
    #: (VEEGAN's evaluation code uses one), instead of the protocol's (None)
    within: float | None = None
    #: the evaluation size a run's key records (smoke presets evaluate fewer samples)
    eval_n: int | None = None
    data_seed: int = 20180101
    #: the metrics of every evaluation, including the convergence curve's (evals.csv)
    metric_names: tuple[str, ...] = ("modes_covered", "hq_fraction", "reverse_kl")
    #: computed on the final samples only (metrics/diversity.py, on raw 2-D coordinates)
    diversity_names: tuple[str, ...] = div.METRIC_NAMES
    #: collapse over training, from the evaluation curve (metrics/collapse_dynamics.py)
    dynamics_names: tuple[str, ...] = cd.NAMES
    #: what `bench run` trains when --methods is not given (`--methods all` for every method)
    default_methods: tuple[str, ...] = ("gan", "wgan", "wgan-gp", "greed-gan", "greed-wgan")
    kind: ClassVar[str] = "toy"
    per_class: ClassVar[bool] = False
    #: samples kept per training snapshot (samples.png, the report's scatter plots)
    snapshot_samples: ClassVar[int] = 1000
    #: image suites keep G at every snapshot (bench critic); a toy's whole output is its samples
    stores_generators: ClassVar[bool] = False
    #: mixed precision and channels-last pay for conv nets on a GPU, not for 2-D MLPs
    amp_capable: ClassVar[bool] = False
    #: evaluated on pretrained image features (Inception, DINOv2): not a 2-D mixture
    image_features: ClassVar[bool] = False
    #: bench agreement ranks every metric against this one: (metric, how captions name it)
    agreement_reference: ClassVar[tuple[str, str]] = ("modes_covered", "modes covered")
    #: suite options besides the protocol (``--update-order``)
    OVERRIDABLE = ("protocol", "update_order", "ring", "nets", "batch_size")

    def __post_init__(self) -> None:
        centers = self.protocol.mixture(self.name).centers  # one line when not defined here
        if self.order is not None and self.order not in UPDATE_ORDERS:
            raise BenchError(
                f"unknown update order {self.order!r}; valid: {', '.join(UPDATE_ORDERS)}"
            )
        if self.net_choice is not None and self.net_choice not in NET_CHOICES:
            raise BenchError(f"unknown nets {self.net_choice!r}; valid: {', '.join(NET_CHOICES)}")
        if self.batch is not None and not (
            isinstance(self.batch, int)
            and not isinstance(self.batch, bool)
            and 1 <= self.batch <= MAX_BATCH
        ):
            raise BenchError(
                f"--batch-size must be a whole number from 1 to {MAX_BATCH:,}, got {self.batch!r}"
            )
        if self.within is not None and not (math.isfinite(self.within) and self.within > 0):
            raise BenchError(f"--within must be a positive number of std, got {self.within}")
        if self.ring is not None:
            if self.ring not in RING_LAYOUTS:
                raise BenchError(f"unknown ring {self.ring!r}; valid: {', '.join(RING_LAYOUTS)}")
            if len({round(math.hypot(x, y), 9) for x, y in centers}) != 1:
                raise BenchError(f"--ring applies to ring suites; {self.name}'s modes are no ring")

    # -- what the protocol sets ------------------------------------------------------------
    @property
    def centers(self) -> tuple[tuple[float, float], ...]:
        """The mixture's equal-weight components; a mode drawn twice as often is listed twice."""
        centers = self.protocol.mixture(self.name).centers
        if self.ring == "linspace":
            return linspace_ring(math.hypot(*centers[0]), len(centers))
        return centers

    @property
    def modes(self) -> tuple[tuple[float, float], ...]:
        """The distinct modes, in order of first appearance: what coverage counts."""
        return tuple(dict.fromkeys(self.centers))

    @property
    def mode_weights(self) -> np.ndarray:
        """Each mode's probability under the mixture (reverse KL's reference)."""
        return np.array([self.centers.count(m) for m in self.modes]) / len(self.centers)

    @property
    def std(self) -> float:
        return self.protocol.mixture(self.name).std

    @property
    def n_train(self) -> int:
        """Size of the fixed training set every method and seed sees (0 with ``n_per_mode``)."""
        return self.protocol.n_train if self.protocol.n_per_mode is None else 0

    # read straight from the protocol (suites/protocols.py documents each)
    n_per_mode = _from_protocol("n_per_mode")
    hidden = _from_protocol("hidden")
    depth = _from_protocol("depth")
    noise_dim = _from_protocol("noise_dim")

    @property
    def init_std(self) -> float | None:
        """The protocol's Gaussian init std; None for nets that carry their own init."""
        return None if self.nets in OWN_INIT else self.protocol.init_std

    @property
    def init_gain(self) -> float | None:
        """The protocol's orthogonal init gain; None for nets that carry their own init."""
        return None if self.nets in OWN_INIT else self.protocol.init_gain

    method_defaults = _from_protocol("method_defaults")

    @property
    def presets(self) -> Mapping[str, TrainConfig]:
        """The protocol's presets, each with ``--batch-size``'s batch where one was given."""
        if self.batch is None:
            return self.protocol.presets
        return {
            k: dataclasses.replace(tc, batch_size=self.batch)
            for k, tc in self.protocol.presets.items()
        }

    eval_sizes = _from_protocol("eval_sizes")
    covered_rule = _from_protocol("covered_rule")
    covered_within = _radius("covered_within")
    hq_within = _radius("hq_within")
    kl_over = _from_protocol("kl_over")
    fresh_data = _from_protocol("fresh_data")

    @property
    def n_eval(self) -> int:
        return self.protocol.n_eval if self.eval_n is None else self.eval_n

    @property
    def nets(self) -> str:
        """The toy nets this suite builds: ``--nets``, else the protocol's."""
        return self.protocol.nets if self.net_choice is None else self.net_choice

    @property
    def update_order(self) -> str:
        return self.protocol.update_order if self.order is None else self.order

    # -- identity ----------------------------------------------------------------------------
    def params(self, preset: str | None = None) -> dict[str, Any]:
        """What defines the suite's data, nets and evaluation; part of every run's config hash.
        A field at its gan-toy value stays out of the key only where the protocol sets that
        value too (``store/keys.py``'s rule): an option that departs from the protocol, such as
        ``--update-order``, is always named."""
        d = {
            "name": self.name,
            "centers": [list(c) for c in self.centers],
            "std": self.std,
            "n_train": self.n_train,
            "data_seed": self.data_seed,
            "n_eval": self.eval_size(preset),
            "noise_dim": self.noise_dim,
            "hidden": self.hidden,
            "depth": self.depth,
            **{k: getattr(self, k) for k in GAN_TOY_FIELDS if k != "protocol"},
            "protocol": self.protocol.name,
            **({"ring": self.ring} if self.ring else {}),
            **({"within": self.within} if self.within is not None else {}),
        }
        own = self.with_protocol(self.protocol.name)  # the protocol's values, no departures
        legacy = {k: v for k, v in GAN_TOY_FIELDS.items() if _value(own, k) == v}
        return omit_defaults(d, legacy)

    def eval_size(self, preset: str | None = None) -> int:
        """Samples a run of ``preset`` evaluates."""
        return self.eval_sizes.get(preset, self.n_eval) if preset is not None else self.n_eval

    def resolve(self, params: Mapping[str, Any]) -> GaussianMixtureSuite:
        """The suite a run's config describes: its protocol (gan-toy when the key has none),
        its update order, its ring, its nets and its evaluation size."""
        suite = self.with_protocol(params.get("protocol", "gan-toy"))
        order = params.get("update_order", suite.update_order)
        nets = params.get("nets", suite.nets)
        return dataclasses.replace(
            suite,
            eval_n=params.get("n_eval", suite.n_eval),
            order=None if order == suite.protocol.update_order else order,
            ring=params.get("ring"),
            net_choice=None if nets == suite.protocol.nets else nets,
        )

    def with_protocol(self, name: str) -> GaussianMixtureSuite:
        return dataclasses.replace(
            self,
            protocol=get_protocol(name),
            order=None,
            eval_n=None,
            ring=None,
            net_choice=None,
            batch=None,
        )

    def with_overrides(self, overrides: Mapping[str, Any]) -> GaussianMixtureSuite:
        """``{"protocol": NAME}`` (``--protocol``), then ``update_order`` (``--update-order``),
        ``ring`` (``--ring``) and ``nets`` (``--nets``) over what the protocol sets."""
        extra = sorted(set(overrides) - set(self.OVERRIDABLE))
        if extra:
            raise BenchError(
                f"suite {self.name} takes no option {', '.join(extra)}; "
                f"toy suites take: {', '.join(self.OVERRIDABLE)}"
            )
        suite = self.with_protocol(overrides["protocol"]) if "protocol" in overrides else self
        if "update_order" in overrides:
            suite = dataclasses.replace(suite, order=overrides["update_order"])
        if "ring" in overrides:  # the protocol's own ring of distinct modes is None
            ring = overrides["ring"]
            suite = dataclasses.replace(suite, ring=None if ring == "distinct" else ring)
        if "nets" in overrides:  # the protocol's own nets are None
            nets = overrides["nets"]
            suite = dataclasses.replace(
                suite, net_choice=None if nets == suite.protocol.nets else nets
            )
        if "batch_size" in overrides:  # an int, or digits (bench variants --vary batch_size=..)
            batch = overrides["batch_size"]
            if isinstance(batch, str) and batch.isascii() and batch.isdigit():
                batch = int(batch)
            suite = dataclasses.replace(suite, batch=batch)
        return suite

    def scored_within(self, k: float) -> GaussianMixtureSuite:
        """``bench evaluate --within K``: the same suite, scored at one radius of K std. Not a
        suite option of ``run`` or ``variants``: it changes no training, only the scoring."""
        return dataclasses.replace(self, within=k)

    def command_options(self, given: Mapping[str, Any]) -> dict[str, Any]:
        """The suite options of a command line (``given``: --protocol, --update-order, --ring,
        --nets, None where not given): toy suites always name their protocol (the default one
        when --protocol is not given), so tables of different protocols never share a folder;
        the others are named only where they depart from what the protocol sets."""
        protocol = get_protocol(given.get("protocol") or DEFAULT_PROTOCOL)
        # a batch size given is always named: the presets of one protocol differ in batch
        own = {
            "update_order": protocol.update_order,
            "ring": "distinct",
            "nets": protocol.nets,
            "batch_size": None,
        }
        opts: dict[str, Any] = {"protocol": protocol.name}
        opts |= {k: v for k, v in given.items() if k in own and v is not None}
        self.with_overrides(opts)  # a bad combination is one line here, before any work
        return {k: v for k, v in opts.items() if k == "protocol" or v != own[k]}

    def preset_lines(self) -> list[str]:
        """`bench list`'s lines on this suite's budgets."""
        return ["presets: those of its protocol (below)"]

    def classes(self, data_root=None) -> tuple[None]:
        return (None,)

    def check_ready(self, data_root=None) -> None:
        """Nothing to load: the mixture is generated."""

    # -- data --------------------------------------------------------------------------------
    @property
    def n_modes(self) -> int:
        return len(self.modes)

    def centers_array(self) -> np.ndarray:
        """The distinct modes' means, (n_modes, 2)."""
        return np.asarray(self.modes, dtype=np.float64)

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

    def net_sizes(self) -> dict[str, Any]:
        """What sets a training step's cost (`bench perf` reports it)."""
        return {
            "hidden_width": self.hidden,
            "hidden_layers": self.depth,
            "noise_dim": self.noise_dim,
        }

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
            return toy_nets(
                self.nets, noise_dim, cond_dim, hidden, self.hidden, self.depth, pack,
                init_gain=self.init_gain, init_std=self.init_std,
            )  # fmt: skip


def _value(suite: GaussianMixtureSuite, key: str) -> Any:
    return suite.protocol.name if key == "protocol" else getattr(suite, key)


#: every toy suite, under the default protocol (``--protocol`` picks another); a suite is a
#: mixture that the protocols define (``TOY_DESCRIPTIONS`` and ``Protocol.mixtures``)
TOY_SUITES: dict[str, GaussianMixtureSuite] = {
    name: GaussianMixtureSuite(name, description, get_protocol(DEFAULT_PROTOCOL))
    for name, description in TOY_DESCRIPTIONS.items()
}
