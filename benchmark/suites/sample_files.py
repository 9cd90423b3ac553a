"""Reading sample sets produced by any tool (``bench evaluate --samples``): .npy / .npz files
and folders of PNGs, each wrong input one line. The metrics themselves come from the suite's own
evaluation (``ImageSuite.evaluate``), the same one every run uses."""

from __future__ import annotations

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
    try:
        return np.load(p, allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise BenchError(f"cannot read samples {p}: {exc}") from None


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
