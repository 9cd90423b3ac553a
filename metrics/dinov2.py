"""Fréchet / kernel distance and density/coverage on DINOv2 features, offline.

Stein et al. (NeurIPS 2023, "Exposing flaws of generative model evaluation metrics") found
Inception features a poor judge of modern generators and recommend DINOv2 ViT-L/14 features for
every distance. The architecture is timm's ``vit_*_patch14_dinov2`` definition (timm is a
maintained implementation; writing our own ViT would be a second, untested copy); the weights
come from a local file only:

* ``--dinov2-weights PATH`` or ``$COLLAPSEBENCH_DINOV2_WEIGHTS``;
* Meta's release file (``dinov2_vitl14_pretrain.pth``, from the model table of
  facebookresearch/dinov2) or timm's ``model.safetensors``; timm's own checkpoint filter converts
  either and resamples the position embedding to the input size;
* the size (S/B/L/g) and register tokens are read off the file's shapes, so one path is the
  whole configuration. ``.pth`` files are loaded with ``weights_only=True``: no code runs.

Preprocessing (as in Stein et al.'s dgm-eval): grayscale repeated to RGB, bicubic resize to
224×224, ImageNet mean/std; the feature is the final-normed CLS token (384/768/1024/1536-d).
DINOv2 numbers are reported in their own columns (``fd_dinov2``...), never beside Inception's.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from .diversity import density_coverage
from .feature_stats import fid_from_features, kid_from_features
from .images import to_rgb, to_uint8_nchw

WEIGHTS_ENV = "COLLAPSEBENCH_DINOV2_WEIGHTS"
WEIGHTS_FILE = "dinov2_vitl14_pretrain.pth"
WHERE = (
    f"get {WEIGHTS_FILE} from the model table of github.com/facebookresearch/dinov2 (or timm's "
    f"vit_large_patch14_dinov2 model.safetensors) and pass --dinov2-weights PATH or set "
    f"${WEIGHTS_ENV}"
)
#: embedding width -> timm architecture (patch 14)
ARCHS = {384: "small", 768: "base", 1024: "large", 1536: "giant"}
IMAGE_SIZE = 224
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
METRIC_NAMES = ("fd_dinov2", "kd_dinov2", "density_dinov2", "coverage_dinov2")


class MissingWeightsError(ValueError):
    """The DINOv2 weights (or timm) are not available offline."""


def weights_path(path: str | Path | None = None) -> Path | None:
    """The configured weights file (argument, else ``$COLLAPSEBENCH_DINOV2_WEIGHTS``), or None
    when DINOv2 is not configured; a configured file that does not exist is an error."""
    given = path if path is not None else os.environ.get(WEIGHTS_ENV) or None
    if given is None:
        return None
    p = Path(given).expanduser()
    if not p.is_file():
        raise MissingWeightsError(f"DINOv2 weights file {p} does not exist; {WHERE}")
    return p


def _read_state(path: Path) -> dict[str, torch.Tensor]:
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            return load_file(str(path))
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # unreadable or not a weights file: one line, never a traceback
        raise MissingWeightsError(
            f"cannot read DINOv2 weights {path} ({exc.__class__.__name__}); {WHERE}"
        ) from None
    if not isinstance(state, dict):
        raise MissingWeightsError(f"{path} holds no state dict; {WHERE}")
    return state


def architecture(state: dict[str, torch.Tensor]) -> str:
    """timm's name of the DINOv2 ViT that ``state`` fits (width, and registers if present)."""
    width = state["cls_token"].shape[-1] if "cls_token" in state else None
    if width not in ARCHS:
        raise MissingWeightsError(
            f"the weights are not a DINOv2 ViT (cls_token width {width}; expected one of "
            f"{sorted(ARCHS)})"
        )
    registers = "reg_token" in state or "register_tokens" in state
    return f"vit_{ARCHS[width]}_patch14{'_reg4' if registers else ''}_dinov2"


@lru_cache(maxsize=2)
def _model(path: str, mtime_ns: int) -> tuple[torch.nn.Module, str]:
    try:
        import timm
        from timm.models.vision_transformer import checkpoint_filter_fn
    except ImportError:
        raise MissingWeightsError("DINOv2 features need timm: pip install -e '.[dinov2]'") from None
    state = _read_state(Path(path))
    arch = architecture(state)
    model = timm.create_model(arch, pretrained=False, num_classes=0, img_size=IMAGE_SIZE)
    try:
        model.load_state_dict(checkpoint_filter_fn(state, model), strict=True)
    except (RuntimeError, KeyError) as exc:
        first = str(exc).strip().splitlines()[0][:200]
        raise MissingWeightsError(f"{path} does not fit {arch}: {first}") from None
    return model.eval(), arch


def load(path: Path) -> tuple[torch.nn.Module, str]:
    """The ViT for ``path`` (cached per file and modification time) and its timm name."""
    return _model(str(path), path.stat().st_mtime_ns)


def preprocess(images: torch.Tensor) -> torch.Tensor:
    """uint8 N×C×H×W (C = 1 or 3) -> float N×3×224×224, ImageNet-normalised."""
    x = to_rgb(to_uint8_nchw(images)).float() / 255.0
    if x.shape[-2:] != (IMAGE_SIZE, IMAGE_SIZE):
        x = F.interpolate(
            x, size=(IMAGE_SIZE, IMAGE_SIZE), mode="bicubic", align_corners=False, antialias=True
        )
    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    return (x - mean) / std


@torch.no_grad()
def features(
    images: np.ndarray | torch.Tensor, path: Path, batch_size: int = 32, device: str = "cpu"
) -> np.ndarray:
    """CLS-token features (N × width, float64) of ``images`` under the ViT in ``path``."""
    model, _ = load(path)
    model = model.to(device)
    x = to_uint8_nchw(images)
    out = [
        model(preprocess(x[i : i + batch_size]).to(device)).double().cpu()
        for i in range(0, len(x), batch_size)
    ]
    return torch.cat(out).numpy()


def dinov2_metrics(
    generated: np.ndarray | torch.Tensor,
    real: np.ndarray | torch.Tensor,
    path: Path,
    kid_subset_size: int = 1000,
    device: str = "cpu",
) -> dict[str, float | str]:
    """FD, KD (torch-fidelity's estimators), density and coverage (Naeem et al.) on DINOv2
    features."""
    fg = features(generated, path, device=device)
    fr = features(real, path, device=device)
    size = min(kid_subset_size, len(fg), len(fr))
    dc = density_coverage(fr, fg)
    return {
        "fd_dinov2": fid_from_features(fg, fr),
        "kd_dinov2": kid_from_features(fg, fr, subset_size=size)["mean"],
        "density_dinov2": dc["density"],
        "coverage_dinov2": dc["coverage"],
        "dinov2_arch": load(path)[1],
    }
