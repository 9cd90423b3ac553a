"""bench compare, check and report: statistics over runs, the CI gate, the shareable report."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..errors import BenchError
from ..store.atomic import check_writable_dir
from ..suites import get_suite
from .args import (
    _check_outputs,
    _execute,
    _method_options,
    _methods,
    _plan,
    _runtime,
    _suite_options,
    results_dir,
    table_request,
    write_tables,
)
from .values import parse_seeds


def _ensure_runs(args, methods: list[str]):
    """Run whatever is missing for (methods x seeds) and return the per-seed table."""
    from ..report.tables import CONVERGED, cell_marks, per_seed, select_runs
    from ..store.runstore import RunStore

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
    # the seeds and classes asked for only: another class's runs (some still training) would
    # enter the per-class tests and every seed's mean over classes
    df = select_runs(df, seeds, getattr(args, "classes", None))
    df = df[keep]  # settings such as ndb_bins are not metrics
    # per-class suites: a method's mark covers every run of it, over classes and seeds
    marks = cell_marks(df, reported)
    df = df.drop(columns=[c for c in df.columns if c.startswith(CONVERGED)])
    per_class = df.copy() if "class" in df.columns else None
    if "class" in df.columns:
        # per-class suites: one number per (method, seed), the mean over the classes trained, so
        # the statistics see independent seeds and never treat classes as replicates
        metrics = [m for m in reported if m in df]
        df = df.groupby(["method", "seed"], as_index=False)[metrics].mean()
    return df, marks, per_class


def cmd_compare(args) -> int:
    from ..analysis.convergence import CAPTION as CONVERGENCE_CAPTION
    from ..analysis.stats import check_alpha, compare, summarize
    from ..analysis.stats_format import format_comparison
    from ..report.seed_plots import plot_seeds
    from ..store.atomic import atomic_write_text

    suite = get_suite(args.suite)
    try:
        check_alpha(args.alpha)  # before any training
    except ValueError as exc:
        raise BenchError(str(exc)) from None
    if args.method in args.against:
        raise BenchError(
            f"--method {args.method} is also in --against; compare a method against others"
        )
    methods = _methods([args.method, *args.against])
    df, marks, per_class = _ensure_runs(args, methods)
    # a metric no run has a value for (first step at full coverage when none reached it)
    # has nothing to compare
    metrics = [m for m in suite.reported_metrics if m in df and df[m].notna().any()]
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
    written = [out / f"{stem}.csv", out / f"{stem}.png"]
    if per_class is not None:
        from ..analysis.per_class import claim_report

        tables = []
        for baseline in args.against:
            text, table = claim_report(per_class, args.method, baseline, metrics, args.alpha)
            print(text)
            tables.append(table)
        written.append(out / f"{stem}-per-class.csv")
        atomic_write_text(written[-1], pd.concat(tables).to_csv(index=False))
    print(f"\nwritten: {', '.join(map(str, written))}")
    return 0


def cmd_check(args) -> int:
    from ..analysis import gate
    from ..analysis import reference as reference_file

    suite = get_suite(args.suite)
    try:
        tolerance = gate.Tolerance.parse(args.tolerance)
    except ValueError as exc:
        raise BenchError(str(exc)) from None
    try:
        reference = reference_file.read_reference(args.reference)
    except ValueError as exc:
        if not args.update:
            raise BenchError(str(exc)) from None
        # --update may write a new file or replace a bad one; an existing one gives the methods
        reference = None
    if args.methods:
        methods = _methods(args.methods)
    elif reference is not None:
        methods = _methods(list(dict.fromkeys(reference["method"])))
    else:
        raise BenchError("--update without an existing reference needs --methods")
    df, marks, _ = _ensure_runs(args, methods)
    # the gate holds the final-snapshot metrics; the curve-derived ones are reported, not gated
    df = df.drop(columns=[m for m in getattr(suite, "dynamics_names", ()) if m in df])
    metrics = [m for m in suite.evaluated_metrics if m in df]
    try:
        if args.update:
            new = reference_file.update_reference(args.reference, df, metrics)
            if reference is not None:
                _, diff = gate.check(reference, new, tolerance)
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
    """Ours beside the published cells with verdicts, where the suite's protocol has them."""
    from ..report.writers import verdicts_text

    text = verdicts_text(table_request(args, sorted(set(df["method"]))), df)
    if text:
        print()
        print(text)


def cmd_report(args) -> int:
    from ..report.build import ReportRequest, build_report
    from ..store.runstore import RunStore

    methods = _methods(args.methods, args.suite)
    seeds = parse_seeds(args.seeds)
    if args.compare is not None and args.compare not in methods:
        raise BenchError(f"--compare {args.compare} is not among the report's methods")
    if not Path(args.out).is_dir():
        raise BenchError(f"run store {args.out} does not exist; run `bench run --out {args.out}`")
    check_writable_dir(args.results, "--results")
    specs = _plan(args, methods, seeds)  # also refuses --classes on a suite without classes
    req = table_request(args, methods, select=True)
    # tables and figures, exactly as `bench table --seeds --classes` writes them
    write_tables(args, methods, select=True)
    rep = ReportRequest(
        tables=req,
        out=args.out,
        seeds=tuple(seeds),
        classes=tuple(args.classes) if args.classes else None,
        compare=args.compare,
        method_set=tuple(args.method_set) if getattr(args, "method_set", None) else (),
    )
    path, n_runs, n_missing = build_report(rep, RunStore(args.out), specs)
    print(f"report: {path} (and report.md); {n_runs} runs, {n_missing} missing")
    return 0
