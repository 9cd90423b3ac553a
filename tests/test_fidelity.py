"""IS / FID / KID / PRC through torch-fidelity, checked against independent computations;
offline Inception weights; image input validation (metrics/images.py)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.linalg
import torch
import torch_fidelity.feature_extractor_inceptionv3 as inception_module
from PIL import Image
from sklearn.neighbors import NearestNeighbors

from collapsebench.metrics import digits_classifier as dc
from collapsebench.metrics import feature_stats as fs
from collapsebench.metrics import fidelity as fi
from collapsebench.metrics.images import load_image_folder, to_rgb, to_uint8_nchw


def _records(*args, **kwargs):
    """The metric records of one staged evaluation (its features are not needed here)."""
    return fi.fidelity_and_features(*args, **kwargs)[0]


# -- independent reference implementations -----------------------------------------------


def frechet_numpy(a: np.ndarray, b: np.ndarray) -> float:
    """||mu1 - mu2||^2 + Tr(S1 + S2 - 2 (S1 S2)^1/2), with scipy's matrix square root."""
    mu1, mu2 = a.mean(0), b.mean(0)
    s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    covmean = scipy.linalg.sqrtm(s1 @ s2).real
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean))


def mmd2_unbiased_poly(x: np.ndarray, y: np.ndarray) -> float:
    """Unbiased MMD^2 (Bińkowski et al. 2018, KID) with k(a, b) = (a.b / d + 1)^3."""
    d, m = x.shape[1], len(x)
    kxx, kyy, kxy = ((x @ x.T / d + 1) ** 3, (y @ y.T / d + 1) ** 3, (x @ y.T / d + 1) ** 3)
    off = ~np.eye(m, dtype=bool)
    return float(kxx[off].mean() + kyy[off].mean() - 2 * kxy.mean())


# -- fixtures ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def clf(tmp_path_factory):
    d = tmp_path_factory.getbasetemp() / "digits-cnn-cache"  # shared with the classifier tests
    d.mkdir(exist_ok=True)
    return dc.load_or_train(d, seed=0)


@pytest.fixture(scope="module")
def digits():
    return dc.load_digits_images()


