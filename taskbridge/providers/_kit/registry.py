"""The registered providers: the two built in, then the ``taskbridge.providers`` plug-ins.

A plug-in is a distribution that declares, in its ``pyproject.toml``::

    [project.entry-points."taskbridge.providers"]
    jiralike = "jiralike:SPEC"

where ``SPEC`` is a `ProviderSpec` whose ``name`` is the entry point's name. Plug-ins
load lazily, one name at a time: `get_spec` imports only the plug-in it is asked for
(the built-ins never import one), `available` lists every name from the installed
metadata without importing anything, and `registered` (every spec) loads them all.

A plug-in that fails to load is left out with a `RuntimeWarning` that says why, and
never breaks taskbridge, whatever it raises: an `Exception`, ``SystemExit`` (taskbridge
does not exit), a ``KeyboardInterrupt`` its own code raises. Only a signal that arrives
while it loads (a real Ctrl-C, a ``SIGTERM`` handler's exit) goes on to the caller:
that is the user stopping the program, not the plug-in failing. Likewise a spec that is
not a `ProviderSpec`, whose name is not its entry point's, or that reuses a name.
"""

from __future__ import annotations

import contextlib
import importlib
import signal
import threading
import warnings
from collections.abc import Iterator, Mapping
from types import FrameType, MappingProxyType
from typing import TYPE_CHECKING, Any

from ..._base.errors import ConfigurationError
from .base import ProviderSpec

if TYPE_CHECKING:
    from importlib.metadata import EntryPoint

__all__ = ["ENTRY_POINT_GROUP", "available", "find", "get_spec", "names", "registered", "reload"]

ENTRY_POINT_GROUP = "taskbridge.providers"

# The built-in providers load the way plug-ins do, by name: nothing below a provider's
# folder imports it (`UnifiedTask.from_dict` reaches a provider's converter through here).
BUILTINS = {
    "cakewalk": "taskbridge.providers.cakewalk:SPEC",
    "alumio": "taskbridge.providers.alumio:SPEC",
}

# Each name looked up so far: its spec, or None when it is left out (warned once).
_loaded: dict[str, ProviderSpec | None] = {}
_everything: Mapping[str, ProviderSpec] | None = None

# The signals whose arrival during a plug-in's load is the user's, not the plug-in's.
_SIGNALS = tuple(getattr(signal, n) for n in ("SIGINT", "SIGTERM") if hasattr(signal, n))


def _points(name: str | None = None) -> list[EntryPoint]:
    # Read the installed metadata on first need: importing the metadata reader costs
    # more than the rest of the registry, and a bridge of built-in providers never asks.
    from importlib.metadata import entry_points

    points = entry_points(group=ENTRY_POINT_GROUP)
    return [p for p in points if name is None or p.name == name]


def available() -> tuple[str, ...]:
    """Every provider name, built-ins first, read from the installed metadata: no
    plug-in is imported (a name may still fail to load; `registered` says which)."""
    found = dict.fromkeys(BUILTINS)
    for point in _points():
        found.setdefault(point.name, None)
    return tuple(found)


@contextlib.contextmanager
def _signals_seen() -> Iterator[list[int]]:
    """Note the signals whose Python handlers run meanwhile (main thread only: no other
    thread ever runs a handler, so there a KeyboardInterrupt is always raised by code)."""
    seen: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield seen
        return
    previous: dict[int, Any] = {}
    for number in _SIGNALS:
        handler = signal.getsignal(number)
        if not callable(handler):
            continue  # SIG_DFL/SIG_IGN: no Python handler to note

        def noting(signum: int, frame: FrameType | None, _handler: Any = handler) -> Any:
            seen.append(signum)
            return _handler(signum, frame)

        previous[number] = handler
        signal.signal(number, noting)
    try:
        yield seen
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def _warn(where: str, why: str) -> None:
    warnings.warn(f"{where} {why}", RuntimeWarning, stacklevel=4)


def _load_plugin(point: EntryPoint, taken: Mapping[str, object]) -> ProviderSpec | None:
    where = f"taskbridge provider plug-in {point.name!r} ({point.value})"
    with _signals_seen() as seen:
        try:
            spec = point.load()
        except BaseException as exc:  # whatever a plug-in raises, it must not stop us
            if seen:
                raise  # a signal arrived (Ctrl-C): the user's, not the plug-in's
            _warn(where, f"failed to load and is left out: {type(exc).__name__}: {exc}")
            return None
    if not isinstance(spec, ProviderSpec):
        _warn(where, f"is left out: it is a {type(spec).__name__}, not a ProviderSpec")
        return None
    if spec.name in taken or spec.name in BUILTINS:
        _warn(where, f"is left out: the provider name {spec.name!r} is already registered")
        return None
    if spec.name != point.name:
        _warn(where, f"is left out: its spec is named {spec.name!r}, not {point.name!r}")
        return None
    return spec


def _find(name: str) -> ProviderSpec | None:
    """The spec of ``name``, loading only what that name needs; ``None``: left out."""
    if name in _loaded:
        return _loaded[name]
    spec: ProviderSpec | None = None
    if name in BUILTINS:
        module, _, attribute = BUILTINS[name].partition(":")
        spec = getattr(importlib.import_module(module), attribute)
        assert isinstance(spec, ProviderSpec)
        assert spec.name == name
    else:
        points = _points(name)
        if points:
            spec = _load_plugin(points[0], {n: s for n, s in _loaded.items() if s})
        for other in points[1:]:
            _warn(
                f"taskbridge provider plug-in {name!r} ({other.value})",
                "is left out: another plug-in registers that name first",
            )
    _loaded[name] = spec
    return spec


def registered() -> Mapping[str, ProviderSpec]:
    """Every registered provider by name, built-ins first: loads every plug-in."""
    global _everything  # noqa: PLW0603  # loaded once, on first use
    if _everything is None:
        for point in _points():
            if point.name in BUILTINS:
                _warn(
                    f"taskbridge provider plug-in {point.name!r} ({point.value})",
                    "is left out: the provider name is a built-in one",
                )
        found = {name: _find(name) for name in available()}
        _everything = MappingProxyType({n: s for n, s in found.items() if s is not None})
    return _everything


def reload() -> Mapping[str, ProviderSpec]:
    """Look the plug-ins up again (after installing one in a running process)."""
    global _everything  # noqa: PLW0603
    _everything = None
    _loaded.clear()
    return registered()


def names() -> tuple[str, ...]:
    """The registered provider names, built-ins first (loads every plug-in; `available`
    lists them without loading)."""
    return tuple(registered())


def find(name: str) -> ProviderSpec | None:
    """The spec of provider ``name``, or ``None``; loads at most that one plug-in."""
    return _find(name) if name in BUILTINS or name in available() else None


def get_spec(name: str) -> ProviderSpec:
    """The spec of provider ``name``, loading at most that one plug-in;
    `ConfigurationError` listing the names if unknown."""
    spec = find(name) if isinstance(name, str) else None
    if spec is None:
        known = [n for n in available() if _loaded.get(n, True) is not None]
        raise ConfigurationError(f"unknown provider {name!r} (registered: {', '.join(known)})")
    return spec
