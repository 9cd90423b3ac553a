"""Stacked models: K runs of one configuration trained as one model in one process.

Why: the toy suites' nets (3 × 512-unit MLPs, batches of 64-256) and the per-class DCGANs (one per
CIFAR class, 64-image batches) are small. One run at a time leaves most of a GPU idle and pays a
kernel launch (and Python overhead) per layer per step. Stacking K runs that differ only in their
seed or class turns every layer of the K models into one batched kernel: the per-model parameters
and buffers are stacked along a leading K dimension (``torch.func.stack_module_state``) and the
suite's own networks are called on them with ``torch.func.vmap`` over
``torch.func.functional_call``.

Each model k is the run ``train_run`` would train for spec k, up to floating-point summation
order (tests/test_stacked.py checks this against ``train_run`` itself):

* its nets are built by the suite's ``build_nets`` for seed k, then stacked; BatchNorm running
  statistics are stacked buffers, updated per model inside ``vmap``;
* its real batches come from its own class's training set; its batch indices, noise and
  interpolation weights come from its own ``torch.Generator`` seeded with seed k, drawn in the
  sequential loop's order, and D is called in the sequential loop's order (BatchNorm statistics
  depend on it);
* its losses are per-model means, and the K losses are summed before ``backward``, so no gradient
  mixes models; the gradient penalty differentiates each model's critic output with respect to
  that model's own interpolates only;
* one optimiser of the method's own kind and hyper-parameters updates the stacked parameters.
  Adam, RMSprop and SGD are elementwise, so one of them over (K, ...) tensors is K independent
  ones; weight clipping (WGAN) is elementwise too.

The losses are the methods' own equations (baselines/) restated over a (K, B, ...) batch, not calls
to their ``d_loss``/``g_loss``: those draw the interpolation weights from one generator and
average over the whole batch, where here each model draws from its own seed's generator and keeps
its own mean. ``_d_losses``/``_g_losses`` are the only restatements; the equality tests pin them
to the originals.

With run directories (``train_stacked_runs``, used by ``bench run --batch-models K``) every model
writes exactly what ``train_run`` writes: curves.csv, snapshots, generator snapshots (image
suites), samples, metrics, and a checkpoint in ``train_run``'s own format, so a stacked run can be
resumed stacked or one at a time, and vice versa. Without them (``train_stacked``, used by
``bench perf --batch-models``) it is the bare training kernel.

Supported: the methods in ``SUPPORTED`` with their default loop hooks and the suite's own nets
(packing included; no method-sized nets), on every suite. Not supported: methods that keep
state, draw extra randomness, normalise weights or change the nets' layout (sngan, dyngan, scgan,
unrolled-gan, curriculum-wgan-gp):
``bench run --batch-models`` trains those one at a time. Not applied when stacked:
bf16 autocast and channels_last (``stacked_runtime``).
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.func import functional_call, stack_module_state, vmap

from ..baselines.base import interpolates
from ..baselines.gan import GAN, log_d, log_one_minus_d
from ..baselines.greed_gan import GreedGAN
from ..baselines.greed_wgan import GreedWGAN
from ..baselines.lsgan import LSGAN
from ..baselines.pacgan import PacGAN2, PacGAN3, PacGAN4
from ..baselines.wgan import WGAN
from ..baselines.wgan_gp import WGANGP
from .config import RunSpec
from .errors import BenchError
from .methods import build_method
from .runtime import Runtime, applied, machine, resolve_device
from .store import CHECKPOINT_KEYS, RunDir, save_checkpoints_together
from .suites import get_suite
from .train import derived_seed, evaluation_row, finish_run, resume_errors

#: method name -> the exact class whose losses ``_d_losses``/``_g_losses`` restate
SUPPORTED = {
    "gan": GAN,
    "lsgan": LSGAN,
    "pacgan2": PacGAN2,
    "pacgan3": PacGAN3,
    "pacgan4": PacGAN4,
    "greed-gan": GreedGAN,
    "wgan": WGAN,
    "greed-wgan": GreedWGAN,
    "wgan-gp": WGANGP,
}
#: methods with GAN's losses (PacGAN: the same losses on packed inputs)
GAN_LOSSES = ("gan", "greed-gan", "pacgan2", "pacgan3", "pacgan4")
#: optimisers whose update is elementwise (one over stacked tensors = K independent ones)
ELEMENTWISE = (torch.optim.Adam, torch.optim.RMSprop, torch.optim.SGD)
#: evaluation samples generated per model per forward pass (train_run's chunk)
CHUNK = 1000


class _FeaturesOf(nn.Module):
    """A module whose forward is ``inner.features``: functional_call only calls forward."""

    def __init__(self, inner: nn.Module):
        super().__init__()
        self.inner = inner

    def forward(self, x):
        return self.inner.features(x)


class _Stacked(nn.Module):
    """K copies of one network: stacked parameters and buffers (leading dim K) and a weightless
    skeleton on the meta device that ``functional_call`` runs on them."""

    def __init__(self, modules: Sequence[nn.Module], device: torch.device):
        super().__init__()
        params, buffers = stack_module_state(list(modules))
        self.k = len(modules)
        self.names = list(params)
        self.stacked = nn.ParameterList(
            nn.Parameter(params[n].detach().to(device)) for n in self.names
        )
        self.buffer_names = list(buffers)
        self.buffers_ = {n: b.to(device) for n, b in buffers.items()}
        skeleton = copy.deepcopy(modules[0]).to("meta")
        # lists, not attributes: the skeleton's meta tensors must not be submodules of this one
        self.skeleton = [skeleton]
        self.feature_skeleton = (
            [_FeaturesOf(skeleton)] if callable(getattr(skeleton, "features", None)) else []
        )

    def train(self, mode: bool = True):
        super().train(mode)
        self.skeleton[0].train(mode)
        return self

    def params(self, detach: bool = False) -> dict[str, torch.Tensor]:
        return {
            n: (p.detach() if detach else p) for n, p in zip(self.names, self.stacked, strict=True)
        }

    def _call(self, module: nn.Module, prefix: str, x: torch.Tensor, detach: bool):
        params = {prefix + n: p for n, p in self.params(detach).items()}
        buffers = {prefix + n: b for n, b in self.buffers_.items()}

        def one(p, b, xk):
            return functional_call(module, (p, b), (xk,))

        return vmap(one)(params, buffers, x)

    def forward(self, x: torch.Tensor, detach: bool = False) -> torch.Tensor:
        """x: (K, N, ...) -> each model on its own slice, (K, N, ...)."""
        return self._call(self.skeleton[0], "", x, detach)

    def features(self, x: torch.Tensor) -> torch.Tensor | None:
        if not self.feature_skeleton:
            return None
        return self._call(self.feature_skeleton[0], "inner.", x, detach=True)

    def saved_buffers(self) -> dict[str, torch.Tensor]:
        return {n: b.clone() for n, b in self.buffers_.items()}

    def restore_buffers(self, saved: dict[str, torch.Tensor]) -> None:
        for n, b in saved.items():
            self.buffers_[n].copy_(b)

    def grad_norms(self) -> list[float]:
        """Per model: the L2 norm of all its gradients (train.grad_norm of model k)."""
        sq = torch.zeros(self.k, dtype=torch.float64, device=self.stacked[0].device)
        for p in self.stacked:
            if p.grad is not None:
                sq += p.grad.detach().flatten(1).double().pow(2).sum(1)
        return sq.sqrt().tolist()

    def state_dict_of(self, k: int) -> dict[str, torch.Tensor]:
        """Model k's state dict, keyed as the suite's own net's (loads into it)."""
        out = {
            n: p[k].detach().cpu().clone() for n, p in zip(self.names, self.stacked, strict=True)
        }
        out.update({n: b[k].cpu().clone() for n, b in self.buffers_.items()})
        return out

    @torch.no_grad()
    def load_states(self, states: Sequence[dict[str, torch.Tensor]]) -> None:
        """Load one state dict per model (e.g. from K checkpoints)."""
        for n, p in zip(self.names, self.stacked, strict=True):
            p.copy_(torch.stack([s[n] for s in states]).to(p))
        for n, b in self.buffers_.items():
            b.copy_(torch.stack([s[n] for s in states]).to(b))


