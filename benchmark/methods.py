"""Resolve a method name to its class and its fully specified parameters."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from ..baselines import REGISTRY, Method
from .errors import BenchError


def resolve_method(name: str) -> type[Method]:
    if name in REGISTRY:
        return REGISTRY[name]
    raise BenchError(f"unknown method {name!r}; valid methods: {', '.join(REGISTRY)}")


def method_params(name: str, suite_defaults: dict[str, Any] | None = None) -> dict[str, Any]:
    """The method's parameter dataclass filled with suite defaults, as plain values."""
    cls = resolve_method(name)
    try:
        params = cls.Params(**(suite_defaults or {}))
    except (TypeError, ValueError) as exc:
        raise BenchError(f"method {name}: bad parameters: {exc}") from None
    return asdict(params)


def build_method(name: str, params: dict[str, Any], total_steps: int) -> Method:
    cls = resolve_method(name)
    return cls(cls.Params(**params), total_steps)
