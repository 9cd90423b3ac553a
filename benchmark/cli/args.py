"""Arguments and helpers the bench commands share: seeds, stores, protocols, runtime, planning."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

from ...baselines import REGISTRY
from ..errors import BenchError
from ..store.atomic import check_writable_dir
from ..suites import SUITES, get_suite
from ..suites.protocols import NET_CHOICES, RING_LAYOUTS
from .slurm_args import SLURM_FLAGS, add_slurm_arguments, slurm_options
from .values import parse_seeds, positive_int

DEFAULT_OUT = "runs"


DEFAULT_RESULTS = "results"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, no usage dump
        self.exit(2, f"{self.prog}: error: {message}\n")


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
    p.add_argument("--width", type=positive_int, default=None, help="image suites: ngf = ndf")
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
    if given is not None and args.suite in SUITES and not get_suite(args.suite).image_features:
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
        type=positive_int,
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
    p.add_argument(
        "--update-order",
        choices=("alternating", "simultaneous"),
        default=None,
        help="toy suites: G and D updated in turn or from one forward pass, instead of the "
        "protocol's order (a different run key and results folder)",
    )
    p.add_argument(
        "--ring",
        choices=RING_LAYOUTS,
        default=None,
        help="ring suites: distinct (default: k modes at 2 pi i / k) or linspace (the ring of "
        "the unrolled-GAN and GDPP code: k - 1 modes, one drawn twice as often; a different "
        "run key and results folder)",
    )
    p.add_argument(
        "--nets",
        choices=NET_CHOICES,
        default=None,
        help="toy suites: build these nets instead of the protocol's (another protocol's, or "
        "veegan-code: the nets of VEEGAN's released notebook, veegan-code-torch-init: the same "
        "with PyTorch's default init; a different run key and results folder)",
    )
    p.add_argument(
        "--batch-size",
        type=positive_int,
        default=None,
        metavar="N",
        help="toy suites: train every preset with batches of N instead of the protocol's (a "
        "different run key and results folder)",
    )


def _exec_args(p: argparse.ArgumentParser) -> None:
    """How runs are executed: never part of a run's identity (benchmark/training/runtime.py)."""
    p.add_argument(
        "--workers",
        type=positive_int,
        default=None,
        help="parallel processes (default: chosen for the machine, runs/layout.py)",
    )
    p.add_argument("--no-progress", action="store_true")
    p.add_argument(
        "--executor",
        default="local",
        help="local (default: this machine's process pool), ray (one Ray task per run) or "
        "slurm (one Slurm job array through submitit; extra: slurm)",
    )
    p.add_argument("--address", default=None, help="--executor ray: auto or HOST:PORT")
    add_slurm_arguments(p, positive_int)
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
        type=positive_int,
        default=None,
        metavar="K",
        help="train up to K runs of one configuration (seeds, classes) as one stacked model "
        "(gan, lsgan, pacgan2/3/4, greed-gan, wgan, greed-wgan, wgan-gp; others one at a time; "
        "default: chosen for the machine, runs/layout.py)",
    )


def _runtime(args):
    """The execution options, checked (executor, address, device) before any work or output."""
    from ..runs.runner import EXECUTORS
    from ..training.runtime import runtime_for

    if args.executor not in EXECUTORS:
        raise BenchError(f"unknown --executor {args.executor!r}; valid: {', '.join(EXECUTORS)}")
    if args.address is not None and args.executor != "ray":
        raise BenchError("--address applies to --executor ray only")
    slurm_flags = [a for a in SLURM_FLAGS if getattr(args, a, None) not in (None, False)]
    if slurm_flags and args.executor != "slurm":
        names = ", ".join("--" + a.replace("_", "-") for a in slurm_flags)
        raise BenchError(f"{names}: apply to --executor slurm only")
    if args.executor == "slurm":
        from ..runs.slurm_executor import import_submitit

        slurm_options(args)  # a bad option or config file: one line before any work
        import_submitit()
    if args.log_dir is not None and args.log is None:
        raise BenchError("--log-dir applies with --log tensorboard only")
    if args.log is not None and (args.batch_models or 1) > 1:
        raise BenchError("--log streams runs trained one at a time; drop --batch-models")
    return runtime_for(
        get_suite(args.suite).amp_capable,
        args.device,
        args.no_amp,
        args.fast,
        args.log,
        args.log_dir,
    )


def _layout(args, specs, runtime) -> tuple[int, int | None, str | None]:
    """--workers and --batch-models as given, the rest chosen for the machine
    (runs/layout.py); the third value says why, None when both were given."""
    from ..runs.layout import choose_layout

    workers, batch_models = args.workers, args.batch_models
    if workers is not None and batch_models is not None:
        return workers, batch_models, None
    auto = choose_layout(specs, runtime.device, streaming_log=args.log is not None)
    workers = auto.workers if workers is None else workers
    batch_models = auto.batch_models if batch_models is None else batch_models
    return workers, batch_models, auto.why


def _execute(args, store, specs) -> dict:
    """Train the missing runs of ``specs`` as the command line asks (executor, device, ...)."""
    from ..runs.runner import execute

    runtime = _runtime(args)
    workers, batch_models, why = _layout(args, specs, runtime)
    if why and not args.no_progress and len(specs) > 1:
        print(f"bench: layout {why} (--workers / --batch-models override)", file=sys.stderr)
    return execute(
        store,
        specs,
        workers=workers,
        progress=not args.no_progress,
        data_root=args.data_root,
        executor=args.executor,
        address=args.address,
        runtime=runtime,
        batch_models=batch_models,
        slurm=slurm_options(args) if args.executor == "slurm" else None,
        wait=not getattr(args, "no_wait", False),
    )


def _suite_options(args) -> dict:
    """The suite options of the command line: the image options given, and what the suite
    makes of --protocol / --update-order (``Suite.command_options``)."""
    names = ("arch", "width", "min_count", "counter")
    opts = {k: v for k in names if (v := getattr(args, k, None)) is not None}
    suite = get_suite(args.suite)
    toy = ("protocol", "update_order", "ring", "nets", "batch_size")
    opts.update(suite.command_options({k: getattr(args, k, None) for k in toy}))
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


def table_request(args, methods: list[str], select: bool = False):
    """The command line's table request (``report/writers.py``). With ``select`` the tables
    cover only the command's ``--seeds`` and ``--classes`` (`bench table`, `bench report`);
    without, every finished run of the configuration (`bench run`, `bench compare`: their
    tables are the store's, whichever seeds one command trained)."""
    from ..report.writers import TableRequest

    seeds = getattr(args, "seeds", None) if select else None
    classes = getattr(args, "classes", None) if select else None
    return TableRequest(
        seeds=None if seeds is None else tuple(parse_seeds(seeds)),
        classes=None if classes is None else tuple(classes),
        suite=args.suite,
        preset=args.preset,
        methods=tuple(methods),
        results=getattr(args, "results", "results"),  # bench check writes no tables
        suite_options=_suite_options(args),
        method_options=_method_options(args, methods),
        method_set=getattr(args, "method_set", None),
        format=getattr(args, "format", "md"),
        no_plots=getattr(args, "no_plots", False),
    )


def write_tables(args, methods: list[str], select: bool = False) -> str:
    """Every table and figure of the command line's suite, as ``bench table`` writes them."""
    from ..report.writers import write_tables as _write
    from ..store.runstore import RunStore

    return _write(table_request(args, methods, select), RunStore(args.out))


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
