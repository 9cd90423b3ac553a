"""suites/image_files.py and suites/celeba_files.py: the published on-disk formats (CIFAR-10
pickles, MNIST idx, CelebA JPEGs) read from fixtures the tests write in those formats."""

from __future__ import annotations

import gzip
import os
import pickle
import struct
from pathlib import Path

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
from PIL import Image

from collapsebench.benchmark.errors import BenchError
from collapsebench.benchmark.suites import celeba_files as celeba
from collapsebench.benchmark.suites import image_files as files


# -- data root -----------------------------------------------------------------------------------
def test_data_root_env_and_default(monkeypatch, tmp_path):
    monkeypatch.setenv("COLLAPSEBENCH_DATA", str(tmp_path / "d"))
    assert files.resolve_data_root() == tmp_path / "d"
    assert files.resolve_data_root(tmp_path / "x") == tmp_path / "x"
    monkeypatch.delenv("COLLAPSEBENCH_DATA")
    assert files.resolve_data_root() == Path.home() / ".cache" / "collapsebench" / "data"


def test_cifar_round_trip(tmp_path):
    written = _write_cifar(tmp_path)
    x, y = files.load_cifar10(tmp_path, "train")
    assert x.dtype == torch.uint8 and x.shape == (15, 3, 32, 32)
    assert y.dtype == torch.int64
    rows = np.concatenate([written[f"data_batch_{i}"][0] for i in range(1, 6)])
    labels = sum((written[f"data_batch_{i}"][1] for i in range(1, 6)), [])
    assert y.tolist() == labels
    # row layout: 1024 R, then 1024 G, then 1024 B, each plane row-major 32×32
    for n in (0, 7, 14):
        for ch, r, c in ((0, 0, 0), (1, 5, 7), (2, 31, 30), (0, 12, 31)):
            assert int(x[n, ch, r, c]) == int(rows[n, 1024 * ch + 32 * r + c])
    xt, yt = files.load_cifar10(tmp_path, "test")
    assert xt.shape == (3, 3, 32, 32)
    assert torch.equal(xt.reshape(3, -1), torch.from_numpy(written["test_batch"][0]))
    assert yt.tolist() == written["test_batch"][1]
    assert files.cifar10_class_names(tmp_path) == tuple(NAMES)
    # ROOT may also be the batches folder itself
    x2, _ = files.load_cifar10(tmp_path / "cifar-10-batches-py")
    assert torch.equal(x, x2)


def test_cifar_python2_numpy_module_name(tmp_path):
    # the official files were pickled by numpy 1.x, whose arrays name numpy.core.multiarray
    written = _write_cifar(tmp_path)
    p = tmp_path / "cifar-10-batches-py" / "test_batch"
    raw = p.read_bytes()
    assert b"numpy._core.multiarray" in raw
    p.write_bytes(raw.replace(b"numpy._core.multiarray", b"numpy.core.multiarray"))
    x, _ = files.load_cifar10(tmp_path, "test")
    assert torch.equal(x.reshape(3, -1), torch.from_numpy(written["test_batch"][0]))


def test_cifar_partial_download_names_missing_batch(tmp_path):
    _write_cifar(tmp_path, n_train_batches=2)
    with pytest.raises(BenchError) as e:
        files.load_cifar10(tmp_path)
    msg = _one_line(e)
    assert "data_batch_3" in msg and "bench data download cifar10" in msg
    assert "cifar-10-python.tar.gz" in msg
    x, _ = files.load_cifar10(tmp_path, "test")  # the test split is complete
    assert len(x) == 3


def test_cifar_missing_folder(tmp_path):
    with pytest.raises(BenchError) as e:
        files.load_cifar10(tmp_path)
    assert str(tmp_path / "cifar-10-batches-py" / "data_batch_1") in _one_line(e)


def test_cifar_truncated_pickle(tmp_path):
    _write_cifar(tmp_path)
    p = tmp_path / "cifar-10-batches-py" / "data_batch_2"
    raw = p.read_bytes()
    p.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(BenchError) as e:
        files.load_cifar10(tmp_path)
    msg = _one_line(e)
    assert str(p) in msg and "truncated" in msg


def test_cifar_pickle_cannot_run_code(tmp_path):
    _write_cifar(tmp_path)
    target = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (os.mkdir, (str(target),))

    with open(tmp_path / "cifar-10-batches-py" / "test_batch", "wb") as f:
        pickle.dump({b"data": Evil(), b"labels": []}, f, protocol=2)
    with pytest.raises(BenchError) as e:
        files.load_cifar10(tmp_path, "test")
    assert "test_batch" in _one_line(e)
    assert not target.exists()


