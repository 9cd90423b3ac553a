"""The one training loop every method shares.

Per generator step: ``n_critic`` discriminator updates on fresh real batches (indices drawn from
the fixed training set) and fresh noise, then one generator update. All randomness (data
indices, noise, the method's own draws) comes from one ``torch.Generator`` seeded by the run
seed, whose state is checkpointed, so a resumed run continues bit for bit where it stopped.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import torch

from .config import RunSpec
from .methods import build_method, checked_loss
from .store import RunDir
from .suites import get_suite

ProgressFn = Callable[[int], None]


def derived_seed(seed: int, stream: int) -> int:
    """Independent seeds for separate random streams of one run (e.g. the evaluation noise)."""
    return int(np.random.SeedSequence([seed, stream]).generate_state(1)[0])


def grad_norm(module: torch.nn.Module) -> float:
    grads = [p.grad.detach().flatten() for p in module.parameters() if p.grad is not None]
    return float(torch.cat(grads).norm()) if grads else 0.0


def _disc_grid(suite, D, pack: int, n: int = 80) -> tuple[np.ndarray, np.ndarray]:
    """D's raw output on a grid; a packed D (PacGAN) sees each point repeated ``pack`` times."""
    lo, hi = suite.plot_extent()
    axis = torch.linspace(lo, hi, n)
    xx, yy = torch.meshgrid(axis, axis, indexing="xy")
    points = torch.stack([xx.flatten(), yy.flatten()], dim=1).repeat_interleave(pack, dim=0)
    with torch.no_grad():
        out = D(points).reshape(n, n)
    return axis.numpy(), out.numpy()


def train_run(spec: RunSpec, run: RunDir, progress: ProgressFn | None = None) -> dict:
    """Train (or resume) one run and write its results to ``run``; returns the metrics."""
    suite = get_suite(spec.suite)
    cfg = spec.train
    method = build_method(spec.method, spec.method_params, cfg.steps)
    data = suite.training_set()
    G, D = suite.build_nets(spec.seed, pack=method.pack)
    opt_g, opt_d = method.optimizers(G, D)
    rng = torch.Generator().manual_seed(spec.seed)
    eval_noise = suite.sample_noise(
        suite.n_eval, torch.Generator().manual_seed(derived_seed(spec.seed, 1))
    )
    snapshot_steps = set(cfg.snapshot_steps())

    start, curves, snapshots = 0, [], {}
    state = run.load_checkpoint()
    if state is not None:
        G.load_state_dict(state["G"])
        D.load_state_dict(state["D"])
        opt_g.load_state_dict(state["opt_g"])
        opt_d.load_state_dict(state["opt_d"])
        rng.set_state(state["rng"])
        start, curves, snapshots = state["step"], state["curves"], state["snapshots"]
    if progress:
        progress(start)

    n, B = len(data), cfg.batch_size * method.pack
    for step in range(start, cfg.steps):
        log = (step + 1) % cfg.log_every == 0 or step + 1 == cfg.steps
        for _ in range(method.n_critic):
            real = data[torch.randint(n, (B,), generator=rng)]
            with torch.no_grad():
                fake = G(suite.sample_noise(B, rng))
            loss_d = checked_loss(
                spec.method, "d_loss", method.d_loss(D, real, fake, step, rng), step == 0
            )
            opt_d.zero_grad(set_to_none=True)
            loss_d.backward()
            opt_d.step()
            method.after_d_step(D)
        if log:
            grad_d = grad_norm(D)
        loss_g = checked_loss(
            spec.method, "g_loss", method.g_loss(D, G(suite.sample_noise(B, rng)), step), step == 0
        )
        opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        opt_g.step()

        done = step + 1
        if log:
            curves.append(
                {
                    "step": done,
                    "loss_d": loss_d.item(),
                    "loss_g": loss_g.item(),
                    "grad_norm_d": grad_d,
                    "grad_norm_g": grad_norm(G),
                }
            )
        if done in snapshot_steps:
            with torch.no_grad():
                snapshots[f"samples_{done}"] = G(eval_noise[:1000]).numpy()
            axis, grid = _disc_grid(suite, D, method.pack)
            snapshots[f"disc_{done}"] = grid
            snapshots["axis"] = axis
        if done % cfg.checkpoint_every == 0 or done == cfg.steps:
            run.save_checkpoint(
                {
                    "step": done,
                    "G": G.state_dict(),
                    "D": D.state_dict(),
                    "opt_g": opt_g.state_dict(),
                    "opt_d": opt_d.state_dict(),
                    "rng": rng.get_state(),
                    "curves": curves,
                    "snapshots": snapshots,
                }
            )
        if progress:
            progress(done)

    with torch.no_grad():
        samples = G(eval_noise).numpy()
    if not np.isfinite(samples).all():
        metrics = {"diverged": True, **{m: float("nan") for m in suite.metric_names}}
    else:
        metrics = {"diverged": False, **suite.evaluate(samples)}
    run.finish(samples, metrics, pd.DataFrame(curves), snapshots)
    return metrics
