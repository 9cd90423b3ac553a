"""The image data sets in their published on-disk formats: CIFAR-10 python pickles (read without
running code) and MNIST idx files (raw or gzipped), found under the data root, and the data root
itself (CelebA's JPEGs: ``celeba_files.py``). Every missing or malformed file is one line naming
it and where to put it."""

from __future__ import annotations

import gzip
import math
import os
import pickle
import zlib
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import BenchError

ENV_VAR = "COLLAPSEBENCH_DATA"


SPLITS = ("train", "test")


CIFAR10_DIRNAME = "cifar-10-batches-py"


CIFAR10_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"


CIFAR10_TRAIN = tuple(f"data_batch_{i}" for i in range(1, 6))


CIFAR10_TEST = ("test_batch",)


CIFAR10_META = "batches.meta"


MNIST_URL = "http://yann.lecun.com/exdb/mnist/"


MNIST_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


IDX_IMAGES_MAGIC = 2051


IDX_LABELS_MAGIC = 2049


# -- data root -----------------------------------------------------------------------------------
def default_data_root() -> Path:
    """``$COLLAPSEBENCH_DATA`` if set and non-empty, else ``~/.cache/collapsebench/data``."""
    env = os.environ.get(ENV_VAR, "").strip()
    if env:
        return Path(env).expanduser()
    return Path.home() / ".cache" / "collapsebench" / "data"


def resolve_data_root(data_root: str | os.PathLike | None = None) -> Path:
    return default_data_root() if data_root is None else Path(data_root).expanduser()


def _reason(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return f"{type(e).__name__}: {text[0]}" if text else type(e).__name__


def _check_split(split: str) -> None:
    if split not in SPLITS:
        raise BenchError(f"unknown split {split!r}; valid splits: {', '.join(SPLITS)}")


# -- images --------------------------------------------------------------------------------------
def _bilinear_uint8(x: torch.Tensor, size: int) -> torch.Tensor:
    """float N×C×H×W in 0..255 -> uint8 N×C×size×size: bilinear, ``align_corners=False``, no
    antialiasing, ``torch.round`` (half to even), clamped to 0..255."""
    if x.shape[-2:] != (size, size):
        x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
    return x.round().clamp(0, 255).to(torch.uint8)


def resize_images(images: torch.Tensor, size: int) -> torch.Tensor:
    """uint8 N×C×H×W -> uint8 N×C×size×size by the bilinear rule of :func:`_bilinear_uint8`
    (computed in float64); unchanged when already that size."""
    if images.shape[-2:] == (size, size):
        return images
    return _bilinear_uint8(images.to(torch.float64), size)


#: (module, name) globals a CIFAR-10 pickle may reference: numpy array reconstruction and the
#: ``_codecs.encode`` that protocol-2 pickles written by Python 3 use for bytes objects.
_PICKLE_ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("_codecs", "encode"),
}


class _BatchUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        if (module, name) not in _PICKLE_ALLOWED:
            raise pickle.UnpicklingError(f"global {module}.{name} is not allowed in a CIFAR batch")
        if module == "numpy.core.multiarray" and hasattr(np, "_core"):
            module = "numpy._core.multiarray"  # numpy 2 renamed it; avoid the deprecation path
        return super().find_class(module, name)


def cifar10_dir(data_root: str | os.PathLike | None = None) -> Path:
    """``ROOT/cifar-10-batches-py`` (or ROOT itself when it is that folder)."""
    root = resolve_data_root(data_root)
    if root.name == CIFAR10_DIRNAME:
        return root
    return root / CIFAR10_DIRNAME


def _cifar_missing(path: Path) -> BenchError:
    return BenchError(
        f"CIFAR-10 file not found: expected {path}; run `bench data download cifar10` or fetch "
        f"{CIFAR10_URL} and extract it into {path.parent.parent}"
    )


def _read_pickle(path: Path) -> dict:
    try:
        with open(path, "rb") as f:
            obj = _BatchUnpickler(f, encoding="bytes").load()
    except FileNotFoundError:
        raise _cifar_missing(path) from None
    except Exception as e:  # truncated or corrupt: EOFError, UnpicklingError, ValueError, ...
        raise BenchError(
            f"cannot read CIFAR-10 file {path}: corrupt or truncated pickle ({_reason(e)}); "
            f"delete it and run `bench data download cifar10`"
        ) from None
    if not isinstance(obj, dict):
        raise BenchError(
            f"CIFAR-10 file {path} holds a {type(obj).__name__}, not a batch dict; "
            f"is it from {CIFAR10_URL}?"
        )
    return obj


def _get(d: dict, key: str, path: Path):
    for k in (key.encode(), key):
        if k in d:
            return d[k]
    raise BenchError(f"CIFAR-10 file {path} has no {key!r} entry; is it from {CIFAR10_URL}?")


def _read_cifar_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    d = _read_pickle(path)
    data = np.asarray(_get(d, "data", path))
    labels = np.asarray(_get(d, "labels", path))
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3 * 32 * 32:
        raise BenchError(
            f"CIFAR-10 file {path} has data of shape {data.shape} and dtype {data.dtype}; "
            f"expected uint8 rows of 3072 = 3×32×32 values"
        )
    if labels.ndim != 1 or len(labels) != len(data) or not np.issubdtype(labels.dtype, np.integer):
        raise BenchError(
            f"CIFAR-10 file {path} has {labels.shape} labels for {len(data)} images; "
            f"expected one integer label per image"
        )
    if len(labels) and (labels.min() < 0 or labels.max() > 9):
        raise BenchError(f"CIFAR-10 file {path} has labels outside 0..9")
    return data, labels.astype(np.int64)