def _noisy(images: torch.Tensor, sd: float, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return (images.double() + sd * torch.randn(images.shape, generator=g)).round().clamp(0, 255)


# -- FID -----------------------------------------------------------------------------------


# dead ReLU units make both penultimate covariances singular; sqrtm still converges, and the
# agreement below is the check that it did
@pytest.mark.filterwarnings("ignore::scipy.linalg.LinAlgWarning")
def test_fid_through_calculate_metrics_equals_independent_frechet(clf, digits):
    images, _ = digits
    gen = _noisy(images[:600], 40.0, seed=1).to(torch.uint8)
    ref = images[600:1400]
    out = _records(gen, ref, metrics=("fid",), extractor="digits-cnn", weights_path=clf.path)["fid"]
    # features computed here, independently of the wrapper: the 128-d penultimate layer on
    # images scaled to [-1, 1] (32×32 already, so no resize)
    with torch.no_grad():
        fa = clf.model.features(gen.float() / 127.5 - 1).double().numpy()
        fb = clf.model.features(ref.float() / 127.5 - 1).double().numpy()
    expected = frechet_numpy(fa, fb)
    assert expected > 1.0  # the two sets really differ
    assert out["value"] == pytest.approx(expected, rel=1e-4)
    assert out["n_generated"] == 600 and out["n_reference"] == 800
    assert out["extractor"] == "digits-cnn" and out["feature_layer"] == "penultimate"


def test_fid_from_features_matches_scipy_sqrtm():
    g = torch.Generator().manual_seed(0)
    a = torch.randn(400, 16, generator=g, dtype=torch.float64)
    b = (
        torch.randn(500, 16, generator=g, dtype=torch.float64)
        @ torch.diag(torch.linspace(0.5, 2, 16, dtype=torch.float64))
        + 0.3
    )
    assert fs.fid_from_features(a, b) == pytest.approx(
        frechet_numpy(a.numpy(), b.numpy()), rel=1e-4
    )


# -- IS ------------------------------------------------------------------------------------


def test_inception_score_uniform_predictions_is_one():
    probs = np.full((1000, 10), 0.1)
    r = fs.inception_score_from_probs(probs, splits=10)
    assert r["mean"] == pytest.approx(1.0, abs=1e-9) and r["std"] == pytest.approx(0, abs=1e-9)


@pytest.mark.parametrize("n_classes", [2, 10, 37])
def test_inception_score_equiprobable_one_hot_is_n(n_classes):
    # one-hot rows, each class equally often: KL(p(y|x) || p(y)) = log N for every sample
    labels = np.tile(np.arange(n_classes), 40)
    probs = np.eye(n_classes)[labels]
    assert fs.inception_score_from_probs(probs, splits=1)["mean"] == pytest.approx(n_classes)
    # 10 unshuffled splits of 4N rows each hold every class 4 times
    r = fs.inception_score_from_probs(probs, splits=10, shuffle=False)
    assert r["mean"] == pytest.approx(n_classes) and r["std"] == pytest.approx(0, abs=1e-9)
    # same through logits: near-one-hot softmax
    logits = 50.0 * np.eye(n_classes)[labels]
    assert fs.inception_score_from_logits(logits, splits=1)["mean"] == pytest.approx(
        n_classes, rel=1e-6
    )


def test_inception_score_rejects_bad_tables():
    with pytest.raises(ValueError, match="sum to 1"):
        fs.inception_score_from_probs(np.full((20, 4), 0.3))
    with pytest.raises(ValueError, match="at least 10 samples"):
        fs.inception_score_from_logits(np.zeros((5, 3)), splits=10)


# -- KID and PRC ---------------------------------------------------------------------------


def test_kid_identical_sets_is_zero_and_matches_independent_mmd():
    g = torch.Generator().manual_seed(0)
    m = 1000
    a = torch.randn(m, 32, generator=g, dtype=torch.float64)
    same_dist = torch.randn(m, 32, generator=g, dtype=torch.float64)
    shifted = fs.kid_from_features(a, same_dist + 0.5, subsets=50, subset_size=500)["mean"]
    assert shifted > 0.5
    # two samples of one distribution: the unbiased estimate is ~0
    assert abs(fs.kid_from_features(a, same_dist, subsets=50, subset_size=500)["mean"]) < (
        0.02 * shifted
    )
    # literally identical sets (one subset = the whole set): the unbiased estimator's cross
    # term keeps the diagonal, so it equals -2 (mean diag K - mean K) / (m - 1): O(1/m), ~0
    k = (a @ a.T / 32 + 1) ** 3
    closed_form = float(-2 * (k.diagonal().mean() - k.mean()) / (m - 1))
    same = fs.kid_from_features(a, a.clone(), subsets=1, subset_size=m)["mean"]
    assert same == pytest.approx(closed_form, rel=1e-9) and abs(same) < 0.02 * shifted
    # one subset of the whole set is just a permutation: equals our own unbiased MMD^2
    b = same_dist[:300] + 0.5
    full = fs.kid_from_features(a[:300], b, subsets=1, subset_size=300)["mean"]
    assert full == pytest.approx(mmd2_unbiased_poly(a[:300].numpy(), b.numpy()), rel=1e-9)


def test_precision_recall_match_knn_definition():
    g = torch.Generator().manual_seed(0)
    real = torch.randn(300, 8, generator=g)
    gen = torch.randn(200, 8, generator=g) * 0.5 + 0.8  # shifted, less spread: low recall
    r = fs.prc_from_features(gen, real, neighborhood=3)

    def covered(points: np.ndarray, support: np.ndarray, k: int) -> float:
        # share of points inside the union of support balls of radius = k-th NN distance
        radii = NearestNeighbors(n_neighbors=k + 1).fit(support).kneighbors(support)[0][:, -1]
        d = np.linalg.norm(points[:, None, :] - support[None, :, :], axis=-1)
        return float((d <= radii[None, :]).any(1).mean())

    assert r["precision"] == pytest.approx(covered(gen.numpy(), real.numpy(), 3), abs=1e-6)
    assert r["recall"] == pytest.approx(covered(real.numpy(), gen.numpy(), 3), abs=1e-6)
    assert r["recall"] < r["precision"]


# -- the wrapper: labels, sizes, cache, validation -----------------------------------------


def test_reference_statistics_are_cached_atomically(clf, digits, tmp_path):
    images, _ = digits
    kw = dict(metrics=("fid",), extractor="digits-cnn", weights_path=clf.path)
    kw.update(reference_dataset="digits", reference_split="train", cache_dir=tmp_path)
    first = _records(images[:300], images[300:700], **kw)["fid"]
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files and all(f.startswith("digits-train-digits-cnn-") and "-n400-" in f for f in files)
    assert all(f.endswith(".pt") for f in files)  # no temp files left behind
    # the cache key names the data: a different array under the same key reuses the statistics
    again = _records(images[:300], images[1000:1400], **kw)["fid"]
    assert again["value"] == first["value"] and again["reference"] == "digits/train"
    kw.update(reference_dataset=None, cache_dir=None)
    uncached = _records(images[:300], images[1000:1400], **kw)["fid"]
    assert uncached["value"] != first["value"]


def test_wrapper_rejects_bad_requests(clf, digits):
    images, _ = digits
    kw = dict(extractor="digits-cnn", weights_path=clf.path)
    with pytest.raises(ValueError, match="unknown metrics"):
        _records(images[:50], images[50:100], metrics=("fid", "ppl"), **kw)
    with pytest.raises(ValueError, match="need reference"):
        _records(images[:50], metrics=("fid",), **kw)
    with pytest.raises(ValueError, match="KID .* needs at least 1000 generated"):
        _records(images[:50], images[50:100], metrics=("kid",), **kw)
    with pytest.raises(ValueError, match="IS with 10 splits needs at least 10"):
        _records(images[:5], metrics=("isc",), **kw)
    with pytest.raises(ValueError, match="1-channel"):
        _records(images[:50].repeat(1, 3, 1, 1), images[50:100], **kw)
    with pytest.raises(ValueError, match="device"):
        _records(images[:50], images[50:100], device="gpu", **kw)
    with pytest.raises(ValueError, match="unknown feature extractor"):
        _records(images[:50], images[50:100], metrics=("fid",), extractor="lenet")


# -- offline Inception weights -------------------------------------------------------------


def _write_random_inception_weights(path, monkeypatch) -> None:
    """A weights file with torch-fidelity's exact keys and shapes but random values, built
    without any download: construct the extractor with its loading step stubbed out."""
    with monkeypatch.context() as m:
        m.setattr(inception_module, "load_state_dict_from_url", lambda *a, **k: {})
        m.setattr(
            inception_module.FeatureExtractorInceptionV3, "load_state_dict", lambda *a, **k: None
        )
        net = inception_module.FeatureExtractorInceptionV3(fi.INCEPTION, ["2048"])
    g = torch.Generator().manual_seed(0)
    state = {}
    for k, v in net.state_dict().items():
        if k.endswith("running_var"):
            state[k] = torch.ones_like(v)
        elif k.endswith("running_mean") or k.endswith("num_batches_tracked"):
            state[k] = torch.zeros_like(v)
        elif v.dim() >= 2:  # He-normal keeps activations alive through ~100 layers
            state[k] = torch.randn(v.shape, generator=g) * math.sqrt(2.0 / v[0].numel())
        else:
            state[k] = 0.1 * torch.randn(v.shape, generator=g)
    torch.save(state, path)


def test_offline_weights_file_is_loaded_and_used(tmp_path, monkeypatch):
    hub = tmp_path / "hub"
    (hub / "checkpoints").mkdir(parents=True)
    weights = hub / "checkpoints" / fi.INCEPTION_WEIGHTS_FILE
    _write_random_inception_weights(weights, monkeypatch)
    monkeypatch.delenv(fi.WEIGHTS_ENV, raising=False)
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(hub))
    g = torch.Generator().manual_seed(0)
    gen = torch.randint(0, 256, (4, 16, 16, 3), generator=g, dtype=torch.uint8)  # NHWC
    ref = torch.randint(0, 256, (4, 1, 16, 16), generator=g, dtype=torch.uint8)  # grayscale
    out = _records(gen, ref, isc_splits=2, kid_subsets=3, kid_subset_size=4)
    assert set(out) == {"isc", "fid", "kid", "prc"}
    for rec in out.values():
        assert rec["extractor"] == fi.INCEPTION and rec["n_generated"] == 4
        assert all(math.isfinite(v) for v in rec.values() if isinstance(v, float))
    assert out["prc"]["feature_layer"] == "2048"  # PRC on Inception features, not VGG-16
    assert out["isc"]["feature_layer"] == "logits_unbiased"
    assert out["fid"]["value"] > 0 and out["fid"]["n_reference"] == 4


