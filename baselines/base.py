"""The small interface every method implements; the one training loop
(``collapsebench.benchmark.training.loop``) does everything else (data, noise, steps,
checkpoints), for one model or for K models of one configuration trained together.

Losses are written once, for one model, as the paper writes them (Mimicry's "losses are
functions of D's outputs"): ``real`` and ``fake`` are (B, ...) batches, ``D`` maps (N, ...) to raw
scores (N,) -- logits for GAN-type losses, critic values for Wasserstein losses -- and a loss
returns a scalar, reducing the batch with ``batch_mean``. Stacked (K > 1 models of one
configuration trained together) every tensor gains a leading model dim: (K, B, ...) batches,
(K, N) scores, (K,) losses; a loss that reduces the batch only through ``batch_mean`` serves
both with no edit. A run alone has no model dim at all, so its step runs the plain loop's
operations and nothing else. The loop sums the K losses before
``backward``, so no gradient mixes models. A method never samples data or noise itself:
randomness a loss needs comes from ``draw`` (``Draws``), which draws model k's share from model
k's own ``torch.Generator``, so runs stay reproducible and resumable, and a stacked model k draws
exactly what run k alone would.

  d_loss(D, real, fake, step, draw) -> ()/(K,)  what D minimises (``fake`` is detached)
  g_loss(D, real, fake, step, draw) -> ()/(K,)  what G minimises (``real``: the step's last
                                                critic batch, e.g. for Unrolled GAN)
  optimizers(G, D) -> (opt_g, opt_d)
  after_d_step(D)                               after each D update (WGAN's clipping)
  prepare(G, D)                                 change the nets before the optimisers are made
                                                (SNGAN's spectral normalisation)

Most methods only define losses. A method that changes *what the networks see* (e.g. a condition
code appended to G's noise and D's input, as `dyngan` and `scgan` do) overrides the hooks in the
"loop hooks" section of `Method`; their defaults are the plain loop, bit for bit. Hooks see one
model's own nets and tensors (no model axis):

  net_config() -> dict                          suite network settings the method asks for
  real_batch(data, B, rng) -> (real_for_D, idx) draw a real batch (and which rows it used)
  fake_batch(G, noise, rng) -> fake_for_D       generated batch as D sees it
  sample(G, noise, rng) -> samples              plain samples (snapshots, evaluation)
  disc_on(D, x) -> scores                       D's raw output on plain points (plots)
  observe(D, data, idx, done, rng)              after every generator step
  state_dict() / load_state_dict(state)         method state kept in checkpoints
  history() -> DataFrame | None                 written as partitions.csv at the end

Stacking (``bench run --batch-models K``): a method stacks when it keeps to the losses -- no
loop hook overridden, elementwise optimisers (Adam, RMSprop, SGD) -- and does not set
``unstackable`` to the reason it cannot. That is checked, not listed: a plugin written to this
interface stacks with no edit inside the package.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from typing import Any, ClassVar

import torch
from torch import nn

#: field metadata key: a parameter added after runs already exist marks itself with
#: ``field(default=..., metadata={OMIT_IF_DEFAULT: True})``; while it holds its default (which must
#: reproduce the old behaviour) it is left out of the run config, so existing run keys stay valid.
OMIT_IF_DEFAULT = "omit_if_default"


#: what a hyper-parameter of a conventional name may be, for every method (plugins included):
#: name -> (test, what is valid). One table, so "lr" means the same everywhere.
RULES: dict[str, tuple[Callable[[float], bool], str]] = {
    **dict.fromkeys(("lr", "lr_d", "lr_g", "clip"), (lambda v: v > 0, "a positive number")),
    **dict.fromkeys(("beta1", "beta2"), (lambda v: 0 <= v < 1, "in [0, 1)")),
    **dict.fromkeys(
        ("n_critic", "n_power_iterations"), (lambda v: v >= 1, "an integer of at least 1")
    ),
    **dict.fromkeys(
        ("gp_lambda", "lambda0", "decay_rate", "unroll_steps"), (lambda v: v >= 0, "at least 0")
    ),
    "t_max": (lambda v: 0 < v <= 1, "in (0, 1]"),
}


@dataclass(frozen=True)
class Params:
    """Hyper-parameters of a method. Subclasses add fields; every field lands in the run config
    (and so in the run key), except ``OMIT_IF_DEFAULT`` fields at their default.

    Validation: every number must be finite, and every field named in ``RULES`` must satisfy
    its rule; a subclass adds its own checks in ``__post_init__`` after calling ``super()``'s.
    A ``ValueError`` here reaches the user as one line (``bench run --set lr=-1``)."""

    def __post_init__(self) -> None:
        for f in fields(self):
            v = getattr(self, f.name)
            if isinstance(v, bool) or not isinstance(v, int | float):
                continue
            if not math.isfinite(v):
                raise ValueError(f"{f.name} must be a finite number, got {v}")
            rule = RULES.get(f.name)
            if rule is not None and not rule[0](v):
                raise ValueError(f"{f.name} must be {rule[1]}, got {v}")


def fold_rates(params: Params) -> None:
    """An optional ``lr_d`` / ``lr_g`` equal to ``lr`` is the same as unset: store None, so the
    run key of a method that gained the two rates stays what it was under every protocol that
    gives all three the same value."""
    for name in ("lr_d", "lr_g"):
        if getattr(params, name) == params.lr:
            object.__setattr__(params, name, None)


def given_over_defaults(defaults: Mapping[str, Any], given: Mapping[str, Any]) -> dict[str, Any]:
    """Parameters given on the command line (``--set``) over a protocol's defaults. A rate given
    for both nets (``lr``) also replaces the per-net rates (``lr_d``, ``lr_g``; ``own_rates``)
    the defaults set and the command line does not: otherwise ``--set lr=X`` would change the
    run key but neither net's rate under a protocol that sets both."""
    merged = {**defaults, **given}
    if "lr" in given:
        for own in ("lr_d", "lr_g"):
            if own not in given:
                merged.pop(own, None)
    return merged


