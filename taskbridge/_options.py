"""`TaskBridge.with_options`: a view with its own per-call settings over shared state."""

from __future__ import annotations

import asyncio
import math
from typing import Any

import aiohttp

from ._bridge import TaskBridge
from ._config import RetryPolicy
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
    body limit over the bridge's session, limits, pauses, statistics and in-flight
    de-duplication.

    Closing a view only stops that view; the session belongs to the bridge it came from.
    """

    _root: TaskBridge
    _view_closed: bool

    @property
    def _session(self) -> aiohttp.ClientSession | None:
        return self._root._session

    @_session.setter
    def _session(self, session: aiohttp.ClientSession | None) -> None:
        self._root._session = session

    @property
    def _closed(self) -> bool:
        return self._view_closed or self._root._closed

    @_closed.setter
    def _closed(self, closed: bool) -> None:
        self._view_closed = closed

    @property
    def _loop(self) -> asyncio.AbstractEventLoop | None:
        # The event loop is the root's: its session and futures belong to it.
        return self._root._loop

    @_loop.setter
    def _loop(self, loop: asyncio.AbstractEventLoop | None) -> None:
        self._root._loop = loop

    @property
    def _owns_session(self) -> bool:
        return False

    @_owns_session.setter
    def _owns_session(self, owns: bool) -> None:
        raise AttributeError("a view never owns its session")

    def __repr__(self) -> str:
        return f"<TaskBridge view of {self._root!r} timeout={self._timeout.total:g}s>"

    async def aclose(self) -> None:
        """Refuse later calls through this view; the bridge and its session stay open."""
        self._view_closed = True


def make_view(
    bridge: TaskBridge,
    *,
    timeout: float | None,
    retry: RetryPolicy | None,
    max_response_bytes: int | None,
) -> TaskBridge:
    """Build a `BridgeView` sharing ``bridge``'s state, with new settings."""
    root: TaskBridge = getattr(bridge, "_root", bridge)
    if retry is not None and not isinstance(retry, RetryPolicy):
        raise ConfigurationError("retry must be a RetryPolicy or None")
    if max_response_bytes is not None and (
        isinstance(max_response_bytes, bool)
        or not isinstance(max_response_bytes, int)
        or max_response_bytes < 1
    ):
        raise ConfigurationError("max_response_bytes must be an integer >= 1")
    view = object.__new__(BridgeView)
    state: dict[str, Any] = dict(vars(bridge))
    # The session and the closed flag live on the root (the view reads them through
    # properties); everything else (gates, in-flight map, redactor) is the same object.
    for name in ("_session", "_closed", "_loop", "_owns_session", "_root", "_view_closed"):
        state.pop(name, None)
    vars(view).update(state)
    view._root = root
    view._view_closed = False
    if timeout is not None:
        view._timeout = aiohttp.ClientTimeout(total=check_timeout(timeout))
    if retry is not None:
        view._retry = retry
    if max_response_bytes is not None:
        view._max_bytes = max_response_bytes
    return view
