"""Image suites end to end on the smoke preset: digits (real, offline), CIFAR-10 and CelebA from
fixtures in their on-disk formats (with a random-valued Inception weights file), stacked digits;
per-class splitting, run keys, tables with published columns, the independent-critic curve."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pandas as pd
import pytest
import torch
from image_fixture_files import _write_cifar
from PIL import Image
from sklearn.datasets import load_digits as sk_load_digits
from test_fidelity import _write_random_inception_weights

from collapsebench.benchmark.cli.main import main
from collapsebench.benchmark.errors import BenchError
from collapsebench.benchmark.runs.planning import plan
from collapsebench.benchmark.suites import get_suite
from collapsebench.benchmark.suites.image_batches import ImageBatches, StackedBatches
from collapsebench.metrics import fidelity as fi


def _argv(command: str, suite: str, out, results, *extra: str, preset: str = "smoke") -> list:
    """A store command's argv: suite, preset, run store, results folder, no progress bars."""
    return [
        command,
        "--suite",
        suite,
        "--preset",
        preset,
        "--out",
        str(out),
        "--results",
        str(results),
        "--no-progress",
        *extra,
    ]


def _run(args: list[str], capsys) -> tuple[int, str, str]:
    rc = main(args)
    out = capsys.readouterr()
    return rc, out.out, out.err


# -- data and keys -------------------------------------------------------------------------------
def test_per_class_training_set_holds_exactly_that_class():
    suite = get_suite("digits-perclass")
    sk = sk_load_digits()
    for cls in ("0", "7"):
        data = suite.training_set(cls)
        n = int((sk.target == int(cls)).sum())
        assert len(data) == n
        # the same images as the class's real images, in [-1, 1]
        real = suite.real_images(cls).float() / 127.5 - 1
        batch = data[torch.arange(n)]
        assert torch.equal(batch, real)
        assert batch.min() >= -1 and batch.max() <= 1
    # sklearn's own 8x8 images of the class, block-averaged, agree with ours (independent check
    # that no other class leaked in): the classes' mean images differ, ours match sklearn's
    ours = suite.real_images("7").float().mean(0)[0]
    theirs = torch.from_numpy(sk.images[sk.target == 7].mean(0) * 255 / 16)
    small = torch.nn.functional.adaptive_avg_pool2d(ours[None, None], 8)[0, 0]
    assert torch.corrcoef(torch.stack([small.flatten(), theirs.flatten().float()]))[0, 1] > 0.95


def test_stacked_batches_compose_channels():
    imgs = torch.arange(4 * 2 * 2, dtype=torch.uint8).reshape(4, 1, 2, 2) * 10
    triples = torch.tensor([[0, 1, 2], [3, 3, 0]])
    b = StackedBatches(imgs, triples)[torch.tensor([1])]
    assert b.shape == (1, 3, 2, 2)
    expect = torch.stack([imgs[3, 0], imgs[3, 0], imgs[0, 0]]).float() / 127.5 - 1
    assert torch.equal(b[0], expect)
    assert torch.equal(ImageBatches(imgs)[torch.tensor([2])], imgs[2:3].float() / 127.5 - 1)
    # the suite's real stacks (what evaluation and the critic read) are its training stacks
    suite = get_suite("stacked-digits")
    idx = torch.tensor([0, 7, suite.n_train - 1])
    train, real = suite.training_set()[idx], suite.real_images()[idx]
    assert torch.equal(train, real.float() / 127.5 - 1) and real.shape == (3, 3, 32, 32)


def test_toy_run_keys_are_unchanged_by_per_class_support():
    # dc8cf6014e is the key of the gaussians25 default GAN runs made before classes existed
    # (they are the gan-toy protocol's runs: protocols leave gan-toy keys as they were)
    (spec,) = plan("gaussians25", ["gan"], [0], "default", suite_options={"protocol": "gan-toy"})
    assert "cls" not in spec.config()
    assert spec.config_hash() == "dc8cf6014e"


def test_per_class_plan_and_keys():
    specs = plan("digits-perclass", ["gan", "wgan-gp"], [0, 1], "smoke", classes=["3", "5"])
    assert {(s.method, s.cls, s.seed) for s in specs} == {
        (m, c, k) for m in ("gan", "wgan-gp") for c in ("3", "5") for k in (0, 1)
    }
    # one configuration hash per method across classes and seeds; the class is in the label
    assert len({s.config_hash() for s in specs if s.method == "gan"}) == 1
    assert specs[0].label == "digits-perclass/gan/3/seed0"
    with pytest.raises(BenchError, match="unknown class"):
        plan("digits-perclass", ["gan"], [0], "smoke", classes=["seven"])
    with pytest.raises(BenchError, match="per-class suites only"):
        plan("stacked-digits", ["gan"], [0], "smoke", classes=["3"])
    with pytest.raises(BenchError, match="unknown --arch"):
        plan("digits-perclass", ["gan"], [0], "smoke", suite_options={"arch": "vgg"})