def test_cifar_wrong_image_size(tmp_path):
    _write_cifar(tmp_path)
    p = tmp_path / "cifar-10-batches-py" / "test_batch"
    _write_batch(p, np.zeros((2, 3 * 16 * 16), np.uint8), [0, 1])
    with pytest.raises(BenchError) as e:
        files.load_cifar10(tmp_path, "test")
    msg = _one_line(e)
    assert str(p) in msg and "3072" in msg


def test_unknown_split(tmp_path):
    with pytest.raises(BenchError, match="valid splits: train, test"):
        files.load_cifar10(tmp_path, "val")


def test_mnist_round_trip_raw(tmp_path):
    imgs, labs = _mnist_arrays()
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    (raw / "train-images-idx3-ubyte").write_bytes(_idx_images(imgs))
    (raw / "train-labels-idx1-ubyte").write_bytes(_idx_labels(labs))
    x, y = files.load_mnist(tmp_path)
    assert x.dtype == torch.uint8 and x.shape == (5, 1, 28, 28)
    assert np.array_equal(x[:, 0].numpy(), imgs)
    assert y.tolist() == [3, 1, 4, 1, 5] and y.dtype == torch.int64
    x32, _ = files.load_mnist(tmp_path, image_size=32)
    assert x32.shape == (5, 1, 32, 32) and x32.dtype == torch.uint8


def test_mnist_round_trip_gzip_in_folder(tmp_path):
    imgs, labs = _mnist_arrays()
    (tmp_path / "t10k-images-idx3-ubyte.gz").write_bytes(gzip.compress(_idx_images(imgs)))
    (tmp_path / "t10k-labels-idx1-ubyte.gz").write_bytes(gzip.compress(_idx_labels(labs)))
    x, y = files.load_mnist(tmp_path, "test")
    assert np.array_equal(x[:, 0].numpy(), imgs)
    assert y.tolist() == [3, 1, 4, 1, 5]


def test_mnist_truncated_idx(tmp_path):
    imgs, labs = _mnist_arrays()
    p = tmp_path / "train-images-idx3-ubyte"
    p.write_bytes(_idx_images(imgs)[:-10])
    (tmp_path / "train-labels-idx1-ubyte").write_bytes(_idx_labels(labs))
    with pytest.raises(BenchError) as e:
        files.load_mnist(tmp_path)
    msg = _one_line(e)
    # 5×28×28 = 3920 data bytes declared, 3910 present
    assert str(p) in msg and "truncated" in msg and "3920" in msg and "3910" in msg


