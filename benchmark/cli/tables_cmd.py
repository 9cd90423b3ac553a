"""bench table, evaluate and agreement: tables from the run store and metrics of sample files."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from ..errors import BenchError
from ..store.atomic import check_writable_dir
from ..suites.toy import SUITES, get_suite
from .args import _method_options, _methods, _suite_options, results_dir


def _write_table(args, methods: list[str]) -> str:
    from ..analysis.convergence import CAPTION as CONVERGENCE_CAPTION
    from ..report import plots
    from ..report.partition_plots import partition_figure
    from ..report.tables import (
        cell_marks,
        display_table,
        diverged_counts,
        per_seed,
        render,
        seed_list,
        summary,
    )
    from ..store.atomic import atomic_write_text, remove_stale_tmp
    from ..store.rundir import RunStore
    from ..suites.protocols import get_protocol
    from ..suites.published import published_table, verdict_counts
    from ..suites.toy import diversity_caption

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
    table = display_table(
        summ, suite.reported_metrics, marks, protocol, args.suite, diverged_counts(df)
    )
    budget, n_eval = suite.presets[args.preset], suite.eval_size(args.preset)
    seeds = seed_list(df)
    caption = (
        f"{args.suite} under protocol {protocol.name} ({protocol.source}), preset {args.preset} "
        f"({budget.steps:,} generator steps, batch {budget.batch_size}): mean ± std over seeds "
        f"{seeds} ({n_eval:,} samples each). Covered: {_covered_rule(suite)}; hq = within "
        f"{suite.hq_within:g} std of the nearest mode; reverse KL = KL(nearest-mode histogram of "
        f"{'all' if suite.kl_over == 'all' else 'high-quality'} samples || uniform), nats. "
        f"{diversity_caption(n_eval)} {CONVERGENCE_CAPTION}"
    )
    out = results_dir(args)
    if out.is_dir():
        remove_stale_tmp(out)  # a killed `bench table` leaves its temporary file behind
    atomic_write_text(out / "table.md", render(table, "md", caption))
    atomic_write_text(out / "table.csv", render(table, "csv", caption))
    atomic_write_text(out / "per_seed.csv", df.drop(columns="run_dir").to_csv(index=False))
    text = render(table, args.format, caption)
    pub = published_table(df, protocol, args.suite, budget.steps)
    if len(pub):
        pub_caption = (
            f"{args.suite}, protocol {protocol.name}: ours (mean ± s.e. over our seeds, preset "
            f"{args.preset}: {budget.steps:,} steps) beside the published mean ± s.e. "
            f"({protocol.published_as or protocol.source.split(',')[0]}); verdict: agrees within "
            "2 combined standard errors (our s.e. alone where none is published), differs (the "
            "why column gives the measured reason), or not comparable (budget or trials differ "
            f"from the source's). {verdict_counts(pub)}"
        )
        pub_view = _rounded(pub).set_index("published row")
        atomic_write_text(out / "published.md", render(pub_view, "md", pub_caption))
        atomic_write_text(out / "published.csv", pub.to_csv(index=False))
        text += "\n" + render(pub_view, args.format, pub_caption)
    if not getattr(args, "no_plots", False):
        plots.samples_figure(df, args.suite, methods, args.preset, out / "samples.png")
        plots.curves_figure(df, out / "curves.png")
        plots.convergence_figure(df, suite.metric_names, out / "convergence.png")
        plots.modes_by_seed_figure(df, suite.n_modes, out / "modes_by_seed.png")
        plots.curriculum_figure(df, out / "curriculum.png")
        partition_figure(df, args.suite, methods, out / "partitions.png")
    return text


def _note_lacking(df, suite) -> None:
    """Runs finished before a metric existed show empty cells until `bench run` adds it."""
    if df.empty:
        return
    cols = [m for m in suite.evaluated_metrics if df[m].isna().any()]  # per_seed has every column
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
    arr = suite.check_evaluable(arr, what=f"samples in {args.samples}")
    metrics = suite.evaluate(arr)
    if args.json:
        print(json.dumps(metrics))
    else:
        for k, v in metrics.items():
            print(f"{k:<16} {v}")
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


def _rounded(pub):
    """The published-cells view for reading: our mean and s.e. to 4 significant digits (the
    published values have 2-3); the CSV keeps them unrounded."""
    out = pub.copy()
    for col in ("ours mean", "ours se"):
        out[col] = [f"{v:.4g}" for v in pub[col]]
    return out
