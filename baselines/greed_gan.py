"""Greed-restricted GAN (the greed paper, "Restricting greed in training of GAN", Eqs. 2-5).

L_D = -[ E log D(x) + E log(1 - D(G(z))) + R ],   R = lambda_t E log D(x_hat)
x_hat = (1 - t) x + t y,  x real, y = G(z), t ~ U[0, 0.5] per sample
lambda_t = lambda_0 exp(-rate t / T)   (exponential decay; constants are ours, see base.decayed)
L_G as in `gan` (non-saturating by default).
"""

from __future__ import annotations

from dataclasses import dataclass

from .base import batch_mean, decayed, interpolates
from .gan import GAN, GANParams, log_d


@dataclass(frozen=True)
class GreedGANParams(GANParams):
    lambda0: float = 1.0
    decay_rate: float = 5.0
    t_max: float = 0.5


class GreedGAN(GAN):
    name = "greed-gan"
    Params = GreedGANParams

    def relaxation_weight(self, step: int) -> float:
        p = self.params
        return decayed(p.lambda0, p.decay_rate, step, self.total_steps)

    def d_loss(self, D, real, fake, step, draw):
        x_hat = interpolates(real, fake, draw, t_max=self.params.t_max)
        r = self.relaxation_weight(step) * batch_mean(log_d(D(x_hat)))
        return super().d_loss(D, real, fake, step, draw) - r
