"""The committed run records of ring8's 30,000-step `dyngan` table rebuild the committed table.

The committed per_seed.csv and table.md were written from the training store (weights and
samples included); the records beside them carry only config, metrics and curves. A change to how
tables or the collapse-over-training columns are computed that would silently alter published
numbers fails here; and the collapse-over-training columns are recounted from each record's
sets of covered modes, a second implementation of the rule.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from collapsebench.benchmark.cli.main import main

COMMITTED = Path(__file__).resolve().parents[1] / "results" / "ring8" / "dyngan" / "default"
RECORDS = COMMITTED / "runs"
METHODS = (
    "gan pacgan2 pacgan3 pacgan4 lsgan greed-gan dyngan scgan unrolled-gan wgan wgan-gp sngan "
    "curriculum-wgan-gp greed-wgan"
).split()


def test_records_rebuild_the_committed_table(tmp_path, capsys):
    res = tmp_path / "results"
    argv = ["table", "--suite", "ring8", "--protocol", "dyngan", "--preset", "default"]
    argv += ["--methods", *METHODS, "--seeds", "0", "1", "2"]
    argv += ["--out", str(RECORDS), "--results", str(res), "--no-plots"]
    assert main(argv) == 0
    capsys.readouterr()
    built = res / "ring8" / "dyngan" / "default"
    pd.testing.assert_frame_equal(
        pd.read_csv(built / "per_seed.csv"), pd.read_csv(COMMITTED / "per_seed.csv")
    )
    assert (built / "table.md").read_text() == (COMMITTED / "table.md").read_text()


def _by_hand(evals: pd.DataFrame, n_modes: int = 8) -> dict[str, float]:
    """Collapse over training recounted from each evaluation's set of covered modes."""
    evals = evals.sort_values("step")
    covered = [{i for i in range(n_modes) if int(m) >> i & 1} for m in evals["covered_mask"]]
    counts = list(evals["modes_covered"])
    assert counts == [len(c) for c in covered]  # the mask and the count tell one story
    half = counts[len(counts) // 2 :]
    lost = sum(len(a - b) for a, b in zip(covered[:-1], covered[1:], strict=True))
    return {
        "modes_min_last_half": float(min(half)),
        "mode_loss_events": float(lost),
        "full_coverage_share": counts.count(n_modes) / len(counts),
    }


def test_collapse_columns_equal_a_recount_from_the_records():
    per_seed = pd.read_csv(COMMITTED / "per_seed.csv").set_index(["method", "seed"])
    n = 0
    for evals_csv in sorted(RECORDS.glob("ring8/*/seed*/evals.csv")):
        config = json.loads((evals_csv.parent / "config.json").read_text())
        method, seed = config["method"], config["seed"]
        evals = pd.read_csv(evals_csv)
        assert len(evals) == 20  # one evaluation every 1,500 of 30,000 steps
        row = per_seed.loc[(method, seed)]
        for key, value in _by_hand(evals).items():
            assert row[key] == pytest.approx(value), (method, seed, key)
        n += 1
    assert n == 42
