"""Image data files written by the tests in the published on-disk formats (CIFAR-10 pickles, MNIST
idx, CelebA images), and the one-line error check the data tests share."""

from __future__ import annotations

import pickle
import struct
from pathlib import Path

import numpy as np
import pytest


def _one_line(e: pytest.ExceptionInfo) -> str:
    msg = str(e.value)
    assert "\n" not in msg
    return msg


# -- CIFAR-10 ------------------------------------------------------------------------------------
NAMES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


def _write_batch(path: Path, rows: np.ndarray, labels: list[int]) -> None:
    d = {
        b"batch_label": b"fixture",
        b"labels": labels,
        b"data": rows,
        b"filenames": [f"img{i}.png".encode() for i in range(len(labels))],
    }
    with open(path, "wb") as f:
        pickle.dump(d, f, protocol=2)


def _write_cifar(root: Path, n_train_batches: int = 5, per_batch: int = 3) -> dict:
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    written = {}
    names = [f"data_batch_{i}" for i in range(1, n_train_batches + 1)] + ["test_batch"]
    for k, name in enumerate(names):
        rows = rng.integers(0, 256, size=(per_batch, 3072), dtype=np.uint8)
        labels = [(k + j) % 10 for j in range(per_batch)]
        _write_batch(folder / name, rows, labels)
        written[name] = (rows, labels)
    meta = {
        b"num_cases_per_batch": per_batch,
        b"label_names": [n.encode() for n in NAMES],
        b"num_vis": 3072,
    }
    with open(folder / "batches.meta", "wb") as f:
        pickle.dump(meta, f, protocol=2)
    return written


# -- MNIST ---------------------------------------------------------------------------------------
def _idx_images(arr: np.ndarray) -> bytes:
    n, h, w = arr.shape
    return struct.pack(">IIII", 2051, n, h, w) + arr.tobytes()


def _idx_labels(arr: np.ndarray) -> bytes:
    return struct.pack(">II", 2049, len(arr)) + arr.tobytes()


def _mnist_arrays(n: int = 5):
    rng = np.random.default_rng(1)
    return (
        rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8),
        np.array([3, 1, 4, 1, 5][:n], dtype=np.uint8),
    )


# -- CelebA --------------------------------------------------------------------------------------
def _marker_image() -> np.ndarray:
    """160 rows × 128 cols: white block rows 16..47 × cols 0..31; grey blocks that the rule must
    cut away (rows 0..13 and rows 150..159, cols 96..127)."""
    a = np.zeros((160, 128, 3), np.uint8)
    a[16:48, 0:32] = 255
    a[0:14, 96:128] = 128
    a[150:160, 96:128] = 128
    return a
