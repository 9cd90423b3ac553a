"""Image generators and discriminators: DCGAN and its ResNet-block and DenseNet-block variants.

DCGAN (Radford et al. 2016), for image_size S in {32, 64} with ``n = log2(S) - 2`` resolution
doublings and stage widths ``c_k = width * 2**(n - 1 - k)`` (32: 4w, 2w, w; 64: 8w, 4w, 2w, w):

* G: z (N, nz) -> ConvT(nz, c_0, 4, 1, 0) -> 4×4, BN, ReLU; then ``n - 1`` *stages*
  c_k -> c_{k+1}, each ConvT(4, 2, 1) doubling the size, BN, ReLU; then ConvT(c_last, C, 4, 2, 1)
  and Tanh. Output N×C×S×S in [-1, 1].
* D: Conv(C, w, 4, 2, 1), LeakyReLU(0.2) (no BN on the input layer, as in DCGAN); then
  ``n - 1`` stages, each Conv(4, 2, 1) halving the size, [BN], LeakyReLU(0.2), down to c_0×4×4:
  these are the *features* (flattened, ``c_0 * 16`` values); then Conv(c_0, 1, 4, 1, 0) gives one
  raw score per image, shape (N,) (no sigmoid: the losses decide).
* ``d_batchnorm=False`` removes every BatchNorm from D (WGAN-GP: a gradient penalty is per
  sample, batch statistics break it); G always has BN. A conv has a bias only when no BN follows.
* Init: every conv / linear weight N(0, 0.02), BN weight N(1, 0.02), all biases 0, drawn in
  module order from an explicit ``torch.Generator``. Modules are built inside
  ``torch.random.fork_rng`` so PyTorch's default init does not advance the global RNG; all of it
  is then overwritten.

Variants (Wang (2024): Wang, "Enhancing WGAN performance by architectural and optimizer
variations"). The paper only says it "replaced some of the convolution blocks in generator and
discriminator in the original WGAN structure with ResBlocks" and, likewise, with DenseNet-style
densely connected blocks ("each layer receives feature maps directly from all the preceding
layers"); it gives no block layout, depth, widths or normalisation. Our reading keeps the DCGAN
input, output and 4×4 layers and replaces each intermediate *stage* by a block with the same
input and output shapes, so the three archs are drop-in replacements:

* ``resnet``: out = act(main(x) + shortcut(x)); main = resample-conv(4, 2, 1), [BN], act,
  Conv3×3(c_out, c_out), [BN]; shortcut = nearest 2× upsample (G) or 2×2 average pool (D), then
  Conv1×1(c_in, c_out) without bias.
* ``densenet``: resample-conv(4, 2, 1), [BN], act; then a dense block of ``DENSE_LAYERS`` = 3
  layers, layer j = Conv3×3(c_out + j g -> g), [BN], act on the concatenation of all earlier maps,
  growth g = c_out // 2; then a 1×1 transition Conv(c_out + 3 g -> c_out), [BN], act.

act is ReLU in G and LeakyReLU(0.2) in D; [BN] is always on in G and follows ``d_batchnorm`` in D.

PacGAN: ``pack = m > 1`` makes D score groups of m consecutive images jointly, concatenated along
channels ((N, C, H, W) is read as (N / m, m C, H, W)), so scores and features have N / m rows.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ..errors import BenchError

ARCHS = ("dcgan", "resnet", "densenet")
IMAGE_SIZES = (32, 64)
DENSE_LAYERS = 3
INIT_STD = 0.02
LEAK = 0.2


def stage_widths(image_size: int, width: int) -> list[int]:
    """Channels at 4×4, 8×8, ..., S/2×S/2: ``width * 2**(n-1)`` down to ``width``."""
    n = int(math.log2(image_size)) - 2
    return [width * 2 ** (n - 1 - k) for k in range(n)]


def _norm(c: int, on: bool) -> nn.Module:
    return nn.BatchNorm2d(c) if on else nn.Identity()


def _act(up: bool) -> nn.Module:
    return nn.ReLU() if up else nn.LeakyReLU(LEAK)


def _resample(c_in: int, c_out: int, up: bool, bias: bool) -> nn.Module:
    conv = nn.ConvTranspose2d if up else nn.Conv2d
    return conv(c_in, c_out, 4, 2, 1, bias=bias)


class DCGANStage(nn.Sequential):
    """Resample-conv(4, 2, 1), [BN], act: doubles (G, ``up``) or halves (D) the size."""

    def __init__(self, c_in: int, c_out: int, up: bool, bn: bool):
        super().__init__(_resample(c_in, c_out, up, not bn), _norm(c_out, bn), _act(up))


class ResStage(nn.Module):
    """act(main(x) + shortcut(x)); see the module doc."""

    def __init__(self, c_in: int, c_out: int, up: bool, bn: bool):
        super().__init__()
        self.main = nn.Sequential(
            _resample(c_in, c_out, up, not bn),
            _norm(c_out, bn),
            _act(up),
            nn.Conv2d(c_out, c_out, 3, 1, 1, bias=not bn),
            _norm(c_out, bn),
        )
        resize = nn.Upsample(scale_factor=2, mode="nearest") if up else nn.AvgPool2d(2)
        self.shortcut = nn.Sequential(resize, nn.Conv2d(c_in, c_out, 1, bias=False))
        self.act = _act(up)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.main(x) + self.shortcut(x))


class DenseStage(nn.Module):
    """Resample-conv, a dense block (each layer sees all earlier maps), 1×1 transition."""

    def __init__(self, c_in: int, c_out: int, up: bool, bn: bool, n_layers: int = DENSE_LAYERS):
        super().__init__()
        g = max(c_out // 2, 1)
        self.resample = DCGANStage(c_in, c_out, up, bn)
        self.layers = nn.ModuleList(
            nn.Sequential(nn.Conv2d(c_out + j * g, g, 3, 1, 1, bias=not bn), _norm(g, bn), _act(up))
            for j in range(n_layers)
        )
        self.transition = nn.Sequential(
            nn.Conv2d(c_out + n_layers * g, c_out, 1, bias=not bn), _norm(c_out, bn), _act(up)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        maps = [self.resample(x)]
        for layer in self.layers:
            maps.append(layer(torch.cat(maps, dim=1)))
        return self.transition(torch.cat(maps, dim=1))


_STAGES = {"dcgan": DCGANStage, "resnet": ResStage, "densenet": DenseStage}


class ImageGenerator(nn.Module):
    """z (N, nz) or (N, nz, 1, 1) -> images N×channels×S×S in [-1, 1]."""

    def __init__(self, arch: str, image_size: int, channels: int, nz: int, width: int):
        super().__init__()
        self.arch, self.image_size, self.channels, self.nz = arch, image_size, channels, nz
        c = stage_widths(image_size, width)
        stage = _STAGES[arch]
        layers: list[nn.Module] = [
            nn.ConvTranspose2d(nz, c[0], 4, 1, 0, bias=False),
            nn.BatchNorm2d(c[0]),
            nn.ReLU(),
        ]
        layers += [stage(c[k], c[k + 1], True, True) for k in range(len(c) - 1)]
        layers += [nn.ConvTranspose2d(c[-1], channels, 4, 2, 1, bias=True), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        if z.dim() == 2:
            z = z[:, :, None, None]
        return self.net(z)


class ImageDiscriminator(nn.Module):
    """images N×channels×S×S -> raw scores (N / pack,); :meth:`features` gives the penultimate
    layer (the flattened c_0×4×4 map) for diversity tracking and clustering."""

    def __init__(
        self, arch: str, image_size: int, channels: int, width: int, batchnorm: bool, pack: int = 1
    ):
        super().__init__()
        self.arch, self.image_size, self.channels = arch, image_size, channels
        self.batchnorm, self.pack = batchnorm, pack
        c = stage_widths(image_size, width)[::-1]  # w, 2w, ... up to c_0
        stage = _STAGES[arch]
        layers: list[nn.Module] = [
            nn.Conv2d(channels * pack, c[0], 4, 2, 1, bias=True),
            nn.LeakyReLU(LEAK),
        ]
        layers += [stage(c[k], c[k + 1], False, batchnorm) for k in range(len(c) - 1)]
        self.trunk = nn.Sequential(*layers)
        self.head = nn.Conv2d(c[-1], 1, 4, 1, 0, bias=True)
        self.feature_dim = c[-1] * 16

    def _packed(self, x: torch.Tensor) -> torch.Tensor:
        if self.pack > 1:
            n, ch, h, w = x.shape
            if n % self.pack:
                raise ValueError(f"batch of {n} is not a multiple of pack={self.pack}")
            x = x.reshape(n // self.pack, self.pack * ch, h, w)
        return x

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Penultimate features, shape (N / pack, feature_dim)."""
        return self.trunk(self._packed(x)).flatten(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.trunk(self._packed(x))).reshape(-1)


