"""DCGAN / ResNet-block / DenseNet-block image nets: shapes, init, determinism, the BN flag."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from collapsebench.benchmark.errors import BenchError
from collapsebench.benchmark.suites.image_nets import (
    DenseStage,
    ResStage,
    build_image_nets,
)

ARCHS = ("dcgan", "resnet", "densenet")


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("size", [32, 64])
@pytest.mark.parametrize("channels", [1, 3])
def test_shapes(arch, size, channels):
    G, D = build_image_nets(arch, size, channels, nz=16, width=8, generator=_gen())
    z = torch.randn(2, 16, generator=_gen(1))
    x = G(z)
    assert x.shape == (2, channels, size, size)
    assert x.abs().max() <= 1.0  # tanh
    assert torch.equal(G(z[:, :, None, None]), x)  # (N, nz, 1, 1) works too
    s = D(x)
    assert s.shape == (2,)
    # features: the c_0×4×4 map; c_0 = 4w at 32 px, 8w at 64 px (w = 8)
    f = D.features(x)
    c0 = 8 * (4 if size == 32 else 8)
    assert f.shape == (2, c0 * 16) and D.feature_dim == c0 * 16


def test_dcgan64_matches_radford_layer_sizes():
    # hand count for nz=100, ngf=ndf=64, 3 channels (kernel 4×4 = 16 weights per pair):
    # G: 100·512·16 + 512·256·16 + 256·128·16 + 128·64·16 + 64·3·16 = 3,574,784 conv weights,
    #    BN 2·(512+256+128+64) = 1,920, output bias 3                  -> 3,576,707
    # D: 3·64·16 + 64 bias + 64·128·16 + 128·256·16 + 256·512·16 + 512·16 + 1 = 2,763,841,
    #    BN 2·(128+256+512) = 1,792                                      -> 2,765,633
    G, D = build_image_nets("dcgan", 64, 3, 100, 64, True, _gen())
    assert sum(p.numel() for p in G.parameters()) == 3_576_707
    assert sum(p.numel() for p in D.parameters()) == 2_765_633
    G32, _ = build_image_nets("dcgan", 32, 3, 100, 64, True, _gen())
    first = G32.net[0]
    assert isinstance(first, nn.ConvTranspose2d) and first.out_channels == 256  # 4·ngf at 32 px


def test_init_from_generator_is_deterministic_and_leaves_global_rng():
    torch.manual_seed(123)
    before = torch.random.get_rng_state()
    G1, D1 = build_image_nets("resnet", 32, 3, 16, 8, True, _gen(7))
    assert torch.equal(torch.random.get_rng_state(), before)
    torch.manual_seed(999)  # a different global state must not matter
    G2, D2 = build_image_nets("resnet", 32, 3, 16, 8, True, _gen(7))
    for a, b in ((G1, G2), (D1, D2)):
        sa, sb = a.state_dict(), b.state_dict()
        assert sa.keys() == sb.keys()
        assert all(torch.equal(sa[k], sb[k]) for k in sa)
    G3, _ = build_image_nets("resnet", 32, 3, 16, 8, True, _gen(8))
    assert not torch.equal(G3.net[0].weight, G1.net[0].weight)


def test_init_distribution():
    G, D = build_image_nets("dcgan", 32, 3, 100, 64, True, _gen(3))
    conv_w, bn_w, biases = [], [], []
    for m in list(G.modules()) + list(D.modules()):
        if isinstance(m, nn.Conv2d | nn.ConvTranspose2d):
            conv_w.append(m.weight.flatten())
            if m.bias is not None:
                biases.append(m.bias.flatten())
        elif isinstance(m, nn.BatchNorm2d):
            bn_w.append(m.weight.flatten())
            biases.append(m.bias.flatten())
    w = torch.cat(conv_w).double()
    assert abs(w.mean().item()) < 1e-3
    assert w.std().item() == pytest.approx(0.02, rel=0.01)  # 1.7M draws
    b = torch.cat(bn_w).double()  # 448 + 448 draws of N(1, 0.02)
    assert b.mean().item() == pytest.approx(1.0, abs=0.005)
    assert b.std().item() == pytest.approx(0.02, rel=0.15)
    assert torch.cat(biases).abs().max().item() == 0.0


@pytest.mark.parametrize("arch", ARCHS)
def test_d_batchnorm_flag(arch):
    G, D_bn = build_image_nets(arch, 32, 3, 16, 8, True, _gen())
    _, D_plain = build_image_nets(arch, 32, 3, 16, 8, False, _gen())
    bn = nn.BatchNorm2d
    assert any(isinstance(m, bn) for m in D_bn.modules())
    assert not any(isinstance(m, bn) for m in D_plain.modules())
    assert any(isinstance(m, bn) for m in G.modules())  # G keeps BN either way
    # without BN a sample's score does not depend on the rest of the batch (train mode)
    x = torch.randn(4, 3, 32, 32, generator=_gen(2))
    D_plain.train()
    D_bn.train()
    assert torch.allclose(D_plain(x)[:1], D_plain(x[:1]), atol=1e-6)
    assert not torch.allclose(D_bn(x[:2])[:1], D_bn(x[:3])[:1], atol=1e-4)
    # gradient penalty needs a double backward through D
    xi = x.clone().requires_grad_(True)
    (g,) = torch.autograd.grad(D_plain(xi).sum(), xi, create_graph=True)
    penalty = ((g.flatten(1).norm(dim=1) - 1) ** 2).mean()
    penalty.backward()
    for w in (D_plain.trunk[0].weight, D_plain.head.weight):  # (the head bias drops out of g)
        assert w.grad is not None and w.grad.abs().sum() > 0


def test_variant_blocks():
    # 32 px: two intermediate stages in G (4w->2w, 2w->w) and in D (w->2w, 2w->4w)
    G, D = build_image_nets("resnet", 32, 3, 16, 8, True, _gen())
    assert sum(isinstance(m, ResStage) for m in G.modules()) == 2
    assert sum(isinstance(m, ResStage) for m in D.modules()) == 2
    G, D = build_image_nets("densenet", 64, 1, 16, 8, True, _gen())
    stages = [m for m in D.modules() if isinstance(m, DenseStage)]
    assert len(stages) == 3
    # D stage w -> 2w = 16 channels: 3 layers of growth 8, transition 16 + 24 = 40 -> 16
    t = stages[0].transition[0]
    assert (t.in_channels, t.out_channels) == (40, 16)
    assert [layer[0].in_channels for layer in stages[0].layers] == [16, 24, 32]


def test_pack():
    _, D = build_image_nets("dcgan", 32, 3, 16, 8, False, _gen(), pack=2)
    assert D.trunk[0].in_channels == 6
    x = torch.randn(4, 3, 32, 32, generator=_gen(1))
    assert D(x).shape == (2,) and D.features(x).shape == (2, D.feature_dim)
    # pack groups consecutive images along channels
    assert torch.equal(D(x)[1:], D(x[2:]))


def test_invalid_arguments():
    with pytest.raises(BenchError) as e:
        build_image_nets("vit", 32, 3, 16, 8, True, _gen())
    msg = str(e.value)
    assert "'vit'" in msg and "dcgan, resnet, densenet" in msg
    with pytest.raises(BenchError, match="valid: 32, 64"):
        build_image_nets("dcgan", 48, 3, 16, 8, True, _gen())
    with pytest.raises(BenchError, match="width"):
        build_image_nets("dcgan", 32, 3, 16, 0, True, _gen())