# -- optimiser state: stacked <-> per model ------------------------------------------------------
def _opt_state_of(opt: torch.optim.Optimizer, k: int) -> dict[str, Any]:
    """Model k's optimiser state dict, as its own optimiser in ``train_run`` would have it: every
    per-parameter tensor sliced at k; ``step`` (the same for all models) shared."""
    sd = opt.state_dict()
    state = {
        i: {
            key: v.clone() if key == "step" else (None if v is None else v[k].cpu().clone())
            for key, v in s.items()
        }
        for i, s in sd["state"].items()
    }
    return {"state": state, "param_groups": copy.deepcopy(sd["param_groups"])}


def _load_opt_states(opt: torch.optim.Optimizer, states: Sequence[dict[str, Any]]) -> None:
    first = states[0]
    state = {}
    for i, s in first["state"].items():
        state[i] = {}
        for key, v in s.items():
            if key == "step" or v is None:
                state[i][key] = v
            else:
                state[i][key] = torch.stack([st["state"][i][key] for st in states])
    opt.load_state_dict({"state": state, "param_groups": first["param_groups"]})


# -- the methods' losses over (K, B, ...) batches ------------------------------------------------
def _mean(x: torch.Tensor) -> torch.Tensor:
    """Per-model mean of (K, B, ...) values: shape (K,)."""
    return x.flatten(1).mean(1)


