"""How biased is a classifier-counted mode count? Count modes on *real* stacks whose number of
distinct digit triples is known.

Stacked suites count a mode for every predicted triple (PacGAN / VEEGAN: any sample counts), so
each channel the classifier gets wrong can add a mode that is not there: real stacks holding 37
distinct triples count far more than 37. A calibration row applies a counting rule to real
stacks built from exactly K triples and shows the bias beside K; the calibrated rule (an
augmented classifier, ``digits-cnn-aug``, and at least ``CALIBRATED_MIN_COUNT`` samples per
counted mode) is chosen so that K = 37 counts 37 to 44 while K = 1,000 still counts ~1,000
at the suite's evaluation size.

The stacks: K triples drawn without replacement from the 1,000; each sample picks one of them
uniformly and fills each channel with a random real image of that digit (all from a seeded
``torch.Generator``), so the true number of modes is exactly K (with n >> K, every triple
appears).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import torch

from ...metrics import digits_classifier
from ...metrics.stacked_modes import stacked_modes

CALIBRATED_MIN_COUNT = 10
CALIBRATED_COUNTER = digits_classifier.COUNTING_NAME
#: (counter, min_count) of each rule the calibration rows show
RULES = {
    "published (any sample, digits-cnn)": (digits_classifier.EXTRACTOR_NAME, 1),
    f"calibrated (>= {CALIBRATED_MIN_COUNT} samples, {CALIBRATED_COUNTER})": (
        CALIBRATED_COUNTER,
        CALIBRATED_MIN_COUNT,
    ),
}


def real_stacks(
    images: torch.Tensor, labels: torch.Tensor, k: int, n: int, seed: int = 0
) -> tuple[torch.Tensor, np.ndarray]:
    """``n`` real uint8 stacks (n, 3, H, W) over exactly ``k`` distinct triples, and the triple
    id (100 r + 10 g + b) of each stack."""
    gen = torch.Generator().manual_seed(seed)
    triples = torch.randperm(1000, generator=gen)[:k]
    ids = triples[torch.randint(k, (n,), generator=gen)]
    digits = torch.stack([ids // 100, ids // 10 % 10, ids % 10], 1)
    by_digit = [torch.nonzero(labels == d).flatten() for d in range(10)]
    channels = []
    for c in range(3):
        pick = torch.empty(n, dtype=torch.long)
        for d in range(10):
            rows = digits[:, c] == d
            pool = by_digit[d]
            pick[rows] = pool[torch.randint(len(pool), (int(rows.sum()),), generator=gen)]
        channels.append(images[pick, 0])
    return torch.stack(channels, 1), ids.numpy()


def count_modes(stacks: torch.Tensor, counter: str, min_count: int, cache) -> int:
    """Modes covered by ``stacks`` under one counting rule."""
    clf = digits_classifier.load_or_train(cache, name=counter)
    pred = np.stack(
        [digits_classifier.predict(stacks[:, c : c + 1], clf.model) for c in range(3)], 1
    )
    return int(stacked_modes(pred, "e", min_count)["modes_covered"])


def calibration_table(
    images: torch.Tensor,
    labels: torch.Tensor,
    n: int,
    cache,
    ks: Sequence[int] = (37, 100, 1000),
    seed: int = 0,
) -> pd.DataFrame:
    """One row per K: the true number of modes and what each rule counts on ``n`` stacks."""
    rows = []
    for k in ks:
        stacks, ids = real_stacks(images, labels, k, n, seed)
        row = {"real stacks": f"{k} distinct triples", "true modes": len(np.unique(ids))}
        for rule, (counter, min_count) in RULES.items():
            row[rule] = count_modes(stacks, counter, min_count, cache)
        rows.append(row)
    return pd.DataFrame(rows)
