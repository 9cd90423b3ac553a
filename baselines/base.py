"""The small interface every method implements; the shared loop in
``collapsebench.benchmark.train`` does everything else (data, noise, steps, checkpoints).

A method sees networks that return *raw scores*: logits for GAN-type losses, critic values for
Wasserstein losses. It never samples data or noise itself; the only randomness it may use is the
``torch.Generator`` the loop hands to ``d_loss`` (e.g. for interpolation coefficients), so runs
stay reproducible and resumable.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import nn


@dataclass(frozen=True)
class Params:
    """Hyper-parameters of a method. Subclasses add fields; every field lands in the run config."""


class Method:
    name: ClassVar[str] = ""
    Params: ClassVar[type[Params]] = Params
    #: critic (discriminator) updates per generator update
    n_critic: int = 1
    #: samples packed into one discriminator input (PacGAN); the loop draws batch x pack samples
    pack: int = 1

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
    t = torch.rand(shape, generator=rng, device=real.device, dtype=real.dtype) * t_max
    return (1 - t) * real + t * fake