def _interpolates(real, fake, rngs, t_max: float = 1.0) -> torch.Tensor:
    """base.interpolates per model, each from its own generator."""
    return torch.stack([interpolates(real[k], fake[k], r, t_max) for k, r in enumerate(rngs)])


def _d_losses(method, D: _Stacked, real, fake, step: int, rngs) -> torch.Tensor:
    """Each model's L_D, shape (K,); D is called in the order the method's d_loss calls it."""
    name = method.name
    if name in GAN_LOSSES:
        relax = 0.0
        if name == "greed-gan":  # GreedGAN.d_loss: x_hat first, then GAN's L_D
            x_hat = _interpolates(real, fake, rngs, method.params.t_max)
            relax = method.relaxation_weight(step) * _mean(log_d(D(x_hat)))
        return -(_mean(log_d(D(real))) + _mean(log_one_minus_d(D(fake)))) - relax
    if name in ("wgan", "greed-wgan"):
        relax = 0.0
        if name == "greed-wgan":  # GreedWGAN.critic_objective: x_hat first
            x_hat = _interpolates(real, fake, rngs, method.params.t_max)
            relax = method.relaxation_weight(step) * _mean(D(x_hat))
        return -(_mean(D(real)) - _mean(D(fake)) + relax)
    if name == "lsgan":
        p = method.params
        return 0.5 * _mean((D(real) - p.b) ** 2) + 0.5 * _mean((D(fake) - p.a) ** 2)
    if name == "wgan-gp":
        wasserstein = _mean(D(real)) - _mean(D(fake))
        x_hat = _interpolates(real, fake, rngs).requires_grad_(True)
        # each model's scores depend on its own interpolates only: the gradient of the sum is
        # the per-model, per-sample input gradient
        (grad,) = torch.autograd.grad(D(x_hat).sum(), x_hat, create_graph=True)
        gp = _mean((grad.flatten(2).norm(2, dim=2) - 1) ** 2)
        return -wasserstein + method.params.gp_lambda * gp
    raise AssertionError(name)  # check_specs admits SUPPORTED only


def _g_losses(method, D: _Stacked, fake, step: int) -> torch.Tensor:
    scores = D(fake, detach=True)  # G's step needs no gradient for D's parameters
    if method.name in GAN_LOSSES:
        if method.params.loss == "minimax":
            return _mean(log_one_minus_d(scores))
        return -_mean(log_d(scores))
    if method.name == "lsgan":
        return 0.5 * _mean((scores - method.params.c) ** 2)
    return -_mean(scores)


# -- checks --------------------------------------------------------------------------------------
def unstackable(spec: RunSpec) -> str | None:
    """Why ``spec`` cannot be trained stacked (one line), or None if it can."""
    if spec.method not in SUPPORTED:
        return (
            f"stacked training does not support method {spec.method!r}; "
            f"supported: {', '.join(SUPPORTED)}"
        )
    method = build_method(spec.method, spec.method_params, spec.train.steps)
    if type(method) is not SUPPORTED[spec.method]:
        return f"stacked training: method {spec.method!r} is not the built-in one"
    if method.net_config():
        return f"stacked training: method {spec.method!r} changes the suite's nets"
    return None


