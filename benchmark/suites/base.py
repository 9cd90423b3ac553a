"""What every suite kind shares: the columns it reports (one definition for toy and image)."""

from __future__ import annotations


class ReportedMetrics:
    """``metric_names``: the final evaluation's metrics; ``curve_names``: the subset measured at
    every point of the convergence curve (evals.csv); ``diversity_names``: computed on the
    final samples only. Tables, ``compare`` and ``check`` show metric and diversity names."""

    metric_names: tuple[str, ...]
    diversity_names: tuple[str, ...]

    @property
    def curve_names(self) -> tuple[str, ...]:
        return self.metric_names

    @property
    def reported_metrics(self) -> tuple[str, ...]:
        return (*self.metric_names, *self.diversity_names)
