"""`bench`: list, run, table, evaluate, perf. Every user error is one line on stderr, exit 2."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

from ...baselines import REGISTRY
from ..errors import BenchError
from ..store.atomic import check_writable_dir
from ..suites.toy import SUITES, get_suite

DEFAULT_OUT = "runs"
DEFAULT_RESULTS = "results"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, no usage dump
        self.exit(2, f"{self.prog}: error: {message}\n")


#: seeds seed ``torch.Generator.manual_seed`` and numpy's SeedSequence: 63-bit non-negative
MAX_SEED = 2**63 - 1
#: more runs than one command may plan (a typo like 0-99999999999 must not allocate them)
MAX_SEEDS = 10_000


def parse_seeds(tokens: Sequence[str]) -> list[int]:
    """Seeds as non-negative integers or inclusive ranges: ``0 1 2`` or ``0-9``."""
    seeds: list[int] = []
    valid = f"seeds are integers 0..{MAX_SEED} (e.g. 0 1 2) or ranges like 0-9"
    for tok in tokens:
        parts = tok.split("-")
        try:
            if len(parts) == 1:
                lo = hi = _seed(parts[0])
            elif len(parts) == 2 and parts[0] and parts[1]:
                lo, hi = _seed(parts[0]), _seed(parts[1])
                if hi < lo:
                    raise ValueError
            else:
                raise ValueError
        except ValueError:
            raise BenchError(f"bad seed {tok!r}: {valid}") from None
        if len(seeds) + hi - lo + 1 > MAX_SEEDS:
            raise BenchError(f"too many seeds ({tok!r}): at most {MAX_SEEDS} per command")
        seeds.extend(range(lo, hi + 1))
    if len(set(seeds)) != len(seeds):
        raise BenchError(f"seeds repeat: {tokens}; give each seed once")
    return seeds


def _seed(text: str) -> int:
    if (
        not (text.isascii() and text.isdigit()) or len(text) > 19 or int(text) > MAX_SEED
    ):  # digits only: no sign
        raise ValueError(text)
    return int(text)


def _positive_int(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text!r}") from None
    if v < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {v}")
    return v


def _store_args(p: argparse.ArgumentParser, preset: str, results: bool = True, runs: bool = True):
    """The options shared by every command that reads (and maybe fills) the run store."""
    p.add_argument("--suite", required=True)
    p.add_argument("--preset", default=preset)
    p.add_argument("--out", default=DEFAULT_OUT, help="run store directory (default: runs)")
    if results:
        p.add_argument("--results", default=DEFAULT_RESULTS, help="where tables and figures go")
    if runs:
        _exec_args(p)
        p.add_argument(
            "--classes", nargs="+", default=None, help="per-class suites: these classes only"
        )
    p.add_argument(
        "--data-root", default=None, help="image data files (default: $COLLAPSEBENCH_DATA)"
    )
    _protocol_arg(p)
    p.add_argument("--arch", default=None, help="image suites: dcgan (default), resnet, densenet")
    p.add_argument("--width", type=_positive_int, default=None, help="image suites: ngf = ndf")
    _counting_args(p)
    _dinov2_arg(p)
    p.add_argument(
        "--set",
        dest="method_set",
        nargs="+",
        action="extend",
        default=None,
        metavar="[METHOD.]NAME=VALUE",
        help="method parameters, e.g. optimizer=adam or wgan.lr=1e-4 (a new run configuration)",
    )


def _dinov2_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--dinov2-weights",
        default=None,
        metavar="PATH",
        help="image suites: DINOv2 ViT weights file; adds FD/KD/density/coverage on DINOv2 "
        "features (default: $COLLAPSEBENCH_DINOV2_WEIGHTS; none: not computed)",
    )


@contextlib.contextmanager
def _use_dinov2(args) -> Iterator[None]:
    """Validate --dinov2-weights (or the environment variable) before any work, and hand it to
    every evaluation of this command (and its worker processes) through the environment; the
    variable is put back afterwards, so an in-process caller (a test) sees no leftover."""
    from ...metrics import dinov2

    given = getattr(args, "dinov2_weights", None)
    if given is None and not os.environ.get(dinov2.WEIGHTS_ENV):
        yield
        return
    if given is not None and args.suite in SUITES and get_suite(args.suite).kind != "image":
        raise BenchError("--dinov2-weights applies to image suites only")
    try:
        path = dinov2.weights_path(given)
    except dinov2.MissingWeightsError as exc:
        raise BenchError(str(exc)) from None
    saved = os.environ.get(dinov2.WEIGHTS_ENV)
    os.environ[dinov2.WEIGHTS_ENV] = str(path.resolve())
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop(dinov2.WEIGHTS_ENV, None)
        else:
            os.environ[dinov2.WEIGHTS_ENV] = saved


def _counting_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--min-count",
        type=_positive_int,
        default=None,
        metavar="K",
        help="stacked suites: a mode counts when at least K samples land on it (default 1: any "
        "sample, the published rule; the calibrated rule uses 10 with --counter digits-cnn-aug)",
    )
    p.add_argument(
        "--counter",
        default=None,
        help="stacked suites: the channel classifier, digits-cnn (default) or digits-cnn-aug",
    )


def _protocol_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--protocol",
        default=None,
        help="toy suites: a published protocol (bench list; default: dyngan)",
    )


def _exec_args(p: argparse.ArgumentParser) -> None:
    """How runs are executed: never part of a run's identity (benchmark/runtime.py)."""
    p.add_argument("--workers", type=_positive_int, default=1)
    p.add_argument("--no-progress", action="store_true")
    p.add_argument(
        "--executor",
        default="local",
        help="local (default: this machine's process pool) or ray (one Ray task per run)",
    )
    p.add_argument("--address", default=None, help="--executor ray: auto or HOST:PORT")
    p.add_argument("--device", default="auto", help="auto (default), cpu, cuda or cuda:N")
    p.add_argument(
        "--fast",
        action="store_true",
        help="CUDA: non-deterministic kernels, cuDNN autotuning, TF32 (not bit-reproducible)",
    )
    p.add_argument(
        "--no-amp", action="store_true", help="CUDA image suites: no bf16 autocast / channels_last"
    )
    p.add_argument(
        "--log",
        default=None,
        metavar="tensorboard",
        help="stream losses, evaluation curves and samples to TensorBoard (extra: tensorboard)",
    )
    p.add_argument("--log-dir", default=None, help="--log: where (default: each run directory)")
    p.add_argument(
        "--batch-models",
        type=_positive_int,
        default=None,
        metavar="K",
        help="train up to K runs of one configuration (seeds, classes) as one stacked model "
        "(gan, lsgan, pacgan2/3/4, greed-gan, wgan, greed-wgan, wgan-gp; others one at a time)",
    )


