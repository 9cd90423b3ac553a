"""Shared networks. Methods never build networks, suites do: one loss file serves every suite."""

from __future__ import annotations

from torch import nn


def mlp(in_dim: int, out_dim: int, hidden: int = 512, depth: int = 3) -> nn.Sequential:
    """gan_toy.py's toy nets: ``depth`` hidden ReLU layers of ``hidden`` units, linear output."""
    layers: list[nn.Module] = []
    d = in_dim
    for _ in range(depth):
        layers += [nn.Linear(d, hidden), nn.ReLU()]
        d = hidden
    layers.append(nn.Linear(d, out_dim))
    return nn.Sequential(*layers)


class ToyDiscriminator(nn.Module):
    """MLP returning one raw score per input, shape (N,).

    With ``pack`` = m > 1 (PacGAN) it scores groups of m consecutive samples jointly: (N, d) is
    read as (N / m, m d), so the score has N / m entries.
    """

    def __init__(self, data_dim: int = 2, hidden: int = 512, depth: int = 3, pack: int = 1):
        super().__init__()
        self.pack = pack
        self.net = mlp(data_dim * pack, 1, hidden, depth)

    def forward(self, x):
        if self.pack > 1:
            x = x.reshape(x.shape[0] // self.pack, -1)
        return self.net(x).squeeze(-1)

    def features(self, x):
        """Penultimate-layer activations (after the last hidden ReLU), shape (N / pack, hidden):
        what feature-space clustering (DynGAN, Self-Conditioned GAN) works on."""
        if self.pack > 1:
            x = x.reshape(x.shape[0] // self.pack, -1)
        return self.net[:-1](x)
