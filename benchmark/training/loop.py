"""The one training loop: K >= 1 runs of one configuration, trained together.

Per generator step, for every model: ``n_critic`` discriminator updates on fresh real batches
(indices drawn from its training set) and fresh noise, then one generator update, then
``method.observe``. Model k's randomness (batch indices, noise, the method's draws) comes from
one ``torch.Generator`` seeded with run k's seed, in the same order whatever K is, and is
checkpointed with the run, so a resumed run continues bit for bit and a run trained in a stack
draws exactly what it draws alone. K = 1 (``train_run``) is a single run; K > 1 (``bench run
--batch-models K``) stacks runs that differ only in seed or class (``models.py``).

curves.csv, one row every ``log_every`` generator steps (and at the last step):

  loss_d, loss_g             the last critic loss and the generator loss of the step
  grad_norm_d, grad_norm_g   L2 norm of all of D's (after its last update) / G's gradients
  wasserstein_estimate       mean D(real) - mean D(fake) on the step's last critic batch, with D
                             after its last update (Wang (2024)). Raw scores: for Wasserstein
                             losses the critic's estimate of W1; for GAN-type losses (logits)
                             it is the logit gap, not a distance.
  feature_diversity          mean over feature dimensions of the (population) variance of
                             D.features on the step's generated batch (Wang's (2024) diversity in
                             feature space); NaN when D has no ``features``.

The two Wang (2024) columns are extra forward passes at log steps only; D's buffers are restored
after them and they draw no randomness, so measuring does not change the run.

Snapshots (``n_snapshots`` evenly spaced steps): the first 1,000 evaluation samples and D's
output on a grid (toy suites), or 64 images and G's weights in ``generators/`` (image suites, for
the independent-critic curve). Evaluation points (``n_evals``): the suite's metrics on the
evaluation samples (evals.csv, the convergence curve). Evaluation samples are drawn with G in
eval mode (BatchNorm running statistics) from a noise stream of their own.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence

import numpy as np
import torch

from ...baselines.base import Draws, Method
from ..errors import BenchError
from ..store.rundir import RunDir, save_checkpoints_together
from ..store.spec import RunSpec
from ..suites import get_suite
from .checkpoint_schema import resume_states, run_identity
from .measure import (
    derived_seed,
    evaluation_row,
    feature_diversity,
    finish_run,
    resume_errors,
    wasserstein_estimate,
)
from .methods import build_method, checked_loss
from .models import OneModel, StackedModels
from .runtime import Runtime, applied, machine, resolve_device
from .stacking import check_specs, stacked_runtime
from .tb_log import open_log

ProgressFn = Callable[[int], None]
#: evaluation samples generated per model per forward pass
CHUNK = 1000


class Trainer:
    """The K models of ``specs`` with their data, random streams and method."""

    def __init__(self, specs: Sequence[RunSpec], rt: Runtime, data_root=None):
        check_specs(specs)
        spec = specs[0]
        self.specs, self.rt, self.cfg = specs, rt, spec.train
        self.device = torch.device(rt.device)
        self.suite = get_suite(spec.suite).resolve(spec.suite_params)
        self.method = build_method(spec.method, spec.method_params, self.cfg.steps)
        self.noise_dim = self.method.net_config().get("noise_dim")
        by_class: dict = {}
        for s in specs:
            if s.cls not in by_class:
                by_class[s.cls] = self.suite.training_set(s.cls, data_root).to(self.device)
        self.data = [by_class[s.cls] for s in specs]
        self.rngs = [torch.Generator().manual_seed(s.seed) for s in specs]
        self.draw = Draws(self.rngs, self.device)
        self.fresh = bool(getattr(self.suite, "fresh_data", False))
        self.simultaneous = int(getattr(self.suite, "update_order", "") == "simultaneous")
        if self.fresh and type(self.method).real_batch is not Method.real_batch:
            raise BenchError(
                f"method {spec.method} draws its own real batches from a fixed training set; "
                f"protocol {getattr(self.suite, 'protocol', '')} draws fresh data every step"
            )
        self.models = self._models()
        # per-step costs a plain loop does not pay, paid here only where they do something:
        # an autocast context only with mixed precision, the rows each critic batch drew only
        # for a method whose ``observe`` hook reads them
        self.autocast = rt.autocast if rt.amp else contextlib.nullcontext
        self.observes = type(self.method).observe is not Method.observe
        # a loss is a scalar for one model, (K,) stacked; backward of the (K,) losses against
        # ones: d(sum)/d(loss) without a sum node; and each backward restricted to the
        # parameters its optimiser steps: D's weight gradients are never computed in G's step
        # (what freezing D does, without toggling its flags), nor a gradient penalty's gradient
        # for its interpolates (a leaf no optimiser reads)
        self.loss_shape = () if len(specs) == 1 else (len(specs),)
        self.ones = torch.ones(self.loss_shape, device=self.device)
        self.g_params = stepped(self.models.opt_g)
        self.d_params = stepped(self.models.opt_d)

    def _models(self):
        method, suite = self.method, self.suite
        if len(self.specs) == 1:
            G, D = suite.build_nets(
                self.specs[0].seed,
                pack=method.pack,
                d_batchnorm=method.d_batchnorm,
                **method.net_config(),
            )
            G, D = G.to(self.device), D.to(self.device)
            if self.rt.channels_last:
                G = G.to(memory_format=torch.channels_last)
                D = D.to(memory_format=torch.channels_last)
            method.prepare(G, D)
            return OneModel(method, G, D, self.device)
        built = [
            suite.build_nets(s.seed, pack=method.pack, d_batchnorm=method.d_batchnorm)
            for s in self.specs
        ]
        try:
            return StackedModels(method, built, self.device)
        except TypeError as exc:
            raise BenchError(f"method {self.specs[0].method}: {exc}") from None

    def noise(self, n: int) -> list[torch.Tensor]:
        """Each model's noise batch, (n, noise_dim), from its own generator, on the CPU (the
        models move it: one transfer per stack)."""
        return [self.suite.sample_noise(n, r, self.noise_dim) for r in self.rngs]

    def real_batch(self, B: int, drawn: list[list[torch.Tensor]]) -> torch.Tensor:
        """The real batch, (B, ...), or each model's, (K, B, ...) stacked: from its training set
        through the method's ``real_batch`` (recording the rows in ``drawn``), or fresh from the
        mixture under a ``fresh_data`` protocol."""
        if self.fresh:
            real = [self.suite.sample_real(B, r) for r in self.rngs]
            return (real[0] if len(real) == 1 else torch.stack(real)).to(self.device)
        batches = [
            self.method.real_batch(d, B, r) for d, r in zip(self.data, self.rngs, strict=True)
        ]
        if self.observes:
            for k, (_, idx) in enumerate(batches):
                drawn[k].append(idx)
        if len(batches) == 1:
            return batches[0][0]
        return torch.stack([x for x, _ in batches])

    def d_step(self, step: int, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        """One critic update on ``real`` and the detached ``fake``; returns its loss."""
        m, method, name = self.models, self.method, self.specs[0].method
        with self.autocast():
            loss_d = method.d_loss(m.D, real, fake, step, self.draw)
        loss_d = checked_loss(name, "d_loss", loss_d, self.loss_shape, step == 0)
        m.opt_d.zero_grad(set_to_none=True)
        torch.autograd.backward(loss_d, self.ones_for(loss_d), inputs=self.d_params)
        m.opt_d.step()
        method.after_d_step(m.D)
        return loss_d

    def g_loss(self, step: int, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        """G's loss on ``fake``."""
        with self.autocast():
            loss_g = self.method.g_loss(self.models.D, real, fake, step, self.draw)
        return checked_loss(self.specs[0].method, "g_loss", loss_g, self.loss_shape, step == 0)

    def ones_for(self, loss: torch.Tensor) -> torch.Tensor:
        """d(sum of the K losses)/d(loss), in the loss's dtype (bf16 under autocast)."""
        return self.ones if loss.dtype == self.ones.dtype else torch.ones_like(loss)

    def g_backward(self, loss_g: torch.Tensor) -> None:
        """Gradients of G's loss for G's parameters only."""
        self.models.opt_g.zero_grad(set_to_none=True)
        torch.autograd.backward(loss_g, self.ones_for(loss_g), inputs=self.g_params)

    def critic_gap(self, real: torch.Tensor, fake: torch.Tensor) -> list[float]:
        """The curve's ``wasserstein_estimate`` per model (log steps only). Under autocast, as
        training ran: ``fake`` is bf16 there, and D must see it the same way."""
        m = self.models
        with self.autocast():
            return wasserstein_estimate(m.D_axis, m.axis(real), m.axis(fake), m.buffers_of_d())

    def step(self, step: int, log: bool) -> list[dict] | None:
        """One generator step of every model; with ``log``, one curves row per model.

        Alternating (the default): ``n_critic`` critic updates, each on fresh real and fake
        batches, then G's update on fresh noise. Simultaneous (a protocol's ``update_order``):
        the last critic update and G's update come from one forward pass, as the VEEGAN/GDPP
        code runs its two train ops: both gradients are taken at the same (G, D), then both
        optimisers step."""
        m, autocast = self.models, self.autocast
        B = self.cfg.batch_size * self.method.pack  # PacGAN: batch x pack samples
        drawn: list[list[torch.Tensor]] = [[] for _ in self.specs]
        for _ in range(self.method.n_critic - self.simultaneous):
            real = self.real_batch(B, drawn)
            with torch.no_grad(), autocast():
                fake = m.fake_batch(self.noise(B), self.rngs)
            loss_d = self.d_step(step, real, fake)
        if self.simultaneous:
            real = self.real_batch(B, drawn)
            with autocast():
                fake = m.fake_batch(self.noise(B), self.rngs)
            loss_g = self.g_loss(step, real, fake)
            self.g_backward(loss_g)  # G's parameters only: D's gradients come from its loss
            loss_d = self.d_step(step, real, fake.detach())
            m.opt_g.step()
            fake = fake.detach()
            if log:
                grad_d = m.grad_norms("D")
                w_est = self.critic_gap(real, fake)
        else:
            if log:
                grad_d = m.grad_norms("D")
                w_est = self.critic_gap(real, fake)
            with autocast():
                fake = m.fake_batch(self.noise(B), self.rngs)
            loss_g = self.g_loss(step, real, fake)
            self.g_backward(loss_g)
            m.opt_g.step()
        if self.observes:
            idx = [torch.cat(d).cpu() if d else torch.empty(0, dtype=torch.long) for d in drawn]
            m.observe(self.data, idx, step + 1, self.rngs)
        if not log:
            return None
        with autocast():
            diversity = feature_diversity(m.D_axis, m.axis(fake), m.buffers_of_d())
        grad_g = m.grad_norms("G")
        loss_d, loss_g = loss_d.detach().reshape(-1), loss_g.detach().reshape(-1)
        return [
            {
                "step": step + 1,
                "loss_d": float(loss_d[k]),
                "loss_g": float(loss_g[k]),
                "grad_norm_d": grad_d[k],
                "grad_norm_g": grad_g[k],
                "wasserstein_estimate": w_est[k],
                "feature_diversity": diversity[k],
            }
            for k in range(len(self.specs))
        ]

    def eval_noise(self) -> torch.Tensor:
        """Each run's evaluation noise, (K, n_eval, noise_dim), on the CPU."""
        gens = [torch.Generator().manual_seed(derived_seed(s.seed, 1)) for s in self.specs]
        z = [self.suite.sample_noise(self.suite.n_eval, g, self.noise_dim) for g in gens]
        return torch.stack(z)

    @torch.no_grad()
    def samples(self, z: torch.Tensor) -> list[np.ndarray]:
        """Per model: G (eval mode) on its noise, in chunks, every row as G returned it. Any
        draws of the method's (e.g. conditions) come from a fixed stream of their own."""
        gens = [torch.Generator().manual_seed(derived_seed(s.seed, 2)) for s in self.specs]
        chunks: list[list[np.ndarray]] = [[] for _ in self.specs]
        self.models.eval()
        try:
            for zc in z.split(CHUNK, dim=1):
                out = self.models.sample(zc.to(self.device), gens).cpu().numpy()
                for k in range(len(self.specs)):
                    chunks[k].append(out[k])
        finally:
            self.models.train()
        return [np.concatenate(c) for c in chunks]

    def checkpoint(self, k: int, done: int, curves, snapshots, evals) -> dict:
        m = self.models
        return {
            "run": run_identity(self.specs[k]),
            "step": done,
            "G": m.g_state(k),
            "D": m.d_state(k),
            "opt_g": m.opt_state("G", k),
            "opt_d": m.opt_state("D", k),
            "rng": self.rngs[k].get_state(),
            "method": self.method.state_dict(),
            "curves": curves,
            "snapshots": snapshots,
            "evals": evals,
        }


