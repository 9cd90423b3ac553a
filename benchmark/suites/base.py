"""What every suite kind shares: the columns it reports (one definition for toy and image)."""

from __future__ import annotations


class ReportedMetrics:
    """``metric_names``: the final evaluation's metrics; ``curve_names``: the subset measured at
    every point of the convergence curve (evals.csv); ``diversity_names``: computed on the
    final samples only; ``dynamics_names``: derived from the whole curve after the run
    (collapse over training). Tables, ``compare`` and ``check`` show all three."""

    metric_names: tuple[str, ...]
    diversity_names: tuple[str, ...]
    dynamics_names: tuple[str, ...] = ()

    @property
    def curve_names(self) -> tuple[str, ...]:
        return self.metric_names

    @property
    def evaluated_metrics(self) -> tuple[str, ...]:
        """What the final samples give (metrics.json); the dynamics come from the curve."""
        return (*self.metric_names, *self.diversity_names)

    @property
    def reported_metrics(self) -> tuple[str, ...]:
        return (*self.metric_names, *self.diversity_names, *self.dynamics_names)

    def dynamics(self, evals) -> dict[str, float]:
        """The ``dynamics_names`` measures of one run's evaluation curve (none by default)."""
        return {}
