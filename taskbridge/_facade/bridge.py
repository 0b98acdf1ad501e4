"""The `TaskBridge` facade: one client for every configured provider."""

from __future__ import annotations

import copy
import logging
import os
from collections.abc import AsyncGenerator, AsyncIterable, Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Literal, overload

import aiohttp
import attrs

from .._base.checks import check_count, check_seconds
from .._base.clock import current_clock
from .._base.config import RetryPolicy
from .._base.errors import BridgeClosedError, ConfigurationError
from .._base.models import Provider, TaskRef, TaskResult, UnifiedTask
from .._engine import limiter as _limiter
from .._engine.assemble import build_engine
from .._engine.engine import Caller, Settings
from .._engine.hooks import EventHooks
from .._engine.stats import BridgeStats, snapshot
from ..providers import ProviderConfig
from ..providers.alumio import AlumioConfig
from ..providers.cakewalk import CakewalkConfig
from . import hookup as _hookup
from . import observe as _observe
from .environment import options_from_env
from .polling import Polling

if TYPE_CHECKING:
    from ..providers.alumio import AlumioTask
    from ..providers.cakewalk import CakewalkTask
    from .watch import EventSource, Watch

__all__ = ["DEFAULT_MAX_RESPONSE_BYTES", "TaskBridge"]

logger = logging.getLogger("taskbridge")

DEFAULT_MAX_RESPONSE_BYTES = 10 * 1024 * 1024

RefLike = TaskRef | tuple[str | Provider, str]


