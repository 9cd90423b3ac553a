"""Every run key the harness computed before a change stays what it was: tests/data/run_keys.json
holds the config hash of every (suite, protocol, preset, method) of the built-in methods, as the
code computed them when the file was written. A change that moves one orphans stored runs (they
would train again under a new key), so it must be deliberate: rewrite the file in the same
commit and say why."""

from __future__ import annotations

import json
from pathlib import Path

from collapsebench.benchmark.runs.planning import config_hashes
from collapsebench.benchmark.suites import SUITES

RECORDED = json.loads((Path(__file__).parent / "data" / "run_keys.json").read_text())


def _current() -> dict[str, str]:
    methods = sorted({key.rsplit("/", 1)[1] for key in RECORDED})
    out = {}
    for name, suite in SUITES.items():
        if suite.kind == "toy":
            for protocol in ("dyngan", "pacgan", "gan-toy"):
                opts = {"protocol": protocol}
                for preset in suite.with_overrides(opts).presets:
                    for m, h in config_hashes(name, methods, preset, opts):
                        out[f"{name}/{protocol}/{preset}/{m}"] = h
        else:
            for preset in suite.presets:
                for m, h in config_hashes(name, methods, preset, {}):
                    out[f"{name}/{preset}/{m}"] = h
    return out


def test_every_recorded_run_key_is_unchanged():
    current = _current()
    moved = {k: (v, current.get(k)) for k, v in RECORDED.items() if current.get(k) != v}
    assert not moved, f"{len(moved)} run keys moved, e.g. {sorted(moved.items())[:3]}"
    assert len(RECORDED) == 574
