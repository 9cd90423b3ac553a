"""Calibrated mode counts for the stacked suites: the counting rule on real stacks with a known
number of distinct triples, the minimum-count rule on hand-built predictions, and the CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from collapsebench.benchmark.cli.main import main
from collapsebench.benchmark.suites.calibration import real_stacks
from collapsebench.metrics import digits_classifier as dc
from collapsebench.metrics.stacked_modes import stacked_modes


def test_min_count_rule_on_hand_built_predictions():
    # triple 123 seen 3 times, 456 twice, 789 once: 3 modes by any sample, 2 at >= 2, 1 at >= 3
    pred = np.array([[1, 2, 3]] * 3 + [[4, 5, 6]] * 2 + [[7, 8, 9]])
    assert [stacked_modes(pred, min_count=k)["modes_covered"] for k in (1, 2, 3, 4)] == [3, 2, 1, 0]
    # KL is over all samples whatever the rule: p = (1/2, 1/3, 1/6) against 1/1000
    p = np.array([1 / 2, 1 / 3, 1 / 6])
    expected = float(np.sum(p * np.log(1000 * p)))
    assert stacked_modes(pred, min_count=3)["kl"] == pytest.approx(expected)


def test_real_stacks_hold_exactly_k_triples_of_real_digits():
    images, labels = dc.load_digits_images(32)
    lookup = {images[i, 0].numpy().tobytes(): int(labels[i]) for i in range(len(images))}
    stacks, ids = real_stacks(images, labels, 37, 2000, seed=3)
    assert stacks.shape == (2000, 3, 32, 32) and stacks.dtype == torch.uint8
    assert len(np.unique(ids)) == 37
    # every channel is a dataset image whose label is that channel's digit of the triple
    truth = np.array([[lookup[s[c].numpy().tobytes()] for c in range(3)] for s in stacks[:300]])
    assert np.array_equal(truth[:, 0] * 100 + truth[:, 1] * 10 + truth[:, 2], ids[:300])


@pytest.mark.slow
def test_calibrated_rule_counts_37_triples_as_37_to_44(tmp_path, capsys):
    """Real stacks of 37 distinct triples through `bench evaluate`: the published rule counts
    many more (classifier errors add modes); the calibrated rule counts 37-44."""
    images, labels = dc.load_digits_images(32)
    stacks, _ = real_stacks(images, labels, 37, 4000, seed=1)
    path = tmp_path / "stacks.npy"
    np.save(path, stacks.numpy())
    base = ["evaluate", "--suite", "stacked-digits", "--samples", str(path), "--json"]
    assert main(base) == 0
    published = json.loads(capsys.readouterr().out)[0]
    assert main([*base, "--min-count", "10", "--counter", "digits-cnn-aug"]) == 0
    calibrated = json.loads(capsys.readouterr().out)[0]
    assert published["modes_covered"] > 44 and published["min_count"] == 1
    assert 37 <= calibrated["modes_covered"] <= 44
    assert calibrated["classifier"] == "digits-cnn-aug" and calibrated["min_count"] == 10
    assert calibrated["classifier_accuracy"] > published["classifier_accuracy"]
