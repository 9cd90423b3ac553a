"""What the loop measures and writes besides training: curve columns, evaluation rows, the
final results. Pure helpers, so the loop reads as the algorithm."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence

import numpy as np
import pandas as pd
import torch

from ..errors import BenchError
from ..store.rundir import CHECKPOINT, RunDir
from .runtime import Runtime


def derived_seed(seed: int, stream: int) -> int:
    """Independent seeds for separate random streams of one run (e.g. the evaluation noise)."""
    return int(np.random.SeedSequence([seed, stream]).generate_state(1)[0])


@contextlib.contextmanager
def buffers_kept(buffers: Sequence[torch.Tensor]) -> Iterator[None]:
    """Run a block without gradient and put ``buffers`` back afterwards, so a measurement
    forward (which may update spectral-norm vectors or BatchNorm statistics in training mode)
    leaves no trace on training."""
    saved = [(b, b.detach().clone()) for b in buffers]
    try:
        with torch.no_grad():
            yield
    finally:
        with torch.no_grad():
            for b, value in saved:
                b.copy_(value)


def wasserstein_estimate(D, real: torch.Tensor, fake: torch.Tensor, buffers) -> list[float]:
    """Per model: mean D(real) - mean D(fake) on raw scores (critic values, or logits for GAN
    losses), D's buffers kept."""
    with buffers_kept(buffers):
        gap = D(real).flatten(1).mean(1) - D(fake).flatten(1).mean(1)
        return [float(v) for v in gap]


def feature_diversity(D, fake: torch.Tensor, buffers) -> list[float]:
    """Per model: mean per-dimension variance (divisor N) of ``D.features`` on its generated
    batch; NaN if D has no ``features``."""
    with buffers_kept(buffers):
        feats = D.features(fake.detach())
        if feats is None:
            return [float("nan")] * fake.shape[0]
        return [float(v) for v in feats.flatten(2).var(dim=1, correction=0).mean(1)]


@contextlib.contextmanager
def resume_errors(run: RunDir) -> Iterator[None]:
    """A checkpoint that loads but does not fit the run (other nets, a foreign state) is one
    line naming it, never a traceback from deep inside ``load_state_dict``."""
    try:
        yield
    except (RuntimeError, KeyError, ValueError, TypeError, IndexError, AttributeError) as exc:
        raise BenchError(
            f"{run.path / CHECKPOINT} does not fit this run ({exc.__class__.__name__}); delete it "
            "to train the run again from step 0"
        ) from None


def evaluation_row(suite, spec, done: int, samples: np.ndarray, data_root, rt: Runtime) -> dict:
    """The suite's metrics of G's samples at step ``done`` (NaN when they are not finite): one
    point of the run's convergence curve (evals.csv)."""
    if not np.isfinite(samples).all():
        return {"step": done, **{m: float("nan") for m in suite.curve_names}}
    stored = suite.to_stored(samples)
    return {"step": done, **suite.curve_metrics(stored, spec.cls, data_root, device=rt.device)}


def finish_run(
    spec, run, suite, samples, curves, snapshots, history, data_root, rt: Runtime, evals
) -> dict:
    """Evaluate the final samples (as G returned them, every row) on the run's device and write
    the run's results; a run whose samples are not finite is marked diverged, its metrics NaN,
    and keeps all its rows as they were."""
    finite = bool(np.isfinite(samples).all())
    if not finite:
        metrics = {"diverged": True, **{m: float("nan") for m in suite.evaluated_metrics}}
        stored = samples
    else:
        stored = suite.to_stored(samples)
        metrics = {
            "diverged": False,
            **suite.evaluate(stored, spec.cls, data_root, device=rt.device),
        }
    run.finish(stored, metrics, pd.DataFrame(curves), snapshots, history, pd.DataFrame(evals))
    return metrics
