"""The independent Wasserstein critic over training (the greed paper Eq. 10, Fig. 4).

One WGAN-GP critic per real image set (per class for per-class suites), the suite's DCGAN
discriminator without BatchNorm, is trained once on 80 % of the real images against samples of
the suite's untrained generator (seed 0), and frozen. Every saved generator snapshot of every
run (``generators/step<k>.pt`` in the run store) is then scored on the held-out 20 %:
W = E f(x_heldout) - E f(G(z)). One critic scores every method, so the curves share one scale;
a rising curve late in training is the greed paper's sign of collapse.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import torch
from tqdm.auto import tqdm

from ...metrics.critic import critic_distance, train_critic
from ..errors import BenchError
from ..store.rundir import RunDir
from ..store.runstore import spec_from_config
from ..suites import get_suite
from ..suites.image_nets import ImageDiscriminator, init_weights
from ..training.methods import build_method

HELDOUT_FRACTION = 0.2


def _generate(G, n: int, noise_dim: int, seed: int, suite) -> torch.Tensor:
    G.eval()
    with torch.no_grad():
        z = torch.randn(n, noise_dim, generator=torch.Generator().manual_seed(seed))
        return torch.as_tensor(suite.to_stored(G(z)))


def fixed_critic(suite, cls, data_root, steps: int, seed: int = 0):
    """(frozen critic, held-out real uint8 images) for one real image set."""
    real = suite.real_images(cls, data_root)
    perm = torch.randperm(len(real), generator=torch.Generator().manual_seed(seed))
    n_held = max(2, int(round(HELDOUT_FRACTION * len(real))))
    held, train = real[perm[:n_held]], real[perm[n_held:]]
    G0, _ = suite.build_nets(seed)
    ref = _generate(G0, len(train), suite.noise_dim, seed + 1, suite)
    f = train_critic(
        train,
        ref,
        critic_factory=lambda shape, gen: _suite_critic(suite, gen),
        steps=steps,
        batch_size=min(64, len(train)),
        seed=seed,
    )
    return f, held


def _suite_critic(suite, gen: torch.Generator) -> torch.nn.Module:
    """The suite's own DCGAN discriminator without BatchNorm (a gradient-penalty critic): the
    same capacity the methods' discriminators have, at the suite's width."""
    D = ImageDiscriminator("dcgan", suite.image_size, suite.channels, suite.width, False)
    init_weights(D, gen)
    return D


def critic_curve(
    df: pd.DataFrame,
    suite_name: str,
    data_root=None,
    critic_steps: int = 500,
    n_fake: int = 500,
    progress: bool = True,
) -> pd.DataFrame:
    """W of every generator snapshot of the runs in ``df`` (a ``tables.per_seed`` frame).
    Returns rows (method, class, seed, step, w)."""
    if df.empty:
        raise BenchError("no finished runs of this configuration; run `bench run` first")
    rows = []
    classes = list(dict.fromkeys(df["class"])) if "class" in df else [None]
    for cls in tqdm(classes, desc="critics", disable=not progress):
        sub = df if cls is None else df[df["class"] == cls]
        run0 = RunDir(Path(sub["run_dir"].iloc[0]))
        suite = get_suite(suite_name).resolve(run0.read_config()["suite_params"])
        f, held = fixed_critic(suite, cls, data_root, critic_steps)
        for r in sub.itertuples():
            run = RunDir(Path(r.run_dir))
            spec = spec_from_config(run.read_config(), run.path)
            method = build_method(spec.method, spec.method_params, spec.train.steps)
            nz = method.net_config().get("noise_dim", suite.noise_dim)
            G, _ = suite.build_nets(spec.seed, pack=method.pack, noise_dim=nz)
            steps = run.generator_steps()
            if not steps:
                raise BenchError(
                    f"run {run.path} has no generator snapshots (a `bench export` copy without "
                    "--weights, or a run made before they were kept); give the store that "
                    "trained it, or rerun it into a fresh --out"
                )
            for step in steps:
                G.load_state_dict(run.load_generator(step))
                fake = _generate(G, n_fake, nz, 10_000 + spec.seed, suite)
                w = critic_distance(f, held, fake).value
                row = {"method": spec.method, "seed": spec.seed, "step": step, "w": w}
                rows.append(row if cls is None else {**row, "class": cls})
    return pd.DataFrame(rows)
