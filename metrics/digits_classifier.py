"""A small CNN trained on scikit-learn's digits: the domain feature extractor of the digits suites.

No Inception network is meaningful for 8×8 handwritten digits, and none can be downloaded here,
so the digits suites use a classifier instead, as MNIST papers do with a LeNet: its logits give
a classifier-based Inception Score and its penultimate layer a classifier-based FID. It is
registered with torch-fidelity as ``"digits-cnn"`` so these numbers come out of the same
``calculate_metrics`` call as the Inception ones, and every result carries the extractor name:
a digits-cnn FID and an Inception FID must never share a table column.

Data rule (used for training and by the digits suites): the 8×8 images with values 0..16 are
scaled to 0..255 (``v * 255 / 16``), resized to 32×32 by bilinear interpolation
(``align_corners=False``, no antialiasing) and rounded to uint8.

Training is deterministic: parameters are initialised and batches drawn from a
``torch.Generator`` seeded with ``seed``, and torch runs single-threaded while training (CPU
reductions may otherwise depend on the thread count). The trained weights are cached in
``cache_dir`` (atomic write) under a name that encodes the seed and the training recipe.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.datasets import load_digits
from torch import nn
from torch_fidelity.feature_extractor_base import FeatureExtractorBase
from torch_fidelity.registry import FEATURE_EXTRACTORS_REGISTRY, register_feature_extractor

from .images import to_uint8_nchw

EXTRACTOR_NAME = "digits-cnn"
IMAGE_SIZE = 32
N_CLASSES = 10
FEATURE_DIM = 128
MIN_ACCURACY = 0.95

#: training recipe; part of the cache file name, so changing it retrains
RECIPE = {
    "version": 1,
    "epochs": 12,
    "batch_size": 64,
    "lr": 1e-3,
    "heldout_fraction": 0.2,
    "image_size": IMAGE_SIZE,
}
#: the stacked suites' mode *counter* under the calibrated rule: the same net trained longer on
#: randomly shifted digits (up to ``shift`` pixels each way, drawn from the training generator),
#: which cuts its held-out errors from 2.2 % to 0.3 %; FID/IS features stay ``RECIPE``'s
COUNTING_NAME = "digits-cnn-aug"
COUNTING_RECIPE = {**RECIPE, "version": 2, "epochs": 50, "shift": 2}
RECIPES = {EXTRACTOR_NAME: RECIPE, COUNTING_NAME: COUNTING_RECIPE}


def load_digits_images(size: int = IMAGE_SIZE) -> tuple[torch.Tensor, torch.Tensor]:
    """All 1,797 sklearn digits as uint8 N×1×size×size images (the documented rule) and labels."""
    if size < 8:
        raise ValueError(f"size must be at least 8 (the digits are 8×8); got {size}")
    data = load_digits()
    x = torch.from_numpy(data.images.astype(np.float64) * (255.0 / 16.0)).unsqueeze(1)
    if size != 8:
        x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
    images = x.round().clamp(0, 255).to(torch.uint8)
    return images, torch.from_numpy(data.target.astype(np.int64))


def _prepare(images: torch.Tensor) -> torch.Tensor:
    """uint8 N×1×H×W -> float N×1×32×32 in [-1, 1] (bilinear resize when H, W != 32)."""
    x = images.to(torch.float32) / 127.5 - 1.0
    if x.shape[-2:] != (IMAGE_SIZE, IMAGE_SIZE):
        x = F.interpolate(x, size=(IMAGE_SIZE, IMAGE_SIZE), mode="bilinear", align_corners=False)
    return x


class DigitsCNN(nn.Module):
    """Three conv blocks and a 128-d penultimate layer; input float N×1×32×32 in [-1, 1]."""

    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),  # 16×16
            nn.Conv2d(16, 32, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),  # 8×8
            nn.Conv2d(32, 64, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),  # 4×4
            nn.Flatten(),
            nn.Linear(64 * 4 * 4, FEATURE_DIM),
            nn.ReLU(),
        )
        self.head = nn.Linear(FEATURE_DIM, N_CLASSES)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))


def init_parameters(module: nn.Module, gen: torch.Generator) -> None:
    """PyTorch's default Linear/Conv init, drawn from ``gen`` instead of the global RNG."""
    for m in module.modules():
        if isinstance(m, nn.Linear | nn.Conv2d):
            nn.init.kaiming_uniform_(m.weight, a=math.sqrt(5), generator=gen)
            if m.bias is not None:
                fan_in = m.weight[0].numel()
                bound = 1.0 / math.sqrt(fan_in)
                nn.init.uniform_(m.bias, -bound, bound, generator=gen)


