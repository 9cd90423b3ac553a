"""Plan a suite's runs: the run specs of (methods × seeds × classes) under a preset, the
configuration hashes a table may aggregate, and how runs group into stacked jobs."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ...baselines.base import given_over_defaults
from ..errors import BenchError
from ..store.runstore import RunStore
from ..store.spec import RunSpec
from ..suites import get_suite
from ..training.methods import method_params

#: per-method parameter overrides, {method: {param: value}} (methods.parse_method_options)
MethodOptions = Mapping[str, Mapping[str, Any]]


def check_classes(suite, classes: Sequence[str] | None, suite_name: str) -> None:
    """``--classes`` names classes of a per-class suite only (which names exist is checked
    against the data where runs are planned, against the runs where tables are written)."""
    if classes is not None and not suite.per_class:
        raise BenchError(f"--classes applies to per-class suites only; {suite_name} is not one")


def plan(
    suite_name: str,
    methods: Sequence[str],
    seeds: Sequence[int],
    preset: str,
    classes: Sequence[str | None] | None = None,
    suite_options: Mapping[str, Any] | None = None,
    data_root: str | None = None,
    method_options: MethodOptions | None = None,
) -> list[RunSpec]:
    """One spec per (method, class, seed). ``classes`` (per-class suites): None means every
    class (CIFAR-10's names are read from the data); ``suite_options``: e.g.
    ``{"arch": "resnet"}`` for image suites; ``method_options``: {method: {param: value}} over
    the suite's method defaults (``bench --set``)."""
    suite = _suite(suite_name, preset, suite_options)
    check_classes(suite, classes, suite_name)
    if classes is None:
        classes = suite.classes(data_root) if suite.per_class else (None,)
    else:
        valid = suite.classes(data_root)
        bad = [c for c in classes if c not in valid]
        if bad:
            raise BenchError(f"unknown class(es) {bad} for {suite_name}; valid: {', '.join(valid)}")
    return _specs(suite, methods, seeds, preset, classes, method_options)


def config_hashes(
    suite_name: str,
    methods: Sequence[str],
    preset: str,
    suite_options: Mapping[str, Any] | None = None,
    method_options: MethodOptions | None = None,
) -> set[tuple[str, str]]:
    """(method, config hash) of the current configuration: what a table may aggregate. The hash
    leaves out seed and class, so no data need be read to compute it."""
    suite = _suite(suite_name, preset, suite_options)
    return {
        (s.method, s.config_hash())
        for s in _specs(suite, methods, [0], preset, [None], method_options)
    }


def _suite(suite_name: str, preset: str, suite_options: Mapping[str, Any] | None):
    """The suite with the user's options applied, after checking the preset exists."""
    suite = get_suite(suite_name).with_overrides(suite_options or {})
    if preset not in suite.presets:
        raise BenchError(
            f"unknown preset {preset!r} for suite {suite_name}; valid presets: "
            f"{', '.join(suite.presets)}"
        )
    return suite


def _specs(suite, methods, seeds, preset, classes, method_options=None) -> list[RunSpec]:
    train = suite.presets[preset]
    opts = method_options or {}
    return [
        RunSpec(
            suite=suite.name,
            method=m,
            seed=s,
            preset=preset,
            train=train,
            method_params=method_params(
                m, given_over_defaults(defaults_for(suite, m), opts.get(m, {}))
            ),
            suite_params=suite.params(preset),
            cls=c,
        )
        for m in methods
        for c in classes
        for s in seeds
    ]


def defaults_for(suite, method: str) -> dict[str, Any]:
    """The suite's (protocol's) parameter defaults for ``method``: its "*" entry (every method
    that has the parameter) overridden by the method's own entry."""
    table = suite.method_defaults
    return {**table.get("*", {}), **table.get(method, {})}


def plan_jobs(
    store: RunStore, todo: Sequence[RunSpec], batch_models: int | None
) -> tuple[list[list[RunSpec]], list[str]]:
    """Group ``todo`` into jobs of at most ``batch_models`` runs trained stacked: runs of one
    configuration (suite, method, parameters) that resume from the same step. Runs a stacked
    model cannot train go alone; the second value says which and why, once per method."""
    if not batch_models or batch_models == 1:
        return [[s] for s in todo], []
    from ..training.stacking import checkpoint_step, unstackable

    groups: dict[tuple, list[RunSpec]] = {}
    singles: list[list[RunSpec]] = []
    notes: dict[str, str] = {}
    for s in todo:
        reason = unstackable(s)
        if reason:
            singles.append([s])
            notes.setdefault(s.method, f"{s.method}: trained one run at a time ({reason})")
            continue
        key = (s.suite, s.method, s.config_hash(), checkpoint_step(store.run_dir(s)))
        groups.setdefault(key, []).append(s)
    jobs = [
        g[i : i + batch_models] for g in groups.values() for i in range(0, len(g), batch_models)
    ]
    return jobs + singles, list(notes.values())


def longest_first(jobs: Sequence[Sequence[RunSpec]]) -> list[list[RunSpec]]:
    """Jobs by expected cost, largest first (generator steps x (critic steps + 1) x models):
    parallel workers then end together instead of one finishing a long run alone (the
    longest-processing-time rule). Stable, so equal jobs keep the planner's order."""
    from ..training.methods import build_method

    def cost(job: Sequence[RunSpec]) -> int:
        s = job[0]
        n_critic = build_method(s.method, s.method_params, s.train.steps).n_critic
        return s.train.steps * (n_critic + 1) * len(job)

    return sorted((list(j) for j in jobs), key=cost, reverse=True)


@dataclass(frozen=True)
class PlannedRun:
    """One planned run and what `bench run` would do with it (``run_states``)."""

    spec: RunSpec
    #: "finished" (skipped), "resumes" (from its checkpoint), "new", or "unreadable" (its
    #: checkpoint fails verification: training would stop on it, ``note`` says why)
    state: str
    #: the generator step it stands at: its budget when finished, 0 when new or unreadable
    step: int
    note: str = ""


def run_states(store: RunStore, specs: Sequence[RunSpec]) -> list[PlannedRun]:
    """What `bench run` would do with each of ``specs``, read from ``store`` without writing
    to it (`bench run --dry-run`): a long sweep is resumed, so which runs are finished, which
    resume from which step and what is left is worth knowing before starting it."""
    from ..training.stacking import checkpoint_step

    out = []
    for spec in specs:
        run = store.run_dir(spec)
        if run.finished:
            out.append(PlannedRun(spec, "finished", spec.train.steps))
            continue
        try:
            step = checkpoint_step(run)
        except BenchError as exc:
            out.append(PlannedRun(spec, "unreadable", 0, str(exc)))
            continue
        out.append(PlannedRun(spec, "resumes" if step else "new", step))
    return out
