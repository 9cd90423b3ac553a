"""The one training loop every method shares.

Per generator step: ``n_critic`` discriminator updates on fresh real batches (indices drawn from
the fixed training set) and fresh noise, then one generator update, then ``method.observe``.
All randomness (data indices, noise, the method's own draws) comes from one ``torch.Generator``
seeded by the run seed, whose state is checkpointed with the method's own state, so a resumed
run continues bit for bit where it stopped. How batches are drawn and what the nets see goes
through the method's loop hooks (baselines/base.py), whose defaults are the plain GAN loop.

curves.csv, one row every ``log_every`` generator steps (and at the last step):

  loss_d, loss_g             the last critic loss and the generator loss of the step
  grad_norm_d, grad_norm_g   L2 norm of all of D's (after its last update) / G's gradients
  wasserstein_estimate       mean D(real) - mean D(fake) on the step's last critic batch, with D
                             after its last update (seed 004). Raw scores: for Wasserstein
                             losses the critic's estimate of W1; for GAN-type losses (logits)
                             it is the logit gap, not a distance.
  feature_diversity          mean over feature dimensions of the (population) variance of
                             D.features on the step's generated batch (seed 004's diversity in
                             feature space); NaN when D has no ``features``.

Snapshots (``n_snapshots`` evenly spaced steps): the first 1,000 evaluation samples and D's output
on a grid (toy suites), or 64 images and G's weights in ``generators/`` (image suites, for the
independent-critic curve). Evaluation samples are drawn with G in eval mode (BatchNorm running
statistics), then G goes back to training mode.

The two seed 004 columns are extra forward passes at log steps only; D's buffers (spectral-norm
vectors, BatchNorm statistics) are restored after them and they draw no randomness, so
measuring does not change the run.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

import numpy as np
import pandas as pd
import torch

from .config import RunSpec
from .errors import BenchError
from .methods import build_method, checked_loss
from .runtime import Runtime, applied, machine
from .store import CHECKPOINT, CHECKPOINT_KEYS, RunDir
from .suites import get_suite
from .tb_log import open_log

ProgressFn = Callable[[int], None]


def derived_seed(seed: int, stream: int) -> int:
    """Independent seeds for separate random streams of one run (e.g. the evaluation noise)."""
    return int(np.random.SeedSequence([seed, stream]).generate_state(1)[0])


def grad_norm(module: torch.nn.Module) -> float:
    grads = [p.grad.detach().flatten() for p in module.parameters() if p.grad is not None]
    return float(torch.cat(grads).norm()) if grads else 0.0


@contextlib.contextmanager
def buffers_kept(module: torch.nn.Module) -> Iterator[None]:
    """Run a block without gradient and put ``module``'s buffers back afterwards, so a
    measurement forward (which may update spectral-norm vectors or BatchNorm statistics in
    training mode) leaves no trace on training."""
    saved = [(b, b.detach().clone()) for b in module.buffers()]
    try:
        with torch.no_grad():
            yield
    finally:
        with torch.no_grad():
            for b, value in saved:
                b.copy_(value)


def wasserstein_estimate(D: torch.nn.Module, real: torch.Tensor, fake: torch.Tensor) -> float:
    """mean D(real) - mean D(fake) on raw scores (critic values, or logits for GAN losses)."""
    with buffers_kept(D):
        return float(D(real).mean() - D(fake).mean())


def feature_diversity(D: torch.nn.Module, fake: torch.Tensor) -> float:
    """Mean per-dimension variance (divisor N) of ``D.features`` on ``fake``; NaN if D has no
    ``features``."""
    if not callable(getattr(D, "features", None)):
        return float("nan")
    with buffers_kept(D):
        feats = D.features(fake.detach()).flatten(1)
        return float(feats.var(dim=0, correction=0).mean())


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


def train_run(
    spec: RunSpec,
    run: RunDir,
    progress: ProgressFn | None = None,
    data_root=None,
    runtime: Runtime | None = None,
) -> dict:
    """Train (or resume) one run and write its results to ``run``; returns the metrics.
    ``data_root`` locates image data files and ``runtime`` says where and how to compute
    (benchmark/runtime.py); neither is part of the run's identity. Every random draw comes from
    CPU generators and is moved to the device, so the random streams are the same on every
    device."""
    rt = runtime or Runtime()
    with applied(rt):
        return _train(spec, run, progress, data_root, rt)


def _train(spec: RunSpec, run: RunDir, progress, data_root, rt: Runtime) -> dict:
    device = torch.device(rt.device)
    suite = get_suite(spec.suite).resolve(spec.suite_params)
    cfg = spec.train
    method = build_method(spec.method, spec.method_params, cfg.steps)
    data = suite.training_set(spec.cls, data_root).to(device)
    nets = method.net_config()
    G, D = suite.build_nets(
        spec.seed, pack=method.pack, d_batchnorm=getattr(method, "d_batchnorm", True), **nets
    )
    G, D = G.to(device), D.to(device)
    if rt.channels_last:
        G, D = G.to(memory_format=torch.channels_last), D.to(memory_format=torch.channels_last)
    opt_g, opt_d = method.optimizers(G, D)
    rng = torch.Generator().manual_seed(spec.seed)

    def noise(n: int, gen: torch.Generator) -> torch.Tensor:
        return suite.sample_noise(n, gen, nets.get("noise_dim")).to(device)

    def samples_of(z: torch.Tensor) -> np.ndarray:
        """Evaluation samples; any draws of the method's (e.g. conditions) use a fixed stream."""
        with torch.no_grad():
            gen = torch.Generator().manual_seed(derived_seed(spec.seed, 2))
            G.eval()  # BatchNorm in G: evaluate with running statistics, train with batch ones
            try:
                chunks = [method.sample(G, c.to(device), gen).cpu() for c in z.split(1000)]
                return torch.cat(chunks).numpy()
            finally:
                G.train()

    eval_noise = noise(suite.n_eval, torch.Generator().manual_seed(derived_seed(spec.seed, 1)))
    snapshot_steps = set(cfg.snapshot_steps())

    start, curves, snapshots, evals = 0, [], {}, []
    eval_steps = set(cfg.eval_steps())
    state = run.load_checkpoint(CHECKPOINT_KEYS, recover=True)
    if state is not None:
        run.check_state(state, CHECKPOINT_KEYS, max_step=cfg.steps)
        with resume_errors(run):
            G.load_state_dict(state["G"])
            D.load_state_dict(state["D"])
            opt_g.load_state_dict(state["opt_g"])
            opt_d.load_state_dict(state["opt_d"])
            rng.set_state(state["rng"])
            method.load_state_dict(state.get("method", {}))
            start, curves, snapshots = state["step"], list(state["curves"]), state["snapshots"]
            evals = list(state.get("evals", []))
    run.record_runtime(
        {"start_step": start, **rt.as_dict(), "threads": torch.get_num_threads(), **machine()}
    )
    if progress:
        progress(start)
    tb = open_log(rt.log, rt.log_dir, run.path, start)

    B = cfg.batch_size * method.pack
    for step in range(start, cfg.steps):
        log = (step + 1) % cfg.log_every == 0 or step + 1 == cfg.steps
        drawn = []
        for _ in range(method.n_critic):
            real, idx = method.real_batch(data, B, rng)
            drawn.append(idx)
            with torch.no_grad(), rt.autocast():
                fake = method.fake_batch(G, noise(B, rng), rng)
            with rt.autocast():
                loss_d = checked_loss(
                    spec.method, "d_loss", method.d_loss(D, real, fake, step, rng), step == 0
                )
            opt_d.zero_grad(set_to_none=True)
            loss_d.backward()
            opt_d.step()
            method.after_d_step(D)
        if log:
            grad_d = grad_norm(D)
            with rt.autocast():  # fake is bf16 under autocast: D must see it the same way
                w_est = wasserstein_estimate(D, real, fake)
        with rt.autocast():
            fake = method.fake_batch(G, noise(B, rng), rng)
            loss_g = checked_loss(spec.method, "g_loss", method.g_loss(D, fake, step), step == 0)
        opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        opt_g.step()

        done = step + 1
        method.observe(D, data, torch.cat(drawn).cpu(), done, rng)
        if log:
            with rt.autocast():
                diversity = feature_diversity(D, fake)
            curves.append(
                {
                    "step": done,
                    "loss_d": loss_d.item(),
                    "loss_g": loss_g.item(),
                    "grad_norm_d": grad_d,
                    "grad_norm_g": grad_norm(G),
                    "wasserstein_estimate": w_est,
                    "feature_diversity": diversity,
                }
            )
            tb.curves(curves[-1])
        if done in snapshot_steps:
            snap = samples_of(eval_noise[: 1000 if suite.kind == "toy" else 64])
            if np.isfinite(snap).all():
                snapshots[f"samples_{done}"] = suite.to_stored(snap)
                tb.samples(done, snapshots[f"samples_{done}"], suite.kind)
            for key, value in suite.snapshot(D, method).items():
                snapshots["axis" if key == "axis" else f"{key}_{done}"] = value
            if suite.kind == "image":
                run.save_generator(done, G.state_dict())
        if done in eval_steps:
            evals.append(evaluation_row(suite, spec, done, samples_of(eval_noise), data_root, rt))
            tb.evals(evals[-1])
        if done % cfg.checkpoint_every == 0 or done == cfg.steps:
            run.save_checkpoint(
                {
                    "evals": evals,
                    "step": done,
                    "G": G.state_dict(),
                    "D": D.state_dict(),
                    "opt_g": opt_g.state_dict(),
                    "opt_d": opt_d.state_dict(),
                    "rng": rng.get_state(),
                    "method": method.state_dict(),
                    "curves": curves,
                    "snapshots": snapshots,
                }
            )
        if progress:
            progress(done)

    tb.close()
    samples = samples_of(eval_noise)
    finite = bool(np.isfinite(samples).all())
    stored = suite.to_stored(samples) if finite else samples
    history = method.history()
    return finish_run(
        spec, run, suite, stored, finite, curves, snapshots, history, data_root, rt, evals
    )


