"""Unrolled GAN (Metz et al. 2017): the generator sees the discriminator K steps ahead.

  f(theta_G, theta_D) = E log D(x) + E log(1 - D(G(z)))
  theta_D^0 = theta_D,  theta_D^{k+1} = theta_D^k - eta * Adam(dL_D/dtheta_D^k)  (ascends f)
  L_D = -f(theta_G, theta_D)                                   (D's own update, as in `gan`)
  L_G = f_K = f(theta_G, theta_D^K(theta_G, theta_D))          (``loss="minimax"``, default)
  L_G = -E log D(G(z); theta_D^K)                              (``loss="ns"``)

dL_G/dtheta_G is the full (second-order) gradient: it flows through G's samples in the K
unrolled updates as well as through the final evaluation. With K = 0 it is `gan`'s gradient
for the same ``loss``.

Inner optimiser: each unrolled step is one step of D's own Adam (same lr, betas, eps, and its
current moment estimates and step count), written out differentiably on copies of D's parameters
(``torch.func.functional_call``), so theta_D^K is what D would become after K more of its own
updates. The authors' reference notebook (poolio/unrolled_gan) does the same with Keras' Adam;
plain SGD at D's small lr would barely move the unrolled D. The unrolled steps and the final f_K
use one batch: the generator samples given to ``g_loss`` and the real batch of this step's D
update, which the loop hands to ``g_loss`` (n_critic is 1). No randomness is drawn. It trains one
model at a time: the unrolled steps read D's own optimiser state.

Defaults from that notebook: K = 5, Adam lr 1e-4 for D, 1e-3 for G, beta1 0.5, and the
minimax generator objective (it minimises -loss_D at the unrolled parameters). Cost: K extra
D forward/backward passes with a double backward; ~6-10x `gan`'s time per step on the toys.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch.func import functional_call

from .base import Method, Params, adam, batch_mean
from .gan import log_d, log_one_minus_d


@dataclass(frozen=True)
class UnrolledGANParams(Params):
    lr_d: float = 1e-4
    lr_g: float = 1e-3
    beta1: float = 0.5
    beta2: float = 0.999
    unroll_steps: int = 5
    loss: str = "minimax"  # "minimax" (f_K, the paper's) or "ns" (non-saturating)

    def __post_init__(self):
        super().__post_init__()
        if self.loss not in ("ns", "minimax"):
            raise ValueError(f"unrolled-gan loss must be 'ns' or 'minimax', got {self.loss!r}")
        if self.unroll_steps < 0:
            raise ValueError(f"unroll_steps must be >= 0, got {self.unroll_steps}")


def saddle(score_real, score_fake):
    """f = E log D(x) + E log(1 - D(G(z))) from logits, per model."""
    return batch_mean(log_d(score_real)) + batch_mean(log_one_minus_d(score_fake))


def _sqrt0(v):
    """sqrt with a zero (not NaN) gradient where v == 0, e.g. a weight that never got a gradient."""
    pos = v > 0
    return torch.where(pos, torch.where(pos, v, torch.ones_like(v)).sqrt(), torch.zeros_like(v))


class UnrolledGAN(Method):
    name = "unrolled-gan"
    Params = UnrolledGANParams
    unstackable = "the unrolled steps read D's own Adam state, one model's"

    def optimizers(self, G, D):
        p = self.params
        self.opt_d = adam(D, p.lr_d, (p.beta1, p.beta2))
        return adam(G, p.lr_g, (p.beta1, p.beta2)), self.opt_d

    def d_loss(self, D, real, fake, step, draw):
        return -saddle(D(real), D(fake))

    def unrolled_params(self, D, real, fake) -> dict[str, torch.Tensor]:
        """theta_D^K as a differentiable function of ``fake`` (and so of G's parameters)."""
        group = self.opt_d.param_groups[0]
        lr, (b1, b2), eps = group["lr"], group["betas"], group["eps"]
        names = [n for n, _ in D.named_parameters()]
        params, m, v, t = {}, {}, {}, {}
        for n, p in D.named_parameters():
            state = self.opt_d.state.get(p, {})
            params[n] = p.detach().requires_grad_(True)
            m[n] = state["exp_avg"].detach() if state else torch.zeros_like(p)
            v[n] = state["exp_avg_sq"].detach() if state else torch.zeros_like(p)
            t[n] = float(state["step"]) if state else 0.0
        for _ in range(self.params.unroll_steps):
            loss = -saddle(functional_call(D, params, (real,)), functional_call(D, params, (fake,)))
            grads = torch.autograd.grad(loss.sum(), [params[n] for n in names], create_graph=True)
            for n, g in zip(names, grads, strict=True):
                t[n] += 1
                m[n] = b1 * m[n] + (1 - b1) * g
                v[n] = b2 * v[n] + (1 - b2) * g * g
                denom = _sqrt0(v[n]) / (1 - b2 ** t[n]) ** 0.5 + eps
                params[n] = params[n] - lr / (1 - b1 ** t[n]) * m[n] / denom
        return params

    def g_loss(self, D, real, fake, step, draw):
        real = real.detach()
        params = self.unrolled_params(D, real, fake)
        score_fake = functional_call(D, params, (fake,))
        if self.params.loss == "ns":
            return -batch_mean(log_d(score_fake))
        return saddle(functional_call(D, params, (real,)), score_fake)
