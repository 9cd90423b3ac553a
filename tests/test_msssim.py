"""MS-SSIM: the clamped-window protocol against pytorch-msssim where no clamping happens, and
the behaviour the diversity score relies on, on noise and on real digits."""

from __future__ import annotations

import numpy as np
import pytest
import pytorch_msssim
import torch

from collapsebench.metrics import msssim
from collapsebench.metrics.digits_classifier import load_digits_images


@pytest.fixture(scope="module")
def digits():
    return load_digits_images(32)


def _noise_images(n: int, shape: tuple[int, ...], seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (n, *shape), generator=g, dtype=torch.uint8)


@pytest.mark.parametrize("size", [192, 256])
def test_clamped_equals_pytorch_msssim_on_large_images(size):
    # at 192 and 256 px the coarsest scale (12 / 16 px) is still wider than the 11-px window,
    # so nothing is clamped and the two implementations must agree
    small = load_digits_images(8)[0][:4].double()
    x = torch.nn.functional.interpolate(small, size=(size, size), mode="bilinear")
    x = x.repeat(1, 3, 1, 1)
    g = torch.Generator().manual_seed(size)
    noise = torch.randn(x.shape, generator=g, dtype=torch.float64)
    sds = torch.tensor([5.0, 30, 120, 0], dtype=torch.float64).view(-1, 1, 1, 1)
    y = (x + sds * noise).clamp(0, 255)
    y[-1] = x[0]  # an unrelated digit: a negative contrast term, zeroed by the relu
    ours = msssim.ms_ssim_clamped(x, y, data_range=255)
    ref = pytorch_msssim.ms_ssim(x, y, data_range=255, size_average=False)
    assert ours.shape == (4,) and ours.max() - ours.min() > 0.5  # a spread of values
    assert torch.allclose(ours, ref, atol=1e-4, rtol=0)


def test_identical_images_give_one(digits):
    images = digits[0][:20]
    pair = images.double()
    assert torch.allclose(msssim.ms_ssim_clamped(pair, pair), torch.ones(20, dtype=torch.float64))
    up = msssim.ms_ssim_upsampled(pair[:2].float(), pair[:2].float())
    assert torch.allclose(up, torch.ones(2), atol=1e-5)
    one_image_repeated = images[:1].repeat(10, 1, 1, 1)
    r = msssim.msssim_diversity(one_image_repeated, n_pairs=200)
    assert r.mean == pytest.approx(1.0) and r.std_error == pytest.approx(0.0, abs=1e-12)


def test_independent_noise_images_are_near_zero():
    # uniform noise: fine-scale contrast terms ~C2 / (2 var) ~ 0.005, so the product is small
    r = msssim.msssim_diversity(_noise_images(200, (3, 32, 32), seed=0), n_pairs=1000)
    assert r.mean < 0.1
    r64 = msssim.msssim_diversity(_noise_images(100, (3, 64, 64), seed=1), n_pairs=200)
    assert r64.mean < 0.1


def test_decreases_as_noise_is_added(digits):
    x = digits[0][:200].double()
    g = torch.Generator().manual_seed(0)
    noise = torch.randn(x.shape, generator=g, dtype=torch.float64)
    means = [
        float(msssim.ms_ssim_clamped(x, (x + sd * noise).clamp(0, 255)).mean())
        for sd in (0, 10, 25, 50, 100)
    ]
    assert means[0] == pytest.approx(1.0)
    assert all(a > b for a, b in zip(means, means[1:], strict=False)), means


def test_within_class_pairs_are_more_similar_than_pairs_across_classes(digits):
    images, labels = digits
    per_class = msssim.per_class_msssim(images, labels, n_pairs=1000, seed=0)
    assert sorted(per_class) == list(range(10))
    g = torch.Generator().manual_seed(0)
    shuffled = images[torch.randperm(len(images), generator=g)]
    mixed = msssim.msssim_diversity(shuffled, n_pairs=5000, seed=1)
    within = np.mean([r.mean for r in per_class.values()])
    assert within > mixed.mean + 10 * mixed.std_error
    assert all(r.mean > mixed.mean for r in per_class.values())
    assert all(r.n_images == int((labels == c).sum()) for c, r in per_class.items())


def test_default_pair_count_keeps_standard_error_below_0005(digits):
    r = msssim.msssim_diversity(digits[0][digits[1] == 7])
    assert r.n_pairs == 10_000 and r.std_error < 0.005 and r.protocol == "clamped"


def test_pairs_are_distinct_seeded_and_uniform():
    g = torch.Generator().manual_seed(0)
    i, j = msssim.sample_pairs(5, 20_000, g)
    assert bool((i != j).all())
    counts = torch.bincount(i * 5 + j, minlength=25).reshape(5, 5)
    assert (counts.diagonal() == 0).all()
    off = counts[~torch.eye(5, dtype=torch.bool)].double()
    assert (off / off.mean() - 1).abs().max() < 0.15  # ~1000 per ordered pair
    i2, j2 = msssim.sample_pairs(5, 20_000, torch.Generator().manual_seed(0))
    assert torch.equal(i, i2) and torch.equal(j, j2)


def test_upsample_protocol_runs_through_pytorch_msssim(digits):
    images = digits[0][:30]
    r = msssim.msssim_diversity(images, n_pairs=8, protocol="upsample")
    assert r.protocol == "upsample176" and 0.0 <= r.mean <= 1.0
    x = images[:4].float()
    y = images[4:8].float()
    big = torch.nn.functional.interpolate(x, size=(176, 176), mode="bilinear")
    big_y = torch.nn.functional.interpolate(y, size=(176, 176), mode="bilinear")
    expected = pytorch_msssim.ms_ssim(big, big_y, data_range=255, size_average=False)
    assert torch.allclose(msssim.ms_ssim_upsampled(x, y), expected)


@pytest.mark.parametrize(
    "kwargs, images, match",
    [
        ({}, torch.zeros(1, 1, 32, 32, dtype=torch.uint8), "at least 2 images"),
        ({"protocol": "ssim"}, torch.zeros(4, 1, 32, 32, dtype=torch.uint8), "unknown MS-SSIM"),
        ({}, torch.zeros(4, 1, 8, 8, dtype=torch.uint8), "at least 16"),
        ({}, torch.full((4, 1, 32, 32), 3.0), r"\[-1, 1\]"),
        ({"n_pairs": 1}, torch.zeros(4, 1, 32, 32, dtype=torch.uint8), "n_pairs"),
    ],
)
def test_bad_input_is_a_one_line_error(kwargs, images, match):
    with pytest.raises(ValueError, match=match) as e:
        msssim.msssim_diversity(images, **kwargs)
    assert "\n" not in str(e.value)


def test_per_class_rejects_mismatched_labels(digits):
    images = digits[0][:10]
    with pytest.raises(ValueError, match="one label per image"):
        msssim.per_class_msssim(images, np.zeros(9, dtype=int))
    with pytest.raises(ValueError, match="class 1 has 1 image"):
        msssim.per_class_msssim(images, np.array([0] * 9 + [1]))
