"""Event hooks: what the engine tells an observer about each request, and how it is told.

A hook is an `EventHooks` (subclass it and override the events you want; the others do
nothing) passed as ``TaskBridge(hooks=...)``. The engine calls it at five points::

    queue_wait(QueueWaitEvent)      a request waited for a slot, a pause or the rate limiter
    request(RequestEvent)           an attempt is about to be sent (may add headers)
    response(ResponseEvent)         that attempt ended: answered, or failed
    retry(RetryEvent)               a failed attempt will be tried again after ``delay``
    rate_limit_pause(PauseEvent)    a 429 paused every request of the provider

Events hold no secret: the URL carries none (credentials travel in headers, which no
event holds), response headers have known secrets masked, and every ``repr`` is safe
to log. A hook that raises is logged once at WARNING (then at DEBUG) and ignored: it
never fails a fetch. Hooks run on the event loop, inline: keep them quick (hand slow
work to a queue). With no hook installed the engine builds no event at all.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, Protocol

from multidict import CIMultiDict, CIMultiDictProxy

from .._base.errors import ConfigurationError, ProviderError, QueueTimeoutError
from .._base.secrets import MASK, Redactor

if TYPE_CHECKING:
    from contextlib import AbstractContextManager

    from .gate import ProviderGate

__all__ = [
    "CallScope",
    "EventHooks",
    "HookSet",
    "PauseEvent",
    "QueueWaitEvent",
    "RequestEvent",
    "ResponseEvent",
    "RetryEvent",
    "enter_observed",
    "hook_set",
    "masked_headers",
]

logger = logging.getLogger("taskbridge")

_CREDENTIAL_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "x-api-key", "x-api-secret", "cookie", "set-cookie"}
)
_EMPTY: CIMultiDictProxy[str] = CIMultiDictProxy(CIMultiDict())


def masked_headers(headers: Mapping[str, str] | None, redact: Redactor) -> CIMultiDictProxy[str]:
    """A read-only, case-insensitive copy of response headers with secrets masked."""
    if not headers:
        return _EMPTY
    return CIMultiDictProxy(
        CIMultiDict(
            (name, MASK if name.lower() in _CREDENTIAL_HEADERS else redact.text(value))
            for name, value in headers.items()
        )
    )


class _Event:
    __slots__ = ()

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._shown())
        return f"{type(self).__name__}({fields})"

    def _shown(self) -> tuple[str, ...]:
        return tuple(n for cls in type(self).__mro__ for n in getattr(cls, "__slots__", ()))


class RequestEvent(_Event):
    """An attempt about to be sent.

    Attributes:
        provider: the provider's name.
        task_id: the task id as sent.
        method: ``"GET"``.
        url: the full URL (no credentials: those are headers, which are not shown).
        attempt: 1 for the first try, 2 for the first retry, ...
        headers: extra headers to send with this attempt; a hook may add to it (W3C
            ``traceparent``, say). It starts empty and never overrides the provider's
            own (credential) headers.
    """

    __slots__ = ("attempt", "headers", "method", "provider", "task_id", "url")

    def __init__(self, provider: str, task_id: str, url: str, attempt: int) -> None:
        self.provider = provider
        self.task_id = task_id
        self.method = "GET"
        self.url = url
        self.attempt = attempt
        self.headers: dict[str, str] = {}


class ResponseEvent(_Event):
    """An attempt that ended, answered (``status`` set) or not (``status`` None).

    Attributes:
        request: the `RequestEvent` of this attempt.
        status: the HTTP status, or ``None`` when no answer came (connection, timeout).
        headers: the response's headers (read-only, case-insensitive, known secrets
            masked); empty without an answer.
        error: the `ProviderError` this attempt ended with (``CancelledError`` if it was
            cancelled), or ``None`` on success.
        elapsed: seconds from sending to the end of reading (and decoding) the answer.
    """

    __slots__ = ("_headers", "_raw", "_redact", "elapsed", "error", "request", "status")

    def __init__(  # noqa: PLR0917 - built in one place, positionally (per attempt)
        self,
        request: RequestEvent,
        status: int | None,
        raw_headers: Mapping[str, str] | None,
        error: BaseException | None,
        elapsed: float,
        redact: Redactor,
    ) -> None:
        self.request = request
        self.status = status
        self._raw = raw_headers
        self._headers: CIMultiDictProxy[str] | None = None
        self._redact = redact
        self.error = error
        self.elapsed = elapsed

    @property
    def headers(self) -> CIMultiDictProxy[str]:
        if self._headers is None:
            self._headers = masked_headers(self._raw, self._redact)
            self._raw = None
        return self._headers

    def _shown(self) -> tuple[str, ...]:
        return ("request", "status", "error", "elapsed")


class RetryEvent(_Event):
    """A failed attempt that will be tried again after ``delay`` seconds.

    Attributes:
        provider, task_id: which request.
        attempt: the attempt that failed (1-based).
        error: why it failed (a `ProviderError`).
        delay: seconds until the next attempt (back-off or the server's ``Retry-After``).
    """

    __slots__ = ("attempt", "delay", "error", "provider", "task_id")

    def __init__(
        self, provider: str, task_id: str, attempt: int, error: ProviderError, delay: float
    ) -> None:
        self.provider = provider
        self.task_id = task_id
        self.attempt = attempt
        self.error = error
        self.delay = delay


class PauseEvent(_Event):
    """A 429 that pauses every new request of the provider for ``seconds``.

    Attributes:
        provider, task_id: the request that got the 429.
        seconds: the pause.
        retry_after: the answer's ``Retry-After`` in seconds, or ``None`` without one.
    """

    __slots__ = ("provider", "retry_after", "seconds", "task_id")

    def __init__(
        self, provider: str, task_id: str, seconds: float, retry_after: float | None
    ) -> None:
        self.provider = provider
        self.task_id = task_id
        self.seconds = seconds
        self.retry_after = retry_after


class QueueWaitEvent(_Event):
    """A request that could not start at once and waited to be admitted.

    Attributes:
        provider, task_id: which request.
        waited: seconds from the start of the wait until admitted (or refused).
        rate_limit_wait: of those, seconds waiting for a pause or the rate limiter
            after a concurrency slot was free (the rest was the wait for a slot).
        error: the `QueueTimeoutError` when ``max_queue_wait`` refused it, else ``None``.
    """

    __slots__ = ("error", "provider", "rate_limit_wait", "task_id", "waited")

    def __init__(
        self,
        provider: str,
        task_id: str,
        waited: float,
        rate_limit_wait: float,
        error: QueueTimeoutError | None,
    ) -> None:
        self.provider = provider
        self.task_id = task_id
        self.waited = waited
        self.rate_limit_wait = rate_limit_wait
        self.error = error


class EventHooks:
    """Subclass and override the events to observe; each default does nothing.

    Example:
        ```python
        class CountRetries(EventHooks):
            def retry(self, event: RetryEvent) -> None:
                RETRIES.labels(event.provider, type(event.error).__name__).inc()

        bridge = TaskBridge(cakewalk=..., hooks=[CountRetries()])
        ```
    """

    def enabled(self) -> bool:
        """Whether to be told of anything right now (asked once per request: keep it
        cheap). The OpenTelemetry hook says no until an SDK is configured."""
        return True

    def request(self, event: RequestEvent) -> None:
        """An attempt is about to be sent; ``event.headers`` may be added to."""

    def response(self, event: ResponseEvent) -> None:
        """An attempt ended (answered or failed)."""

    def retry(self, event: RetryEvent) -> None:
        """A failed attempt will be tried again."""

    def rate_limit_pause(self, event: PauseEvent) -> None:
        """A 429 paused the provider."""

    def queue_wait(self, event: QueueWaitEvent) -> None:
        """A request waited to be admitted (slot, pause, rate limiter)."""

    def call(self, name: str, attributes: dict[str, Any]) -> CallScope | None:
        """A logical call starts (``taskbridge.get``, ``taskbridge.get_many``,
        ``taskbridge.stream``, ``taskbridge.wait``, ``taskbridge.watch``): return a
        `CallScope` to follow it, or ``None`` (the default) not to.

        The OpenTelemetry integration follows calls with spans; most hooks leave it.
        """
        return None


class CallScope(Protocol):
    """One logical call, as a hook follows it (see `EventHooks.call`)."""

    def activate(self) -> AbstractContextManager[object]:
        """Entered around each step of the call that runs in the caller's task; the
        attempts started inside belong to this call."""
        ...

    def event(self, name: str, attributes: dict[str, Any]) -> None:
        """Something happened during the call (a status change of a waited task)."""
        ...

    def end(self, error: BaseException | None, attributes: dict[str, Any]) -> None:
        """The call ended, with ``error`` or not; ``attributes`` sum it up."""
        ...


class HookSet:
    """The installed hooks, called in order; one that raises is logged and skipped."""

    __slots__ = ("_warned", "follow_calls", "hooks")

    def __init__(self, hooks: tuple[EventHooks, ...]) -> None:
        self.hooks = hooks
        self._warned: set[tuple[int, str]] = set()
        #: The hooks that follow logical calls (their class overrides `EventHooks.call`).
        self.follow_calls = tuple(h for h in hooks if type(h).call is not EventHooks.call)

    def __repr__(self) -> str:
        return f"<HookSet of {len(self.hooks)}>"

    def live(self) -> bool:
        """Whether any hook wants events now (`EventHooks.enabled`)."""
        for hook in self.hooks:
            try:
                if hook.enabled():
                    return True
            except Exception as exc:
                self._failed(hook, "enabled", exc)
        return False

    def follows(self) -> bool:
        """Whether a live hook follows logical calls."""
        return bool(self.follow_calls) and self.live()

    def _failed(self, hook: object, event: str, exc: Exception) -> None:
        key = (id(hook), event)
        first = key not in self._warned
        self._warned.add(key)
        logger.log(
            logging.WARNING if first else logging.DEBUG,
            "taskbridge hook %s.%s raised %s; ignored%s",
            type(hook).__name__,
            event,
            type(exc).__name__,
            "" if first else " (again)",
        )

    def request(self, event: RequestEvent) -> None:
        for hook in self.hooks:
            try:
                hook.request(event)
            except Exception as exc:
                self._failed(hook, "request", exc)

    def response(self, event: ResponseEvent) -> None:
        for hook in self.hooks:
            try:
                hook.response(event)
            except Exception as exc:
                self._failed(hook, "response", exc)

    def retry(self, event: RetryEvent) -> None:
        for hook in self.hooks:
            try:
                hook.retry(event)
            except Exception as exc:
                self._failed(hook, "retry", exc)

    def rate_limit_pause(self, event: PauseEvent) -> None:
        for hook in self.hooks:
            try:
                hook.rate_limit_pause(event)
            except Exception as exc:
                self._failed(hook, "rate_limit_pause", exc)

    def queue_wait(self, event: QueueWaitEvent) -> None:
        for hook in self.hooks:
            try:
                hook.queue_wait(event)
            except Exception as exc:
                self._failed(hook, "queue_wait", exc)

    def failed(self, hook: object, event: str, exc: Exception) -> None:
        """Log a hook's failure (once at WARNING, then at DEBUG)."""
        self._failed(hook, event, exc)

    def calls(self, name: str, attributes: dict[str, Any]) -> list[tuple[EventHooks, CallScope]]:
        """The scopes of the hooks that follow this call."""
        found = []
        for hook in self.follow_calls:
            try:
                scope = hook.call(name, attributes)
            except Exception as exc:
                self._failed(hook, "call", exc)
                continue
            if scope is not None:
                found.append((hook, scope))
        return found


def hook_set(hooks: object) -> tuple[EventHooks, ...]:
    """Check ``TaskBridge(hooks=...)``: an `EventHooks`, an iterable of them, or None."""
    if hooks is None:
        return ()
    if isinstance(hooks, EventHooks):
        return (hooks,)
    if isinstance(hooks, (str, bytes)) or not isinstance(hooks, Iterable):
        raise ConfigurationError("hooks must be an EventHooks, a list of them, or None")
    found = tuple(hooks)
    if not all(isinstance(h, EventHooks) for h in found):
        raise ConfigurationError("each hook must be an EventHooks instance")
    return found


async def enter_observed(hooks: HookSet, gate: ProviderGate, task_id: str) -> None:
    """`ProviderGate.enter`, its wait told to ``hooks`` as a `QueueWaitEvent`."""
    started = gate.now()
    try:
        rate_wait = await gate.enter(task_id)
    except QueueTimeoutError as exc:
        hooks.queue_wait(QueueWaitEvent(gate.name, task_id, gate.now() - started, 0.0, exc))
        raise
    hooks.queue_wait(QueueWaitEvent(gate.name, task_id, gate.now() - started, rate_wait, None))
