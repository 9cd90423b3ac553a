"""K >= 1 models of one configuration, as the training loop sees them.

The loop (``loop.py``) is written once; the methods' losses are written for one model and carry
a leading model dim when there is one (baselines/base.py). Two representations:

* ``OneModel`` (K = 1): the suite's own modules on (N, ...) tensors, no model dim: every
  operation of a step is the one a plain loop would run, so a run trained alone pays nothing
  for stacking, and every method runs (its loop hooks see the plain modules).
* ``StackedModels`` (K > 1): G maps noise (K, N, nz) to samples (K, N, ...), D maps samples to
  raw scores (K, N): the K models' parameters and buffers stacked along a leading
  dimension (``torch.func.stack_module_state``), the suite's own networks called on them with
  ``torch.func.vmap`` over ``functional_call``. One optimiser over stacked tensors is K
  independent ones when its update is elementwise (Adam, RMSprop, SGD); BatchNorm running
  statistics are stacked buffers, updated per model inside ``vmap``. Only methods that keep to
  the losses stack (``baselines.base.why_not_stackable``): the loop hooks' defaults are applied
  to all K models at once.

Both hand out each model's state dicts in the suite's nets' own format, so a checkpoint written
by either resumes in the other, and both give the measurements (curve columns, samples) a model
dim: ``D_axis`` and ``axis`` (log steps only, never the training step).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn
from torch.func import functional_call, stack_module_state, vmap

#: optimisers whose update is elementwise (one over stacked tensors = K independent ones)
ELEMENTWISE = (torch.optim.Adam, torch.optim.RMSprop, torch.optim.SGD)


def grad_norm(module: nn.Module) -> float:
    grads = [p.grad.detach().flatten() for p in module.parameters() if p.grad is not None]
    return float(torch.cat(grads).norm()) if grads else 0.0


class ModelAxis(nn.Module):
    """One module seen as a stack of one: (1, N, ...) -> (1, N, ...), for code written over a
    model dim (the measurements)."""

    def __init__(self, module: nn.Module):
        super().__init__()
        self.module = module

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.module(x.squeeze(0)).unsqueeze(0)  # a view both ways: no copy in backward

    # a plain loop calls D directly; this wrapper has no hooks of its own, so skip
    # nn.Module.__call__'s hook dispatch (the wrapped module's own call still runs it)
    __call__ = forward

    def features(self, x: torch.Tensor) -> torch.Tensor | None:
        if not callable(getattr(self.module, "features", None)):
            return None
        return self.module.features(x[0]).unsqueeze(0)


class OneModel:
    """K = 1: the suite's own nets, on tensors without a model dim. Hooks see them directly."""

    def __init__(self, method, G: nn.Module, D: nn.Module, device: torch.device):
        self.k, self.device = 1, device
        self.method, self.g, self.d = method, G, D
        self.G, self.D = G, D
        self.D_axis = ModelAxis(D)
        self.opt_g, self.opt_d = method.optimizers(G, D)

    @staticmethod
    def axis(x: torch.Tensor) -> torch.Tensor:
        """(N, ...) -> (1, N, ...): what the measurements take."""
        return x[None]

    def fake_batch(
        self, zs: Sequence[torch.Tensor], rngs: Sequence[torch.Generator]
    ) -> torch.Tensor:
        """G's batch on the one model's noise ``zs[0]``, (N, ...)."""
        return self.method.fake_batch(self.g, zs[0].to(self.device), rngs[0])

    def sample(self, z: torch.Tensor, gens: Sequence[torch.Generator]) -> torch.Tensor:
        return self.method.sample(self.g, z[0], gens[0]).unsqueeze(0)

    def observe(self, data, idx, done: int, rngs) -> None:
        self.method.observe(self.d, data[0], idx[0], done, rngs[0])

    def d_module(self, k: int) -> nn.Module:
        return self.d

    def buffers_of_d(self) -> list[torch.Tensor]:
        return list(self.d.buffers())

    def grad_norms(self, which: str) -> list[float]:
        return [grad_norm(self.g if which == "G" else self.d)]

    def g_state(self, k: int) -> dict[str, torch.Tensor]:
        return self.g.state_dict()

    def d_state(self, k: int) -> dict[str, torch.Tensor]:
        return self.d.state_dict()

    def opt_state(self, which: str, k: int) -> dict[str, Any]:
        return (self.opt_g if which == "G" else self.opt_d).state_dict()

    def param_shapes(self, which: str) -> list[torch.Size]:
        """The shapes of the parameters ``which``'s optimiser steps, in its state's order."""
        opt = self.opt_g if which == "G" else self.opt_d
        return [p.shape for group in opt.param_groups for p in group["params"]]

    def load(self, states: Sequence[dict[str, Any]]) -> None:
        (s,) = states
        self.g.load_state_dict(s["G"])
        self.d.load_state_dict(s["D"])
        self.opt_g.load_state_dict(s["opt_g"])
        self.opt_d.load_state_dict(s["opt_d"])

    def eval(self) -> None:
        self.g.eval()

    def train(self) -> None:
        self.g.train()