def check_specs(specs: Sequence[RunSpec]) -> None:
    """One-line BenchError unless ``specs`` are K >= 1 runs of a supported method with one
    configuration (they may differ in seed and class only, and no two are the same run)."""
    if not specs:
        raise BenchError("stacked training needs at least one run spec")
    first = specs[0]
    reason = unstackable(first)
    if reason:
        raise BenchError(reason)
    for s in specs[1:]:
        if dataclasses.replace(s, seed=first.seed, cls=first.cls) != first:
            raise BenchError(
                f"stacked runs must differ only in the seed or class; {s.label} differs from "
                f"{first.label}"
            )
    keys = [(s.seed, s.cls) for s in specs]
    if len(set(keys)) != len(keys):
        raise BenchError(f"stacked runs must be distinct runs; got {[s.label for s in specs]}")


# -- training ------------------------------------------------------------------------------------
@dataclasses.dataclass
class _Models:
    """K runs' stacked nets, optimisers, data and random streams."""

    specs: Sequence[RunSpec]
    suite: Any
    method: Any
    device: torch.device
    G: _Stacked
    D: _Stacked
    opt_g: torch.optim.Optimizer
    opt_d: torch.optim.Optimizer
    data: list
    rngs: list[torch.Generator]

    def noise(self, n: int) -> torch.Tensor:
        return torch.stack([self.suite.sample_noise(n, r) for r in self.rngs]).to(self.device)


def _build(specs: Sequence[RunSpec], device: torch.device, data_root) -> _Models:
    check_specs(specs)
    spec = specs[0]
    suite = get_suite(spec.suite).resolve(spec.suite_params)
    method = build_method(spec.method, spec.method_params, spec.train.steps)
    by_class: dict = {}
    for s in specs:
        if s.cls not in by_class:
            by_class[s.cls] = suite.training_set(s.cls, data_root).to(device)
    built = [
        suite.build_nets(s.seed, pack=method.pack, d_batchnorm=method.d_batchnorm) for s in specs
    ]
    G = _Stacked([g for g, _ in built], device)
    D = _Stacked([d for _, d in built], device)
    # the method's own optimisers (kind and hyper-parameters) over the stacked parameters
    opt_g, opt_d = method.optimizers(G, D)
    for opt in (opt_g, opt_d):
        if type(opt) not in ELEMENTWISE:
            raise BenchError(
                f"stacked training needs an elementwise optimiser (Adam, RMSprop, SGD); "
                f"{spec.method} uses {type(opt).__name__}"
            )
    return _Models(
        specs=specs,
        suite=suite,
        method=method,
        device=device,
        G=G,
        D=D,
        opt_g=opt_g,
        opt_d=opt_d,
        data=[by_class[s.cls] for s in specs],
        rngs=[torch.Generator().manual_seed(s.seed) for s in specs],
    )


def _step(m: _Models, step: int, log: bool) -> list[dict] | None:
    """One generator step of every model (train.py's loop body); with ``log``, one curves row
    per model (train.py's columns and definitions)."""
    method, D, G = m.method, m.D, m.G
    B = m.specs[0].train.batch_size * method.pack  # PacGAN: batch x pack samples, as train.py
    for _ in range(method.n_critic):
        # per model, as the sequential loop draws: batch indices, noise, interpolation weights
        real = torch.stack(
            [method.real_batch(d, B, r)[0] for d, r in zip(m.data, m.rngs, strict=True)]
        )
        z = m.noise(B)
        with torch.no_grad():
            fake = G(z)
        loss_d = _d_losses(method, D, real, fake, step, m.rngs)
        m.opt_d.zero_grad(set_to_none=True)
        loss_d.sum().backward()
        m.opt_d.step()
        method.after_d_step(D)
    if log:
        grad_d = D.grad_norms()
        saved = D.saved_buffers()
        with torch.no_grad():  # train.wasserstein_estimate, buffers kept
            w_est = (_mean(D(real)) - _mean(D(fake))).float().tolist()
        D.restore_buffers(saved)
    fake = G(m.noise(B))
    loss_g = _g_losses(method, D, fake, step)
    m.opt_g.zero_grad(set_to_none=True)
    loss_g.sum().backward()
    m.opt_g.step()
    if not log:
        return None
    saved = D.saved_buffers()
    with torch.no_grad():  # train.feature_diversity
        feats = D.features(fake.detach())
        diversity = (
            [float("nan")] * D.k
            if feats is None
            else feats.flatten(2).float().var(dim=1, correction=0).mean(1).tolist()
        )
    D.restore_buffers(saved)
    grad_g = G.grad_norms()
    return [
        {
            "step": step + 1,
            "loss_d": float(loss_d[k].detach()),
            "loss_g": float(loss_g[k].detach()),
            "grad_norm_d": grad_d[k],
            "grad_norm_g": grad_g[k],
            "wasserstein_estimate": w_est[k],
            "feature_diversity": diversity[k],
        }
        for k in range(D.k)
    ]


