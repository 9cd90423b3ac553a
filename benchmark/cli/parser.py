"""The bench command line: every command, flag and default in one parser."""

from __future__ import annotations

import argparse

from .args import (
    DEFAULT_OUT,
    DEFAULT_RESULTS,
    _counting_args,
    _dinov2_arg,
    _exec_args,
    _Parser,
    _protocol_arg,
    _store_args,
)
from .values import positive_float, positive_int


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
    r.add_argument(
        "--no-plots", action="store_true", help="tables only; `bench table` draws the figures"
    )
    r.add_argument(
        "--dry-run",
        action="store_true",
        help="print each planned run's state (finished, resumes at step N, new) and the steps "
        "left, then exit: nothing is trained or written",
    )

    v = sub.add_parser(
        "variants", help="Wang (2024): one method under optimiser / network variants, one table"
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
    t.add_argument(
        "--seeds", nargs="+", default=None, help="these seeds only (default: every finished run)"
    )
    t.add_argument("--classes", nargs="+", default=None, help="per-class suites: these only")
    t.add_argument("--format", default="md", choices=["md", "csv", "latex"])
    t.add_argument("--no-plots", action="store_true")

    x = sub.add_parser(
        "export",
        help="copy finished runs without their weights into another run store (to commit them)",
    )
    _store_args(x, preset="default", results=False, runs=False)
    x.add_argument("--to", required=True, help="destination run store (created if missing)")
    x.add_argument("--methods", nargs="+", default=None)
    x.add_argument("--seeds", nargs="+", default=None, help="these seeds only (default: every)")
    x.add_argument("--classes", nargs="+", default=None, help="per-class suites: these only")
    x.add_argument(
        "--no-samples",
        action="store_true",
        help="leave out the final samples and snapshots (10 MB per image run): tables, compare "
        "and report still work; the sample figures and evaluating a metric added later need them",
    )
    x.add_argument(
        "--weights",
        action="store_true",
        help="also the checkpoint and generator snapshots (resuming, `bench critic`)",
    )

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
        type=positive_int,
        default=None,
        help="image pairs for MS-SSIM (default: the suite's, as in its runs)",
    )
    e.add_argument(
        "--within",
        type=positive_float,
        default=None,
        metavar="K",
        help="toy suites: a sample is high quality, and covers its nearest mode, within K std "
        "of it (default: the protocol's radii, 3 std in every published protocol)",
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
    w.add_argument(
        "--seeds", nargs="+", default=None, help="these seeds only (default: every finished run)"
    )
    w.add_argument("--classes", nargs="+", default=None, help="per-class suites: these only")
    w.add_argument("--critic-steps", type=positive_int, default=500)
    w.add_argument("--no-progress", action="store_true")

    rp = sub.add_parser(
        "report", help="one self-contained HTML report (and a Markdown twin) of a suite's runs"
    )
    _store_args(rp, preset="default", runs=False)
    rp.add_argument("--methods", nargs="+", default=None)
    rp.add_argument("--seeds", nargs="+", default=["0", "1", "2"], help="the planned seeds")
    rp.add_argument("--classes", nargs="+", default=None, help="per-class suites: these only")
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
    f.add_argument("--steps", type=positive_int, default=100)
    f.add_argument("--repeats", type=positive_int, default=3)
    f.add_argument(
        "--batch-models",
        type=positive_int,
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
        type=positive_int,
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
        "--layout",
        action="store_true",
        help="instead: the layout bench run chooses for --runs seeds (stacked or not, processes "
        "x threads) vs plain loops in one 1-thread process per core",
    )
    f.add_argument(
        "--runs",
        type=positive_int,
        default=4,
        help="with --executor or --layout: runs (seeds) per measurement",
    )
    f.add_argument(
        "--workers",
        type=positive_int,
        default=None,
        help="with --executor: parallel runs for both executors (default: one per core)",
    )
    f.add_argument(
        "--protocol",
        default=None,
        help="toy suites: the protocol whose nets and batch to time (default: the suite's)",
    )
    f.add_argument(
        "--profile",
        action="store_true",
        help="instead: FLOPs per step, share of the machine's matmul rate, top operators and "
        "torch.compile vs eager",
    )
    f.add_argument("--no-compile", action="store_true", help="with --profile: skip torch.compile")
    f.add_argument("--json", action="store_true")
    return p
