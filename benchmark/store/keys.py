"""The one rule of run-key compatibility.

A setting added after runs already existed stays out of the run key while it holds the value
that reproduces the old behaviour, so every earlier run keeps its key and is found again; at any
other value it is named, so different runs never share a key. Every place that builds a key
(suite parameters, method parameters, the run config) applies this rule and no other.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def omit_defaults(params: Mapping[str, Any], legacy: Mapping[str, Any]) -> dict[str, Any]:
    """``params`` without the entries that equal their ``legacy`` value (the value that
    reproduces what runs did before the setting existed)."""
    return {k: v for k, v in params.items() if not (k in legacy and v == legacy[k])}
