"""The toy suites' tables and figures: the headline table with its marks, the published cells
with verdicts beside ours, and the figures, all under results/<suite>/<protocol>/<preset>/."""

from __future__ import annotations

import sys

from ..analysis.convergence import CAPTION as CONVERGENCE_CAPTION
from ..store.atomic import atomic_write_text, remove_stale_tmp
from ..suites import get_suite
from ..suites.published import published_table, verdict_counts
from ..suites.toy_eval import TOY_REFERENCE, TOY_VENDI
from . import plots
from .partition_plots import partition_figure
from .tables import (
    cell_marks,
    display_table,
    diverged_counts,
    per_seed,
    render,
    seed_list,
    summary,
    trained_options,
    trained_with,
)


def write_toy_tables(req, store) -> str:
    """Write every table and figure of a toy suite under ``req.out`` and return the main table
    (and the published cells) rendered in ``req.format`` (``req``: a ``writers.TableRequest``)."""
    methods = list(req.methods)
    suite = get_suite(req.suite).with_overrides(dict(req.suite_options))
    df = per_seed(store, req.suite, methods, req.preset, req.suite_options, req.method_options)
    df = req.select(df)
    _note_lacking(df, suite)
    summ = summary(df, suite.reported_metrics, methods)
    protocol = suite.protocol
    marks = cell_marks(df, suite.reported_metrics)
    table = display_table(
        summ, suite.reported_metrics, marks, protocol, req.suite, diverged_counts(df)
    )
    budget, n_eval = suite.presets[req.preset], suite.eval_size(req.preset)
    seeds = seed_list(df)
    caption = (
        f"{req.suite} under protocol {protocol.name} ({protocol.source}), preset {req.preset} "
        f"({budget.steps:,} generator steps, batch {budget.batch_size})"
        f"{trained_with(req)}: mean ± std over seeds "
        f"{seeds} ({n_eval:,} samples each). Covered: {_covered_rule(suite)}; hq = within "
        f"{suite.hq_within:g} std of the nearest mode; reverse KL = KL(nearest-mode histogram of "
        f"{'all' if suite.kl_over == 'all' else 'high-quality'} samples || the mixture's mode "
        "weights, uniform unless a mode repeats), nats. "
        f"{diversity_caption(n_eval)} {CONVERGENCE_CAPTION}"
    )
    out = req.out
    if out.is_dir():
        remove_stale_tmp(out)  # a killed `bench table` leaves its temporary file behind
    atomic_write_text(out / "table.md", render(table, "md", caption))
    atomic_write_text(out / "table.csv", render(table, "csv", caption))
    atomic_write_text(out / "per_seed.csv", df.drop(columns="run_dir").to_csv(index=False))
    text = render(table, req.format, caption)
    departs = departures(req)
    pub = published_table(df, protocol, req.suite, budget.steps, departs=bool(departs))
    if len(pub):
        pub_caption = (
            f"{req.suite}, protocol {protocol.name}: ours (mean ± s.e. over our seeds, preset "
            f"{req.preset}: {budget.steps:,} steps) beside the published mean ± s.e. "
            f"({protocol.published_as or protocol.source.split(',')[0]}); verdict: agrees within "
            "2 combined standard errors (our s.e. alone where none is published), differs (the "
            "why column gives the measured reason), or not comparable (budget or trials differ "
            f"from the source's). {verdict_counts(pub)}"
        )
        if departs:
            pub_caption += (
                f" These runs depart from the protocol ({', '.join(departs)}): the verdicts "
                "say how the departure compares with the published cells; the protocol's own "
                "runs, and why they differ, are in its published table of preset "
                f"{protocol.published_preset} without these options."
            )
        pub_view = _rounded(pub).set_index("published row")
        atomic_write_text(out / "published.md", render(pub_view, "md", pub_caption))
        atomic_write_text(out / "published.csv", pub.to_csv(index=False))
        text += "\n" + render(pub_view, req.format, pub_caption)
    if not req.no_plots:
        if plots.can_draw(df, out / "samples.png", "snapshots.npz"):
            plots.samples_figure(df, req.suite, methods, req.preset, out / "samples.png")
        plots.curves_figure(df, out / "curves.png")
        plots.convergence_figure(df, suite.metric_names, out / "convergence.png")
        plots.modes_by_seed_figure(df, suite.n_modes, out / "modes_by_seed.png")
        plots.curriculum_figure(df, out / "curriculum.png")
        if plots.can_draw(df, out / "partitions.png", "snapshots.npz"):
            partition_figure(df, req.suite, methods, out / "partitions.png")
    return text


def departures(req) -> list[str]:
    """The command-line options by which ``req``'s runs depart from their protocol: suite
    options, ``--set``, and a preset longer than the published one (a shorter one is already
    "not comparable: budget")."""
    out = trained_options(req)
    protocol = get_suite(req.suite).with_overrides(dict(req.suite_options)).protocol
    source = protocol.presets.get(protocol.published_preset)
    preset = protocol.presets.get(req.preset)
    if protocol.published and source and preset and preset.steps > source.steps:
        out.append(f"--preset {req.preset}")
    return out


def toy_verdicts(suite, df, preset: str, departs: bool = False) -> str:
    """Ours beside the protocol's published cells, with verdicts ("" where it has none)."""
    steps = suite.presets[preset].steps
    pub = published_table(df, suite.protocol, suite.name, steps, departs=departs)
    return "" if pub.empty else pub.to_markdown(index=False, floatfmt=".4g")


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


def _rounded(pub):
    """The published-cells view for reading: our mean and s.e. to 4 significant digits (the
    published values have 2-3); the CSV keeps them unrounded."""
    out = pub.copy()
    for col in ("ours mean", "ours se"):
        out[col] = [f"{v:.4g}" for v in pub[col]]
    return out


def diversity_caption(n_eval: int) -> str:
    """How the toys' diversity columns were computed from ``n_eval`` samples per run."""
    n_dc, n_vendi = min(n_eval, TOY_REFERENCE), min(n_eval, TOY_VENDI)
    return (
        "Diversity columns on raw 2-D coordinates, final samples: density and coverage "
        f"(Naeem et al., k = 5) of the first {n_dc:,} samples against {TOY_REFERENCE:,} fresh "
        "draws from the mixture; Vendi score with the Gaussian kernel of bandwidth 3 std on the "
        f"first {n_vendi:,} samples (the real mixture scores about 1.9 per mode: 48 on the grid "
        "at 2,000 samples); NDB/K and its JS divergence (nats) over 2 k-means bins per mode "
        "fitted on the same draws, two-proportion z-test at 0.05."
    )
