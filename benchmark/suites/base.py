"""What every suite kind shares: the columns it reports (one definition for toy and image)."""

from __future__ import annotations


class ReportedMetrics:
    """``metric_names``: every evaluation's metrics (also the convergence curve's);
    ``diversity_names``: computed on the final samples only. Tables, ``compare`` and ``check``
    show both."""

    metric_names: tuple[str, ...]
    diversity_names: tuple[str, ...]

    @property
    def reported_metrics(self) -> tuple[str, ...]:
        return (*self.metric_names, *self.diversity_names)
