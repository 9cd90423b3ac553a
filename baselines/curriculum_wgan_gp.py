"""WGAN-GP trained simple-to-complex (Xiong et al. 2025): a data curriculum through the
``real_batch`` hook.

Losses, optimisers and ``n_critic`` are exactly WGAN-GP's (``wgan_gp.py``). Only *which* real
points the critic sees changes over training:

* Difficulty of a training point = its Euclidean norm (images: the norm of the flattened
  tensor). The rows of the fixed training set are ordered once by norm (stable sort, ties keep
  row order); the "easy" subset at a given moment is the first ``n_active`` rows of that order,
  i.e. the points with norm below the ``active_fraction`` quantile.
* ``active_fraction(step)`` (``step`` = generator steps completed, 0-based, ``T`` = the run's
  generator steps, ``s = start_fraction``, ``r = ramp_end * T``):

    "linear":  s + (1 - s) * min(1, step / r)      (1 if r == 0)
    "step":    s if step < r else 1

* ``n_active = max(1, round(active_fraction * N))`` for a training set of ``N`` rows; a real
  batch is ``batch`` rows drawn uniformly with replacement from the ``n_active`` easiest rows,
  with ``torch.randint`` on the loop's generator (the only randomness used). Once all rows are
  active the draw is the plain loop's, bit for bit, so ``start_fraction = 1`` is plain WGAN-GP.

On ``gaussians25`` (5x5 grid, centres at radii 0, 2, 2.83, 4, 4.47, 5.66 holding 1, 4, 4, 4, 8, 4
modes) the easiest 20 % of the points are, up to a few points at the boundary, the centre mode
and the four radius-2 modes, so ``start_fraction`` is approximately the fraction of modes
available at step 0 and modes enter ring by ring. On ``ring8`` every centre has radius 1: norm
order does *not* separate modes there, and the curriculum only trims each mode to its points of
smallest norm (all 8 modes are present from step 0).

The current step is learnt from ``observe`` (called after every generator step) and saved in the
checkpoint, so a resumed run continues the same schedule.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .wgan_gp import WGANGP, WGANGPParams

SCHEDULES = ("linear", "step")


@dataclass(frozen=True)
class CurriculumWGANGPParams(WGANGPParams):
    #: fraction of the training points (ordered by norm) available at step 0, in (0, 1]
    start_fraction: float = 0.2
    #: fraction of the run's generator steps after which all data is in, in [0, 1]
    ramp_end: float = 0.5
    #: how the active fraction grows: "linear" or "step" (one jump to 1 at ramp_end)
    schedule: str = "linear"

    def __post_init__(self):
        super().__post_init__()
        if not 0 < self.start_fraction <= 1:
            raise ValueError(f"start_fraction must be in (0, 1], got {self.start_fraction}")
        if not 0 <= self.ramp_end <= 1:
            raise ValueError(f"ramp_end must be in [0, 1], got {self.ramp_end}")
        if self.schedule not in SCHEDULES:
            raise ValueError(f"unknown schedule {self.schedule!r}; valid: {', '.join(SCHEDULES)}")


class CurriculumWGANGP(WGANGP):
    name = "curriculum-wgan-gp"
    Params = CurriculumWGANGPParams

    def __init__(self, params, total_steps):
        super().__init__(params, total_steps)
        self.step = 0
        self._data: torch.Tensor | None = None
        self._order: torch.Tensor | None = None

    def active_fraction(self, step: int) -> float:
        p = self.params
        ramp = p.ramp_end * self.total_steps
        if p.schedule == "step":
            return p.start_fraction if step < ramp else 1.0
        if ramp <= 0:
            return 1.0
        return p.start_fraction + (1 - p.start_fraction) * min(1.0, step / ramp)

    def easy_order(self, data: torch.Tensor) -> torch.Tensor:
        """Row indices of ``data`` from smallest to largest norm (computed once per data set), on
        the CPU. Norms are taken in chunks of rows, so image sets stored as uint8
        (``ImageBatches``) are never materialised as floats all at once."""
        if self._data is not data:
            n, chunk = len(data), 4096
            norms = torch.cat(
                [
                    data[torch.arange(i, min(i + chunk, n))].flatten(1).norm(dim=1).cpu()
                    for i in range(0, n, chunk)
                ]
            )
            self._order = torch.argsort(norms, stable=True)
            self._data = data
        return self._order

    def n_active(self, n_rows: int, step: int) -> int:
        return min(n_rows, max(1, round(self.active_fraction(step) * n_rows)))

    def real_batch(self, data, batch, rng):
        k = self.n_active(len(data), self.step)
        if k >= len(data):
            return super().real_batch(data, batch, rng)
        idx = self.easy_order(data)[torch.randint(k, (batch,), generator=rng)]
        return data[idx], idx

    def observe(self, D, data, idx, done, rng):
        self.step = done

    def state_dict(self):
        return {"step": self.step}

    def load_state_dict(self, state):
        self.step = int(state.get("step", 0))
