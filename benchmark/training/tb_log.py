"""`bench run --log tensorboard`: stream what the training loop records to TensorBoard.

Per run: the curve rows the loop already logs (losses, gradient norms, the W estimate, feature
diversity) under ``train/``, the evaluation points of the convergence curve under ``eval/``,
and the sample snapshots as figures (toy scatter; image grid) under ``samples``. Events go to
``<run dir>/tensorboard/`` or ``<log dir>/<suite>/<method>/<run>/``. A resumed run reopens its
log with ``purge_step`` at the resume step, so the steps trained twice appear once.

The writer is torch's ``SummaryWriter``; it needs the optional ``tensorboard`` package.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

LOGGERS = ("tensorboard",)
EXTRA = "pip install -e '.[tensorboard]'"


def check_available(kind: str | None) -> None:
    """One-line error (ValueError) for an unknown logger or a missing extra."""
    if kind is None:
        return
    if kind not in LOGGERS:
        raise ValueError(f"unknown --log {kind!r}; valid: {', '.join(LOGGERS)}")
    try:
        import tensorboard  # noqa: F401
    except ImportError:
        raise ValueError(f"--log tensorboard needs the tensorboard package: {EXTRA}") from None


class NullLog:
    """What the loop talks to when no logger is asked for."""

    def curves(self, row: dict[str, Any]) -> None: ...
    def evals(self, row: dict[str, Any]) -> None: ...
    def samples(self, step: int, samples: np.ndarray) -> None: ...
    def close(self) -> None: ...


class TensorBoardLog(NullLog):
    def __init__(self, log_dir: Path, start: int) -> None:
        from torch.utils.tensorboard import SummaryWriter

        self.writer = SummaryWriter(str(log_dir), purge_step=start if start > 0 else None)

    def _scalars(self, prefix: str, row: dict[str, Any]) -> None:
        step = int(row["step"])
        for k, v in row.items():
            if k != "step" and isinstance(v, int | float) and np.isfinite(v):
                self.writer.add_scalar(f"{prefix}/{k}", float(v), step)

    def curves(self, row: dict[str, Any]) -> None:
        self._scalars("train", row)

    def evals(self, row: dict[str, Any]) -> None:
        self._scalars("eval", row)
        self.writer.flush()

    def samples(self, step: int, samples: np.ndarray) -> None:
        """2-D points as a scatter plot; images (N x C x H x W, uint8) as an 8-wide grid."""
        if samples.ndim == 2:
            from matplotlib.figure import Figure

            fig = Figure(figsize=(4, 4))
            ax = fig.subplots()
            ax.scatter(samples[:, 0], samples[:, 1], s=2, alpha=0.5)
            ax.set_aspect("equal")
            self.writer.add_figure("samples", fig, step)
        else:
            import torch
            from torchvision.utils import make_grid

            grid = make_grid(torch.as_tensor(samples[:64]), nrow=8)  # uint8 N×C×H×W
            self.writer.add_image("samples", grid, step)
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()


def open_log(kind: str | None, log_dir: str | None, run_path: Path, start: int) -> NullLog:
    if kind is None:
        return NullLog()
    where = run_path / "tensorboard"
    if log_dir is not None:
        where = Path(log_dir) / run_path.parent.parent.name / run_path.parent.name / run_path.name
    return TensorBoardLog(where, start)
