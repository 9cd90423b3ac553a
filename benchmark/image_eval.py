"""Image-suite evaluation: IS / FID / KID / precision-recall and per-class MS-SSIM of a sample set,
one row per class plus a real-data row, every number labelled with its extractor, protocol and
sample sizes (an Inception FID and a digits-classifier FID never share a column).

This module only reads samples and real data; it knows nothing about training, so
``bench evaluate`` works on images produced by any tool.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from ..metrics import digits_classifier, fidelity, msssim
from ..metrics.images import load_image_folder, to_uint8_nchw
from .errors import BenchError


def cache_dir() -> Path:
    """Where derived artefacts (the digits classifier, reference statistics) are cached."""
    return Path(os.environ.get("COLLAPSEBENCH_CACHE", Path.home() / ".cache" / "collapsebench"))


@dataclass(frozen=True)
class ImageProtocol:
    name: str
    #: returns real images (uint8 N×C×H×W), integer labels, and the class names
    real: Callable[[], tuple[torch.Tensor, np.ndarray, list[str]]]
    extractor: str
    msssim_protocol: str = "clamped"
    isc_splits: int = fidelity.IS_SPLITS


def _digits_real() -> tuple[torch.Tensor, np.ndarray, list[str]]:
    images, labels = digits_classifier.load_digits_images()
    return to_uint8_nchw(images), np.asarray(labels), [str(i) for i in range(10)]


IMAGE_PROTOCOLS: dict[str, ImageProtocol] = {
    "digits-perclass": ImageProtocol(
        name="digits-perclass", real=_digits_real, extractor=digits_classifier.EXTRACTOR_NAME
    ),
}


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


def _weights(protocol: ImageProtocol) -> str | None:
    if protocol.extractor == digits_classifier.EXTRACTOR_NAME:
        return str(digits_classifier.load_or_train(cache_dir()).path)
    return None  # Inception: fidelity.find_inception_weights looks in the flag/env/hub cache


def _row(protocol, images, reference, label, weights, n_pairs) -> dict:
    n_gen, n_ref = len(images), len(reference)
    kid_size = min(1000, n_gen, n_ref)
    try:
        recs = fidelity.fidelity_metrics(
            images,
            reference,
            extractor=protocol.extractor,
            weights_path=weights,
            isc_splits=min(protocol.isc_splits, n_gen),
            kid_subset_size=kid_size,
        )
        div = msssim.msssim_diversity(images, n_pairs=n_pairs, protocol=protocol.msssim_protocol)
        real_div = msssim.msssim_diversity(
            reference, n_pairs=n_pairs, protocol=protocol.msssim_protocol
        )
    except ValueError as exc:
        raise BenchError(f"{label}: {exc}") from None
    return {
        "class": label,
        "inception_score": recs["isc"]["mean"],
        "fid": recs["fid"]["value"],
        "kid": recs["kid"]["mean"],
        "precision": recs["prc"]["precision"],
        "recall": recs["prc"]["recall"],
        "ms_ssim": div.mean,
        "ms_ssim_se": div.std_error,
        "ms_ssim_real": real_div.mean,
        "n_pairs": n_pairs,
        "n_generated": n_gen,
        "n_reference": n_ref,
        "kid_subset_size": kid_size,
        "extractor": protocol.extractor,
        "msssim_protocol": protocol.msssim_protocol,
    }


def evaluate_images(
    suite: str,
    images: torch.Tensor,
    labels: np.ndarray | None = None,
    n_pairs: int = msssim.DEFAULT_PAIRS,
) -> pd.DataFrame:
    """One row per class present in ``labels`` (or one row for all images), each against the
    real images of that class. ``ms_ssim_real`` is the same MS-SSIM measured on those real images:
    the ground truth a generator's diversity is read against (all real images when unlabelled,
    where it mixes classes and so reads lower)."""
    protocol = IMAGE_PROTOCOLS[suite]
    real, real_labels, names = protocol.real()
    if images.shape[1:] != real.shape[1:]:
        raise BenchError(
            f"{suite} images are {tuple(real.shape[1:])} (C×H×W); got {tuple(images.shape[1:])}"
        )
    weights = _weights(protocol)
    rows = []
    if labels is None:
        rows.append(_row(protocol, images, real, "all", weights, n_pairs))
    else:
        bad = sorted(set(labels.tolist()) - set(range(len(names))))
        if bad:
            raise BenchError(f"labels {bad} are not classes of {suite}; valid: 0..{len(names) - 1}")
        for c in sorted(set(labels.tolist())):
            rows.append(
                _row(
                    protocol,
                    images[labels == c],
                    real[real_labels == c],
                    names[c],
                    weights,
                    n_pairs,
                )
            )
    return pd.DataFrame(rows)
