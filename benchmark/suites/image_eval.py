"""The image suites' evaluation stages as functions of image arrays: torch-fidelity's records on a
suite's extractor, and the stacked suites' mode count. `ImageSuite` decides what to evaluate; these
say how, so the final evaluation and every point of the convergence curve share one code path."""

from __future__ import annotations

import contextlib
import math
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ...metrics import digits_classifier, fidelity
from ...metrics.stacked_modes import stacked_modes

#: images per feature-extractor forward: torch-fidelity's default on the CPU, more on a GPU
FEATURE_BATCH = {"cpu": 64, "cuda": 256}


def cache_dir() -> Path:
    """Derived artefacts (the digits classifier, reference statistics)."""
    return Path(os.environ.get("COLLAPSEBENCH_CACHE", Path.home() / ".cache" / "collapsebench"))


@contextlib.contextmanager
def on_device(device: str):
    """Make ``device`` the current CUDA device (torch-fidelity's ``cuda=True`` uses that one)."""
    if torch.device(device).type != "cuda":
        yield
        return
    with torch.cuda.device(torch.device(device)):
        yield


def extractor_weights(extractor: str) -> str | None:
    """The digits classifier's file (trained and cached on first use); None for Inception,
    whose weights fidelity.find_inception_weights locates."""
    if extractor == digits_classifier.EXTRACTOR_NAME:
        return str(digits_classifier.load_or_train(cache_dir()).path)
    return None


def fidelity_records(
    images: torch.Tensor, real: torch.Tensor, extractor: str, tag: str, device: str, **options
):
    """torch-fidelity's records and features of uint8 ``images`` against ``real``; the reference
    side is cached under ``tag``, a name that must identify these real images (the caller's
    guarantee to torch-fidelity)."""
    where = "cuda" if torch.device(device).type == "cuda" else "cpu"
    return fidelity.fidelity_and_features(
        images,
        real,
        extractor=extractor,
        weights_path=extractor_weights(extractor),
        reference_dataset=tag,
        cache_dir=cache_dir() / "reference-stats",
        device=where,
        batch_size=FEATURE_BATCH[where],
        **options,
    )


def stacked_mode_count(images: torch.Tensor, counter: str, min_count: int) -> dict[str, Any]:
    """Classify each of the three channels with ``counter`` and count the digit triples that
    received at least ``min_count`` samples, with the reverse KL to the uniform 1,000 modes."""
    clf = digits_classifier.load_or_train(cache_dir(), name=counter)
    pred = np.stack(
        [digits_classifier.predict(images[:, c : c + 1], clf.model) for c in range(3)], 1
    )
    nat = stacked_modes(pred, "e", min_count)
    return {
        "modes_covered": nat["modes_covered"],
        "kl": nat["kl"],
        "kl_log10": nat["kl"] / math.log(10),
        "n_generated": len(images),
        "classifier": counter,
        "classifier_accuracy": clf.accuracy,
        "min_count": min_count,
    }
