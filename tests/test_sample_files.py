"""`bench evaluate` on image samples: file formats, per-class rows, one-line errors."""

import json

import numpy as np
import pytest
from PIL import Image

from collapsebench.benchmark.cli.main import main
from collapsebench.metrics.digits_classifier import load_digits_images


@pytest.fixture(scope="module")
def digits():
    images, labels = load_digits_images()
    return images.numpy(), np.asarray(labels)


@pytest.fixture(autouse=True)
def _cache(tmp_path_factory, monkeypatch):
    # one classifier cache for the module's tests; never the user's home
    monkeypatch.setenv("COLLAPSEBENCH_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))


def run_json(capsys, path):
    argv = ["evaluate", "--suite", "digits-perclass", "--samples", str(path), "--json"]
    assert main([*argv, "--pairs", "1500"]) == 0
    return json.loads(capsys.readouterr().out)


def test_real_digits_per_class_rows(tmp_path, capsys, digits):
    images, labels = digits
    keep = np.isin(labels, [0, 1])
    path = tmp_path / "s.npz"
    np.savez(path, images=images[keep], labels=labels[keep])
    rows = run_json(capsys, path)
    assert [r["class"] for r in rows] == ["0", "1"]
    for r in rows:
        # real images of one class against the same images: FID ~ 0, IS ~ 1 (one class),
        # and the generated MS-SSIM estimates the same quantity as the real row
        assert abs(r["fid"]) < 1e-3
        assert r["inception_score"] < 1.2
        assert r["ms_ssim"] == pytest.approx(r["ms_ssim_real"], abs=4 * r["ms_ssim_se"] + 0.01)
        assert r["extractor"] == "digits-cnn" and r["msssim_protocol"] == "clamped"
        assert r["n_generated"] == r["n_reference"] == int((labels == int(r["class"])).sum())
        # diversity metrics on the same classifier features: identical sets are covered, alike
        # in density, and differ in no NDB bin
        assert r["diversity_features"] == "digits-cnn:penultimate"
        assert r["coverage"] == 1.0 and r["ndb"] == 0.0 and r["ndb_js"] == 0.0
        assert r["density"] == pytest.approx(1.0, abs=0.1)
        assert 1.0 < r["vendi"] < r["n_generated"]


def test_nhwc_float_and_png_folder_agree(tmp_path, capsys, digits):
    images, labels = digits
    sub = images[labels == 3][:40]
    nhwc = sub.transpose(0, 2, 3, 1).astype(np.float32) / 127.5 - 1.0  # [-1, 1] floats
    np.save(tmp_path / "f.npy", nhwc)
    folder = tmp_path / "pngs"
    folder.mkdir()
    for i, im in enumerate(sub):
        Image.fromarray(im[0]).save(folder / f"{i:03d}.png")
    a = run_json(capsys, tmp_path / "f.npy")[0]
    b = run_json(capsys, folder)[0]
    assert a["class"] == b["class"] == "all"
    assert a["fid"] == pytest.approx(b["fid"], rel=1e-6)


@pytest.mark.parametrize(
    ("array", "needle"),
    [
        (np.zeros((4, 32, 32, 2), np.uint8), "channel"),
        (np.full((4, 1, 32, 32), 2.0, np.float32), "[-1, 1]"),
        (np.zeros((4, 1, 32, 32), np.int16), "dtype"),
        (np.zeros((4, 1, 16, 16), np.uint8), "digits-perclass images are 1×32×32; got (1, 16, 16)"),
    ],
)
def test_bad_images(tmp_path, capsys, array, needle):
    np.save(tmp_path / "x.npy", array)
    rc = main(["evaluate", "--suite", "digits-perclass", "--samples", str(tmp_path / "x.npy")])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1 and needle in err


def test_bad_labels_and_png(tmp_path, capsys, digits):
    images, _ = digits
    np.savez(tmp_path / "l.npz", images=images[:20], labels=np.arange(20))
    rc = main(["evaluate", "--suite", "digits-perclass", "--samples", str(tmp_path / "l.npz")])
    assert rc == 2 and "not classes" in capsys.readouterr().err
    folder = tmp_path / "broken"
    folder.mkdir()
    (folder / "a.png").write_bytes(b"\x89PNG garbage")
    rc = main(["evaluate", "--suite", "digits-perclass", "--samples", str(folder)])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and "a.png" in err and len(err.splitlines()) == 1


def test_a_valid_npy_larger_than_the_memory_is_refused_before_loading(tmp_path, monkeypatch):
    """A whole, valid .npy whose data exceed the memory available: one line before numpy
    allocates (the available memory is made small here; the file is 16 KB)."""
    import numpy as np
    import pytest

    from collapsebench.benchmark.errors import BenchError
    from collapsebench.benchmark.suites import sample_files

    path = tmp_path / "big.npy"
    np.save(path, np.zeros((1000, 2)))
    assert sample_files.read_array_file(path, "x", npz=False).shape == (1000, 2)
    monkeypatch.setattr(sample_files, "_available_memory", lambda: 4096)
    # 1,000 x 2 float64 = 16,000 bytes = 15.6 KiB
    want = r"15\.6 KiB of samples do not fit in the 4\.0 KiB of memory available"
    with pytest.raises(BenchError, match=want):
        sample_files.read_array_file(path, "x", npz=False)