def _eval_noise(m: _Models, n: int | None = None) -> torch.Tensor:
    """train_run's evaluation noise for each model: (K, n_eval, noise_dim), on the CPU."""
    gens = [torch.Generator().manual_seed(derived_seed(s.seed, 1)) for s in m.specs]
    z = torch.stack([m.suite.sample_noise(m.suite.n_eval, g) for g in gens])
    return z if n is None else z[:, :n]


@torch.no_grad()
def _generate_raw(m: _Models, z: torch.Tensor) -> list[np.ndarray]:
    """G (eval mode: BatchNorm running statistics) on each model's noise, in chunks: per model
    all of its samples as G returns them (every row kept, finite or not)."""
    chunks: list[list[np.ndarray]] = [[] for _ in m.specs]
    m.G.eval()
    try:
        for zc in z.split(CHUNK, dim=1):  # no autocast: train_run samples in full precision
            out = m.G(zc.to(m.device)).cpu().numpy()
            for k in range(len(m.specs)):
                chunks[k].append(out[k])
    finally:
        m.G.train()
    return [np.concatenate(c) for c in chunks]


def _generate(m: _Models, z: torch.Tensor) -> tuple[list[np.ndarray], list[bool]]:
    """Per model: the samples in the suite's stored form when all are finite, else as G
    returned them (a diverged run keeps all n_eval rows, as ``train_run`` writes them); and
    whether they were all finite."""
    raw = _generate_raw(m, z)
    finite = [bool(np.isfinite(x).all()) for x in raw]
    return [m.suite.to_stored(x) if ok else x for x, ok in zip(raw, finite, strict=True)], finite


def train_stacked(
    specs: Sequence[RunSpec],
    device: str | None = "cpu",
    eval_samples: bool = True,
    data_root=None,
) -> list[dict]:
    """The bare kernel: train ``specs`` stacked, no store, no logging (``bench perf``).

    Returns one dict per spec, in order: ``seed``, ``cls``, ``G`` and ``D`` (final state dicts on
    the CPU, keyed as the suite's nets' own) and, with ``eval_samples``, ``samples``: G on the
    evaluation noise ``train_run`` uses for that spec, in the suite's stored form.
    """
    dev = torch.device(resolve_device(device))
    m = _build(specs, dev, data_root)
    for step in range(specs[0].train.steps):
        _step(m, step, log=False)
    out = [
        {"seed": s.seed, "cls": s.cls, "G": m.G.state_dict_of(k), "D": m.D.state_dict_of(k)}
        for k, s in enumerate(specs)
    ]
    if eval_samples:
        samples, _ = _generate(m, _eval_noise(m))
        for o, x in zip(out, samples, strict=True):
            o["samples"] = x
    elif dev.type == "cuda":
        torch.cuda.synchronize(dev)
    return out


def stacked_runtime(rt: Runtime) -> Runtime:
    """What a stacked job actually uses: ``rt`` without bf16 autocast and channels_last.
    Autocast does not reach inside ``torch.func.vmap`` (functorch's batching rules run above
    the autocast dispatch key: a vmapped conv under ``torch.autocast`` returns float32, checked),
    and vmap folds the model dimension into the batch, so stacked models train in the nets' own
    dtype; runtime.json records it."""
    return dataclasses.replace(rt, amp=False, channels_last=False)


def _start_step(runs: Sequence[RunDir], max_step: int) -> tuple[int, list[dict] | None]:
    states = [r.load_checkpoint(recover=True) for r in runs]
    if all(s is None for s in states):
        return 0, None
    steps = {None if s is None else s["step"] for s in states}
    if len(steps) != 1:
        raise BenchError(
            "stacked runs must resume from the same step; their checkpoints are at "
            f"{sorted(steps, key=lambda x: -1 if x is None else x)}: train them one at a time"
        )
    for run, state in zip(runs, states, strict=True):
        run.check_state(state, CHECKPOINT_KEYS, max_step=max_step)
    return steps.pop(), states


def checkpoint_step(run: RunDir) -> int:
    """The step ``run`` would resume from (0: fresh); the runner stacks equal ones together."""
    state = run.load_checkpoint()
    return 0 if state is None else int(state["step"])


