"""The `TaskBridge` facade: one client for every configured provider."""

from __future__ import annotations

import asyncio
import logging
import math
import os
import time
from collections.abc import AsyncGenerator, AsyncIterable, Callable, Iterable, Mapping
from types import TracebackType
from typing import Any, Literal, overload

import aiohttp

from . import _batch, _limiter, _stream, _watch
from ._config import RetryPolicy
from ._errors import (
    APIError,
    BridgeClosedError,
    ConfigurationError,
    DecodeError,
    ProviderError,
    TaskBridgeError,
)
from ._gate import ProviderGate
from ._models import Provider, TaskRef, TaskResult, UnifiedTask
from ._retry import RETRY_STATUSES, backoff, clamp_delay
from ._stats import BridgeStats, snapshot
from ._stream import check_backlog
from ._transport import Redactor, attempt, show_id
from ._watch import Watch
from .providers import ProviderConfig, registered, secrets_of
from .providers.alumio import AlumioConfig, AlumioTask
from .providers.cakewalk import CakewalkConfig, CakewalkTask

__all__ = ["DEFAULT_MAX_RESPONSE_BYTES", "TaskBridge"]

logger = logging.getLogger("taskbridge")

DEFAULT_MAX_RESPONSE_BYTES = 10 * 1024 * 1024

# Looked up when a bridge is built, so tests can swap in a fake clock and sleeper.
_clock: Callable[[], float] = time.monotonic
_sleep: Callable[[float], Any] = asyncio.sleep

RefLike = TaskRef | tuple[str | Provider, str]


