"""GAN (Goodfellow et al. 2014), DCGAN when the suite supplies convolutional networks.

  L_D = -[ E log D(x) + E log(1 - D(G(z))) ]
  L_G = -E log D(G(z))              (non-saturating, default)
  L_G =  E log(1 - D(G(z)))         (original minimax, ``loss="minimax"``)
  L_G = -E l(G(z)) = E log(1 - D(G(z))) - E log D(G(z))   (``loss="logit"``, l = D's logit)

The logit loss is the sum of the other two. At the optimal D, l(x) = log p_data(x)/p_g(x), so
it is KL(p_g || p_data), the mode-seeking reverse KL (Poole et al. 2016); it is the generator
objective of VEEGAN's released code, whose D scores (noise, sample) pairs and whose G
minimises D's mean logit on its own samples (that D's label for them is 1, so the sign flips).

With logits l: log D = -softplus(-l) and log(1 - D) = -softplus(l), which is the stable form.
Adam at ``lr`` for both nets, or at ``lr_d`` / ``lr_g`` where a protocol gives the two nets
different rates (VEEGAN/GDPP: 1e-4 for D, 1e-3 for G).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch.nn.functional as F

from .base import OMIT_IF_DEFAULT, Method, Params, adam, batch_mean, fold_rates, own_rates

#: the generator losses of the module docstring
LOSSES = ("ns", "minimax", "logit")


@dataclass(frozen=True)
class GANParams(Params):
    lr: float = 1e-4
    beta1: float = 0.5
    beta2: float = 0.999
    loss: str = "ns"  # "ns" (non-saturating), "minimax" or "logit" (reverse KL)
    #: D's and G's own learning rates; None: ``lr``
    lr_d: float | None = field(default=None, metadata={OMIT_IF_DEFAULT: True})
    lr_g: float | None = field(default=None, metadata={OMIT_IF_DEFAULT: True})

    def __post_init__(self):
        super().__post_init__()
        fold_rates(self)
        if self.loss not in LOSSES:
            raise ValueError(f"gan loss must be one of {', '.join(LOSSES)}, got {self.loss!r}")


def log_d(logits):
    return -F.softplus(-logits)


def log_one_minus_d(logits):
    return -F.softplus(logits)


class GAN(Method):
    name = "gan"
    Params = GANParams

    def optimizers(self, G, D):
        p = self.params
        lr_g, lr_d = own_rates(p)
        return adam(G, lr_g, (p.beta1, p.beta2)), adam(D, lr_d, (p.beta1, p.beta2))

    def d_loss(self, D, real, fake, step, draw):
        return -(batch_mean(log_d(D(real))) + batch_mean(log_one_minus_d(D(fake))))

    def g_loss(self, D, real, fake, step, draw):
        if self.params.loss == "minimax":
            return batch_mean(log_one_minus_d(D(fake)))
        if self.params.loss == "logit":
            return -batch_mean(D(fake))
        return -batch_mean(log_d(D(fake)))