def train_stacked_runs(
    specs: Sequence[RunSpec],
    runs: Sequence[RunDir],
    progress: Sequence[Callable[[int], None]] | None = None,
    data_root=None,
    runtime: Runtime | None = None,
) -> list[dict]:
    """Train (or resume) ``specs`` stacked, writing each to its run directory exactly as
    ``train_run`` would; returns each run's metrics, in order."""
    rt = stacked_runtime(runtime or Runtime())
    with applied(rt):
        return _train_runs(specs, runs, progress, data_root, rt)


def _train_runs(specs, runs, progress, data_root, rt: Runtime) -> list[dict]:
    if len(runs) != len(specs):
        raise BenchError(f"stacked training: {len(specs)} specs but {len(runs)} run directories")
    dev = torch.device(rt.device)
    m = _build(specs, dev, data_root)
    cfg, suite, method = specs[0].train, m.suite, m.method
    K = len(specs)
    start, states = _start_step(runs, cfg.steps)
    curves: list[list[dict]] = [[] for _ in specs]
    snapshots: list[dict] = [{} for _ in specs]
    evals: list[list[dict]] = [[] for _ in specs]
    eval_steps = set(cfg.eval_steps())
    if states is not None:
        with resume_errors(runs[0]):
            m.G.load_states([s["G"] for s in states])
            m.D.load_states([s["D"] for s in states])
            _load_opt_states(m.opt_g, [s["opt_g"] for s in states])
            _load_opt_states(m.opt_d, [s["opt_d"] for s in states])
            for r, s in zip(m.rngs, states, strict=True):
                r.set_state(s["rng"])
        curves = [list(s["curves"]) for s in states]
        snapshots = [dict(s["snapshots"]) for s in states]
        evals = [list(s.get("evals", [])) for s in states]
    for run in runs:
        run.record_runtime(
            {
                "start_step": start,
                **rt.as_dict(),
                "threads": torch.get_num_threads(),
                "batch_models": K,
                "stacked_with": [s.label for s in specs],
                **machine(),
            }
        )
    report = list(progress) if progress else []
    for p in report:
        p(start)
    eval_noise = _eval_noise(m)
    d_net = suite.build_nets(specs[0].seed, pack=method.pack, d_batchnorm=method.d_batchnorm)[1]
    d_net = d_net.to(dev)
    snapshot_steps = set(cfg.snapshot_steps())
    for step in range(start, cfg.steps):
        done = step + 1
        log = done % cfg.log_every == 0 or done == cfg.steps
        rows = _step(m, step, log)
        if rows:
            for c, row in zip(curves, rows, strict=True):
                c.append(row)
        if done in snapshot_steps:
            n = 1000 if suite.kind == "toy" else 64
            snaps, finite = _generate(m, eval_noise[:, :n])
            for k in range(K):
                if finite[k]:
                    snapshots[k][f"samples_{done}"] = snaps[k]
                d_net.load_state_dict(m.D.state_dict_of(k))
                for key, value in suite.snapshot(d_net, method).items():
                    snapshots[k]["axis" if key == "axis" else f"{key}_{done}"] = value
                if suite.kind == "image":
                    runs[k].save_generator(done, m.G.state_dict_of(k))
        if done in eval_steps:
            outs = _generate_raw(m, eval_noise)
            for k, s in enumerate(specs):
                evals[k].append(evaluation_row(suite, s, done, outs[k], data_root, rt))
        if done % cfg.checkpoint_every == 0 or done == cfg.steps:
            save_checkpoints_together(
                runs,
                [
                    {
                        "step": done,
                        "G": m.G.state_dict_of(k),
                        "D": m.D.state_dict_of(k),
                        "opt_g": _opt_state_of(m.opt_g, k),
                        "opt_d": _opt_state_of(m.opt_d, k),
                        "rng": m.rngs[k].get_state(),
                        "method": method.state_dict(),
                        "curves": curves[k],
                        "snapshots": snapshots[k],
                        "evals": evals[k],
                    }
                    for k in range(K)
                ],
            )
        for p in report:
            p(done)

    samples, finite = _generate(m, eval_noise)
    return [
        finish_run(s, r, suite, x, ok, c, snap, method.history(), data_root, rt, e)
        for s, r, x, ok, c, snap, e in zip(
            specs, runs, samples, finite, curves, snapshots, evals, strict=True
        )
    ]