def _runtime(args):
    """The execution options, checked (executor, address, device) before any work or output."""
    from ..runs.runner import EXECUTORS
    from ..training.runtime import runtime_for

    if args.executor not in EXECUTORS:
        raise BenchError(f"unknown --executor {args.executor!r}; valid: {', '.join(EXECUTORS)}")
    if args.address is not None and args.executor != "ray":
        raise BenchError("--address applies to --executor ray only")
    if args.log_dir is not None and args.log is None:
        raise BenchError("--log-dir applies with --log tensorboard only")
    if args.log is not None and (args.batch_models or 1) > 1:
        raise BenchError("--log streams runs trained one at a time; drop --batch-models")
    return runtime_for(
        get_suite(args.suite).kind, args.device, args.no_amp, args.fast, args.log, args.log_dir
    )


def _execute(args, store, specs) -> dict:
    """Train the missing runs of ``specs`` as the command line asks (executor, device, ...)."""
    from ..runs.runner import execute

    return execute(
        store,
        specs,
        workers=args.workers,
        progress=not args.no_progress,
        data_root=args.data_root,
        executor=args.executor,
        address=args.address,
        runtime=_runtime(args),
        batch_models=args.batch_models,
    )


def _suite_options(args) -> dict:
    """The suite options of the command line. Toy suites always name their protocol (the
    default one when --protocol is not given), so tables of different protocols never share
    a folder; image suites have no protocols."""
    from ..suites.protocols import DEFAULT_PROTOCOL

    names = ("arch", "width", "min_count", "counter")
    opts = {k: v for k in names if (v := getattr(args, k, None)) is not None}
    protocol = getattr(args, "protocol", None)
    if get_suite(args.suite).kind == "toy":
        opts["protocol"] = protocol or DEFAULT_PROTOCOL
    elif protocol is not None:
        raise BenchError(f"--protocol applies to the toy suites only; {args.suite} has none")
    return opts


def _check_outputs(args) -> None:
    """--out and --results must be (or become) writable folders: checked before any training,
    so a typo never costs a run's compute."""
    check_writable_dir(args.out, "--out")
    if getattr(args, "results", None) is not None:
        check_writable_dir(args.results, "--results")


def _method_options(args, methods: Sequence[str]) -> dict:
    from ..training.methods import parse_method_options

    return parse_method_options(getattr(args, "method_set", None), methods)


def results_dir(args) -> Path:
    from ..report.tables import results_dir as _results_dir

    return _results_dir(
        args.results,
        args.suite,
        args.preset,
        _suite_options(args),
        getattr(args, "method_set", None),
    )


