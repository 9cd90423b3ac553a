"""CelebA's aligned JPEGs (``img_align_celeba``) under the data root, resized by one documented
rule and cached as one ``.npy``: decoding all 202,599 JPEGs takes minutes. Every missing or
malformed file is one line naming it and where to put it."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from ..errors import BenchError
from ..store.atomic import atomic_write
from .image_files import _reason, resolve_data_root

CELEBA_URL = "https://mmlab.ie.cuhk.edu.hk/projects/CelebA.html"


CELEBA_DIRNAME = "img_align_celeba"


CELEBA_SUFFIXES = (".jpg", ".jpeg", ".png")


#: bump when the CelebA transform changes: part of the cache key
CELEBA_CACHE_VERSION = 1


def celeba_dir(data_root: str | os.PathLike | None = None) -> Path:
    """The aligned-image folder: ROOT/celeba/img_align_celeba, ROOT/img_align_celeba, or ROOT
    when it is named img_align_celeba. A missing folder is reported as the first of these."""
    root = resolve_data_root(data_root)
    if root.name == CELEBA_DIRNAME:
        return root
    candidates = (root / "celeba" / CELEBA_DIRNAME, root / CELEBA_DIRNAME)
    for c in candidates:
        if c.is_dir():
            return c
    return candidates[0]


def celeba_transform(img: Image.Image, image_size: int = 64, center_crop: int | None = None):
    """One PIL image -> uint8 array image_size×image_size×3 by the documented rule."""
    img = img.convert("RGB")
    w, h = img.size
    s = image_size
    if center_crop is None:
        if min(w, h) < s:
            raise ValueError(f"is {w}x{h}; its shorter side must be at least {s}")
        nw, nh = (s, s * h // w) if w <= h else (s * w // h, s)
        img = img.resize((nw, nh), Image.Resampling.BILINEAR)
        left, top = (nw - s) // 2, (nh - s) // 2
        img = img.crop((left, top, left + s, top + s))
    else:
        c = center_crop
        if min(w, h) < c:
            raise ValueError(f"is {w}x{h}; smaller than the {c}x{c} center crop")
        left, top = (w - c) // 2, (h - c) // 2
        img = img.crop((left, top, left + c, top + c))
        if c != s:
            img = img.resize((s, s), Image.Resampling.BILINEAR)
    return np.asarray(img, dtype=np.uint8)


def celeba_cache_path(
    files: Sequence[Path], root: Path, image_size: int, center_crop: int | None
) -> Path:
    """Cache file for these source files and this rule (names and sizes enter the key)."""
    key = {
        "version": CELEBA_CACHE_VERSION,
        "image_size": image_size,
        "center_crop": center_crop,
        "files": [[p.name, p.stat().st_size] for p in files],
    }
    digest = hashlib.sha256(json.dumps(key).encode()).hexdigest()[:16]
    rule = "short" if center_crop is None else f"crop{center_crop}"
    return root / "cache" / f"celeba-{image_size}-{rule}-{len(files)}-{digest}.npy"


def load_celeba(
    data_root: str | os.PathLike | None = None,
    image_size: int = 64,
    max_images: int | None = None,
    center_crop: int | None = None,
    cache: bool = True,
) -> torch.Tensor:
    """CelebA aligned images as uint8 N×3×image_size² (``celeba_transform``'s rule; no labels).

    With ``cache`` the result is kept as ``ROOT/cache/celeba-*.npy`` (atomic write) and reused
    while the file names and sizes are unchanged; decoding all 202,599 JPEGs takes minutes.
    """
    if max_images is not None and max_images < 1:
        raise BenchError(f"max_images must be at least 1; got {max_images}")
    root = resolve_data_root(data_root)
    folder = celeba_dir(root)
    how = (
        f"run `bench data download celeba` or fetch img_align_celeba.zip (Align&Cropped Images) "
        f"from {CELEBA_URL} and extract it into {folder.parent}"
    )
    if not folder.is_dir():
        raise BenchError(f"CelebA folder not found: expected {folder}; {how}")
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in CELEBA_SUFFIXES)
    if not files:
        raise BenchError(f"no .jpg or .png images in {folder}; {how}")
    files = files[:max_images] if max_images is not None else files
    cache_path = celeba_cache_path(files, root, image_size, center_crop) if cache else None
    if cache_path is not None and cache_path.is_file():
        try:
            arr = np.load(cache_path, allow_pickle=False)
            if arr.shape == (len(files), 3, image_size, image_size) and arr.dtype == np.uint8:
                return torch.from_numpy(arr)
        except (OSError, ValueError, EOFError):
            pass  # a damaged cache is derived data: rebuild it below
    out = np.empty((len(files), 3, image_size, image_size), dtype=np.uint8)
    first_size = None
    for i, p in enumerate(files):
        try:
            with Image.open(p) as img:
                img.load()  # decode now: truncated files only fail here
                if first_size is None:
                    first_size = img.size
                elif img.size != first_size:
                    raise BenchError(
                        f"CelebA image {p} is {img.size[0]}x{img.size[1]} but {files[0].name} is "
                        f"{first_size[0]}x{first_size[1]}; all aligned images must match"
                    )
                arr = celeba_transform(img, image_size, center_crop)
        except BenchError:
            raise
        except ValueError as e:
            raise BenchError(f"CelebA image {p} {e}") from None
        except (UnidentifiedImageError, OSError, SyntaxError) as e:
            raise BenchError(f"cannot read CelebA image {p} ({_reason(e)}); {how}") from None
        out[i] = arr.transpose(2, 0, 1)
    if cache_path is not None:
        try:
            atomic_write(cache_path, lambda f: np.save(f, out, allow_pickle=False))
        except OSError:
            pass  # read-only data root: the cache is an optimisation only
    return torch.from_numpy(out)
