"""Stacked models: K seeds of one toy-suite configuration trained as one model in one process.

Why: the toy suites' nets are small MLPs (3 hidden layers of 512 units, batches of 64-256). One
run leaves most of a GPU idle and pays a kernel launch (and Python overhead) per layer per step.
Stacking K runs that differ only in their seed turns every layer of the K models into one batched
kernel: the per-model parameters are stacked along a leading K dimension
(``torch.func.stack_module_state``) and the suite's own networks are called on them with
``torch.func.vmap`` over ``torch.func.functional_call``.

Each model k is the sequential run of seed k (the bare loop in benchmark/perf.py, equivalently
``train_run`` without its logging), up to floating-point summation order:

* its nets are built by the suite's ``build_nets`` for seed k, then stacked;
* its real batches, noise and gradient-penalty mixing weights come from its own
  ``torch.Generator`` seeded with k, drawn in the sequential loop's order;
* its losses are per-model means, and the K losses are summed before ``backward``, so no gradient
  mixes models; the gradient penalty differentiates each model's critic output with respect to
  that model's own interpolates only;
* the losses are GAN's and WGAN-GP's own equations restated over a (K, B, ...) batch, not calls
  to the methods' ``d_loss``/``g_loss``: those draw the penalty's mixing weights from one
  generator and average over the whole batch, where here each model draws from its own seed's
  generator and keeps its own mean (the equality tests against ``train_run`` pin the two
  together);
* one optimiser of the method's own kind and hyper-parameters updates the stacked parameters.
  Adam is elementwise, so one Adam over (K, ...) tensors is K independent Adams.

Supported: methods ``gan`` (either generator loss) and ``wgan-gp`` with their default loop
hooks, on the toy suites (``gaussians25``, ``ring8``), any preset and method parameters, as long
as the specs differ only in the seed. Not supported: methods that clip or normalise weights,
keep state, draw extra randomness or change the nets (wgan, sngan, pacgan, dyngan, ...), and
image suites. No run store, logging, snapshots or checkpoints: this is a training kernel, used by
``bench perf --batch-models``.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Sequence

import numpy as np
import torch
from torch.func import functional_call, stack_module_state, vmap

from ..baselines.gan import GAN, log_d, log_one_minus_d
from ..baselines.wgan_gp import WGANGP
from .config import RunSpec
from .errors import BenchError
from .methods import build_method
from .runtime import resolve_device
from .suites import get_suite
from .train import derived_seed

#: method name -> the exact class whose losses this module reproduces
SUPPORTED = {"gan": GAN, "wgan-gp": WGANGP}


class _Stacked(torch.nn.Module):
    """K copies of one network: stacked parameters (leading dim K) and a weightless skeleton."""

    def __init__(self, modules: Sequence[torch.nn.Module], device: torch.device):
        super().__init__()
        params, buffers = stack_module_state(list(modules))
        if buffers:
            raise BenchError("stacked training supports networks without buffers only")
        self.names = list(params)
        self.stacked = torch.nn.ParameterList(
            torch.nn.Parameter(params[n].detach().to(device)) for n in self.names
        )
        self.skeleton = [copy.deepcopy(modules[0]).to("meta")]  # a list: not a submodule

    def params(self, detach: bool = False) -> dict[str, torch.Tensor]:
        return {
            n: (p.detach() if detach else p) for n, p in zip(self.names, self.stacked, strict=True)
        }

    def forward(self, x: torch.Tensor, detach: bool = False) -> torch.Tensor:
        """x: (K, N, ...) -> each model on its own slice, (K, N, ...)."""
        skeleton = self.skeleton[0]

        def one(params, xk):
            return functional_call(skeleton, params, (xk,))

        return vmap(one)(self.params(detach), x)

    def state_dict_of(self, k: int) -> dict[str, torch.Tensor]:
        return {
            n: p[k].detach().cpu().clone() for n, p in zip(self.names, self.stacked, strict=True)
        }


def check_specs(specs: Sequence[RunSpec]) -> None:
    """One-line BenchError unless ``specs`` are K >= 1 toy runs of a supported method that
    differ only in their (distinct) seeds."""
    if not specs:
        raise BenchError("stacked training needs at least one run spec")
    first = specs[0]
    if first.method not in SUPPORTED:
        raise BenchError(
            f"stacked training does not support method {first.method!r}; "
            f"supported: {', '.join(SUPPORTED)}"
        )
    suite = get_suite(first.suite)
    if suite.kind != "toy":
        raise BenchError(
            f"stacked training supports the toy suites only; {first.suite} is an image suite"
        )
    for s in specs[1:]:
        if dataclasses.replace(s, seed=first.seed) != first:
            raise BenchError(
                f"stacked runs must differ only in the seed; {s.label} differs from {first.label}"
            )
    seeds = [s.seed for s in specs]
    if len(set(seeds)) != len(seeds):
        raise BenchError(f"stacked runs need distinct seeds; got {seeds}")


def train_stacked(
    specs: Sequence[RunSpec], device: str | None = "cpu", eval_samples: bool = True
) -> list[dict]:
    """Train ``specs`` (same configuration, different seeds) as one stacked model.

    Returns one dict per spec, in order: ``seed``, ``G`` and ``D`` (final state dicts on the
    CPU, keyed as the suite's nets' own) and, with ``eval_samples``, ``samples``: G on the
    evaluation noise ``train_run`` uses for that seed (numpy, (n_eval, 2)).
    """
    check_specs(specs)
    spec = specs[0]
    dev = torch.device(resolve_device(device))
    suite = get_suite(spec.suite).resolve(spec.suite_params)
    cfg = spec.train
    method = build_method(spec.method, spec.method_params, cfg.steps)
    if type(method) is not SUPPORTED[spec.method]:
        raise BenchError(f"stacked training: method {spec.method!r} is not the built-in one")
    nets = method.net_config()
    if nets or method.pack != 1:
        raise BenchError(f"stacked training: method {spec.method!r} changes the suite's nets")

    data = suite.training_set(spec.cls).to(dev)
    built = [
        suite.build_nets(s.seed, pack=method.pack, d_batchnorm=method.d_batchnorm) for s in specs
    ]
    G = _Stacked([g for g, _ in built], dev)
    D = _Stacked([d for _, d in built], dev)
    # the method's own optimisers (kind and hyper-parameters) over the stacked parameters
    opt_g, opt_d = method.optimizers(G, D)
    for opt in (opt_g, opt_d):
        if not isinstance(opt, torch.optim.Adam):
            raise BenchError(f"stacked training needs an elementwise optimiser; got {opt!r}")
    rngs = [torch.Generator().manual_seed(s.seed) for s in specs]
    B = cfg.batch_size
    wgan = spec.method == "wgan-gp"
    minimax = getattr(method.params, "loss", "ns") == "minimax"

    def noise() -> torch.Tensor:
        return torch.stack([suite.sample_noise(B, r) for r in rngs]).to(dev)

    for _step in range(cfg.steps):
        for _ in range(method.n_critic):
            # per seed, as the sequential loop draws: batch indices, noise, (GP) mixing weights
            real = torch.stack([method.real_batch(data, B, r)[0] for r in rngs])
            z = noise()
            with torch.no_grad():
                fake = G(z)
            if wgan:
                t = torch.stack([torch.rand((B, 1), generator=r) for r in rngs]).to(dev)
                x_hat = ((1 - t) * real + t * fake).requires_grad_(True)
                # each model's scores depend on its own interpolates only: the gradient of the
                # sum is the per-model, per-sample input gradient
                (grad,) = torch.autograd.grad(D(x_hat).sum(), x_hat, create_graph=True)
                gp = ((grad.norm(2, dim=-1) - 1) ** 2).mean(dim=1)
                wasserstein = D(real).mean(dim=1) - D(fake).mean(dim=1)
                loss_d = -wasserstein + method.params.gp_lambda * gp
            else:
                loss_d = -(log_d(D(real)).mean(dim=1) + log_one_minus_d(D(fake)).mean(dim=1))
            opt_d.zero_grad(set_to_none=True)
            loss_d.sum().backward()
            opt_d.step()
        fake = G(noise())
        scores = D(fake, detach=True)  # G's step needs no gradient for D's parameters
        if wgan:
            loss_g = -scores.mean(dim=1)
        elif minimax:
            loss_g = log_one_minus_d(scores).mean(dim=1)
        else:
            loss_g = -log_d(scores).mean(dim=1)
        opt_g.zero_grad(set_to_none=True)
        loss_g.sum().backward()
        opt_g.step()

    out = [
        {"seed": s.seed, "G": G.state_dict_of(k), "D": D.state_dict_of(k)}
        for k, s in enumerate(specs)
    ]
    if eval_samples:
        z = torch.stack(
            [
                suite.sample_noise(
                    suite.n_eval, torch.Generator().manual_seed(derived_seed(s.seed, 1))
                )
                for s in specs
            ]
        ).to(dev)
        with torch.no_grad():
            samples = G(z).cpu().numpy()
        for k, o in enumerate(out):
            o["samples"] = np.asarray(samples[k])
    elif dev.type == "cuda":
        torch.cuda.synchronize(dev)
    return out
