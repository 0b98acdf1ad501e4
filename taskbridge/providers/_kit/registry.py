"""The registered providers: the two built in, then the ``taskbridge.providers`` plug-ins.

A plug-in is a distribution that declares, in its ``pyproject.toml``::

    [project.entry-points."taskbridge.providers"]
    jiralike = "jiralike:SPEC"

where ``SPEC`` is a `ProviderSpec`. Plug-ins are loaded on first use, not when taskbridge
is imported; one that fails to load (or is not a `ProviderSpec`, or reuses a name) is
left out with a `RuntimeWarning` that says why, and never breaks taskbridge.
"""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Mapping
from importlib.metadata import entry_points
from types import MappingProxyType

from ..._base.errors import ConfigurationError
from .base import ProviderSpec

__all__ = ["ENTRY_POINT_GROUP", "get_spec", "names", "registered", "reload"]

ENTRY_POINT_GROUP = "taskbridge.providers"

_specs: Mapping[str, ProviderSpec] | None = None


# The built-in providers load the way plug-ins do, by name: nothing below a provider's
# folder imports it (`UnifiedTask.from_dict` reaches a provider's converter through here).
BUILTINS = ("taskbridge.providers.cakewalk:SPEC", "taskbridge.providers.alumio:SPEC")


def _load(where: str) -> object:
    module, _, attribute = where.partition(":")
    return getattr(importlib.import_module(module), attribute)


def _builtins() -> list[ProviderSpec]:
    specs = [_load(where) for where in BUILTINS]
    assert all(isinstance(spec, ProviderSpec) for spec in specs)
    return specs  # type: ignore[return-value]


def _plugins(taken: set[str]) -> list[ProviderSpec]:
    found: list[ProviderSpec] = []
    for point in entry_points(group=ENTRY_POINT_GROUP):
        where = f"taskbridge provider plug-in {point.name!r} ({point.value})"
        try:
            spec = point.load()
        except Exception as exc:  # a broken plug-in must not break taskbridge
            warnings.warn(
                f"{where} failed to load and is left out: {type(exc).__name__}: {exc}",
                RuntimeWarning,
                stacklevel=3,
            )
            continue
        if not isinstance(spec, ProviderSpec):
            warnings.warn(
                f"{where} is left out: it is a {type(spec).__name__}, not a ProviderSpec",
                RuntimeWarning,
                stacklevel=3,
            )
            continue
        if spec.name in taken:
            warnings.warn(
                f"{where} is left out: the provider name {spec.name!r} is already registered",
                RuntimeWarning,
                stacklevel=3,
            )
            continue
        taken.add(spec.name)
        found.append(spec)
    return found


def registered() -> Mapping[str, ProviderSpec]:
    """Every registered provider by name: the built-ins first, then plug-ins."""
    global _specs  # noqa: PLW0603  # loaded once, on first use
    if _specs is None:
        specs = _builtins()
        specs += _plugins({spec.name for spec in specs})
        _specs = MappingProxyType({spec.name: spec for spec in specs})
    return _specs


def reload() -> Mapping[str, ProviderSpec]:
    """Look the plug-ins up again (after installing one in a running process)."""
    global _specs  # noqa: PLW0603
    _specs = None
    return registered()


def names() -> tuple[str, ...]:
    """The registered provider names, built-ins first."""
    return tuple(registered())


def get_spec(name: str) -> ProviderSpec:
    """The spec of provider ``name``; `ConfigurationError` listing the names if unknown."""
    spec = registered().get(name)
    if spec is None:
        raise ConfigurationError(f"unknown provider {name!r} (registered: {', '.join(names())})")
    return spec
