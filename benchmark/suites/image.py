"""Image suites: the greed paper's per-class CIFAR-10 and CelebA 64×64, their offline stand-in on
scikit-learn's digits, and stacked digits / Stacked-MNIST (1,000 modes).

A suite owns its data, networks, evaluation and presets, exactly as the toy suites do, so the
baselines run unchanged. What differs from the toys:

* per-class suites train one unconditional model per class (the greed paper Sec. 4.4): every
  class is a separate run in the store (``RunSpec.cls``), trained only on that class's images;
* data stay uint8 in memory (CelebA would not fit as floats) and a batch is converted to
  [-1, 1] when it is drawn (:class:`ImageBatches`);
* the networks come from ``image_nets`` (DCGAN by default; ``--arch resnet|densenet``), with
  BatchNorm in D switched off for methods with a per-sample gradient penalty;
* evaluation is IS / FID / KID / precision-recall through torch-fidelity (Inception for CIFAR
  and CelebA, the digits classifier for digits) and the per-class MS-SSIM of generated and of
  real pairs; stacked suites count modes with the digits classifier, one channel at a time.

Digits rule: the 8×8 images (0..16) are scaled to 0..255 and resized bilinearly to 32×32
(``data.load_digits``), the digits classifier's input size."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from ...metrics import digits_classifier, fidelity, image_collapse, msssim
from ...metrics.images import to_uint8_nchw
from ...metrics.stacked_modes import N_STACKED_MODES
from ..errors import BenchError
from ..store.keys import omit_defaults
from ..store.spec import TrainConfig
from . import data as data_mod
from .base import ReportedMetrics
from .image_batches import ImageBatches, StackedBatches
from .image_eval import ImageEvaluation
from .image_nets import ARCHS, build_image_nets

#: the published counting rule (PacGAN / VEEGAN): any sample counts, the plain classifier
COUNTING_DEFAULTS = {"min_count": 1, "counter": digits_classifier.EXTRACTOR_NAME}


def _presets(smoke: TrainConfig, default: TrainConfig, paper: TrainConfig) -> dict:
    return {"smoke": smoke, "default": default, "paper": paper}


@dataclass(frozen=True)
class ImageSuite(ImageEvaluation, ReportedMetrics):
    name: str
    description: str
    #: data.DATASETS name of the training images ("cifar10", "celeba", "digits", "mnist")
    dataset: str
    image_size: int
    channels: int
    #: one unconditional model per class (the greed paper Sec. 4.4)
    per_class: bool = False
    #: three images of the dataset stacked as R, G, B (1,000 modes)
    stacked: bool = False
    arch: str = "dcgan"
    width: int = 64
    noise_dim: int = 100
    #: torch-fidelity feature extractor for IS/FID/KID/PR
    extractor: str = fidelity.INCEPTION
    msssim_protocol: str = "clamped"
    #: generated images per model for evaluation; presets may override (``eval_sizes``)
    n_eval: int = 50_000
    n_pairs: int = msssim.DEFAULT_PAIRS
    #: stacked suites: size of the fixed training set of stacks (PacGAN: 128,000)
    n_train: int = 0
    data_seed: int = 20180101
    #: CelebA only: how many images of the folder to use (None: all)
    max_images: int | None = None
    eval_sizes: Mapping[str, int] = field(default_factory=dict)
    #: stacked suites' counting rule: a mode counts when at least ``min_count`` samples land on
    #: it, each channel classified by ``counter`` (1 and digits-cnn: the published rule, any
    #: sample counts; the calibrated rule: 10 and digits-cnn-aug, see calibration.py). Left out
    #: of run keys at these defaults, so earlier runs keep theirs
    min_count: int = 1
    counter: str = digits_classifier.EXTRACTOR_NAME
    #: MS-SSIM pairs per preset where it differs from ``n_pairs`` (smoke: a few, for speed)
    pair_counts: Mapping[str, int] = field(default_factory=lambda: {"smoke": 100})
    method_defaults: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    presets: Mapping[str, TrainConfig] = field(default_factory=dict)
    default_methods: tuple[str, ...] = ("gan", "greed-gan", "wgan", "greed-wgan")
    #: published table of the greed paper (or of PacGAN for stacked) the tables sit beside
    published: str | None = None
    kind: str = "image"

    #: G's samples kept per training snapshot, and G itself (``bench critic`` scores it)
    snapshot_samples: ClassVar[int] = 64
    stores_generators: ClassVar[bool] = True
    #: mixed precision and channels-last on a GPU (conv nets)
    amp_capable: ClassVar[bool] = True
    #: evaluated on pretrained image features (Inception, DINOv2)
    image_features: ClassVar[bool] = True

    #: bench agreement ranks every metric against this one: (metric, how captions name it)
    agreement_reference: ClassVar[tuple[str, str]] = ("ms_ssim", "per-class MS-SSIM")

    #: fields that are run settings, not part of what a run computes
    _NOT_PARAMS = (
        "description",
        "eval_sizes",
        "pair_counts",
        "method_defaults",
        "presets",
        "default_methods",
        "published",
        "kind",
    )
    #: what a user may change per run (`bench run --arch/--width`; stacked: --min-count/--counter)
    OVERRIDABLE = ("arch", "width", "min_count", "counter")

    def __post_init__(self) -> None:
        # n_eval is sized for a final evaluation; a preset that also evaluates n_evals curve
        # points states its own size, or each point would generate (and compare pairwise) the
        # full n_eval samples
        unsized = sorted(p for p in self.presets if p not in self.eval_sizes)
        if unsized:
            raise ValueError(f"image suite {self.name}: presets {unsized} have no eval_sizes entry")

    def command_options(self, given: Mapping[str, Any]) -> dict[str, Any]:
        """Image suites have no protocols: the suite options come from --arch/--width/..."""
        named = [f"--{k.replace('_', '-')}" for k, v in given.items() if v is not None]
        if named:
            raise BenchError(
                f"{', '.join(named)} {'applies' if len(named) == 1 else 'apply'} to the toy "
                "suites only (--protocol, --update-order, --ring, --nets, --batch-size); "
                f"{self.name} has none"
            )
        return {}

    def preset_lines(self) -> list[str]:
        """`bench list`'s lines on this suite's budgets."""
        return [
            f"preset {name:<8} {tc.steps:,} generator steps, batch {tc.batch_size}"
            for name, tc in self.presets.items()
        ]

    @property
    def n_modes(self) -> int | None:
        """Stacked suites: the 1,000 digit triples; None where modes are not counted."""
        return N_STACKED_MODES if self.stacked else None

    @property
    def metric_names(self) -> tuple[str, ...]:
        if self.stacked:
            return ("modes_covered", "kl", "kl_log10")
        return ("ms_ssim", "inception_score", "fid", "kid", "precision", "recall")

    @property
    def dynamics_names(self) -> tuple[str, ...]:
        """Per-class suites: collapse over training from the MS-SSIM curve."""
        return image_collapse.NAMES if self.per_class else ()

    def dynamics(self, evals, final=None) -> dict[str, float]:
        """Collapse over training (metrics/image_collapse.py): the run's MS-SSIM curve against
        its class's ground truth (``ms_ssim_real`` of its final metrics). NaN without either."""
        if not self.per_class:
            return {}
        real = (final or {}).get("ms_ssim_real")
        if evals is None or len(evals) == 0 or "ms_ssim" not in evals or real is None:
            return dict.fromkeys(image_collapse.NAMES, float("nan"))
        return image_collapse.image_dynamics(
            evals["step"].to_numpy(), evals["ms_ssim"].to_numpy(), float(real)
        )

    @property
    def curve_names(self) -> tuple[str, ...]:
        """The convergence curve's metrics: FID, precision/recall and the generated images'
        MS-SSIM, which the plateau rule reads. IS and KID are computed only at the end (KID's
        100 subsets cost as much as the feature pass itself)."""
        if self.stacked:
            return self.metric_names
        return ("ms_ssim", "fid", "precision", "recall")

    # -- identity ------------------------------------------------------------------------------
    def params(self, preset: str | None = None) -> dict[str, Any]:
        """What defines data, nets and evaluation; part of every run's config hash."""
        d = asdict(self)
        for k in self._NOT_PARAMS:
            d.pop(k)
        d = omit_defaults(d, COUNTING_DEFAULTS)
        if preset is not None and preset in self.eval_sizes:
            d["n_eval"] = self.eval_sizes[preset]
        if preset is not None and preset in self.pair_counts:
            d["n_pairs"] = self.pair_counts[preset]
        return d

    def resolve(self, params: Mapping[str, Any]) -> ImageSuite:
        """The suite as a run's config recorded it (its arch, width, evaluation size)."""
        names = {f.name for f in fields(self)} - set(self._NOT_PARAMS)
        return replace(self, **{k: v for k, v in params.items() if k in names})

    def with_overrides(self, overrides: Mapping[str, Any]) -> ImageSuite:
        bad = sorted(set(overrides) - set(self.OVERRIDABLE))
        if bad:
            raise BenchError(f"suite option(s) {bad} cannot be set; valid: {self.OVERRIDABLE}")
        if "arch" in overrides and overrides["arch"] not in ARCHS:
            raise BenchError(f"unknown --arch {overrides['arch']!r}; valid: {', '.join(ARCHS)}")
        counting = {"min_count", "counter"} & set(overrides)
        if counting and not self.stacked:
            raise BenchError(
                f"--min-count/--counter apply to the stacked suites only; {self.name} is not one"
            )
        if "counter" in overrides and overrides["counter"] not in digits_classifier.RECIPES:
            valid = ", ".join(digits_classifier.RECIPES)
            raise BenchError(f"unknown --counter {overrides['counter']!r}; valid: {valid}")
        return replace(self, **overrides)

    # -- data ----------------------------------------------------------------------------------
    def _load(self, data_root) -> data_mod.ImageSet:
        if self.stacked:
            return data_mod.load_dataset(self.dataset, data_root, image_size=self.image_size)
        return data_mod.load_dataset(
            self.dataset,
            data_root,
            image_size=self.image_size,
            channels=self.channels,
            max_images=self.max_images,
        )

    def classes(self, data_root=None) -> tuple[str | None, ...]:
        """The class names a per-class suite trains one model each for; (None,) otherwise."""
        if not self.per_class:
            return (None,)
        if self.dataset == "cifar10":
            return data_mod.cifar10_class_names(data_root)
        return data_mod.DIGIT_CLASSES

    def real_images(self, cls: str | None = None, data_root=None) -> torch.Tensor:
        """Real uint8 images the evaluation compares with: the class's training images, all of
        them, or (stacked) the fixed training stacks."""
        s = self._load(data_root)
        if self.stacked:
            return s.images[:, 0][self._triples(s)]
        if cls is None:
            return s.images
        return data_mod.per_class(s.images, s.labels, cls, s.class_names)[0]

    def _triples(self, s: data_mod.ImageSet) -> torch.Tensor:
        """The fixed training stacks as (n_train, 3) image indices, drawn from the suite's seed."""
        gen = torch.Generator().manual_seed(self.data_seed)
        return torch.randint(len(s.images), (self.n_train, 3), generator=gen)

    def training_set(self, cls: str | None = None, data_root=None):
        if self.per_class and cls is None:
            raise BenchError(f"suite {self.name} trains one model per class; give a class")
        if not self.per_class and cls is not None:
            raise BenchError(f"suite {self.name} has no per-class runs; got class {cls!r}")
        s = self._load(data_root)
        if self.stacked:
            return StackedBatches(s.images, self._triples(s))
        if cls is None:
            return ImageBatches(s.images)
        return ImageBatches(data_mod.per_class(s.images, s.labels, cls, s.class_names)[0])

    def net_sizes(self) -> dict[str, Any]:
        """What sets a training step's cost (`bench perf` reports it)."""
        return {"arch": self.arch, "width": self.width, "image_size": self.image_size,
                "noise_dim": self.noise_dim}  # fmt: skip

    def sample_noise(self, n: int, gen: torch.Generator, dim: int | None = None) -> torch.Tensor:
        return torch.randn(n, self.noise_dim if dim is None else dim, generator=gen)

    def check_ready(self, data_root=None) -> None:
        """Fail before any training when the data or the evaluation's weights are missing."""
        self.classes(data_root)
        self._load(data_root)
        if self.extractor == fidelity.INCEPTION:
            try:
                fidelity.find_inception_weights()
            except fidelity.MissingWeightsError as exc:
                raise BenchError(f"{self.name} evaluates with Inception: {exc}") from None

    # -- networks ------------------------------------------------------------------------------
    def build_nets(
        self,
        seed: int,
        pack: int = 1,
        cond_dim: int = 0,
        hidden: int | None = None,
        noise_dim: int | None = None,
        d_batchnorm: bool = True,
    ) -> tuple[nn.Module, nn.Module]:
        if cond_dim or hidden is not None:
            raise BenchError(
                f"suite {self.name}: this method asks for conditional or resized MLP nets, "
                "which the image suites do not provide"
            )
        return build_image_nets(
            self.arch,
            self.image_size,
            self.channels,
            self.noise_dim if noise_dim is None else noise_dim,
            self.width,
            d_batchnorm=d_batchnorm,
            generator=torch.Generator().manual_seed(seed),
            pack=pack,
        )

    def snapshot(self, D: nn.Module, method) -> dict[str, np.ndarray]:
        """Nothing beyond the sample images: there is no 2-D plane to draw D on."""
        return {}

    @staticmethod
    def to_stored(samples: torch.Tensor | np.ndarray) -> np.ndarray:
        """Generated images in [-1, 1] -> uint8 N×C×H×W, the format every metric reads."""
        return to_uint8_nchw(torch.as_tensor(samples).clamp(-1, 1)).numpy()
