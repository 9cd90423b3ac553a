"""WGAN with weight clipping (Arjovsky et al. 2017, Algorithm 1).

critic maximises  E f(x) - E f(G(z))   ->  L_D = -(E f(x) - E f(G(z)))
L_G = -E f(G(z))
after every critic step: w <- clip(w, -c, c);  RMSprop, lr 5e-5, n_critic = 5.

``optimizer`` (Wang (2024)) swaps RMSprop for another optimiser at the same ``lr``, for both nets:
"rmsprop" (default, the paper's), "adam" (betas (0.5, 0.9), the WGAN-GP setting; Wang (2024) gives
no constants) or "sgd" (plain SGD, momentum 0). Note: adding this field changed the config hash
of every ``wgan`` / ``greed-wgan`` run (``method_params`` is the full ``asdict`` of the params).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from .base import OMIT_IF_DEFAULT, Method, Params, adam, batch_mean

#: choices of ``WGANParams.optimizer``; Adam's betas are WGAN-GP's
OPTIMIZERS = ("rmsprop", "adam", "sgd")
ADAM_BETAS = (0.5, 0.9)


@dataclass(frozen=True)
class WGANParams(Params):
    lr: float = 5e-5
    clip: float = 0.01
    n_critic: int = 5
    # added after runs existed: left out of the run key while at its default (see base.py)
    optimizer: str = field(default="rmsprop", metadata={OMIT_IF_DEFAULT: True})

    def __post_init__(self):
        super().__post_init__()
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(
                f"unknown optimizer {self.optimizer!r}; valid: {', '.join(OPTIMIZERS)}"
            )


def make_optimizer(name: str, module: nn.Module, lr: float) -> torch.optim.Optimizer:
    """One of ``OPTIMIZERS`` over ``module``'s parameters at learning rate ``lr``."""
    if name == "rmsprop":
        return torch.optim.RMSprop(module.parameters(), lr=lr)
    if name == "adam":
        return adam(module, lr, ADAM_BETAS)
    if name == "sgd":
        return torch.optim.SGD(module.parameters(), lr=lr, momentum=0.0)
    raise ValueError(f"unknown optimizer {name!r}; valid: {', '.join(OPTIMIZERS)}")


class WGAN(Method):
    name = "wgan"
    Params = WGANParams

    def optimizers(self, G, D):
        p = self.params
        return make_optimizer(p.optimizer, G, p.lr), make_optimizer(p.optimizer, D, p.lr)

    def critic_objective(self, D, real, fake, step, draw):
        return batch_mean(D(real)) - batch_mean(D(fake))

    def d_loss(self, D, real, fake, step, draw):
        return -self.critic_objective(D, real, fake, step, draw)

    def g_loss(self, D, real, fake, step, draw):
        return -batch_mean(D(fake))

    @torch.no_grad()
    def after_d_step(self, D):
        for p in D.parameters():
            p.clamp_(-self.params.clip, self.params.clip)