def test_mnist_truncated_header_and_gzip(tmp_path):
    p = tmp_path / "x-idx3-ubyte"
    p.write_bytes(struct.pack(">II", 2051, 5))  # header of a 3-d file cut after 8 bytes
    with pytest.raises(BenchError, match="truncated"):
        files.read_idx(p)
    gz = tmp_path / "y-idx3-ubyte.gz"
    blob = gzip.compress(_idx_images(_mnist_arrays()[0]))
    gz.write_bytes(blob[: len(blob) // 2])
    with pytest.raises(BenchError) as e:
        files.read_idx(gz)
    assert str(gz) in _one_line(e)


def test_mnist_wrong_magic_and_size(tmp_path):
    imgs, labs = _mnist_arrays()
    (tmp_path / "train-images-idx3-ubyte").write_bytes(_idx_labels(labs))  # labels in place
    (tmp_path / "train-labels-idx1-ubyte").write_bytes(_idx_labels(labs))
    with pytest.raises(BenchError, match="magic 2049; expected 2051"):
        files.load_mnist(tmp_path)
    small = np.zeros((5, 14, 14), np.uint8)
    (tmp_path / "train-images-idx3-ubyte").write_bytes(_idx_images(small))
    with pytest.raises(BenchError, match="28×28"):
        files.load_mnist(tmp_path)


def test_mnist_missing(tmp_path):
    with pytest.raises(BenchError) as e:
        files.load_mnist(tmp_path)
    msg = _one_line(e)
    assert str(tmp_path / "MNIST" / "raw" / "train-images-idx3-ubyte") in msg
    assert "bench data download mnist" in msg


def test_celeba_resize_then_center_crop_geometry(tmp_path):
    # 128×160 -> shorter side 64: 64×80 (exact halving); top = (80 - 64) // 2 = 8, left = 0.
    # White rows 16..47 -> resized 8..23 -> cropped 0..15; cols 0..31 -> 0..15. PIL's bilinear
    # 2× shrink averages 4 input pixels with weights 1/8, 3/8, 3/8, 1/8, so the block edges blend
    # one pixel: crop rows 1..14, cols 0..14 stay exactly 255, rows/cols >= 17 exactly 0, and the
    # grey blocks (resized rows <= 7 and >= 75) are cut away entirely.
    folder = tmp_path / "celeba" / "img_align_celeba"
    folder.mkdir(parents=True)
    Image.fromarray(_marker_image()).save(folder / "000001.png")
    Image.fromarray(_marker_image()).save(folder / "000002.jpg", quality=95)
    x = celeba.load_celeba(tmp_path, cache=False)
    assert x.dtype == torch.uint8 and x.shape == (2, 3, 64, 64)
    png = x[0]
    assert (png[:, 1:15, 0:15] == 255).all()
    assert (png[:, 17:, :] == 0).all() and (png[:, :, 17:] == 0).all()
    assert 0 < int(png[0, 0, 5]) < 255  # row 0 = resized row 8 blends original rows 15..18
    jpg = x[1].to(torch.int32)  # lossy: same geometry within a tolerance
    assert (jpg[:, 3:12, 3:12] > 230).all() and (jpg[:, 22:, 22:] < 25).all()


def test_celeba_dcgan_tensorflow_center_crop(tmp_path):
    # center_crop=c: window left = (128 - 64) // 2 = 32, top = (160 - 64) // 2 = 48, then resize;
    # with c == image_size there is no resize, so the output is exactly that window.
    folder = tmp_path / "img_align_celeba"
    folder.mkdir()
    a = np.random.default_rng(2).integers(0, 256, size=(160, 128, 3), dtype=np.uint8)
    Image.fromarray(a).save(folder / "a.png")
    x = celeba.load_celeba(tmp_path, image_size=64, center_crop=64, cache=False)
    assert np.array_equal(x[0].permute(1, 2, 0).numpy(), a[48:112, 32:96])


def test_celeba_matches_torchvision_resize_centercrop_on_aligned_size(tmp_path):
    from torchvision import transforms

    a = np.random.default_rng(3).integers(0, 256, size=(218, 178, 3), dtype=np.uint8)
    img = Image.fromarray(a)
    ours = celeba.celeba_transform(img, 64)
    theirs = np.asarray(transforms.Compose([transforms.Resize(64), transforms.CenterCrop(64)])(img))
    assert ours.shape == (64, 64, 3)
    assert np.array_equal(ours, theirs)


def test_celeba_max_images_order_and_cache(tmp_path, monkeypatch):
    folder = tmp_path / "img_align_celeba"
    folder.mkdir()
    for i, name in enumerate(["c.png", "a.png", "b.png"]):
        Image.fromarray(np.full((80, 64, 3), 10 * (i + 1), np.uint8)).save(folder / name)
    x = celeba.load_celeba(tmp_path, max_images=2)
    assert x.shape == (2, 3, 64, 64)
    assert int(x[0, 0, 0, 0]) == 20 and int(x[1, 0, 0, 0]) == 30  # a.png, b.png by name
    cached = list((tmp_path / "cache").iterdir())
    assert len(cached) == 1 and cached[0].suffix == ".npy"  # no temporary files left behind

    def boom(*a, **k):
        raise AssertionError("decoded again instead of reading the cache")

    monkeypatch.setattr(celeba, "celeba_transform", boom)
    assert torch.equal(celeba.load_celeba(tmp_path, max_images=2), x)


def test_celeba_errors(tmp_path):
    with pytest.raises(BenchError) as e:
        celeba.load_celeba(tmp_path)
    msg = _one_line(e)
    assert str(tmp_path / "celeba" / "img_align_celeba") in msg
    assert "bench data download celeba" in msg
    folder = tmp_path / "celeba" / "img_align_celeba"
    folder.mkdir(parents=True)
    Image.fromarray(np.zeros((218, 178, 3), np.uint8)).save(folder / "1.png")
    Image.fromarray(np.zeros((100, 90, 3), np.uint8)).save(folder / "2.png")
    with pytest.raises(BenchError) as e:
        celeba.load_celeba(tmp_path, cache=False)
    assert "2.png" in _one_line(e) and "90x100" in str(e.value)
    (folder / "2.png").unlink()
    (folder / "3.jpg").write_bytes(b"\xff\xd8\xff not really a jpeg")
    with pytest.raises(BenchError) as e:
        celeba.load_celeba(tmp_path, cache=False)
    assert "3.jpg" in _one_line(e)
    (folder / "3.jpg").unlink()
    (folder / "1.png").unlink()
    Image.fromarray(np.zeros((50, 40, 3), np.uint8)).save(folder / "tiny.png")
    with pytest.raises(BenchError, match="shorter side must be at least 64"):
        celeba.load_celeba(tmp_path, cache=False)


def test_resize_images_bilinear_hand_case():
    # 2 -> 4 with half-pixel centres: source x = (i + 0.5) / 2 - 0.5 = -0.25, 0.25, 0.75, 1.25,
    # clamped to [0, 1]: weights on [0, 200] give 0, 50, 150, 200.
    img = torch.tensor([[[[0, 200], [0, 200]]]], dtype=torch.uint8)
    out = files.resize_images(img, 4)
    assert out.dtype == torch.uint8
    assert out[0, 0].tolist() == [[0, 50, 150, 200]] * 4
