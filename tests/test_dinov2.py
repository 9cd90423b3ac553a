"""DINOv2 features offline: a weights file the test writes (random values, the real keys and
shapes), timm's own loader as the second implementation, and the one-line errors."""

import json

import numpy as np
import pytest
import torch

timm = pytest.importorskip("timm")

from collapsebench.benchmark.cli.main import main  # noqa: E402
from collapsebench.metrics import dinov2  # noqa: E402


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    """ViT-S/14 at DINOv2's native 518 px, saved as timm writes it (random weights)."""
    torch.manual_seed(0)
    model = timm.create_model("vit_small_patch14_dinov2", pretrained=False, num_classes=0)
    path = tmp_path_factory.mktemp("dinov2") / "vits14.pth"
    torch.save(model.state_dict(), path)
    return path


def test_weights_load_as_timms_own_loader_loads_them(weights):
    ours, arch = dinov2.load(weights)
    assert arch == "vit_small_patch14_dinov2"
    ref = timm.create_model(
        arch,
        pretrained=True,
        num_classes=0,
        img_size=dinov2.IMAGE_SIZE,
        pretrained_cfg_overlay={"file": str(weights)},
    )
    a, b = ours.state_dict(), ref.state_dict()
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)
    # the 518 px position embedding (37² patches + class) was resampled to 224 px: 16² + 1
    assert a["pos_embed"].shape[1] == (224 // 14) ** 2 + 1


def test_features_have_the_documented_width(weights):
    images = torch.randint(0, 256, (5, 1, 32, 32), dtype=torch.uint8)
    feats = dinov2.features(images, weights)
    assert feats.shape == (5, 384) and np.isfinite(feats).all()


def test_preprocessing_of_a_constant_image_is_the_imagenet_normalised_value():
    # a constant image stays constant under any resize: each channel is (v / 255 - mean) / std
    x = dinov2.preprocess(torch.full((1, 3, 32, 32), 200, dtype=torch.uint8))
    assert x.shape == (1, 3, 224, 224)
    for c in range(3):
        want = (200 / 255 - dinov2.IMAGENET_MEAN[c]) / dinov2.IMAGENET_STD[c]
        assert torch.allclose(x[0, c], torch.tensor(want), atol=1e-5)


def test_architecture_is_read_off_the_shapes():
    def state(width, **extra):
        return {"cls_token": torch.zeros(1, 1, width), **extra}

    assert dinov2.architecture(state(768)) == "vit_base_patch14_dinov2"
    assert dinov2.architecture(state(1024)) == "vit_large_patch14_dinov2"
    reg = state(384, reg_token=torch.zeros(1, 4, 384))
    assert dinov2.architecture(reg) == "vit_small_patch14_reg4_dinov2"
    with pytest.raises(dinov2.MissingWeightsError, match="not a DINOv2 ViT"):
        dinov2.architecture(state(100))


def test_identical_sets_have_zero_distance_and_full_coverage(weights):
    images = torch.randint(0, 256, (24, 1, 32, 32), dtype=torch.uint8)
    out = dinov2.dinov2_metrics(images, images.clone(), weights, kid_subset_size=12)
    assert out["fd_dinov2"] == pytest.approx(0.0, abs=1e-6)
    assert out["coverage_dinov2"] == 1.0
    assert out["dinov2_arch"] == "vit_small_patch14_dinov2"


def _samples(tmp_path):
    path = tmp_path / "s.npy"
    np.save(path, np.zeros((4, 1, 32, 32), np.uint8))
    return str(path)


def test_missing_weights_file_is_one_line_naming_the_file_and_where(tmp_path, capsys):
    argv = ["evaluate", "--suite", "digits-perclass", "--samples", _samples(tmp_path)]
    assert main([*argv, "--dinov2-weights", str(tmp_path / "none.pth")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "none.pth does not exist" in err[0]
    assert dinov2.WEIGHTS_FILE in err[0] and dinov2.WEIGHTS_ENV in err[0]


def test_a_file_that_is_not_weights_is_one_line(tmp_path, monkeypatch, capsys):
    bad = tmp_path / "junk.pth"
    bad.write_bytes(b"not a checkpoint")
    images = torch.zeros((2, 1, 32, 32), dtype=torch.uint8)
    with pytest.raises(dinov2.MissingWeightsError, match="cannot read DINOv2 weights"):
        dinov2.dinov2_metrics(images, images, bad)


def test_toy_suites_refuse_the_flag(tmp_path, capsys):
    path = tmp_path / "t.npy"
    np.save(path, np.zeros((10, 2), np.float32))
    argv = ["evaluate", "--suite", "gaussians25", "--samples", str(path)]
    assert main([*argv, "--dinov2-weights", "x.pth"]) == 2
    assert "image suites only" in capsys.readouterr().err


def test_evaluate_adds_dinov2_columns(tmp_path, weights, monkeypatch, capsys, tmp_path_factory):
    monkeypatch.setenv("COLLAPSEBENCH_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))
    monkeypatch.delenv(dinov2.WEIGHTS_ENV, raising=False)
    from collapsebench.metrics.digits_classifier import load_digits_images

    images, labels = load_digits_images()
    keep = np.asarray(labels) == 4
    path = tmp_path / "s.npz"
    np.savez(path, images=images.numpy()[keep][:60], labels=np.asarray(labels)[keep][:60])
    argv = ["evaluate", "--suite", "digits-perclass", "--samples", str(path), "--json"]
    assert main([*argv, "--pairs", "200", "--dinov2-weights", str(weights)]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    for m in dinov2.METRIC_NAMES:
        assert np.isfinite(row[m]), m
    assert row["dinov2_arch"] == "vit_small_patch14_dinov2"
    assert row["fid"] != row["fd_dinov2"]  # separate feature spaces, separate columns


def test_the_flag_leaves_no_environment_behind(tmp_path, weights, monkeypatch, capsys):
    """--dinov2-weights reaches this command's evaluations through the environment and is
    removed afterwards: later commands in the same process must not compute DINOv2 metrics."""
    import os

    monkeypatch.delenv(dinov2.WEIGHTS_ENV, raising=False)
    path = tmp_path / "t.npy"
    np.save(path, np.zeros((4, 1, 16, 16), np.uint8))  # wrong size: fails after the flag is used
    argv = ["evaluate", "--suite", "digits-perclass", "--samples", str(path)]
    assert main([*argv, "--dinov2-weights", str(weights)]) == 2
    assert dinov2.WEIGHTS_ENV not in os.environ
