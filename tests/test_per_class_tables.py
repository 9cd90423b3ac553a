"""The per-class tables' mean over classes while some classes are still training, and the
per-class figure: hand-built runs with hand-worked means and standard deviations."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from collapsebench.benchmark.report.image_plots import (
    REAL,
    per_class_figure,
    per_class_summary,
)
from collapsebench.benchmark.report.image_tables import complete_classes, per_class_table


def _run(method, cls, seed, **values):
    return {"method": method, "class": cls, "seed": seed, **values}


def _partial_store() -> pd.DataFrame:
    """gan has both classes and both seeds; wgan has airplane on both seeds and bird on seed 0
    only (bird's seed 1 is still training)."""
    return pd.DataFrame(
        [
            _run("gan", "airplane", 0, ms_ssim=0.10, ms_ssim_real=0.05),
            _run("gan", "airplane", 1, ms_ssim=0.20, ms_ssim_real=0.05),
            _run("gan", "bird", 0, ms_ssim=0.30, ms_ssim_real=0.07),
            _run("gan", "bird", 1, ms_ssim=0.50, ms_ssim_real=0.07),
            _run("wgan", "airplane", 0, ms_ssim=0.40, ms_ssim_real=0.05),
            _run("wgan", "airplane", 1, ms_ssim=0.60, ms_ssim_real=0.05),
            _run("wgan", "bird", 0, ms_ssim=0.70, ms_ssim_real=0.07),
        ]
    )


def test_the_mean_over_classes_covers_only_classes_every_method_and_seed_has():
    df = _partial_store()
    assert complete_classes(df) == ["airplane"]
    t = per_class_table(df, "ms_ssim", ["gan", "wgan"], "greed-cifar10")
    mean = t.loc["mean over classes"]
    # over airplane only: gan 0.10, 0.20 -> 0.15 ± sqrt(0.005); wgan 0.40, 0.60 -> 0.50 ± 0.1414
    # (averaging bird in would give gan 0.275 and wgan seed 0 alone a bird: 0.55)
    assert mean["gan"].startswith(f"0.1500 ± {math.sqrt(0.005):.4f}")
    assert mean["wgan"].startswith("0.5000 ± 0.1414")
    # the published and real-data means over the same class: the greed paper's Table 2
    # airplane cells (DCGAN 0.1116, WGAN 0.0899) and the real airplane value
    assert mean["DCGAN (greed paper, published)"] == "0.1116"
    assert mean["WGAN (greed paper, published)"] == "0.0899"
    assert mean["real data (ground truth)"] == "0.0500"
    # the classes themselves are still shown, each from its own runs
    assert t.loc["bird", "wgan"].startswith("0.7000")
    assert t.loc["bird", "gan"].startswith(f"0.4000 ± {math.sqrt(0.02):.4f}")


def test_with_no_complete_class_the_mean_row_is_empty():
    df = _partial_store()
    df = df[~((df["method"] == "wgan") & (df["class"] == "airplane") & (df["seed"] == 1))]
    assert complete_classes(df) == []
    t = per_class_table(df, "ms_ssim", ["gan", "wgan"], None)
    assert t.loc["mean over classes", "gan"] == "" and t.loc["mean over classes", "wgan"] == ""


def test_per_class_summary_is_each_methods_mean_and_std_over_seeds():
    df = _partial_store().assign(collapsed_share=[0.0, 0.5, 0.25, 0.25, np.nan, 1.0, 0.0])
    s = per_class_summary(df, ["ms_ssim", "collapsed_share", "fid"], ["gan", "wgan"])
    assert set(s["metric"]) == {"ms_ssim", "collapsed_share"}  # no fid in these runs
    at = s.set_index(["metric", "class", "method"])
    assert at.loc[("ms_ssim", "bird", "gan"), "mean"] == pytest.approx(0.40)
    assert at.loc[("ms_ssim", "bird", "gan"), "std"] == pytest.approx(math.sqrt(0.02))
    assert at.loc[("ms_ssim", "bird", "wgan"), ["mean", "std", "n"]].tolist() == [0.70, 0.0, 1]
    assert at.loc[("ms_ssim", "bird", REAL), "mean"] == pytest.approx(0.07)
    # a diverged run (NaN) is left out of n
    assert at.loc[("collapsed_share", "airplane", "wgan"), ["mean", "n"]].tolist() == [1.0, 1]
    assert (("collapsed_share", "airplane", REAL) in at.index) is False


def test_per_class_figure_draws_the_summary_in_the_tables_units(tmp_path):
    df = _partial_store().assign(collapsed_share=[0.0, 0.5, 0.25, 0.25, 0.2, 0.4, 0.0])
    s = per_class_summary(df, ["ms_ssim", "collapsed_share"], ["gan", "wgan"])
    drawn = per_class_figure(s, tmp_path / "per_class.png")
    assert (tmp_path / "per_class.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    (ms_gan, ms_wgan), (share_gan, share_wgan) = drawn
    # classes along x in the table's order (airplane, bird), methods side by side
    np.testing.assert_allclose(ms_gan[1], [0.15, 0.40])
    np.testing.assert_allclose(ms_wgan[1], [0.50, 0.70])
    assert ms_gan[0][0] < ms_wgan[0][0] < ms_gan[0][1] < ms_wgan[0][1]
    # a share is drawn in percent, as the tables print it
    np.testing.assert_allclose(share_gan[1], [25.0, 25.0])
    np.testing.assert_allclose(share_wgan[1], [30.0, 0.0])
