"""Finished runs evaluated before a metric existed get it from their stored samples."""

import json

import numpy as np
import pytest

from collapsebench.benchmark.errors import BenchError
from collapsebench.benchmark.runs.planning import plan
from collapsebench.benchmark.runs.reevaluate import complete_evaluations, missing_metrics
from collapsebench.benchmark.runs.runner import execute
from collapsebench.benchmark.store.runstore import RunStore
from collapsebench.benchmark.suites import get_suite
from collapsebench.metrics import diversity


def test_old_run_gains_the_new_metrics_and_keeps_its_own(tmp_path):
    (spec,) = plan("gaussians25", ["gan"], [0], "smoke")
    store = RunStore(tmp_path)
    execute(store, [spec], progress=False)
    run = store.run_dir(spec)
    full = json.loads((run.path / "metrics.json").read_text())
    new = get_suite("gaussians25").diversity_names
    assert set(new) <= set(full)
    # a run finished before the diversity metrics existed: its metrics.json lacks them
    old = {k: v for k, v in full.items() if k not in (*new, "ndb_bins")}
    old["modes_covered"] = 7  # its own numbers are kept as they are, never recomputed
    (run.path / "metrics.json").write_text(json.dumps(old))
    assert missing_metrics(store, spec) == list(new)
    assert complete_evaluations(store, [spec]) == 1
    after = json.loads((run.path / "metrics.json").read_text())
    assert after["modes_covered"] == 7
    assert {k: after[k] for k in new} == {k: full[k] for k in new}
    # the added numbers are the metrics of the stored samples, computed independently here
    samples = np.load(run.path / "samples.npy")
    assert after["vendi"] == pytest.approx(
        diversity.vendi_score(
            samples[:2000], "gaussian", bandwidth=3 * get_suite("gaussians25").std
        )
    )
    assert complete_evaluations(store, [spec]) == 0  # nothing left to add


def test_a_metric_is_never_replaced(tmp_path):
    (spec,) = plan("gaussians25", ["gan"], [0], "smoke")
    store = RunStore(tmp_path)
    execute(store, [spec], progress=False)
    with pytest.raises(BenchError, match="already has density"):
        store.run_dir(spec).add_metrics({"density": 0.0})


def test_table_says_which_runs_lack_metrics_and_how_to_add_them(tmp_path, capsys):
    from collapsebench.benchmark.cli.main import main

    base = [
        "--suite",
        "ring8",
        "--preset",
        "smoke",
        "--out",
        str(tmp_path / "runs"),
        "--results",
        str(tmp_path / "res"),
    ]
    assert main(["run", *base, "--methods", "gan", "--seeds", "0", "--no-progress"]) == 0
    (metrics,) = list((tmp_path / "runs").rglob("metrics.json"))
    m = json.loads(metrics.read_text())
    metrics.write_text(json.dumps({k: v for k, v in m.items() if k != "vendi"}))
    capsys.readouterr()
    assert main(["table", *base, "--methods", "gan", "--no-plots"]) == 0
    err = capsys.readouterr().err
    assert "1 runs lack vendi" in err and "`bench run` with the same options" in err
    assert main(["run", *base, "--methods", "gan", "--seeds", "0", "--no-progress"]) == 0
    assert json.loads(metrics.read_text())["vendi"] == m["vendi"]
