"""`bench compare` on every suite, smoke preset: it trains what is missing, then prints its
statistics table for the suite's own metrics (the CIFAR-10, CelebA and MNIST suites on fixture
files in their published formats, with a random-valued Inception weights file)."""

import numpy as np
import pytest
from image_fixture_files import _idx_images, _idx_labels, _write_cifar
from PIL import Image
from test_fidelity import _write_random_inception_weights

from collapsebench.benchmark.cli.main import main
from collapsebench.benchmark.suites import SUITES, get_suite
from collapsebench.metrics import fidelity as fi


def _celeba(root):
    folder = root / "celeba" / "img_align_celeba"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(24):
        img = rng.integers(0, 256, (218, 178, 3), dtype=np.uint8)
        Image.fromarray(img).save(folder / f"{i:06d}.jpg")


def _mnist(root):
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for split, n in (("train", 60), ("t10k", 20)):
        images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        (raw / f"{split}-images-idx3-ubyte").write_bytes(_idx_images(images))
        labels = (np.arange(n) % 10).astype(np.uint8)
        (raw / f"{split}-labels-idx1-ubyte").write_bytes(_idx_labels(labels))


def _cifar(root):
    _write_cifar(root, n_train_batches=5, per_batch=40)  # enough images per class for PR


DATA = {"cifar10": _cifar, "cifar10-perclass": _cifar, "celeba64": _celeba, "stacked-mnist": _mnist}
CLASSES = {"cifar10-perclass": ["cat"], "digits-perclass": ["3"]}


def test_every_suite_is_covered():
    assert set(SUITES) == {"gaussians25", "ring8", "digits", "digits-perclass", "stacked-digits",
                           *DATA}  # fmt: skip


@pytest.mark.slow
@pytest.mark.parametrize("suite", sorted(SUITES))
def test_compare_runs_on_every_suite(suite, tmp_path, monkeypatch, capsys):
    argv = ["compare", "--suite", suite, "--preset", "smoke", "--method", "wgan"]
    argv += ["--against", "gan", "--seeds", "0", "--no-progress"]  # one seed each: cheap
    argv += ["--out", str(tmp_path / "runs"), "--results", str(tmp_path / "results")]
    if get_suite(suite).kind == "image":
        argv += ["--width", "8"]
        weights = tmp_path / "weights" / fi.INCEPTION_WEIGHTS_FILE
        weights.parent.mkdir()
        _write_random_inception_weights(weights, monkeypatch)
        monkeypatch.setenv(fi.WEIGHTS_ENV, str(weights))
        monkeypatch.setenv("COLLAPSEBENCH_CACHE", str(tmp_path / "cache"))
    if suite in DATA:
        DATA[suite](tmp_path / "data")
        argv += ["--data-root", str(tmp_path / "data")]
    if suite in CLASSES:
        argv += ["--classes", *CLASSES[suite]]
    rc = main(argv)
    out = capsys.readouterr()
    assert rc == 0, out.err
    first_metric = get_suite(suite).metric_names[0]
    assert "new method: wgan" in out.out
    assert f"| gan | {first_metric} " in out.out  # the statistics row of the suite's metric
    assert "no test possible" in out.out  # one seed: the honest answer
