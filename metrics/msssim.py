"""Per-class MS-SSIM diversity (AC-GAN protocol, Odena et al. 2017; the greed paper Tables 1-3).

Diversity of a set of images (one class) = mean MS-SSIM over random pairs of distinct images;
lower is more diverse. The figure for real images of the class is the ground-truth row.

Two documented protocols:

* ``"clamped"`` (default for 32×32, 64×64 and digits): the small-image protocol of the GAN
  literature (compare_gan's MS-SSIM score; Fedus et al. 2017 §5.3): at each of the 5 scales the
  11-pixel Gaussian window (sigma 1.5) is clamped to the image size, with sigma scaled by the
  same factor (``sigma = 1.5 * size / 11``). Everything else follows pytorch-msssim exactly
  (per-channel SSIM, valid convolution with a separable Gaussian, relu on the contrast terms and
  the last-scale SSIM, 2×2 average pooling with pytorch-msssim's odd-size padding, weights
  0.0448/0.2856/0.3001/0.2363/0.1333, channel mean at the end), so where no clamping happens the
  two agree; the tests check this to 1e-4 on 192×192 images. Written here because
  ``pytorch_msssim.ms_ssim`` refuses images whose smaller side is <= (win_size - 1) * 16 (160
  pixels for the standard window): CIFAR's 32×32 fails even with win_size 3.
* ``"upsample"``: bilinear resize so the smaller side is ``upsample_size`` (default 176, the
  smallest multiple of 16 above pytorch-msssim's 160-pixel minimum, so every halving is exact),
  then ``pytorch_msssim.ms_ssim``. This is the pytorch-msssim maintainer's suggestion; its
  numbers are not comparable with the clamped protocol's.

Pairs are drawn uniformly with replacement from the ordered pairs (i, j), i != j, with a seeded
``torch.Generator``. The default 10,000 pairs bounds the standard error below 0.005 for any
data (MS-SSIM lies in [0, 1], so its standard deviation is at most 0.5); the standard error
reported treats pairs as independent, which slightly understates it when N is small.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
import pytorch_msssim
import torch
import torch.nn.functional as F

from .images import to_uint8_nchw

PROTOCOLS = ("clamped", "upsample")
MS_SSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)
WIN_SIZE = 11
WIN_SIGMA = 1.5
UPSAMPLE_SIZE = 176
DEFAULT_PAIRS = 10_000


def _gauss_1d(size: int, sigma: float, dtype: torch.dtype) -> torch.Tensor:
    # centred at (size - 1) / 2: pytorch-msssim's window for odd sizes, and still symmetric for
    # the even sizes clamping can produce (as compare_gan's half-pixel offset does)
    coords = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    g = torch.exp(-(coords**2) / (2 * sigma**2))
    return (g / g.sum()).to(dtype)


def _blur(x: torch.Tensor, win: torch.Tensor) -> torch.Tensor:
    c = x.shape[1]
    k = win.numel()
    x = F.conv2d(x, win.view(1, 1, k, 1).expand(c, 1, k, 1), groups=c)
    return F.conv2d(x, win.view(1, 1, 1, k).expand(c, 1, 1, k), groups=c)


def _ssim_cs(
    x: torch.Tensor, y: torch.Tensor, win: torch.Tensor, data_range: float, k: tuple[float, float]
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-channel SSIM and contrast-structure terms, (N, C) each (pytorch-msssim's _ssim)."""
    c1 = (k[0] * data_range) ** 2
    c2 = (k[1] * data_range) ** 2
    mu1, mu2 = _blur(x, win), _blur(y, win)
    mu1_sq, mu2_sq, mu12 = mu1 * mu1, mu2 * mu2, mu1 * mu2
    s1 = _blur(x * x, win) - mu1_sq
    s2 = _blur(y * y, win) - mu2_sq
    s12 = _blur(x * y, win) - mu12
    cs_map = (2 * s12 + c2) / (s1 + s2 + c2)
    ssim_map = (2 * mu12 + c1) / (mu1_sq + mu2_sq + c1) * cs_map
    return ssim_map.flatten(2).mean(-1), cs_map.flatten(2).mean(-1)


def ms_ssim_clamped(
    x: torch.Tensor,
    y: torch.Tensor,
    data_range: float = 255.0,
    win_size: int = WIN_SIZE,
    win_sigma: float = WIN_SIGMA,
    weights: Sequence[float] = MS_SSIM_WEIGHTS,
    k: tuple[float, float] = (0.01, 0.03),
) -> torch.Tensor:
    """MS-SSIM per pair (shape (N,)) of float N×C×H×W batches in [0, data_range], with the
    Gaussian window clamped to the image size at each scale (see the module docstring)."""
    if x.shape != y.shape or x.dim() != 4:
        raise ValueError(f"need two N×C×H×W batches of equal shape; got {x.shape}, {y.shape}")
    levels = len(weights)
    if min(x.shape[-2:]) < 2 ** (levels - 1):
        raise ValueError(
            f"MS-SSIM with {levels} scales needs images of at least {2 ** (levels - 1)} pixels "
            f"per side; got {tuple(x.shape[-2:])}"
        )
    w = torch.tensor(weights, dtype=x.dtype, device=x.device)
    mcs = []
    for level in range(levels):
        size = min(win_size, *x.shape[-2:])
        win = _gauss_1d(size, win_sigma * size / win_size, x.dtype).to(x.device)
        ssim, cs = _ssim_cs(x, y, win, data_range, k)
        if level < levels - 1:
            mcs.append(torch.relu(cs))
            pad = [s % 2 for s in x.shape[2:]]
            x = F.avg_pool2d(x, kernel_size=2, padding=pad)
            y = F.avg_pool2d(y, kernel_size=2, padding=pad)
    stacked = torch.stack(mcs + [torch.relu(ssim)], dim=0)  # (level, N, C)
    return torch.prod(stacked ** w.view(-1, 1, 1), dim=0).mean(1)


