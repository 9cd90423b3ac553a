"""WGAN-GP (Gulrajani et al. 2017, Algorithm 1).

  L_D = E f(G(z)) - E f(x) + lambda * E (||grad_x_hat f(x_hat)||_2 - 1)^2,
        x_hat = e x + (1 - e) G(z),  e ~ U[0, 1]
  L_G = -E f(G(z));  Adam lr 1e-4, betas (0.5, 0.9), n_critic = 5.

lambda is 10 as in the paper; the toy suites default to 0.1 as the authors' gan_toy.py does.
``lr_d`` / ``lr_g`` give the two nets their own rates where a protocol sets them (default: ``lr``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from .base import (
    OMIT_IF_DEFAULT,
    Method,
    Params,
    adam,
    batch_mean,
    fold_rates,
    interpolates,
    own_rates,
)


@dataclass(frozen=True)
class WGANGPParams(Params):
    lr: float = 1e-4
    beta1: float = 0.5
    beta2: float = 0.9
    gp_lambda: float = 10.0
    n_critic: int = 5
    lr_d: float | None = field(default=None, metadata={OMIT_IF_DEFAULT: True})
    lr_g: float | None = field(default=None, metadata={OMIT_IF_DEFAULT: True})

    def __post_init__(self):
        super().__post_init__()
        fold_rates(self)


def gradient_penalty(D, real, fake, draw) -> torch.Tensor:
    """E (||grad f(x_hat)||_2 - 1)^2 per model. Each model's scores depend on its own
    interpolates only, so the gradient of their sum is every sample's own input gradient."""
    x_hat = interpolates(real, fake, draw).requires_grad_(True)
    (grad,) = torch.autograd.grad(D(x_hat).sum(), x_hat, create_graph=True)
    per_sample = grad.flatten(draw.model_dims + 1)  # (B, d), (K, B, d) stacked
    return batch_mean((per_sample.norm(2, dim=-1) - 1) ** 2)


class WGANGP(Method):
    name = "wgan-gp"
    Params = WGANGPParams
    d_batchnorm = False

    def optimizers(self, G, D):
        p = self.params
        lr_g, lr_d = own_rates(p)
        return adam(G, lr_g, (p.beta1, p.beta2)), adam(D, lr_d, (p.beta1, p.beta2))

    def d_loss(self, D, real, fake, step, draw):
        real_score = batch_mean(D(real))  # scored first: the order fixes the gradient's bits
        gp = gradient_penalty(D, real, fake, draw)
        return batch_mean(D(fake)) - real_score + self.params.gp_lambda * gp

    def g_loss(self, D, real, fake, step, draw):
        return -batch_mean(D(fake))