def _plan(args, methods: list[str], seeds: list[int]):
    from ..runs.planning import plan

    return plan(
        args.suite,
        methods,
        seeds,
        args.preset,
        classes=getattr(args, "classes", None),
        suite_options=_suite_options(args),
        data_root=args.data_root,
        method_options=_method_options(args, methods),
    )


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="bench", description="collapsebench: GAN mode-collapse benchmark")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    sub.add_parser("list", help="suites, methods and presets")

    r = sub.add_parser("run", help="train the missing runs of a suite, then print its table")
    _store_args(r, preset="default")
    r.add_argument(
        "--methods", nargs="+", default=None, help="default: the suite's five baselines; 'all'"
    )
    r.add_argument("--seeds", nargs="+", default=["0", "1", "2"], help="e.g. 0 1 2 or 0-9")

    v = sub.add_parser(
        "variants", help="seed 004: one method under optimiser / network variants, one table"
    )
    v.add_argument("--suite", required=True)
    _protocol_arg(v)
    v.add_argument("--preset", default="default")
    v.add_argument("--method", default="wgan")
    v.add_argument(
        "--vary",
        nargs="+",
        default=None,
        metavar="NAME=BASELINE,OTHER,...",
        help="axes (suite options or method parameters); default optimizer=rmsprop,adam,sgd "
        "and, on image suites, arch=dcgan,resnet,densenet",
    )
    v.add_argument("--seeds", nargs="+", default=["0", "1", "2"])
    v.add_argument("--classes", nargs="+", default=None, help="per-class suites: these only")
    v.add_argument("--out", default=DEFAULT_OUT)
    v.add_argument("--results", default=DEFAULT_RESULTS)
    _exec_args(v)
    v.add_argument("--data-root", default=None)

    t = sub.add_parser("table", help="aggregate finished runs into the suite's table")
    _store_args(t, preset="default", runs=False)
    t.add_argument("--methods", nargs="+", default=None)
    t.add_argument("--format", default="md", choices=["md", "csv", "latex"])
    t.add_argument("--no-plots", action="store_true")

    e = sub.add_parser("evaluate", help="metrics of a sample set produced by any tool")
    e.add_argument("--suite", required=True)
    _protocol_arg(e)
    _counting_args(e)
    e.add_argument(
        "--samples",
        required=True,
        help="toys: .npy (N, 2) float; images: .npy/.npz uint8 N×H×W×C or N×C×H×W "
        "(optional 'labels' in the .npz for per-class rows) or a folder of PNGs",
    )
    e.add_argument("--json", action="store_true")
    _dinov2_arg(e)
    e.add_argument("--data-root", default=None, help="image data (default: $COLLAPSEBENCH_DATA)")
    e.add_argument(
        "--pairs",
        type=_positive_int,
        default=None,
        help="image pairs for MS-SSIM (default: the suite's, as in its runs)",
    )

    c = sub.add_parser("compare", help="a new method against baselines, with statistics")
    _store_args(c, preset="default")
    c.add_argument("--method", required=True, help="the new method (name or package.module:Class)")
    c.add_argument("--against", nargs="+", default=["gan", "wgan-gp"])
    c.add_argument("--seeds", nargs="+", default=["0-4"], help="e.g. 0-9 (default 0-4)")
    c.add_argument("--alpha", type=float, default=0.05)

    k = sub.add_parser("check", help="CI gate: current metrics vs a committed reference table")
    _store_args(k, preset="smoke", results=False)
    k.add_argument("--reference", required=True, help="reference CSV (method,metric,mean,std,n)")
    k.add_argument("--methods", nargs="+", default=None, help="default: the reference's methods")
    k.add_argument("--seeds", nargs="+", default=["0", "1", "2"])
    k.add_argument(
        "--tolerance",
        action="append",
        default=None,
        help="METRIC=abs:A | rel:R | spread:F (repeatable; '*' for every metric; default spread:3)",
    )
    k.add_argument("--update", action="store_true", help="rewrite the reference from the runs")

    w = sub.add_parser(
        "critic", help="independent Wasserstein critic over training (image suites, Fig. 4)"
    )
    _store_args(w, preset="default", runs=False)
    w.add_argument("--methods", nargs="+", default=None)
    w.add_argument("--critic-steps", type=_positive_int, default=500)
    w.add_argument("--no-progress", action="store_true")

    rp = sub.add_parser(
        "report", help="one self-contained HTML report (and a Markdown twin) of a suite's runs"
    )
    _store_args(rp, preset="default", runs=False)
    rp.add_argument("--methods", nargs="+", default=None)
    rp.add_argument("--seeds", nargs="+", default=["0", "1", "2"], help="the planned seeds")
    rp.add_argument("--compare", default=None, metavar="METHOD", help="add `bench compare` stats")
    rp.set_defaults(format="md", no_plots=False)

    a = sub.add_parser(
        "agreement", help="which metric ranks runs like modes covered (toys) / MS-SSIM (images)"
    )
    a.add_argument("--suites", nargs="+", required=True)
    a.add_argument("--out", default=DEFAULT_OUT, help="run store directory (default: runs)")
    a.add_argument("--results", default=DEFAULT_RESULTS)
    a.add_argument("--data-root", default=None)

    d = sub.add_parser("data", help="datasets: download with torchvision when online")
    dsub = d.add_subparsers(dest="data_command", required=True, parser_class=_Parser)
    dl = dsub.add_parser("download", help="fetch a dataset into the data root")
    dl.add_argument("name", help="cifar10, mnist, celeba or digits")
    dl.add_argument("--data-root", default=None, help="default: $COLLAPSEBENCH_DATA or ~/.cache")

    f = sub.add_parser(
        "perf", help="throughput: harness vs bare PyTorch loop, workers 2 vs 1; or stacked models"
    )
    f.add_argument("--suite", default="gaussians25")
    f.add_argument("--method", default="wgan-gp")
    f.add_argument("--steps", type=_positive_int, default=100)
    f.add_argument("--repeats", type=_positive_int, default=3)
    f.add_argument(
        "--batch-models",
        type=_positive_int,
        default=None,
        metavar="K",
        help="instead: K runs (seeds; classes first on per-class suites) as one stacked model "
        "vs K sequential bare loops",
    )
    f.add_argument("--data-root", default=None, help="image data (default: $COLLAPSEBENCH_DATA)")
    f.add_argument(
        "--workers-check",
        action="store_true",
        help="also 4 whole runs with 1 process vs 2 (several minutes more)",
    )
    f.add_argument(
        "--device",
        default="cpu",
        help="with --batch-models: cpu, cuda[:N] or auto (default cpu)",
    )
    f.add_argument(
        "--threads",
        type=_positive_int,
        default=None,
        help="with --batch-models: torch CPU threads (default: all cores)",
    )
    f.add_argument(
        "--executor",
        default=None,
        help="ray: the same runs through --executor local and --executor ray, as a ratio",
    )
    f.add_argument("--address", default=None, help="with --executor ray: auto or HOST:PORT")
    f.add_argument(
        "--runs", type=_positive_int, default=4, help="with --executor: runs per measurement"
    )
    f.add_argument(
        "--workers",
        type=_positive_int,
        default=None,
        help="with --executor: parallel runs for both executors (default: one per core)",
    )
    f.add_argument("--json", action="store_true")
    return p


