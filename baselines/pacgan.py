"""PacGAN (Lin et al. 2018): the GAN losses with a packed discriminator.

The discriminator scores m samples jointly, D(x_1, ..., x_m), all real or all generated:

  L_D = -[ E log D(x_1..x_m) + E log(1 - D(G(z_1)..G(z_m))) ]
  L_G = -E log D(G(z_1)..G(z_m))         (non-saturating, as in the authors' code)

Only the input changes, so the losses are `gan`'s; ``pack`` = m makes the loop draw batch x m
samples and the suite build a discriminator that reads m consecutive samples as one input.

Optimiser: the authors' 2-D configs (fjxmlzn/PacGAN, synthetic_data_experiments/*/config.py)
use Adam lr 1e-4 with beta1 = 0.8, batch 100 packed inputs, and run GAN and PacGAN with the same
settings. We keep that last property: ``pacgan*`` inherits `gan`'s defaults (lr 1e-4, beta1 0.5,
beta2 0.999), so pacgan-vs-gan isolates packing; pass ``beta1=0.8`` to match their config.
"""

from __future__ import annotations

from .gan import GAN


class PacGAN(GAN):
    """GAN with packing; subclasses fix m."""


class PacGAN2(PacGAN):
    name = "pacgan2"
    pack = 2


class PacGAN3(PacGAN):
    name = "pacgan3"
    pack = 3


class PacGAN4(PacGAN):
    name = "pacgan4"
    pack = 4