def own_rates(params: Params) -> tuple[float, float]:
    """(G's, D's) learning rates: ``lr_g`` / ``lr_d`` where set, else ``lr``."""
    lr_g, lr_d = params.lr_g, params.lr_d
    return (params.lr if lr_g is None else lr_g), (params.lr if lr_d is None else lr_d)


def batch_mean(x: torch.Tensor) -> torch.Tensor:
    """E over the batch of per-sample values (D's scores, a penalty per sample): (B,) -> ()
    for one model, (K, B) -> (K,) stacked. One model's is a full mean, as a plain loop takes
    it (the backward of a mean over a dim adds an unsqueeze)."""
    return x.mean() if x.dim() == 1 else x.mean(-1)


class Draws:
    """Randomness a loss asks for, drawn from each model's own generator (model k's share from
    model k's) on the CPU and then moved, so the draws are the same on every device and a
    stacked model draws what its run alone would. One generator: one model, no model dim."""

    def __init__(self, rngs: list[torch.Generator], device: torch.device | str = "cpu"):
        self.rngs, self.device = rngs, device
        #: leading model dims of the tensors the losses see: 0 alone, 1 stacked
        self.model_dims = int(len(rngs) > 1)

    def uniform(self, shape: tuple[int, ...], dtype: torch.dtype = torch.float32) -> torch.Tensor:
        """U[0, 1) of ``shape`` per model: ``shape`` alone, (K, *shape) stacked."""
        if not self.model_dims:
            return torch.rand(shape, generator=self.rngs[0], dtype=dtype).to(self.device)
        draws = [torch.rand(shape, generator=r, dtype=dtype) for r in self.rngs]
        return torch.stack(draws).to(self.device)