def stepped(opt: torch.optim.Optimizer) -> list[torch.Tensor]:
    """The parameters ``opt`` steps, in its order."""
    return [p for group in opt.param_groups for p in group["params"]]


def train_runs(
    specs: Sequence[RunSpec],
    runs: Sequence[RunDir],
    progress: ProgressFn | None = None,
    data_root=None,
    runtime: Runtime | None = None,
) -> list[dict]:
    """Train (or resume) the runs of ``specs`` together, writing each to its run directory;
    returns each run's metrics, in order. ``data_root`` locates image data files and
    ``runtime`` says where and how to compute; neither is part of a run's identity."""
    if len(runs) != len(specs):
        raise BenchError(f"{len(specs)} run specs but {len(runs)} run directories")
    rt = runtime or Runtime()
    if len(specs) > 1:
        rt = stacked_runtime(rt)
    with applied(rt):
        return _train(specs, runs, progress, data_root, rt)


def train_run(spec, run, progress=None, data_root=None, runtime=None) -> dict:
    """One run alone (K = 1)."""
    return train_runs([spec], [run], progress, data_root, runtime)[0]


def _train(specs, runs, progress, data_root, rt: Runtime) -> list[dict]:
    t = Trainer(specs, rt, data_root)
    cfg, suite, method, K = t.cfg, t.suite, t.method, len(specs)
    curves: list[list[dict]] = [[] for _ in specs]
    snapshots: list[dict] = [{} for _ in specs]
    evals: list[list[dict]] = [[] for _ in specs]
    start, states = 0, resume_states(specs, runs, cfg.steps, t.models)
    if states is not None:
        with resume_errors(runs[0]):
            t.models.load(states)
            for r, s in zip(t.rngs, states, strict=True):
                r.set_state(s["rng"])
            method.load_state_dict(states[0].get("method", {}))
        start = states[0]["step"]
        curves = [list(s["curves"]) for s in states]
        snapshots = [dict(s["snapshots"]) for s in states]
        evals = [list(s.get("evals", [])) for s in states]
    stacked = {"batch_models": K, "stacked_with": [s.label for s in specs]} if K > 1 else {}
    for run in runs:
        run.record_runtime(
            {"start_step": start, **rt.as_dict(), "threads": torch.get_num_threads(), **stacked}
            | machine()
        )
    if progress:
        progress(start)
    logs = [open_log(rt.log, rt.log_dir, r.path, start) for r in runs]
    eval_noise = t.eval_noise()
    snapshot_steps, eval_steps = set(cfg.snapshot_steps()), set(cfg.eval_steps())
    for step in range(start, cfg.steps):
        done = step + 1
        rows = t.step(step, log=done % cfg.log_every == 0 or done == cfg.steps)
        for k, row in enumerate(rows or []):
            curves[k].append(row)
            logs[k].curves(row)
        if done in snapshot_steps:
            _snapshot(t, runs, done, eval_noise, snapshots, logs)
        if done in eval_steps:
            outs = t.samples(eval_noise)
            for k, s in enumerate(specs):
                evals[k].append(evaluation_row(suite, s, done, outs[k], data_root, rt))
                logs[k].evals(evals[k][-1])
        if done % cfg.checkpoint_every == 0 or done == cfg.steps:
            save_checkpoints_together(
                runs, [t.checkpoint(k, done, curves[k], snapshots[k], evals[k]) for k in range(K)]
            )
        if progress:
            progress(done)
    for log in logs:
        log.close()
    final = t.samples(eval_noise)
    return [
        finish_run(specs[k], runs[k], suite, final[k], curves[k], snapshots[k],
                   method.history(), data_root, rt, evals[k])
        for k in range(K)
    ]  # fmt: skip