def _methods(names: Sequence[str] | None, suite: str | None = None) -> list[str]:
    """--methods as given; none: the suite's default methods; ``all``: every built-in."""
    from ..training.methods import resolve_method

    if not names:
        names = list(get_suite(suite).default_methods) if suite else list(REGISTRY)
    elif list(names) == ["all"]:
        names = list(REGISTRY)
    for n in names:
        resolve_method(n)
    return names


def cmd_list(args) -> int:
    print("suites:")
    for s in SUITES.values():
        print(f"  {s.name:<17} {s.description}")
        if s.kind == "toy":
            print("      presets: those of its protocol (below)")
            continue
        for name, tc in s.presets.items():
            print(f"      preset {name:<8} {tc.steps} generator steps, batch {tc.batch_size}")
    from ..suites.protocols import DEFAULT_PROTOCOL, PROTOCOLS

    print("protocols (toy suites, --protocol NAME):")
    for proto in PROTOCOLS.values():
        mark = " (default)" if proto.name == DEFAULT_PROTOCOL else ""
        print(f"  {proto.name:<17} {proto.summary}{mark}")
        print(f"      source: {proto.source}")
        for name, tc in proto.presets.items():
            print(f"      preset {name:<8} {tc.steps} generator steps, batch {tc.batch_size}")
    print("methods:")
    for name, cls in REGISTRY.items():
        doc = (sys.modules[cls.__module__].__doc__ or "").strip().splitlines()[0]
        print(f"  {name:<14} {doc}")
    return 0


def _write_table(args, methods: list[str]) -> str:
    from ..analysis.convergence import CAPTION as CONVERGENCE_CAPTION
    from ..report import plots
    from ..report.partition_plots import partition_figure
    from ..report.tables import cell_marks, display_table, per_seed, render, summary
    from ..store.atomic import atomic_write_text
    from ..store.rundir import RunStore
    from ..suites.protocols import get_protocol
    from ..suites.published import published_table
    from ..suites.toy import DIVERSITY_CAPTION

    suite = get_suite(args.suite)
    store = RunStore(args.out)
    if suite.kind == "image":
        from ..report.image_tables import write_image_tables

        return write_image_tables(
            args, store, methods, _suite_options(args), _method_options(args, methods)
        )
    options = _suite_options(args)
    suite = suite.with_overrides(options)
    df = per_seed(store, args.suite, methods, args.preset, options, _method_options(args, methods))
    _note_lacking(df, suite)
    summ = summary(df, suite.reported_metrics, methods)
    protocol = get_protocol(suite.protocol)
    marks = cell_marks(df, suite.reported_metrics)
    table = display_table(summ, suite.reported_metrics, marks, protocol, args.suite)
    budget = suite.presets[args.preset]
    caption = (
        f"{args.suite} under protocol {protocol.name} ({protocol.source}), preset {args.preset} "
        f"({budget.steps:,} generator steps, batch {budget.batch_size}): mean ± std over seeds "
        f"of {suite.n_eval:,} samples. Covered: {_covered_rule(suite)}; hq = within "
        f"{suite.hq_within:g} std of the nearest mode; reverse KL = KL(nearest-mode histogram of "
        f"{'all' if suite.kl_over == 'all' else 'high-quality'} samples || uniform), nats. "
        f"{DIVERSITY_CAPTION} {CONVERGENCE_CAPTION}"
    )
    out = results_dir(args)
    atomic_write_text(out / "table.md", render(table, "md", caption))
    atomic_write_text(out / "table.csv", render(table, "csv", caption))
    atomic_write_text(out / "per_seed.csv", df.drop(columns="run_dir").to_csv(index=False))
    text = render(table, args.format, caption)
    pub = published_table(df, protocol, args.suite, budget.steps)
    if len(pub):
        pub_caption = (
            f"{args.suite}, protocol {protocol.name}: ours (mean ± s.e. over our seeds, preset "
            f"{args.preset}: {budget.steps:,} steps) beside {protocol.source.split(',')[0]}'s "
            "published mean ± s.e.; verdict: agrees within 2 combined standard errors, differs, "
            "or not comparable (budget or trials differ from the source's)."
        )
        pub_view = pub.set_index("published row")
        atomic_write_text(out / "published.md", render(pub_view, "md", pub_caption))
        atomic_write_text(out / "published.csv", pub.to_csv(index=False))
        text += "\n" + render(pub_view, args.format, pub_caption)
    if not getattr(args, "no_plots", False):
        plots.samples_figure(df, args.suite, methods, args.preset, out / "samples.png")
        plots.curves_figure(df, out / "curves.png")
        plots.convergence_figure(df, suite.metric_names, out / "convergence.png")
        plots.curriculum_figure(df, out / "curriculum.png")
        partition_figure(df, args.suite, methods, out / "partitions.png")
    return text


