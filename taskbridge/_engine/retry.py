"""The one retry rule: whether a failure is tried again, and after how long.

`decide` answers for both callers: the fetch loop of the engine (another attempt of
one request, `TaskBridge.get` and every front end over it) and the polling scheduler
(another poll of a task that `wait`/`watch` follow, once its fetch gave up). What is
retried is the policy's ``retry_on`` (`default_retry_on`, the contract's table, unless
the user gives one); a ``Retry-After`` above ``max_retry_after`` is never waited for.
Each verdict is logged with its reason in one record.
"""

from __future__ import annotations

import email.utils
import logging
import math
import random
import re
import time

from .._base.config import RetryPolicy
from .._base.errors import APIError, ProviderError, QueueTimeoutError, TransportError, show_id

__all__ = [
    "MAX_DELAY",
    "RETRY_STATUSES",
    "backoff",
    "clamp_delay",
    "decide",
    "default_retry_on",
    "parse_retry_after",
]

# A child of the "taskbridge" logger: its records (one per decision) can be tuned apart
# from the attempt records.
logger = logging.getLogger("taskbridge.retry")

RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})

# No computed wait is ever longer than this (about 68 years, still a float asyncio accepts):
# a server's "Retry-After: 99999999999999999999" is kept as a large, finite number.
MAX_DELAY = float(2**31)

# RFC 9110 10.2.3: delay-seconds = 1*DIGIT, ASCII digits only (no superscripts, no
# digits of other scripts, no sign, no fraction).
_DELAY_SECONDS = re.compile(r"[0-9]+")


def default_retry_on(error: ProviderError) -> bool:
    """Whether ``error`` is worth another try by default: the contract's table.

    Yes for connection errors and timeouts (`TransportError`), for the answers 408,
    429, 500, 502, 503 and 504, and for a `QueueTimeoutError` (load shedding, not a
    verdict on the task: `get` raises it at once, as no attempt was made, but a poll of
    `wait`/`watch` tries again later). No for every other status, for a `DecodeError`,
    and for anything else.

    Pass your own predicate as ``RetryPolicy(retry_on=...)``, extending this one.

    Example:
        ```python
        RetryPolicy(retry_on=lambda e: default_retry_on(e) or isinstance(e, DecodeError))
        ```
    """
    if isinstance(error, APIError):
        return error.status in RETRY_STATUSES
    return isinstance(error, (TransportError, QueueTimeoutError))


def clamp_delay(seconds: float, ceiling: float = MAX_DELAY) -> float:
    """``seconds`` within ``[0, ceiling]``; anything not a finite number becomes 0."""
    if not isinstance(seconds, (int, float)) or math.isnan(seconds) or seconds <= 0:
        return 0.0
    return float(min(seconds, ceiling, MAX_DELAY))


def backoff(policy: RetryPolicy, failed_attempts: int, rand: random.Random | None = None) -> float:
    """Full-jitter exponential backoff after ``failed_attempts`` failures (1 or more);
    the ceiling itself with ``policy.jitter`` off."""
    # 2.0 ** 1024 overflows; past 2 ** 64 the ceiling is max_backoff for any sane policy.
    exponent = min(max(failed_attempts - 1, 0), 64)
    ceiling = clamp_delay(min(policy.max_backoff, policy.initial_backoff * 2.0**exponent))
    if ceiling <= 0 or not policy.jitter:
        return ceiling
    return clamp_delay((rand or random).uniform(0.0, ceiling), ceiling)


def decide(
    policy: RetryPolicy,
    error: ProviderError,
    *,
    failures: int | None = None,
    after: float = 0.0,
    rand: random.Random | None = None,
) -> float | None:
    """Seconds to wait before trying again after ``error``, or ``None``: give up.

    Args:
        policy: the bridge's (or view's) `RetryPolicy`.
        error: what the attempt or the poll failed with.
        failures: for an attempt of a fetch, how many attempts failed so far (1 or
            more): none is left at ``policy.max_attempts``, and the wait is the
            ``Retry-After`` or the back-off. ``None`` for a poll of `wait`/`watch`,
            whose fetch already made its attempts: polled again as long as the error
            is retryable, after ``max(after, Retry-After)``.
        after: for a poll, its own next interval.
        rand: the back-off's random source (tests).

    Raises:
        Exception: whatever ``policy.retry_on`` raises.
    """
    retry_after = error.retry_after if isinstance(error, APIError) else None
    retry_on = policy.retry_on or default_retry_on
    delay: float | None = None
    level = logging.DEBUG
    if not retry_on(error):
        why = "not retryable" if policy.retry_on is None else "retry_on says no"
    elif retry_after is not None and retry_after > policy.max_retry_after:
        why = f"asked to wait {retry_after:.0f}s, above max_retry_after"
        level = logging.WARNING if failures is not None else level
    elif failures is None:
        delay = max(after, clamp_delay(retry_after or 0.0, policy.max_retry_after))
        why = "Retry-After" if retry_after is not None and retry_after > after else "interval"
    elif failures >= policy.max_attempts:
        why = f"after {failures} attempts"
        level = logging.WARNING if policy.max_attempts > 1 else level
    elif retry_after is not None:
        delay = clamp_delay(retry_after, policy.max_retry_after)
        why = "Retry-After"
    else:
        delay = backoff(policy, failures, rand)
        why = f"back-off after {failures} of {policy.max_attempts} attempts"
    if logger.isEnabledFor(level):
        cause = type(error).__name__
        if isinstance(error, APIError):
            cause += f" {error.status}"
        args: tuple[float, ...] = ()
        if delay is None:
            message = "giving up on %s task %s (%s): %s"
        elif failures is None:
            message, args = "polling %s task %s again in %.3gs (%s): %s", (delay,)
        else:
            message, args = "retrying %s task %s in %.3gs (%s): %s", (delay,)
        logger.log(level, message, error.provider, show_id(error.task_id), *args, why, cause)
    return delay


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Read a ``Retry-After`` header: delay-seconds or an HTTP date; ``None`` if unusable.

    Never raises: any value that is neither ASCII digits nor an HTTP date with a zone
    means "no hint". A huge number of seconds is capped at `MAX_DELAY`.
    """
    if value is None:
        return None
    try:
        value = value.strip()
        if _DELAY_SECONDS.fullmatch(value):
            # int() first: float() of 400 digits is inf, int() of them is exact.
            return float(min(int(value), int(MAX_DELAY))) if len(value) < 20 else MAX_DELAY
        if not value or len(value) > 64:
            return None
        when = email.utils.parsedate_to_datetime(value)
        if when is None or when.tzinfo is None:
            return None
        current = time.time() if now is None else now
        return clamp_delay(when.timestamp() - current)
    except Exception:
        # parsedate_to_datetime raises TypeError, ValueError, IndexError, OverflowError...
        return None
