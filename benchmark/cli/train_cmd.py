"""bench list, run, variants, critic, data and perf: the commands that train or prepare."""

from __future__ import annotations

import json
import sys

from ...baselines import REGISTRY
from ..errors import BenchError
from ..store.atomic import check_writable_dir
from ..suites import SUITES, get_suite
from .args import (
    _check_outputs,
    _execute,
    _layout,
    _method_options,
    _methods,
    _plan,
    _runtime,
    _suite_options,
    results_dir,
    write_tables,
)
from .values import parse_seeds


def cmd_list(args) -> int:
    print("suites:")
    for s in SUITES.values():
        print(f"  {s.name:<17} {s.description}")
        for line in s.preset_lines():
            print(f"      {line}")
    from ..suites.protocols import DEFAULT_PROTOCOL, PROTOCOLS

    print("protocols (toy suites, --protocol NAME):")
    for proto in PROTOCOLS.values():
        mark = " (default)" if proto.name == DEFAULT_PROTOCOL else ""
        print(f"  {proto.name:<17} {proto.summary}{mark}")
        print(f"      source: {proto.source}")
        for name, tc in proto.presets.items():
            print(
                f"      preset {name:<8} {tc.steps:,} generator steps, batch {tc.batch_size}, "
                f"{proto.eval_size(name):,} evaluation samples"
            )
    print("methods:")
    for name, cls in REGISTRY.items():
        doc = (sys.modules[cls.__module__].__doc__ or "").strip().splitlines()[0]
        print(f"  {name:<14} {doc}")
    return 0


def cmd_run(args) -> int:
    from ..store.runstore import RunStore

    suite = get_suite(args.suite)
    methods = _methods(args.methods, args.suite)
    seeds = parse_seeds(args.seeds)
    specs = _plan(args, methods, seeds)
    store = RunStore(args.out)
    runtime = _runtime(args)
    _check_outputs(args)
    suite.with_overrides(_suite_options(args)).check_ready(args.data_root)
    if args.dry_run:
        print(_dry_run(args, store, specs, runtime))
        return 0
    store.ensure_writable()
    skipped = [s for s in specs if store.run_dir(s).finished]
    # a progress line: under --no-progress an error must be the only line on stderr (the
    # closing summary counts the finished runs)
    if skipped and not args.no_progress:
        print(
            f"{len(skipped)} of {len(specs)} runs already finished in {args.out}; skipping them",
            file=sys.stderr,
        )
    trained = _execute(args, store, specs)
    if getattr(args, "no_wait", False):
        print(
            "bench: not waiting; when the array is done, `bench table` with the same options "
            "writes the tables (runs still training are listed as missing)",
            file=sys.stderr,
        )
        return 0
    args.format = "md"
    print(write_tables(args, methods))
    diverged = sum(bool(m.get("diverged")) for m in trained.values())
    print(
        f"bench: {len(specs)} runs: {len(trained)} trained now ({diverged} diverged), "
        f"{len(skipped)} already finished; tables and figures in {results_dir(args)}; "
        f"one shareable file: bench report --suite {args.suite} (same options)",
        file=sys.stderr,
    )
    return 0


def _dry_run(args, store, specs, runtime) -> str:
    """`bench run --dry-run`: each planned run's state in the store and what is left to train,
    checked as a run would be, with nothing trained or written."""
    from ..runs.planning import run_states
    from ..runs.runner import check_trainable

    states = run_states(store, specs)
    check_trainable(store, [r.spec for r in states if r.state != "finished"])
    lines = ["| run | state | generator step | note |", "|:--|:--|--:|:--|"]
    for r in states:
        lines.append(
            f"| {r.spec.label} | {r.state} | {r.step:,} / {r.spec.train.steps:,} | {r.note} |"
        )
    count = {k: sum(r.state == k for r in states) for k in ("finished", "resumes", "new")}
    left = sum(r.spec.train.steps - r.step for r in states if r.state != "finished")
    workers, batch_models, why = _layout(args, specs, runtime)
    layout = why or f"{workers} process(es), --batch-models {batch_models}"
    bad = len(states) - sum(count.values())
    n = len(states)
    return "\n".join(lines) + (
        f"\n\n{n} run{'s' * (n != 1)} in {args.out}: {count['finished']} finished, "
        f"{count['resumes']} resuming from a checkpoint, {count['new']} new"
        + (f", {bad} with an unreadable checkpoint (see note)" if bad else "")
        + f"; {left:,} generator steps left to train; layout: {layout}. Nothing was trained "
        "or written (--dry-run)."
    )