def evaluation_row(suite, spec, done: int, samples: np.ndarray, data_root, rt: Runtime) -> dict:
    """The suite's metrics of G's samples at step ``done`` (NaN when they are not finite): one
    point of the run's convergence curve (evals.csv)."""
    if not np.isfinite(samples).all():
        return {"step": done, **{m: float("nan") for m in suite.metric_names}}
    stored = suite.to_stored(samples)
    metrics = suite.evaluate(stored, spec.cls, data_root, device=rt.device, diversity=False)
    return {"step": done, **metrics}


def finish_run(
    spec,
    run,
    suite,
    samples,
    finite,
    curves,
    snapshots,
    history,
    data_root,
    rt: Runtime,
    evals: list[dict] | None = None,
) -> dict:
    """Evaluate the final samples (already in the suite's stored form when ``finite``) on the
    run's device and write the run's results; a run whose samples are not finite is marked
    diverged, its metrics NaN."""
    if not finite:
        metrics = {"diverged": True, **{m: float("nan") for m in suite.reported_metrics}}
    else:
        evaluated = suite.evaluate(samples, spec.cls, data_root, device=rt.device)
        metrics = {"diverged": False, **evaluated}
    run.finish(
        samples, metrics, pd.DataFrame(curves), snapshots, history, pd.DataFrame(evals or [])
    )
    return metrics
