"""Which failures are retried, and how long to wait before the next attempt."""

from __future__ import annotations

import email.utils
import math
import random
import re
import time

from .._base.config import RetryPolicy

__all__ = ["MAX_DELAY", "RETRY_STATUSES", "backoff", "clamp_delay", "parse_retry_after"]

RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})

# No computed wait is ever longer than this (about 68 years, still a float asyncio accepts):
# a server's "Retry-After: 99999999999999999999" is kept as a large, finite number.
MAX_DELAY = float(2**31)

# RFC 9110 10.2.3: delay-seconds = 1*DIGIT, ASCII digits only (no superscripts, no
# digits of other scripts, no sign, no fraction).
_DELAY_SECONDS = re.compile(r"[0-9]+")


def clamp_delay(seconds: float, ceiling: float = MAX_DELAY) -> float:
    """``seconds`` within ``[0, ceiling]``; anything not a finite number becomes 0."""
    if not isinstance(seconds, (int, float)) or math.isnan(seconds) or seconds <= 0:
        return 0.0
    return float(min(seconds, ceiling, MAX_DELAY))


def backoff(policy: RetryPolicy, failed_attempts: int, rand: random.Random | None = None) -> float:
    """Full-jitter exponential backoff after ``failed_attempts`` failures (1 or more)."""
    # 2.0 ** 1024 overflows; past 2 ** 64 the ceiling is max_backoff for any sane policy.
    exponent = min(max(failed_attempts - 1, 0), 64)
    ceiling = clamp_delay(min(policy.max_backoff, policy.initial_backoff * 2.0**exponent))
    if ceiling <= 0:
        return 0.0
    return clamp_delay((rand or random).uniform(0.0, ceiling), ceiling)


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
