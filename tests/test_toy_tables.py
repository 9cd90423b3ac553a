"""What a toy table says about the runs in a cell: diverged runs are counted, not hidden."""

from __future__ import annotations

import numpy as np
import pandas as pd

from collapsebench.benchmark.report.tables import display_table, diverged_counts, summary


def test_a_diverged_run_is_counted_in_its_row():
    """gan: seeds 0 and 1 finished (4 and 6 modes), seed 2 diverged (NaN metrics)."""
    df = pd.DataFrame(
        {
            "method": ["gan", "gan", "gan", "wgan"],
            "seed": [0, 1, 2, 0],
            "modes_covered": [4.0, 6.0, np.nan, 8.0],
            "diverged": [False, False, True, False],
        }
    )
    assert diverged_counts(df) == {"gan": 1}
    table = display_table(
        summary(df, ["modes_covered"], ["gan", "wgan"]),
        ["modes_covered"],
        diverged=diverged_counts(df),
    )
    assert table.loc["gan", "modes_covered"] == "5.0 ± 1.4"  # mean of 4 and 6, std sqrt(2)
    assert table.loc["gan", "seeds"] == "2 (+1 diverged)"
    assert table.loc["wgan", "seeds"] == "1"
