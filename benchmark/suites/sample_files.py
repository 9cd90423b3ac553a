"""Reading sample sets produced by any tool (``bench evaluate --samples``): .npy / .npz files
and folders of PNGs, each wrong input one line. The metrics themselves come from the suite's own
evaluation (``ImageSuite.evaluate``), the same one every run uses."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from ...metrics.images import load_image_folder, to_uint8_nchw
from ..errors import BenchError

NPY_MAGIC = b"\x93NUMPY"
NPZ_MAGICS = (b"PK\x03\x04", b"PK\x05\x06")  # a zip with members, an empty zip


def read_array_file(p: Path, valid: str, npz: bool) -> np.ndarray | np.lib.npyio.NpzFile:
    """``np.load`` of a samples file after checking what it is, so each wrong input gets its
    own line (a folder, a missing file, a text file) rather than numpy's pickle message."""
    if p.is_dir():
        raise BenchError(f"samples {p} is a folder; give {valid}")
    if not p.exists():
        raise BenchError(f"samples {p} does not exist; give {valid}")
    try:
        with open(p, "rb") as f:
            head = f.read(6)
    except OSError as exc:
        raise BenchError(f"cannot read samples {p}: {exc.strerror or exc}") from None
    if not (head == NPY_MAGIC or (npz and head[:4] in NPZ_MAGICS)):
        kind = ".npy or .npz" if npz else ".npy"
        raise BenchError(f"samples {p} is not a {kind} file (no NumPy header); give {valid}")
    if head == NPY_MAGIC:
        check_npy_size(p)
    try:
        return np.load(p, allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise BenchError(f"cannot read samples {p}: {exc}") from None


def _available_memory() -> int | None:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # not on Linux
        return None


def check_npy_size(p: Path) -> None:
    """Read the .npy header alone and refuse, before any allocation, an array larger than the
    file holds (a header that lies) or than the memory available (numpy would raise
    MemoryError mid-read)."""
    try:
        with open(p, "rb") as f:
            version = np.lib.format.read_magic(f)
            readers = {
                (1, 0): np.lib.format.read_array_header_1_0,
                (2, 0): np.lib.format.read_array_header_2_0,
            }
            if version not in readers:
                return  # a newer format: np.load checks it
            shape, _, dtype = readers[version](f)
            data_start = f.tell()
    except (ValueError, OSError, EOFError) as exc:
        raise BenchError(f"cannot read samples {p}: bad .npy header ({exc})") from None
    if dtype.hasobject:
        return  # np.load refuses object arrays (allow_pickle=False) in one line
    nbytes = int(np.prod(shape, dtype=object)) * dtype.itemsize
    held = p.stat().st_size - data_start
    if nbytes > held:
        raise BenchError(
            f"samples {p}: its header declares {shape} {dtype} ({nbytes:,} bytes) but the file "
            f"holds {held:,} bytes of data; the file is truncated or its header is wrong"
        )
    free = _available_memory()
    if free is not None and nbytes > free:
        raise BenchError(
            f"samples {p}: {_size(nbytes)} of samples do not fit in the {_size(free)} of memory "
            "available; evaluate a subset (e.g. the first 50,000 rows)"
        )


def _size(n: int) -> str:
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= scale:
            return f"{n / scale:,.1f} {unit}"
    return f"{n} bytes"


def load_samples(path: str | Path) -> tuple[torch.Tensor, np.ndarray | None]:
    """Images from a .npy / .npz (``images`` or the first array, optional ``labels``) or a folder
    of PNGs, as uint8 N×C×H×W; floats in [-1, 1] are converted explicitly, never misread."""
    p = Path(path)
    if p.is_dir():
        try:
            return load_image_folder(p), None
        except ValueError as exc:
            raise BenchError(str(exc)) from None
    loaded = read_array_file(p, "a .npy, .npz or a folder of PNGs", npz=True)
    labels = None
    if isinstance(loaded, np.lib.npyio.NpzFile):
        with loaded:
            keys = loaded.files
            if not keys:
                raise BenchError(f"{path} holds no arrays")
            images = loaded["images"] if "images" in keys else loaded[keys[0]]
            if "labels" in keys:
                labels = loaded["labels"]
    else:
        images = loaded
    try:
        images = to_uint8_nchw(images, name=f"images in {path}")
    except ValueError as exc:
        raise BenchError(str(exc)) from None
    if labels is not None:
        labels = np.asarray(labels)
        if labels.shape != (len(images),) or not np.issubdtype(labels.dtype, np.integer):
            raise BenchError(
                f"labels in {path} must be one integer per image, shape ({len(images)},); "
                f"got {labels.dtype} {labels.shape}"
            )
    return images, labels


#: the fewest rows the full toy evaluation takes, and the largest coordinate (bench evaluate)
MIN_EVAL_ROWS = 6
MAX_COORDINATE = 1e100


def validate_points(samples, suite: str, what: str = "samples") -> np.ndarray:
    """``samples`` as a toy suite's (N, 2) finite floating-point array, or one clear error."""
    arr = np.asarray(samples)
    if arr.ndim != 2 or arr.shape[1] != 2:
        raise BenchError(f"{what} must have shape (N, 2) for suite {suite}; got {arr.shape}")
    if not np.issubdtype(arr.dtype, np.floating):
        raise BenchError(f"{what} must be floating point (float32/float64); got {arr.dtype}")
    if len(arr) == 0:
        raise BenchError(f"{what} is empty; need at least one (x, y) sample")
    if not np.isfinite(arr).all():
        raise BenchError(f"{what} contains NaN or infinite values")
    return arr


def evaluable_points(samples, suite: str, what: str = "samples") -> np.ndarray:
    """Beyond :func:`validate_points`, what the full toy evaluation needs: enough rows for
    density/coverage's k = 5 neighbours, and coordinates whose squared distances stay finite
    (k-means and the kernels square them)."""
    arr = validate_points(samples, suite, what)
    if len(arr) < MIN_EVAL_ROWS:
        raise BenchError(
            f"{what} has {len(arr)} rows; the diversity metrics need at least "
            f"{MIN_EVAL_ROWS} (k = 5 neighbours each)"
        )
    if np.abs(arr.astype(np.float64)).max() > MAX_COORDINATE:  # float32 vs 1e100: no cast
        raise BenchError(
            f"{what} has coordinates beyond ±{MAX_COORDINATE:g}: their squared distances "
            "overflow; such samples are a diverged generator's"
        )
    return arr
