"""Suite definitions: the data exactly as the literature defines it, the networks, the budgets.

A suite owns its data, its networks, its evaluation and its presets, so a method file holds
losses only and one method runs unchanged on every suite. Every suite implements
``base.Suite``; this module is the one registry of them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..errors import BenchError
from .base import Suite
from .image_catalog import IMAGE_SUITES
from .toy import TOY_SUITES

SUITES: dict[str, Suite] = {**TOY_SUITES, **IMAGE_SUITES}


def get_suite(name: str) -> Suite:
    if name not in SUITES:
        raise BenchError(f"unknown suite {name!r}; valid suites: {', '.join(SUITES)}")
    return SUITES[name]


def suite_of(config: Mapping[str, Any]) -> Suite:
    """The suite a run's config.json describes (its protocol, image options)."""
    return get_suite(config["suite"]).resolve(config["suite_params"])


__all__ = ["SUITES", "Suite", "get_suite", "suite_of"]
