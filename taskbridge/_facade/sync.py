"""`SyncTaskBridge`: the blocking client, a thin layer over the same `TaskBridge`.

Each call hands a coroutine of the bridge to one private event loop in a daemon thread
(`loopthread.Runtime`, started on first use) and blocks for its result: the same
engine, limits, rate limiter, retries, de-duplication and errors as `TaskBridge`.
"""

from __future__ import annotations

import os
import threading
from collections.abc import AsyncIterable, Callable, Iterable, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, overload

from .._base.clock import Clock, current_clock, use_clock
from .._base.config import RetryPolicy
from .._base.errors import BridgeClosedError
from .._base.models import Provider, TaskResult, UnifiedTask
from .._engine import limiter as _limiter
from .._engine.hooks import EventHooks
from .._engine.stats import BridgeStats
from ..providers import ProviderConfig
from ..providers.alumio import AlumioConfig
from ..providers.cakewalk import CakewalkConfig
from .bridge import DEFAULT_MAX_RESPONSE_BYTES, RefLike, TaskBridge
from .environment import options_from_env
from .hookup import TaskResponse
from .loopthread import BlockingIterator, Runtime, forsake

if TYPE_CHECKING:
    from ..providers.alumio import AlumioTask
    from ..providers.cakewalk import CakewalkTask
    from .watch import EventSource, TaskUpdate

__all__ = ["SyncTaskBridge"]


class _Core:
    """What a `SyncTaskBridge` and its `with_options` views share: this process's
    runtime, and how to build the `TaskBridge` again in a forked child."""

    def __init__(self, options: dict[str, Any], clock: Clock) -> None:
        self.options = options
        self.clock = clock
        self.bridge = TaskBridge(**options)  # checks the arguments now
        self.lock = threading.Lock()
        self.pid = os.getpid()
        self.runtime: Runtime | None = None
        self.closed = False

    def _after_fork(self) -> None:
        # The lock may have been held by a thread that does not exist here.
        self.lock = threading.Lock()
        self.pid = os.getpid()
        old, self.runtime = self.runtime, None
        if old is not None:
            forsake(old)
            with use_clock(self.clock):
                self.bridge = TaskBridge(**self.options)

    def use(self) -> Runtime:
        """The running loop of this process: started on first use, again after a fork."""
        runtime = self.runtime
        if runtime is not None and runtime.pid == os.getpid() and runtime.dead is None:
            if self.closed:
                raise BridgeClosedError("this SyncTaskBridge is closed")
            return runtime
        if self.pid != os.getpid():
            self._after_fork()
        with self.lock:
            if self.closed:
                raise BridgeClosedError("this SyncTaskBridge is closed")
            runtime = self.runtime
            if runtime is None:
                runtime = self.runtime = Runtime(self.bridge)
            elif runtime.dead is not None:
                raise runtime.error()
            return runtime

    def close(self, *, wait: bool = True) -> None:
        if self.pid != os.getpid():
            self._after_fork()
        with self.lock:
            if self.closed:
                return
            self.closed = True
            runtime = self.runtime
        if runtime is None:
            if self.options["limiter"] is not None:
                Runtime(self.bridge).stop()  # a limiter's connections are closed on a loop
            return
        runtime.stop(wait=wait)

    def __del__(self) -> None:
        runtime = getattr(self, "runtime", None)
        if runtime is not None and not self.closed and runtime.pid == os.getpid():
            runtime.stop(wait=False)


