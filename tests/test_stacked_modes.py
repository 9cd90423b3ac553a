"""metrics/stacked_modes.py: the mode count and KL of predicted digit triples, by hand."""

import math

import numpy as np
import pytest
import torch

from collapsebench.metrics.stacked_modes import stacked_modes


def test_stacked_modes_hand_values():
    every = np.array([[i // 100, (i // 10) % 10, i % 10] for i in range(1000)])
    r = stacked_modes(every)
    assert r["modes_covered"] == 1000 and abs(r["kl"]) < 1e-12 and r["kl_base"] == math.e

    one = np.tile([[4, 0, 7]], (50, 1))
    r = stacked_modes(one)
    assert r["modes_covered"] == 1
    assert r["kl"] == pytest.approx(6.907755278982137, rel=1e-12)  # ln 1000
    r10 = stacked_modes(one, base=10)
    assert r10["kl"] == pytest.approx(3.0, rel=1e-12) and r10["kl_base"] == 10.0

    # counts 2, 1, 1 over 3 modes: p = 1/2, 1/4, 1/4
    few = torch.tensor([[1, 2, 3], [1, 2, 3], [3, 2, 1], [0, 0, 0]])
    r = stacked_modes(few)
    assert r["modes_covered"] == 3
    assert r["kl"] == pytest.approx(0.5 * math.log(500) + 0.5 * math.log(250), rel=1e-12)
    r = stacked_modes(np.array([123, 123, 321, 0]), base="10")  # mode ids work too
    assert r["kl"] == pytest.approx(0.5 * math.log10(500) + 0.5 * math.log10(250), rel=1e-12)


def test_stacked_modes_errors():
    with pytest.raises(ValueError, match="digits 0..9"):
        stacked_modes(np.array([[1, 2, 10]]))
    with pytest.raises(ValueError, match="at least one"):
        stacked_modes(np.zeros((0, 3), np.int64))
    with pytest.raises(ValueError, match="invalid log base"):
        stacked_modes(np.array([[1, 2, 3]]), base=1)