def _note_lacking(df, suite) -> None:
    """Runs finished before a metric existed show empty cells until `bench run` adds it."""
    if df.empty:
        return
    cols = [m for m in suite.reported_metrics if df[m].isna().any()]  # per_seed has every column
    ok = ~df["diverged"].fillna(False).astype(bool) if "diverged" in df else True
    lacking = int((df[cols].isna().any(axis=1) & ok).sum())
    if lacking:
        print(
            f"bench: {lacking} runs lack {', '.join(cols)} (finished before these metrics "
            "existed); `bench run` with the same options adds them from the stored samples",
            file=sys.stderr,
        )


def _covered_rule(suite) -> str:
    if suite.covered_rule == "any":
        return f"some sample within {suite.covered_within:g} std of the mode"
    return f"the nearest mode of a sample within {suite.covered_within:g} std"


def cmd_run(args) -> int:
    from ..store.rundir import RunStore

    suite = get_suite(args.suite)
    methods = _methods(args.methods, args.suite)
    seeds = parse_seeds(args.seeds)
    specs = _plan(args, methods, seeds)
    store = RunStore(args.out)
    _runtime(args)
    _check_outputs(args)
    suite.with_overrides(_suite_options(args)).check_ready(args.data_root)
    store.ensure_writable()
    skipped = [s for s in specs if store.run_dir(s).finished]
    if skipped:
        print(
            f"{len(skipped)} of {len(specs)} runs already finished in {args.out}; skipping them",
            file=sys.stderr,
        )
    trained = _execute(args, store, specs)
    args.format = "md"
    print(_write_table(args, methods))
    diverged = sum(bool(m.get("diverged")) for m in trained.values())
    print(
        f"bench: {len(specs)} runs: {len(trained)} trained now ({diverged} diverged), "
        f"{len(skipped)} already finished; tables and figures in {results_dir(args)}; "
        f"one shareable file: bench report --suite {args.suite} (same options)",
        file=sys.stderr,
    )
    return 0


def cmd_variants(args) -> int:
    from ..analysis import variants as V
    from ..report.tables import render
    from ..store.atomic import atomic_write_text
    from ..store.rundir import RunStore

    suite = get_suite(args.suite)
    method = _methods([args.method])[0]
    seeds = parse_seeds(args.seeds)
    variant_list = V.variants(V.parse_axes(args.vary, args.suite), args.suite, method)
    base = _suite_options(args)
    by_variant = V.plan_variants(
        args.suite, method, variant_list, seeds, args.preset, args.data_root, base
    )
    if args.classes is not None:
        if not suite.per_class:
            raise BenchError(f"--classes applies to per-class suites only; {args.suite} is not one")
        by_variant = {k: [s for s in v if s.cls in args.classes] for k, v in by_variant.items()}
        if not any(by_variant.values()):
            valid = ", ".join(suite.classes(args.data_root))
            raise BenchError(f"unknown class(es) {args.classes} for {args.suite}; valid: {valid}")
    for v in variant_list:
        suite.with_overrides(v.suite_options).check_ready(args.data_root)
    _runtime(args)
    _check_outputs(args)
    store = RunStore(args.out)
    store.ensure_writable()
    specs = [s for v in by_variant.values() for s in v]
    done = sum(store.run_dir(s).finished for s in specs)
    if done:
        print(
            f"{done} of {len(specs)} runs already finished in {args.out}; skipping them",
            file=sys.stderr,
        )
    _execute(args, store, specs)
    df, curves = V.collect(store, by_variant)
    table = V.variant_table(df, suite.metric_names)
    cap = V.caption(args.suite, method, args.preset)
    from ..report.tables import results_dir as _results_dir

    out = _results_dir(args.results, args.suite, args.preset, base)
    stem = f"variants-{method.replace(':', '__')}"
    atomic_write_text(out / f"{stem}.md", render(table, "md", cap))
    atomic_write_text(out / f"{stem}.csv", render(table, "csv", cap))
    atomic_write_text(out / f"{stem}-per_seed.csv", df.to_csv(index=False))
    V.curves_figure(curves, out / f"{stem}-curves.png", f"{args.suite}: {method} variants")
    print(render(table, "md", cap))
    print(f"written: {out / (stem + '.md')}, {out / (stem + '-curves.png')}")
    return 0


def cmd_table(args) -> int:
    get_suite(args.suite)
    if not Path(args.out).is_dir():
        raise BenchError(
            f"run store {args.out} does not exist; run `bench run --out {args.out}` first"
        )
    check_writable_dir(args.results, "--results")
    print(_write_table(args, _methods(args.methods, args.suite)), end="")
    return 0


def load_samples(path: str):
    from ..suites.sample_files import read_array_file

    return read_array_file(Path(path), "a .npy file of shape (N, 2), float", npz=False)


