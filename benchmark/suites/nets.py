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


class Maxout(nn.Module):
    """Linear layer with ``pieces`` outputs per unit, reduced by max (Goodfellow et al. 2013;
    the maxout D of PacGAN's 2-D experiments). torch has no maxout layer, hence this one."""

    def __init__(self, in_dim: int, units: int, pieces: int):
        super().__init__()
        self.units, self.pieces = units, pieces
        self.linear = nn.Linear(in_dim, units * pieces)

    def forward(self, x):
        return self.linear(x).unflatten(-1, (self.units, self.pieces)).amax(-1)


class PackedScore(nn.Module):
    """A trunk (hidden layers) and a linear head scoring ``pack`` samples jointly, like
    ``ToyDiscriminator``: (N, d) is read as (N / pack, pack d); ``features`` is the trunk."""

    def __init__(self, trunk: nn.Module, head: nn.Module, pack: int = 1):
        super().__init__()
        self.pack, self.trunk, self.head = pack, trunk, head

    def _packed(self, x):
        return x.reshape(x.shape[0] // self.pack, -1) if self.pack > 1 else x

    def forward(self, x):
        return self.head(self.trunk(self._packed(x))).squeeze(-1)

    def features(self, x):
        return self.trunk(self._packed(x))


def gaussian_init(module: nn.Module, std: float) -> nn.Module:
    """Every Linear weight ~ N(0, std), every bias 0 (PacGAN's and DynGAN's initialisation);
    BatchNorm keeps scale 1, shift 0."""
    for m in module.modules():
        if isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, 0.0, std)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
    return module


def orthogonal_init(module: nn.Module, gain: float) -> nn.Module:
    """Every Linear weight orthogonal with ``gain``, every bias 0: TF-slim's
    ``orthogonal_initializer`` as the VEEGAN/GDPP toy scripts set it on every layer."""
    for m in module.modules():
        if isinstance(m, nn.Linear):
            nn.init.orthogonal_(m.weight, gain)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
    return module