def load_cifar10(
    data_root: str | os.PathLike | None = None, split: str = "train"
) -> tuple[torch.Tensor, torch.Tensor]:
    """CIFAR-10 ``split`` as uint8 N×3×32×32 images and int64 labels (N,)."""
    _check_split(split)
    folder = cifar10_dir(data_root)
    paths = [folder / n for n in (CIFAR10_TRAIN if split == "train" else CIFAR10_TEST)]
    for p in paths:  # report a partial download before reading anything
        if not p.is_file():
            raise _cifar_missing(p)
    batches = [_read_cifar_batch(p) for p in paths]
    data = np.concatenate([b[0] for b in batches])
    labels = np.concatenate([b[1] for b in batches])
    images = torch.from_numpy(np.ascontiguousarray(data.reshape(-1, 3, 32, 32)))
    return images, torch.from_numpy(labels)


def cifar10_class_names(data_root: str | os.PathLike | None = None) -> tuple[str, ...]:
    """The 10 class names from ``batches.meta`` (``label_names``), in label order."""
    path = cifar10_dir(data_root) / CIFAR10_META
    names = _get(_read_pickle(path), "label_names", path)
    try:
        out = tuple(n.decode() if isinstance(n, bytes) else str(n) for n in names)
    except (TypeError, UnicodeDecodeError) as e:
        raise BenchError(
            f"CIFAR-10 file {path} has unreadable label_names ({_reason(e)})"
        ) from None
    if len(out) != 10:
        raise BenchError(f"CIFAR-10 file {path} lists {len(out)} label_names; expected 10")
    return out


# -- MNIST ---------------------------------------------------------------------------------------
def _read_bytes(path: Path) -> bytes:
    try:
        raw = path.read_bytes()
        if path.suffix == ".gz":
            raw = gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as e:  # BadGzipFile is an OSError
        raise BenchError(
            f"cannot read {path}: corrupt or truncated file ({_reason(e)}); "
            f"delete it and run `bench data download mnist`"
        ) from None
    return raw


def read_idx(path: str | os.PathLike, expected_magic: int | None = None) -> np.ndarray:
    """An unsigned-byte idx file (``.gz`` allowed) as a uint8 array of the header's shape."""
    path = Path(path)
    raw = _read_bytes(path)
    if len(raw) < 4:
        raise BenchError(f"idx file {path} is truncated: {len(raw)} bytes, no complete header")
    magic = int.from_bytes(raw[:4], "big")
    ndim = raw[3]
    if raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08 or ndim == 0:
        raise BenchError(
            f"{path} is not an unsigned-byte idx file (magic {magic}; expected 0x0008 then the "
            f"number of dimensions, e.g. {IDX_IMAGES_MAGIC} for images, {IDX_LABELS_MAGIC} for "
            f"labels)"
        )
    if expected_magic is not None and magic != expected_magic:
        raise BenchError(f"idx file {path} has magic {magic}; expected {expected_magic}")
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise BenchError(
            f"idx file {path} is truncated: {len(raw)} bytes, header needs {header}; "
            f"delete it and run `bench data download mnist`"
        )
    dims = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    expected = math.prod(dims)
    actual = len(raw) - header
    if actual < expected:
        raise BenchError(
            f"idx file {path} is truncated: header says {'×'.join(map(str, dims))} = {expected} "
            f"data bytes, file has {actual}; delete it and run `bench data download mnist`"
        )
    if actual > expected:
        raise BenchError(
            f"idx file {path} has {actual - expected} bytes after the {expected} its header "
            f"declares; is it an idx file from {MNIST_URL}?"
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims)


def _find_mnist_file(root: Path, base: str) -> Path:
    folders = (root / "MNIST" / "raw", root)
    for folder in folders:
        for name in (base, base + ".gz"):
            if (folder / name).is_file():
                return folder / name
    raise BenchError(
        f"MNIST file not found: expected {folders[0] / base} (or {base}.gz there or in {root}); "
        f"run `bench data download mnist` or fetch it from {MNIST_URL}"
    )


def load_mnist(
    data_root: str | os.PathLike | None = None,
    split: str = "train",
    image_size: int | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """MNIST ``split`` as uint8 N×1×28×28 images (or image_size², by :func:`resize_images`)
    and int64 labels (N,)."""
    _check_split(split)
    root = resolve_data_root(data_root)
    img_name, lab_name = MNIST_FILES[split]
    img_path = _find_mnist_file(root, img_name)
    lab_path = _find_mnist_file(root, lab_name)
    images = read_idx(img_path, IDX_IMAGES_MAGIC)
    labels = read_idx(lab_path, IDX_LABELS_MAGIC)
    if images.ndim != 3 or images.shape[1:] != (28, 28):
        raise BenchError(
            f"MNIST file {img_path} holds images of shape {images.shape[1:]}; expected 28×28"
        )
    if labels.ndim != 1 or len(labels) != len(images):
        raise BenchError(
            f"MNIST files disagree: {img_path} has {len(images)} images, {lab_path} has "
            f"{len(labels)} labels"
        )
    if len(labels) and labels.max() > 9:
        raise BenchError(f"MNIST file {lab_path} has labels above 9")
    x = torch.from_numpy(images.copy()).unsqueeze(1)
    if image_size is not None:
        x = resize_images(x, image_size)
    return x, torch.from_numpy(labels.astype(np.int64))