def test_gradient_penalty_methods_get_a_batchnorm_free_discriminator():
    suite = get_suite("digits-perclass")
    _, d_gan = suite.build_nets(0, d_batchnorm=True)
    _, d_gp = suite.build_nets(0, d_batchnorm=False)
    bn = torch.nn.BatchNorm2d
    assert any(isinstance(m, bn) for m in d_gan.modules())
    assert not any(isinstance(m, bn) for m in d_gp.modules())


# -- digits-perclass end to end ------------------------------------------------------------------
@pytest.fixture(scope="module")
def digits_store(tmp_path_factory):
    root = tmp_path_factory.mktemp("digits")
    out, results = root / "runs", root / "results"
    rc = main(
        _argv(
            "run",
            "digits-perclass",
            out,
            results,
            "--methods",
            "gan",
            "wgan-gp",
            "--seeds",
            "0",
            "1",
            "--classes",
            "2",
            "8",
        )
    )
    assert rc == 0
    return out, results


def test_digits_perclass_runs_store_and_tables(digits_store):
    out, results = digits_store
    dirs = sorted(p.name for p in (out / "digits-perclass" / "gan").iterdir())
    assert [d.split("-")[:2] for d in dirs] == [
        ["seed0", "2"],
        ["seed0", "8"],
        ["seed1", "2"],
        ["seed1", "8"],
    ]
    (run,) = (out / "digits-perclass" / "wgan-gp").glob("seed0-2-*")
    metrics = json.loads((run / "metrics.json").read_text())
    for k in ("ms_ssim", "ms_ssim_real", "inception_score", "fid", "kid", "precision", "recall"):
        assert np.isfinite(metrics[k]), k
    assert metrics["extractor"] == "digits-cnn" and metrics["msssim_protocol"] == "clamped"
    assert metrics["n_generated"] == 40
    samples = np.load(run / "samples.npy")
    assert samples.dtype == np.uint8 and samples.shape == (40, 1, 32, 32)
    assert sorted(p.name for p in (run / "generators").iterdir()) == ["step3.pt", "step6.pt"]
    assert json.loads((run / "config.json").read_text())["cls"] == "2"

    table = (results / "digits-perclass" / "smoke" / "table_ms_ssim.md").read_text()
    assert "| 2 " in table and "| 8 " in table and "mean over classes" in table
    assert "real data (ground truth)" in table
    assert "published" not in table.split("\n\n")[0]  # digits have no published numbers
    per_seed = pd.read_csv(results / "digits-perclass" / "smoke" / "per_seed.csv")
    assert len(per_seed) == 8 and set(per_seed["class"]) == {2, 8}
    # the table's cell is the mean ± std over the two seeds of that class
    sel = per_seed[(per_seed["method"] == "gan") & (per_seed["class"] == 2)]["ms_ssim"]
    csv = pd.read_csv(results / "digits-perclass" / "smoke" / "table_ms_ssim.csv", index_col=0)
    # ? = convergence not measured: the smoke preset records no evaluation curve
    assert csv.loc["2", "gan"] == f"{sel.mean():.4f} ± {sel.std(ddof=1):.4f}?"
    # the same cells with methods as rows, classes as columns, the ground truth a row
    flipped = pd.read_csv(
        results / "digits-perclass" / "smoke" / "table_ms_ssim_by_method.csv", index_col=0
    )
    assert list(flipped.columns) == ["2", "8", "mean over classes"]
    assert "gan" in flipped.index and "real data (ground truth)" in flipped.index
    assert flipped.loc["gan", "2"] == csv.loc["2", "gan"]
    real_8 = float(flipped.loc["real data (ground truth)", "8"])
    assert real_8 == csv.loc["8", "real data (ground truth)"]
    assert (results / "digits-perclass" / "smoke" / "samples.png").stat().st_size > 0
    assert not (results / "digits-perclass" / "smoke" / "convergence.png").exists()  # no curves


@pytest.mark.parametrize(
    "stored",
    [np.zeros((40, 32, 32), np.uint8), np.zeros((40, 1, 32, 32), np.float32),
     np.zeros((40, 3, 32, 32), np.uint8)],
    ids=["no channel dim", "floats", "three channels"],
)  # fmt: skip
def test_samples_figure_refuses_samples_that_are_not_the_suites_images(
    digits_store, tmp_path, capsys, stored
):
    """samples.npy read for the figure is a boundary: an array that is not uint8 N×1×32×32
    (readable, so np.load accepts it) is one line naming the run, not a matplotlib traceback."""
    import shutil

    out, _ = digits_store
    copy = tmp_path / "runs"
    shutil.copytree(out, copy)
    (run,) = (copy / "digits-perclass" / "gan").glob("seed0-2-*")
    np.save(run / "samples.npy", stored)
    argv = ["table", "--suite", "digits-perclass", "--preset", "smoke", "--out", str(copy)]
    rc = main([*argv, "--results", str(tmp_path / "results")])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and "Traceback" not in err and len(err.splitlines()) == 1, err
    assert f"corrupted run directory {run}: samples.npy holds" in err
    assert "not uint8 N×1×32×32 images" in err


