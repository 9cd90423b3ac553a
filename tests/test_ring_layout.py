"""``--ring linspace``: the ring as the code behind VEEGAN's and GDPP's tables builds it,
np.linspace(0, 2 pi, 8) with both ends, so 7 distinct modes, the first drawn twice as often.
Checked against the source's own construction (numpy's linspace, sin for x and cos for y)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from collapsebench.benchmark.runs.planning import plan
from collapsebench.benchmark.suites import get_suite
from collapsebench.benchmark.suites.protocol import linspace_ring


def _suite(ring: str | None = "linspace"):
    opts = {"protocol": "veegan"} | ({"ring": ring} if ring else {})
    return get_suite("ring8").with_overrides(opts)


def test_linspace_ring_is_the_source_construction():
    t = np.linspace(0, 2 * np.pi, 8)
    source = np.stack([np.sin(t), np.cos(t)], axis=1)  # poolio/unrolled_gan's sample_mog
    np.testing.assert_allclose(np.array(linspace_ring(1.0)), source, atol=1e-12)
    ours = _suite()
    assert ours.n_modes == 7 and len(ours.centers) == 8
    np.testing.assert_allclose(ours.centers_array(), source[:7], atol=1e-12)
    np.testing.assert_allclose(ours.mode_weights, [2 / 8] + [1 / 8] * 6)
    # neighbouring modes are 2 pi / 7 apart, not 2 pi / 8
    gap = np.linalg.norm(ours.centers_array()[1] - ours.centers_array()[0])
    assert gap == pytest.approx(2 * math.sin(math.pi / 7))


def test_the_repeated_mode_is_drawn_twice_as_often():
    x = _suite().sample_real(80_000, torch.Generator().manual_seed(0)).numpy()
    nearest = np.linalg.norm(x[:, None] - _suite().centers_array()[None], axis=2).argmin(1)
    share = np.bincount(nearest, minlength=7) / len(x)
    # binomial s.e. at n = 80,000 is below 0.0016: 5 s.e. bounds
    np.testing.assert_allclose(share, [0.25] + [0.125] * 6, atol=0.008)


def test_coverage_counts_distinct_modes_and_kl_uses_the_weights():
    s = _suite()
    m = s.centers_array()
    on_weights = np.repeat(m, [2, 1, 1, 1, 1, 1, 1], axis=0)
    out = s.evaluate(np.repeat(on_weights, 40, axis=0), diversity=False)
    assert out["modes_covered"] == 7 and out["hq_fraction"] == 1.0
    assert out["reverse_kl"] == pytest.approx(0.0, abs=1e-12)


def test_the_layout_is_its_own_run_and_resolves_back():
    (base,) = plan("ring8", ["gan"], [0], "smoke", suite_options={"protocol": "veegan"})
    (lin,) = plan(
        "ring8", ["gan"], [0], "smoke", suite_options={"protocol": "veegan", "ring": "linspace"}
    )
    assert base.config_hash() != lin.config_hash()
    assert "ring" not in base.suite_params
    back = get_suite("ring8").resolve(lin.suite_params)
    assert back.ring == "linspace" and back.n_modes == 7
    # the default layout is the protocol's own: same key as giving no option
    (dist,) = plan(
        "ring8", ["gan"], [0], "smoke", suite_options={"protocol": "veegan", "ring": "distinct"}
    )
    assert dist.config_hash() == base.config_hash()
