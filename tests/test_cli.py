"""The CLI end to end on the smoke preset, and every bad input as a one-line error."""

import json

import numpy as np
import pandas as pd
import pytest

from collapsebench.benchmark.cli.main import main
from collapsebench.benchmark.suites import get_suite


def one_line_error(capsys, argv, code=2):
    """Run ``bench argv``; assert a non-zero exit and one stderr line, no traceback."""
    try:
        rc = main(argv)
    except SystemExit as exc:  # argparse errors
        rc = exc.code
    err = capsys.readouterr().err.strip()
    assert rc == code, err
    assert len(err.splitlines()) == 1, err
    assert "Traceback" not in err
    return err


def test_run_writes_table_and_figures(smoke_store, capsys):
    out, results = smoke_store
    table_dir = results / "gaussians25" / "dyngan" / "smoke"
    for name in ("table.md", "table.csv", "per_seed.csv", "samples.png", "curves.png"):
        assert (table_dir / name).stat().st_size > 0, name
    per_seed = pd.read_csv(table_dir / "per_seed.csv")
    assert sorted(zip(per_seed.method, per_seed.seed, strict=True)) == [
        ("gan", 0),
        ("gan", 1),
        ("wgan-gp", 0),
        ("wgan-gp", 1),
    ]
    text = (table_dir / "table.md").read_text()
    # published rows appear only under the protocol that produced them (pacgan, not dyngan)
    assert "under protocol dyngan" in text and "published" not in text
    assert not (table_dir / "published.md").exists()


def test_table_csv_to_stdout_matches_runs(smoke_store, capsys, tmp_path):
    out, _ = smoke_store
    rc = main(
        [
            "table",
            "--suite",
            "gaussians25",
            "--preset",
            "smoke",
            "--methods",
            "gan",
            "wgan-gp",
            "--out",
            str(out),
            "--results",
            str(tmp_path),
            "--format",
            "csv",
            "--no-plots",
        ]
    )
    assert rc == 0
    table = pd.read_csv(pd.io.common.StringIO(capsys.readouterr().out), index_col=0)
    assert str(table.loc["gan", "seeds"]) == "2"
    # the mean in the table is the mean of the two runs' metrics.json
    modes = [
        json.loads(p.read_text())["modes_covered"]
        for p in (out / "gaussians25" / "gan").glob("seed*/metrics.json")
    ]
    # mode counts print with one decimal
    assert table.loc["gan", "modes_covered"].startswith(f"{np.mean(modes):.1f}")


def test_evaluate_json_equals_run_metrics(smoke_store, capsys):
    out, _ = smoke_store
    run = next((out / "gaussians25" / "gan").glob("seed0-*"))
    rc = main(
        ["evaluate", "--suite", "gaussians25", "--samples", str(run / "samples.npy"), "--json"]
    )
    assert rc == 0
    got = json.loads(capsys.readouterr().out)
    stored = json.loads((run / "metrics.json").read_text())
    # the suite's one evaluation: every metric the run stored, and the same numbers
    assert set(got) == {*get_suite("gaussians25").evaluated_metrics, "ndb_bins"}
    assert got == {k: stored[k] for k in got}


def test_evaluate_perfect_samples(tmp_path, capsys):
    centers = get_suite("ring8").centers_array()
    path = tmp_path / "s.npy"
    np.save(path, np.repeat(centers, 10, axis=0))
    assert main(["evaluate", "--suite", "ring8", "--samples", str(path), "--json"]) == 0
    got = json.loads(capsys.readouterr().out)
    assert {k: got[k] for k in ("modes_covered", "hq_fraction", "reverse_kl")} == {
        "modes_covered": 8,
        "hq_fraction": 1.0,
        "reverse_kl": 0.0,
    }
    # 10 copies of each of the 8 centres: the Gaussian-kernel Vendi of 8 equal point masses
    # (bandwidth 3 std = 0.15, centres >= 1.53 apart) is 8
    assert got["vendi"] == pytest.approx(8.0, rel=1e-6)