class TaskBridge:
    """Fetch tasks from Cakewalk and Alumio through one async client.

    Args:
        cakewalk: Cakewalk settings, or ``None`` to leave Cakewalk out.
        alumio: Alumio settings, or ``None`` to leave Alumio out.
        retry: how failed attempts are retried (default `RetryPolicy()`).
        timeout: seconds allowed for each attempt, connect to last byte.
        session: an `aiohttp.ClientSession` to use; the bridge never closes it.
        max_response_bytes: larger bodies are a `DecodeError`, read no further.
        providers: configs of further registered providers.
        limiter: where the rate budgets live: ``None`` for this process alone (the
            default), or a `taskbridge.redis.RedisLimiter` to share each credential's
            budget and 429 pauses with every process using the same Redis. The bridge
            closes it in `aclose`.
        hooks: `EventHooks` told of each request, answer, retry, pause and queue wait.
        tracer_provider: OpenTelemetry's; ``None``: the global one (no-op until set).
        meter_provider: OpenTelemetry's; ``None``: the global one (no-op until set).
        telemetry: ``False`` turns OpenTelemetry off; ``True`` (default) uses it when
            ``opentelemetry-api`` is installed (see the Observability guide).

    Example:
        ```python
        async with TaskBridge(cakewalk=CakewalkConfig(key, secret)) as bridge:
            task = await bridge.get("cakewalk", "3fa85f64-5717-4562-b3fc-2c963f66afa6")
            print(task.status, task.updated_at)
        ```
    """

    def __init__(
        self,
        *,
        cakewalk: CakewalkConfig | None = None,
        alumio: AlumioConfig | None = None,
        retry: RetryPolicy | None = None,
        timeout: float = 30.0,
        session: aiohttp.ClientSession | None = None,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        providers: Iterable[ProviderConfig] = (),
        limiter: _limiter.LimiterBackend | None = None,
        hooks: EventHooks | Iterable[EventHooks] | None = None,
        tracer_provider: Any = None,
        meter_provider: Any = None,
        telemetry: bool = True,
    ) -> None:
        if cakewalk is not None and not isinstance(cakewalk, CakewalkConfig):
            raise ConfigurationError("cakewalk must be a CakewalkConfig or None")
        if alumio is not None and not isinstance(alumio, AlumioConfig):
            raise ConfigurationError("alumio must be an AlumioConfig or None")
        if retry is not None and not isinstance(retry, RetryPolicy):
            raise ConfigurationError("retry must be a RetryPolicy or None")
        timeout = check_seconds("timeout", timeout)
        check_count("max_response_bytes", max_response_bytes)
        if session is not None and not isinstance(session, aiohttp.ClientSession):
            raise ConfigurationError("session must be an aiohttp.ClientSession or None")
        if limiter is not None and not isinstance(limiter, _limiter.LimiterBackend):
            raise ConfigurationError("limiter must be a RedisLimiter or None")

        configs = [c for c in (cakewalk, alumio, *providers) if c is not None]
        clock = current_clock()
        self._engine = build_engine(configs, clock=clock, session=session, limiter=limiter)
        observe = (telemetry, tracer_provider, meter_provider)
        self._hooks = _hookup.build_hooks(hooks, *observe, self.stats)
        total = aiohttp.ClientTimeout(total=float(timeout))
        settings = Settings(retry or RetryPolicy(), total, max_response_bytes, self._hooks)
        self._call = Caller(self._engine, settings)
        self._polling = Polling(self._call, clock)
        self._limiter = limiter
        self._root: TaskBridge | None = None  # the bridge a `with_options` view came from

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **options: Any) -> TaskBridge:
        """Build a bridge from the ``TASKBRIDGE_*`` environment variables.

        A provider is configured when its credentials are set (the variables are
        listed in the configuration guide); ``TASKBRIDGE_REDIS_URL`` (with no
        ``limiter`` argument) shares rate budgets through that Redis. Other keyword
        arguments go to `TaskBridge`.

        Args:
            environ: the variables to read; ``os.environ`` when ``None``.
            **options: further `TaskBridge` arguments (``retry``, ``timeout``, ...).

        Raises:
            ConfigurationError: a provider's variables are half set or invalid, or
                none is set at all.

        Example:
            ```python
            async with TaskBridge.from_env(timeout=10.0) as bridge:
                print(bridge.providers)
            ```
        """
        env = os.environ if environ is None else environ
        return cls(**options_from_env(env, options))

    def __repr__(self) -> str:
        if self._root is not None:
            total = self._call.settings.timeout.total
            return f"<TaskBridge view of {self._root!r} timeout={total:g}s>"
        state = " closed" if self._call.closed else ""
        return f"<TaskBridge providers={sorted(self._engine.gates)}{state}>"

    @property
    def providers(self) -> list[str]:
        """The names of the configured providers."""
        return list(self._engine.gates)

    async def __aenter__(self) -> TaskBridge:
        self._call.ensure_session()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the session, unless it was given to us; later calls are refused.

        Every call still waiting or in flight ends at once with `BridgeClosedError`
        (a `stream` or `get_many` gets it on each unfinished result), and so does
        every later call.
        """
        if self._root is not None:  # a view: only the view stops
            self._call.close()
            return
        engine = self._engine
        engine.closed = True
        self._polling.close()
        engine.cancel_running()
        limiter, self._limiter = self._limiter, None
        try:
            await engine.close_session()
        finally:
            if limiter is not None:
                await limiter.aclose()

    @overload
    async def get(
        self, provider: Literal["cakewalk", Provider.CAKEWALK], task_id: str
    ) -> UnifiedTask[CakewalkTask]: ...
    @overload
    async def get(
        self, provider: Literal["alumio", Provider.ALUMIO], task_id: str
    ) -> UnifiedTask[AlumioTask]: ...
    @overload
    async def get(self, provider: str | Provider, task_id: str) -> UnifiedTask[Any]: ...
    async def get(self, provider: str | Provider, task_id: str) -> UnifiedTask[Any]:
        """Fetch one task.

        Args:
            provider: ``"cakewalk"`` or ``"alumio"`` (or a `Provider`).
            task_id: the provider's task id; a Cakewalk id must be a canonical UUID.

        Returns:
            The task, with the provider's typed record in ``detail``. With a literal
            provider name the type is precise: ``get("cakewalk", ...)`` is a
            ``UnifiedTask[CakewalkTask]``, so ``task.detail`` is checked by mypy.

        Raises:
            ConfigurationError: the provider is unknown or not configured.
            InvalidTaskIdError: the id cannot be valid; nothing was sent.
            ProviderError: the request failed (see the error tree).

        Example:
            ```python
            task = await bridge.get("alumio", "order-export-42")
            if task.is_terminal:
                print(task.status, task.updated_at)
            ```
        """
        gate = self._call.gate(provider)
        checked = gate.adapter.check_id(task_id)
        if self._hooks is None or not self._hooks.follows():
            return await self._call.fetch(gate, checked)
        return await _observe.followed_get(self._hooks, self._call, gate, checked)

    async def get_with_response(
        self, provider: str | Provider, task_id: str
    ) -> _hookup.TaskResponse:
        """`get`, returning a `TaskResponse`: the task with its final answer's ``status``,
        ``headers`` (a request id, rate-limit headers), ``attempts`` and ``elapsed``."""
        recorder = _hookup.ResponseRecorder()
        view = self.with_options()
        view._hooks = recorder.joined(self._hooks)
        view._call = Caller(self._engine, attrs.evolve(self._call.settings, hooks=view._hooks))
        return recorder.result(await view.get(provider, task_id))

    async def get_many(
        self,
        refs: Iterable[RefLike],
        *,
        on_result: Callable[[TaskResult], object] | None = None,
        timeout: float | None = None,
    ) -> list[TaskResult]:
        """Fetch many tasks concurrently; one `TaskResult` per ref, in input order.

        Never raises for a per-item failure: each is a typed error on its result.
        Identical refs are fetched once.

        Args:
            refs: ``(provider, task_id)`` pairs or `TaskRef` values, in any mix of providers.
            on_result: called with each result as it completes (for progress).
            timeout: seconds for the whole batch, or ``None``. When they run out, what
                is still in flight is cancelled and its results fail with
                `BatchTimeoutError`; what finished is kept.

        Returns:
            One result per ref, in the order of ``refs``.

        Example:
            ```python
            results = await bridge.get_many([("cakewalk", id1), ("alumio", id2)])
            failed = [r for r in results if not r.ok]
            ```
        """
        return await _observe.get_many(self._hooks, self._call, refs, on_result, timeout)

    def stream(
        self, refs: Iterable[RefLike] | AsyncIterable[RefLike], *, backlog: int | None = None
    ) -> AsyncGenerator[TaskResult, None]:
        """Fetch tasks from a sync or async iterable, yielding results as they complete.

        The input is read lazily: each provider holds at most its ``max_concurrency``
        plus ``backlog`` refs (default 1024) read ahead, in flight or not yet yielded,
        so memory stays O(concurrency + backlog) however long the input is, and a slow
        provider holds back the input only once its own backlog is full. Leaving the
        loop early cancels what is in flight; wrap in `contextlib.aclosing` to have
        that happen at once.

        Args:
            refs: a sync or async iterable of ``(provider, task_id)`` pairs or `TaskRef` values.
            backlog: refs each provider may hold beyond its ``max_concurrency``.

        Yields:
            One result per ref, in completion order.

        Example:
            ```python
            async for result in bridge.stream(read_refs("refs.txt")):
                print(result.ref, result.task.status if result.ok else result.error)
            ```
        """
        from . import stream as _stream

        results = _stream.stream(self._call, refs, _stream.check_backlog(backlog))
        return _observe.stream(self._hooks, results)

    async def wait(
        self,
        provider: str | Provider,
        task_id: str,
        *,
        timeout: float | None = None,
        until: Callable[[UnifiedTask[Any]], object] | None = None,
        events: EventSource | None = None,
    ) -> UnifiedTask[Any]:
        """Poll a task until it is terminal (or ``until(task)`` is true) and return it.

        Polls start every ``poll_interval`` of the provider's config and slow down to
        ``max_poll_interval`` while nothing changes; they share the provider's limits
        with every other call. A terminal task ends the wait whatever ``until`` says.

        Args:
            provider: ``"cakewalk"`` or ``"alumio"`` (or a `Provider`).
            task_id: the provider's task id.
            timeout: seconds to wait at most; ``None`` waits as long as it takes.
            until: return as soon as this is true of a polled task (e.g. running).
            events: a `CakewalkWebhooks` (any ``subscribe(listener)``): a task an event
                names is polled at once; the poll, not the event, says what it is.

        Returns:
            The task as last polled: terminal, or the first one ``until`` held for.

        Raises:
            WaitTimeoutError: not done within ``timeout`` seconds; ``.last`` holds the
                last task seen (or ``None``).
            ProviderError: a fatal error (not found, auth, ...); retryable errors are
                retried and polled again, and do not end the wait.
        """
        self._refuse_if_closed()
        args = (provider, task_id, timeout, until, events)
        return await self._polling.wait(self._hooks, *args)

    def watch(
        self,
        refs: Iterable[RefLike] | AsyncIterable[RefLike],
        *,
        until: Callable[[UnifiedTask[Any]], object] | None = None,
        events: EventSource | None = None,
    ) -> Watch:
        """Follow many tasks (``refs``: a sync or async iterable); an async iterator of
        `TaskUpdate`.

        Yields each ref's first observation, then an update each time its
        ``provider_status`` changes. A ref leaves when terminal (or when ``until(task)``
        is true: that observation is always yielded), or on a fatal error, yielded once
        as an update with ``error``. Ends when no ref is left. One scheduler per bridge
        polls the most overdue task first, so thousands of refs share the rate budget
        fairly. Leaving the loop stops every poll of the watch at once.

        Args:
            refs: ``(provider, task_id)`` pairs or `TaskRef` values, sync or async.
            until: a ref also leaves once this is true of its task.
            events: as for `wait`: a followed task an event names is polled at once.

        Example:
            ```python
            async for update in bridge.watch([("alumio", "order-export-529368")]):
                print(update.ref.task_id, update.task and update.task.status)
            ```
        """
        follow = self._polling.watch(self._hooks, refs, until, events)  # checks args
        self._refuse_if_closed()
        return follow

    def _refuse_if_closed(self) -> None:
        # The polling scheduler is shared by the bridge's views: a closed view refuses here.
        if self._call.closed:
            raise BridgeClosedError("this TaskBridge is closed")

    def with_options(
        self,
        *,
        timeout: float | None = None,
        retry: RetryPolicy | None = None,
        max_response_bytes: int | None = None,
    ) -> TaskBridge:
        """Return a view of this bridge with other per-call settings.

        The view shares the session, each provider's limits, pauses and statistics, and
        the de-duplication of identical requests in flight (a call that joins one gets
        its outcome, whichever settings started it). ``None`` keeps this bridge's value;
        closing the view leaves the bridge open. `wait` and `watch` through a view share
        the bridge's polling scheduler, whose polls use the bridge's settings.
        Example: ``bridge.with_options(timeout=5.0, retry=RetryPolicy(max_attempts=1))``.
        """
        if retry is not None and not isinstance(retry, RetryPolicy):
            raise ConfigurationError("retry must be a RetryPolicy or None")
        changes: dict[str, Any] = {}
        if timeout is not None:
            changes["timeout"] = aiohttp.ClientTimeout(total=check_seconds("timeout", timeout))
        if retry is not None:
            changes["retry"] = retry
        if max_response_bytes is not None:
            changes["max_bytes"] = check_count("max_response_bytes", max_response_bytes)
        view = copy.copy(self)  # the engine, scheduler and limiter stay the bridge's own
        view._root = self._root or self
        view._call = Caller(self._engine, attrs.evolve(self._call.settings, **changes))
        return view

    def stats(self) -> BridgeStats:
        """Each provider's counters, pause and limits, frozen; cheap (a health endpoint)."""
        return snapshot(self._engine.gates.values())