def init_weights(module: nn.Module, generator: torch.Generator) -> None:
    """DCGAN init from ``generator``: conv/linear weights N(0, 0.02), BN weights N(1, 0.02),
    biases 0, in ``module.modules()`` order."""
    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, nn.Conv2d | nn.ConvTranspose2d | nn.Linear):
                nn.init.normal_(m.weight, 0.0, INIT_STD, generator=generator)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.normal_(m.weight, 1.0, INIT_STD, generator=generator)
                nn.init.zeros_(m.bias)


def build_image_nets(
    arch: str = "dcgan",
    image_size: int = 32,
    channels: int = 3,
    nz: int = 100,
    width: int = 64,
    d_batchnorm: bool = True,
    generator: torch.Generator | None = None,
    pack: int = 1,
) -> tuple[ImageGenerator, ImageDiscriminator]:
    """(G, D) for ``arch`` in ARCHS; ``width`` is ngf = ndf. G is initialised first, then D, from
    ``generator`` (None: a fresh ``torch.Generator().manual_seed(0)``)."""
    if arch not in ARCHS:
        raise BenchError(f"unknown architecture {arch!r}; valid: {', '.join(ARCHS)}")
    if image_size not in IMAGE_SIZES:
        raise BenchError(
            f"image_size {image_size} is not supported; valid: {', '.join(map(str, IMAGE_SIZES))}"
        )
    for what, v, lo in (("channels", channels, 1), ("nz", nz, 1), ("width", width, 2)):
        if isinstance(v, bool) or not isinstance(v, int) or v < lo:
            raise BenchError(f"{what} must be an integer >= {lo}; got {v!r}")
    if isinstance(pack, bool) or not isinstance(pack, int) or pack < 1:
        raise BenchError(f"pack must be an integer >= 1; got {pack!r}")
    if generator is None:
        generator = torch.Generator().manual_seed(0)
    with torch.random.fork_rng(devices=[]):
        G = ImageGenerator(arch, image_size, channels, nz, width)
        D = ImageDiscriminator(arch, image_size, channels, width, d_batchnorm, pack)
    init_weights(G, generator)
    init_weights(D, generator)
    return G, D
