"""IS, FID, KID and precision/recall through torch-fidelity, offline.

All numbers come from torch-fidelity's own stages (the steps of ``calculate_metrics``, called one
by one so the extracted features can also serve the diversity metrics; for precomputed
features, its per-metric functions); nothing here re-implements a metric. What this module
adds:

* in-memory uint8 tensors wrapped in a Dataset that yields images alone;
* offline Inception weights: a path argument, ``$COLLAPSEBENCH_INCEPTION_WEIGHTS``, or torch's
  hub cache, and a one-line error naming the file, its URL and where to put it;
* one extractor per call: torch-fidelity 0.4.0 defaults precision/recall to VGG-16 (and, when
  mixing defaults, would hand the Inception weights path to VGG too), so the extractor is always
  named explicitly and precision/recall use the same Inception 2048-d features as FID/KID;
* every result records its extractor, feature layer and sample sizes (FID is biased by sample
  size, so a number without its sizes is not comparable);
* reference features/statistics cached per (dataset, split, extractor + weights, sample size)
  through torch-fidelity's cache, which writes atomically (temp file in the cache dir, then
  rename).

Conventions: ``generated`` is torch-fidelity's input1 and ``reference`` (real data) its input2;
precision is the share of generated samples inside the real manifold, recall the reverse."""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset
from torch_fidelity import utils as tf_utils
from torch_fidelity.defaults import DEFAULTS
from torch_fidelity.feature_extractor_inceptionv3 import URL_INCEPTION_V3
from torch_fidelity.registry import FEATURE_EXTRACTORS_REGISTRY

from . import digits_classifier  # importing it registers the "digits-cnn" extractor
from . import feature_stats as fs
from .feature_stats import IS_SPLITS
from .images import to_rgb, to_uint8_nchw

INCEPTION = "inception-v3-compat"


INCEPTION_WEIGHTS_URL: str = URL_INCEPTION_V3


INCEPTION_WEIGHTS_FILE: str = URL_INCEPTION_V3.rsplit("/", 1)[-1]


WEIGHTS_ENV = "COLLAPSEBENCH_INCEPTION_WEIGHTS"


#: literature protocol (Salimans et al. 2016; Heusel et al. 2017), written into every table
IS_SAMPLES = 50_000


FID_SAMPLES = 50_000


METRICS = ("isc", "fid", "kid", "prc")


_NAME_RE = re.compile(r"^[A-Za-z0-9_.+]+$")


class MissingWeightsError(ValueError):
    """The Inception weights file is not available offline."""


def _hub_weights_path() -> Path:
    return Path(torch.hub.get_dir()) / "checkpoints" / INCEPTION_WEIGHTS_FILE


def find_inception_weights(weights_path: str | Path | None = None) -> Path:
    """Locate the Inception weights: ``weights_path``, else ``$COLLAPSEBENCH_INCEPTION_WEIGHTS``,
    else ``torch.hub.get_dir()/checkpoints/``. An explicit path that does not exist is an error
    (not a silent fall-through to another file)."""
    hub = _hub_weights_path()
    fix = (
        f"download {INCEPTION_WEIGHTS_URL} and put it at {hub}, or pass its path "
        f"(weights argument or ${WEIGHTS_ENV})"
    )
    if weights_path is not None:
        p = Path(weights_path)
        if not p.is_file():
            raise MissingWeightsError(f"Inception weights file {p} does not exist; {fix}")
        return p
    env = os.environ.get(WEIGHTS_ENV)
    if env:
        p = Path(env)
        if not p.is_file():
            raise MissingWeightsError(f"${WEIGHTS_ENV}={p} does not exist; {fix}")
        return p
    if hub.is_file():
        return hub
    raise MissingWeightsError(f"Inception weights {INCEPTION_WEIGHTS_FILE} not found; {fix}")


#: what torch-fidelity's cached features and statistics may contain: tensors, and numpy arrays
#: (mu, sigma) with their dtypes; nothing that can run code
_SAFE_CACHE_GLOBALS = [
    np._core.multiarray._reconstruct,
    np.ndarray,
    np.dtype,
    type(np.dtype(np.float32)),
    type(np.dtype(np.float64)),
]


def check_cache_files(cache_dir: Path, name: str) -> None:
    """torch-fidelity reloads its cache with ``torch.load(weights_only=False)``, which would run
    code from a crafted file; so every cached file of ``name`` is first loaded here with
    ``weights_only=True`` (numpy arrays allowed) and a file holding anything else is refused in
    one line, before torch-fidelity opens it."""
    for path in sorted(cache_dir.glob(f"{name}*.pt")):
        try:
            with torch.serialization.safe_globals(_SAFE_CACHE_GLOBALS):
                torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:  # refused pickles and damaged files alike
            raise ValueError(
                f"cached reference file {path} is damaged or holds more than arrays "
                f"({exc.__class__.__name__}); delete it and run again (it is recomputed)"
            ) from None


