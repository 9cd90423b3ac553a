"""A method from outside the package, written only to the public interface (baselines.base):
the method contract tests run it beside every registered method."""

from dataclasses import dataclass

import torch.nn.functional as F

from collapsebench.baselines.base import Method, Params, adam, batch_mean


@dataclass(frozen=True)
class HingeParams(Params):
    lr: float = 2e-4


class HingeGAN(Method):
    """Hinge-loss GAN: L_D = E relu(1 - D(x)) + E relu(1 + D(G(z))), L_G = -E D(G(z))."""

    name = "hinge"
    Params = HingeParams

    def optimizers(self, G, D):
        return adam(G, self.params.lr, (0.5, 0.9)), adam(D, self.params.lr, (0.5, 0.9))

    def d_loss(self, D, real, fake, step, draw):
        return batch_mean(F.relu(1 - D(real))) + batch_mean(F.relu(1 + D(fake)))

    def g_loss(self, D, real, fake, step, draw):
        return -batch_mean(D(fake))
