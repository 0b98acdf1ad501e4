"""The emulators the sandbox serves: one per registered provider whose spec names one.

The sandbox core (faults, rate limit, scripts, lifecycle, stats, server) knows no
provider by name: it serves every registered provider whose `ProviderSpec` names an
emulator (``"module:attribute"``, a class or factory called with no arguments, that
follows `taskbridge.sandbox.Emulator`; `taskbridge.sandbox.EmulatorBase` gives most of
it). The emulators import the provider kit, never the sandbox.
"""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Iterator, Mapping

from taskbridge.providers import registered
from taskbridge.providers._kit.emulation import Emulator

__all__ = ["STAGES", "load_emulators"]

Stages = tuple[str, str, tuple[str, str]]


def _load(where: str) -> Emulator:
    module, _, attribute = where.partition(":")
    factory = getattr(importlib.import_module(module), attribute)
    emulator: Emulator = factory()
    return emulator


def load_emulators() -> dict[str, Emulator]:
    """The emulator of every registered provider that has one, by name, built-ins first.

    A plug-in's emulator that fails to load is left out with a `RuntimeWarning`.
    """
    found: dict[str, Emulator] = {}
    for name, spec in registered().items():
        if spec.emulator is None:
            continue
        try:
            found[name] = _load(spec.emulator)
        except Exception as exc:  # a broken plug-in must not break the sandbox
            warnings.warn(
                f"the sandbox emulator of provider {name!r} ({spec.emulator}) failed to "
                f"load and is left out: {type(exc).__name__}: {exc}",
                RuntimeWarning,
                stacklevel=2,
            )
    return found


class _Stages(Mapping[str, Stages]):
    """``(first, second, (success, failure))`` per provider, from each one's emulator."""

    def _all(self) -> dict[str, Stages]:
        return {name: e.stages for name, e in load_emulators().items()}

    def __getitem__(self, provider: str) -> Stages:
        return self._all()[provider]

    def __iter__(self) -> Iterator[str]:
        return iter(self._all())

    def __len__(self) -> int:
        return len(self._all())


STAGES: Mapping[str, Stages] = _Stages()