class _FeaturesOf(nn.Module):
    """A module whose forward is ``inner.features``: functional_call only calls forward."""

    def __init__(self, inner: nn.Module):
        super().__init__()
        self.inner = inner

    def forward(self, x):
        return self.inner.features(x)


class Stacked(nn.Module):
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

    def _call(self, module: nn.Module, prefix: str, x: torch.Tensor) -> torch.Tensor:
        params = {prefix + n: p for n, p in zip(self.names, self.stacked, strict=True)}
        buffers = {prefix + n: b for n, b in self.buffers_.items()}

        def one(p, b, xk):
            return functional_call(module, (p, b), (xk,))

        return vmap(one)(params, buffers, x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (K, N, ...) -> each model on its own slice, (K, N, ...)."""
        return self._call(self.skeleton[0], "", x)

    def features(self, x: torch.Tensor) -> torch.Tensor | None:
        if not self.feature_skeleton:
            return None
        return self._call(self.feature_skeleton[0], "inner.", x)

    def grad_norms(self) -> list[float]:
        """Per model: the L2 norm of all its gradients."""
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


def _opt_state_of(opt: torch.optim.Optimizer, k: int) -> dict[str, Any]:
    """Model k's optimiser state dict, as its own optimiser would have it: every per-parameter
    tensor sliced at k; ``step`` (the same for all models) shared."""
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


class StackedModels:
    """K > 1 models of a stackable method (the loop hooks' defaults, vectorised)."""

    def __init__(self, method, built: Sequence[tuple[nn.Module, nn.Module]], device):
        self.k = len(built)
        self.method, self.device = method, device
        self.G = Stacked([g for g, _ in built], device)
        self.D = self.D_axis = Stacked([d for _, d in built], device)
        self.opt_g, self.opt_d = method.optimizers(self.G, self.D)
        for opt in (self.opt_g, self.opt_d):
            if type(opt) not in ELEMENTWISE:
                raise TypeError(
                    f"stacked training needs an elementwise optimiser (Adam, RMSprop, SGD), not "
                    f"{type(opt).__name__}"
                )
        self._d_net = copy.deepcopy(built[0][1]).to(device)  # model k's D, for snapshots

    @staticmethod
    def axis(x: torch.Tensor) -> torch.Tensor:
        """Stacked tensors have their model dim already."""
        return x

    def fake_batch(self, zs: Sequence[torch.Tensor], rngs) -> torch.Tensor:
        """The K models' batches on their noise ``zs``, (K, N, ...)."""
        return self.G(torch.stack(zs).to(self.device))

    def sample(self, z: torch.Tensor, gens: Sequence[torch.Generator]) -> torch.Tensor:
        return self.G(z)

    def observe(self, data, idx, done: int, rngs) -> None:
        """The default hook does nothing (stackable methods keep it)."""

    def d_module(self, k: int) -> nn.Module:
        self._d_net.load_state_dict(self.D.state_dict_of(k))
        return self._d_net

    def buffers_of_d(self) -> list[torch.Tensor]:
        return list(self.D.buffers_.values())

    def grad_norms(self, which: str) -> list[float]:
        return (self.G if which == "G" else self.D).grad_norms()

    def g_state(self, k: int) -> dict[str, torch.Tensor]:
        return self.G.state_dict_of(k)

    def d_state(self, k: int) -> dict[str, torch.Tensor]:
        return self.D.state_dict_of(k)

    def opt_state(self, which: str, k: int) -> dict[str, Any]:
        return _opt_state_of(self.opt_g if which == "G" else self.opt_d, k)

    def param_shapes(self, which: str) -> list[torch.Size]:
        """One model's parameter shapes (the stacked ones without their leading K)."""
        opt = self.opt_g if which == "G" else self.opt_d
        return [p.shape[1:] for group in opt.param_groups for p in group["params"]]

    def load(self, states: Sequence[dict[str, Any]]) -> None:
        self.G.load_states([s["G"] for s in states])
        self.D.load_states([s["D"] for s in states])
        _load_opt_states(self.opt_g, [s["opt_g"] for s in states])
        _load_opt_states(self.opt_d, [s["opt_d"] for s in states])

    def eval(self) -> None:
        self.G.eval()

    def train(self) -> None:
        self.G.train()
