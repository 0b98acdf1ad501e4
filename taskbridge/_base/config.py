"""Settings shared by every provider: the retry policy and base-URL checks."""

from __future__ import annotations

import ipaddress
import math
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import attrs
from yarl import URL

from .errors import ConfigurationError

if TYPE_CHECKING:
    from .errors import ProviderError

__all__ = ["RetryPolicy", "check_base_url", "required_pair"]


def _non_negative(_: object, attribute: attrs.Attribute[float], value: float) -> None:
    if not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0):
        raise ConfigurationError(f"RetryPolicy.{attribute.name} must be a finite number >= 0")


def _positive_int(_: object, attribute: attrs.Attribute[int], value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigurationError(f"RetryPolicy.{attribute.name} must be an integer >= 1")


def _callable_or_none(_: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if value is not None and not callable(value):
        raise ConfigurationError(f"RetryPolicy.{attribute.name} must be a callable or None")


def _bool(_: object, attribute: attrs.Attribute[bool], value: object) -> None:
    if not isinstance(value, bool):
        raise ConfigurationError(f"RetryPolicy.{attribute.name} must be True or False")


@attrs.frozen(kw_only=True)
class RetryPolicy:
    """How failed attempts are retried.

    Retried by default (`default_retry_on`): connection errors, timeouts, 408, 429, 500,
    502, 503 and 504, with exponential backoff and full jitter: before attempt ``n + 1``
    the wait is a random value in ``[0, min(max_backoff, initial_backoff * 2 ** (n -
    1))]``. A ``Retry-After`` on a retried answer is waited for instead, unless it is
    above ``max_retry_after``: then the error is raised at once. ``max_attempts``
    counts the first try, so ``RetryPolicy(max_attempts=1)`` never retries.

    `TaskBridge.wait` and `TaskBridge.watch` ask the same policy whether a poll that
    failed (after its own attempts) is polled again: what ``retry_on`` retries is
    polled again, after the poll interval or the ``Retry-After``, whichever is longer;
    anything else, or a ``Retry-After`` above ``max_retry_after``, ends the wait with
    the error (a watch yields it and lets the ref go), as `TaskBridge.get` would.

    Args:
        max_attempts: attempts in all, the first included.
        initial_backoff: seconds; the cap of the first random wait.
        max_backoff: seconds; no wait is longer.
        max_retry_after: seconds; a ``Retry-After`` above this is raised, not waited for.
        retry_on: ``retry_on(error) -> bool``: whether a failed attempt (a
            `ProviderError`) is worth another; ``None`` means `default_retry_on`, the
            table above. Extend it rather than rewrite it (see the example). An
            exception it raises ends the call with that exception.
        jitter: ``False`` waits the ceiling of each back-off instead of a random part
            of it: deterministic waits, for tests.

    Raises:
        ConfigurationError: a value is not a finite number >= 0 (``max_attempts``: an
            integer >= 1; ``retry_on``: a callable or None; ``jitter``: a bool).

    Example:
        ```python
        from taskbridge import DecodeError, RetryPolicy, TaskBridge, default_retry_on

        def retry_on(error):  # also retry bodies cut short by a flaky proxy
            return default_retry_on(error) or isinstance(error, DecodeError)

        TaskBridge(cakewalk=config, retry=RetryPolicy(max_attempts=6, retry_on=retry_on))
        ```
    """

    max_attempts: int = attrs.field(default=4, validator=_positive_int)
    initial_backoff: float = attrs.field(default=0.5, validator=_non_negative)
    max_backoff: float = attrs.field(default=20.0, validator=_non_negative)
    max_retry_after: float = attrs.field(default=120.0, validator=_non_negative)
    retry_on: Callable[[ProviderError], bool] | None = attrs.field(
        default=None, validator=_callable_or_none
    )
    jitter: bool = attrs.field(default=True, validator=_bool)


def _is_loopback(host: str) -> bool:
    # Exactly what the docs promise: not "*.localhost", which a resolver may send anywhere.
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_base_url(url: object, *, what: str) -> str:
    """Validate a base URL and return it without a trailing slash.

    Only ``https`` is accepted, except for loopback hosts (``localhost``,
    ``127.0.0.0/8``, ``::1``), where plain ``http`` is allowed for local servers.
    """
    if not isinstance(url, str) or not url.strip():
        raise ConfigurationError(f"{what} must be a non-empty URL string")
    try:
        parts = urlsplit(url.strip())
        host = parts.hostname
        _ = parts.port  # raises ValueError for a bad port
    except ValueError as exc:
        raise ConfigurationError(f"{what} is not a valid URL: {exc}") from exc
    if parts.scheme not in ("http", "https") or not host:
        raise ConfigurationError(f"{what} must be an http(s) URL with a host, like https://host")
    if parts.username is not None or parts.password is not None:
        raise ConfigurationError(f"{what} must not carry credentials in the URL")
    if parts.query or parts.fragment:
        raise ConfigurationError(f"{what} must not have a query or a fragment")
    if parts.scheme != "https" and not _is_loopback(host):
        raise ConfigurationError(
            f"{what} must use https (plain http is only allowed for loopback hosts), "
            f"got {parts.scheme}://{host}"
        )
    # Spaces and non-ASCII in the path are percent-encoded (valid escapes are kept),
    # and a non-ASCII host is IDNA-encoded: what is sent is a valid URL.
    try:
        encoded = URL(f"{parts.scheme}://{parts.netloc}{parts.path}")
        text = str(encoded)
    except (ValueError, UnicodeError) as exc:
        raise ConfigurationError(f"{what} is not a valid URL: {exc}") from None
    return text.rstrip("/")


def required_pair(
    environ: Mapping[str, str], prefix: str, first: str, second: str
) -> tuple[str, str] | None:
    """The values of ``{prefix}{first}`` and ``{prefix}{second}``: ``None`` when neither is
    set, `ConfigurationError` naming the missing one when only one is."""
    one, two = environ.get(prefix + first, ""), environ.get(prefix + second, "")
    if not one and not two:
        return None
    if not one or not two:
        raise ConfigurationError(f"{prefix}{second if one else first} is not set")
    return one, two