def cmd_variants(args) -> int:
    from ..report import variants as V
    from ..report.tables import render
    from ..runs.planning import check_classes
    from ..store.atomic import atomic_write_text
    from ..store.runstore import RunStore

    suite = get_suite(args.suite)
    method = _methods([args.method])[0]
    seeds = parse_seeds(args.seeds)
    variant_list = V.variants(V.parse_axes(args.vary, args.suite), args.suite, method)
    base = _suite_options(args)
    by_variant = V.plan_variants(
        args.suite, method, variant_list, seeds, args.preset, args.data_root, base
    )
    if args.classes is not None:
        check_classes(suite, args.classes, args.suite)
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
    if done and not args.no_progress:
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


def cmd_critic(args) -> int:
    from ..analysis.critic_curve import critic_curve
    from ..report.image_plots import critic_figure
    from ..report.tables import per_seed, select_present
    from ..runs.planning import check_classes
    from ..store.atomic import atomic_write_text
    from ..store.runstore import RunStore

    suite = get_suite(args.suite)
    if not suite.stores_generators:
        raise BenchError(
            f"bench critic scores stored generator snapshots; {args.suite} stores none (its "
            "table already has the critic's curve in curves.png)"
        )
    methods = _methods(args.methods, args.suite)
    check_classes(suite, args.classes, args.suite)
    seeds = None if args.seeds is None else parse_seeds(args.seeds)
    check_writable_dir(args.results, "--results")
    df = per_seed(
        RunStore(args.out),
        args.suite,
        methods,
        args.preset,
        _suite_options(args),
        _method_options(args, methods),
    )
    df = select_present(df, seeds, args.classes)
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


def cmd_data(args) -> int:
    from ..suites.data import download

    print(f"{args.name}: {download(args.name, args.data_root)}")
    return 0


def cmd_perf(args) -> int:
    from ..runs.perf import run_perf, run_perf_stacked
    from ..runs.perf_ray import run_perf_executor

    if args.protocol is not None:
        get_suite(args.suite).resolve({"protocol": args.protocol})  # one line if unknown
    if args.profile:
        from ..runs.step_profile import step_profile

        result = step_profile(
            args.suite, args.method, args.protocol, args.steps, args.repeats, not args.no_compile
        )
        print(json.dumps(result, indent=2) if args.json else _profile_text(result))
        return 0
    chosen = [
        option
        for option, given in (
            ("--executor", args.executor is not None),
            ("--batch-models", args.batch_models is not None),
            ("--layout", args.layout),
        )
        if given
    ]
    if len(chosen) > 1:
        raise BenchError(
            f"bench perf: {' and '.join(chosen)} are different measurements; use one of "
            "--executor, --batch-models, --layout"
        )
    if args.layout:
        from ..runs.perf_layout import run_perf_layout

        result = run_perf_layout(args.suite, args.method, args.runs, args.steps, args.protocol)
    elif args.executor is not None:
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
            protocol=args.protocol,
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
            protocol=args.protocol,
        )
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        for k, v in result.items():
            print(f"{k:<28} {v}")
    return 0


def _profile_text(r: dict) -> str:
    lines = [f"{k:<30} {v}" for k, v in r.items() if k != "top_operators"]
    lines.append("top operators by self CPU time:")
    lines += [f"  {o['share']:>6.1%}  {o['op']} ({o['calls']} calls)" for o in r["top_operators"]]
    return "\n".join(lines)
