"""Image data layer: readers of the on-disk formats (fixtures written here), splits, stacking."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from image_fixture_files import (  # noqa: F401
    NAMES,
    _idx_images,
    _idx_labels,
    _marker_image,
    _mnist_arrays,
    _one_line,
    _write_batch,
    _write_cifar,
)
from sklearn.datasets import load_digits as sk_load_digits

from collapsebench.benchmark.errors import BenchError
from collapsebench.benchmark.suites import data


# -- digits --------------------------------------------------------------------------------------
def test_digits_shapes_range_classes():
    x, y = data.load_digits()
    assert x.dtype == torch.uint8 and x.shape == (1797, 1, 32, 32)
    assert int(x.min()) == 0 and int(x.max()) > 200
    assert sorted(torch.unique(y).tolist()) == list(range(10))
    x3, y3 = data.load_digits(32, channels=3)
    assert x3.shape == (1797, 3, 32, 32)
    assert torch.equal(x3[:, 0], x[:, 0]) and torch.equal(x3[:, 2], x[:, 0])
    assert torch.equal(y3, y)


def test_digits_native_size_is_the_scaled_values():
    x8, _ = data.load_digits(8)
    v = sk_load_digits().images  # 0..16
    assert np.array_equal(x8[:, 0].numpy(), np.round(v * 255.0 / 16.0).astype(np.uint8))
    assert int(x8.max()) == 255


def test_digits_rule_matches_the_digits_classifier():
    from collapsebench.metrics.digits_classifier import load_digits_images

    ref, ref_y = load_digits_images(32)
    x, y = data.load_digits(32)
    assert torch.equal(x, ref) and torch.equal(y, ref_y)


# -- class splits --------------------------------------------------------------------------------
def test_per_class_keeps_exactly_one_class():
    images = torch.arange(6 * 2 * 2, dtype=torch.uint8).reshape(6, 1, 2, 2)
    labels = torch.tensor([0, 1, 2, 1, 0, 1])
    xi, yi = data.per_class(images, labels, 1)
    assert yi.tolist() == [1, 1, 1]
    assert torch.equal(xi, images[[1, 3, 5]])
    xn, yn = data.per_class(images, labels, "bird", ["cat", "bird", "dog"])
    assert torch.equal(xn, xi) and torch.equal(yn, yi)
    xs, _ = data.per_class(images, labels, "2")  # default names: the labels present
    assert torch.equal(xs, images[[2]])


def test_per_class_unknown_names():
    images = torch.zeros(3, 1, 2, 2, dtype=torch.uint8)
    labels = torch.tensor([0, 1, 2])
    with pytest.raises(BenchError) as e:
        data.per_class(images, labels, "horse", ["cat", "bird", "dog"])
    assert "'horse'" in _one_line(e) and "cat, bird, dog" in str(e.value)
    with pytest.raises(BenchError, match="valid classes: 0, 1, 2"):
        data.per_class(images, labels, 7)
    with pytest.raises(BenchError, match="no images of class"):
        data.per_class(images, labels, "fish", ["cat", "bird", "dog", "fish"])


# -- stacked -------------------------------------------------------------------------------------
def test_stack_channels_tracks_sources():
    n_src = 20
    images = torch.arange(n_src, dtype=torch.uint8).reshape(n_src, 1, 1, 1).expand(n_src, 1, 4, 4)
    labels = torch.tensor([(7 * i) % 10 for i in range(n_src)])
    stacks, triples = data.stack_channels(images, labels, 50, torch.Generator().manual_seed(0))
    assert stacks.shape == (50, 3, 4, 4) and stacks.dtype == torch.uint8
    assert triples.shape == (50, 3) and triples.dtype == torch.int64
    src = stacks[:, :, 0, 0].long()  # each pixel value names its source image
    assert (stacks == stacks[:, :, :1, :1]).all()
    assert torch.equal(triples, labels[src])
    again, t2 = data.stack_channels(images[:, 0], labels, 50, torch.Generator().manual_seed(0))
    assert torch.equal(again, stacks) and torch.equal(t2, triples)
    other, _ = data.stack_channels(images, labels, 50, torch.Generator().manual_seed(1))
    assert not torch.equal(other, stacks)
    with pytest.raises(BenchError, match="0..9"):
        data.stack_channels(images, labels + 5, 3, torch.Generator())


# -- download ------------------------------------------------------------------------------------
def test_download_offline_says_what_to_fetch(tmp_path, monkeypatch):
    import urllib.error

    import torchvision.datasets as tvd

    def offline(*a, **k):
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    for cls in ("CIFAR10", "MNIST", "CelebA"):
        monkeypatch.setattr(tvd, cls, offline)
    with pytest.raises(BenchError) as e:
        data.download("cifar10", tmp_path)
    msg = _one_line(e)
    assert "cifar-10-python.tar.gz" in msg and str(tmp_path) in msg and "URLError" in msg
    with pytest.raises(BenchError) as e:
        data.download("mnist", tmp_path)
    assert str(tmp_path / "MNIST" / "raw") in _one_line(e)
    with pytest.raises(BenchError) as e:
        data.download("celeba", tmp_path)
    assert "img_align_celeba" in _one_line(e)
    with pytest.raises(BenchError, match="valid datasets: cifar10, mnist, celeba, digits"):
        data.download("svhn", tmp_path)
    data.download("digits", tmp_path)  # bundled: nothing to fetch, no error
