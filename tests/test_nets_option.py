"""``--nets``: a toy run that builds other nets than its protocol's, here the nets of VEEGAN's
released ring notebook (G two ReLU layers of 128, D one, Glorot-uniform weights and zero biases,
TensorFlow's default), checked against sizes and bounds worked out by hand."""

from __future__ import annotations

import json
import math

import pytest
import torch
from torch import nn

from collapsebench.benchmark.errors import BenchError
from collapsebench.benchmark.runs.planning import plan
from collapsebench.benchmark.suites import get_suite


def _suite(nets: str | None = "veegan-code"):
    opts = {"protocol": "veegan"} | ({"nets": nets} if nets else {})
    return get_suite("ring8").with_overrides(opts)


def _linears(module: nn.Module) -> list[nn.Linear]:
    return [m for m in module.modules() if isinstance(m, nn.Linear)]


def _shapes(module: nn.Module) -> list[tuple[int, int]]:
    return [(m.in_features, m.out_features) for m in _linears(module)]


def test_veegan_code_nets_have_the_notebooks_layers():
    G, D = _suite().build_nets(seed=0)
    # G: 256 noise -> 128 -> 128 -> 2; D: 2 -> 128 -> 1 (one hidden layer, not the protocol's two)
    assert _shapes(G) == [(256, 128), (128, 128), (128, 2)]
    assert _shapes(D) == [(2, 128), (128, 1)]
    assert sum(p.numel() for p in G.parameters()) == 256 * 128 + 128 + 128 * 128 + 128 + 128 * 2 + 2
    assert sum(p.numel() for p in D.parameters()) == 2 * 128 + 128 + 128 + 1
    assert sum(isinstance(m, nn.ReLU) for m in G.modules()) == 2
    assert sum(isinstance(m, nn.ReLU) for m in D.modules()) == 1
    assert not any(isinstance(m, nn.Tanh) for m in [*G.modules(), *D.modules()])
    x = torch.randn(6, 2)
    assert D(x).shape == (6,) and D.features(x).shape == (6, 128)


def test_veegan_code_nets_are_glorot_initialised_not_the_protocols_orthogonal_gain():
    G, D = _suite().build_nets(seed=3)
    for m in _linears(G) + _linears(D):
        bound = math.sqrt(6 / (m.in_features + m.out_features))  # Glorot uniform's limit
        assert m.weight.abs().max() <= bound
        # a uniform draw on [-b, b] has variance b^2 / 3
        if m.weight.numel() >= 256:
            assert m.weight.var().item() == pytest.approx(bound**2 / 3, rel=0.15)
        assert torch.count_nonzero(m.bias) == 0
    # the protocol's own nets: orthogonal with gain 1.4, so the square layer's W W^T = 1.96 I
    G0, _ = _suite(None).build_nets(seed=3)
    w = _linears(G0)[1].weight
    torch.testing.assert_close(w @ w.T, 1.96 * torch.eye(128), atol=1e-4, rtol=0)
    w = _linears(G)[1].weight
    assert not torch.allclose(w @ w.T, 1.96 * torch.eye(128), atol=0.1)
    # and the run key records no orthogonal gain for them
    assert _suite().params()["init_gain"] is None and _suite(None).params()["init_gain"] == 1.4


def test_the_torch_init_variant_keeps_pytorchs_default_bounds():
    """The same nets left as torch.nn.Linear builds them: weights (Kaiming-uniform with
    a = sqrt(5)) and biases uniform within 1/sqrt(fan_in), biases not zero, so the 256-to-128
    layer's bound is 1/16, half of Glorot's sqrt(6/384) = 1/8."""
    G, D = _suite("veegan-code-torch-init").build_nets(seed=3)
    G_tf, D_tf = _suite().build_nets(seed=3)
    assert _shapes(G) == _shapes(G_tf) and _shapes(D) == _shapes(D_tf)
    for m in _linears(G) + _linears(D):
        bound = 1 / math.sqrt(m.in_features)
        assert m.weight.abs().max() <= bound and m.bias.abs().max() <= bound
        assert torch.count_nonzero(m.bias) == m.bias.numel()
        if m.weight.numel() >= 256:
            assert m.weight.var().item() == pytest.approx(bound**2 / 3, rel=0.15)
    assert _linears(G)[0].weight.abs().max() <= 1 / 16 < math.sqrt(6 / 384)
    assert _linears(G_tf)[0].weight.abs().max() > 1 / 16  # Glorot's draws reach past it
    opts = {"protocol": "veegan"}
    (torch_run,) = plan(
        "ring8", ["gan"], [0], "smoke", suite_options=opts | {"nets": "veegan-code-torch-init"}
    )
    (tf_run,) = plan("ring8", ["gan"], [0], "smoke", suite_options=opts | {"nets": "veegan-code"})
    assert torch_run.config_hash() != tf_run.config_hash()
    assert torch_run.suite_params["init_gain"] is None


