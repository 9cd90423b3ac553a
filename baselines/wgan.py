"""WGAN with weight clipping (Arjovsky et al. 2017, Algorithm 1).

critic maximises  E f(x) - E f(G(z))   ->  L_D = -(E f(x) - E f(G(z)))
L_G = -E f(G(z))
after every critic step: w <- clip(w, -c, c);  RMSprop, lr 5e-5, n_critic = 5.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .base import Method, Params


@dataclass(frozen=True)
class WGANParams(Params):
    lr: float = 5e-5
    clip: float = 0.01
    n_critic: int = 5


class WGAN(Method):
    name = "wgan"
    Params = WGANParams

    def __init__(self, params, total_steps):
        super().__init__(params, total_steps)
        self.n_critic = params.n_critic

    def optimizers(self, G, D):
        lr = self.params.lr
        return torch.optim.RMSprop(G.parameters(), lr=lr), torch.optim.RMSprop(
            D.parameters(), lr=lr
        )

    def critic_objective(self, D, real, fake, step, rng):
        return D(real).mean() - D(fake).mean()

    def d_loss(self, D, real, fake, step, rng):
        return -self.critic_objective(D, real, fake, step, rng)

    def g_loss(self, D, fake, step):
        return -D(fake).mean()

    @torch.no_grad()
    def after_d_step(self, D):
        for p in D.parameters():
            p.clamp_(-self.params.clip, self.params.clip)
