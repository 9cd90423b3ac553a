"""The small interface every method implements; the shared loop in
``collapsebench.benchmark.train`` does everything else (data, noise, steps, checkpoints).

A method sees networks that return *raw scores*: logits for GAN-type losses, critic values for
Wasserstein losses. It never samples data or noise itself; the only randomness it may use is the
``torch.Generator`` the loop hands to it (``d_loss``, and the hooks below), so runs stay
reproducible and resumable.

Most methods only define losses. A method that changes *what the networks see* (e.g. a condition
code appended to G's noise and D's input, as `dyngan` and `scgan` do) overrides the hooks in the
"loop hooks" section of `Method`; their defaults are the plain loop, bit for bit:

  net_config() -> dict                          suite network settings the method asks for
  real_batch(data, B, rng) -> (real_for_D, idx) draw a real batch (and which rows it used)
  fake_batch(G, noise, rng) -> fake_for_D       generated batch as D sees it
  sample(G, noise, rng) -> samples              plain samples (snapshots, evaluation)
  disc_on(D, x) -> scores                       D's raw output on plain points (plots)
  observe(D, data, idx, done, rng)              after every generator step
  state_dict() / load_state_dict(state)         method state kept in checkpoints
  history() -> DataFrame | None                 written as partitions.csv at the end
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any, ClassVar

import torch
from torch import nn

#: field metadata key: a parameter added after runs already exist marks itself with
#: ``field(default=..., metadata={OMIT_IF_DEFAULT: True})``; while it holds its default (which must
#: reproduce the old behaviour) it is left out of the run config, so existing run keys stay valid.
OMIT_IF_DEFAULT = "omit_if_default"


#: what a hyper-parameter of a conventional name may be, for every method (plugins included):
#: name -> (test, what is valid). One table, so "lr" means the same everywhere.
RULES: dict[str, tuple[Callable[[float], bool], str]] = {
    **dict.fromkeys(("lr", "lr_d", "lr_g", "clip"), (lambda v: v > 0, "a positive number")),
    **dict.fromkeys(("beta1", "beta2"), (lambda v: 0 <= v < 1, "in [0, 1)")),
    **dict.fromkeys(
        ("n_critic", "n_power_iterations"), (lambda v: v >= 1, "an integer of at least 1")
    ),
    **dict.fromkeys(
        ("gp_lambda", "lambda0", "decay_rate", "unroll_steps"), (lambda v: v >= 0, "at least 0")
    ),
    "t_max": (lambda v: 0 < v <= 1, "in (0, 1]"),
}


@dataclass(frozen=True)
class Params:
    """Hyper-parameters of a method. Subclasses add fields; every field lands in the run config
    (and so in the run key), except ``OMIT_IF_DEFAULT`` fields at their default.

    Validation: every number must be finite, and every field named in ``RULES`` must satisfy
    its rule; a subclass adds its own checks in ``__post_init__`` after calling ``super()``'s.
    A ``ValueError`` here reaches the user as one line (``bench run --set lr=-1``)."""

    def __post_init__(self) -> None:
        for f in fields(self):
            v = getattr(self, f.name)
            if isinstance(v, bool) or not isinstance(v, int | float):
                continue
            if not math.isfinite(v):
                raise ValueError(f"{f.name} must be a finite number, got {v}")
            rule = RULES.get(f.name)
            if rule is not None and not rule[0](v):
                raise ValueError(f"{f.name} must be {rule[1]}, got {v}")


class Method:
    name: ClassVar[str] = ""
    Params: ClassVar[type[Params]] = Params
    #: critic (discriminator) updates per generator update
    n_critic: int = 1
    #: samples packed into one discriminator input (PacGAN); the loop draws batch x pack samples
    pack: int = 1
    #: image suites: BatchNorm in D. A per-sample gradient penalty must set False (batch
    #: statistics couple the samples whose gradients it penalises, Gulrajani et al. Sec. 4)
    d_batchnorm: bool = True

    def __init__(self, params: Params, total_steps: int):
        self.params = params
        self.total_steps = total_steps

    def optimizers(
        self, generator: nn.Module, discriminator: nn.Module
    ) -> tuple[torch.optim.Optimizer, torch.optim.Optimizer]:
        raise NotImplementedError

    def d_loss(
        self, D: nn.Module, real: torch.Tensor, fake: torch.Tensor, step: int, rng: torch.Generator
    ) -> torch.Tensor:
        """Scalar loss the discriminator minimises; ``fake`` is already detached."""
        raise NotImplementedError

    def g_loss(self, D: nn.Module, fake: torch.Tensor, step: int) -> torch.Tensor:
        """Scalar loss the generator minimises."""
        raise NotImplementedError

    def after_d_step(self, D: nn.Module) -> None:
        """Hook after each discriminator update (WGAN's weight clipping)."""

    # -- loop hooks: the defaults reproduce the plain loop exactly ------------------------------
    def net_config(self) -> dict[str, int]:
        """Suite network settings this method asks for, passed to ``suite.build_nets``. Keys (all
        optional): ``hidden`` (width instead of the suite's), ``noise_dim`` (G's noise size; the
        loop then draws noise of that size), ``cond_dim`` (extra input width appended to G's
        noise and to D's sample for a condition code). Put them in ``Params`` so they are part of
        the run config. Default: {} (the suite's nets)."""
        return {}

    def real_batch(
        self, data: torch.Tensor, batch: int, rng: torch.Generator
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """A real batch as D sees it, and the training-set rows it was drawn from."""
        idx = torch.randint(len(data), (batch,), generator=rng)
        return data[idx], idx

    def fake_batch(self, G: nn.Module, noise: torch.Tensor, rng: torch.Generator) -> torch.Tensor:
        """A generated batch as D sees it (with gradient to G; the loop adds no_grad for D's
        step). ``noise`` is already drawn from ``rng``; draw anything else from ``rng`` after it."""
        return G(noise)

    def sample(self, G: nn.Module, noise: torch.Tensor, rng: torch.Generator) -> torch.Tensor:
        """Plain data-space samples for snapshots and evaluation. ``rng`` is a fixed stream of its
        own (re-seeded for every call), not the training stream."""
        return G(noise)

    def disc_on(self, D: nn.Module, x: torch.Tensor) -> torch.Tensor:
        """D's raw output on plain points ``x`` (the plots' contour grid); a packed D sees each
        point repeated ``pack`` times."""
        return D(x.repeat_interleave(self.pack, dim=0))

    def observe(
        self,
        D: nn.Module,
        data: torch.Tensor,
        idx: torch.Tensor,
        done: int,
        rng: torch.Generator,
    ) -> None:
        """Called after every generator step, before any checkpoint: ``idx`` are the training-set
        rows of all real batches of the step, ``done`` the generator steps completed so far."""

    def state_dict(self) -> dict[str, Any]:
        """Method state that must survive a resume (saved in every checkpoint)."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what ``state_dict`` returned."""

    def history(self) -> Any:
        """A ``pandas.DataFrame`` written next to curves.csv as partitions.csv, or None."""
        return None


def adam(module: nn.Module, lr: float, betas: tuple[float, float]) -> torch.optim.Adam:
    return torch.optim.Adam(module.parameters(), lr=lr, betas=betas)


def decayed(initial: float, rate: float, step: int, total_steps: int) -> float:
    """Exponential decay lambda_t = lambda_0 * exp(-rate * t / T), T the run's generator steps.

    Seed 003 decays the relaxation weight exponentially but gives no constants; expressing the
    rate per training run keeps the exploration/exploitation split the same across presets.
    """
    return initial * math.exp(-rate * step / max(total_steps, 1))


def interpolates(
    real: torch.Tensor, fake: torch.Tensor, rng: torch.Generator, t_max: float = 1.0
) -> torch.Tensor:
    """x_hat = (1 - t) x + t y, with t ~ U[0, t_max] drawn per sample (seed 003 Eq. 5)."""
    shape = (real.shape[0],) + (1,) * (real.dim() - 1)
    # drawn on the CPU stream, then moved: the same t on every device
    t = torch.rand(shape, generator=rng, dtype=real.dtype).to(real.device) * t_max
    return (1 - t) * real + t * fake