def test_nets_are_their_own_run_and_resolve_back():
    opts = {"protocol": "veegan"}
    (base,) = plan("ring8", ["gan"], [0], "smoke", suite_options=opts)
    (code,) = plan("ring8", ["gan"], [0], "smoke", suite_options=opts | {"nets": "veegan-code"})
    assert base.config_hash() != code.config_hash()
    assert code.suite_params["nets"] == "veegan-code"
    back = get_suite("ring8").resolve(code.suite_params)
    assert back.nets == "veegan-code" and back.protocol.name == "veegan"
    assert get_suite("ring8").resolve(base.suite_params).nets == "veegan"
    # naming the protocol's own nets is no departure: the same key as giving no option
    (own,) = plan("ring8", ["gan"], [0], "smoke", suite_options=opts | {"nets": "veegan"})
    assert own.config_hash() == base.config_hash()


def test_command_options_name_nets_only_where_they_depart():
    s = get_suite("ring8")
    given = {"protocol": "veegan", "update_order": None, "ring": None}
    assert s.command_options(given | {"nets": "veegan"}) == {"protocol": "veegan"}
    assert s.command_options(given | {"nets": "dyngan"}) == {"protocol": "veegan", "nets": "dyngan"}
    with pytest.raises(BenchError, match="toy suites only"):
        get_suite("digits-perclass").command_options({"nets": "veegan-code"})
    with pytest.raises(BenchError, match="unknown nets"):
        s.with_overrides({"protocol": "veegan", "nets": "resnet"})


def test_another_protocols_nets_take_this_protocols_width():
    # --nets dyngan under veegan: DynGAN's ReLU/LeakyReLU nets at veegan's 128 and noise 256
    G, D = _suite("dyngan").build_nets(seed=0)
    assert _shapes(G) == [(256, 128), (128, 128), (128, 2)]
    assert any(isinstance(m, nn.LeakyReLU) for m in D.modules())


def test_bench_run_with_nets_trains_them_and_names_them_everywhere(tmp_path):
    from collapsebench.benchmark.cli.main import main

    out, res = tmp_path / "runs", tmp_path / "results"
    common = ["--suite", "ring8", "--protocol", "veegan", "--preset", "smoke", "--methods", "gan"]
    common += ["--seeds", "0", "--out", str(out), "--results", str(res)]
    assert main(["run", *common, "--nets", "veegan-code", "--no-progress"]) == 0
    (run,) = (out / "ring8" / "gan").iterdir()
    suite_params = json.loads((run / "config.json").read_text())["suite_params"]
    assert suite_params["nets"] == "veegan-code" and suite_params["init_gain"] is None
    # the checkpoint holds the notebook's D: one hidden layer of 128, then the score
    state = torch.load(run / "checkpoint.pt", weights_only=False)["D"]
    assert {k: tuple(v.shape) for k, v in state.items()} == {
        "trunk.0.weight": (128, 2),
        "trunk.0.bias": (128,),
        "head.weight": (1, 128),
        "head.bias": (1,),
    }
    folder = res / "ring8" / "veegan" / "smoke" / "nets-veegan-code"
    assert "trained with --nets veegan-code" in (folder / "table.md").read_text()
    assert main(["report", *common, "--nets", "veegan-code"]) == 0
    report = (folder / "report.md").read_text()
    assert "--protocol veegan --nets veegan-code --seeds 0" in report
    assert "These runs depart from the protocol (--nets veegan-code)" in report
