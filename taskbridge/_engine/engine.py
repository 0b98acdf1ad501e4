"""The engine behind `TaskBridge`: gates, in-flight de-duplication, attempts and retries.

`Engine` is the state a bridge and its views share (session, gates, requests in
flight); `Caller` is the engine with one facade's per-call settings, the interface
`get`, `get_many` (`_batch`), `stream` (`_stream`) and `wait`/`watch` (`_watch`) use::

    caller.check_loop()                      # first use binds the event loop
    caller.resolve(item) -> (ref, gate, task_id, error)
    caller.gate(provider) -> ProviderGate    # ConfigurationError if unknown
    await caller.fetch(gate, task_id) -> UnifiedTask   # de-duplicated, retried
    caller.window() -> int                   # refs a stream holds before any lane exists
    caller.ensure_session(); caller.redact   # the session; what errors must not show

No module calls a private method of the facade.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from contextlib import AbstractAsyncContextManager
from typing import Any

import aiohttp
import attrs

from .._base.config import RetryPolicy
from .._base.errors import (
    APIError,
    BridgeClosedError,
    ConfigurationError,
    ProviderError,
    TaskBridgeError,
)
from .._base.models import Provider, TaskRef, UnifiedTask
from ..providers._kit.registry import registered
from .gate import ProviderGate
from .hooks import HookSet, PauseEvent, RetryEvent, enter_observed
from .retry import decide
from .transport import Redactor, attempt

__all__ = ["Caller", "Engine", "Settings", "Tally"]

# ``TaskRef(provider, task_id)`` without the Python-level ``__new__`` of a NamedTuple.
_new_ref = tuple.__new__


def _still_cancelled(task: asyncio.Task[Any]) -> bool:
    """Withdraw one cancellation of ``task``; whether another one is still pending.

    Python 3.10 has no ``uncancel``: there, a cancellation that arrives together with
    the bridge's own is taken as the bridge's.
    """
    uncancel = getattr(task, "uncancel", None)
    return bool(uncancel is not None and uncancel() > 0)


@attrs.frozen
class Settings:
    """One facade's per-call settings (a view of `TaskBridge.with_options` has its own)."""

    retry: RetryPolicy
    timeout: aiohttp.ClientTimeout
    max_bytes: int
    hooks: HookSet | None = None


class Tally:
    """The attempts one batch worker's current fetch started (reused from ref to ref)."""

    __slots__ = ("attempts",)

    def __init__(self) -> None:
        self.attempts = 0


