"""Command-line values parsed at the boundary: seeds and seed ranges, positive numbers. A bad
value is one line naming what is valid (``BenchError`` or argparse's one-line error)."""

from __future__ import annotations

import argparse
import math
from collections.abc import Sequence

from ..errors import BenchError

#: seeds seed ``torch.Generator.manual_seed`` and numpy's SeedSequence: 63-bit non-negative
MAX_SEED = 2**63 - 1


#: more runs than one command may plan (a typo like 0-99999999999 must not allocate them)
MAX_SEEDS = 10_000


def parse_seeds(tokens: Sequence[str]) -> list[int]:
    """Seeds as non-negative integers or inclusive ranges: ``0 1 2`` or ``0-9``."""
    seeds: list[int] = []
    valid = f"seeds are integers 0..{MAX_SEED} (e.g. 0 1 2) or ranges like 0-9"
    for tok in tokens:
        parts = tok.split("-")
        try:
            if len(parts) == 1:
                lo = hi = _seed(parts[0])
            elif len(parts) == 2 and parts[0] and parts[1]:
                lo, hi = _seed(parts[0]), _seed(parts[1])
                if hi < lo:
                    raise ValueError
            else:
                raise ValueError
        except ValueError:
            raise BenchError(f"bad seed {tok!r}: {valid}") from None
        if len(seeds) + hi - lo + 1 > MAX_SEEDS:
            raise BenchError(f"too many seeds ({tok!r}): at most {MAX_SEEDS} per command")
        seeds.extend(range(lo, hi + 1))
    if len(set(seeds)) != len(seeds):
        raise BenchError(f"seeds repeat: {tokens}; give each seed once")
    return seeds


def _seed(text: str) -> int:
    if (
        not (text.isascii() and text.isdigit()) or len(text) > 19 or int(text) > MAX_SEED
    ):  # digits only: no sign
        raise ValueError(text)
    return int(text)


def positive_int(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text!r}") from None
    if v < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {v}")
    return v


def positive_float(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text!r}") from None
    if not (math.isfinite(v) and v > 0):
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
    return v