def glorot_init(module: nn.Module) -> nn.Module:
    """Every Linear weight Glorot (Xavier) uniform, every bias 0: the default initialiser of
    TensorFlow's dense layers, as code written for them initialises its nets."""
    for m in module.modules():
        if isinstance(m, nn.Linear):
            nn.init.xavier_uniform_(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
    return module


def torch_default_init(module: nn.Module) -> nn.Module:
    """Leave every Linear as PyTorch builds it (weights and biases uniform within
    1/sqrt(fan_in)): smaller than Glorot's sqrt(6/(fan_in + fan_out)) on wide layers, and what a
    plain PyTorch port of a TensorFlow script gets unless it sets the init."""
    return module


#: nets that carry their own initialisation, whatever the protocol sets (``toy_nets``)
OWN_INIT = {"veegan-code": glorot_init, "veegan-code-torch-init": torch_default_init}


def _two_layer_generator(in_dim: int, hidden: int, act) -> nn.Sequential:
    """G of the 128-wide toy protocols: two ``act`` layers ``hidden`` wide, a linear 2-D output."""
    return nn.Sequential(
        nn.Linear(in_dim, hidden), act(),
        nn.Linear(hidden, hidden), act(),
        nn.Linear(hidden, 2),
    )  # fmt: skip


def _two_layer_nets(
    in_dim: int, cond_dim: int, hidden: int, pack: int, g_act, d_act
) -> tuple[nn.Module, nn.Module]:
    """G: two ``g_act`` layers ``hidden`` wide and a linear 2-D output; D: a trunk of two
    ``d_act`` layers (its ``features``) and a linear score head. Built G first, then D's trunk
    and head, so a seed gives every protocol's nets the same draws as before."""
    G = _two_layer_generator(in_dim, hidden, g_act)
    trunk = nn.Sequential(
        nn.Linear((2 + cond_dim) * pack, hidden), d_act(),
        nn.Linear(hidden, hidden), d_act(),
    )  # fmt: skip
    return G, PackedScore(trunk, nn.Linear(hidden, 1), pack)


def veegan_nets(in_dim: int, cond_dim: int, hidden: int, pack: int) -> tuple[nn.Module, nn.Module]:
    """The VEEGAN/GDPP toy nets (GDPP's gdppgan_Synthetic.py, after poolio/unrolled_gan): G and D
    two tanh layers ``hidden`` wide, linear outputs; D's features are its last tanh layer (the
    "last feature map of the discriminator" GDPP's loss uses)."""
    return _two_layer_nets(in_dim, cond_dim, hidden, pack, nn.Tanh, nn.Tanh)


def veegan_code_nets(
    in_dim: int, cond_dim: int, hidden: int, pack: int
) -> tuple[nn.Module, nn.Module]:
    """The nets of VEEGAN's released 2-D ring notebook (akashgit/VEEGAN, VEEGAN_2D_RING.ipynb),
    which differ from those its table's protocol describes: G two ReLU layers ``hidden`` wide,
    D *one* ReLU layer (its ``features``) and a linear score head. Initialised as TensorFlow's
    dense layers are by default (Glorot uniform weights, zero biases): ``toy_nets`` applies
    ``glorot_init`` (``torch_default_init`` for ``veegan-code-torch-init``), not the protocol's
    initialisation."""
    G = _two_layer_generator(in_dim, hidden, nn.ReLU)
    trunk = nn.Sequential(nn.Linear((2 + cond_dim) * pack, hidden), nn.ReLU())
    return G, PackedScore(trunk, nn.Linear(hidden, 1), pack)


def dyngan_nets(in_dim: int, cond_dim: int, hidden: int, pack: int) -> tuple[nn.Module, nn.Module]:
    """DynGAN's synthetic/net.py: G two ReLU layers, D two LeakyReLU(0.1) layers, both
    ``hidden`` wide, raw-score output (the source's sigmoid is in our losses)."""
    return _two_layer_nets(in_dim, cond_dim, hidden, pack, nn.ReLU, lambda: nn.LeakyReLU(0.1))


def pacgan_nets(
    in_dim: int, cond_dim: int, g_hidden: int, d_hidden: int, pieces: int, pack: int
) -> tuple[nn.Module, nn.Module]:
    """PacGAN's 2-D model (synthetic_data_experiments/*/pacgan_task.py): G four hidden layers
    Linear (no bias) -> BatchNorm -> ReLU, linear output with bias; D three maxout layers and
    a linear output, its input the ``pack`` samples concatenated. BatchNorm's population
    statistics move by 0.05 per step, as the source's updates do."""
    layers: list[nn.Module] = []
    d = in_dim
    for _ in range(4):
        layers += [nn.Linear(d, g_hidden, bias=False), nn.BatchNorm1d(g_hidden, momentum=0.05)]
        layers.append(nn.ReLU())
        d = g_hidden
    G = nn.Sequential(*layers, nn.Linear(d, 2))
    trunk = nn.Sequential(
        Maxout((2 + cond_dim) * pack, d_hidden, pieces),
        Maxout(d_hidden, d_hidden, pieces),
        Maxout(d_hidden, d_hidden, pieces),
    )
    return G, PackedScore(trunk, nn.Linear(d_hidden, 1), pack)


def toy_nets(
    nets: str,
    noise_dim: int,
    cond_dim: int,
    hidden: int,
    protocol_hidden: int,
    depth: int,
    pack: int,
    init_gain: float | None = None,
    init_std: float | None = None,
) -> tuple[nn.Module, nn.Module]:
    """A toy suite's G and D by ``nets`` (the protocol's, or ``--nets``), initialised as the
    protocol says unless the nets carry their own initialisation (``OWN_INIT``); the caller
    seeds the global RNG. ``hidden`` (a method's width) serves the gan-toy nets only: a
    published protocol fixes its width (``protocol_hidden``)."""
    if nets == "gan-toy":
        G: nn.Module = mlp(noise_dim + cond_dim, 2, hidden, depth)
        D: nn.Module = ToyDiscriminator(2 + cond_dim, hidden, depth, pack=pack)
    elif nets == "dyngan":
        G, D = dyngan_nets(noise_dim + cond_dim, cond_dim, protocol_hidden, pack)
    elif nets == "veegan":
        G, D = veegan_nets(noise_dim + cond_dim, cond_dim, protocol_hidden, pack)
    elif nets in ("veegan-code", "veegan-code-torch-init"):
        G, D = veegan_code_nets(noise_dim + cond_dim, cond_dim, protocol_hidden, pack)
    else:  # pacgan (NET_CHOICES admits no other value)
        G, D = pacgan_nets(noise_dim + cond_dim, cond_dim, protocol_hidden, 200, 5, pack)
    if nets in OWN_INIT:
        OWN_INIT[nets](G)
        OWN_INIT[nets](D)
    elif init_gain is not None:
        orthogonal_init(G, init_gain)
        orthogonal_init(D, init_gain)
    elif init_std is not None:
        gaussian_init(G, init_std)
        gaussian_init(D, init_std)
    return G, D
