"""Committed run records rebuild the committed tables beside them.

The committed per_seed.csv and table.md were written from the training store (weights and
samples included); the records beside them carry only config, metrics and curves. A change to how
tables or the collapse-over-training columns are computed that would silently alter published
numbers fails here; and the collapse-over-training columns are recounted from each record's
sets of covered modes, a second implementation of the rule.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

from collapsebench.benchmark.cli.main import main

RESULTS = Path(__file__).resolve().parents[1] / "results"


@dataclass(frozen=True)
class RecordSet:
    """One committed table and the run records it was built from."""

    suite: str
    protocol: str
    preset: str
    folder: Path  # the committed table; its records are in ``folder / "runs"``
    methods: tuple[str, ...]
    seeds: tuple[int, ...]
    n_modes: int
    n_evals: int


RECORD_SETS = (
    # ring8's 30,000-step dyngan table: every method, 3 seeds, 20 evaluations a run
    RecordSet(
        "ring8",
        "dyngan",
        "default",
        RESULTS / "ring8" / "dyngan" / "default",
        tuple(
            "gan pacgan2 pacgan3 pacgan4 lsgan greed-gan dyngan scgan unrolled-gan wgan wgan-gp "
            "sngan curriculum-wgan-gp greed-wgan".split()
        ),
        (0, 1, 2),
        8,
        20,
    ),
    # Unrolled GAN seeds 0 and 3 on the grid for 100,000 steps: 200 evaluations a run
    *(
        RecordSet(
            "gaussians25",
            "veegan",
            "long",
            RESULTS / "gaussians25" / "veegan" / "long" / "unrolled-gan" / f"seed{seed}",
            ("unrolled-gan",),
            (seed,),
            25,
            200,
        )
        for seed in (0, 3)
    ),
)
IDS = [f"{r.suite}-{r.protocol}-{r.preset}-seeds{'-'.join(map(str, r.seeds))}" for r in RECORD_SETS]


@pytest.mark.parametrize("rs", RECORD_SETS, ids=IDS)
def test_records_rebuild_the_committed_table(rs: RecordSet, tmp_path, capsys):
    res = tmp_path / "results"
    argv = ["table", "--suite", rs.suite, "--protocol", rs.protocol, "--preset", rs.preset]
    argv += ["--methods", *rs.methods, "--seeds", *map(str, rs.seeds)]
    argv += ["--out", str(rs.folder / "runs"), "--results", str(res), "--no-plots"]
    assert main(argv) == 0
    capsys.readouterr()
    built = res / rs.suite / rs.protocol / rs.preset
    pd.testing.assert_frame_equal(
        pd.read_csv(built / "per_seed.csv"), pd.read_csv(rs.folder / "per_seed.csv")
    )
    assert (built / "table.md").read_text() == (rs.folder / "table.md").read_text()


def _by_hand(evals: pd.DataFrame, n_modes: int) -> dict[str, float]:
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


@pytest.mark.parametrize("rs", RECORD_SETS, ids=IDS)
def test_collapse_columns_equal_a_recount_from_the_records(rs: RecordSet):
    per_seed = pd.read_csv(rs.folder / "per_seed.csv").set_index(["method", "seed"])
    n = 0
    for evals_csv in sorted((rs.folder / "runs").glob(f"{rs.suite}/*/seed*/evals.csv")):
        config = json.loads((evals_csv.parent / "config.json").read_text())
        method, seed = config["method"], config["seed"]
        evals = pd.read_csv(evals_csv)
        assert len(evals) == rs.n_evals  # the preset's evaluations, evenly spaced
        row = per_seed.loc[(method, seed)]
        for key, value in _by_hand(evals, rs.n_modes).items():
            assert row[key] == pytest.approx(value), (method, seed, key)
        n += 1
    assert n == len(rs.methods) * len(rs.seeds)
