"""Collapse over training, on constructed curves whose answers are worked by hand, and through
`bench table` on runs whose evaluation curves are written by hand."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from collapsebench.metrics.collapse_dynamics import lost_modes, mode_dynamics
from collapsebench.metrics.coverage import mode_coverage


def test_mode_loss_events_count_each_mode_lost_between_consecutive_evaluations():
    # modes {0, 1, 2} -> {0, 3} -> {0, 1, 3} -> {1}: lost 1 and 2, then none, then 0 and 3
    masks = [0b0111, 0b1001, 0b1011, 0b0010]
    assert lost_modes(np.array(masks)) == 4
    # the counts 3, 2, 3, 1 drop by only 1 + 2 = 3: a swap (2 lost, 3 found) hides one loss
    d = mode_dynamics(np.arange(4), np.array([3, 2, 3, 1]), 4)
    assert d["mode_loss_events"] == 3
    assert (
        mode_dynamics(np.arange(4), np.array([3, 2, 3, 1]), 4, np.array(masks))["mode_loss_events"]
        == 4
    )


def test_the_four_measures_of_a_hand_built_curve():
    """8 evaluations of a 4-mode mixture, counts 1, 4, 4, 2, 4, 3, 4, 4 at steps 100..800."""
    steps = np.arange(100, 900, 100)
    modes = np.array([1, 4, 4, 2, 4, 3, 4, 4])
    d = mode_dynamics(steps, modes, n_modes=4)
    assert d["modes_min_last_half"] == 3  # last half: 4, 3, 4, 4
    assert d["mode_loss_events"] == 2 + 1  # 4 -> 2 and 4 -> 3
    assert d["full_coverage_share"] == 5 / 8
    assert d["first_full_coverage_step"] == 200
    # out of step order, and with a diverged (NaN) point, it reads the same curve
    shuffled = np.r_[steps[::-1], 850]
    d2 = mode_dynamics(shuffled, np.r_[modes[::-1], np.nan], n_modes=4)
    assert d2 == d
    never = mode_dynamics(steps, np.full(8, 3), n_modes=4)
    assert math.isnan(never["first_full_coverage_step"]) and never["full_coverage_share"] == 0
    with pytest.raises(ValueError, match="one entry per evaluation"):
        mode_dynamics(steps, modes[:-1], 4)


def test_coverage_records_which_modes_are_covered():
    """Centres (0, 0), (10, 0), (0, 10); std 1: samples near the first and the third only."""
    centers = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    samples = np.array([[0.5, 0.0], [0.0, 9.0], [5.0, 5.0]])
    cov = mode_coverage(samples, centers, 1.0)
    assert cov.modes_covered == 2 and cov.covered_mask == 0b101
    any_rule = mode_coverage(samples, centers, 1.0, covered_within=1.0, covered_rule="any")
    assert any_rule.covered_mask == 0b101  # (0, 9) is 1.0 from (0, 10): within 1 std


def test_bench_table_reports_the_measures_from_the_stored_curves(tmp_path, capsys):
    """Two finished smoke runs, their evals.csv replaced by hand-built curves: the table's
    collapse-over-training columns are those curves' measures, averaged over the seeds."""
    from collapsebench.benchmark.cli.main import main

    out, res = tmp_path / "runs", tmp_path / "results"
    base = ["--suite", "ring8", "--protocol", "veegan", "--preset", "smoke", "--methods", "gan"]
    base += ["--out", str(out), "--results", str(res), "--no-plots"]
    assert main(["run", *base, "--seeds", "0", "1", "--no-progress"]) == 0
    runs = sorted((out / "ring8" / "gan").glob("seed*"))
    curves = {
        0: [(10, 8, 0xFF), (20, 7, 0x7F), (30, 8, 0xFF), (40, 8, 0xFF)],  # 1 loss, 3/4 full
        1: [(10, 2, 0x03), (20, 4, 0x0F), (30, 3, 0x0E), (40, 8, 0xFF)],  # 1 loss, 1/4 full
    }
    for run, (seed, rows) in zip(runs, curves.items(), strict=True):
        assert run.name.startswith(f"seed{seed}-")
        df = pd.DataFrame(rows, columns=["step", "modes_covered", "covered_mask"])
        df.insert(2, "hq_fraction", 0.5)
        df.insert(3, "reverse_kl", 0.1)
        df.to_csv(run / "evals.csv", index=False)
    capsys.readouterr()
    assert main(["table", *base]) == 0
    per_seed = pd.read_csv(res / "ring8" / "veegan" / "smoke" / "per_seed.csv")
    by_seed = per_seed.set_index("seed")
    assert by_seed.loc[0, "mode_loss_events"] == 1 and by_seed.loc[1, "mode_loss_events"] == 1
    assert by_seed.loc[0, "full_coverage_share"] == 0.75
    assert by_seed.loc[1, "full_coverage_share"] == 0.25
    assert by_seed.loc[0, "modes_min_last_half"] == 8 and by_seed.loc[1, "modes_min_last_half"] == 3
    assert by_seed.loc[0, "first_full_coverage_step"] == 10
    assert by_seed.loc[1, "first_full_coverage_step"] == 40
    table = (res / "ring8" / "veegan" / "smoke" / "table.md").read_text()
    row = next(line for line in table.splitlines() if line.startswith("| gan "))
    assert "50.0 ± 35.4" in row  # full coverage share: 75 % and 25 %
