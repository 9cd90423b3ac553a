"""SN-GAN (Miyato et al. 2018): spectrally normalised discriminator, hinge loss.

  W_SN = W / sigma(W),  sigma estimated by one power iteration per forward pass (Algorithm 1)
  L_D = E relu(1 - D(x)) + E relu(1 + D(G(z)))
  L_G = -E D(G(z))
  Adam lr 2e-4, betas (0.0, 0.9), n_dis = 5: the hinge-loss setting of the authors' code
  (pfnet-research/sngan_projection, configs/sn_cifar10_unconditional.yml).

Suites build plain networks, so ``prepare`` puts torch's spectral-norm parametrization on
every Linear / Conv layer of D before D's optimiser is made (the optimiser then holds the
unnormalised weights W). The loop calls ``prepare`` before loading a checkpoint, so a resumed
D has the same parametrized layout and its state_dict (W, and the power iteration's u, v)
round-trips. Creating the parametrization draws random u, v; a fixed seed inside ``fork_rng``
keeps that draw reproducible and the global RNG untouched (15 initial power iterations then
start u, v near the top singular vectors of the run's own D weights).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import parametrize
from torch.nn.utils.parametrizations import spectral_norm

from .base import Method, Params, adam, batch_mean

NORMALISED = (
    nn.Linear,
    nn.Conv1d,
    nn.Conv2d,
    nn.Conv3d,
    nn.ConvTranspose1d,
    nn.ConvTranspose2d,
    nn.ConvTranspose3d,
)


@dataclass(frozen=True)
class SNGANParams(Params):
    lr: float = 2e-4
    beta1: float = 0.0
    beta2: float = 0.9
    n_critic: int = 5
    n_power_iterations: int = 1


def spectral_normalise(D: nn.Module, n_power_iterations: int = 1) -> nn.Module:
    """Parametrize every Linear/Conv weight of ``D`` in place as W / sigma(W); idempotent."""
    layers = [
        m
        for m in D.modules()
        if isinstance(m, NORMALISED) and not parametrize.is_parametrized(m, "weight")
    ]
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        for m in layers:
            spectral_norm(m, n_power_iterations=n_power_iterations)
    return D


class SNGAN(Method):
    name = "sngan"
    Params = SNGANParams

    unstackable = "spectral-norm parametrizations update their power-iteration vectors in place"

    def prepare(self, G, D):
        spectral_normalise(D, self.params.n_power_iterations)

    def optimizers(self, G, D):
        p = self.params
        return adam(G, p.lr, (p.beta1, p.beta2)), adam(D, p.lr, (p.beta1, p.beta2))

    def d_loss(self, D, real, fake, step, draw):
        return batch_mean(F.relu(1 - D(real))) + batch_mean(F.relu(1 + D(fake)))

    def g_loss(self, D, real, fake, step, draw):
        return -batch_mean(D(fake))