def test_real_data_msssim_is_lower_than_a_collapsed_set():
    """The ground-truth column reads as the issue says: real images of one class are more
    diverse than copies of one image with a little noise."""
    suite = get_suite("digits-perclass")
    real = suite.real_images("4")
    gen = torch.Generator().manual_seed(0)
    collapsed = (real[:1].float() + 8 * torch.randn((60, *real.shape[1:]), generator=gen)).clamp(
        0, 255
    )
    m_real = suite.evaluate(real[:60].numpy(), "4")["ms_ssim"]
    m_coll = suite.evaluate(collapsed.to(torch.uint8).numpy(), "4")["ms_ssim"]
    assert m_coll > m_real + 0.2


def test_independent_critic_curve_over_snapshots(digits_store, capsys):
    out, results = digits_store
    rc, text, err = _run(
        _argv(
            "critic",
            "digits-perclass",
            out,
            results,
            "--critic-steps",
            "5",
            "--methods",
            "gan",
            "wgan-gp",
        ),
        capsys,
    )
    assert rc == 0, err
    curve = pd.read_csv(results / "digits-perclass" / "smoke" / "critic.csv")
    # every method x class x seed x snapshot step scored once
    assert len(curve) == 2 * 2 * 2 * 2
    assert set(curve["step"]) == {3, 6} and curve["w"].notna().all()
    assert "gan" in text and (results / "digits-perclass" / "smoke" / "critic.png").exists()
    rc, _, err = _run(["critic", "--suite", "gaussians25", "--out", str(out)], capsys)
    assert rc == 2 and "stores none" in err


def test_compare_on_a_per_class_suite_uses_one_number_per_seed(digits_store, capsys):
    out, results = digits_store
    rc, text, err = _run(
        _argv(
            "compare",
            "digits-perclass",
            out,
            results,
            "--method",
            "wgan-gp",
            "--against",
            "gan",
            "--seeds",
            "0",
            "1",
            "--classes",
            "2",
            "8",
        ),
        capsys,
    )
    assert rc == 0, err
    assert "no test possible" in text  # two seeds, not four "replicates"
    # smoke runs record no convergence curve: every mean says so, and the caption explains it
    assert "? (n=2)" in text and "? = convergence not measured" in text


# -- CIFAR-10 and CelebA from fixtures -----------------------------------------------------------
@pytest.fixture
def inception_weights(tmp_path, monkeypatch):
    path = tmp_path / "weights" / fi.INCEPTION_WEIGHTS_FILE
    path.parent.mkdir()
    _write_random_inception_weights(path, monkeypatch)
    monkeypatch.setenv(fi.WEIGHTS_ENV, str(path))
    monkeypatch.setenv("COLLAPSEBENCH_CACHE", str(tmp_path / "cache"))
    return path


@pytest.mark.slow
def test_cifar10_perclass_smoke_on_fixture_with_published_columns(
    tmp_path, inception_weights, capsys
):
    _write_cifar(tmp_path / "data", n_train_batches=5, per_batch=40)
    args = _argv(
        "run",
        "cifar10-perclass",
        tmp_path / "runs",
        tmp_path / "results",
        "--methods",
        "gan",
        "greed-gan",
        "--seeds",
        "0",
        "--classes",
        "airplane",
        "cat",
        "--data-root",
        str(tmp_path / "data"),
        "--width",
        "8",
    )
    rc, text, err = _run(args, capsys)
    assert rc == 0, err
    assert (
        "DCGAN (greed paper, published)" in text and "DCGAN-Ours (greed paper, published)" in text
    )
    csv = pd.read_csv(
        tmp_path / "results" / "cifar10-perclass" / "smoke" / "width-8" / "table_ms_ssim.csv",
        index_col=0,
    )
    assert csv.loc["airplane", "DCGAN (greed paper, published)"] == 0.1116
    assert csv.loc["cat", "DCGAN-Ours (greed paper, published)"] == 0.0589
    isc = pd.read_csv(
        tmp_path
        / "results"
        / "cifar10-perclass"
        / "smoke"
        / "width-8"
        / "table_inception_score.csv",
        index_col=0,
    )
    assert isc.loc["cat", "DCGAN (greed paper, published)"] == 4.21
    m = json.loads(
        next((tmp_path / "runs" / "cifar10-perclass" / "gan").glob("*/metrics.json")).read_text()
    )
    assert m["extractor"] == "inception-v3-compat" and m["n_generated"] == 20
    # the same Inception path through `bench evaluate`, one row per labelled class
    rng = np.random.default_rng(1)
    npz = tmp_path / "gen.npz"
    np.savez(
        npz,
        images=rng.integers(0, 256, (20, 32, 32, 3), dtype=np.uint8),
        labels=np.array([0] * 10 + [3] * 10),
    )
    rc, text, err = _run(
        [
            "evaluate",
            "--suite",
            "cifar10-perclass",
            "--samples",
            str(npz),
            "--data-root",
            str(tmp_path / "data"),
            "--pairs",
            "20",
            "--json",
        ],
        capsys,
    )
    assert rc == 0, err
    rows = json.loads(text)
    assert [r["class"] for r in rows] == ["airplane", "cat"]
    assert all(r["extractor"] == "inception-v3-compat" and r["n_generated"] == 10 for r in rows)