class SyncTaskBridge:
    """Fetch tasks from Cakewalk and Alumio from synchronous code: `TaskBridge`, blocking.

    The same keywords as `TaskBridge` (but ``session``), the same methods without
    ``await``, the same errors. One private event loop in a daemon thread, started on
    first use, runs every call: one bridge may be shared by any number of threads
    (one connection pool, one rate budget), and keeps working in a child process
    after ``os.fork()`` (the child starts its own loop and session). Close it with
    `close` or a ``with`` block; one never closed is closed at interpreter exit.

    Example:
        ```python
        with SyncTaskBridge.from_env() as bridge:
            task = bridge.get("cakewalk", "3fa85f64-5717-4562-b3fc-2c963f66afa6")
            for result in bridge.stream(refs):
                print(result.ref, result.ok)
        ```
    """

    def __init__(
        self,
        *,
        cakewalk: CakewalkConfig | None = None,
        alumio: AlumioConfig | None = None,
        retry: RetryPolicy | None = None,
        timeout: float = 30.0,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        providers: Iterable[ProviderConfig] = (),
        limiter: _limiter.LimiterBackend | None = None,
        hooks: EventHooks | Iterable[EventHooks] | None = None,
        tracer_provider: Any = None,
        meter_provider: Any = None,
        telemetry: bool = True,
    ) -> None:
        options = {
            "cakewalk": cakewalk,
            "alumio": alumio,
            "retry": retry,
            "timeout": timeout,
            "max_response_bytes": max_response_bytes,
            "providers": tuple(providers),
            "limiter": limiter,
            "hooks": hooks if hooks is None or isinstance(hooks, EventHooks) else tuple(hooks),
            "tracer_provider": tracer_provider,
            "meter_provider": meter_provider,
            "telemetry": telemetry,
        }
        self._core = _Core(options, current_clock())
        self._view: dict[str, Any] | None = None  # the options of a `with_options` view
        self._async: tuple[TaskBridge, TaskBridge] | None = None  # (root, its view)
        self._closed = False

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **options: Any) -> SyncTaskBridge:
        """Build a bridge from the ``TASKBRIDGE_*`` environment variables, as
        `TaskBridge.from_env` does; other keyword arguments go to `SyncTaskBridge`."""
        env = os.environ if environ is None else environ
        return cls(**options_from_env(env, options))

    def __repr__(self) -> str:
        state = " closed" if self._closed or self._core.closed else ""
        view = " view" if self._view is not None else ""
        return f"<SyncTaskBridge{view} providers={self.providers}{state}>"

    @property
    def providers(self) -> list[str]:
        """The names of the configured providers."""
        return self._core.bridge.providers

    def __enter__(self) -> SyncTaskBridge:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the session and stop the loop thread; later calls raise
        `BridgeClosedError`. Closing a `with_options` view closes only the view."""
        if self._view is not None:
            self._closed = True
            return
        self._core.close()

    def _use(self) -> tuple[Runtime, TaskBridge]:
        if self._closed:
            raise BridgeClosedError("this SyncTaskBridge is closed")
        runtime = self._core.use()
        bridge = runtime.bridge
        if self._view is None:
            return runtime, bridge
        cached = self._async
        if cached is None or cached[0] is not bridge:
            cached = self._async = (bridge, bridge.with_options(**self._view))
        return runtime, cached[1]

    @overload
    def get(
        self, provider: Literal["cakewalk", Provider.CAKEWALK], task_id: str
    ) -> UnifiedTask[CakewalkTask]: ...
    @overload
    def get(
        self, provider: Literal["alumio", Provider.ALUMIO], task_id: str
    ) -> UnifiedTask[AlumioTask]: ...
    @overload
    def get(self, provider: str | Provider, task_id: str) -> UnifiedTask[Any]: ...
    def get(self, provider: str | Provider, task_id: str) -> UnifiedTask[Any]:
        """Fetch one task (see `TaskBridge.get`)."""
        runtime, bridge = self._use()
        return runtime.call(bridge.get(provider, task_id))

    def get_with_response(self, provider: str | Provider, task_id: str) -> TaskResponse:
        """`get`, returning a `TaskResponse` (see `TaskBridge.get_with_response`)."""
        runtime, bridge = self._use()
        return runtime.call(bridge.get_with_response(provider, task_id))

    def get_many(
        self,
        refs: Iterable[RefLike],
        *,
        on_result: Callable[[TaskResult], object] | None = None,
        timeout: float | None = None,
    ) -> list[TaskResult]:
        """Fetch many tasks concurrently; one `TaskResult` per ref, in input order (see
        `TaskBridge.get_many`). ``on_result`` runs on the bridge's loop thread."""
        runtime, bridge = self._use()
        return runtime.call(bridge.get_many(refs, on_result=on_result, timeout=timeout))

    def stream(
        self, refs: Iterable[RefLike] | AsyncIterable[RefLike], *, backlog: int | None = None
    ) -> BlockingIterator[TaskResult]:
        """Yield results as they complete, a plain iterator (see `TaskBridge.stream`).

        Memory stays bounded as in `TaskBridge.stream`. Leaving the loop early (or
        `close()`-ing the iterator, or a ``with`` block around it) cancels what is
        still in flight.
        """
        runtime, bridge = self._use()
        return BlockingIterator(runtime, bridge.stream(refs, backlog=backlog))

    def wait(
        self,
        provider: str | Provider,
        task_id: str,
        *,
        timeout: float | None = None,
        until: Callable[[UnifiedTask[Any]], object] | None = None,
        events: EventSource | None = None,
    ) -> UnifiedTask[Any]:
        """Poll a task until it is terminal (or ``until(task)`` is true) and return it
        (see `TaskBridge.wait`). ``until`` runs on the bridge's loop thread; events
        (``events=``) may be verified in any thread or event loop."""
        runtime, bridge = self._use()
        waiting = bridge.wait(provider, task_id, timeout=timeout, until=until, events=events)
        return runtime.call(waiting)

    def watch(
        self,
        refs: Iterable[RefLike] | AsyncIterable[RefLike],
        *,
        until: Callable[[UnifiedTask[Any]], object] | None = None,
        events: EventSource | None = None,
    ) -> BlockingIterator[TaskUpdate]:
        """Follow many tasks; a plain iterator of `TaskUpdate` (see `TaskBridge.watch`).
        Leaving the loop early stops every poll of the watch."""
        runtime, bridge = self._use()
        return BlockingIterator(runtime, bridge.watch(refs, until=until, events=events))

    def with_options(
        self,
        *,
        timeout: float | None = None,
        retry: RetryPolicy | None = None,
        max_response_bytes: int | None = None,
    ) -> SyncTaskBridge:
        """Return a view with other per-call settings, sharing this bridge's loop,
        session, limits and statistics (see `TaskBridge.with_options`)."""
        options = {**(self._view or {})}
        given = {"timeout": timeout, "retry": retry, "max_response_bytes": max_response_bytes}
        options.update({k: v for k, v in given.items() if v is not None})
        self._core.bridge.with_options(**options)  # checks them now
        view = object.__new__(SyncTaskBridge)
        view._core = self._core
        view._view = options
        view._async = None
        view._closed = False
        return view

    def stats(self) -> BridgeStats:
        """Return a frozen snapshot of each provider's counters (see `TaskBridge.stats`)."""
        return self._core.bridge.stats()