@lru_cache(maxsize=8)
def _file_digest(path: str, size: int, mtime_ns: int) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()[:12]


def _weights_tag(path: Path) -> str:
    st = path.stat()
    return _file_digest(str(path.resolve()), st.st_size, st.st_mtime_ns)


class ImageDataset(Dataset):
    """uint8 N×C×H×W tensor as a Dataset yielding images alone (what torch-fidelity expects)."""

    def __init__(self, images: torch.Tensor) -> None:
        self.images = images

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> torch.Tensor:
        return self.images[i]


def _images_for(extractor: str, arr: np.ndarray | torch.Tensor, name: str) -> torch.Tensor:
    x = to_uint8_nchw(arr, name)
    return to_rgb(x) if extractor == INCEPTION else x


def _check_count(n: int, need: int, what: str, name: str) -> None:
    if n < need:
        raise ValueError(f"{what} needs at least {need} {name} samples; got {n}")


def fidelity_and_features(
    generated: np.ndarray | torch.Tensor,
    reference: np.ndarray | torch.Tensor | None = None,
    *,
    metrics: Sequence[str] = METRICS,
    extractor: str = INCEPTION,
    weights_path: str | Path | None = None,
    isc_splits: int = IS_SPLITS,
    kid_subsets: int = DEFAULTS["kid_subsets"],
    kid_subset_size: int = DEFAULTS["kid_subset_size"],
    prc_neighborhood: int = DEFAULTS["prc_neighborhood"],
    reference_dataset: str | None = None,
    reference_split: str = "train",
    cache_dir: str | Path | None = None,
    batch_size: int = 64,
    device: str | None = None,
    seed: int = DEFAULTS["rng_seed"],
    verbose: bool = False,
) -> tuple[dict[str, dict[str, float | int | str]], Features]:
    """IS / FID / KID / precision-recall of ``generated`` against ``reference`` (real images).

    Images are uint8 or floats in [-1, 1], N×H×W×C or N×C×H×W, C = 1 or 3 (grayscale is repeated
    to RGB for Inception only). ``extractor`` is ``"inception-v3-compat"`` (weights found by
    :func:`find_inception_weights`) or another registered torch-fidelity extractor such as
    ``"digits-cnn"``, whose ``weights_path`` is required. Sample sizes are whatever is passed:
    the literature protocol is :data:`IS_SAMPLES` generated images with :data:`IS_SPLITS` splits
    and :data:`FID_SAMPLES` generated vs the training set; the sizes are in every record.

    With ``reference_dataset`` and ``cache_dir`` the reference features/statistics are cached
    under (dataset, split, extractor, weights digest, sample size); the caller guarantees that
    name identifies the reference images.

    Returns one record per metric, e.g. ``{"fid": {"value": ..., "n_generated": ...,
    "n_reference": ..., "extractor": ..., "feature_layer": ...}}``.
    """
    metrics = tuple(metrics)
    unknown = [m for m in metrics if m not in METRICS]
    if not metrics or unknown:
        raise ValueError(f"unknown metrics {unknown or '(none)'}; valid: {', '.join(METRICS)}")
    if extractor not in FEATURE_EXTRACTORS_REGISTRY:
        raise ValueError(
            f"unknown feature extractor {extractor!r}; valid: "
            f"{', '.join(sorted(FEATURE_EXTRACTORS_REGISTRY))}"
        )
    if device not in (None, "cpu", "cuda"):
        raise ValueError(
            f"device must be 'cpu' or 'cuda' (torch-fidelity's two options); got {device!r}"
        )
    binary = [m for m in metrics if m != "isc"]
    if binary and reference is None:
        raise ValueError(f"{', '.join(binary)} need reference (real) images; got none")
    if extractor == INCEPTION:
        weights = find_inception_weights(weights_path)
    elif weights_path is None:
        raise ValueError(f"extractor {extractor!r} needs weights_path (no downloads offline)")
    else:
        weights = Path(weights_path)
        if not weights.is_file():
            raise ValueError(f"weights file {weights} for extractor {extractor!r} does not exist")

    gen = _images_for(extractor, generated, "generated images")
    ref = _images_for(extractor, reference, "reference images") if binary else None
    if extractor == digits_classifier.EXTRACTOR_NAME and gen.shape[1] != 1:
        raise ValueError(f"the {extractor} extractor takes 1-channel images; got {gen.shape[1]}")
    n_gen = len(gen)
    n_ref = len(ref) if ref is not None else 0
    if ref is not None and gen.shape[1] != ref.shape[1]:
        raise ValueError(
            f"generated images have {gen.shape[1]} channel(s) but reference images "
            f"{ref.shape[1]}; they must match"
        )
    if "isc" in metrics:
        if isc_splits < 1:
            raise ValueError(f"isc_splits must be at least 1; got {isc_splits}")
        _check_count(n_gen, isc_splits, f"IS with {isc_splits} splits", "generated")
    if "fid" in metrics:
        _check_count(n_gen, 2, "FID", "generated")
        _check_count(n_ref, 2, "FID", "reference")
    if "kid" in metrics:
        what = f"KID (kid_subset_size={kid_subset_size})"
        _check_count(n_gen, kid_subset_size, what, "generated")
        _check_count(n_ref, kid_subset_size, what, "reference")
    if "prc" in metrics:
        need = prc_neighborhood + 1
        _check_count(n_gen, need, f"PRC (neighborhood {prc_neighborhood})", "generated")
        _check_count(n_ref, need, f"PRC (neighborhood {prc_neighborhood})", "reference")

    cls = FEATURE_EXTRACTORS_REGISTRY[extractor]
    layers = {m: cls.get_default_feature_layer_for_metric(m) for m in metrics}
    kwargs: dict = dict(
        input1=ImageDataset(gen),
        input2=ImageDataset(ref) if ref is not None else None,
        cuda=(device or ("cuda" if torch.cuda.is_available() else "cpu")) == "cuda",
        batch_size=batch_size,
        feature_extractor=extractor,
        feature_extractor_weights_path=str(weights),
        # num_workers=0: worker processes only add start-up cost for an in-memory tensor
        save_cpu_ram=True,
        verbose=verbose,
        cache=False,
    )
    ref_label = None
    if reference_dataset is not None and ref is not None:
        for what, v in (("dataset", reference_dataset), ("split", reference_split)):
            if not _NAME_RE.match(v):
                raise ValueError(f"reference {what} {v!r} may only use letters, digits and _ . +")
        if cache_dir is None:
            raise ValueError("reference_dataset is only used for caching; pass cache_dir too")
        ref_label = f"{reference_dataset}/{reference_split}"
        kwargs.update(
            cache=True,
            cache_root=str(cache_dir),
            input2_cache_name=(
                f"{reference_dataset}-{reference_split}-{extractor}-"
                f"{_weights_tag(weights)}-n{n_ref}"
            ),
        )
        check_cache_files(Path(cache_dir), kwargs["input2_cache_name"])
    fid_layer = layers.get("fid", cls.get_default_feature_layer_for_metric("fid"))
    fd1, fd2 = extract_features(kwargs, sorted({*layers.values(), fid_layer}))
    settings = {
        "isc": {"splits": isc_splits, "seed": seed},
        "kid": {"subsets": kid_subsets, "subset_size": kid_subset_size, "seed": seed},
        "prc": {"neighborhood": prc_neighborhood},
    }
    out = {}
    for metric, layer in layers.items():
        values = metric_from_features(metric, fd1[layer], fd2[layer] if fd2 else None, settings)
        out[metric] = {
            **values,
            "n_generated": n_gen,
            "extractor": extractor,
            "feature_layer": layer,
            **({} if metric == "isc" else {"n_reference": n_ref}),
            **({"reference": ref_label} if metric != "isc" and ref_label is not None else {}),
        }
    feats = Features(
        fd1[fid_layer].double().numpy(),
        None if fd2 is None else fd2[fid_layer].double().numpy(),
        fid_layer,
    )
    return out, feats


