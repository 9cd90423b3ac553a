"""GDPP (Elfeki et al., ICML 2019): a GAN whose generator also matches the diversity of real
batches, modelled as a DPP kernel on D's last feature layer.

  phi(x)        D's last hidden features, each row L2-normalised
  L_S = phi(S) phi(S)^T,  L_D = phi(D) phi(D)^T      kernels of a fake and a real batch (B x B)
  L_S = sum_i lambda_S,i v_S,i v_S,i^T   (eigh, eigenvalues ascending; same for L_D)
  L_m = w * mean_i (lambda_D,i - lambda_S,i)^2                  magnitude, w = 1e-4
  L_s = -sum_i lambda^_D,i cos(v_D,i, v_S,i),
        lambda^_D = (lambda_D - min lambda_D) / (max lambda_D - min lambda_D)   structure
  L_DPP = L_m + L_s
  L_D = -[ E log D(x) + E log(1 - D(G(z))) ]                     (as in `gan`)
  L_G = 1/2 ( -E log D(G(z)) + L_DPP )

The weights (w = 1e-4, the 1/2) and the pairing of eigenvectors by rank are the authors' code
(M-Elfeki/GDPP, gdppgan_Synthetic.py). The eigenvectors' signs are whatever the eigensolver
returns, as in the source: the structure term inherits that arbitrariness.

The fake kernel is decomposed as the paper writes it (B x B): G's gradient flows through its
eigenvectors, and a collapsing generator makes its features rank-deficient, where the B x B
problem's eigenvectors stay unit vectors. The real kernel needs no gradient, so it comes from the
smaller F x F problem (F feature dimensions < B): the non-zero eigenpairs of phi phi^T are those
of phi^T phi (lambda the same, v = phi u, normalised), and its other B - F eigenvalues are 0, so
their eigenvectors get weight lambda^_D = 0 and drop out. (Taking the fake kernel from the F x F
problem too is 12x cheaper, but on rank-deficient fake features its v = phi u / sqrt(lambda)
divides by eigenvalues near 0: measured on trained ring runs, G's gradient was 20-75x the B x B
form's and 4 of 10 runs diverged.) tests/test_gdpp.py checks the loss and its gradient against the
B x B form on full-rank and rank-deficient features.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from .base import Method, Params, adam, batch_mean
from .gan import GAN, log_d


@dataclass(frozen=True)
class GDPPParams(Params):
    lr_d: float = 1e-4
    lr_g: float = 1e-3
    beta1: float = 0.5
    beta2: float = 0.999
    #: w, the magnitude term's weight
    magnitude_weight: float = 1e-4

    def __post_init__(self):
        super().__post_init__()
        if self.magnitude_weight < 0:
            raise ValueError(f"magnitude_weight must be at least 0, got {self.magnitude_weight}")


class SafeEigh(torch.autograd.Function):
    """``torch.linalg.eigh`` whose backward treats equal eigenvalues as TensorFlow's does.

    The eigenvector gradient has terms 1 / (lambda_j - lambda_i). The fake kernel has B - F
    eigenvalues at 0 (rank <= F < B), ties in float32, so torch's backward returns inf and the
    run is NaN from its first step. The authors' TensorFlow code takes the same gradient through
    ``tf.self_adjoint_eig``, whose backward uses the safe reciprocal x / (x^2 + 1e-20): 0 at a
    tie, 1/x elsewhere. That is the gradient here (symmetrised, as for any symmetric input)."""

    @staticmethod
    def forward(ctx, a):
        lam, v = torch.linalg.eigh(a)
        ctx.save_for_backward(lam, v)
        return lam, v

    @staticmethod
    def backward(ctx, g_lam, g_v):
        lam, v = ctx.saved_tensors
        gap = lam.unsqueeze(-2) - lam.unsqueeze(-1)  # [i, j] = lambda_j - lambda_i
        inverse = gap / (gap * gap + 1e-20)
        inner = torch.diag_embed(g_lam) + inverse * (v.transpose(-1, -2) @ g_v)
        g_a = v @ inner @ v.transpose(-1, -2)
        return (g_a + g_a.transpose(-1, -2)) / 2


def kernel_eig(phi: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Eigenvalues (B, ascending) and unit eigenvectors (B, B) of phi phi^T for row-normalised
    (B, F) features; stacked, each with a leading K."""
    phi = F.normalize(phi, p=2, dim=-1)
    return SafeEigh.apply(phi @ phi.transpose(-1, -2))


@torch.no_grad()
def real_kernel_eig(phi: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The real kernel's n = min(B, F) largest eigenpairs (ascending; (n,) and (B, n), each with
    a leading K stacked), from the F x F problem when F < B; the B - n eigenvalues not returned
    are 0."""
    phi = F.normalize(phi, p=2, dim=-1)
    if phi.shape[-1] >= phi.shape[-2]:
        return torch.linalg.eigh(phi @ phi.transpose(-1, -2))
    lam, u = torch.linalg.eigh(phi.transpose(-1, -2) @ phi)
    return lam, F.normalize(phi @ u, p=2, dim=-2)


def dpp_loss(phi_fake: torch.Tensor, phi_real: torch.Tensor, w: float = 1e-4) -> torch.Tensor:
    """L_DPP from (B, F) features of a fake and a real batch: a scalar, or (K,) from (K, B, F)."""
    lam_s, v_s = kernel_eig(phi_fake)
    lam_d, v_d = real_kernel_eig(phi_real)
    batch, n = lam_s.shape[-1], lam_d.shape[-1]
    # the real kernel's B - n zero eigenvalues pair with the fake kernel's smallest
    lam_d_all = torch.cat([lam_d.new_zeros(*lam_d.shape[:-1], batch - n), lam_d], dim=-1)
    magnitude = w * ((lam_d_all - lam_s) ** 2).mean(-1)
    lo = lam_d_all.amin(-1, keepdim=True)
    weight = (lam_d - lo) / (lam_d.amax(-1, keepdim=True) - lo)
    structure = -(weight * (v_s[..., -n:] * v_d).sum(-2)).sum(-1)
    return magnitude + structure


class GDPP(Method):
    name = "gdpp"
    Params = GDPPParams

    def optimizers(self, G, D):
        p = self.params
        return adam(G, p.lr_g, (p.beta1, p.beta2)), adam(D, p.lr_d, (p.beta1, p.beta2))

    #: D is GAN's: L_D = -[E log D(x) + E log(1 - D(G(z)))], one definition
    d_loss = GAN.d_loss

    def g_loss(self, D, real, fake, step, draw):
        features = getattr(D, "features", None)
        phi_fake = features(fake) if callable(features) else None
        if phi_fake is None:
            raise TypeError("gdpp needs a discriminator with features (its last hidden layer)")
        phi_real = features(real.detach())
        adversarial = -batch_mean(log_d(D(fake)))
        return 0.5 * (adversarial + dpp_loss(phi_fake, phi_real, self.params.magnitude_weight))