class Method:
    name: ClassVar[str] = ""
    Params: ClassVar[type[Params]] = Params
    #: why this method cannot train stacked (``--batch-models``), or "" when it can
    unstackable: ClassVar[str] = ""
    #: critic (discriminator) updates per generator update (a ``n_critic`` parameter overrides)
    n_critic: int = 1
    #: samples packed into one discriminator input (PacGAN); the loop draws batch x pack samples
    pack: int = 1
    #: image suites: BatchNorm in D. A per-sample gradient penalty must set False (batch
    #: statistics couple the samples whose gradients it penalises, Gulrajani et al. Sec. 4)
    d_batchnorm: bool = True

    def __init__(self, params: Params, total_steps: int):
        self.params = params
        self.total_steps = total_steps
        self.n_critic = int(getattr(params, "n_critic", type(self).n_critic))

    def optimizers(
        self, generator: nn.Module, discriminator: nn.Module
    ) -> tuple[torch.optim.Optimizer, torch.optim.Optimizer]:
        raise NotImplementedError

    def d_loss(
        self, D: nn.Module, real: torch.Tensor, fake: torch.Tensor, step: int, draw: Draws
    ) -> torch.Tensor:
        """The loss the discriminator minimises: a scalar, (K,) stacked; ``fake`` is detached."""
        raise NotImplementedError

    def g_loss(
        self, D: nn.Module, real: torch.Tensor, fake: torch.Tensor, step: int, draw: Draws
    ) -> torch.Tensor:
        """The loss the generator minimises: a scalar, (K,) stacked."""
        raise NotImplementedError

    def after_d_step(self, D: nn.Module) -> None:
        """Hook after each discriminator update (WGAN's weight clipping); ``D`` holds all K
        models' parameters, so what it does must be elementwise."""

    def prepare(self, G: nn.Module, D: nn.Module) -> None:
        """Change the freshly built nets in place before the optimisers are made (and before a
        checkpoint is loaded into them), e.g. SNGAN's spectral-norm parametrization."""

    # -- loop hooks: the defaults reproduce the plain loop exactly ------------------------------
    def net_config(self) -> dict[str, int]:
        """Suite network settings this method asks for, passed to ``suite.build_nets``. Keys (all
        optional): ``hidden`` (width instead of the suite's), ``noise_dim`` (G's noise size; the
        loop then draws noise of that size), ``cond_dim`` (extra input width appended to G's
        noise and to D's sample for a condition code). Put them in ``Params`` so they are part of
        the run config. Default: {} (the suite's nets)."""
        return {}

    def real_batch(
        self, data: torch.Tensor, batch: int, rng: torch.Generator
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """A real batch as D sees it, and the training-set rows it was drawn from."""
        idx = torch.randint(len(data), (batch,), generator=rng)
        return data[idx], idx

    def fake_batch(self, G: nn.Module, noise: torch.Tensor, rng: torch.Generator) -> torch.Tensor:
        """A generated batch as D sees it (with gradient to G; the loop adds no_grad for D's
        step). ``noise`` is already drawn from ``rng``; draw anything else from ``rng`` after it."""
        return G(noise)

    def sample(self, G: nn.Module, noise: torch.Tensor, rng: torch.Generator) -> torch.Tensor:
        """Plain data-space samples for snapshots and evaluation. ``rng`` is a fixed stream of its
        own (re-seeded for every call), not the training stream."""
        return G(noise)

    def disc_on(self, D: nn.Module, x: torch.Tensor) -> torch.Tensor:
        """D's raw output on plain points ``x`` (the plots' contour grid); a packed D sees each
        point repeated ``pack`` times."""
        return D(x.repeat_interleave(self.pack, dim=0))

    def observe(
        self,
        D: nn.Module,
        data: torch.Tensor,
        idx: torch.Tensor,
        done: int,
        rng: torch.Generator,
    ) -> None:
        """Called after every generator step, before any checkpoint: ``idx`` are the training-set
        rows of all real batches of the step, ``done`` the generator steps completed so far."""

    def state_dict(self) -> dict[str, Any]:
        """Method state that must survive a resume (saved in every checkpoint)."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what ``state_dict`` returned."""

    def history(self) -> Any:
        """A ``pandas.DataFrame`` written next to curves.csv as partitions.csv, or None."""
        return None


def adam(module: nn.Module, lr: float, betas: tuple[float, float]) -> torch.optim.Adam:
    return torch.optim.Adam(module.parameters(), lr=lr, betas=betas)


def decayed(initial: float, rate: float, step: int, total_steps: int) -> float:
    """Exponential decay lambda_t = lambda_0 * exp(-rate * t / T), T the run's generator steps.

    The greed paper decays the relaxation weight exponentially but gives no constants;
    expressing the rate per training run keeps the exploration/exploitation split the same
    across presets.
    """
    return initial * math.exp(-rate * step / max(total_steps, 1))


def interpolates(
    real: torch.Tensor, fake: torch.Tensor, draw: Draws, t_max: float = 1.0
) -> torch.Tensor:
    """x_hat = (1 - t) x + t y, with t ~ U[0, t_max] drawn per sample (the greed paper Eq. 5), on
    (B, ...) batches, or (K, B, ...) stacked."""
    batch_dim = draw.model_dims
    shape = (real.shape[batch_dim],) + (1,) * (real.dim() - batch_dim - 1)
    t = draw.uniform(shape, dtype=real.dtype)
    t = t if t_max == 1.0 else t * t_max  # x * 1.0 is x: skip the multiply, same bits
    return (1 - t) * real + t * fake


#: the hooks whose defaults a stacked model runs for all K models at once
LOOP_HOOKS = (
    "prepare",
    "net_config",
    "real_batch",
    "fake_batch",
    "sample",
    "disc_on",
    "observe",
    "state_dict",
    "load_state_dict",
    "history",
)


def why_not_stackable(method: Method) -> str:
    """Why ``method`` cannot train stacked, or "" when it can: it declared a reason, or it
    overrides a loop hook (per-model state or inputs the stacked loop cannot vectorise)."""
    if method.unstackable:
        return method.unstackable
    own = [h for h in LOOP_HOOKS if getattr(type(method), h) is not getattr(Method, h)]
    if own:
        return f"it overrides the loop hook{'s' if len(own) > 1 else ''} {', '.join(own)}"
    return ""