@dataclass(frozen=True)
class DigitsClassifier:
    """A trained classifier, its held-out accuracy and where its weights live."""

    model: DigitsCNN
    accuracy: float
    n_train: int
    n_heldout: int
    seed: int
    path: Path

    def as_dict(self) -> dict[str, float | int | str]:
        return {
            "extractor": EXTRACTOR_NAME,
            "heldout_accuracy": self.accuracy,
            "n_train": self.n_train,
            "n_heldout": self.n_heldout,
            "seed": self.seed,
        }


def _split(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    n_heldout = round(n * RECIPE["heldout_fraction"])
    return perm[n_heldout:], perm[:n_heldout]


def _accuracy(model: DigitsCNN, x: torch.Tensor, y: torch.Tensor) -> float:
    with torch.no_grad():
        return float((model(x).argmax(1) == y).double().mean())


def _shifted(x: torch.Tensor, shift: int, gen: torch.Generator) -> torch.Tensor:
    """Each image moved by its own (dy, dx) in [-shift, shift]², zero (-1) filled: a pad and a
    per-image crop, drawn from ``gen`` so training stays deterministic."""
    n, _, h, w = x.shape
    padded = F.pad(x, (shift, shift, shift, shift), value=-1.0)
    off = torch.randint(0, 2 * shift + 1, (n, 2), generator=gen)
    return torch.stack(
        [padded[i, :, oy : oy + h, ox : ox + w] for i, (oy, ox) in enumerate(off.tolist())]
    )


def train_digits_classifier(
    seed: int = 0, recipe: dict | None = None
) -> tuple[DigitsCNN, float, int, int]:
    """Train from scratch; returns (model, held-out accuracy, n_train, n_heldout)."""
    recipe = RECIPE if recipe is None else recipe
    images, labels = load_digits_images(IMAGE_SIZE)
    x = _prepare(images)
    train_idx, held_idx = _split(len(x), seed)
    gen = torch.Generator().manual_seed(seed)
    model = DigitsCNN()
    init_parameters(model, gen)
    opt = torch.optim.Adam(model.parameters(), lr=recipe["lr"])
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        model.train()
        bs, shift = recipe["batch_size"], recipe.get("shift", 0)
        for _ in range(recipe["epochs"]):
            order = train_idx[torch.randperm(len(train_idx), generator=gen)]
            for start in range(0, len(order), bs):
                idx = order[start : start + bs]
                batch = _shifted(x[idx], shift, gen) if shift else x[idx]
                loss = F.cross_entropy(model(batch), labels[idx])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
        model.eval()
        acc = _accuracy(model, x[held_idx], labels[held_idx])
    finally:
        torch.set_num_threads(threads)
    model.requires_grad_(False)
    return model, acc, len(train_idx), len(held_idx)


def cache_path(cache_dir: str | Path, seed: int = 0, name: str = EXTRACTOR_NAME) -> Path:
    tag = hashlib.sha256(json.dumps(RECIPES[name], sort_keys=True).encode()).hexdigest()[:10]
    return Path(cache_dir) / f"{name}-seed{seed}-{tag}.pt"


def _atomic_torch_save(obj: object, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(obj, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def _load_checkpoint(path: Path) -> tuple[DigitsCNN, dict]:
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
        model = DigitsCNN()
        model.load_state_dict(ckpt["state_dict"])
    except Exception as e:  # a corrupt or foreign file: say which one, on one line
        reason = (str(e).strip().splitlines() or [""])[0]
        raise ValueError(
            f"cannot load digits classifier weights {path} ({type(e).__name__}: {reason}); "
            f"delete it to retrain"
        ) from None
    model.eval().requires_grad_(False)
    return model, ckpt["meta"]


def load_or_train(
    cache_dir: str | Path, seed: int = 0, name: str = EXTRACTOR_NAME
) -> DigitsClassifier:
    """The digits classifier for ``seed``: loaded from ``cache_dir`` or trained and cached there.

    Raises ``ValueError`` if the trained classifier's held-out accuracy is below 95 %, so a bad
    extractor never silently produces IS/FID numbers.
    """
    path = cache_path(cache_dir, seed, name)
    if path.exists():
        model, meta = _load_checkpoint(path)
    else:
        model, acc, n_train, n_held = train_digits_classifier(seed, RECIPES[name])
        meta = {"accuracy": acc, "n_train": n_train, "n_heldout": n_held, "seed": seed}
        meta.update({f"recipe_{k}": v for k, v in RECIPES[name].items()})
        _atomic_torch_save({"state_dict": model.state_dict(), "meta": meta}, path)
    if meta["accuracy"] < MIN_ACCURACY:
        raise ValueError(
            f"digits classifier (seed {seed}) reaches {meta['accuracy']:.3f} held-out accuracy, "
            f"below the required {MIN_ACCURACY}; try another seed"
        )
    return DigitsClassifier(
        model, meta["accuracy"], meta["n_train"], meta["n_heldout"], meta["seed"], path
    )


def _gray_images(images: np.ndarray | torch.Tensor) -> torch.Tensor:
    x = to_uint8_nchw(images)
    if x.shape[1] != 1:
        raise ValueError(
            f"the digits classifier takes 1-channel images; got {x.shape[1]} channels "
            f"(for stacked digits, classify each channel separately)"
        )
    return x


def predict(
    images: np.ndarray | torch.Tensor, model: DigitsCNN, batch_size: int = 1024
) -> np.ndarray:
    """Predicted class (0..9) per image; images are 1-channel uint8 or floats in [-1, 1]."""
    x = _gray_images(images)
    out = []
    with torch.no_grad():
        for start in range(0, len(x), batch_size):
            out.append(model(_prepare(x[start : start + batch_size])).argmax(1))
    return torch.cat(out).numpy()


class FeatureExtractorDigitsCNN(FeatureExtractorBase):
    """torch-fidelity adapter: ``logits`` (10-d, for IS) and ``penultimate`` (128-d, FID/KID/PRC).

    torch-fidelity builds extractors as ``cls(name, features_list, **kwargs)`` with all
    ``calculate_metrics`` kwargs; the weights come from ``feature_extractor_weights_path``
    (see :func:`load_or_train`), never from a download.
    """

    def __init__(self, name, features_list, feature_extractor_weights_path=None, **kwargs):
        super().__init__(name, features_list)
        if feature_extractor_weights_path is None:
            raise ValueError(
                f"the {EXTRACTOR_NAME} extractor needs its weights file; create it with "
                f"collapsebench.metrics.digits_classifier.load_or_train(cache_dir) and pass .path"
            )
        self.net, _ = _load_checkpoint(Path(feature_extractor_weights_path))

    @staticmethod
    def get_provided_features_list():
        return "logits", "penultimate"

    @staticmethod
    def get_default_feature_layer_for_metric(metric):
        return {"isc": "logits", "fid": "penultimate", "kid": "penultimate", "prc": "penultimate"}[
            metric
        ]

    @staticmethod
    def can_be_compiled():
        return False

    @staticmethod
    def get_dummy_input_for_compile():
        return torch.zeros(1, 1, IMAGE_SIZE, IMAGE_SIZE, dtype=torch.uint8)

    def forward(self, x):
        if x.dtype != torch.uint8 or x.dim() != 4 or x.shape[1] != 1:
            raise ValueError(f"{EXTRACTOR_NAME} expects uint8 N×1×H×W; got {x.dtype} {x.shape}")
        feats = self.net.features(_prepare(x))
        found = {"penultimate": feats, "logits": self.net.head(feats)}
        return tuple(found[k].to(torch.float32) for k in self.features_list)


if EXTRACTOR_NAME not in FEATURE_EXTRACTORS_REGISTRY:
    register_feature_extractor(EXTRACTOR_NAME, FeatureExtractorDigitsCNN)