def cmd_evaluate(args) -> int:
    if args.suite in SUITES and get_suite(args.suite).kind == "image":
        return _evaluate_image_suite(args)
    if args.suite not in SUITES:
        valid = ", ".join(SUITES)
        raise BenchError(f"unknown suite {args.suite!r}; valid suites for evaluate: {valid}")
    suite = get_suite(args.suite).with_overrides(_suite_options(args))
    arr = load_samples(args.samples)
    arr = suite.validate_samples(arr, what=f"samples in {args.samples}")
    metrics = suite.evaluate(arr)
    if args.json:
        print(json.dumps(metrics))
    else:
        for k, v in metrics.items():
            print(f"{k:<16} {v}")
    return 0


def _ensure_runs(args, methods: list[str]):
    """Run whatever is missing for (methods x seeds) and return the per-seed table."""
    from ..report.tables import CONVERGED, cell_marks, per_seed
    from ..store.rundir import RunStore

    seeds = parse_seeds(args.seeds)
    specs = _plan(args, methods, seeds)
    _runtime(args)
    _check_outputs(args)
    store = RunStore(args.out)
    store.ensure_writable()
    _execute(args, store, specs)
    df = per_seed(
        store,
        args.suite,
        methods,
        args.preset,
        _suite_options(args),
        _method_options(args, methods),
    )
    reported = get_suite(args.suite).reported_metrics
    keys = [c for c in ("method", "class", "seed") if c in df]
    keep = [*keys, *(m for m in reported if m in df), *(c for c in df if c.startswith(CONVERGED))]
    df = df.loc[df["seed"].isin(seeds), keep]  # settings such as ndb_bins are not metrics
    marks = cell_marks(df, reported) if "class" not in df else {}
    df = df.drop(columns=[c for c in df.columns if c.startswith(CONVERGED)])
    if "class" in df.columns:
        # per-class suites: one number per (method, seed), the mean over the classes trained, so
        # the statistics see independent seeds and never treat classes as replicates
        metrics = [m for m in reported if m in df]
        df = df.groupby(["method", "seed"], as_index=False)[metrics].mean()
    return df, marks


def cmd_compare(args) -> int:
    from ..analysis.convergence import CAPTION as CONVERGENCE_CAPTION
    from ..analysis.stats import check_alpha, compare, format_comparison, plot_seeds, summarize
    from ..store.atomic import atomic_write_text

    suite = get_suite(args.suite)
    try:
        check_alpha(args.alpha)  # before any training
    except ValueError as exc:
        raise BenchError(str(exc)) from None
    methods = _methods([args.method, *args.against])
    df, marks = _ensure_runs(args, methods)
    metrics = [m for m in suite.reported_metrics if m in df]
    try:
        table = compare(df, args.method, args.against, metrics, alpha=args.alpha)
        summ = summarize(df, metrics)
    except ValueError as exc:
        raise BenchError(str(exc)) from None
    out = results_dir(args)
    stem = f"compare-{args.method.replace(':', '__')}"
    atomic_write_text(out / f"{stem}.csv", table.to_csv(index=False))
    plot_seeds(df, metrics, out / f"{stem}.png")
    print(summ.to_string(index=False))
    print()
    print(format_comparison(table, marks))
    if marks:
        print(CONVERGENCE_CAPTION)
    print(f"\nwritten: {out / (stem + '.csv')}, {out / (stem + '.png')}")
    return 0


def cmd_check(args) -> int:
    from ..analysis import gate

    suite = get_suite(args.suite)
    try:
        tolerance = gate.Tolerance.parse(args.tolerance)
        reference = None if args.update else gate.read_reference(args.reference)
    except ValueError as exc:
        raise BenchError(str(exc)) from None
    if args.methods:
        methods = _methods(args.methods)
    elif reference is not None:
        methods = _methods(list(dict.fromkeys(reference["method"])))
    else:
        raise BenchError("--update without an existing reference needs --methods")
    df, marks = _ensure_runs(args, methods)
    metrics = [m for m in suite.reported_metrics if m in df]
    try:
        if args.update:
            try:
                old = gate.read_reference(args.reference)
            except ValueError:
                old = None
            new = gate.update_reference(args.reference, df, metrics)
            if old is not None:
                _, diff = gate.check(old, new, tolerance)
                print(gate.format_diff(diff))
            print(f"reference {args.reference} rewritten ({len(new)} rows)")
            return 0
        ok, diff = gate.check(reference, df, tolerance)
    except ValueError as exc:
        raise BenchError(str(exc)) from None
    print(gate.format_diff(diff, marks))
    if marks:
        from ..analysis.convergence import CAPTION as CONVERGENCE_CAPTION

        print(CONVERGENCE_CAPTION)
    _print_verdicts(args, df)
    return 0 if ok else 1


def _print_verdicts(args, df) -> None:
    """Toy suites under a protocol with published cells: ours beside them, with verdicts."""
    from ..suites.protocols import get_protocol
    from ..suites.published import published_table

    suite = get_suite(args.suite).with_overrides(_suite_options(args))
    if suite.kind != "toy":
        return
    steps = suite.presets[args.preset].steps
    pub = published_table(df, get_protocol(suite.protocol), args.suite, steps)
    if len(pub):
        print()
        print(pub.to_markdown(index=False, floatfmt=".4g"))


