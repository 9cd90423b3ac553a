"""``--batch-size N``: a toy run trained with batches of N instead of its protocol's, its own run
and its own results folder; checked against the protocol's presets field by field."""

from __future__ import annotations

import dataclasses
import json

import pytest

from collapsebench.benchmark.errors import BenchError
from collapsebench.benchmark.runs.planning import plan
from collapsebench.benchmark.suites import get_suite
from collapsebench.benchmark.suites.protocols import get_protocol

VEEGAN = {"protocol": "veegan"}


def test_every_preset_takes_the_batch_and_keeps_the_rest():
    suite = get_suite("ring8").with_overrides(VEEGAN | {"batch_size": 500})
    own = get_protocol("veegan").presets
    assert set(suite.presets) == set(own)
    for name, tc in suite.presets.items():
        assert tc.batch_size == 500
        # every other field as the protocol sets it
        theirs = dataclasses.asdict(own[name])
        assert dataclasses.asdict(tc) == theirs | {"batch_size": 500}
    # no option: the protocol's own presets, whose batches differ from preset to preset
    gan_toy = get_suite("gaussians25").with_overrides({"protocol": "gan-toy"})
    assert gan_toy.presets == get_protocol("gan-toy").presets
    assert {k: tc.batch_size for k, tc in gan_toy.presets.items()} == {
        "smoke": 64,
        "default": 100,
        "paper": 256,
    }


def test_the_batch_is_in_the_run_key_not_in_the_suite_params():
    (base,) = plan("ring8", ["gan"], [0], "smoke", suite_options=VEEGAN)
    (b7,) = plan("ring8", ["gan"], [0], "smoke", suite_options=VEEGAN | {"batch_size": 7})
    assert b7.train.batch_size == 7 and base.train.batch_size == 512
    assert b7.config_hash() != base.config_hash()
    assert b7.suite_params == base.suite_params
    # the protocol's own batch, named: the same runs as no option
    (same,) = plan("ring8", ["gan"], [0], "smoke", suite_options=VEEGAN | {"batch_size": 512})
    assert same.config_hash() == base.config_hash()


def test_a_batch_given_is_always_named_and_checked():
    s = get_suite("ring8")
    given = {"protocol": "veegan", "update_order": None, "ring": None, "nets": None}
    assert s.command_options(given | {"batch_size": None}) == {"protocol": "veegan"}
    assert s.command_options(given | {"batch_size": 500}) == VEEGAN | {"batch_size": 500}
    with pytest.raises(BenchError, match="toy suites only"):
        get_suite("digits-perclass").command_options({"batch_size": 64})
    # bench variants hands its values over as text
    assert s.with_overrides(VEEGAN | {"batch_size": "500"}).presets["default"].batch_size == 500
    for bad in (0, -3, 1_000_001, 2.5, True, "x", "5e2", "-5", ""):
        with pytest.raises(BenchError, match="whole number from 1 to 1,000,000"):
            s.with_overrides(VEEGAN | {"batch_size": bad})


def test_bench_run_with_a_batch_size_trains_it_and_names_it(tmp_path, capsys):
    from collapsebench.benchmark.cli.main import main

    out, res = tmp_path / "runs", tmp_path / "results"
    common = ["--suite", "ring8", "--protocol", "veegan", "--preset", "smoke", "--methods", "gan"]
    common += ["--seeds", "0", "--out", str(out), "--results", str(res)]
    assert main(["run", *common, "--batch-size", "7", "--no-progress"]) == 0
    (run,) = (out / "ring8" / "gan").iterdir()
    assert json.loads((run / "config.json").read_text())["train"]["batch_size"] == 7
    folder = res / "ring8" / "veegan" / "smoke" / "batch_size-7"
    assert "trained with --batch-size 7" in (folder / "table.md").read_text()
    # the same run at the protocol's own batch is another run, still to train; at batch 7 the
    # store already has it
    capsys.readouterr()
    assert main(["run", *common, "--dry-run"]) == 0
    assert "0 finished, 0 resuming from a checkpoint, 1 new" in capsys.readouterr().out
    assert main(["run", *common, "--batch-size", "7", "--dry-run"]) == 0
    assert "1 finished, 0 resuming from a checkpoint, 0 new" in capsys.readouterr().out