def _snapshot(t: Trainer, runs, done: int, eval_noise, snapshots, logs) -> None:
    suite = t.suite
    snaps = t.samples(eval_noise[:, : suite.snapshot_samples])
    for k, snap in enumerate(snaps):
        if np.isfinite(snap).all():
            snapshots[k][f"samples_{done}"] = suite.to_stored(snap)
            logs[k].samples(done, snapshots[k][f"samples_{done}"])
        for key, value in suite.snapshot(t.models.d_module(k), t.method).items():
            snapshots[k]["axis" if key == "axis" else f"{key}_{done}"] = value
        if suite.stores_generators:
            runs[k].save_generator(done, t.models.g_state(k))


def train_bare(
    specs: Sequence[RunSpec], device: str | None = "cpu", eval_samples: bool = True, data_root=None
) -> list[dict]:
    """The loop with no run store and no measurements (``bench perf``'s stacked kernel).
    Returns per spec: ``seed``, ``cls``, the final ``G`` and ``D`` state dicts (the suite's
    nets' format) and, with ``eval_samples``, ``samples``: G on the run's evaluation noise, in
    the suite's stored form when finite."""
    rt = Runtime(device=resolve_device(device))
    if len(specs) > 1:
        rt = stacked_runtime(rt)
    t = Trainer(specs, rt, data_root)
    for step in range(specs[0].train.steps):
        t.step(step, log=False)
    out = [
        {"seed": s.seed, "cls": s.cls, "G": t.models.g_state(k), "D": t.models.d_state(k)}
        for k, s in enumerate(specs)
    ]
    if eval_samples:
        for o, x in zip(out, t.samples(t.eval_noise()), strict=True):
            o["samples"] = t.suite.to_stored(x) if np.isfinite(x).all() else x
    elif t.device.type == "cuda":
        torch.cuda.synchronize(t.device)
    return out
