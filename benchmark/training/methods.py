"""Resolve a method name to its class and its fully specified parameters.

A method is a built-in registry name (``gan``), an import path ``package.module:Class`` (the
current directory is importable, as with uvicorn or gunicorn), or a name published by an
installed package under the ``collapsebench.methods`` entry-point group.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Sequence
from dataclasses import asdict, fields, is_dataclass
from importlib.metadata import entry_points
from typing import Any

from ...baselines import REGISTRY, Method
from ...baselines.base import OMIT_IF_DEFAULT
from ..errors import BenchError
from ..store.keys import omit_defaults

ENTRY_POINT_GROUP = "collapsebench.methods"
REQUIRED = ("optimizers", "d_loss", "g_loss")


def _entry_points() -> dict[str, Any]:
    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


def available_methods() -> list[str]:
    return list(REGISTRY) + [n for n in _entry_points() if n not in REGISTRY]


def _import_path(name: str) -> Any:
    module_name, _, attr = name.partition(":")
    if not module_name or not attr:
        raise BenchError(f"bad method path {name!r}: write it as package.module:ClassName")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise BenchError(f"method {name}: cannot import module {module_name!r} ({exc})") from None
    except Exception as exc:  # the plugin's own code failed while importing: name it, one line
        raise BenchError(
            f"method {name}: importing module {module_name!r} raised "
            f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}".rstrip(": ")
        ) from None
    try:
        return getattr(module, attr)
    except AttributeError:
        raise BenchError(f"method {name}: module {module_name!r} has no {attr!r}") from None


def check_interface(name: str, cls: Any) -> type[Method]:
    """A plugin must look like a built-in baseline; say exactly what is missing if not."""
    if not isinstance(cls, type):
        raise BenchError(f"method {name}: {cls!r} is not a class")
    base_impl = {k: getattr(Method, k) for k in REQUIRED}
    missing = [k for k in REQUIRED if getattr(cls, k, None) in (None, base_impl[k])]
    if missing:
        raise BenchError(
            f"method {name}: does not implement {', '.join(missing)} (see baselines/base.py)"
        )
    params = getattr(cls, "Params", None)
    if not (isinstance(params, type) and is_dataclass(params)):
        raise BenchError(f"method {name}: Params must be a dataclass of hyper-parameters")
    return cls


def resolve_method(name: str) -> type[Method]:
    if name in REGISTRY:
        return REGISTRY[name]
    if ":" in name:
        return check_interface(name, _import_path(name))
    eps = _entry_points()
    if name in eps:
        try:
            cls = eps[name].load()
        except Exception as exc:  # a broken third-party package can raise anything on import
            raise BenchError(f"method {name}: entry point failed to load ({exc})") from None
        return check_interface(name, cls)
    raise BenchError(
        f"unknown method {name!r}; valid methods: {', '.join(available_methods())}, "
        "or package.module:Class"
    )


def method_params(name: str, suite_defaults: dict[str, Any] | None = None) -> dict[str, Any]:
    """The method's parameter dataclass filled with suite defaults, as plain values."""
    cls = resolve_method(name)
    known = {f.name for f in fields(cls.Params)}
    try:
        params = cls.Params(**{k: v for k, v in (suite_defaults or {}).items() if k in known})
    except (TypeError, ValueError) as exc:
        raise BenchError(f"method {name}: bad parameters: {exc}") from None
    legacy = {f.name: f.default for f in fields(params) if f.metadata.get(OMIT_IF_DEFAULT)}
    return omit_defaults(asdict(params), legacy)


def build_method(name: str, params: dict[str, Any], total_steps: int) -> Method:
    cls = resolve_method(name)
    return cls(cls.Params(**params), total_steps)


def checked_loss(
    method_name: str, what: str, loss: Any, shape: tuple[int, ...], first_step: bool
) -> Any:
    """Contract check on a loss: one value per model -- a scalar, ``shape`` () for one model,
    (K,) for K stacked -- and finite on the first step (a NaN later is a diverged run, recorded
    as such, not an interface violation)."""
    import torch

    if not isinstance(loss, torch.Tensor) or loss.shape != shape:
        got = tuple(loss.shape) if isinstance(loss, torch.Tensor) else type(loss).__name__
        want = "a scalar (one model)" if shape == () else f"shape {shape} ({shape[0]} stacked)"
        raise BenchError(
            f"method {method_name}: {what} must return one value per model, {want}, got "
            f"{got} (reduce the batch with baselines.base.batch_mean)"
        )
    if first_step and not torch.isfinite(loss).all():
        raise BenchError(f"method {method_name}: {what} returned a non-finite value on step 1")
    return loss


def _coerce(method: str, name: str, default: Any, text: str) -> Any:
    """``text`` as the type of the parameter's default (the Params dataclasses are the schema)."""
    kind = float if default is None else type(default)  # None: an optional rate
    if kind in (int, float) and not text.isascii():  # int("٣") is 3: digits mean ASCII digits
        raise BenchError(f"--set {method}.{name}={text}: write the number with ASCII digits")
    try:
        if kind is bool:
            low = text.lower()
            if low not in ("true", "false", "1", "0", "yes", "no"):
                raise ValueError
            return low in ("true", "1", "yes")
        if kind in (int, float, str):
            return kind(text)
    except ValueError:
        raise BenchError(
            f"--set {method}.{name}={text}: {name} takes a {kind.__name__} value"
        ) from None
    raise BenchError(f"--set {name}: {kind.__name__} parameters cannot be set from the CLI")


def parse_method_options(
    tokens: Sequence[str] | None, methods: Sequence[str]
) -> dict[str, dict[str, Any]]:
    """``--set [METHOD.]NAME=VALUE`` items -> {method: {name: value}}.

    Without ``METHOD.`` a setting applies to every listed method that has the parameter (so
    ``--set optimizer=adam`` reaches both wgan and greed-wgan); a name no listed method has is
    an error naming the valid ones. Values take the type of the parameter's default."""
    out: dict[str, dict[str, Any]] = {}
    for tok in tokens or ():
        lhs, sep, text = tok.partition("=")
        if not sep or not lhs or not text:
            raise BenchError(f"bad --set {tok!r}: write NAME=VALUE or METHOD.NAME=VALUE")
        target, dot, name = lhs.rpartition(".")
        if dot and target not in methods:
            raise BenchError(
                f"--set {tok}: method {target!r} is not among the methods run "
                f"({', '.join(methods)})"
            )
        targets = [target] if dot else list(methods)
        hit = False
        for m in targets:
            defaults = {f.name: f.default for f in fields(resolve_method(m).Params)}
            if name in defaults:
                out.setdefault(m, {})[name] = _coerce(m, name, defaults[name], text)
                hit = True
        if not hit:
            valid = sorted({f.name for m in targets for f in fields(resolve_method(m).Params)})
            raise BenchError(
                f"--set {tok}: no parameter {name!r} in {', '.join(targets)}; "
                f"valid: {', '.join(valid)}"
            )
    return out
