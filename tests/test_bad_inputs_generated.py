"""Bad inputs by kind, generated: Hypothesis writes damaged JSON run files, evaluation curves and
samples files, and every one must be read cleanly or refused in one line with exit 2, no
traceback, and the rest of the store byte for byte as it was. The hand-written table in
test_bad_inputs.py holds the cases found so far; this one looks for the next.

Size per CI run: 5 kinds (metrics.json, config.json, evals.csv, samples .npy, checkpoint
entries) x 25 examples (the derandomized seed makes the run repeatable)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from collapsebench.benchmark.cli.main import main

EXAMPLES = 25
SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

#: any JSON value, nested a little: numbers of every size and kind, text, containers
JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=10**20, max_value=10**400)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
#: what a metric's value may be damaged into: any JSON, and the numbers that break arithmetic
VALUE = st.one_of(
    st.integers(min_value=2**53, max_value=10**400),
    st.floats(allow_nan=True, allow_infinity=True),
    JSON,
)
#: a metrics file whose keys are the suite's metrics, values anything
METRICS = st.fixed_dictionaries(
    {"modes_covered": VALUE, "hq_fraction": VALUE, "diverged": JSON}, optional={"reverse_kl": VALUE}
)
#: JSON nested this deep, as text (Python's parser stops near 1,000 levels)
DEEP = st.integers(min_value=1, max_value=100_000).map(lambda n: "[" * n + "]" * n)


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("generated")
    argv = ["run", "--suite", "gaussians25", "--preset", "smoke", "--methods", "gan", "--seeds"]
    argv += ["0", "1", "--out", str(root / "runs"), "--results", str(root / "r"), "--no-progress"]
    assert main([*argv, "--no-plots"]) == 0
    return root


def _files(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def _one_line_or_ok(capsys, argv: list[str]) -> None:
    try:
        rc = main(argv)
    except SystemExit as exc:
        rc = exc.code
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err
    assert rc in (0, 2), err
    if rc == 2:
        assert len(err.splitlines()) == 1, err


def _damaged(store: Path, name: str, data: bytes, capsys) -> None:
    """Replace seed 0's ``name`` with ``data``, run `bench table`, put the file back; the other
    files must not have changed."""
    out = store / "runs"
    (run,) = (out / "gaussians25" / "gan").glob("seed0-*")
    original = (run / name).read_bytes()
    (run / name).write_bytes(data)
    before = {k: v for k, v in _files(out).items() if not k.endswith(f"{run.name}/{name}")}
    try:
        argv = ["table", "--suite", "gaussians25", "--preset", "smoke", "--methods", "gan"]
        _one_line_or_ok(
            capsys, [*argv, "--out", str(out), "--results", str(store / "t"), "--no-plots"]
        )
        after = {k: v for k, v in _files(out).items() if not k.endswith(f"{run.name}/{name}")}
        assert after == before, "the store changed"
    finally:
        (run / name).write_bytes(original)


@SETTINGS
@given(text=st.one_of(METRICS.map(json.dumps), JSON.map(json.dumps), DEEP))
def test_generated_metrics_json(store, capsys, text):
    _damaged(store, "metrics.json", text.encode(), capsys)


@SETTINGS
@given(
    data=st.one_of(
        JSON.map(json.dumps).map(str.encode), DEEP.map(str.encode), st.binary(max_size=64)
    )
)
def test_generated_config_json(store, capsys, data):
    _damaged(store, "config.json", data, capsys)


@SETTINGS
@given(
    rows=st.lists(
        st.lists(
            st.one_of(st.floats(allow_nan=True), st.integers(), st.text(max_size=4)),
            min_size=1,
            max_size=5,
        ),
        max_size=6,
    ),
    header=st.sampled_from(
        ["step,modes_covered,hq_fraction,reverse_kl,covered_mask", "step", "a,b", ""]
    ),
)
def test_generated_evals_csv(store, capsys, rows, header):
    text = header + "\n" + "\n".join(",".join(map(str, r)) for r in rows)
    _damaged(store, "evals.csv", text.encode(), capsys)


@SETTINGS
@given(
    arr=hnp.arrays(
        dtype=st.sampled_from([np.float32, np.float64, np.int64, np.uint8, np.bool_]),
        shape=hnp.array_shapes(min_dims=1, max_dims=3, min_side=0, max_side=6),
    )
)
def test_generated_samples_npy(tmp_path_factory, capsys, arr):
    path = tmp_path_factory.mktemp("npy") / "samples.npy"
    np.save(path, arr, allow_pickle=False)
    _one_line_or_ok(capsys, ["evaluate", "--suite", "gaussians25", "--samples", str(path)])
    shutil.rmtree(path.parent)


#: what a checkpoint entry may be replaced with: tensors of any dtype and shape, other types
TENSORS = hnp.arrays(
    dtype=st.sampled_from([np.float32, np.float64, np.int64, np.uint8, np.bool_]),
    shape=hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4),
).map(torch.from_numpy)
ENTRY = st.one_of(
    TENSORS,
    st.dictionaries(st.text(max_size=6), TENSORS, max_size=3),
    st.lists(st.one_of(TENSORS, st.integers(), st.text(max_size=4)), max_size=3),
    st.integers(),
    st.text(max_size=8),
    st.none(),
)
KEYS = ("step", "G", "D", "opt_g", "opt_d", "rng", "curves", "snapshots", "evals", "run")


@pytest.fixture(scope="module")
def stopped(tmp_path_factory) -> Path:
    """A store holding one gaussians25 smoke run stopped at its step-10 checkpoint."""
    from test_reliability import stop_at_first_checkpoint

    from collapsebench.benchmark.runs.planning import plan
    from collapsebench.benchmark.store.runstore import RunStore

    root = tmp_path_factory.mktemp("stopped")
    (spec,) = plan("gaussians25", ["gan"], [2], "smoke")
    run = RunStore(root / "runs").run_dir(spec)
    run.write_config(spec)
    stop_at_first_checkpoint(spec, run)
    return root / "runs"


@SETTINGS
@given(key=st.sampled_from(KEYS), value=ENTRY)
def test_generated_checkpoint_entries(stopped, tmp_path_factory, capsys, key, value):
    """One entry of a valid checkpoint replaced (CRCs valid: torch.save writes them): resuming
    trains on or refuses in one line, and a refusal leaves the store as it was."""
    out = tmp_path_factory.mktemp("resume") / "runs"
    shutil.copytree(stopped, out)
    (ckpt,) = out.rglob("checkpoint.pt")
    state = torch.load(ckpt, weights_only=True)
    state[key] = value
    torch.save(state, ckpt)
    before = _files(out)
    argv = ["run", "--suite", "gaussians25", "--preset", "smoke", "--methods", "gan", "--seeds"]
    argv += ["2", "--out", str(out), "--results", str(out.parent / "r"), "--no-progress"]
    try:
        rc = main([*argv, "--no-plots"])
    except SystemExit as exc:
        rc = exc.code
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err and rc in (0, 2), err
    if rc == 2:
        assert len(err.splitlines()) == 1, err
        assert _files(out) == before, "the store changed"
    shutil.rmtree(out.parent)