def _still_cancelled(task: asyncio.Task[Any]) -> bool:
    """Withdraw one cancellation of ``task``; whether another one is still pending.

    Python 3.10 has no ``uncancel``: there, a cancellation that arrives together with
    the bridge's own is taken as the bridge's.
    """
    uncancel = getattr(task, "uncancel", None)
    return bool(uncancel is not None and uncancel() > 0)


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
    ) -> None:
        if cakewalk is not None and not isinstance(cakewalk, CakewalkConfig):
            raise ConfigurationError("cakewalk must be a CakewalkConfig or None")
        if alumio is not None and not isinstance(alumio, AlumioConfig):
            raise ConfigurationError("alumio must be an AlumioConfig or None")
        if retry is not None and not isinstance(retry, RetryPolicy):
            raise ConfigurationError("retry must be a RetryPolicy or None")
        if (
            isinstance(timeout, bool)
            or not isinstance(timeout, (int, float))
            or not math.isfinite(timeout)
            or timeout <= 0
        ):
            raise ConfigurationError("timeout must be a number of seconds > 0")
        if (
            isinstance(max_response_bytes, bool)
            or not isinstance(max_response_bytes, int)
            or max_response_bytes < 1
        ):
            raise ConfigurationError("max_response_bytes must be an integer >= 1")
        if session is not None and not isinstance(session, aiohttp.ClientSession):
            raise ConfigurationError("session must be an aiohttp.ClientSession or None")
        if limiter is not None and not isinstance(limiter, _limiter.LimiterBackend):
            raise ConfigurationError("limiter must be a RedisLimiter or None")

        configs = [c for c in (cakewalk, alumio, *providers) if c is not None]
        self._gates: dict[str, ProviderGate] = {}
        secrets: list[str] = []
        for config in configs:
            if config.provider in self._gates:
                raise ConfigurationError(f"provider {config.provider!r} is configured twice")
            adapter = config.adapter()
            shared = None
            if limiter is not None:
                rpm = adapter.requests_per_minute
                shared = limiter.limiter(config.provider, per_minute=rpm, config=config)
            self._gates[config.provider] = ProviderGate(
                adapter, clock=_clock, sleep=_sleep, limiter=shared
            )
            secrets.extend(secrets_of(config))
        self._redact = Redactor(secrets)
        self._retry = retry or RetryPolicy()
        self._timeout = aiohttp.ClientTimeout(total=float(timeout))
        self._max_bytes = max_response_bytes
        self._session = session
        self._owns_session = session is None
        self._inflight: dict[tuple[str, str], asyncio.Future[UnifiedTask[Any]]] = {}
        self._closed = False
        # The loop of first use: the session, gates and futures belong to it.
        self._loop: asyncio.AbstractEventLoop | None = None
        # Tasks running attempts now, and those aclose() cancelled (see _fetch).
        self._running: set[asyncio.Task[Any]] = set()
        self._closing: set[asyncio.Task[Any]] = set()
        self._sleep = _sleep
        self._polling = _watch.Scheduler(self, clock=_clock, sleep=_sleep)
        self._limiter = limiter

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **options: Any) -> TaskBridge:
        """Build a bridge from the ``TASKBRIDGE_*`` environment variables.

        A provider is configured when its credentials are set: Cakewalk by
        ``TASKBRIDGE_CAKEWALK_API_KEY`` and ``TASKBRIDGE_CAKEWALK_API_SECRET`` (and
        optionally ``TASKBRIDGE_CAKEWALK_BASE_URL``), Alumio by
        ``TASKBRIDGE_ALUMIO_BASE_URL`` and ``TASKBRIDGE_ALUMIO_TOKEN`` (and optionally
        ``TASKBRIDGE_ALUMIO_SPACE``). With ``TASKBRIDGE_REDIS_URL`` set (and no
        ``limiter`` argument), rate budgets are shared through that Redis (a
        `taskbridge.redis.RedisLimiter`; needs ``pip install "aiotaskbridge[redis]"``).
        Other keyword arguments go to `TaskBridge`.

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
        specs = registered().values()
        configs = [c for c in (spec.from_env(env) for spec in specs) if c is not None]
        if not configs:
            wanted = (" and ".join(spec.required_env) for spec in specs)
            raise ConfigurationError("no provider configured: set " + ", or ".join(wanted))
        if "limiter" not in options:  # an explicit limiter=None keeps the local one
            options["limiter"] = _limiter.from_env(env)
        return cls(providers=[*configs, *options.pop("providers", ())], **options)

    def __repr__(self) -> str:
        state = " closed" if self._closed else ""
        return f"<TaskBridge providers={sorted(self._gates)}{state}>"

    @property
    def providers(self) -> list[str]:
        """The names of the configured providers."""
        return list(self._gates)

    async def __aenter__(self) -> TaskBridge:
        self._ensure_session()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the session, unless it was given to us; later calls are refused.

        Every call still waiting or in flight ends at once with `BridgeClosedError`
        (a `stream` or `get_many` gets it on each unfinished result), and so does
        every later call.
        """
        self._closed = True
        self._polling.close()
        current = asyncio.current_task()
        for task in list(self._running):
            if task is not current and task not in self._closing:
                self._closing.add(task)
                task.cancel()
        session, self._session = self._session, None
        limiter, self._limiter = self._limiter, None
        try:
            if session is not None and self._owns_session:
                await session.close()
        finally:
            if limiter is not None:
                await limiter.aclose()

    def _check_loop(self) -> None:
        """Refuse a call from an event loop other than the one the bridge first ran in."""
        loop = asyncio.get_running_loop()
        if self._loop is None:
            self._loop = loop
        elif loop is not self._loop:
            raise BridgeClosedError(
                "this TaskBridge belongs to another event loop (was it used in an earlier "
                "asyncio.run()?): create one bridge per event loop, with `async with`"
            )

    def _ensure_session(self) -> aiohttp.ClientSession:
        if self._closed:
            raise BridgeClosedError("this TaskBridge is closed")
        self._check_loop()
        if self._session is None:
            total = sum(gate.adapter.max_concurrency for gate in self._gates.values())
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=max(total, 1), ttl_dns_cache=300),
                cookie_jar=aiohttp.DummyCookieJar(),
            )
        return self._session

    def _gate(self, provider: object) -> ProviderGate:
        if isinstance(provider, Provider):
            name = provider.value
        elif isinstance(provider, str):
            name = provider.strip().lower()
        else:
            raise ConfigurationError(
                f"provider must be a string or a Provider, got {type(provider).__name__}"
            )
        gate = self._gates.get(name)
        if gate is None:
            known = {**dict.fromkeys(registered()), **dict.fromkeys(self._gates)}
            if name in known:
                raise ConfigurationError(f"provider {name!r} is not configured on this bridge")
            raise ConfigurationError(
                f"unknown provider {provider!r} (registered: {', '.join(known)})"
            )
        return gate

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
        gate = self._gate(provider)
        return await self._fetch(gate, gate.adapter.check_id(task_id))

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
        if timeout is not None:
            from ._deadline import get_many_within

            return await get_many_within(self, refs, on_result, timeout)
        return await _batch.get_many(self, refs, on_result)

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
        return _stream.stream(self, refs, check_backlog(backlog))

    async def wait(
        self,
        provider: str | Provider,
        task_id: str,
        *,
        timeout: float | None = None,
        until: Callable[[UnifiedTask[Any]], object] | None = None,
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

        Returns:
            The task as last polled: terminal, or the first one ``until`` held for.

        Raises:
            WaitTimeoutError: not done within ``timeout`` seconds; ``.last`` holds the
                last task seen (or ``None``).
            ProviderError: a fatal error (not found, auth, ...); retryable errors are
                retried and polled again, and do not end the wait.
        """
        return await self._polling.wait(provider, task_id, timeout=timeout, until=until)

    def watch(
        self,
        refs: Iterable[RefLike] | AsyncIterable[RefLike],
        *,
        until: Callable[[UnifiedTask[Any]], object] | None = None,
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

        Example:
            ```python
            async for update in bridge.watch([("alumio", "order-export-529368")]):
                print(update.ref.task_id, update.task and update.task.status)
            ```
        """
        return self._polling.watch(refs, until=until)

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
        its outcome, whichever settings started it). ``None`` keeps this bridge's value.
        Closing the view does not close the bridge.

        Example:
            ```python
            fast = bridge.with_options(timeout=5.0, retry=RetryPolicy(max_attempts=1))
            task = await fast.get("alumio", "order-42")
            ```
        """
        from ._options import make_view

        return make_view(self, timeout=timeout, retry=retry, max_response_bytes=max_response_bytes)

    def stats(self) -> BridgeStats:
        """Return a frozen snapshot of each provider's counters, pause and limits.

        Cheap (a few attribute reads per provider): fine for a health endpoint.

        Example:
            ```python
            snap = bridge.stats()
            snap.providers["cakewalk"].in_flight, snap.providers["cakewalk"].queued
            ```
        """
        return snapshot(self._gates.values())

    # Internals shared with _batch.

    def _resolve(
        self, item: object
    ) -> tuple[TaskRef, ProviderGate | None, str, TaskBridgeError | None]:
        """Check one ref: its gate and the id to send, or the error that stops it."""
        provider: object
        task_id: object
        try:
            provider, task_id = item  # type: ignore[misc]
        except (TypeError, ValueError):
            error = ConfigurationError(
                f"each ref must be a (provider, task_id) pair, got {type(item).__name__}"
            )
            return TaskRef(str(item)[:80], ""), None, "", error
        name = provider.value if isinstance(provider, Provider) else str(provider)
        ref = TaskRef(name, task_id)  # type: ignore[arg-type]  # checked just below
        try:
            gate = self._gate(provider)
            return ref, gate, gate.adapter.check_id(task_id), None
        except TaskBridgeError as exc:
            return ref, None, "", exc

    def _window(self) -> int:
        return max(16, 2 * sum(gate.adapter.max_concurrency for gate in self._gates.values()))

    async def _fetch(self, gate: ProviderGate, task_id: str) -> UnifiedTask[Any]:
        """Fetch with retries; identical requests in flight share one attempt loop.

        The first caller runs the attempts in its own task (no task per request);
        later callers for the same ref wait on its future. If that first caller is
        cancelled, a waiter that was not takes the request over.
        """
        key = (gate.name, task_id)
        self._check_loop()
        while (shared := self._inflight.get(key)) is not None:
            # wait() raises CancelledError only when *we* are cancelled, on every
            # Python: a shield would also raise it when the caller running the
            # request is, and 3.10 cannot tell the two apart.
            await asyncio.wait((shared,))
            if not shared.cancelled():
                return shared.result()
            # The caller that ran it was cancelled, not us: run it ourselves.
        self._ensure_session()
        me = asyncio.current_task()
        assert me is not None
        future: asyncio.Future[UnifiedTask[Any]] = asyncio.get_running_loop().create_future()
        self._inflight[key] = future
        self._running.add(me)
        try:
            task = await self._attempts(gate, task_id)
        except asyncio.CancelledError:
            if me not in self._closing or _still_cancelled(me):
                future.cancel()
                raise
            closed = BridgeClosedError("this TaskBridge was closed while the request was pending")
            future.set_exception(closed)
            future.exception()
            raise closed from None
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: no warning when nobody else was waiting
            raise
        else:
            future.set_result(task)
            return task
        finally:
            self._running.discard(me)
            self._closing.discard(me)
            del self._inflight[key]

    async def _attempts(self, gate: ProviderGate, task_id: str) -> UnifiedTask[Any]:
        session = self._ensure_session()
        failures = 0
        while True:
            await gate.enter(task_id)
            try:
                return await attempt(
                    session,
                    gate.adapter,
                    task_id,
                    timeout=self._timeout,
                    max_bytes=self._max_bytes,
                    redact=self._redact,
                    attempt_no=failures + 1,
                )
            except ProviderError as exc:
                error = exc
            finally:
                gate.leave()
            failures += 1
            delay = self._retry_delay(gate, error, failures)
            await self._sleep(delay)

    def _retry_delay(self, gate: ProviderGate, error: ProviderError, failures: int) -> float:
        """Return how long to wait before the next attempt, or raise ``error``."""
        policy = self._retry
        if isinstance(error, APIError) and error.status == 429:
            gate.rate_limited += 1
        if isinstance(error, DecodeError):
            raise error
        status = error.status if isinstance(error, APIError) else None
        if status is not None and status not in RETRY_STATUSES:
            raise error
        retry_after = error.retry_after if isinstance(error, APIError) else None
        if retry_after is not None and retry_after > policy.max_retry_after:
            logger.warning(
                "giving up on %s task %s: server asks to wait %.0fs, above max_retry_after",
                gate.name,
                show_id(error.task_id),
                retry_after,
            )
            raise error
        if failures >= policy.max_attempts:
            if policy.max_attempts > 1:
                logger.warning(
                    "giving up on %s task %s after %d attempts: %s",
                    gate.name,
                    show_id(error.task_id),
                    failures,
                    type(error).__name__,
                )
            raise error
        gate.retries += 1
        if retry_after is not None:
            delay = clamp_delay(retry_after, policy.max_retry_after)
            gate.pause(delay)
            return delay
        delay = backoff(policy, failures)
        if status == 429:
            gate.pause(delay)
        return delay
