"""`TaskBridge.with_options`: a view with its own per-call settings over shared state."""

from __future__ import annotations

import math
from typing import Any

import aiohttp
import attrs

from ._bridge import TaskBridge, register_view_factory
from ._config import RetryPolicy
from ._engine import Caller
from ._errors import ConfigurationError

__all__ = ["BridgeView", "make_view"]


def check_timeout(timeout: object) -> float:
    """Return ``timeout`` as a float, or raise `ConfigurationError`."""
    if (
        isinstance(timeout, bool)
        or not isinstance(timeout, (int, float))
        or not math.isfinite(timeout)
        or timeout <= 0
    ):
        raise ConfigurationError("timeout must be a number of seconds > 0")
    return float(timeout)


class BridgeView(TaskBridge):
    """A `TaskBridge` made by `TaskBridge.with_options`: its own timeout, retry policy and
    body limit over the bridge's engine (session, limits, pauses, statistics and
    in-flight de-duplication).

    Closing a view only stops that view; the session belongs to the bridge it came from.
    """

    _root: TaskBridge

    def __repr__(self) -> str:
        total = self._call.settings.timeout.total
        return f"<TaskBridge view of {self._root!r} timeout={total:g}s>"

    async def aclose(self) -> None:
        """Refuse later calls through this view; the bridge and its session stay open."""
        self._call.close()


def make_view(
    bridge: TaskBridge,
    caller: Caller,
    *,
    timeout: float | None,
    retry: RetryPolicy | None,
    max_response_bytes: int | None,
) -> TaskBridge:
    """Build a `BridgeView` sharing ``bridge``'s engine, with new settings."""
    root: TaskBridge = getattr(bridge, "_root", bridge)
    if retry is not None and not isinstance(retry, RetryPolicy):
        raise ConfigurationError("retry must be a RetryPolicy or None")
    if max_response_bytes is not None and (
        isinstance(max_response_bytes, bool)
        or not isinstance(max_response_bytes, int)
        or max_response_bytes < 1
    ):
        raise ConfigurationError("max_response_bytes must be an integer >= 1")
    changes: dict[str, Any] = {}
    if timeout is not None:
        changes["timeout"] = aiohttp.ClientTimeout(total=check_timeout(timeout))
    if retry is not None:
        changes["retry"] = retry
    if max_response_bytes is not None:
        changes["max_bytes"] = max_response_bytes
    view = object.__new__(BridgeView)
    # The engine, the polling scheduler and the limiter are the bridge's own objects.
    vars(view).update(vars(bridge))
    view._root = root
    view._call = Caller(caller.engine, attrs.evolve(caller.settings, **changes))
    return view


register_view_factory(make_view)
