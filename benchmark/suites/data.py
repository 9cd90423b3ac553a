"""Image data for the image suites: readers of the official on-disk formats, splits, stacking.

Data root
    Every loader takes ``data_root``; ``None`` means the environment variable
    ``COLLAPSEBENCH_DATA`` if set (and non-empty), else ``~/.cache/collapsebench/data``. The layout
    under it is the one torchvision's ``download=True`` writes, so :func:`download` and a manual
    download end up in the same place::

        ROOT/cifar-10-batches-py/{data_batch_1..5, test_batch, batches.meta}
        ROOT/MNIST/raw/{train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]   (or directly in ROOT)
        ROOT/celeba/img_align_celeba/*.jpg|*.png                          (or ROOT/img_align_celeba)
        ROOT/cache/                                                       (derived CelebA arrays)

CIFAR-10
    The python-pickle batches are read by a thin reader of that format, not through
    ``torchvision.datasets.CIFAR10(download=False)``: torchvision checks every file's md5 against
    the official archive, which small test fixtures (and any re-packed copy) fail. The reader
    unpickles with an allow-list (numpy array reconstruction and ``_codecs.encode`` only), so a
    hostile pickle cannot run code. Row layout: 1024 red, 1024 green, 1024 blue values, each a
    row-major 32×32 plane, so ``data.reshape(N, 3, 32, 32)`` is the image. Class names come from
    ``batches.meta`` (``label_names``). The train split is data_batch_1..5 in that order.

MNIST
    The idx files are parsed here: 4-byte big-endian magic (2051 images, 2049 labels: two zero
    bytes, type code 0x08 = unsigned byte, number of dimensions), then one big-endian uint32 per
    dimension, then the data; the data length must equal the product of the dimensions exactly.
    A ``.gz`` file is used when the plain one is absent.

CelebA (64×64 as in DCGAN)
    Default rule (the PyTorch DCGAN tutorial's ``Resize(64)`` + ``CenterCrop(64)``): for a W×H
    image, resize so the shorter side is 64 and the longer ``floor(64 * long / short)``
    (PIL bilinear, which antialiases when shrinking), then cut the centred 64×64 window with
    ``left = (w' - 64) // 2``, ``top = (h' - 64) // 2``. An aligned CelebA image (178×218)
    becomes 64×78 and keeps rows 7..70. With ``center_crop=c`` the DCGAN-tensorflow rule is used
    instead: cut the centred c×c window first (same floor offsets; c = 108 in that code), then
    resize it to 64×64 with PIL bilinear. Files are ``*.jpg|*.jpeg|*.png`` sorted by name;
    ``max_images`` keeps the first ones. All images must have the size of the first.

digits
    scikit-learn's bundled ``load_digits`` (1,797 real 8×8 images, values 0..16): scaled to
    0..255 (``v * 255 / 16``), resized by :func:`resize_images` (bilinear, ``align_corners=False``,
    no antialiasing), rounded to uint8. This is the same rule as
    ``metrics.digits_classifier.load_digits_images``, so suite data and classifier data agree.

Stacked MNIST / stacked digits (VEEGAN, PacGAN)
    Each stack takes three images drawn uniformly with replacement (``torch.randint`` from the
    caller's generator) as its R, G, B channels; its mode is the label triple (1000 modes).
    PacGAN trains on 128,000 stacks. ``metrics.stacked_modes`` counts distinct predicted triples and
    KL(p || uniform over the 1000 triples) = sum_i p_i log(1000 p_i) (0 log 0 = 0).

Errors the user can fix (missing, truncated or corrupt files, wrong sizes, unknown names) are
one-line :class:`BenchError` messages naming the file and how to get it."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from sklearn import datasets as sk_datasets

from ..errors import BenchError
from .celeba_files import CELEBA_DIRNAME, CELEBA_URL, load_celeba
from .image_files import (
    CIFAR10_DIRNAME,
    CIFAR10_URL,
    MNIST_URL,
    _bilinear_uint8,
    _reason,
    cifar10_class_names,
    cifar10_dir,
    load_cifar10,
    load_mnist,
    resolve_data_root,
)

DATASETS = ("cifar10", "mnist", "celeba", "digits")


DIGIT_CLASSES = tuple(str(d) for d in range(10))


# -- CIFAR-10 ------------------------------------------------------------------------------------


# -- digits --------------------------------------------------------------------------------------
def load_digits(image_size: int = 32, channels: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    """scikit-learn's 1,797 digits as uint8 N×channels×image_size² (rule in the module doc) and
    int64 labels. ``channels=3`` repeats the gray plane."""
    if image_size < 8:
        raise BenchError(
            f"digits image_size must be at least 8 (the digits are 8×8); got {image_size}"
        )
    if channels not in (1, 3):
        raise BenchError(f"digits channels must be 1 or 3; got {channels}")
    d = sk_datasets.load_digits()
    x = torch.from_numpy(d.images.astype(np.float64) * (255.0 / 16.0)).unsqueeze(1)
    x = _bilinear_uint8(x, image_size)
    if channels == 3:
        x = x.repeat(1, 3, 1, 1)
    return x.contiguous(), torch.from_numpy(d.target.astype(np.int64))


# -- one entry point -----------------------------------------------------------------------------
@dataclass(frozen=True)
class ImageSet:
    """uint8 N×C×H×W images, int64 labels (None for CelebA) and the class names."""

    images: torch.Tensor
    labels: torch.Tensor | None
    class_names: tuple[str, ...]


def load_dataset(
    name: str,
    data_root: str | os.PathLike | None = None,
    split: str = "train",
    image_size: int | None = None,
    channels: int = 1,
    max_images: int | None = None,
) -> ImageSet:
    """Dispatch to the loaders. ``image_size`` None means the native size (digits: 32, CelebA:
    64); ``channels`` applies to digits; ``max_images`` to CelebA; ``split`` to CIFAR/MNIST."""
    if name == "cifar10":
        if image_size not in (None, 32):
            raise BenchError(f"CIFAR-10 images are 32×32; got image_size {image_size}")
        x, y = load_cifar10(data_root, split)
        return ImageSet(x, y, cifar10_class_names(data_root))
    if name == "mnist":
        x, y = load_mnist(data_root, split, image_size)
        return ImageSet(x, y, DIGIT_CLASSES)
    if name == "digits":
        x, y = load_digits(32 if image_size is None else image_size, channels)
        return ImageSet(x, y, DIGIT_CLASSES)
    if name == "celeba":
        x = load_celeba(data_root, 64 if image_size is None else image_size, max_images)
        return ImageSet(x, None, ())
    raise BenchError(f"unknown dataset {name!r}; valid datasets: {', '.join(DATASETS)}")


# -- class splits --------------------------------------------------------------------------------
def class_index(cls: int | str, class_names: Sequence[str]) -> int:
    """A class given by index or by name -> its index; BenchError listing the valid names."""
    names = list(class_names)
    if isinstance(cls, str):
        if cls in names:
            return names.index(cls)
        raise BenchError(f"unknown class {cls!r}; valid classes: {', '.join(names)}")
    if isinstance(cls, bool) or not isinstance(cls, int | np.integer) or not 0 <= cls < len(names):
        raise BenchError(
            f"unknown class {cls!r}; valid: an index 0..{len(names) - 1} or a name "
            f"({', '.join(names)})"
        )
    return int(cls)


def per_class(
    images: torch.Tensor,
    labels: torch.Tensor,
    cls: int | str,
    class_names: Sequence[str] | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The images (and labels) of exactly one class, in their original order.

    ``cls`` is an index, or a name looked up in ``class_names`` (default: the indices present
    in ``labels`` as strings, so "3" works for digits)."""
    labels = torch.as_tensor(labels)
    if labels.ndim != 1 or len(labels) != len(images):
        raise BenchError(f"labels must be (N,) for {len(images)} images; got {tuple(labels.shape)}")
    if class_names is None:
        present = sorted(int(v) for v in torch.unique(labels))
        if isinstance(cls, str):
            if cls not in {str(v) for v in present}:
                raise BenchError(
                    f"unknown class {cls!r}; valid classes: {', '.join(map(str, present))}"
                )
            k = int(cls)
        else:
            if isinstance(cls, bool) or not isinstance(cls, int | np.integer) or cls not in present:
                raise BenchError(
                    f"unknown class {cls!r}; valid classes: {', '.join(map(str, present))}"
                )
            k = int(cls)
    else:
        k = class_index(cls, class_names)
    keep = labels == k
    if not bool(keep.any()):
        raise BenchError(f"no images of class {cls!r} (index {k}) in this data")
    return images[keep], labels[keep]


