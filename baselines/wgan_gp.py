"""WGAN-GP (Gulrajani et al. 2017, Algorithm 1).

  L_D = E f(G(z)) - E f(x) + lambda * E (||grad_x_hat f(x_hat)||_2 - 1)^2,
        x_hat = e x + (1 - e) G(z),  e ~ U[0, 1]
  L_G = -E f(G(z));  Adam lr 1e-4, betas (0.5, 0.9), n_critic = 5.

lambda is 10 as in the paper; the toy suites default to 0.1 as the authors' gan_toy.py does.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .base import Method, Params, adam, interpolates


@dataclass(frozen=True)
class WGANGPParams(Params):
    lr: float = 1e-4
    beta1: float = 0.5
    beta2: float = 0.9
    gp_lambda: float = 10.0
    n_critic: int = 5


def gradient_penalty(D, real, fake, rng) -> torch.Tensor:
    x_hat = interpolates(real, fake, rng).requires_grad_(True)
    (grad,) = torch.autograd.grad(D(x_hat).sum(), x_hat, create_graph=True)
    return ((grad.flatten(1).norm(2, dim=1) - 1) ** 2).mean()


class WGANGP(Method):
    name = "wgan-gp"
    Params = WGANGPParams
    d_batchnorm = False

    def __init__(self, params, total_steps):
        super().__init__(params, total_steps)
        self.n_critic = params.n_critic

    def optimizers(self, G, D):
        p = self.params
        return adam(G, p.lr, (p.beta1, p.beta2)), adam(D, p.lr, (p.beta1, p.beta2))

    def d_loss(self, D, real, fake, step, rng):
        wasserstein = D(real).mean() - D(fake).mean()
        return -wasserstein + self.params.gp_lambda * gradient_penalty(D, real, fake, rng)

    def g_loss(self, D, fake, step):
        return -D(fake).mean()
