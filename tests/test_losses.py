"""Each loss against a hand computation on a tiny network with known weights."""

import math

import numpy as np
import pytest
import torch
from torch import nn

from collapsebench.baselines import REGISTRY
from collapsebench.baselines.base import Draws, decayed, interpolates


class Linear(nn.Module):
    """f(x) = w.x + b: its input gradient is w everywhere, so penalties have closed forms."""

    def __init__(self, w, b):
        super().__init__()
        self.w = nn.Parameter(torch.tensor(w, dtype=torch.float64))
        self.b = nn.Parameter(torch.tensor(b, dtype=torch.float64))

    def forward(self, x):
        return x @ self.w + self.b


def make(name, total_steps=100, **params):
    cls = REGISTRY[name]
    return cls(cls.Params(**params), total_steps)


REAL = torch.tensor([[1.0, 2.0], [0.5, -1.0], [-2.0, 0.0]], dtype=torch.float64)
FAKE = torch.tensor([[0.0, 1.0], [3.0, -2.0]], dtype=torch.float64)
D = Linear([0.7, -0.4], 0.2)


def np_logits(x):
    return x.numpy() @ np.array([0.7, -0.4]) + 0.2


def sigmoid(v):
    return 1 / (1 + np.exp(-v))


def test_gan_losses_match_hand_computation():
    gan = make("gan")
    lr_, lf = np_logits(REAL), np_logits(FAKE)
    want_d = -(np.log(sigmoid(lr_)).mean() + np.log(1 - sigmoid(lf)).mean())
    assert gan.d_loss(D, REAL, FAKE, 0, None).item() == pytest.approx(want_d, rel=1e-12)
    assert gan.g_loss(D, None, FAKE, 0, None).item() == pytest.approx(
        -np.log(sigmoid(lf)).mean(), rel=1e-12
    )
    minimax = make("gan", loss="minimax")
    assert minimax.g_loss(D, None, FAKE, 0, None).item() == pytest.approx(
        np.log(1 - sigmoid(lf)).mean(), rel=1e-12
    )
    # reverse KL: E log(1 - D) - E log D, from the probabilities, not from the logits
    logit = make("gan", loss="logit")
    assert logit.g_loss(D, None, FAKE, 0, None).item() == pytest.approx(
        (np.log(1 - sigmoid(lf)) - np.log(sigmoid(lf))).mean(), rel=1e-12
    )


def test_wgan_losses_and_clipping():
    wgan = make("wgan")
    want = -(np_logits(REAL).mean() - np_logits(FAKE).mean())
    assert wgan.d_loss(D, REAL, FAKE, 0, None).item() == pytest.approx(want, rel=1e-12)
    assert wgan.g_loss(D, None, FAKE, 0, None).item() == pytest.approx(
        -np_logits(FAKE).mean(), rel=1e-12
    )
    critic = Linear([0.7, -0.4], 0.005)
    wgan.after_d_step(critic)
    assert critic.w.tolist() == [0.01, -0.01] and critic.b.item() == 0.005
    assert wgan.n_critic == 5


@pytest.mark.parametrize("lam", [10.0, 0.1])
def test_gradient_penalty_of_linear_critic_is_closed_form(lam):
    wgp = make("wgan-gp", gp_lambda=lam)
    real, fake = REAL[:2], FAKE
    gen = torch.Generator().manual_seed(0)
    got = wgp.d_loss(D, real, fake, 0, Draws([gen])).item()
    w_norm = math.hypot(0.7, -0.4)
    want = -(np_logits(real).mean() - np_logits(fake).mean()) + lam * (w_norm - 1) ** 2
    assert got == pytest.approx(want, rel=1e-12)


def test_greed_gan_relaxation_when_real_equals_fake():
    # With y = x the interpolate is x whatever t is, so R = lambda_t E log D(x) exactly.
    greed = make("greed-gan", total_steps=100, lambda0=0.8, decay_rate=2.0)
    gen = torch.Generator().manual_seed(0)
    lr_ = np_logits(REAL)
    for step in (0, 50, 100):
        lam = 0.8 * math.exp(-2.0 * step / 100)
        want = -((1 + lam) * np.log(sigmoid(lr_)).mean() + np.log(1 - sigmoid(lr_)).mean())
        assert greed.d_loss(D, REAL, REAL, step, Draws([gen])).item() == pytest.approx(
            want, rel=1e-12
        )
    # the generator loss is GAN's
    assert greed.g_loss(D, None, FAKE, 0, None).item() == pytest.approx(
        make("gan").g_loss(D, None, FAKE, 0, None).item(), rel=1e-12
    )


def test_greed_wgan_relaxation_when_real_equals_fake():
    greed = make("greed-wgan", total_steps=10, lambda0=0.5, decay_rate=1.0)
    gen = torch.Generator().manual_seed(0)
    # E f(x) - E f(x) + lambda E f(x)  is maximised  ->  loss = -lambda E f(x)
    want = -0.5 * math.exp(-0.3) * np_logits(REAL).mean()
    assert greed.d_loss(D, REAL, REAL, 3, Draws([gen])).item() == pytest.approx(want, rel=1e-12)


def test_decay_is_exponential():
    assert decayed(2.0, 3.0, 0, 10) == 2.0
    assert decayed(2.0, 3.0, 10, 10) == pytest.approx(2.0 * math.exp(-3.0))
    assert decayed(2.0, 3.0, 5, 10) ** 2 == pytest.approx(2.0 * decayed(2.0, 3.0, 10, 10))


def test_greed_interpolates_lie_on_segment_closer_to_real():
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(4000, 3, generator=gen)
    y = torch.randn(4000, 3, generator=gen)
    xh = interpolates(x, y, Draws([gen]), t_max=0.5)
    t = (xh - x) / (y - x)  # one t per sample, the same in every coordinate
    assert torch.allclose(t, t[:, :1].expand_as(t), atol=1e-4)
    t = t[:, 0]
    assert t.min() >= 0 and t.max() <= 0.5
    assert t.max() > 0.49 and t.min() < 0.01  # spans [0, 0.5], not a constant
    # closer to the real end: |x_hat - x| <= |x_hat - y|
    assert ((xh - x).norm(dim=1) <= (xh - y).norm(dim=1) + 1e-6).all()


def test_images_interpolate_per_sample():
    gen = torch.Generator().manual_seed(2)
    x, y = torch.zeros(5, 3, 4, 4), torch.ones(5, 3, 4, 4)
    xh = interpolates(x, y, Draws([gen]), t_max=0.5)
    per_sample = xh.flatten(1)
    assert torch.all(per_sample == per_sample[:, :1])  # one t for the whole image
    assert per_sample.max() <= 0.5
