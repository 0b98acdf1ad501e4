"""Fault injection through the public extension points: a provider config whose adapter
(a subclass of the public `AlumioAdapter`/`CakewalkAdapter`) fails as a test asks.

No private attribute is patched: the bridge is built with these configs, exactly as a
plug-in's would be.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs

from taskbridge import AlumioConfig, CakewalkConfig, UnifiedTask
from taskbridge.providers import Request
from taskbridge.providers.alumio import AlumioAdapter
from taskbridge.providers.cakewalk import CakewalkAdapter

# (task_id) -> an exception to raise, or None to behave normally.
Fault = Callable[[str], "BaseException | None"]


def _never(_: str) -> BaseException | None:
    return None


class EngineBug(BaseException):
    """Escapes every ``except Exception``: what a bug in the engine itself would raise."""


class _Faults:
    on_request: Fault = staticmethod(_never)
    on_decode: Fault = staticmethod(_never)
    decoded: Callable[[UnifiedTask[Any]], Any] | None = None

    def request(self, task_id: str) -> Request:
        exc = self.on_request(task_id)
        if exc is not None:
            raise exc
        return super().request(task_id)  # type: ignore[misc, no-any-return]

    def decode_task(self, body: bytes, task_id: str) -> Any:
        exc = self.on_decode(task_id)
        if exc is not None:
            raise exc
        task = super().decode_task(body, task_id)  # type: ignore[misc]
        return task if self.decoded is None else self.decoded(task)


def faulty_alumio(
    base: AlumioConfig,
    *,
    on_request: Fault = _never,
    on_decode: Fault = _never,
    decoded: Callable[[UnifiedTask[Any]], Any] | None = None,
) -> AlumioConfig:
    """``base`` whose adapter raises ``on_request(id)``/``on_decode(id)`` when not None,
    and whose decoded tasks pass through ``decoded``."""
    adapter_cls = type(
        "FaultyAlumioAdapter",
        (_Faults, AlumioAdapter),
        {
            "__slots__": (),
            "on_request": staticmethod(on_request),
            "on_decode": staticmethod(on_decode),
            "decoded": staticmethod(decoded) if decoded else None,
        },
    )

    @attrs.frozen
    class FaultyAlumioConfig(AlumioConfig):
        def adapter(self) -> AlumioAdapter:
            return adapter_cls(self)  # type: ignore[no-any-return]

    return FaultyAlumioConfig(**attrs.asdict(base, recurse=False))


def faulty_cakewalk(base: CakewalkConfig, *, on_request: Fault = _never) -> CakewalkConfig:
    """``base`` whose adapter raises ``on_request(id)`` when not None."""
    adapter_cls = type(
        "FaultyCakewalkAdapter",
        (_Faults, CakewalkAdapter),
        {"__slots__": (), "on_request": staticmethod(on_request)},
    )

    @attrs.frozen
    class FaultyCakewalkConfig(CakewalkConfig):
        def adapter(self) -> CakewalkAdapter:
            return adapter_cls(self)  # type: ignore[no-any-return]

    return FaultyCakewalkConfig(**attrs.asdict(base, recurse=False))
