"""LSGAN (Mao et al. 2017, Eq. 2): least-squares losses on the raw score D(.).

  L_D = 1/2 E (D(x) - b)^2 + 1/2 E (D(G(z)) - a)^2
  L_G = 1/2 E (D(G(z)) - c)^2

a = 0, b = c = 1 by default (the paper's Eq. 9, used in its experiments); a = -1, b = 1, c = 0
is the Pearson chi^2 choice (Eq. 8).

Optimiser: Adam, beta1 0.5, beta2 0.999, lr 1e-4 for D and G. The authors' Gaussian-mixture
script (xudonmao/LSGAN, stability_comparison/mixture_gaussian/ls.py) uses D 1e-4 / G 1e-3 with
small 2x128 tanh nets; their LSUN script uses one rate for both. On this benchmark's 3x512 ReLU
toy nets G at 1e-3 did not settle (800-step probe, 25 Gaussians: 0 and 2 modes on seeds 0, 1,
samples drifting to |x| ~ 17) while 1e-4 covered 15, so the default is one rate, `gan`'s;
``lr_g=1e-3`` restores the script's split.
"""

from __future__ import annotations

from dataclasses import dataclass

from .base import Method, Params, adam, batch_mean


@dataclass(frozen=True)
class LSGANParams(Params):
    lr_d: float = 1e-4
    lr_g: float = 1e-4
    beta1: float = 0.5
    beta2: float = 0.999
    a: float = 0.0  # target for fake samples in L_D
    b: float = 1.0  # target for real samples in L_D
    c: float = 1.0  # value G wants D to give its samples


class LSGAN(Method):
    name = "lsgan"
    Params = LSGANParams

    def optimizers(self, G, D):
        p = self.params
        return adam(G, p.lr_g, (p.beta1, p.beta2)), adam(D, p.lr_d, (p.beta1, p.beta2))

    def d_loss(self, D, real, fake, step, draw):
        p = self.params
        return 0.5 * batch_mean((D(real) - p.b) ** 2) + 0.5 * batch_mean((D(fake) - p.a) ** 2)

    def g_loss(self, D, real, fake, step, draw):
        return 0.5 * batch_mean((D(fake) - self.params.c) ** 2)
