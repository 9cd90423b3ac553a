"""bench table, export, evaluate and agreement: tables from the run store, its records copied
out, and metrics of sample files."""

from __future__ import annotations

from pathlib import Path

from ..errors import BenchError
from ..store.atomic import check_writable_dir
from ..suites import SUITES, get_suite
from .args import _method_options, _methods, _suite_options, write_tables
from .values import parse_seeds


def cmd_table(args) -> int:
    from ..runs.planning import check_classes

    check_classes(get_suite(args.suite), args.classes, args.suite)
    if args.seeds is not None:
        parse_seeds(args.seeds)  # malformed seeds: one line, before any work
    if not Path(args.out).is_dir():
        raise BenchError(
            f"run store {args.out} does not exist; run `bench run --out {args.out}` first"
        )
    check_writable_dir(args.results, "--results")
    print(write_tables(args, _methods(args.methods, args.suite), select=True), end="")
    return 0


def cmd_export(args) -> int:
    from ..runs.planning import check_classes, config_hashes
    from ..store.export import export_runs, select_records
    from ..store.runstore import RunStore

    check_classes(get_suite(args.suite), args.classes, args.suite)
    seeds = None if args.seeds is None else parse_seeds(args.seeds)
    if not Path(args.out).is_dir():
        raise BenchError(f"run store {args.out} does not exist; give the store that trained them")
    methods = _methods(args.methods, args.suite)
    hashes = config_hashes(
        args.suite, methods, args.preset, _suite_options(args), _method_options(args, methods)
    )
    records = select_records(RunStore(args.out), args.suite, hashes, seeds, args.classes)
    done = export_runs(
        records, RunStore(args.to), samples=not args.no_samples, weights=args.weights
    )
    kept = ["records"] + ([] if args.no_samples else ["samples"]) + ["weights"] * args.weights
    what = " and ".join([", ".join(kept[:-1]), kept[-1]] if len(kept) > 1 else kept)
    left = ["samples"] * args.no_samples + ([] if args.weights else ["weights"])
    what += f" (no {', no '.join(left)})" if left else ""
    print(
        f"exported {done.copied} runs' {what} to {args.to} ({done.bytes_copied / 2**20:.1f} MiB); "
        f"{done.already} were there already. Tables from them: bench table --suite "
        f"{args.suite} (same options) --out {args.to}"
    )
    return 0


def cmd_evaluate(args) -> int:
    if args.suite not in SUITES:
        valid = ", ".join(SUITES)
        raise BenchError(f"unknown suite {args.suite!r}; valid suites for evaluate: {valid}")
    suite = get_suite(args.suite).with_overrides(_suite_options(args))
    if args.within is not None:
        if suite.kind != "toy":
            raise BenchError(f"--within applies to toy suites; {args.suite} is an image suite")
        suite = suite.scored_within(args.within)
    as_json, as_text = suite.evaluate_file(Path(args.samples), args.data_root, args.pairs)
    print(as_json if args.json else as_text)
    return 0


def cmd_agreement(args) -> int:
    from ..analysis.agreement import CAPTION, suite_agreement
    from ..store.atomic import atomic_write_text
    from ..store.runstore import RunStore

    for name in args.suites:
        get_suite(name)  # unknown names: one line, before any work
    check_writable_dir(args.results, "--results")
    store = RunStore(args.out)
    for name in args.suites:
        table, n = suite_agreement(store, name, args.data_root)
        if table.empty:
            raise BenchError(f"no finished runs of {name} in {args.out}")
        ref = get_suite(name).agreement_reference[1]
        caption = f"{name}: {n} runs, reference {ref}. {CAPTION}"
        out = Path(args.results) / "agreement"
        md = table.to_markdown(index=False, floatfmt=".3f")
        atomic_write_text(out / f"{name}.md", f"{md}\n\n{caption}\n")
        atomic_write_text(out / f"{name}.csv", table.to_csv(index=False))
        print(f"{md}\n\n{caption}\n")
    return 0
