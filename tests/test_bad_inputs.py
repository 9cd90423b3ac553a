"""Every bad input is one line on stderr, exit 2, no traceback, and the run store byte for byte
as it was: a table of over 100 wrong command lines and damaged store files across run, table,
evaluate, compare, check, critic, variants, perf and data."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch

from collapsebench.benchmark.cli.main import main

STORE_METHODS = ("gan", "wgan")


@pytest.fixture(scope="module")
def pristine(tmp_path_factory) -> Path:
    """A store with finished gaussians25 smoke runs (gan, wgan; seeds 0, 1) and one run of
    seed 2 stopped at its first checkpoint."""
    from test_reliability import stop_at_first_checkpoint

    from collapsebench.benchmark.runs.planning import plan
    from collapsebench.benchmark.store.runstore import RunStore

    root = tmp_path_factory.mktemp("bad-inputs")
    out = root / "runs"
    argv = ["run", "--suite", "gaussians25", "--preset", "smoke", "--methods", *STORE_METHODS]
    argv += ["--seeds", "0", "1", "--out", str(out), "--results", str(root / "results")]
    assert main([*argv, "--no-progress"]) == 0
    (spec,) = plan("gaussians25", ["gan"], [2], "smoke")
    run = RunStore(out).run_dir(spec)
    run.write_config(spec)
    stop_at_first_checkpoint(spec, run)
    return root


@dataclass
class Env:
    root: Path

    @property
    def out(self) -> Path:
        return self.root / "runs"

    def run_dir(self, method="gan", seed=0) -> Path:
        (path,) = (self.out / "gaussians25" / method).glob(f"seed{seed}-*")
        return path

    def file(self, name: str, data: bytes | str) -> str:
        p = self.root / "inputs" / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data.encode() if isinstance(data, str) else data)
        return str(p)

    def npy(self, name: str, arr) -> str:
        p = self.root / "inputs" / name
        p.parent.mkdir(parents=True, exist_ok=True)
        np.save(p, arr, allow_pickle=True)
        return str(p)


Argv = Callable[[Env], list[str]]
CASES: list[tuple[str, Argv, Callable[[Env], None] | None]] = []


def case(name: str, argv: Argv, damage: Callable[[Env], None] | None = None) -> None:
    CASES.append((name, argv, damage))


def run_(*extra: str, suite="gaussians25", methods=("gan",), preset="smoke") -> Argv:
    return lambda e: [
        "run", "--suite", suite, "--preset", preset, "--methods", *methods, "--out", str(e.out),
        "--results", str(e.root / "results"), "--no-progress", *extra,
    ]  # fmt: skip


def table_(*extra: str, suite="gaussians25") -> Argv:
    return lambda e: [
        "table", "--suite", suite, "--preset", "smoke", "--methods", *STORE_METHODS,
        "--out", str(e.out), "--results", str(e.root / "results"), *extra,
    ]  # fmt: skip


def evaluate_(samples: Callable[[Env], str], suite="gaussians25", *extra: str) -> Argv:
    return lambda e: ["evaluate", "--suite", suite, "--samples", samples(e), *extra]


def compare_(*extra: str) -> Argv:
    return lambda e: [
        "compare", "--suite", "gaussians25", "--preset", "smoke", "--out", str(e.out),
        "--results", str(e.root / "results"), "--no-progress", *extra,
    ]  # fmt: skip


def check_(*extra: str) -> Argv:
    return lambda e: [
        "check", "--suite", "gaussians25", "--preset", "smoke", "--out", str(e.out),
        "--no-progress", *extra,
    ]  # fmt: skip


# -- bench run: command line --------------------------------------------------------------------
case("run unknown suite", run_(suite="nope"))
case("run unknown preset", run_(preset="huge"))
case("run unknown method", run_(methods=("nope",)))
case("run plugin module missing", run_(methods=("no_such_module:Cls",)))
case("run plugin path without class", run_(methods=("package.module:",)))
case("run plugin class missing", run_(methods=("json:NoSuchClass",)))
case("run plugin not a method", run_(methods=("json:JSONDecoder",)))
for bad_seed in ["-1", "a", "1-0", "0-", "-", "1.5", "9223372036854775808", "99999999999999999999",
                 "0-99999999999", "0-9223372036854775808", "\u0661", " 1", "0x10", "1e3", ""]:  # fmt: skip
    case(f"run seed {bad_seed!r}", run_("--seeds", bad_seed))
case("run repeated seeds", run_("--seeds", "1", "0-2"))
for flag, value in [("--workers", "0"), ("--workers", "-1"), ("--workers", "x"),
                    ("--batch-models", "0"), ("--batch-models", "-2"), ("--executor", "nope"),
                    ("--device", "tpu"), ("--device", "cuda:x"), ("--device", "cuda:-1"),
                    ("--width", "0"), ("--width", "8"), ("--arch", "resnet"),
                    ("--classes", "airplane")]:  # fmt: skip
    case(f"run {flag} {value}", run_(flag, value))
case("run --address without ray", run_("--address", "auto"))
case("run --preset missing value", lambda e: ["run", "--suite", "gaussians25", "--preset"])
case("run no suite", lambda e: ["run", "--out", str(e.out)])
case("unknown command", lambda e: ["train", "--suite", "gaussians25"])
# method parameters: every one validated in its Params, with what is valid
for method, setting in [
    ("gan", "lr=nan"), ("gan", "lr=-1"), ("gan", "lr=0"), ("gan", "lr=inf"), ("gan", "lr=abc"),
    ("gan", "beta1=2"), ("gan", "beta1=-0.1"), ("gan", "beta2=1"), ("gan", "loss=hinge"),
    ("wgan", "n_critic=0"), ("wgan", "n_critic=-3"), ("wgan", "n_critic=1.5"),
    ("wgan", "clip=0"), ("wgan", "clip=-0.01"), ("wgan", "optimizer=adagrad"),
    ("wgan-gp", "gp_lambda=-1"), ("wgan-gp", "n_critic=0"), ("greed-gan", "t_max=2"),
    ("greed-gan", "lambda0=-1"), ("greed-wgan", "decay_rate=-5"), ("lsgan", "lr_d=-1"),
    ("sngan", "n_power_iterations=0"), ("unrolled-gan", "unroll_steps=-1"),
    ("dyngan", "k_max=0"), ("dyngan", "tau=2"), ("dyngan", "delta=0"), ("dyngan", "score_rate=0"),
    ("scgan", "clusters=0"), ("curriculum-wgan-gp", "start_fraction=0"),
    ("curriculum-wgan-gp", "schedule=cosine"), ("curriculum-wgan-gp", "lr=-1"),
    ("pacgan2", "beta1=1"), ("gan", "nosuch=1"), ("gan", "lr"), ("gan", "=1"),
    ("gan", "wgan.lr=1e-4"), ("gan", "lr=1e-4=2"),
]:  # fmt: skip
    case(f"run --set {method} {setting}", run_("--set", setting, methods=(method,)))
# output folders
case("run --out is a file", lambda e: [*run_()(e), "--out", e.file("f", "x")])
case("run --out under a file", lambda e: ["run", "--suite", "gaussians25", "--preset", "smoke",
      "--out", e.file("g", "x") + "/runs"])  # fmt: skip
case("run --results is a file", lambda e: run_()(e) + ["--results", e.file("h", "x")])
case("run --results under a file", lambda e: run_()(e) + ["--results", e.file("i", "x") + "/r"])
# image suites without their data
case("run cifar10 without data", run_("--data-root", "/nonexistent", suite="cifar10-perclass"))
case("run celeba without data", run_("--data-root", "/nonexistent", suite="celeba64"))
case("run digits-perclass unknown class", run_("--classes", "11", suite="digits-perclass"))


# .npy headers that lie about their size: refused before numpy allocates anything
def _npy_header_only(shape, dtype="<f8") -> Callable[[Env], str]:
    def make(e: Env) -> str:
        p = e.root / "inputs" / f"header-{'x'.join(map(str, shape))}.npy"
        p.parent.mkdir(parents=True, exist_ok=True)
        with open(p, "wb") as f:
            np.lib.format.write_array_header_1_0(
                f, {"descr": dtype, "fortran_order": False, "shape": shape}
            )
            f.write(b"\0" * 64)
        return str(p)

    return make


case(
    "evaluate 3 samples (too few neighbours)",
    evaluate_(lambda e: e.npy("three.npy", np.zeros((3, 2)))),
)
case("evaluate samples at 1e300", evaluate_(lambda e: e.npy("huge.npy", np.full((50, 2), 1e300))))
case("evaluate npy header declares 10^12 rows", evaluate_(_npy_header_only((10**12, 2))))
case("evaluate npy header declares more than the file", evaluate_(_npy_header_only((100, 2))))


# -- bench run on damaged store files (the resume path) ---------------------------------------
RESUME = run_("--seeds", "2")


def _ckpt(e: Env) -> Path:
    return e.run_dir("gan", 2) / "checkpoint.pt"


def _truncate(e: Env) -> None:
    data = _ckpt(e).read_bytes()
    _ckpt(e).write_bytes(data[: len(data) // 2])


def _flip(e: Env) -> None:
    data = bytearray(_ckpt(e).read_bytes())
    data[len(data) // 2] ^= 0x40
    _ckpt(e).write_bytes(bytes(data))


def _ckpt_without(key: str) -> Callable[[Env], None]:
    def damage(e: Env) -> None:
        state = torch.load(_ckpt(e), weights_only=True)
        del state[key]
        torch.save(state, _ckpt(e))

    return damage


def _edit_config(run: Path, **params) -> None:
    cfg = json.loads((run / "config.json").read_text())
    cfg["method_params"].update(params)
    (run / "config.json").write_text(json.dumps(cfg))


def _ckpt_edit(e: Env, **changes) -> None:
    torch.save({**torch.load(_ckpt(e), weights_only=True), **changes}, _ckpt(e))


def _ckpt_state(state) -> Callable[[Env], None]:
    return lambda e: torch.save(state, _ckpt(e))


case("resume checkpoint truncated", RESUME, _truncate)
case("resume checkpoint bit flip", RESUME, _flip)
case("resume checkpoint text", RESUME, lambda e: _ckpt(e).write_text("hello"))
case("resume checkpoint empty", RESUME, lambda e: _ckpt(e).write_bytes(b""))
for key in ("G", "D", "opt_g", "rng", "curves", "step"):
    case(f"resume checkpoint without {key}", RESUME, _ckpt_without(key))
case("resume checkpoint is a list", RESUME, _ckpt_state([1, 2, 3]))
case("resume checkpoint step negative", RESUME, lambda e: _ckpt_edit(e, step=-5))
case("resume checkpoint step text", RESUME, lambda e: _ckpt_edit(e, step="10"))
case("resume checkpoint step beyond budget", RESUME, lambda e: _ckpt_edit(e, step=10**6))
case("resume checkpoint foreign nets", RESUME,
     lambda e: torch.save({**torch.load(_ckpt(e), weights_only=True),
                           "G": {"w": torch.zeros(3)}}, _ckpt(e)))  # fmt: skip
case("resume checkpoint rng wrong", RESUME,
     lambda e: torch.save({**torch.load(_ckpt(e), weights_only=True), "rng": torch.zeros(3)},
                          _ckpt(e)))  # fmt: skip


# checkpoints whose CRCs are valid but whose contents do not fit the run
def _ckpt_map(key: str, fn) -> Callable[[Env], None]:
    def damage(e: Env) -> None:
        state = torch.load(_ckpt(e), weights_only=True)
        state[key] = fn(state[key])
        torch.save(state, _ckpt(e))

    return damage


def _opt_wrong_shape(opt):
    first = next(iter(opt["state"].values()))
    first["exp_avg"] = torch.zeros(3, 3)
    return opt


case("resume checkpoint G as int64", RESUME,
     _ckpt_map("G", lambda g: {k: v.to(torch.int64) for k, v in g.items()}))  # fmt: skip
case("resume checkpoint optimiser state of the wrong shape", RESUME,
     _ckpt_map("opt_g", _opt_wrong_shape))  # fmt: skip
case("resume checkpoint curves as a string", RESUME, _ckpt_map("curves", lambda c: "junk"))
case("resume checkpoint evals as a dict", RESUME, _ckpt_map("evals", lambda c: {"a": 1}))
case("resume checkpoint snapshots as a list", RESUME, _ckpt_map("snapshots", lambda c: [1]))
case("resume checkpoint curves rows not records", RESUME, _ckpt_map("curves", lambda c: [1, 2]))
case(
    "resume runtime.json garbage",
    RESUME,
    lambda e: (e.run_dir("gan", 2) / "runtime.json").write_text("{nope"),
)
case(
    "resume runtime.json not a list",
    RESUME,
    lambda e: (e.run_dir("gan", 2) / "runtime.json").write_text('{"a": 1}'),
)
case(
    "resume runtime.json nested 100,000 deep",
    RESUME,
    lambda e: (e.run_dir("gan", 2) / "runtime.json").write_text("[" * 100_000 + "]" * 100_000),
)
case(
    "resume runtime.json invalid utf-8",
    RESUME,
    lambda e: (e.run_dir("gan", 2) / "runtime.json").write_bytes(b"[\xff\xfe]"),
)
case("resume config.json edited", RESUME, lambda e: _edit_config(e.run_dir("gan", 2), lr=0.5))
case("resume config.json invalid utf-8", RESUME,
     lambda e: (e.run_dir("gan", 2) / "config.json").write_bytes(b"\xff\xfe"))  # fmt: skip
case("stacked plan checkpoint garbage", run_("--seeds", "2", "3", "--batch-models", "2"),
     lambda e: _ckpt(e).write_text("hello"))  # fmt: skip


# -- bench table on damaged finished runs ----------------------------------------------------
def _write(method: str, seed: int, name: str, data: bytes | str) -> Callable[[Env], None]:
    def damage(e: Env) -> None:
        p = e.run_dir(method, seed) / name
        p.write_bytes(data.encode() if isinstance(data, str) else data)

    return damage


for name, data in [
    ("metrics.json", "{not json"), ("metrics.json", b"\xff\xfe{}"), ("metrics.json", "[1, 2]"),
    ("metrics.json", '"text"'), ("metrics.json", '{"modes_covered": "many"}'),
    ("metrics.json", '{"modes_covered": {"a": 1}}'), ("metrics.json", '{"hq_%": [1]}'),
    ("metrics.json", '{"modes_covered": true}'), ("metrics.json", ""),
    # nesting past Python's parser, an integer no float holds, an infinity
    ("metrics.json", "[" * 100_000 + "]" * 100_000), ("config.json", "[" * 100_000 + "]" * 100_000),
    ("metrics.json", '{"modes_covered": 1' + "0" * 400 + "}"),
    ("metrics.json", '{"modes_covered": Infinity}'), ("metrics.json", '{"a": ' * 20 + "1" + "}" * 20),
    ("config.json", "{not json"), ("config.json", b"\xff"), ("config.json", "[]"),
    ("config.json", '{"suite": "gaussians25"}'),
    ("curves.csv", "garbage\x00\x01"), ("curves.csv", ""), ("curves.csv", b"\xff\xfe\x00step"),
    ("curves.csv", "step,loss_d\n1,abc\n"), ("curves.csv", "a,b\n1,2\n"),
    ("snapshots.npz", b"PK\x03\x04garbage"), ("snapshots.npz", b"not a zip"),
    ("snapshots.npz", b""),
]:  # fmt: skip
    case(f"table {name} {data[:24]!r}", table_(), _write("gan", 0, name, data))
case("table config seed edited", table_(),
     lambda e: (e.run_dir("wgan", 1) / "config.json").write_text(
         (e.run_dir("wgan", 1) / "config.json").read_text().replace('"seed": 1', '"seed": 7')))  # fmt: skip
case("table unknown suite", table_(suite="nope"))
case("table unknown method", lambda e: table_()(e) + ["--methods", "nope"])
case("table missing store", lambda e: ["table", "--suite", "gaussians25", "--out",
                                       str(e.root / "none")])  # fmt: skip
case("table --results is a file", lambda e: table_()(e) + ["--results", e.file("t", "x")])
case("table --format pdf", lambda e: table_()(e) + ["--format", "pdf"])
case("table --set bad", lambda e: table_()(e) + ["--set", "lr=-1"])
case("table seeds not in the store", table_("--seeds", "7"))


def report_() -> Argv:
    return lambda e: [
        "report", "--suite", "gaussians25", "--preset", "smoke", "--methods", *STORE_METHODS,
        "--seeds", "0", "1", "--out", str(e.out), "--results", str(e.root / "results"),
    ]  # fmt: skip


# the report's run table reads every finished run's runtime.json and its settings table the
# config.json
for name, data in [
    ("runtime.json", '{"a": 1}'), ("runtime.json", "[1, 2]"), ("runtime.json", "{nope"),
    ("runtime.json", b"[\xff]"), ("config.json", "[]"),
]:  # fmt: skip
    case(f"report {name} {data[:24]!r}", report_(), _write("gan", 0, name, data))

# -- bench evaluate --------------------------------------------------------------------------
case("evaluate unknown suite", evaluate_(lambda e: e.npy("a.npy", np.zeros((4, 2))), "nope"))
case("evaluate missing file", evaluate_(lambda e: str(e.root / "missing.npy")))
case("evaluate folder (toy)", evaluate_(lambda e: str(e.root)))
case("evaluate text file", evaluate_(lambda e: e.file("t.npy", "1 2\n3 4\n")))
case("evaluate empty file", evaluate_(lambda e: e.file("z.npy", b"")))
case("evaluate truncated npy", evaluate_(lambda e: e.file("tr.npy", b"\x93NUMPY\x01\x00v")))
case("evaluate empty array", evaluate_(lambda e: e.npy("e.npy", np.zeros((0, 2)))))
case("evaluate empty 1-d", evaluate_(lambda e: e.npy("e1.npy", np.zeros(0))))
case("evaluate wrong shape", evaluate_(lambda e: e.npy("s.npy", np.zeros((5, 3)))))
case("evaluate integers", evaluate_(lambda e: e.npy("i.npy", np.zeros((5, 2), dtype=int))))
case("evaluate NaN", evaluate_(lambda e: e.npy("n.npy", np.full((5, 2), np.nan))))
case("evaluate object array", evaluate_(lambda e: e.npy("o.npy", np.array([{}, 1], object))))
case("evaluate npz for toy", evaluate_(lambda e: e.file("x.npz", b"PK\x03\x04zz")))
case("evaluate image folder empty", evaluate_(lambda e: _folder(e, "empty"), "digits"))
case("evaluate image folder of text", evaluate_(lambda e: _folder(e, "txt", "a.png"), "digits"))
case("evaluate image text", evaluate_(lambda e: e.file("it.npy", "hello"), "digits"))
case("evaluate image empty npz", evaluate_(lambda e: _npz(e, "en.npz"), "digits"))
case("evaluate image wrong shape", evaluate_(lambda e: e.npy("iw.npy", np.zeros((4, 5))),
                                            "digits"))  # fmt: skip
case("evaluate image labels wrong",
     evaluate_(lambda e: _npz(e, "lw.npz", images=np.zeros((4, 32, 32, 1), np.uint8),
                              labels=np.zeros(3, int)), "digits-perclass"))  # fmt: skip
case("evaluate image labels out of range",
     evaluate_(lambda e: _npz(e, "lr.npz", images=np.zeros((4, 32, 32, 1), np.uint8),
                              labels=np.full(4, 12)), "digits-perclass"))  # fmt: skip
case(
    "evaluate --min-count on a toy suite",
    evaluate_(lambda e: e.npy("m.npy", np.zeros((4, 2))), "gaussians25", "--min-count", "3"),
)
case(
    "evaluate --min-count 0",
    evaluate_(lambda e: e.npy("m0.npy", np.zeros((4, 2))), "stacked-digits", "--min-count", "0"),
)
case(
    "evaluate --counter unknown",
    evaluate_(
        lambda e: e.npy("mc.npy", np.zeros((4, 32, 32, 3), np.uint8)),
        "stacked-digits",
        "--counter",
        "lenet",
    ),
)
case("run --min-count on a per-class suite", run_("--min-count", "5", suite="digits-perclass"))
case("run --protocol on an image suite", run_("--protocol", "dyngan", suite="digits-perclass"))
case("run unknown protocol", run_("--protocol", "veegan2017"))
case("run preset of another protocol", run_("--protocol", "dyngan", preset="paper"))
case("run --ring on the grid", run_("--protocol", "veegan", "--ring", "linspace"))
case("run --ring on an image suite", run_("--ring", "linspace", suite="digits-perclass"))
case("run unknown ring", run_("--ring", "spiral", suite="ring8"))
case("table --ring on the grid", table_("--ring", "linspace"))
case("run --nets on an image suite", run_("--nets", "veegan-code", suite="digits-perclass"))
case("run unknown nets", run_("--nets", "resnet", suite="ring8"))
case("run --batch-size 0", run_("--batch-size", "0", suite="ring8"))
case("run --batch-size not a number", run_("--batch-size", "many", suite="ring8"))
case("run --batch-size too large", run_("--batch-size", "1000001", suite="ring8"))
case("run --batch-size on an image suite", run_("--batch-size", "8", suite="digits-perclass"))
case("evaluate --pairs 0", evaluate_(lambda e: e.npy("p.npy", np.zeros((4, 2))), "digits",
                                     "--pairs", "0"))  # fmt: skip


def _folder(e: Env, name: str, *files: str) -> str:
    folder = e.root / "inputs" / name
    folder.mkdir(parents=True)
    for f in files:
        (folder / f).write_text("not an image")
    return str(folder)


def _npz(e: Env, name: str, **arrays) -> str:
    p = e.root / "inputs" / name
    p.parent.mkdir(parents=True, exist_ok=True)
    np.savez(p, **arrays)
    return str(p)


# -- bench compare / check / critic / variants / perf / data ---------------------------------
case("compare unknown method", compare_("--method", "nope"))
case("compare unknown baseline", compare_("--method", "gan", "--against", "nope"))
case("compare against itself", compare_("--method", "gan", "--against", "wgan-gp", "gan"))
case("compare alpha 2", compare_("--method", "gan", "--alpha", "2"))
case("compare alpha nan", compare_("--method", "gan", "--alpha", "nan"))
case("compare alpha text", compare_("--method", "gan", "--alpha", "x"))
case("compare bad seeds", compare_("--method", "gan", "--seeds", "3-1"))
case("compare --set bad", compare_("--method", "gan", "--set", "beta1=5"))
case("compare --results file", lambda e: compare_("--method", "gan")(e) + ["--results",
                                                                           e.file("c", "x")])  # fmt: skip
case("check missing reference", check_("--reference", "/nonexistent.csv"))
case("check reference garbage", lambda e: check_("--reference", e.file("r.csv", "a,b\n1\n"))(e))
case("check reference binary", lambda e: check_("--reference", e.file("rb.csv", b"\xff\x00"))(e))
case("check bad tolerance", lambda e: check_("--reference", e.file("ok.csv", "x"),
                                             "--tolerance", "fid=abs:x")(e))  # fmt: skip
case("check bad tolerance kind", lambda e: check_("--reference", e.file("ok2.csv", "x"),
                                                  "--tolerance", "fid=near:1")(e))  # fmt: skip
case("check --update without methods", check_("--reference", "/nonexistent.csv", "--update"))
case(
    "check unknown method",
    check_("--reference", "/nonexistent.csv", "--update", "--methods", "nope"),
)
case("critic toy suite", lambda e: ["critic", "--suite", "gaussians25", "--out", str(e.out)])
case("critic unknown suite", lambda e: ["critic", "--suite", "nope", "--out", str(e.out)])
case("critic steps 0", lambda e: ["critic", "--suite", "digits-perclass", "--critic-steps", "0"])
case("critic no runs", lambda e: ["critic", "--suite", "digits-perclass", "--preset", "smoke",
                                  "--out", str(e.out), "--results", str(e.root / "res")])  # fmt: skip
for vary in (["foo=1,2"], ["optimizer"], ["optimizer=rmsprop,adagrad"], ["lr=a,b"], ["=1,2"]):
    case(f"variants --vary {vary}", lambda e, v=vary: ["variants", "--suite", "gaussians25",
         "--preset", "smoke", "--vary", *v, "--out", str(e.out), "--no-progress"])  # fmt: skip
case("variants unknown method", lambda e: ["variants", "--suite", "gaussians25", "--method",
                                           "nope", "--out", str(e.out)])  # fmt: skip
case("variants classes on toy", lambda e: ["variants", "--suite", "gaussians25", "--classes",
                                           "a", "--out", str(e.out)])  # fmt: skip
for extra in (["--steps", "0"], ["--repeats", "0"], ["--suite", "nope"], ["--method", "nope"],
              ["--executor", "local"], ["--executor", "ray", "--batch-models", "2"],
              ["--device", "cuda"], ["--threads", "2"], ["--batch-models", "0"]):  # fmt: skip
    case(f"perf {' '.join(extra)}", lambda e, x=extra: ["perf", *x])
case("data unknown dataset", lambda e: ["data", "download", "nope"])
case("data no name", lambda e: ["data", "download"])


def test_there_are_over_100_bad_inputs():
    assert len(CASES) >= 100, len(CASES)
    assert len({name for name, _, _ in CASES}) == len(CASES)


def _snapshot(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


@pytest.mark.parametrize("name,argv,damage", CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_one_line_and_touches_nothing(pristine, tmp_path, capsys, name, argv, damage):
    env = Env(tmp_path)
    shutil.copytree(pristine / "runs", env.out)
    if damage is not None:
        damage(env)
    args = argv(env)
    before = _snapshot(env.out)
    try:
        rc = main(args)
    except SystemExit as exc:  # argparse's own errors
        rc = exc.code
    captured = capsys.readouterr()
    err = captured.err.strip()
    assert rc == 2, f"{name}: exit {rc}\n{err}"
    assert "Traceback" not in err
    assert len(err.splitlines()) == 1, err
    assert _snapshot(env.out) == before, f"{name}: the store changed"


@pytest.mark.parametrize("argv", [table_(), report_()], ids=["table", "report"])
def test_the_damaged_store_cases_run_cleanly_on_the_undamaged_store(pristine, tmp_path, argv):
    """The damage, not the command line, is what the table and report cases refuse."""
    env = Env(tmp_path)
    shutil.copytree(pristine / "runs", env.out)
    assert main(argv(env)) == 0


def test_damaged_json_reads_name_the_directory(pristine, tmp_path):
    """The store's own reader (not only the CLI) says which directory is damaged."""
    from collapsebench.benchmark.errors import BenchError
    from collapsebench.benchmark.store.rundir import RunDir

    env = Env(tmp_path)
    shutil.copytree(pristine / "runs", env.out)
    run = RunDir(env.run_dir("gan", 0))
    (run.path / "metrics.json").write_text(json.dumps({"modes_covered": "x"}))
    with pytest.raises(BenchError, match=str(run.path)):
        run.read_metrics(["modes_covered"])
