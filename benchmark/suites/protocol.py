"""The ``Protocol`` object: a named, frozen bundle of everything that decides a 2-D mixture's
mode-coverage number (data, nets, initialisation, noise, optimiser, batch, budget, evaluation),
and the helpers the published protocols are written with (``protocols.py`` holds them)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import BenchError
from ..store.spec import TrainConfig

GRID = tuple((float(x), float(y)) for x in (-4, -2, 0, 2, 4) for y in (-4, -2, 0, 2, 4))


def ring(radius: float, k: int = 8) -> tuple[tuple[float, float], ...]:
    return tuple(
        (radius * math.cos(2 * math.pi * i / k), radius * math.sin(2 * math.pi * i / k))
        for i in range(k)
    )


#: ``--ring``: the ring as the tables describe it (k distinct modes at 2 pi i / k), or as the
#: code behind VEEGAN's and GDPP's tables builds it (``linspace``, below)
RING_LAYOUTS = ("distinct", "linspace")


def linspace_ring(radius: float, k: int = 8) -> tuple[tuple[float, float], ...]:
    """The ring of poolio/unrolled_gan and M-Elfeki/GDPP: components at (r sin t, r cos t) for
    t in linspace(0, 2 pi, k). linspace includes both ends, so the last component is the first
    again: k - 1 distinct modes, the one at t = 0 drawn twice as often (written here as an exact
    repeat, where the source's sin(2 pi) is -2.4e-16)."""
    angles = [2 * math.pi * (i % (k - 1)) / (k - 1) for i in range(k)]
    return tuple((radius * math.sin(t), radius * math.cos(t)) for t in angles)


#: the toy settings of gan_toy.py (Gulrajani et al.): lambda 0.1 on the toy sets
GP_TOY = {"wgan-gp": {"gp_lambda": 0.1}, "curriculum-wgan-gp": {"gp_lambda": 0.1}}


#: methods whose papers fix their optimiser keep it under a protocol whose source did not train
#: them (WGAN: RMSprop 5e-5; WGAN-GP: Adam 1e-4, (0.5, 0.9), with gan_toy.py's toy lambda 0.1;
#: SNGAN: Adam 2e-4, (0, 0.9)); these override a protocol's "*" entry
OWN_OPTIMISERS: dict[str, dict[str, float]] = {
    "wgan": {"lr": 5e-5},
    "greed-wgan": {"lr": 5e-5},
    "wgan-gp": {"lr": 1e-4, "beta1": 0.5, "beta2": 0.9, "gp_lambda": 0.1},
    "curriculum-wgan-gp": {"lr": 1e-4, "beta1": 0.5, "beta2": 0.9, "gp_lambda": 0.1},
    "sngan": {"lr": 2e-4, "beta1": 0.0, "beta2": 0.9},
}


#: the toy nets a protocol may name (suites/nets.py builds each)
NETS = ("gan-toy", "dyngan", "pacgan", "veegan")
#: ``--nets``: the nets a toy run may build instead of its protocol's: any protocol's, or the
#: nets of VEEGAN's released notebook, which no protocol names (``nets.veegan_code_nets``)
NET_CHOICES = (*NETS, "veegan-code", "veegan-code-torch-init")
#: "alternating": D steps, then G steps on fresh noise; "simultaneous": G's step and D's (last)
#: step come from one forward pass and update together (``training/loop.py``)
UPDATE_ORDERS = ("alternating", "simultaneous")

#: the toy suites: each is a mixture that every protocol defines in its ``mixtures``
TOY_DESCRIPTIONS = {
    "gaussians25": "25 Gaussians on a 5x5 grid {-4,-2,0,2,4}^2 (PacGAN, VEEGAN, DynGAN)",
    "ring8": "8 Gaussians on a ring (PacGAN: radius 1; DynGAN: radius 2)",
}


@dataclass(frozen=True)
class Mixture:
    """Centres and per-coordinate std of one suite's mixture under a protocol."""

    centers: tuple[tuple[float, float], ...]
    std: float


#: samples a smoke run evaluates (the tests train hundreds; Vendi's 2,000-sample kernel was 15 %
#: of the test suite's in-process time)
SMOKE_EVAL = 1_000


@dataclass(frozen=True)
class Protocol:
    name: str
    source: str
    summary: str
    #: suite name -> its mixture under this protocol
    mixtures: Mapping[str, Mixture]
    #: fixed training set: ``n_train`` points drawn from the mixture, or ``n_per_mode`` per mode
    n_train: int | None
    n_per_mode: int | None
    #: nets: "gan-toy" (ReLU MLPs), "dyngan" (net.py), "pacgan" (BN MLP G, maxout D)
    nets: str
    hidden: int
    depth: int
    noise_dim: int
    #: N(0, init_std) weights and zero biases; None: PyTorch's default initialisation
    init_std: float | None
    method_defaults: Mapping[str, Mapping[str, Any]]
    presets: Mapping[str, TrainConfig]
    n_eval: int
    #: a mode is covered when ``covered_rule`` holds within ``covered_within`` std:
    #: "nearest" = it is the nearest mode of a sample within that distance (PacGAN, VEEGAN);
    #: "any" = some sample lies within that distance of it (DynGAN's sampler2.py)
    covered_within: float
    covered_rule: str
    #: high quality: within ``hq_within`` std of the nearest mode
    hq_within: float
    #: reverse KL over the nearest-mode histogram of "all" samples or only the "hq" ones
    kl_over: str
    trials: int | None
    #: suite -> published row label -> metric -> (mean, standard error over ``trials``); the
    #: error is None where the source publishes no spread
    published: Mapping[str, Mapping[str, Mapping[str, tuple[float, float | None]]]] = field(
        default_factory=dict
    )
    #: published row label -> our method that reproduces it (None: published only)
    published_methods: Mapping[str, str | None] = field(default_factory=dict)
    #: suite -> (published row label, metric) -> the measured reason a "differs" verdict has
    differences: Mapping[str, Mapping[tuple[str, str], str]] = field(default_factory=dict)
    #: how captions cite the published table ("PacGAN Table 1")
    published_as: str = ""
    #: the preset that follows the source's budget (verdicts need it)
    published_preset: str = "paper"
    open_details: tuple[str, ...] = ()
    #: presets that evaluate fewer samples than ``n_eval``: smoke is a quick check of the code
    #: path (CI runs it hundreds of times), not the protocol's evaluation
    eval_sizes: Mapping[str, int] = field(default_factory=lambda: {"smoke": SMOKE_EVAL})
    #: orthogonal initialisation with this gain instead of ``init_std`` (VEEGAN/GDPP)
    init_gain: float | None = None
    #: "alternating" (D, then G on fresh noise) or "simultaneous" (one forward pass, both
    #: updated together, as ALI's and GDPP's code do); the loop honours it for every method
    update_order: str = "alternating"
    #: every real batch drawn fresh from the mixture instead of from a fixed training set
    fresh_data: bool = False

    def eval_size(self, preset: str) -> int:
        """Samples a run of ``preset`` evaluates under this protocol."""
        return self.eval_sizes.get(preset, self.n_eval)

    def __post_init__(self) -> None:
        if self.nets not in NETS:
            raise BenchError(f"unknown toy nets {self.nets!r}; valid: {', '.join(NETS)}")
        if self.update_order not in UPDATE_ORDERS:
            raise BenchError(
                f"unknown update order {self.update_order!r}; valid: {', '.join(UPDATE_ORDERS)}"
            )

    def mixture(self, suite: str) -> Mixture:
        """The mixture this protocol defines for a toy suite."""
        if suite not in self.mixtures:
            raise BenchError(
                f"protocol {self.name} does not define suite {suite}; "
                f"it defines: {', '.join(self.mixtures)}"
            )
        return self.mixtures[suite]


def budget(steps: int, batch: int, evals: int = 20, **kw) -> TrainConfig:
    log = max(1, steps // 100)
    return TrainConfig(
        steps=steps,
        batch_size=batch,
        log_every=log,
        checkpoint_every=max(log, steps // 10),
        n_evals=evals,
        **kw,
    )


def smoke_budget(batch: int) -> TrainConfig:
    return TrainConfig(
        steps=30, batch_size=batch, log_every=5, checkpoint_every=10, n_snapshots=2, n_evals=3
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
    "init_gain": None,
    "update_order": "alternating",
    "fresh_data": False,
}
