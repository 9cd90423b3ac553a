"""Input validation and conversion for the image metrics.

Every image metric takes uint8 N×C×H×W tensors (C = 1 or 3), the format torch-fidelity's
extractors expect. These helpers turn what users hand in (numpy or torch, channels first or
last, uint8 or floats in [-1, 1]) into that format once, explicitly, and reject anything else
with a one-line ``ValueError`` so a float image is never silently misread as uint8.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

_CHANNELS = (1, 3)


def _as_tensor(arr: np.ndarray | torch.Tensor, name: str) -> torch.Tensor:
    if isinstance(arr, torch.Tensor):
        return arr.detach().cpu()
    if isinstance(arr, np.ndarray):
        if arr.dtype.kind not in "biuf":
            raise ValueError(f"{name} has dtype {arr.dtype}; valid: uint8, or floats in [-1, 1]")
        return torch.from_numpy(np.ascontiguousarray(arr))
    raise ValueError(f"{name} must be a numpy array or torch tensor; got {type(arr).__name__}")


def channels_first(x: torch.Tensor, name: str = "images") -> torch.Tensor:
    """N×H×W×C or N×C×H×W (C in 1 or 3) -> N×C×H×W view; anything else is a ValueError."""
    if x.dim() != 4:
        raise ValueError(
            f"{name} must be 4-D (N×H×W×C or N×C×H×W with C in 1 or 3); got shape {tuple(x.shape)}"
        )
    first, last = x.shape[1] in _CHANNELS, x.shape[3] in _CHANNELS
    if first and last:
        raise ValueError(
            f"{name} has ambiguous shape {tuple(x.shape)}: both axis 1 and axis 3 could be the "
            f"channel axis; images must be larger than 3 pixels on each side"
        )
    if first:
        return x
    if last:
        return x.permute(0, 3, 1, 2)
    raise ValueError(
        f"{name} has shape {tuple(x.shape)}; valid: N×H×W×C or N×C×H×W with C in 1 or 3"
    )


def to_uint8_nchw(arr: np.ndarray | torch.Tensor, name: str = "images") -> torch.Tensor:
    """Validate images and return them as a contiguous uint8 N×C×H×W tensor (C = 1 or 3).

    uint8 is kept as is. Floats must lie in [-1, 1] (a generator's tanh output) and are mapped
    once by round((x + 1) * 127.5); floats outside that range, NaN/inf and other dtypes are
    errors, because guessing a range (0..1? 0..255?) is how metric pipelines silently go wrong.
    """
    x = _as_tensor(arr, name)
    x = channels_first(x, name)
    if x.shape[0] == 0:
        raise ValueError(f"{name} is empty; need at least one image")
    if x.dtype == torch.uint8:
        return x.contiguous()
    if not x.is_floating_point():
        raise ValueError(f"{name} has dtype {x.dtype}; valid: uint8, or floats in [-1, 1]")
    x = x.to(torch.float64)
    if not torch.isfinite(x).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    lo, hi = float(x.min()), float(x.max())
    if lo < -1.0 or hi > 1.0:
        raise ValueError(
            f"{name} are floats in [{lo:.4g}, {hi:.4g}]; float images must lie in [-1, 1] "
            f"(or pass uint8 in [0, 255])"
        )
    return ((x + 1.0) * 127.5).round().to(torch.uint8).contiguous()


def to_rgb(images: torch.Tensor) -> torch.Tensor:
    """Repeat a grayscale uint8 N×1×H×W batch to 3 channels (the Inception path needs RGB).

    Kept separate from :func:`to_uint8_nchw` so that only extractors that need RGB see it; the
    digits classifier and MS-SSIM work on the single channel.
    """
    if images.dim() != 4 or images.shape[1] not in _CHANNELS:
        raise ValueError(f"expected N×C×H×W images with C in 1 or 3; got {tuple(images.shape)}")
    return images.repeat(1, 3, 1, 1) if images.shape[1] == 1 else images


def to_unit_float(images: torch.Tensor, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """uint8 [0, 255] -> floats in [-1, 1], the inverse of :func:`to_uint8_nchw`'s mapping."""
    return images.to(dtype) / 127.5 - 1.0


def _read_png(path: Path) -> np.ndarray:
    try:
        with Image.open(path) as img:
            img.load()  # decode now: truncated files only fail here
            mode = img.mode
            if mode == "RGBA":
                rgba = np.asarray(img)
                if (rgba[..., 3] != 255).any():
                    raise ValueError(
                        f"{path} has a transparent alpha channel; valid PNG modes: L, RGB, "
                        f"or RGBA fully opaque"
                    )
                return rgba[..., :3]
            if mode == "L":
                return np.asarray(img)[..., None]
            if mode == "RGB":
                return np.asarray(img)
            raise ValueError(f"{path} has PNG mode {mode}; valid modes: L (grayscale), RGB, RGBA")
    except (UnidentifiedImageError, OSError, SyntaxError) as e:
        reason = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise ValueError(f"cannot read PNG {path}: {reason}") from None


def load_image_folder(path: str | Path) -> torch.Tensor:
    """Read every ``*.png`` directly in ``path`` (sorted by name) into uint8 N×C×H×W.

    All images must share size and channel count, so a stray file is caught here rather than as
    a confusing shape error inside a metric.
    """
    folder = Path(path)
    if not folder.is_dir():
        raise ValueError(f"{folder} is not a directory; expected a folder of PNG images")
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() == ".png" and p.is_file())
    if not files:
        raise ValueError(f"no .png files in {folder}")
    arrays = []
    for f in files:
        a = _read_png(f)
        if arrays and a.shape != arrays[0].shape:
            raise ValueError(
                f"{f} is {a.shape[1]}x{a.shape[0]} with {a.shape[2]} channel(s) but {files[0]} "
                f"is {arrays[0].shape[1]}x{arrays[0].shape[0]} with {arrays[0].shape[2]}; "
                f"all images must match"
            )
        arrays.append(a)
    return torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).contiguous()
