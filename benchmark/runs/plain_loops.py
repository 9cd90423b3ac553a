"""`bench perf`'s honest references: the plain loops a competent PyTorch user writes.

A ratio "harness / reference" means something only if the reference is as fast as a plain
loop can be, so these loops share nothing with the harness but what defines the algorithm:
the suite's nets (``build_nets``: same widths, same initial weights), the method's optimiser
settings and loss hyper-parameters. Each step is the algorithm and nothing else: the losses
inline, one ``torch.randint`` / ``torch.randn`` per batch, ``zero_grad(set_to_none=True)``,
no bookkeeping, no model axis, no hooks. ``plain_steps_per_s`` times one model;
``vmapped_steps_per_s`` times K models as one ``torch.func`` stack, the ~40-line layout a user
writes to train seeds side by side. Both cover the losses whose plain form is short (GAN,
WGAN with clipping, WGAN-GP); other methods have no plain reference here and ``bench perf``
says so.
"""

from __future__ import annotations

import copy
import time

import torch
import torch.nn.functional as F
from torch.func import functional_call, stack_module_state, vmap

from ..suites import get_suite
from ..training.methods import build_method

#: methods with a plain reference loop
PLAIN_METHODS = ("gan", "wgan", "wgan-gp")


def _setup(spec, device: str):
    suite = get_suite(spec.suite).resolve(spec.suite_params)
    method = build_method(spec.method, spec.method_params, spec.train.steps)
    G, D = suite.build_nets(spec.seed, d_batchnorm=method.d_batchnorm, **method.net_config())
    G, D = G.to(device), D.to(device)
    opt_g, opt_d = method.optimizers(G, D)  # the method's optimiser settings, nothing else
    return suite, method, G, D, opt_g, opt_d


def check_plain(suite) -> None:
    # the reference loops train from a fixed training set in alternating order (every default
    # protocol); a protocol with fresh data or simultaneous updates has no plain reference here
    if getattr(suite, "fresh_data", False) or getattr(suite, "update_order", "") == "simultaneous":
        raise ValueError(f"no plain reference loop under protocol {suite.protocol.name}")


def _gradient_penalty(D, real, fake, lam, eps):
    x = ((1 - eps) * real + eps * fake).requires_grad_(True)
    (g,) = torch.autograd.grad(D(x).sum(), x, create_graph=True)
    return lam * ((g.flatten(1).norm(2, dim=1) - 1) ** 2).mean()


def plain_loop(spec, device: str = "cpu", steps: int | None = None, trained=None) -> float:
    """Train one model of ``spec`` (gan, wgan or wgan-gp) for ``steps`` generator steps in the
    plainest loop; returns the seconds the steps took (set-up excluded). ``trained``: a list
    that receives the trained (G, D), for checking that this is the harness's algorithm."""
    if spec.method not in PLAIN_METHODS:
        raise ValueError(f"no plain reference loop for {spec.method}; have {PLAIN_METHODS}")
    suite, method, G, D, opt_g, opt_d = _setup(spec, device)
    check_plain(suite)
    p = method.params
    data = suite.training_set(spec.cls).to(device)
    rng = torch.Generator().manual_seed(spec.seed)
    nz = method.net_config().get("noise_dim") or suite.noise_dim
    t0 = time.perf_counter()
    plain_steps(
        spec.method,
        G,
        D,
        opt_g,
        opt_d,
        data,
        rng,
        batch=spec.train.batch_size,
        noise_dim=nz,
        n_critic=method.n_critic,
        steps=spec.train.steps if steps is None else steps,
        gp_lambda=getattr(p, "gp_lambda", 0.0),
        clip=getattr(p, "clip", 0.0),
    )
    seconds = time.perf_counter() - t0
    if trained is not None:
        trained.append((G, D))
    return seconds


