"""Which failures are retried, and how long to wait before the next attempt."""

from __future__ import annotations

import email.utils
import math
import random
import time

from ._config import RetryPolicy

__all__ = ["RETRY_STATUSES", "backoff", "parse_retry_after"]

RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})


def backoff(policy: RetryPolicy, failed_attempts: int, rand: random.Random | None = None) -> float:
    """Full-jitter exponential backoff after ``failed_attempts`` failures (1 or more)."""
    ceiling = min(policy.max_backoff, policy.initial_backoff * 2.0 ** (failed_attempts - 1))
    if ceiling <= 0:
        return 0.0
    return (rand or random).uniform(0.0, ceiling)


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Read a ``Retry-After`` header: delta seconds or an HTTP date; ``None`` if unusable."""
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    if value.isdigit():
        return float(value)
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return seconds if math.isfinite(seconds) and seconds >= 0 else None
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None or when.tzinfo is None:
        return None
    current = time.time() if now is None else now
    return max(0.0, when.timestamp() - current)
