"""Greed-restricted WGAN (the greed paper, Eq. 9): the relaxation R = lambda_t E f(x_hat) is
added inside the critic's maximised objective, on top of weight-clipped WGAN:

  critic maximises  E f(x) - E f(G(z)) + lambda_t E f(x_hat),   x_hat as in Eq. 5, t ~ U[0, 0.5]
"""

from __future__ import annotations

from dataclasses import dataclass

from .base import batch_mean, decayed, interpolates
from .wgan import WGAN, WGANParams


@dataclass(frozen=True)
class GreedWGANParams(WGANParams):
    lambda0: float = 1.0
    decay_rate: float = 5.0
    t_max: float = 0.5


class GreedWGAN(WGAN):
    name = "greed-wgan"
    Params = GreedWGANParams

    def relaxation_weight(self, step: int) -> float:
        p = self.params
        return decayed(p.lambda0, p.decay_rate, step, self.total_steps)

    def critic_objective(self, D, real, fake, step, draw):
        x_hat = interpolates(real, fake, draw, t_max=self.params.t_max)
        r = self.relaxation_weight(step) * batch_mean(D(x_hat))
        return super().critic_objective(D, real, fake, step, draw) + r