def test_weights_lookup_order(tmp_path, monkeypatch):
    hub = tmp_path / "hub"
    (hub / "checkpoints").mkdir(parents=True)
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(hub))
    monkeypatch.delenv(fi.WEIGHTS_ENV, raising=False)
    in_hub = hub / "checkpoints" / fi.INCEPTION_WEIGHTS_FILE
    in_hub.write_bytes(b"x")
    assert fi.find_inception_weights() == in_hub
    via_env = tmp_path / "env.pth"
    via_env.write_bytes(b"x")
    monkeypatch.setenv(fi.WEIGHTS_ENV, str(via_env))
    assert fi.find_inception_weights() == via_env
    explicit = tmp_path / "arg.pth"
    explicit.write_bytes(b"x")
    assert fi.find_inception_weights(explicit) == explicit
    with pytest.raises(fi.MissingWeightsError, match="does not exist"):
        fi.find_inception_weights(tmp_path / "nope.pth")  # no silent fall-through


def test_missing_weights_is_one_line_naming_file_url_and_place(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    monkeypatch.delenv(fi.WEIGHTS_ENV, raising=False)
    images = torch.zeros(20, 3, 8, 8, dtype=torch.uint8)
    with pytest.raises(ValueError) as e:
        _records(images, images, metrics=("fid",))
    msg = str(e.value)
    assert isinstance(e.value, fi.MissingWeightsError) and "\n" not in msg
    assert "weights-inception-2015-12-05-6726825d.pth" in msg
    url = "https://github.com/toshas/torch-fidelity/releases/download/v0.2.0/"
    assert url + "weights-inception-2015-12-05-6726825d.pth" in msg
    assert str(tmp_path / "hub" / "checkpoints") in msg and fi.WEIGHTS_ENV in msg


# -- images.py: conversion and validation --------------------------------------------------


def test_float_images_are_converted_explicitly():
    x = np.tile(np.array([-1.0, -0.5, 0.0, 0.5, 1.0]), (4, 4, 1))[..., None]  # N×H×W×1
    out = to_uint8_nchw(x.astype(np.float32))
    assert out.shape == (4, 1, 4, 5) and out.dtype == torch.uint8
    # round((x + 1) * 127.5): 0, 63.75 -> 64, 127.5 -> 128 (half to even), 191.25 -> 191, 255
    assert out[0, 0, 0].tolist() == [0, 64, 128, 191, 255]
    u8 = np.arange(4 * 3 * 5 * 5, dtype=np.uint8).reshape(4, 3, 5, 5)
    assert torch.equal(to_uint8_nchw(u8), torch.from_numpy(u8))
    assert torch.equal(to_uint8_nchw(u8.transpose(0, 2, 3, 1)), torch.from_numpy(u8))
    assert to_rgb(to_uint8_nchw(np.zeros((2, 5, 5, 1), np.uint8))).shape == (2, 3, 5, 5)


@pytest.mark.parametrize(
    "arr, match",
    [
        (np.full((2, 3, 8, 8), 1.5, np.float32), r"\[-1, 1\]"),
        (np.full((2, 3, 8, 8), 200.0), r"\[-1, 1\]"),  # 0..255 floats are not misread
        (np.full((2, 3, 8, 8), np.nan, np.float32), "NaN"),
        (np.zeros((2, 3, 8, 8), np.int32), "dtype"),
        (np.zeros((2, 2, 8, 8), np.uint8), "C in 1 or 3"),
        (np.zeros((3, 8, 8), np.uint8), "4-D"),
        (np.zeros((2, 3, 8, 3), np.uint8), "ambiguous"),
        (np.zeros((0, 3, 8, 8), np.uint8), "empty"),
    ],
)
def test_bad_images_are_one_line_errors(arr, match):
    with pytest.raises(ValueError, match=match) as e:
        to_uint8_nchw(arr)
    assert "\n" not in str(e.value)


def test_png_folder_loading(tmp_path):
    rng = np.random.default_rng(0)
    arrays = [rng.integers(0, 256, (6, 7, 3), dtype=np.uint8) for _ in range(3)]
    for i, a in enumerate(arrays):
        Image.fromarray(a).save(tmp_path / f"{i:03d}.png")
    (tmp_path / "notes.txt").write_text("ignored")
    out = load_image_folder(tmp_path)
    assert torch.equal(out, torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2))
    good = (tmp_path / "000.png").read_bytes()
    (tmp_path / "001.png").write_bytes(good[: len(good) // 2])  # truncated
    with pytest.raises(ValueError, match="001.png") as e:
        load_image_folder(tmp_path)
    assert "\n" not in str(e.value)
    (tmp_path / "001.png").write_bytes(b"not a png")
    with pytest.raises(ValueError, match="cannot read PNG .*001.png"):
        load_image_folder(tmp_path)
    with pytest.raises(ValueError, match="not a directory"):
        load_image_folder(tmp_path / "missing")


def test_staged_metrics_equal_calculate_metrics_and_features_are_the_extractors(clf, digits):
    """fidelity_and_features runs torch-fidelity's stages one by one (to keep the features for
    the diversity metrics); every number must equal torch-fidelity's own entry point."""
    import torch_fidelity

    images, _ = digits
    gen = _noisy(images[:300], 30.0, seed=2).to(torch.uint8)
    ref = images[300:700]
    recs, feats = fi.fidelity_and_features(
        gen, ref, extractor="digits-cnn", weights_path=clf.path, kid_subset_size=100
    )
    raw = torch_fidelity.calculate_metrics(
        input1=fi.ImageDataset(gen),
        input2=fi.ImageDataset(ref),
        cuda=False,
        isc=True,
        fid=True,
        kid=True,
        prc=True,
        feature_extractor="digits-cnn",
        feature_extractor_weights_path=str(clf.path),
        isc_splits=fi.IS_SPLITS,
        kid_subset_size=100,
        save_cpu_ram=True,
        verbose=False,
    )
    assert recs["isc"]["mean"] == pytest.approx(raw["inception_score_mean"], rel=1e-9)
    assert recs["fid"]["value"] == pytest.approx(raw["frechet_inception_distance"], rel=1e-9)
    assert recs["kid"]["mean"] == pytest.approx(raw["kernel_inception_distance_mean"], rel=1e-9)
    assert recs["prc"]["precision"] == raw["precision"] and recs["prc"]["recall"] == raw["recall"]
    with torch.no_grad():
        expected = clf.model.features(gen.float() / 127.5 - 1).double().numpy()
    assert feats.layer == "penultimate" and feats.generated.shape == (300, expected.shape[1])
    np.testing.assert_allclose(feats.generated, expected, rtol=1e-5, atol=1e-5)
    assert feats.reference.shape == (400, expected.shape[1])
