"""Methods from outside the package: by import path and by entry point, and contract errors."""

import json
import sys
import textwrap

import numpy as np
import pytest
import torch

from collapsebench.benchmark.cli.main import main
from collapsebench.benchmark.errors import BenchError
from collapsebench.benchmark.training.methods import resolve_method

PLUGIN = """
from dataclasses import dataclass

import torch.nn.functional as F

from collapsebench.baselines.base import Method, Params, adam, batch_mean


@dataclass(frozen=True)
class HingeParams(Params):
    lr: float = 2e-4


class HingeGAN(Method):
    \"\"\"Hinge-loss GAN: L_D = E relu(1 - D(x)) + E relu(1 + D(G(z))), L_G = -E D(G(z)).\"\"\"

    name = "hinge"
    Params = HingeParams

    def optimizers(self, G, D):
        return adam(G, self.params.lr, (0.5, 0.9)), adam(D, self.params.lr, (0.5, 0.9))

    def d_loss(self, D, real, fake, step, draw):
        return batch_mean(F.relu(1 - D(real))) + batch_mean(F.relu(1 + D(fake)))

    def g_loss(self, D, real, fake, step, draw):
        return -batch_mean(D(fake))


class NoLoss(Method):
    Params = HingeParams

    def optimizers(self, G, D):
        return adam(G, 1e-4, (0.5, 0.9)), adam(D, 1e-4, (0.5, 0.9))


class VectorLoss(HingeGAN):
    def d_loss(self, D, real, fake, step, draw):
        return D(real)


class NanLoss(HingeGAN):
    def g_loss(self, D, real, fake, step, draw):
        return batch_mean(D(fake) * float("nan"))
"""


@pytest.fixture
def plugin_dir(tmp_path, monkeypatch):
    (tmp_path / "myplug.py").write_text(PLUGIN)
    monkeypatch.chdir(tmp_path)
    yield tmp_path
    sys.modules.pop("myplug", None)


def run_smoke(method, out):
    return main(
        [
            "run",
            "--suite",
            "ring8",
            "--preset",
            "smoke",
            "--methods",
            method,
            "--seeds",
            "0",
            "--out",
            str(out),
            "--results",
            str(out / "results"),
            "--no-progress",
        ]
    )


def test_plugin_by_module_path_runs_beside_baselines(plugin_dir, capsys):
    assert run_smoke("myplug:HingeGAN", plugin_dir / "runs") == 0
    assert "myplug:HingeGAN" in capsys.readouterr().out
    assert list((plugin_dir / "runs" / "ring8" / "myplug__HingeGAN").glob("seed0-*/metrics.json"))


def test_plugin_by_entry_point(tmp_path, monkeypatch):
    pkg = tmp_path / "site"
    (pkg / "epplug").mkdir(parents=True)
    (pkg / "epplug" / "__init__.py").write_text(PLUGIN)
    dist = pkg / "epplug-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: epplug\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(
        textwrap.dedent("""\
        [collapsebench.methods]
        my-hinge = epplug:HingeGAN
        """)
    )
    monkeypatch.syspath_prepend(str(pkg))
    cls = resolve_method("my-hinge")
    assert cls.__name__ == "HingeGAN" and cls.__module__ == "epplug"


@pytest.mark.parametrize(
    ("method", "needle"),
    [
        ("myplug:NoLoss", "method myplug:NoLoss: does not implement d_loss, g_loss"),
        (
            "myplug:VectorLoss",
            "d_loss must return one value per model, a scalar (one model), got (128,)",
        ),
        ("myplug:NanLoss", "g_loss returned a non-finite value"),
        ("myplug:Missing", "has no 'Missing'"),
        ("nosuchmodule:X", "cannot import module 'nosuchmodule'"),
    ],
)
def test_contract_violations_are_one_line(plugin_dir, capsys, method, needle):
    assert run_smoke(method, plugin_dir / "runs") == 2
    err = capsys.readouterr().err.strip()
    assert needle in err and len(err.splitlines()) == 1
    # and nothing is left in the store: no run folder with a config.json or runtime.json
    store = plugin_dir / "runs"
    assert not store.exists() or not [p for p in store.rglob("*") if p.name != "results"], sorted(
        store.rglob("*")
    )


def test_bad_path_shape():
    with pytest.raises(BenchError, match="package.module:ClassName"):
        resolve_method("mod:")


def _hinge_runs(root, argv_extra):
    argv = ["run", "--suite", "gaussians25", "--preset", "smoke", "--methods", "myplug:HingeGAN"]
    argv += ["--out", str(root), "--results", str(root / "results"), "--no-progress"]
    assert main([*argv, *argv_extra]) == 0
    store = root / "gaussians25" / "myplug__HingeGAN"
    return {p.name.split("-")[0]: p for p in sorted(store.iterdir())}


