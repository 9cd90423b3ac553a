"""bench compare, check and report: statistics over runs, the CI gate, the shareable report."""

from __future__ import annotations

from pathlib import Path

from ..errors import BenchError
from ..store.atomic import check_writable_dir
from ..suites.toy import get_suite
from .args import (
    _check_outputs,
    _execute,
    _method_options,
    _methods,
    _plan,
    _runtime,
    _suite_options,
    parse_seeds,
    results_dir,
)
from .tables_cmd import _write_table


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
    # per-class suites: a method's mark covers every run of it, over classes and seeds
    marks = cell_marks(df, reported)
    df = df.drop(columns=[c for c in df.columns if c.startswith(CONVERGED)])
    if "class" in df.columns:
        # per-class suites: one number per (method, seed), the mean over the classes trained, so
        # the statistics see independent seeds and never treat classes as replicates
        metrics = [m for m in reported if m in df]
        df = df.groupby(["method", "seed"], as_index=False)[metrics].mean()
    return df, marks


def shown_store(out: str) -> str:
    """The run store as a committed report may name it: a relative path as given, an absolute
    one (this machine's layout) as a placeholder."""
    return "RUNS" if Path(out).is_absolute() else str(out)


def cmd_compare(args) -> int:
    from ..analysis.convergence import CAPTION as CONVERGENCE_CAPTION
    from ..analysis.stats import check_alpha, compare, summarize
    from ..analysis.stats_format import format_comparison, plot_seeds
    from ..store.atomic import atomic_write_text

    suite = get_suite(args.suite)
    try:
        check_alpha(args.alpha)  # before any training
    except ValueError as exc:
        raise BenchError(str(exc)) from None
    methods = _methods([args.method, *args.against])
    df, marks = _ensure_runs(args, methods)
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
    print(f"\nwritten: {out / (stem + '.csv')}, {out / (stem + '.png')}")
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
    df, marks = _ensure_runs(args, methods)
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


def cmd_report(args) -> int:
    from ..analysis.convergence import CAPTION as CONVERGENCE_CAPTION
    from ..analysis.stats import compare
    from ..analysis.stats_format import format_comparison, plot_seeds
    from ..report.document import (
        FIGURES,
        Report,
        command_line,
        method_settings,
        missing_and_stale,
        protocol_card,
        section_runs,
    )
    from ..report.tables import cell_marks, per_seed
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
    if args.classes is not None:
        df = df[df["class"].astype(str).isin(args.classes)]
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
        f"{', '.join(map(str, seeds))}; generated by collapsebench from the run store "
        f"{shown_store(args.out)}"
        + (" (the commands below name it RUNS)." if Path(args.out).is_absolute() else ".")
    )
    # the answer first: the tables with their marks and verdicts, then the samples
    rep.heading("Tables")
    order = ["table.md", "published.md", "calibration.md"]
    tables = sorted(out.glob("table*.md"), key=lambda f: (f.name not in order, f.name))
    for f in [*tables, *(out / n for n in order[1:] if (out / n).exists())]:
        rep.table_md(f.read_text())
    if (out / "samples.png").exists():
        rep.figure(out / "samples.png", FIGURES[0][1])
    if args.compare:
        rep.heading(f"{args.compare} against the other methods (`bench compare`)")
        others = [m for m in methods if m != args.compare and m in set(runs["method"])]
        stats = compare(runs, args.compare, others, metrics)
        rep.table_md(format_comparison(stats, cell_marks(df, metrics)))
        rep.text(CONVERGENCE_CAPTION)
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
    rep.heading("Figures")
    for name, heading in FIGURES[1:]:
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
    order = _suite_options(args).get("update_order")
    common += ["--update-order", order] if order else []
    common += ["--set", *args.method_set] if getattr(args, "method_set", None) else []
    seed_args = ["--seeds", *map(str, seeds)]
    seed_args += ["--classes", *args.classes] if args.classes else []
    rep.code(
        [
            command_line(["run", *common, *seed_args, "--out", shown_store(args.out)]),
            command_line(["report", *common, *seed_args, "--out", shown_store(args.out)]),
        ]
    )
    rep.write(out / "report.html", out / "report.md")
    print(f"report: {out / 'report.html'} (and report.md); {len(df)} runs, {len(missing)} missing")
    return 0