def ms_ssim_upsampled(
    x: torch.Tensor,
    y: torch.Tensor,
    data_range: float = 255.0,
    upsample_size: int = UPSAMPLE_SIZE,
    win_size: int = WIN_SIZE,
    win_sigma: float = WIN_SIGMA,
) -> torch.Tensor:
    """MS-SSIM per pair after a bilinear resize (smaller side -> ``upsample_size``), computed by
    ``pytorch_msssim.ms_ssim``."""
    if upsample_size <= (win_size - 1) * 16:
        raise ValueError(
            f"upsample_size must exceed (win_size - 1) * 16 = {(win_size - 1) * 16} for "
            f"pytorch-msssim; got {upsample_size}"
        )
    h, w = x.shape[-2:]
    f = upsample_size / min(h, w)
    size = (round(h * f), round(w * f))
    x = F.interpolate(x, size=size, mode="bilinear", align_corners=False)
    y = F.interpolate(y, size=size, mode="bilinear", align_corners=False)
    return pytorch_msssim.ms_ssim(
        x, y, data_range=data_range, size_average=False, win_size=win_size, win_sigma=win_sigma
    )


@dataclass(frozen=True)
class MSSSIMResult:
    mean: float
    std_error: float
    n_pairs: int
    n_images: int
    protocol: str

    def as_dict(self) -> dict[str, float | int | str]:
        return asdict(self)


def sample_pairs(n: int, n_pairs: int, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """``n_pairs`` index pairs (i, j), i != j, uniform over ordered pairs, with replacement."""
    i = torch.randint(n, (n_pairs,), generator=gen)
    j = torch.randint(n - 1, (n_pairs,), generator=gen)
    return i, j + (j >= i).long()


def msssim_diversity(
    images: np.ndarray | torch.Tensor,
    *,
    n_pairs: int = DEFAULT_PAIRS,
    seed: int = 0,
    protocol: str = "clamped",
    upsample_size: int = UPSAMPLE_SIZE,
    batch_size: int = 500,
    device: str | torch.device = "cpu",
) -> MSSSIMResult:
    """Mean MS-SSIM over ``n_pairs`` random pairs of distinct images (one class); lower is more
    diverse. Images: uint8 or floats in [-1, 1], N×H×W×C or N×C×H×W, C = 1 or 3. The pairs are
    drawn on the CPU (the same pairs everywhere) and compared on ``device``."""
    if protocol not in PROTOCOLS:
        raise ValueError(f"unknown MS-SSIM protocol {protocol!r}; valid: {', '.join(PROTOCOLS)}")
    if n_pairs < 2:
        raise ValueError(f"n_pairs must be at least 2; got {n_pairs}")
    x = to_uint8_nchw(images)
    if len(x) < 2:
        raise ValueError(f"MS-SSIM diversity needs at least 2 images; got {len(x)}")
    if protocol == "clamped" and min(x.shape[-2:]) < 2 ** (len(MS_SSIM_WEIGHTS) - 1):
        raise ValueError(f"clamped MS-SSIM needs images of at least 16×16; got {x.shape[-2:]}")
    i, j = sample_pairs(len(x), n_pairs, torch.Generator().manual_seed(seed))
    # float64 for the clamped code (cheap at 32-64 px); float32, pytorch-msssim's usual dtype,
    # for the upsampled path, whose depthwise convolutions cost ~30 ms per 176 px pair on a CPU
    dtype = torch.float64 if protocol == "clamped" else torch.float32
    vals = []
    with torch.no_grad():
        for start in range(0, n_pairs, batch_size):
            a = x[i[start : start + batch_size]].to(device, dtype)
            b = x[j[start : start + batch_size]].to(device, dtype)
            if protocol == "clamped":
                vals.append(ms_ssim_clamped(a, b))
            else:
                vals.append(ms_ssim_upsampled(a, b, upsample_size=upsample_size))
    v = torch.cat(vals).cpu()
    return MSSSIMResult(
        mean=float(v.double().mean()),
        std_error=float(v.double().std() / math.sqrt(n_pairs)),
        n_pairs=n_pairs,
        n_images=len(x),
        protocol=protocol if protocol == "clamped" else f"upsample{upsample_size}",
    )


def per_class_msssim(
    images: np.ndarray | torch.Tensor,
    labels: np.ndarray | torch.Tensor | Sequence[int],
    **kwargs,
) -> dict[int, MSSSIMResult]:
    """:func:`msssim_diversity` for each class in ``labels`` (one integer label per image)."""
    lab = np.asarray(labels)
    if lab.ndim != 1 or lab.dtype.kind not in "iu":
        raise ValueError(f"labels must be a 1-D integer array; got shape {lab.shape}, {lab.dtype}")
    x = to_uint8_nchw(images)
    if len(lab) != len(x):
        raise ValueError(f"{len(lab)} labels for {len(x)} images; need one label per image")
    out = {}
    for c in np.unique(lab):
        idx = torch.from_numpy(np.flatnonzero(lab == c))
        if len(idx) < 2:
            raise ValueError(f"class {int(c)} has {len(idx)} image; MS-SSIM needs at least 2")
        out[int(c)] = msssim_diversity(x[idx], **kwargs)
    return out