def _final(run):
    ckpt = torch.load(run / "checkpoint.pt", weights_only=True)
    return ckpt, np.load(run / "samples.npy"), json.loads((run / "metrics.json").read_text())


def test_plugin_stacks_with_no_edit_and_equals_its_runs_alone(plugin_dir, capsys):
    """The plugin above (written only to baselines/base.py's interface) trained as one stacked
    model of 3 seeds equals its 3 runs trained one at a time, through the real CLI (float32:
    the batched kernels sum in another order, and Adam turns a near-zero gradient's rounding into
    a step of up to lr, so within 1e-3; the float64 test below is exact to 1e-12)."""
    stacked = _hinge_runs(plugin_dir / "stacked", ["--seeds", "0", "1", "2", "--batch-models", "3"])
    out = capsys.readouterr().out
    assert "trained one run at a time" not in out
    alone = {}
    for seed in ("0", "1", "2"):
        alone.update(_hinge_runs(plugin_dir / "alone", ["--seeds", seed]))
    assert sorted(stacked) == sorted(alone) == ["seed0", "seed1", "seed2"]
    for seed in stacked:
        assert stacked[seed].name == alone[seed].name  # the same run key
        runtime = json.loads((stacked[seed] / "runtime.json").read_text())[-1]
        assert runtime["batch_models"] == 3
        (ck_s, x_s, m_s), (ck_a, x_a, m_a) = _final(stacked[seed]), _final(alone[seed])
        assert ck_s["step"] == ck_a["step"]
        for net in ("G", "D"):
            for name, ref in ck_a[net].items():
                torch.testing.assert_close(ck_s[net][name], ref, rtol=1e-2, atol=1e-3)
        np.testing.assert_allclose(x_s, x_a, rtol=1e-2, atol=1e-3)
        assert m_s["modes_covered"] == m_a["modes_covered"]
    assert not np.array_equal(_final(stacked["seed0"])[1], _final(stacked["seed1"])[1])


def test_plugin_stacked_equals_alone_in_float64(plugin_dir, tmp_path):
    """In float64 the same comparison holds to rounding (1e-12): same initialisation, the same
    draws per model, per-model updates."""
    import dataclasses

    from collapsebench.benchmark.runs.planning import plan
    from collapsebench.benchmark.store.runstore import RunStore
    from collapsebench.benchmark.training.loop import train_run, train_runs

    specs = plan("gaussians25", ["myplug:HingeGAN"], [0, 1, 2], "smoke")
    specs = [dataclasses.replace(s, train=dataclasses.replace(s.train, steps=12)) for s in specs]
    before = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        a, b = RunStore(tmp_path / "stacked"), RunStore(tmp_path / "alone")
        for s in specs:
            a.run_dir(s).write_config(s)
            b.run_dir(s).write_config(s)
        train_runs(specs, [a.run_dir(s) for s in specs])
        for s in specs:
            train_run(s, b.run_dir(s))
    finally:
        torch.set_default_dtype(before)
    for s in specs:
        got, want = a.run_dir(s).load_checkpoint(), b.run_dir(s).load_checkpoint()
        for net in ("G", "D", "opt_g", "opt_d"):
            flat_got, flat_want = _tensors(got[net]), _tensors(want[net])
            assert len(flat_got) == len(flat_want) > 0
            for x, y in zip(flat_got, flat_want, strict=True):
                torch.testing.assert_close(x, y, rtol=1e-12, atol=1e-14)
        assert got["curves"][-1].keys() == want["curves"][-1].keys()


def _tensors(tree):
    if isinstance(tree, torch.Tensor):
        return [tree]
    if isinstance(tree, dict):
        return [t for k in sorted(tree, key=str) for t in _tensors(tree[k])]
    if isinstance(tree, list | tuple):
        return [t for v in tree for t in _tensors(v)]
    return []


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ("raise RuntimeError('no GPU here')", "raised RuntimeError: no GPU here"),
        ("x = 1 / 0", "raised ZeroDivisionError: division by zero"),
        ("def broken(:\n    pass", "raised SyntaxError"),
    ],
)
def test_a_plugin_that_fails_on_import_is_one_line_naming_it(
    tmp_path, monkeypatch, capsys, body, needle
):
    """Any exception while importing a plugin module (not only ImportError): one line naming the
    plugin and the exception, exit 2, and no run directory created."""
    (tmp_path / "badplug.py").write_text(body + "\n")
    monkeypatch.chdir(tmp_path)
    try:
        assert run_smoke("badplug:X", tmp_path / "runs") == 2
    finally:
        sys.modules.pop("badplug", None)
    err = capsys.readouterr().err.strip()
    assert "method badplug:X: importing module 'badplug'" in err and needle in err, err
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert not (tmp_path / "runs").exists() or not list((tmp_path / "runs").rglob("config.json"))
