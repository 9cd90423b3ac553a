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

from ...metrics import digits_classifier, dinov2, fidelity, msssim
from ...metrics import diversity as div
from ...metrics.feature_diversity import feature_diversity
from ...metrics.images import to_uint8_nchw
from ...metrics.stacked_modes import stacked_modes
from ..errors import BenchError

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


def evaluate_file(suite, path: Path, data_root=None, pairs: int | None = None) -> tuple[str, str]:
    """`bench evaluate` on an image suite, as (JSON, text): the suite's metrics on any sample
    set, one row per labelled class (per-class suites; labels index the suite's classes), else
    one row against all real images."""
    import dataclasses

    import pandas as pd

    from .sample_files import load_samples

    if pairs is not None:
        suite = dataclasses.replace(suite, n_pairs=pairs)
    images, labels = load_samples(str(path))
    rows = []
    if suite.per_class and labels is not None:
        names = suite.classes(data_root)
        bad = sorted(set(labels.tolist()) - set(range(len(names))))
        if bad:
            raise BenchError(
                f"labels {bad} are not classes of {suite.name}; valid: 0..{len(names) - 1}"
            )
        for c in sorted(set(labels.tolist())):
            sel = images[torch.from_numpy(labels == c)]
            rows.append({"class": names[c], **suite.evaluate(sel, names[c], data_root)})
    else:
        rows.append({"class": "all", **suite.evaluate(images, None, data_root)})
    table = pd.DataFrame(rows)
    text = table.to_markdown(index=False, floatfmt=".4g")
    if not suite.stacked:
        from ...metrics.feature_diversity import CAPTION

        first = table.iloc[0]
        text += (
            f"\n\nThe suite's own evaluation, as in its runs: IS/FID/KID/precision/recall on "
            f"{first['extractor']} features (KID subsets of {first['kid_subset_size']}); "
            f"MS-SSIM over {suite.n_pairs:,} pairs, protocol {first['msssim_protocol']} (lower = "
            f"more diverse; ms_ssim_real = real images of the class); {CAPTION}."
        )
    return table.to_json(orient="records"), text


class ImageEvaluation:
    """The evaluation half of an image suite: what to evaluate, on the stages above. A mixin of
    ``ImageSuite`` (``image.py``), which owns the data, extractor and options it reads."""

    def evaluate_file(self, path, data_root=None, pairs=None) -> tuple[str, str]:
        """`bench evaluate`: the suite's metrics on a sample file, as (JSON, text)."""
        return evaluate_file(self, path, data_root, pairs)

    @property
    def diversity_names(self) -> tuple[str, ...]:
        """Computed on the final samples only, on the FID extractor's features (and, when DINOv2
        weights are configured, on DINOv2's)."""
        if self.stacked:
            return ()
        extra = dinov2.METRIC_NAMES if os.environ.get(dinov2.WEIGHTS_ENV) else ()
        return (*div.METRIC_NAMES, *extra)

    def evaluate(
        self,
        samples: np.ndarray,
        cls: str | None = None,
        data_root=None,
        device: str = "cpu",
        diversity: bool = True,
    ) -> dict[str, Any]:
        """One pass of the feature extractor over the samples serves IS, FID, KID and
        precision/recall (torch-fidelity extracts every metric's layers at once); on ``device``
        ``cuda[:N]`` that pass and the MS-SSIM pairs run on that GPU, in larger batches."""
        images = torch.as_tensor(to_uint8_nchw(samples))
        if tuple(images.shape[1:]) != (self.channels, self.image_size, self.image_size):
            raise BenchError(
                f"{self.name} images are {self.channels}×{self.image_size}×{self.image_size}; "
                f"got {tuple(images.shape[1:])}"
            )
        if self.stacked:
            return stacked_mode_count(images, self.counter, self.min_count)
        with on_device(device):
            return self._evaluate(images, cls, data_root, device, diversity)

    def curve_metrics(
        self, samples: np.ndarray, cls: str | None = None, data_root=None, device: str = "cpu"
    ) -> dict[str, Any]:
        """One point of the convergence curve (``curve_names``), on the same features, sample
        size and MS-SSIM pairs as the final evaluation, so its last point matches the table's."""
        images = torch.as_tensor(to_uint8_nchw(samples))
        if self.stacked:  # the curve holds numbers only: not the counter's name, accuracy, ...
            counts = stacked_mode_count(images, self.counter, self.min_count)
            return {k: counts[k] for k in self.curve_names}
        real = self.real_images(cls, data_root)
        with on_device(device):
            try:
                recs, _ = self._fidelity(images, real, cls, device, metrics=("fid", "prc"))
                gen_div = self._msssim(images, device)
            except (ValueError, fidelity.MissingWeightsError) as exc:
                raise BenchError(f"{self.name}: {exc}") from None
        return {
            "ms_ssim": gen_div.mean,
            "fid": recs["fid"]["value"],
            "precision": recs["prc"]["precision"],
            "recall": recs["prc"]["recall"],
        }

    def _fidelity(self, images, real, cls: str | None, device: str, **options):
        tag = f"{self.dataset}.{self.image_size}px.{'all' if cls is None else 'class_' + cls}"
        return fidelity_records(images, real, self.extractor, tag, device, **options)

    def _msssim(self, images, device: str):
        return msssim.msssim_diversity(
            images, n_pairs=self.n_pairs, protocol=self.msssim_protocol, device=device
        )

    def _evaluate(self, images, cls, data_root, device: str, diversity: bool) -> dict[str, Any]:
        real = self.real_images(cls, data_root)
        kid_size = min(fidelity.DEFAULTS["kid_subset_size"], len(images), len(real))
        try:
            recs, feats = self._fidelity(
                images,
                real,
                cls,
                device,
                isc_splits=min(fidelity.IS_SPLITS, len(images)),
                kid_subset_size=kid_size,
            )
            gen_div, real_div = self._msssim(images, device), self._msssim(real, device)
            extra = {}
            if diversity:
                extra = feature_diversity(feats.generated, feats.reference)
                extra["diversity_features"] = f"{self.extractor}:{feats.layer}"
                weights = dinov2.weights_path()
                if weights is not None:
                    extra.update(
                        dinov2.dinov2_metrics(images, real, weights, kid_size, device=device)
                    )
        except (ValueError, fidelity.MissingWeightsError) as exc:
            raise BenchError(f"{self.name}: {exc}") from None
        return {
            **extra,
            "ms_ssim": gen_div.mean,
            "ms_ssim_se": gen_div.std_error,
            "ms_ssim_real": real_div.mean,
            "inception_score": recs["isc"]["mean"],
            "inception_score_std": recs["isc"]["std"],
            "fid": recs["fid"]["value"],
            "kid": recs["kid"]["mean"],
            "precision": recs["prc"]["precision"],
            "recall": recs["prc"]["recall"],
            "n_generated": len(images),
            "n_reference": len(real),
            "n_pairs": self.n_pairs,
            "kid_subset_size": kid_size,
            "extractor": self.extractor,
            "msssim_protocol": gen_div.protocol,
        }