def test_evaluate_within_sets_both_radii(tmp_path, capsys):
    """--within K scores with one radius of K std for high quality and coverage alike."""
    suite = get_suite("ring8").with_overrides({"protocol": "veegan"})
    assert suite.std == 0.01  # VEEGAN's ring: 3 std = 0.03, 15 std = 0.15
    c = suite.centers_array()
    near = c[0] * 1.10  # 0.10 from mode 0 along its radius: inside 0.15, outside 0.03
    far = c[4] * 0.5  # 0.5 from mode 4 and farther from the rest: inside neither
    samples = np.concatenate([np.repeat(c[2:3], 10, 0), np.repeat([near], 10, 0), [far] * 10])
    path = tmp_path / "s.npy"
    np.save(path, samples)

    argv = ["evaluate", "--suite", "ring8", "--protocol", "veegan", "--samples", str(path)]

    def scores(*extra):
        assert main([*argv, "--json", *extra]) == 0
        got = json.loads(capsys.readouterr().out)
        return got["modes_covered"], got["hq_fraction"]

    assert scores() == (1, pytest.approx(10 / 30))
    assert scores("--within", "15") == (2, pytest.approx(20 / 30))
    assert main([*argv, "--within", "15"]) == 0
    text = capsys.readouterr().out  # the text output says which radius gave its numbers
    assert "high quality within 15 std (0.15) of the nearest mode" in text
    assert "hq_fraction" in text and "30 samples" in text
    err = one_line_error(capsys, ["evaluate", "--suite", "digits", "--samples", str(path),
                                  "--within", "3"])  # fmt: skip
    assert "--within applies to toy suites" in err
    for bad in ("0", "-1", "nan", "x"):
        err = one_line_error(capsys, ["evaluate", "--suite", "ring8", "--samples", str(path),
                                      "--within", bad])  # fmt: skip
        assert "must be a positive number" in err


def test_rerun_skips_finished(smoke_store, capsys, tmp_path):
    out, _ = smoke_store
    before = {p: p.stat().st_mtime_ns for p in out.rglob("metrics.json")}
    rc = main(
        [
            "run",
            "--suite",
            "gaussians25",
            "--preset",
            "smoke",
            "--methods",
            "gan",
            "--seeds",
            "0",
            "--out",
            str(out),
            "--results",
            str(tmp_path),
            "--no-progress",
        ]
    )
    assert rc == 0
    assert "already finished" in capsys.readouterr().err
    assert before == {p: p.stat().st_mtime_ns for p in out.rglob("metrics.json")}


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["run", "--suite", "nope"], "unknown suite 'nope'; valid suites: gaussians25, ring8"),
        (["run", "--suite", "ring8", "--methods", "gan", "bogus"], "unknown method 'bogus'"),
        (["run", "--suite", "ring8", "--preset", "huge"], "unknown preset 'huge'"),
        (["run", "--suite", "ring8", "--seeds", "-1"], "bad seed '-1'"),
        (["run", "--suite", "ring8", "--seeds", "x"], "bad seed 'x'"),
        (["run", "--suite", "ring8", "--seeds", "1.5"], "bad seed '1.5'"),
        (["run", "--suite", "ring8", "--workers", "0"], "must be a positive integer"),
        (["table", "--suite", "ring8", "--format", "xls"], "invalid choice"),
        (["compare", "--suite", "ring8", "--method", "nomodule:X"], "cannot import module"),
        (["compare", "--suite", "ring8", "--method", "badpath"], "unknown method"),
        (["data", "download", "foo"], "unknown dataset 'foo'; valid datasets: cifar10"),
        (["evaluate", "--suite", "cifar9", "--samples", "x"], "valid suites for evaluate"),
    ],
)
def test_bad_arguments(capsys, argv, needle):
    assert needle in one_line_error(capsys, argv)


