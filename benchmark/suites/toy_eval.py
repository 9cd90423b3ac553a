"""How a toy suite scores samples: mode coverage and its curve, collapse over training, the
diversity metrics, D's output over the plane, and `bench evaluate` on a sample file. A mixin
of ``GaussianMixtureSuite`` (``toy.py``), which owns the data, nets and options it reads."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ...metrics import collapse_dynamics as cd
from ...metrics import diversity as div
from ...metrics.coverage import mode_coverage
from .sample_files import evaluable_points, read_array_file, validate_points

#: diversity on the toys: this many fresh draws from the mixture are the real reference (and the
#: generated count for density/coverage); Vendi's n×n kernel uses the first TOY_VENDI samples
TOY_REFERENCE = 5_000
TOY_VENDI = 2_000


class MixtureEvaluation:
    """The evaluation half of a toy suite; every attribute it reads (``name``, ``std``,
    ``centers_array``, the radii, ``protocol``...) is the suite's."""

    def validate_samples(self, samples: np.ndarray, what: str = "samples") -> np.ndarray:
        return validate_points(samples, self.name, what)

    def check_evaluable(self, samples: np.ndarray, what: str = "samples") -> np.ndarray:
        """What the full evaluation needs beyond :meth:`validate_samples` (sample_files.py)."""
        return evaluable_points(samples, self.name, what)

    def evaluate_file(self, path: Path, data_root=None, pairs=None) -> tuple[str, str]:
        """`bench evaluate`: the metrics of a .npy file of (N, 2) samples, as (JSON, text)."""
        arr = read_array_file(path, "a .npy file of shape (N, 2), float", npz=False)
        metrics = self.evaluate(self.check_evaluable(arr, what=f"samples in {path}"))
        text = "\n".join(f"{k:<16} {v}" for k, v in metrics.items())
        return json.dumps(metrics), f"{text}\n{self._scoring_line(len(arr))}"

    def _scoring_line(self, n: int) -> str:
        """What the text output was scored under: the radii decide the numbers."""
        ring = f", --ring {self.ring}" if self.ring else ""
        hq, cov = self.hq_within, self.covered_within
        return (
            f"scored under protocol {self.protocol.name}{ring}: {n:,} samples, high quality "
            f"within {hq:g} std ({hq * self.std:g}) of the nearest mode, a mode covered within "
            f"{cov:g} std ({cov * self.std:g}, rule {self.covered_rule!r})"
        )

    def snapshot(self, D: nn.Module, method) -> dict[str, np.ndarray]:
        """D's raw output on a grid over the plane (the greed paper Fig. 3's contours)."""
        lo, hi = self.plot_extent()
        n = 80
        axis = torch.linspace(lo, hi, n)
        xx, yy = torch.meshgrid(axis, axis, indexing="xy")
        points = torch.stack([xx.flatten(), yy.flatten()], dim=1)
        points = points.to(next(D.parameters()).device)
        with torch.no_grad():
            out = method.disc_on(D, points).reshape(n, n)
        return {"disc": out.cpu().numpy(), "axis": axis.numpy()}

    @staticmethod
    def to_stored(samples: torch.Tensor | np.ndarray) -> np.ndarray:
        return np.asarray(samples)

    def evaluate(
        self,
        samples: np.ndarray,
        cls: str | None = None,
        data_root=None,
        device: str = "cpu",
        diversity: bool = True,
    ) -> dict:
        """Mode coverage (a nearest-centre count in numpy; ``device`` is not needed for it) and,
        unless ``diversity`` is False (the points of the convergence curve), the diversity
        metrics of :meth:`diversity`."""
        out = self._coverage(samples)
        return {**out, **self.diversity(samples)} if diversity else out

    def curve_metrics(self, samples: np.ndarray, cls=None, data_root=None, device="cpu") -> dict:
        """One point of the convergence curve: the coverage metrics (``curve_names``) and
        ``covered_mask``, which modes are covered (bit i: mode i), for mode-loss events."""
        cov = mode_coverage(
            self.validate_samples(samples),
            self.centers_array(),
            self.std,
            covered_within=self.covered_within,
            covered_rule=self.covered_rule,
            hq_within=self.hq_within,
            kl_over=self.kl_over,
            weights=self.mode_weights,
        )
        return {**cov.as_dict(), "covered_mask": cov.covered_mask}

    def _coverage(self, samples: np.ndarray) -> dict:
        return {k: v for k, v in self.curve_metrics(samples).items() if k != "covered_mask"}

    def dynamics(self, evals, final=None) -> dict[str, float]:
        """Collapse over training from the run's evaluation curve (NaN without one); the
        final metrics are not needed (a mode count has its reference built in)."""
        if evals is None or len(evals) == 0 or "modes_covered" not in evals:
            return dict.fromkeys(self.dynamics_names, float("nan"))
        masks = evals["covered_mask"].to_numpy() if "covered_mask" in evals else None
        return cd.mode_dynamics(
            evals["step"].to_numpy(), evals["modes_covered"].to_numpy(), self.n_modes, masks
        )

    def diversity(self, samples: np.ndarray) -> dict:
        """Density/coverage, Vendi and NDB on raw coordinates (diversity_caption says how)."""
        x = np.asarray(self.validate_samples(samples), dtype=np.float64)
        real = self.sample_real(TOY_REFERENCE, torch.Generator().manual_seed(self.data_seed + 1))
        real = real.double().numpy()
        return {
            **div.density_coverage(real, x[:TOY_REFERENCE]),
            "vendi": div.vendi_score(x[:TOY_VENDI], "gaussian", bandwidth=3.0 * self.std),
            **div.ndb(real, x, n_bins=2 * self.n_modes, seed=self.data_seed).as_dict(),
        }

    def plot_extent(self) -> tuple[float, float]:
        r = float(np.abs(self.centers_array()).max())
        return -1.5 * r - 0.5, 1.5 * r + 0.5