def plain_steps(
    method, G, D, opt_g, opt_d, data, rng, *, batch, noise_dim, n_critic, steps, gp_lambda, clip
) -> None:
    """The timed part: ``steps`` generator steps of GAN (non-saturating), WGAN (clipping) or
    WGAN-GP, written out as a user writes them."""
    B, nz, n = batch, noise_dim, len(data)
    for _ in range(steps):
        for _ in range(n_critic):
            real = data[torch.randint(n, (B,), generator=rng)]
            with torch.no_grad():
                fake = G(torch.randn(B, nz, generator=rng))
            if method == "gan":
                loss_d = F.softplus(-D(real)).mean() + F.softplus(D(fake)).mean()
            else:
                loss_d = D(fake).mean() - D(real).mean()
                if method == "wgan-gp":
                    eps = torch.rand(B, *(1,) * (real.dim() - 1), generator=rng)
                    loss_d = loss_d + _gradient_penalty(D, real, fake, gp_lambda, eps)
            opt_d.zero_grad(set_to_none=True)
            loss_d.backward()
            opt_d.step()
            if method == "wgan":
                with torch.no_grad():
                    for w in D.parameters():
                        w.clamp_(-clip, clip)
        out = D(G(torch.randn(B, nz, generator=rng)))
        loss_g = F.softplus(-out).mean() if method == "gan" else -out.mean()
        opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        opt_g.step()


def vmapped_loop(specs, device: str = "cpu", steps: int | None = None) -> float:
    """Train the K models of ``specs`` (one configuration, K seeds; gan or wgan) as one
    ``torch.func`` stack: parameters stacked, nets called through ``vmap`` over
    ``functional_call``, one optimiser over the stacked tensors (elementwise: K independent
    ones). Returns the seconds of the steps."""
    spec = specs[0]
    if spec.method not in ("gan", "wgan"):
        raise ValueError(f"no vmapped reference loop for {spec.method}; have gan, wgan")
    built = [_setup(s, device) for s in specs]
    suite, method = built[0][0], built[0][1]
    check_plain(suite)
    p = method.params
    Gs, Ds = [b[2] for b in built], [b[3] for b in built]
    pg, bg = stack_module_state(Gs)
    pd, bd = stack_module_state(Ds)
    g0, d0 = copy.deepcopy(Gs[0]).to("meta"), copy.deepcopy(Ds[0]).to("meta")

    def g(params, buffers, z):
        return functional_call(g0, (params, buffers), (z,))

    def d(params, buffers, x):
        return functional_call(d0, (params, buffers), (x,))

    G, D = vmap(g), vmap(d)
    # the method's optimiser class and settings, over the stacked tensors
    opt_g = type(built[0][4])(pg.values(), **built[0][4].defaults)
    opt_d = type(built[0][5])(pd.values(), **built[0][5].defaults)
    data = suite.training_set(spec.cls).to(device)
    rngs = [torch.Generator().manual_seed(s.seed) for s in specs]
    K, B, n = len(specs), spec.train.batch_size, len(data)
    nz = method.net_config().get("noise_dim") or suite.noise_dim

    def real_batch():
        return torch.stack([data[torch.randint(n, (B,), generator=r)] for r in rngs])

    def noise():
        return torch.stack([torch.randn(B, nz, generator=r) for r in rngs])

    t0 = time.perf_counter()
    for _ in range(spec.train.steps if steps is None else steps):
        for _ in range(method.n_critic):
            real = real_batch()
            with torch.no_grad():
                fake = G(pg, bg, noise())
            if spec.method == "gan":
                loss_d = F.softplus(-D(pd, bd, real)).mean() + F.softplus(D(pd, bd, fake)).mean()
            else:
                loss_d = D(pd, bd, fake).mean() - D(pd, bd, real).mean()
            opt_d.zero_grad(set_to_none=True)
            (loss_d * K).backward()  # the sum over models of each model's mean
            opt_d.step()
            if spec.method == "wgan":
                with torch.no_grad():
                    for w in pd.values():
                        w.clamp_(-p.clip, p.clip)
        out = D(pd, bd, G(pg, bg, noise()))
        loss_g = F.softplus(-out).mean() if spec.method == "gan" else -out.mean()
        opt_g.zero_grad(set_to_none=True)
        (loss_g * K).backward()
        opt_g.step()
    return time.perf_counter() - t0
