"""`--executor slurm`'s options: flags over a JSON file, and every bad one a single line (exit 2)
before any work; no Slurm needed."""

from __future__ import annotations

import json

import pytest

from collapsebench.benchmark.cli.main import main
from collapsebench.benchmark.runs.slurm_executor import SlurmOptions, load_options

pytest.importorskip("submitit", reason="submitit is not installed (extra: slurm)")

RUN = ["run", "--suite", "gaussians25", "--preset", "smoke", "--no-progress"]


def test_flags_override_the_config_file_and_sbatch_options_merge(tmp_path):
    cfg = tmp_path / "slurm.json"
    cfg.write_text(json.dumps({"partition": "cpu", "time": 240, "sbatch": {"qos": "low"}}))
    opts = load_options(str(cfg), {"time": 30, "sbatch": {"account": "lab"}, "partition": None})
    assert opts == SlurmOptions(partition="cpu", time=30, sbatch={"qos": "low", "account": "lab"})


@pytest.mark.parametrize(
    "extra, config, expected",
    [
        (["--slurm-time", "5"], None, "apply to --executor slurm only"),
        (["--executor", "slurm", "--slurm-option", "qos"], None, "write KEY=VALUE"),
        (["--executor", "slurm"], {"partition": 3}, "partition must be a string"),
        (["--executor", "slurm"], {"tiem": 5}, "unknown keys ['tiem']"),
        (["--executor", "slurm"], {"cpus_per_task": 0}, "cpus_per_task must be a positive"),
        (["--executor", "slurm"], "not json", "not a readable JSON object"),
    ],
)
def test_bad_slurm_options_are_one_line_and_touch_nothing(
    tmp_path, capsys, extra, config, expected
):
    if config is not None:
        cfg = tmp_path / "slurm.json"
        cfg.write_text(config if isinstance(config, str) else json.dumps(config))
        extra = [*extra, "--slurm-config", str(cfg)]
    out = tmp_path / "runs"
    assert main([*RUN, "--out", str(out), *extra]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and expected in err, err
    assert not out.exists()