def test_cifar10_errors_are_one_line(tmp_path, inception_weights, capsys):
    base = ["run", "--suite", "cifar10-perclass", "--preset", "smoke", "--no-progress"]
    rc, _, err = _run([*base, "--data-root", str(tmp_path / "none")], capsys)
    assert rc == 2 and "cifar-10-batches-py" in err and len(err.strip().splitlines()) == 1
    _write_cifar(tmp_path / "data", n_train_batches=5, per_batch=4)
    rc, _, err = _run(
        [*base, "--data-root", str(tmp_path / "data"), "--classes", "airplan"], capsys
    )
    assert rc == 2 and "airplan" in err and "airplane" in err
    # a truncated pickle batch is named, not a traceback
    batch = tmp_path / "data" / "cifar-10-batches-py" / "data_batch_3"
    batch.write_bytes(batch.read_bytes()[:100])
    rc, _, err = _run([*base, "--data-root", str(tmp_path / "data")], capsys)
    assert rc == 2 and "data_batch_3" in err and len(err.strip().splitlines()) == 1


def test_inception_suite_without_weights_stops_before_training(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv(fi.WEIGHTS_ENV, raising=False)
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    _write_cifar(tmp_path / "data", n_train_batches=5, per_batch=4)
    rc, _, err = _run(
        [
            "run",
            "--suite",
            "cifar10-perclass",
            "--preset",
            "smoke",
            "--data-root",
            str(tmp_path / "data"),
            "--out",
            str(tmp_path / "runs"),
            "--no-progress",
        ],
        capsys,
    )
    assert rc == 2 and fi.INCEPTION_WEIGHTS_FILE in err
    assert not (tmp_path / "runs" / "cifar10-perclass").exists()


@pytest.mark.slow
def test_celeba64_smoke_table1_layout(tmp_path, inception_weights, capsys):
    folder = tmp_path / "data" / "celeba" / "img_align_celeba"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(24):
        Image.fromarray(rng.integers(0, 256, (218, 178, 3), dtype=np.uint8)).save(
            folder / f"{i:06d}.jpg"
        )
    rc, text, err = _run(
        _argv(
            "run",
            "celeba64",
            tmp_path / "runs",
            tmp_path / "results",
            "--methods",
            "gan",
            "--seeds",
            "0",
            "--data-root",
            str(tmp_path / "data"),
            "--width",
            "8",
        ),
        capsys,
    )
    assert rc == 0, err
    assert "ground truth (real data)" in text
    assert "ground truth (greed paper Table 1, published)" in text and "0.2940" in text
    samples = np.load(next((tmp_path / "runs" / "celeba64" / "gan").glob("*/samples.npy")))
    assert samples.shape == (20, 3, 64, 64) and samples.dtype == np.uint8
    # Fig. 4: the fixed critic over the stored generator snapshots (no classes here)
    rc, text, err = _run(
        _argv(
            "critic",
            "celeba64",
            tmp_path / "runs",
            tmp_path / "results",
            "--methods",
            "gan",
            "--data-root",
            str(tmp_path / "data"),
            "--width",
            "8",
            "--critic-steps",
            "2",
        ),
        capsys,
    )
    assert rc == 0, err
    curve = pd.read_csv(tmp_path / "results" / "celeba64" / "smoke" / "width-8" / "critic.csv")
    assert list(curve["step"]) == [2, 4] and "class" not in curve


# -- stacked digits ------------------------------------------------------------------------------
def test_stacked_digits_smoke_and_table(tmp_path, capsys):
    rc, text, err = _run(
        _argv(
            "run",
            "stacked-digits",
            tmp_path / "runs",
            tmp_path / "results",
            "--methods",
            "gan",
            "--seeds",
            "0",
        ),
        capsys,
    )
    assert rc == 0, err
    m = json.loads(
        next((tmp_path / "runs" / "stacked-digits" / "gan").glob("*/metrics.json")).read_text()
    )
    assert 1 <= m["modes_covered"] <= 100 and m["n_generated"] == 100
    assert m["kl_log10"] == pytest.approx(m["kl"] / np.log(10))
    assert "PacGAN (Stacked-MNIST, published)" in text and "nats" in text
    # the convergence curve: numbers only (a string column made every table refuse the run),
    # its last point the final evaluation
    run = next((tmp_path / "runs" / "stacked-digits" / "gan").glob("seed0-*"))
    evals = pd.read_csv(run / "evals.csv")
    assert list(evals.columns) == ["step", "modes_covered", "kl", "kl_log10"]
    assert evals["step"].tolist() == [2, 4, 6]
    assert evals.iloc[-1]["modes_covered"] == m["modes_covered"]
    assert evals.iloc[-1]["kl"] == pytest.approx(m["kl"])


def test_stacked_evaluation_counts_modes_of_real_stacks():
    """Real stacks built from known digits: the classifier's triples recover the number of
    distinct modes (hand-built: 7 distinct triples)."""
    suite = get_suite("stacked-digits")
    sk = sk_load_digits()
    imgs = get_suite("digits-perclass").real_images()  # all 1,797 images, 1 channel
    first = {d: int(np.flatnonzero(sk.target == d)[0]) for d in range(10)}
    triples = [(0, 1, 2), (3, 4, 5), (6, 7, 8), (9, 9, 9), (1, 1, 1), (0, 0, 0), (2, 5, 8)]
    rows = [t for t in triples for _ in range(3)]
    stacks = torch.stack([torch.cat([imgs[first[d]] for d in t]) for t in rows])
    m = suite.evaluate(stacks.numpy())
    assert m["modes_covered"] == 7
    # 7 equally likely modes out of 1000: KL = log(1000 / 7)
    assert m["kl"] == pytest.approx(np.log(1000 / 7), rel=1e-9)


def test_resnet_and_densenet_are_suite_options(tmp_path, capsys):
    for arch in ("resnet", "densenet"):
        rc, _, err = _run(
            _argv(
                "run",
                "digits-perclass",
                tmp_path / "runs",
                tmp_path / "results",
                "--methods",
                "gan",
                "--seeds",
                "0",
                "--classes",
                "1",
                "--arch",
                arch,
            ),
            capsys,
        )
        assert rc == 0, err
    configs = [
        json.loads(p.read_text())["suite_params"]["arch"]
        for p in (tmp_path / "runs" / "digits-perclass" / "gan").glob("*/config.json")
    ]
    assert sorted(configs) == ["densenet", "resnet"]  # two keys, two directories
    rc, _, err = _run(["run", "--suite", "gaussians25", "--arch", "resnet"], capsys)
    assert rc == 2 and "takes no option arch" in err


def test_evaluate_stacked_samples_from_any_tool(tmp_path, capsys):
    sk = sk_load_digits()
    imgs = get_suite("digits-perclass").real_images()
    first = {d: int(np.flatnonzero(sk.target == d)[0]) for d in range(10)}
    stacks = torch.stack([torch.cat([imgs[first[d]] for d in (k, k, 9 - k)]) for k in range(10)])
    path = tmp_path / "stacks.npy"
    np.save(path, stacks.permute(0, 2, 3, 1).numpy())  # N×H×W×C is accepted too
    rc, text, err = _run(
        ["evaluate", "--suite", "stacked-digits", "--samples", str(path), "--json"], capsys
    )
    assert rc == 0, err
    (row,) = json.loads(text)
    assert row["modes_covered"] == 10 and row["kl"] == pytest.approx(np.log(100))


def test_image_suites_listed(capsys):
    rc, text, _ = _run(["list"], capsys)
    assert rc == 0
    for name in ("cifar10-perclass", "celeba64", "digits-perclass", "stacked-digits"):
        assert name in text


def test_wrong_image_size_is_one_line():
    suite = get_suite("digits-perclass")
    with pytest.raises(BenchError, match="1×32×32"):
        suite.evaluate(np.zeros((4, 1, 16, 16), np.uint8), "3")


def test_image_batches_stay_uint8_in_memory():
    data = get_suite("digits-perclass").training_set("1")
    assert isinstance(data, ImageBatches) and data.images.dtype == torch.uint8


def test_evaluation_extracts_each_image_once_and_caches_the_reference(tmp_path, monkeypatch):
    """IS, FID, KID and precision/recall share one feature pass over the samples; the real
    class's features come from the cache after the first evaluation."""
    import shutil

    from collapsebench.benchmark.suites.image_eval import cache_dir
    from collapsebench.metrics import digits_classifier as dc

    trained = dc.load_or_train(cache_dir())
    monkeypatch.setenv("COLLAPSEBENCH_CACHE", str(tmp_path / "cache"))
    copy = dc.cache_path(tmp_path / "cache", 0)
    copy.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(trained.path, copy)
    seen: list[int] = []
    forward = dc.FeatureExtractorDigitsCNN.forward

    def counting(self, x):
        seen.append(len(x))
        return forward(self, x)

    monkeypatch.setattr(dc.FeatureExtractorDigitsCNN, "forward", counting)
    suite = get_suite("digits-perclass")
    n_real = len(suite.real_images("4"))
    samples = suite.real_images("4")[:50].numpy()
    first = suite.evaluate(samples, "4", device="cpu")
    assert sum(seen) == 50 + n_real
    seen.clear()
    second = suite.evaluate(samples, "4", device="cpu")
    assert sum(seen) == 50
    assert second["fid"] == pytest.approx(first["fid"]) and first["n_reference"] == n_real


def test_image_table_of_diverged_runs_has_no_nan_and_no_keyerror():
    """Every run diverged: no KeyError in the caption; the first run diverged: no 'nan' as the
    ground truth. Diverged runs' metrics.json hold only NaN metrics."""
    import numpy as np
    import pandas as pd

    from collapsebench.benchmark.report.image_tables import caption, methods_table
    from collapsebench.benchmark.suites import get_suite

    suite = get_suite("digits")
    names = list(suite.metric_names)
    diverged = {"method": "gan", "seed": 0, "diverged": True, **dict.fromkeys(names, np.nan)}
    ok = {
        "method": "gan", "seed": 1, "diverged": False, **dict.fromkeys(names, 0.5),
        "ms_ssim_real": 0.25, "n_generated": 100, "n_reference": 1797, "n_pairs": 10,
        "extractor": "digits-cnn", "msssim_protocol": "clamped",
    }  # fmt: skip
    only_diverged = pd.DataFrame([diverged])
    assert "every run diverged" in caption(suite, "smoke", only_diverged)
    both = pd.DataFrame([diverged, ok])
    table = methods_table(both, names, ["gan"], suite)
    assert table.loc["ground truth (real data)", "ms_ssim"] == "0.2500"
    assert "digits-cnn features" in caption(suite, "smoke", both)


def test_image_table_cells_carry_their_runs_convergence_marks():
    """A cell is † when any of its runs did not converge, ? when any has no verdict, plain when
    all converged; the mean over classes is marked by every run of the method."""
    from collapsebench.benchmark.report.image_tables import methods_table, per_class_table
    from collapsebench.benchmark.suites import get_suite

    def row(cls, seed, fid, status):
        return {
            "method": "gan", "class": cls, "seed": seed, "fid": fid, "converged:fid": status,
        }  # fmt: skip

    df = pd.DataFrame(
        [
            row("2", 0, 10.0, "converged"),
            row("2", 1, 20.0, "still moving"),
            row("8", 0, 30.0, "converged"),
            row("8", 1, 50.0, "converged"),
        ]
    )
    t = per_class_table(df, "fid", ["gan"], None)
    assert t.loc["2", "gan"] == "15.00 ± 7.07†"  # mean 15, std sqrt(50)
    assert t.loc["8", "gan"] == "40.00 ± 14.14"
    # per seed the mean over classes: 20 and 35 -> 27.5 ± 10.61, marked by class 2's seed 1
    assert t.loc["mean over classes", "gan"] == "27.50 ± 10.61†"
    suite = get_suite("digits")
    unmeasured = df.assign(**{"converged:fid": [None, "converged", "converged", "converged"]})
    assert methods_table(unmeasured, ["fid"], ["gan"], suite).loc["gan", "fid"].endswith("?")
    assert per_class_table(unmeasured, "fid", ["gan"], None).loc["8", "gan"] == "40.00 ± 14.14"


def test_image_runs_record_a_convergence_curve(tmp_path, capsys, monkeypatch):
    """With n_evals the run writes evals.csv: the curve's metrics at evenly spaced steps, its last
    point computed on the final samples (so equal to metrics.json's values, which come from the
    full evaluation), and the table marks its cells by the plateau rule."""
    import dataclasses

    from collapsebench.benchmark.analysis.convergence import converged

    suite = get_suite("digits-perclass")
    cfg = dataclasses.replace(suite.presets["smoke"], steps=16, n_evals=8)
    monkeypatch.setitem(suite.presets, "smoke", cfg)
    out, results = tmp_path / "runs", tmp_path / "results"
    argv = _argv("run", "digits-perclass", out, results, "--methods", "gan", "--seeds", "0")
    rc, _, err = _run([*argv, "--classes", "3"], capsys)
    assert rc == 0, err
    (run,) = (out / "digits-perclass" / "gan").glob("seed0-3-*")
    evals = pd.read_csv(run / "evals.csv")
    assert list(evals.columns) == ["step", "ms_ssim", "fid", "precision", "recall"]
    assert list(evals["step"]) == [2, 4, 6, 8, 10, 12, 14, 16]
    metrics = json.loads((run / "metrics.json").read_text())
    for k in ("ms_ssim", "fid", "precision", "recall"):
        assert evals[k].iloc[-1] == pytest.approx(metrics[k], rel=1e-9, abs=1e-12), k
    # each cell's mark is the plateau rule's verdict on this run's curve of that metric
    verdicts = converged(evals)
    marks = {"converged": "", "still moving": "†", "oscillating": "‡", "not measured": "?"}
    for k in ("ms_ssim", "fid", "precision", "recall"):
        table = pd.read_csv(results / "digits-perclass" / "smoke" / f"table_{k}.csv", index_col=0)
        cell = str(table.loc["3", "gan"])
        expected = marks[verdicts[k]]
        assert cell.endswith(expected) if expected else cell[-1].isdigit(), (k, cell, expected)
    assert (results / "digits-perclass" / "smoke" / "convergence.png").stat().st_size > 0


def test_report_on_chosen_classes_counts_only_those_and_marks_compare(digits_store, capsys):
    """`bench report --classes`: runs of other classes are neither counted nor listed missing,
    and the compare section carries the cells' convergence marks (smoke runs: ? everywhere)."""
    out, results = digits_store
    base = _argv("report", "digits-perclass", out, results, "--methods", "gan", "wgan-gp")
    base = [a for a in base if a != "--no-progress"]
    rc, text, err = _run([*base, "--seeds", "0", "1", "--classes", "2", "--compare", "gan"], capsys)
    assert rc == 0, err
    assert text.strip().endswith("4 runs, 0 missing")  # 2 methods x 2 seeds of class 2
    md = (results / "digits-perclass" / "smoke" / "report.md").read_text()
    assert "? (n=2)" in md and "? = convergence not measured" in md
    assert "--classes 2" in md  # the reproduce commands keep the choice
    rc, text, err = _run([*base, "--seeds", "0", "1", "--classes", "2", "8", "5"], capsys)
    assert rc == 0, err
    assert text.strip().endswith("8 runs, 4 missing")  # class 5 was never trained


def test_every_image_preset_states_its_evaluation_size():
    # an unsized preset would evaluate each curve point on n_eval (50,000) samples, and
    # precision/recall's pairwise distances on those need 10 GB per point
    for name in ("digits-perclass", "digits", "stacked-digits", "cifar10-perclass"):
        suite = get_suite(name)
        assert set(suite.presets) <= set(suite.eval_sizes), name
    with pytest.raises(ValueError, match=r"presets \['table'\] have no eval_sizes entry"):
        dataclasses.replace(
            get_suite("digits-perclass"), eval_sizes={"smoke": 40, "default": 1, "paper": 1}
        )
    # the table preset's curve points are the 10,000-step probe's: 10,000 samples each
    assert get_suite("digits-perclass").params("table")["n_eval"] == 10_000


def test_table_on_chosen_seeds_and_classes(digits_store, tmp_path, capsys):
    """`bench table --seeds --classes`: the tables and per_seed.csv hold those runs only; a
    class with no finished run is named on stderr; --classes on a toy suite is refused."""
    out, _ = digits_store
    results = tmp_path / "results"
    base = _argv("table", "digits-perclass", out, results, "--methods", "gan", "wgan-gp")
    base = [a for a in base if a != "--no-progress"]
    rc, text, err = _run([*base, "--seeds", "1", "--classes", "8", "--no-plots"], capsys)
    assert rc == 0, err
    folder = results / "digits-perclass" / "smoke"
    rows = pd.read_csv(folder / "per_seed.csv")
    assert sorted(zip(rows["method"], rows["class"], rows["seed"], strict=True)) == [
        ("gan", 8, 1),
        ("wgan-gp", 8, 1),
    ]
    table = pd.read_csv(folder / "table_ms_ssim.csv", index_col=0)
    assert list(table.index) == ["8", "mean over classes"]
    rc, text, err = _run([*base, "--classes", "2", "5", "--no-plots"], capsys)
    assert rc == 0 and "no finished runs of class(es) 5; the tables show 2" in err
    assert set(pd.read_csv(folder / "per_seed.csv")["seed"]) == {0, 1}  # every seed
    # none of the asked-for runs is in the store: refused, naming what the store does have
    # (the fixture trained classes 2 and 8, seeds 0 and 1), the earlier tables left as they were
    before = (folder / "per_seed.csv").read_bytes()
    for extra, asked in ((["--classes", "5"], "class(es) 5"), (["--seeds", "7"], "seed(s) 7")):
        rc, text, err = _run([*base, *extra, "--no-plots"], capsys)
        assert rc == 2 and err.count("\n") == 1, err
        assert f"no finished runs of {asked} in the store" in err
        assert "it has runs of classes 2, 8 and seeds 0, 1" in err
    assert (folder / "per_seed.csv").read_bytes() == before
    toy = _argv("table", "gaussians25", out, results, "--classes", "2")
    rc, text, err = _run([a for a in toy if a != "--no-progress"], capsys)
    assert rc == 2 and err.count("\n") == 1
    assert "--classes applies to per-class suites only" in err


def test_compare_with_classes_leaves_other_classes_runs_out(digits_store, tmp_path, capsys):
    """`bench compare --classes 2`: class 8's runs in the same store enter neither the
    class-by-class table nor the seeds' means (one number per seed is class 2's own value)."""
    out, _ = digits_store
    results = tmp_path / "results"
    argv = _argv("compare", "digits-perclass", out, results, "--method", "wgan-gp")
    argv += ["--against", "gan", "--seeds", "0", "1", "--classes", "2"]
    rc, text, err = _run(argv, capsys)
    assert rc == 0, err
    folder = results / "digits-perclass" / "smoke"
    per_class = pd.read_csv(folder / "compare-wgan-gp-per-class.csv")
    assert set(per_class["class"]) == {2}
    # the pooled comparison's means: class 2's runs alone, read from their metrics.json
    runs = sorted((out / "digits-perclass" / "wgan-gp").glob("seed*-2-*"))
    fid = [json.loads((r / "metrics.json").read_text())["fid"] for r in runs]
    assert len(fid) == 2
    pooled = pd.read_csv(folder / "compare-wgan-gp.csv").set_index("metric")
    assert pooled.loc["fid", "mean_new"] == pytest.approx(np.mean(fid))


def test_critic_on_chosen_seeds_and_classes(digits_store, tmp_path, capsys):
    """`bench critic --seeds --classes` scores those runs' snapshots only."""
    out, _ = digits_store
    results = tmp_path / "results"
    argv = _argv("critic", "digits-perclass", out, results, "--critic-steps", "5")
    argv += ["--methods", "gan", "wgan-gp", "--seeds", "1", "--classes", "8"]
    rc, text, err = _run(argv, capsys)
    assert rc == 0, err
    curve = pd.read_csv(results / "digits-perclass" / "smoke" / "critic.csv")
    # 2 methods x class 8 x seed 1 x snapshot steps 3 and 6
    rows = curve[["method", "class", "seed", "step"]].itertuples(index=False, name=None)
    assert sorted(rows) == [
        ("gan", 8, 1, 3), ("gan", 8, 1, 6), ("wgan-gp", 8, 1, 3), ("wgan-gp", 8, 1, 6),
    ]  # fmt: skip
    rc, _, err = _run(_argv("critic", "digits", out, results, "--classes", "8"), capsys)
    assert rc == 2 and "--classes applies to per-class suites only" in err
    before = (results / "digits-perclass" / "smoke" / "critic.csv").read_bytes()
    argv = _argv("critic", "digits-perclass", out, results, "--classes", "5")
    rc, _, err = _run(argv, capsys)
    assert rc == 2 and err.count("\n") == 1
    assert "no finished runs of class(es) 5" in err and "classes 2, 8" in err
    assert (results / "digits-perclass" / "smoke" / "critic.csv").read_bytes() == before


def test_report_pools_seeds_over_the_classes_every_method_has(digits_store, tmp_path, capsys):
    """A class only one method has finished (gan's class 5) stays out of the report's per-seed
    means and its comparison; the report says which classes they cover."""
    import shutil

    out = tmp_path / "runs"
    shutil.copytree(digits_store[0], out)
    results = tmp_path / "results"
    extra = ["--methods", "gan", "--seeds", "0", "--classes", "5", "--no-plots"]
    rc, _, err = _run(_argv("run", "digits-perclass", out, results, *extra), capsys)
    assert rc == 0, err
    argv = _argv("report", "digits-perclass", out, results, "--methods", "gan", "wgan-gp")
    argv = [a for a in argv if a != "--no-progress"]
    rc, text, err = _run([*argv, "--seeds", "0", "1", "--compare", "wgan-gp"], capsys)
    assert rc == 0, err
    md = (results / "digits-perclass" / "smoke" / "report.md").read_text()
    assert "average over classes 2, 8 only" in md
    rows = pd.read_csv(results / "digits-perclass" / "smoke" / "per_seed.csv")
    assert 5 in set(rows["class"])  # the table still shows class 5 on its own row
    gan = rows[(rows["method"] == "gan") & rows["class"].isin([2, 8])]
    expected = gan.groupby("seed")["fid"].mean().mean()
    (line,) = [x for x in md.splitlines() if x.startswith("| gan | fid ")]
    assert f"| {expected:.4g}? (n=2) |" in line


def test_export_of_a_per_class_store_reports_like_the_store(digits_store, tmp_path, capsys):
    """`bench export --classes 8`: the copy's report equals the store's on class 8; the critic
    needs the generator snapshots an export leaves behind unless --weights, and says so."""
    out, _ = digits_store
    to = tmp_path / "exported"
    extra = ["--methods", "gan", "wgan-gp", "--classes", "8", "--to", str(to)]
    argv = _argv("export", "digits-perclass", out, tmp_path, *extra)
    argv = [a for a in argv if a not in ("--no-progress", "--results", str(tmp_path))]
    rc, text, err = _run(argv, capsys)
    assert rc == 0 and "exported 4 runs" in text, err
    assert {p.name.split("-")[1] for p in to.glob("digits-perclass/*/seed*")} == {"8"}
    frames = []
    for name, store in (("store", out), ("copy", to)):
        results = tmp_path / name
        table = _argv("report", "digits-perclass", store, results, "--methods", "gan", "wgan-gp")
        table = [a for a in table if a != "--no-progress"]
        rc, _, err = _run([*table, "--seeds", "0", "1", "--classes", "8"], capsys)
        assert rc == 0, err
        frames.append(pd.read_csv(results / "digits-perclass" / "smoke" / "per_seed.csv"))
    pd.testing.assert_frame_equal(*frames)
    critic = _argv("critic", "digits-perclass", to, tmp_path / "c", "--critic-steps", "5")
    rc, _, err = _run(critic, capsys)
    assert rc == 2 and err.count("\n") == 1 and "has no generator snapshots" in err
