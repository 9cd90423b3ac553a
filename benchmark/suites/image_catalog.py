"""The image suites as data: each one's data set, nets, presets, metrics and method defaults,
built from the one ImageSuite class (image.py)."""

from __future__ import annotations

from dataclasses import replace

from ...metrics import digits_classifier
from ..store.spec import TrainConfig
from .image import ImageSuite, _presets

# -- the suites ----------------------------------------------------------------------------------
#: Radford et al.'s settings (the greed paper uses them for DCGAN and its greed variant on images)
DCGAN_DEFAULTS = {"lr": 2e-4, "beta1": 0.5, "beta2": 0.999}


IMAGE_METHOD_DEFAULTS = {"gan": DCGAN_DEFAULTS, "greed-gan": DCGAN_DEFAULTS}


_DIGITS_PRESETS = {
    **_presets(
        TrainConfig(steps=6, batch_size=16, log_every=2, checkpoint_every=3, n_snapshots=2),
        # ~10 s (GAN) to ~35 s (WGAN, 5 critic steps) of training per class model on a 2-core CPU,
        # plus ~1 s per point of the convergence curve (n_evals; the smoke preset has none)
        TrainConfig(
            steps=400, batch_size=32, log_every=20, checkpoint_every=100, n_snapshots=5, n_evals=10
        ),
        TrainConfig(
            steps=10_000,
            batch_size=64,
            log_every=100,
            checkpoint_every=1000,
            n_snapshots=10,
            n_evals=20,
        ),
    ),
    # the per-class table's budget: the 10,000-step probe on class 0 has WGAN settled by 4,000
    # steps (FID 12.8 there, 10.5 at 10,000) while GAN keeps swinging every ~1,000 steps; an
    # evaluation every 200 steps sees each swing, eight snapshots feed the critic curve
    "table": TrainConfig(
        steps=4_000, batch_size=64, log_every=50, checkpoint_every=500, n_snapshots=8, n_evals=20
    ),
}


# the DCGAN recipe at 32x32: batch 64; the paper gives no budget, 100k generator steps is ~20
# epochs of one CIFAR class (5,000 images) times the usual count: see the README's cost estimate
_CIFAR_PRESETS = _presets(
    TrainConfig(steps=4, batch_size=8, log_every=2, checkpoint_every=2, n_snapshots=2),
    TrainConfig(
        steps=20_000,
        batch_size=64,
        log_every=100,
        checkpoint_every=2000,
        n_snapshots=10,
        n_evals=20,
    ),
    TrainConfig(
        steps=100_000,
        batch_size=64,
        log_every=200,
        checkpoint_every=5000,
        n_snapshots=20,
        n_evals=20,
    ),
)


_STACKED_PRESETS = _presets(
    TrainConfig(steps=6, batch_size=16, log_every=2, checkpoint_every=3, n_snapshots=2, n_evals=3),
    TrainConfig(
        steps=1500, batch_size=64, log_every=50, checkpoint_every=250, n_snapshots=4, n_evals=10
    ),
    # PacGAN: 128,000 stacks, batch 64, lr 2e-4; ~50 epochs
    TrainConfig(
        steps=100_000,
        batch_size=64,
        log_every=200,
        checkpoint_every=5000,
        n_snapshots=10,
        n_evals=20,
    ),
)


STACKED_DIGITS = ImageSuite(
    name="stacked-digits",
    description="three digits as R, G, B -> 1,000 modes (Stacked-MNIST protocol, offline)",
    dataset="digits",
    image_size=32,
    channels=3,
    stacked=True,
    width=16,
    extractor=digits_classifier.EXTRACTOR_NAME,
    n_train=128_000,
    eval_sizes={"smoke": 100, "default": 26_000, "paper": 26_000},
    presets=_STACKED_PRESETS,
    method_defaults=IMAGE_METHOD_DEFAULTS,
    default_methods=("gan", "wgan-gp", "greed-gan"),
    published="pacgan-stacked-mnist",
)


IMAGE_SUITES: dict[str, ImageSuite] = {
    s.name: s
    for s in (
        ImageSuite(
            name="cifar10-perclass",
            description="CIFAR-10, one DCGAN per class (the greed paper Sec. 4.4, Tables 2-4)",
            dataset="cifar10",
            image_size=32,
            channels=3,
            per_class=True,
            eval_sizes={"smoke": 20, "default": 5000, "paper": 50_000},
            presets=_CIFAR_PRESETS,
            method_defaults=IMAGE_METHOD_DEFAULTS,
            published="greed-cifar10",
        ),
        ImageSuite(
            name="celeba64",
            description="CelebA 64×64 center crop, DCGAN (greed paper Sec. 4.3, Table 1, Fig. 4)",
            dataset="celeba",
            image_size=64,
            channels=3,
            eval_sizes={"smoke": 20, "default": 10_000, "paper": 50_000},
            presets=_CIFAR_PRESETS,
            method_defaults=IMAGE_METHOD_DEFAULTS,
            published="greed-celeba",
        ),
        ImageSuite(
            name="digits-perclass",
            description="scikit-learn digits 8×8 -> 32×32, one DCGAN per class (offline)",
            dataset="digits",
            image_size=32,
            channels=1,
            per_class=True,
            width=16,
            extractor=digits_classifier.EXTRACTOR_NAME,
            n_pairs=2000,
            # the table preset evaluates each curve point as the 10,000-step probe did
            eval_sizes={"smoke": 40, "default": 1000, "paper": 10_000, "table": 10_000},
            presets=_DIGITS_PRESETS,
            method_defaults=IMAGE_METHOD_DEFAULTS,
        ),
        # Wang's (2024) setting: one model on all of CIFAR-10 (its WGAN variants table)
        ImageSuite(
            name="cifar10",
            description="CIFAR-10, one DCGAN on all classes (Wang's (2024) WGAN variants)",
            dataset="cifar10",
            image_size=32,
            channels=3,
            eval_sizes={"smoke": 20, "default": 10_000, "paper": 50_000},
            presets=_CIFAR_PRESETS,
            method_defaults=IMAGE_METHOD_DEFAULTS,
            default_methods=("gan", "wgan", "wgan-gp"),
        ),
        ImageSuite(
            name="digits",
            description="scikit-learn digits 8×8 -> 32×32, one DCGAN on all classes (offline)",
            dataset="digits",
            image_size=32,
            channels=1,
            width=16,
            extractor=digits_classifier.EXTRACTOR_NAME,
            n_pairs=2000,
            eval_sizes={"smoke": 40, "default": 2000, "paper": 10_000, "table": 10_000},
            presets=_DIGITS_PRESETS,
            method_defaults=IMAGE_METHOD_DEFAULTS,
            default_methods=("gan", "wgan", "wgan-gp"),
        ),
        STACKED_DIGITS,
        replace(
            STACKED_DIGITS,
            name="stacked-mnist",
            description="three MNIST digits as R, G, B -> 1,000 modes (VEEGAN/PacGAN)",
            dataset="mnist",
            width=64,
        ),
    )
}