# -- stacked MNIST / stacked digits --------------------------------------------------------------
def stack_channels(
    images_1ch: torch.Tensor, labels: torch.Tensor, n: int, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` stacks of three images drawn uniformly with replacement from ``images_1ch``
    (N×1×H×W or N×H×W) as R, G, B: returns stacks n×3×H×W (same dtype) and int64 label
    triples n×3 (R, G, B order)."""
    x = torch.as_tensor(images_1ch)
    if x.ndim == 4:
        if x.shape[1] != 1:
            raise BenchError(f"stack_channels needs 1-channel images; got {tuple(x.shape)}")
        x = x[:, 0]
    if x.ndim != 3 or len(x) == 0:
        raise BenchError(f"stack_channels needs N×1×H×W images with N >= 1; got {tuple(x.shape)}")
    y = torch.as_tensor(labels).to(torch.int64)
    if y.shape != (len(x),):
        raise BenchError(f"labels must be ({len(x)},); got {tuple(y.shape)}")
    if y.min() < 0 or y.max() > 9:
        raise BenchError("stacked data needs labels 0..9 (10 classes -> 1000 modes)")
    if n < 1:
        raise BenchError(f"number of stacks must be at least 1; got {n}")
    idx = torch.randint(len(x), (n, 3), generator=generator)
    return x[idx].contiguous(), y[idx]


# -- download ------------------------------------------------------------------------------------
_MANUAL = {
    "cifar10": f"fetch {CIFAR10_URL} and extract it into {{root}} (giving {{root}}/"
    f"{CIFAR10_DIRNAME}/)",
    "mnist": f"fetch the four idx files from {MNIST_URL} into {{root}}/MNIST/raw/",
    "celeba": f"fetch img_align_celeba.zip (Align&Cropped Images) from {CELEBA_URL} and extract "
    f"it into {{root}}/celeba/ (giving {{root}}/celeba/{CELEBA_DIRNAME}/)",
}


def download(name: str, data_root: str | os.PathLike | None = None) -> Path:
    """Fetch ``name`` with torchvision's own downloader into the data root; returns its folder.

    Offline or on any failure: a BenchError saying what to fetch and where to put it. digits is
    bundled with scikit-learn and needs nothing."""
    if name not in DATASETS:
        raise BenchError(f"unknown dataset {name!r}; valid datasets: {', '.join(DATASETS)}")
    root = resolve_data_root(data_root)
    if name == "digits":
        return Path(sk_datasets.__file__).parent / "data"
    try:
        from torchvision import datasets as tv_datasets

        root.mkdir(parents=True, exist_ok=True)
        if name == "cifar10":
            tv_datasets.CIFAR10(str(root), train=True, download=True)
            out = cifar10_dir(root)
        elif name == "mnist":
            tv_datasets.MNIST(str(root), train=True, download=True)
            tv_datasets.MNIST(str(root), train=False, download=True)
            out = root / "MNIST" / "raw"
        else:
            tv_datasets.CelebA(str(root), split="all", target_type=[], download=True)
            out = root / "celeba" / CELEBA_DIRNAME
    except Exception as e:  # offline (URLError), Google Drive quota, disk full, bad checksum ...
        raise BenchError(
            f"could not download {name} ({_reason(e)}); " + _MANUAL[name].format(root=root)
        ) from None
    return out