def extract_features(kwargs: dict, layers: Sequence[str]) -> tuple[dict, dict | None]:
    """The one stage that runs a network: torch-fidelity's extractor over both image sets at
    every layer the metrics read (the reference's features cached when ``kwargs`` say so).
    Returns {layer: features} for the generated and the reference images."""
    extractor = tf_utils.create_feature_extractor(
        kwargs["feature_extractor"], list(layers), **kwargs
    )
    fd1 = tf_utils.extract_featuresdict_from_input_id_cached(1, extractor, **kwargs)
    fd2 = None
    if kwargs["input2"] is not None:
        fd2 = tf_utils.extract_featuresdict_from_input_id_cached(2, extractor, **kwargs)
    return fd1, fd2


def metric_from_features(
    metric: str, generated: torch.Tensor, reference: torch.Tensor | None, settings: dict
) -> dict[str, float | int]:
    """One metric's record values from features alone (a pure function of the arrays; the
    arithmetic is torch-fidelity's own, through ``feature_stats``)."""
    if metric == "isc":
        return fs.inception_score_from_logits(generated, **settings["isc"])
    if metric == "fid":
        return {"value": fs.fid_from_features(generated, reference, float64=False)}
    if metric == "kid":
        k = settings["kid"]
        return {**fs.kid_from_features(generated, reference, **k), "subsets": k["subsets"],
                "subset_size": k["subset_size"]}  # fmt: skip
    p = fs.prc_from_features(generated, reference, **settings["prc"])
    return {**{k: float(v) for k, v in p.items()}, **settings["prc"]}


@dataclass(frozen=True)
class Features:
    """The extractor's features of both sets at ``layer`` (FID's layer: Inception's 2048-d pool),
    as float64 arrays; ``reference`` is None for unary metrics."""

    generated: np.ndarray
    reference: np.ndarray | None
    layer: str
