"""Methods from outside the package: by import path and by entry point, and contract errors."""

import sys
import textwrap

import pytest

from collapsebench.benchmark.cli import main
from collapsebench.benchmark.errors import BenchError
from collapsebench.benchmark.methods import resolve_method

PLUGIN = """
from dataclasses import dataclass

import torch.nn.functional as F

from collapsebench.baselines.base import Method, Params, adam


@dataclass(frozen=True)
class HingeParams(Params):
    lr: float = 2e-4


class HingeGAN(Method):
    name = "hinge"
    Params = HingeParams

    def optimizers(self, G, D):
        return adam(G, self.params.lr, (0.5, 0.9)), adam(D, self.params.lr, (0.5, 0.9))

    def d_loss(self, D, real, fake, step, rng):
        return F.relu(1 - D(real)).mean() + F.relu(1 + D(fake)).mean()

    def g_loss(self, D, fake, step):
        return -D(fake).mean()


class NoLoss(Method):
    Params = HingeParams

    def optimizers(self, G, D):
        return adam(G, 1e-4, (0.5, 0.9)), adam(D, 1e-4, (0.5, 0.9))


class VectorLoss(HingeGAN):
    def d_loss(self, D, real, fake, step, rng):
        return D(real)


class NanLoss(HingeGAN):
    def g_loss(self, D, fake, step):
        return (D(fake) * float("nan")).mean()
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
        ("myplug:VectorLoss", "d_loss must return a scalar tensor"),
        ("myplug:NanLoss", "g_loss returned a non-finite value"),
        ("myplug:Missing", "has no 'Missing'"),
        ("nosuchmodule:X", "cannot import module 'nosuchmodule'"),
    ],
)
def test_contract_violations_are_one_line(plugin_dir, capsys, method, needle):
    assert run_smoke(method, plugin_dir / "runs") == 2
    err = capsys.readouterr().err.strip()
    assert needle in err and len(err.splitlines()) == 1


def test_bad_path_shape():
    with pytest.raises(BenchError, match="package.module:ClassName"):
        resolve_method("mod:")
