"""The diversity metrics of an image suite, on features an extractor already computed.

One function, so every image suite and every feature space (the digits classifier, Inception's
2048-d pool, DINOv2) uses the same settings, and a caption can state them.
"""

from __future__ import annotations

import numpy as np

from . import diversity as div

#: NDB bins: Richardson & Weiss use K = 100; fewer when the real set is small, so every bin
#: expects at least NDB_MIN_PER_BIN real samples and the z-test has counts to work with
NDB_BINS = 100
NDB_MIN_PER_BIN = 10


def ndb_bins(n_real: int) -> int:
    return max(2, min(NDB_BINS, n_real // NDB_MIN_PER_BIN))


def feature_diversity(generated: np.ndarray, real: np.ndarray, seed: int = 0) -> dict[str, float]:
    """density, coverage (Naeem et al., k = 5), Vendi (cosine kernel, no real data needed),
    NDB/K and its JS divergence (k-means bins on ``real``), from features of the two sets."""
    return {
        **div.density_coverage(real, generated),
        "vendi": div.vendi_score(generated, "cosine"),
        **div.ndb(real, generated, n_bins=ndb_bins(len(real)), seed=seed).as_dict(),
    }


CAPTION = (
    "density and coverage (Naeem et al.), k = 5; Vendi: cosine kernel on L2-normalised "
    "features (vendi-score's score_dual), over all generated samples; NDB/K and the JS "
    f"divergence (nats) of the bin histograms: min({NDB_BINS}, n_real / {NDB_MIN_PER_BIN}) "
    "k-means bins fitted on the real images' features, two-proportion z-test at 0.05"
)
