"""Every exception taskbridge raises, in one tree.

```
TaskBridgeError
├── BridgeClosedError           also a RuntimeError; the bridge was closed (or is in another loop)
├── ConfigurationError          bad/missing config, unknown or unconfigured provider
├── InvalidTaskIdError          also a ValueError; raised before any request is sent
├── WaitTimeoutError            also the builtin TimeoutError; .last
└── ProviderError               .provider, .task_id
    ├── TransportError          connection failures
    │   └── RequestTimeoutError also the builtin TimeoutError
    ├── QueueTimeoutError       would wait longer than max_queue_wait for a slot
    ├── BatchTimeoutError       also TimeoutError; unfinished when a batch's timeout ran out
    ├── APIError                .status, .title, .detail, .body, .headers, .attempts
    │   ├── AuthenticationError 401, 403
    │   ├── TaskNotFoundError   404
    │   ├── RateLimitedError    429, .retry_after
    │   └── ServerError         5xx
    └── DecodeError             body is not JSON, or does not fit the spec
```

Messages never contain credentials: they are built from the provider name, the
task id, the HTTP status and the provider's own error text only.

Every error pickles with its attributes (errors cross process pools and task queues);
the cause chain and traceback are not pickled, as with any exception.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from multidict import CIMultiDict, CIMultiDictProxy

__all__ = [
    "ID_SHOWN",
    "APIError",
    "AuthenticationError",
    "BatchTimeoutError",
    "BridgeClosedError",
    "ConfigurationError",
    "DecodeError",
    "InvalidTaskIdError",
    "ProviderError",
    "QueueTimeoutError",
    "RateLimitedError",
    "RequestTimeoutError",
    "ServerError",
    "TaskBridgeError",
    "TaskNotFoundError",
    "TransportError",
    "WaitTimeoutError",
    "api_error_for_status",
    "show_id",
]


ID_SHOWN = 80


def show_id(task_id: str) -> str:
    """A task id as messages and logs show it: its repr, cut after 80 characters."""
    if len(task_id) <= ID_SHOWN:
        return repr(task_id)
    return f"{task_id[:ID_SHOWN]!r}... ({len(task_id)} characters)"


def _restore(cls: type[BaseException], args: tuple[object, ...]) -> BaseException:
    """Unpickle an error without calling its keyword-only ``__init__``."""
    error = cls.__new__(cls)
    error.args = args
    return error


class TaskBridgeError(Exception):
    """Base class of every error taskbridge raises."""

    def __reduce__(self) -> tuple[object, ...]:
        # The default calls cls(*args), which keyword-only attributes cannot survive.
        return (_restore, (type(self), self.args), dict(vars(self)))


class BridgeClosedError(TaskBridgeError, RuntimeError):
    """The bridge was closed, or is used in an event loop other than its own.

    Raised by every call made after `TaskBridge.aclose`, and by calls that were still
    waiting or in flight when it ran. Also a `RuntimeError`, which is what aiohttp
    raises for a closed session.
    """


class ConfigurationError(TaskBridgeError):
    """A configuration is missing or invalid, or a provider is unknown or not configured."""


class InvalidTaskIdError(TaskBridgeError, ValueError):
    """A task id cannot be valid for its provider; no request was sent."""

    def __init__(self, message: str, *, provider: str, task_id: str) -> None:
        super().__init__(message)
        self.provider = provider
        self.task_id = task_id


class WaitTimeoutError(TaskBridgeError, TimeoutError):
    """`TaskBridge.wait` gave up: the task did not finish within its ``timeout``.

    ``last`` is the last `UnifiedTask` seen before the deadline, or ``None`` when no
    poll had answered yet.
    """

    def __init__(self, message: str, *, last: Any = None) -> None:
        super().__init__(message)
        self.last = last


class ProviderError(TaskBridgeError):
    """A request to a provider failed; ``provider`` and ``task_id`` say which.

    ``attempts`` is how many attempts were made (retries included) before the error
    was raised: 1 without retries, 0 when nothing was sent (a queue timeout).
    """

    attempts: int = 1

    def __init__(self, message: str, *, provider: str, task_id: str) -> None:
        super().__init__(message)
        self.provider = provider
        self.task_id = task_id


class TransportError(ProviderError):
    """The connection failed: refused, reset, dropped mid-answer, DNS, TLS."""


class RequestTimeoutError(TransportError, TimeoutError):
    """One attempt took longer than the configured ``timeout``."""


class QueueTimeoutError(ProviderError):
    """A request would have waited longer than its provider's ``max_queue_wait``.

    It waited (or would have) for a concurrency slot, a provider pause or the rate
    limiter, and was never sent. ``max_queue_wait`` holds the configured bound. Raised
    at once when the wait is predictable (a pause, a rate-limited backlog), else when
    the bound runs out. Never retried: it exists to shed load.
    """

    def __init__(self, message: str, *, provider: str, task_id: str, max_queue_wait: float) -> None:
        super().__init__(message, provider=provider, task_id=task_id)
        self.max_queue_wait = max_queue_wait


class BatchTimeoutError(ProviderError, TimeoutError):
    """The ``timeout`` of a `get_many` call ran out before this ref finished."""


class APIError(ProviderError):
    """The provider answered with an unexpected HTTP status.

    Attributes:
        status: the HTTP status.
        title: the title of the provider's error body, when it has one.
        detail: the detail of the provider's error body, when it has one.
        body: that body parsed into the provider's error model, or ``None`` when there
            was no parseable body.
        retry_after: the answer's ``Retry-After`` in seconds, when it had a usable one.
        headers: the answer's headers: a read-only, case-insensitive mapping
            (``error.headers.get("X-Request-Id")``), known secrets masked.
        attempts: how many attempts were made, this one included (1 without retries).
    """

    def __init__(
        self,
        message: str,
        *,
        provider: str,
        task_id: str,
        status: int,
        title: str | None = None,
        detail: str | None = None,
        body: object | None = None,
        retry_after: float | None = None,
        headers: Mapping[str, str] | None = None,
        attempts: int = 1,
    ) -> None:
        super().__init__(message, provider=provider, task_id=task_id)
        self.status = status
        self.title = title
        self.detail = detail
        self.body = body
        self.retry_after = retry_after
        self.headers: CIMultiDictProxy[str] = (
            headers
            if isinstance(headers, CIMultiDictProxy)
            else CIMultiDictProxy(CIMultiDict(headers or {}))
        )
        self.attempts = attempts

    def __reduce__(self) -> tuple[object, ...]:
        # A CIMultiDictProxy does not pickle: its items do.
        state = dict(vars(self))
        state["headers"] = list(self.headers.items())
        return (_restore, (type(self), self.args), state)

    def __setstate__(self, state: dict[str, Any] | None) -> None:
        state = state or {}
        headers = state.get("headers")
        if isinstance(headers, list):
            state = {**state, "headers": CIMultiDictProxy(CIMultiDict(headers))}
        vars(self).update(state)


class AuthenticationError(APIError):
    """401 or 403: the credentials are missing, wrong, or lack the permission."""


class TaskNotFoundError(APIError):
    """404: the provider has no such task (or no longer has it)."""


class RateLimitedError(APIError):
    """429: the provider asks to slow down; ``retry_after`` is its wait in seconds, if given."""


class ServerError(APIError):
    """5xx: the provider failed to answer."""


class DecodeError(ProviderError):
    """The body is not JSON, is too large, or does not fit the provider's schema."""


def api_error_for_status(status: int) -> type[APIError]:
    """Return the `APIError` subclass for an HTTP status."""
    if status in (401, 403):
        return AuthenticationError
    if status == 404:
        return TaskNotFoundError
    if status == 429:
        return RateLimitedError
    if 500 <= status <= 599:
        return ServerError
    return APIError
