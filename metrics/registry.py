"""Every metric the benchmark reports, once: its direction, label, digits and unit.

Tables, ``bench compare``, ``bench check``, plots and reports read these facts from here; a test
checks that every metric a suite produces is registered, so a new metric cannot reach a table
without a direction (which way is better) and a label.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Metric:
    name: str
    #: "higher" or "lower": which way is better
    direction: str
    label: str
    digits: int = 3
    unit: str = ""

    @property
    def display_scale(self) -> float:
        """Stored value -> shown value: a share (unit %) is stored as a fraction and shown as
        a percentage."""
        return 100.0 if self.unit == "%" else 1.0


_ALL = (
    # 2-D mixtures: mode coverage (metrics/coverage.py)
    Metric("modes_covered", "higher", "modes covered", 1, "modes"),
    Metric("hq_fraction", "higher", "high-quality samples", 1, "%"),
    Metric("reverse_kl", "lower", "reverse KL", 3, "nats"),
    # 2-D mixtures: collapse over training, from the evaluation curve (metrics/collapse_dynamics.py)
    Metric("modes_min_last_half", "higher", "fewest modes, last half", 1, "modes"),
    Metric("mode_loss_events", "lower", "mode-loss events", 1, "events"),
    Metric("full_coverage_share", "higher", "evaluations at full coverage", 1, "%"),
    Metric("first_full_coverage_step", "lower", "first step at full coverage", 0, "steps"),
    # images: torch-fidelity (metrics/fidelity.py) and MS-SSIM (metrics/msssim.py)
    # collapse over training on a per-class image suite (metrics/image_collapse.py)
    Metric("collapsed_share", "lower", "evaluations collapsed", 1, "%"),
    Metric("ms_ssim_worst_last_half", "lower", "worst MS-SSIM, last half", 4),
    Metric("collapse_episodes", "lower", "collapse episodes", 1, "episodes"),
    Metric("fid", "lower", "FID", 2),
    Metric("kid", "lower", "KID", 4),
    Metric("inception_score", "higher", "Inception Score", 2),
    Metric("precision", "higher", "precision", 4),
    Metric("recall", "higher", "recall", 4),
    # lower MS-SSIM between generated pairs = more diverse samples
    Metric("ms_ssim", "lower", "MS-SSIM (lower = more diverse)", 4),
    Metric("critic_w", "lower", "independent critic W", 3),
    # Stacked MNIST / digits (1000 modes): classifier-counted modes and KL to uniform
    Metric("kl", "lower", "KL to uniform", 3, "nats"),
    Metric("kl_log10", "lower", "KL to uniform", 3, "log10"),
    # diversity metrics (metrics/diversity.py), on the suite's own feature space
    Metric("density", "higher", "density", 3),
    Metric("coverage", "higher", "coverage", 3),
    Metric("vendi", "higher", "Vendi score", 2, "effective samples"),
    Metric("ndb", "lower", "NDB/K", 3),
    Metric("ndb_js", "lower", "NDB JS divergence", 4, "nats"),
    # the same on DINOv2 ViT features (never in a column with the Inception ones)
    Metric("fd_dinov2", "lower", "FD (DINOv2)", 2),
    Metric("kd_dinov2", "lower", "KD (DINOv2)", 4),
    Metric("density_dinov2", "higher", "density (DINOv2)", 3),
    Metric("coverage_dinov2", "higher", "coverage (DINOv2)", 3),
)

METRICS: dict[str, Metric] = {m.name: m for m in _ALL}
DIRECTIONS = ("higher", "lower")


def get(name: str) -> Metric:
    try:
        return METRICS[name]
    except KeyError:
        raise ValueError(
            f"metric {name!r} is not registered; known metrics: {', '.join(sorted(METRICS))}"
        ) from None