def cmd_critic(args) -> int:
    from ..analysis.critic_curve import critic_curve
    from ..report.image_plots import critic_figure
    from ..report.tables import per_seed
    from ..store.atomic import atomic_write_text
    from ..store.rundir import RunStore

    suite = get_suite(args.suite)
    if suite.kind != "image":
        raise BenchError(
            f"bench critic scores image-suite generator snapshots; {args.suite} is a toy suite "
            "(its table already has the critic's curve in curves.png)"
        )
    methods = _methods(args.methods, args.suite)
    check_writable_dir(args.results, "--results")
    df = per_seed(
        RunStore(args.out),
        args.suite,
        methods,
        args.preset,
        _suite_options(args),
        _method_options(args, methods),
    )
    curve = critic_curve(
        df, args.suite, args.data_root, args.critic_steps, progress=not args.no_progress
    )
    out = results_dir(args)
    atomic_write_text(out / "critic.csv", curve.to_csv(index=False))
    critic_figure(curve, args.suite, out / "critic.png")
    last = curve[curve["step"] == curve.groupby(["method", "seed"])["step"].transform("max")]
    per_seed_w = last.groupby(["method", "seed"])["w"].mean()
    summary = per_seed_w.groupby("method", sort=False).agg(["mean", "std", "count"])
    summary = summary.rename(columns={"count": "seeds"}).reindex(
        [m for m in methods if m in summary.index]
    )
    print(summary.to_markdown(floatfmt=(".4f", ".4f", ".4f", ".0f")))
    print(f"\nW at the last snapshot (per-class suites: mean over classes per seed); {out}")
    return 0


def _evaluate_image_suite(args) -> int:
    """An image suite's metrics on any sample set: one row per labelled class (per-class suites;
    labels index the suite's classes), else one row against all real images."""
    import dataclasses

    import pandas as pd
    import torch

    from ..suites.sample_files import load_samples

    suite = get_suite(args.suite).with_overrides(_suite_options(args))
    if args.pairs is not None:
        suite = dataclasses.replace(suite, n_pairs=args.pairs)
    images, labels = load_samples(args.samples)
    rows = []
    if suite.per_class and labels is not None:
        names = suite.classes(args.data_root)
        bad = sorted(set(labels.tolist()) - set(range(len(names))))
        if bad:
            raise BenchError(
                f"labels {bad} are not classes of {args.suite}; valid: 0..{len(names) - 1}"
            )
        for c in sorted(set(labels.tolist())):
            sel = images[torch.from_numpy(labels == c)]
            rows.append({"class": names[c], **suite.evaluate(sel, names[c], args.data_root)})
    else:
        rows.append({"class": "all", **suite.evaluate(images, None, args.data_root)})
    table = pd.DataFrame(rows)
    if args.json:
        print(table.to_json(orient="records"))
        return 0
    print(table.to_markdown(index=False, floatfmt=".4g"))
    if not suite.stacked:
        from ...metrics.feature_diversity import CAPTION

        first = table.iloc[0]
        print(
            f"\nThe suite's own evaluation, as in its runs: IS/FID/KID/precision/recall on "
            f"{first['extractor']} features (KID subsets of {first['kid_subset_size']}); "
            f"MS-SSIM over {suite.n_pairs:,} pairs, protocol {first['msssim_protocol']} (lower = "
            f"more diverse; ms_ssim_real = real images of the class); {CAPTION}."
        )
    return 0