class Engine:
    """What a bridge and its views share: session, gates, requests in flight."""

    def __init__(
        self,
        gates: dict[str, ProviderGate],
        redact: Redactor,
        *,
        session: aiohttp.ClientSession | None,
        sleep: Callable[[float], Any],
        hold: Callable[[], AbstractAsyncContextManager[None]] | None = None,
    ) -> None:
        self.gates = gates
        self.redact = redact
        self.session = session
        self.owns_session = session is None
        self.sleep = sleep
        # A test clock stands still while an attempt is in flight (`Clock.attempt`).
        self.attempt = attempt if hold is None else _held(attempt, hold)
        self.closed = False
        # The loop of first use: the session, gates and futures belong to it.
        self.loop: asyncio.AbstractEventLoop | None = None
        # Refs being fetched; the future, made by the first duplicate, shares the outcome.
        self.inflight: dict[tuple[str, str], asyncio.Future[UnifiedTask[Any]] | None] = {}
        # Tasks running attempts now, and those close() cancelled (see fetch).
        self.running: set[asyncio.Task[Any]] = set()
        self.closing: set[asyncio.Task[Any]] = set()

    def check_loop(self) -> None:
        """Refuse a call from an event loop other than the one the bridge first ran in."""
        loop = asyncio.get_running_loop()
        if self.loop is None:
            self.loop = loop
        elif loop is not self.loop:
            raise BridgeClosedError(
                "this TaskBridge belongs to another event loop (was it used in an earlier "
                "asyncio.run()?): create one bridge per event loop, with `async with`"
            )

    def ensure_session(self) -> aiohttp.ClientSession:
        if self.closed:
            raise BridgeClosedError("this TaskBridge is closed")
        self.check_loop()
        if self.session is None:
            total = sum(gate.limits.max_concurrency for gate in self.gates.values())
            self.session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=max(total, 1), ttl_dns_cache=300),
                cookie_jar=aiohttp.DummyCookieJar(),
            )
        return self.session

    def cancel_running(self) -> None:
        """Mark the engine closed and cancel every task running attempts but this one."""
        self.closed = True
        current = asyncio.current_task()
        for task in list(self.running):
            if task is not current and task not in self.closing:
                self.closing.add(task)
                task.cancel()

    async def close_session(self) -> None:
        session, self.session = self.session, None
        if session is not None and self.owns_session:
            await session.close()

    def gate(self, provider: object) -> ProviderGate:
        if isinstance(provider, Provider):
            name = provider.value
        elif isinstance(provider, str):
            name = provider.strip().lower()
        else:
            raise ConfigurationError(
                f"provider must be a string or a Provider, got {type(provider).__name__}"
            )
        gate = self.gates.get(name)
        if gate is None:
            known = {**dict.fromkeys(registered()), **dict.fromkeys(self.gates)}
            if name in known:
                raise ConfigurationError(f"provider {name!r} is not configured on this bridge")
            raise ConfigurationError(
                f"unknown provider {provider!r} (registered: {', '.join(known)})"
            )
        return gate

    def resolve(
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
        gate = self.gates.get(provider) if type(provider) is str else None
        if gate is not None:
            # The common case: the exact name of a configured provider.
            ref = item if type(item) is TaskRef else _new_ref(TaskRef, (provider, task_id))
            try:
                return ref, gate, gate.adapter.check_id(task_id), None
            except TaskBridgeError as exc:
                return ref, None, "", exc
        name = provider.value if isinstance(provider, Provider) else str(provider)
        ref = TaskRef(name, task_id)  # type: ignore[arg-type]  # checked just below
        try:
            gate = self.gate(provider)
            return ref, gate, gate.adapter.check_id(task_id), None
        except TaskBridgeError as exc:
            return ref, None, "", exc

    def window(self) -> int:
        return max(16, 2 * sum(gate.limits.max_concurrency for gate in self.gates.values()))

    async def fetch(  # noqa: PLR0912, PLR0915 - retries inline: one frame less per request
        self, gate: ProviderGate, task_id: str, settings: Settings, tally: Tally | None = None
    ) -> UnifiedTask[Any]:
        """Fetch with retries; identical requests in flight share one attempt loop.

        The first caller runs the attempts in its own task (no task per request);
        later callers for the same ref wait on a future made when the first of them
        comes. If the first caller is cancelled, a waiter that was not takes the
        request over. ``tally.attempts``, when given, counts the attempts this call
        starts (it stays as it was for a call that joins one in flight).
        """
        key = (gate.name, task_id)
        loop = asyncio.get_running_loop()
        if loop is not self.loop:
            self.check_loop()
        inflight = self.inflight
        while key in inflight:
            shared = inflight[key]
            if shared is None:
                shared = inflight[key] = loop.create_future()
            # wait() raises CancelledError only when *we* are cancelled, on every
            # Python: a shield would also raise it when the caller running the
            # request is, and 3.10 cannot tell the two apart.
            await asyncio.wait((shared,))
            if not shared.cancelled():
                return shared.result()
            # The caller that ran it was cancelled, not us: run it ourselves.
        session = self.session
        if session is None or self.closed:
            session = self.ensure_session()
        me = asyncio.current_task(loop)
        assert me is not None
        inflight[key] = None  # the future is made by the first duplicate, if any
        self.running.add(me)
        hooks = settings.hooks
        if hooks is not None and not hooks.live():
            hooks = None
        try:
            failures = 0
            while True:
                if not gate.try_enter():
                    if hooks is None:
                        await gate.enter(task_id)
                    else:
                        await enter_observed(hooks, gate, task_id)
                if tally is not None:
                    tally.attempts = failures + 1
                try:
                    task = await self.attempt(
                        session,
                        gate.adapter,
                        task_id,
                        timeout=settings.timeout,
                        max_bytes=settings.max_bytes,
                        redact=self.redact,
                        attempt_no=failures + 1,
                        hooks=hooks,
                    )
                    break
                except ProviderError as exc:
                    error = exc
                finally:
                    gate.leave()
                failures += 1
                error.attempts = failures
                delay = retry_delay(settings.retry, gate, error, failures)
                if hooks is not None:
                    hooks.retry(RetryEvent(gate.name, task_id, failures, error, delay))
                    if isinstance(error, APIError) and error.status == 429:
                        retry_after = error.retry_after
                        hooks.rate_limit_pause(PauseEvent(gate.name, task_id, delay, retry_after))
                await self.sleep(delay)
        except asyncio.CancelledError:
            if me not in self.closing or _still_cancelled(me):
                self._settle(key, None)
                raise
            closed = BridgeClosedError("this TaskBridge was closed while the request was pending")
            self._settle(key, closed)
            raise closed from None
        except BaseException as exc:
            self._settle(key, exc)
            raise
        else:
            shared = inflight.pop(key)
            if shared is not None:
                shared.set_result(task)
            return task
        finally:
            self.running.discard(me)
            self.closing.discard(me)

    def _settle(self, key: tuple[str, str], error: BaseException | None) -> None:
        """End ``key``'s failed flight: its waiters (if any) get ``error``, or, without
        one, a cancellation (one of them then runs the request)."""
        shared = self.inflight.pop(key)
        if shared is None:
            return
        if error is not None:
            shared.set_exception(error)
            shared.exception()  # retrieved: no warning when nobody else was waiting
        else:
            shared.cancel()


def _held(
    run: Callable[..., Awaitable[UnifiedTask[Any]]],
    hold: Callable[[], AbstractAsyncContextManager[None]],
) -> Callable[..., Awaitable[UnifiedTask[Any]]]:
    async def held(*args: Any, **kwargs: Any) -> UnifiedTask[Any]:
        async with hold():
            return await run(*args, **kwargs)

    return held


def retry_delay(
    policy: RetryPolicy, gate: ProviderGate, error: ProviderError, failures: int
) -> float:
    """Return how long to wait before the next attempt (`retry.decide`), or raise
    ``error``; a 429, or any retried answer with a ``Retry-After``, pauses the provider."""
    is_429 = isinstance(error, APIError) and error.status == 429
    if is_429:
        gate.rate_limited += 1
    delay = decide(policy, error, failures=failures)
    if delay is None:
        raise error
    gate.retries += 1
    if is_429 or (isinstance(error, APIError) and error.retry_after is not None):
        gate.pause(delay)
    return delay


class Caller:
    """The engine with one facade's settings: what get, get_many, stream and watch use.

    A view of `TaskBridge.with_options` has its own caller (its settings, its closed
    flag) over the same engine.
    """

    def __init__(self, engine: Engine, settings: Settings) -> None:
        self.engine = engine
        self.settings = settings
        self._closed = False
        #: ``resolve(item) -> (ref, gate, task_id, error)``: the engine's (no wrapper call).
        self.resolve: Callable[
            [object], tuple[TaskRef, ProviderGate | None, str, TaskBridgeError | None]
        ] = engine.resolve

    @property
    def closed(self) -> bool:
        return self._closed or self.engine.closed

    def close(self) -> None:
        """Refuse later calls through this caller (the engine stays open)."""
        self._closed = True

    @property
    def redact(self) -> Redactor:
        return self.engine.redact

    def check_loop(self) -> None:
        self.engine.check_loop()

    def ensure_session(self) -> aiohttp.ClientSession:
        if self._closed:
            raise BridgeClosedError("this TaskBridge is closed")
        return self.engine.ensure_session()

    def gate(self, provider: object) -> ProviderGate:
        return self.engine.gate(provider)

    def window(self) -> int:
        return self.engine.window()

    def fetch(
        self, gate: ProviderGate, task_id: str, tally: Tally | None = None
    ) -> Coroutine[Any, Any, UnifiedTask[Any]]:
        """``await caller.fetch(gate, task_id)``: the engine's fetch with these settings
        (not a coroutine itself: one frame less on every request's resumptions)."""
        if self._closed:
            self.engine.check_loop()
            raise BridgeClosedError("this TaskBridge is closed")
        return self.engine.fetch(gate, task_id, self.settings, tally)
