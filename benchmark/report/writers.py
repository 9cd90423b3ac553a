"""The one entry point for a suite's tables: each suite kind brings its own writer
(``toy_tables``, ``image_tables``); the command layer builds a ``TableRequest`` and calls
``write_tables``, assembling nothing itself."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..suites import get_suite
from .tables import results_dir, select_present


@dataclass(frozen=True)
class TableRequest:
    """What a table writer needs, as the command line gave it."""

    suite: str
    preset: str
    methods: tuple[str, ...]
    #: the root of the results tree (``--results``)
    results: str
    suite_options: Mapping[str, Any] = field(default_factory=dict)
    method_options: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    #: ``--set`` variants name their own folder
    method_set: str | None = None
    format: str = "md"
    no_plots: bool = False
    #: only these seeds / classes (None: every finished run of the configuration)
    seeds: tuple[int, ...] | None = None
    classes: tuple[str, ...] | None = None

    def select(self, df):
        """The rows of a ``tables.per_seed`` frame this request covers."""
        return select_present(df, self.seeds, self.classes)

    @property
    def out(self) -> Path:
        """The folder this table's files go to."""
        return results_dir(
            self.results, self.suite, self.preset, dict(self.suite_options), self.method_set
        )


def _writers() -> dict[str, Callable[..., str]]:
    from .image_tables import write_image_tables
    from .toy_tables import write_toy_tables

    return {"toy": write_toy_tables, "image": write_image_tables}


def write_tables(req: TableRequest, store) -> str:
    """Write every table and figure of ``req``'s suite; return the main table(s) as text."""
    return _writers()[get_suite(req.suite).kind](req, store)


def verdicts_text(req: TableRequest, df) -> str:
    """The published cells beside ``df``'s runs with verdicts, where the suite's protocol has
    them (toy suites; the image tables carry theirs in the table itself)."""
    suite = get_suite(req.suite).with_overrides(dict(req.suite_options))
    if suite.kind != "toy":
        return ""
    from .toy_tables import departures, toy_verdicts

    return toy_verdicts(suite, df, req.preset, departs=bool(departures(req)))