def cmd_report(args) -> int:
    from ..analysis.stats import compare, format_comparison, plot_seeds
    from ..report.document import (
        FIGURES,
        Report,
        command_line,
        method_settings,
        missing_and_stale,
        protocol_card,
        section_runs,
    )
    from ..report.tables import per_seed
    from ..store.rundir import RunStore

    suite = get_suite(args.suite).with_overrides(_suite_options(args))
    methods = _methods(args.methods, args.suite)
    seeds = parse_seeds(args.seeds)
    if args.compare is not None and args.compare not in methods:
        raise BenchError(f"--compare {args.compare} is not among the report's methods")
    if not Path(args.out).is_dir():
        raise BenchError(f"run store {args.out} does not exist; run `bench run --out {args.out}`")
    check_writable_dir(args.results, "--results")
    specs = _plan(args, methods, seeds)
    _write_table(args, methods)  # tables and figures, exactly as `bench table` writes them
    store = RunStore(args.out)
    opts, mopts = _suite_options(args), _method_options(args, methods)
    df = per_seed(store, args.suite, methods, args.preset, opts, mopts)
    df = df[df["seed"].isin(seeds)]
    out = results_dir(args)
    metrics = [m for m in suite.reported_metrics if m in df and df[m].notna().any()]
    keys = ["method", "seed"]
    runs = df.groupby(keys, as_index=False)[metrics].mean() if "class" in df else df
    plot_seeds(runs[[*keys, *metrics]], metrics, out / "seeds.png")

    protocol = getattr(suite, "protocol", None)
    title = f"collapsebench report: {args.suite}" + (f", protocol {protocol}" if protocol else "")
    rep = Report(f"{title}, preset {args.preset}")
    rep.text(
        f"{suite.description}. {len(df)} finished runs of {len(methods)} methods, seeds "
        f"{', '.join(map(str, seeds))}; generated by collapsebench from the run store {args.out}."
    )
    rep.heading("Protocol card")
    if protocol:
        from ..suites.protocols import get_protocol

        p = get_protocol(protocol)
        rep.text(f"Source: {p.source}. {p.summary}.")
        if p.open_details:
            rep.text("What the source leaves open, and what was chosen:")
            rep.items(p.open_details)
    rep.frame(protocol_card(suite, args.preset), "Every setting that is part of the run key.")
    rep.frame(method_settings(df), "Each method's own settings, as its runs recorded them.")
    rep.heading("Tables")
    order = ["table.md", "published.md", "calibration.md"]
    tables = sorted(out.glob("table*.md"), key=lambda f: (f.name not in order, f.name))
    for f in [*tables, *(out / n for n in order[1:] if (out / n).exists())]:
        rep.table_md(f.read_text())
    if args.compare:
        rep.heading(f"{args.compare} against the other methods (`bench compare`)")
        others = [m for m in methods if m != args.compare and m in set(runs["method"])]
        stats = compare(runs, args.compare, others, metrics)
        rep.table_md(format_comparison(stats))
    rep.heading("Figures")
    for name, heading in FIGURES:
        if (out / name).exists():
            rep.heading(heading, 3)
            rep.figure(out / name, heading)
    missing, stale = missing_and_stale(
        store, args.suite, specs, {str(Path(r).relative_to(args.out)) for r in df["run_dir"]}
    )
    section_runs(rep, df, missing, stale)
    rep.heading("Reproduce")
    common = ["--suite", args.suite, "--preset", args.preset, "--methods", *methods]
    common += ["--protocol", protocol] if protocol else []
    seed_args = ["--seeds", *map(str, seeds)]
    rep.code(
        [
            command_line(["run", *common, *seed_args, "--out", args.out]),
            command_line(["report", *common, *seed_args, "--out", args.out]),
        ]
    )
    rep.write(out / "report.html", out / "report.md")
    print(f"report: {out / 'report.html'} (and report.md); {len(df)} runs, {len(missing)} missing")
    return 0


def cmd_agreement(args) -> int:
    from ..analysis.agreement import CAPTION, suite_agreement
    from ..store.atomic import atomic_write_text
    from ..store.rundir import RunStore

    for name in args.suites:
        get_suite(name)  # unknown names: one line, before any work
    check_writable_dir(args.results, "--results")
    store = RunStore(args.out)
    for name in args.suites:
        table, n = suite_agreement(store, name, args.data_root)
        if table.empty:
            raise BenchError(f"no finished runs of {name} in {args.out}")
        ref = "modes covered" if get_suite(name).kind == "toy" else "per-class MS-SSIM"
        caption = f"{name}: {n} runs, reference {ref}. {CAPTION}"
        out = Path(args.results) / "agreement"
        md = table.to_markdown(index=False, floatfmt=".3f")
        atomic_write_text(out / f"{name}.md", f"{md}\n\n{caption}\n")
        atomic_write_text(out / f"{name}.csv", table.to_csv(index=False))
        print(f"{md}\n\n{caption}\n")
    return 0


def cmd_data(args) -> int:
    from ..suites.data import download

    print(f"{args.name}: {download(args.name, args.data_root)}")
    return 0


def cmd_perf(args) -> int:
    from ..runs.perf import run_perf, run_perf_executor, run_perf_stacked

    if args.executor is not None and args.batch_models is not None:
        raise BenchError("bench perf: use --executor or --batch-models, not both")
    if args.executor is not None:
        if args.executor != "ray":
            raise BenchError(
                f"bench perf: --executor {args.executor!r} is not measurable; valid: ray "
                "(it is compared with local)"
            )
        result = run_perf_executor(
            args.suite,
            args.method,
            runs=args.runs,
            steps=args.steps,
            repeats=args.repeats,
            workers=args.workers,
            address=args.address,
        )
    elif args.batch_models is not None:
        result = run_perf_stacked(
            args.suite,
            args.method,
            args.batch_models,
            steps=args.steps,
            repeats=args.repeats,
            device=args.device,
            threads=args.threads,
            data_root=args.data_root,
        )
    elif args.device != "cpu" or args.threads is not None:
        raise BenchError("bench perf: --device and --threads apply with --batch-models only")
    else:
        result = run_perf(
            args.suite,
            args.method,
            steps=args.steps,
            repeats=args.repeats,
            workers_check=args.workers_check,
        )
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        for k, v in result.items():
            print(f"{k:<28} {v}")
    return 0


COMMANDS = {
    "list": cmd_list,
    "run": cmd_run,
    "table": cmd_table,
    "variants": cmd_variants,
    "evaluate": cmd_evaluate,
    "compare": cmd_compare,
    "check": cmd_check,
    "critic": cmd_critic,
    "report": cmd_report,
    "agreement": cmd_agreement,
    "data": cmd_data,
    "perf": cmd_perf,
}


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if hasattr(args, "dinov2_weights"):
            with _use_dinov2(args):
                return COMMANDS[args.command](args)
        return COMMANDS[args.command](args)
    except BenchError as exc:
        print(f"bench: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # the machine, not the input: a full disk, a vanished folder
        where = f" {exc.filename}" if exc.filename else ""
        print(f"bench: error: cannot write{where}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("bench: interrupted; run the same command again to resume", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
