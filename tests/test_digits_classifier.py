"""The digits classifier: accuracy, determinism, caching, and its torch-fidelity registration."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits
from torch_fidelity.registry import FEATURE_EXTRACTORS_REGISTRY

from collapsebench.metrics import digits_classifier as dc
from collapsebench.metrics.fidelity import fidelity_and_features


def _records(*args, **kwargs):
    """The metric records of one staged evaluation (its features are not needed here)."""
    return fidelity_and_features(*args, **kwargs)[0]


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    # shared with test_fidelity.py, so the classifier is trained once per test session
    d = tmp_path_factory.getbasetemp() / "digits-cnn-cache"
    d.mkdir(exist_ok=True)
    return d


@pytest.fixture(scope="module")
def clf(cache_dir):
    return dc.load_or_train(cache_dir, seed=0)


def _bilinear_matrix(n_out: int, n_in: int) -> np.ndarray:
    """Independent bilinear resampling (half-pixel centres, edge clamp) as an n_out×n_in matrix."""
    m = np.zeros((n_out, n_in))
    for o in range(n_out):
        src = max((o + 0.5) * n_in / n_out - 0.5, 0.0)
        i0 = min(int(np.floor(src)), n_in - 1)
        i1 = min(i0 + 1, n_in - 1)
        w = src - i0
        m[o, i0] += 1 - w
        m[o, i1] += w
    return m


def test_data_rule_matches_the_documented_upsampling():
    images, labels = dc.load_digits_images(32)
    raw = load_digits()
    assert images.shape == (1797, 1, 32, 32) and images.dtype == torch.uint8
    assert np.array_equal(labels.numpy(), raw.target)
    m = _bilinear_matrix(32, 8)
    expected = np.rint(m @ (raw.images * 255.0 / 16.0) @ m.T)
    diff = np.abs(images[:, 0].numpy().astype(int) - expected)
    assert diff.max() <= 1 and (diff == 0).mean() > 0.999  # ties at .5 may round either way


def test_heldout_accuracy_at_least_95_percent(clf):
    assert clf.accuracy >= 0.95
    assert clf.n_train + clf.n_heldout == 1797 and clf.n_heldout == round(1797 * 0.2)
    # recompute the held-out accuracy through the public predict() on the held-out indices
    images, labels = dc.load_digits_images()
    _, held = dc._split(len(images), clf.seed)
    pred = dc.predict(images[held], clf.model)
    assert np.mean(pred == labels[held].numpy()) == pytest.approx(clf.accuracy)
    assert clf.as_dict()["extractor"] == "digits-cnn"


def test_cached_after_first_training(clf, cache_dir):
    stamp = clf.path.stat().st_mtime_ns
    again = dc.load_or_train(cache_dir, seed=0)
    assert again.path == clf.path and clf.path.stat().st_mtime_ns == stamp
    assert again.accuracy == clf.accuracy
    for a, b in zip(
        clf.model.state_dict().values(), again.model.state_dict().values(), strict=True
    ):
        assert torch.equal(a, b)
    assert not [p for p in cache_dir.iterdir() if p.suffix == ".tmp"]


def test_training_is_deterministic(clf):
    model, acc, _, _ = dc.train_digits_classifier(seed=0)
    assert acc == clf.accuracy
    for a, b in zip(model.state_dict().values(), clf.model.state_dict().values(), strict=True):
        assert torch.equal(a, b)


def test_corrupt_cache_file_is_a_one_line_error(tmp_path):
    path = dc.cache_path(tmp_path, seed=3)
    path.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="cannot load digits classifier weights") as e:
        dc.load_or_train(tmp_path, seed=3)
    assert str(path) in str(e.value) and "\n" not in str(e.value)


def test_predict_validates_input(clf):
    images, _ = dc.load_digits_images()
    assert dc.predict(images[:5].permute(0, 2, 3, 1).numpy(), clf.model).shape == (5,)
    with pytest.raises(ValueError, match="1-channel"):
        dc.predict(images[:5].repeat(1, 3, 1, 1), clf.model)
    with pytest.raises(ValueError, match=r"\[-1, 1\]"):
        dc.predict(images[:5].float(), clf.model)  # 0..255 floats are not silently accepted


def test_registered_extractor_gives_classifier_is_through_torch_fidelity(clf):
    assert FEATURE_EXTRACTORS_REGISTRY["digits-cnn"] is dc.FeatureExtractorDigitsCNN
    images, labels = dc.load_digits_images()
    diverse = _records(
        images[:1000], metrics=("isc",), extractor="digits-cnn", weights_path=clf.path
    )["isc"]
    one_class = images[labels == 3][:100]
    collapsed = _records(
        one_class, metrics=("isc",), extractor="digits-cnn", weights_path=clf.path
    )["isc"]
    # IS = exp(E KL(p(y|x) || p(y))): ~10 for ten balanced, confidently classified classes;
    # ~1 when every sample is the same class
    assert diverse["mean"] > 8.5 and collapsed["mean"] < 1.5
    assert diverse["extractor"] == "digits-cnn" and diverse["feature_layer"] == "logits"
    assert diverse["n_generated"] == 1000 and diverse["splits"] == 10


def test_extractor_without_weights_is_a_clear_error():
    images, _ = dc.load_digits_images()
    with pytest.raises(ValueError, match="needs weights_path"):
        _records(images[:20], metrics=("isc",), extractor="digits-cnn")