def test_unwritable_out(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    err = one_line_error(
        capsys,
        [
            "run",
            "--suite",
            "ring8",
            "--preset",
            "smoke",
            "--methods",
            "gan",
            "--seeds",
            "0",
            "--out",
            str(blocker / "store"),
        ],
    )
    assert "--out" in err and "is not a folder" in err


@pytest.mark.parametrize(
    ("array", "needle"),
    [
        (np.zeros((10, 3)), "shape (N, 2)"),
        (np.zeros((10, 2), dtype=np.int64), "floating point"),
        (np.array([[0.0, np.nan]]), "NaN"),
    ],
)
def test_bad_samples(tmp_path, capsys, array, needle):
    path = tmp_path / "s.npy"
    np.save(path, array)
    assert needle in one_line_error(
        capsys, ["evaluate", "--suite", "gaussians25", "--samples", str(path)]
    )


def test_samples_not_npy_or_missing(tmp_path, capsys):
    path = tmp_path / "s.npy"
    path.write_text("hello")
    assert "is not a .npy file" in one_line_error(
        capsys, ["evaluate", "--suite", "ring8", "--samples", str(path)]
    )
    assert "does not exist" in one_line_error(
        capsys, ["evaluate", "--suite", "ring8", "--samples", str(tmp_path / "none.npy")]
    )


def test_corrupted_run_directory(smoke_store, tmp_path, capsys):
    import shutil

    out = tmp_path / "store"
    shutil.copytree(smoke_store[0], out)
    bad = next((out / "gaussians25" / "wgan-gp").glob("seed1-*")) / "metrics.json"
    bad.write_text("{not json")
    others = {p: p.read_bytes() for p in out.rglob("*") if p.is_file() and p != bad}
    err = one_line_error(
        capsys,
        [
            "table",
            "--suite",
            "gaussians25",
            "--preset",
            "smoke",
            "--out",
            str(out),
            "--results",
            str(tmp_path / "r"),
        ],
    )
    assert "corrupted run directory" in err and "metrics.json" in err
    assert bad.read_text() == "{not json"
    assert others == {p: p.read_bytes() for p in others}


def test_evals_csv_with_a_row_longer_than_its_header(smoke_store, tmp_path, capsys):
    """A first data line with one field more than the header: pandas alone would read its step
    as an index and shift every value one column left; the reader refuses it in one line."""
    import shutil

    out = tmp_path / "store"
    shutil.copytree(smoke_store[0], out)
    bad = next((out / "gaussians25" / "gan").glob("seed0-*")) / "evals.csv"
    lines = bad.read_text().splitlines()
    lines[1] += ",7"
    bad.write_text("\n".join(lines) + "\n")
    width = len(lines[0].split(","))
    argv = ["table", "--suite", "gaussians25", "--preset", "smoke", "--out", str(out)]
    err = one_line_error(capsys, [*argv, "--results", str(tmp_path / "r")])
    assert "corrupted run directory" in err and "evals.csv" in err
    assert f"line 2 has {width + 1} fields, its header {width}" in err


def test_table_without_store(tmp_path, capsys):
    assert "does not exist" in one_line_error(
        capsys, ["table", "--suite", "ring8", "--out", str(tmp_path / "none")]
    )


def test_list(capsys):
    """Each suite, protocol and method is the first word of its own line in its section (a
    substring check would let "wgan-gp" stand in for "gan")."""
    from collapsebench.baselines import REGISTRY
    from collapsebench.benchmark.suites import SUITES
    from collapsebench.benchmark.suites.protocols import PROTOCOLS

    assert main(["list"]) == 0
    sections: dict[str, set[str]] = {}
    current = None
    out = capsys.readouterr().out
    # DynGAN's source evaluates 10,000 samples; every smoke preset 1,000 (a quick check)
    assert "preset default  30,000 generator steps, batch 128, 10,000 evaluation samples" in out
    assert "preset long     100,000 generator steps, batch 128, 10,000 evaluation samples" in out
    assert out.count("preset smoke    30 generator steps") == len(PROTOCOLS)
    assert out.count(", 1,000 evaluation samples") == len(PROTOCOLS)
    for line in out.splitlines():
        if not line.startswith(" "):
            current = line.split(" ")[0].rstrip(":")
            sections[current] = set()
        elif line.startswith("  ") and not line.startswith("   "):
            sections[current].add(line.split()[0])
    assert sections["suites"] == set(SUITES)
    assert sections["protocols"] == set(PROTOCOLS)
    assert sections["methods"] == set(REGISTRY)
