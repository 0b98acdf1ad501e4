"""A smooth, fair rate limiter: a token bucket plus a 60-second window.

Requests start at most ``per_minute / 60`` per second on average, with a burst of at
most one second's worth. The bucket alone would let the first minute hold the burst on
top of a full minute's rate, so a log of the last minute's start times caps every
60-second window at ``per_minute`` exactly.
"""

from __future__ import annotations

import asyncio
import collections
import math
import time
from collections.abc import Awaitable, Callable, Iterable

__all__ = ["RateLimiter"]

WINDOW = 60.0
# Requests reach the server a little after their grant, each with its own lag: keep
# each start in the 60-second log this much longer so arrivals, too, fit the limit.
WINDOW_MARGIN = 0.1
# Float slack: a wait shorter than this is no wait (and cannot spin on a coarse clock).
_EPSILON = 1e-9


class RateLimiter:
    """Grants request starts at a steady rate; waiters are served first come, first served.

    Args:
        per_minute: the most starts in any 60-second window.
        clock: a monotonic clock in seconds (injectable for tests).
        sleep: the coroutine used to wait (injectable for tests).
    """

    def __init__(
        self,
        per_minute: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    ) -> None:
        if not per_minute > 0:
            raise ValueError("per_minute must be > 0")
        self.per_minute = per_minute
        self._rate = per_minute / WINDOW
        self._burst = max(1.0, self._rate)
        self._clock = clock
        self._sleep = sleep
        self._tokens = self._burst
        self._updated = clock()
        self._limit = max(1, math.floor(per_minute))
        self._starts: collections.deque[float] = collections.deque()
        self._lock = asyncio.Lock()
        self._waiting = 0  # in acquire(): try_acquire never overtakes them

    def __repr__(self) -> str:
        return f"<RateLimiter {self.per_minute:g}/min>"

    def pause(self, seconds: float) -> None:
        """Nothing to share: the gate itself holds a 429's pause for this process."""

    def _seed(self, *, tokens: float, not_before: float, starts: Iterable[float]) -> None:
        """Start from ``tokens`` (negative: a debt) accruing from ``not_before``, with
        ``starts`` already in the 60-s log (a fallback taking over a shared budget)."""
        self._tokens = min(self._burst, tokens)
        self._updated = not_before
        self._starts.extend(sorted(starts))

    def _delay(self, now: float) -> float:
        self._tokens = min(self._burst, self._tokens + (now - self._updated) * self._rate)
        self._updated = now
        delay = (1.0 - self._tokens) / self._rate if self._tokens < 1.0 - _EPSILON else 0.0
        starts = self._starts
        while starts and starts[0] + WINDOW + WINDOW_MARGIN <= now:
            starts.popleft()
        if len(starts) >= self._limit:
            # Never round this one down: the window's ceiling is a hard promise.
            delay = max(delay, starts[0] + WINDOW + WINDOW_MARGIN - now, 2 * _EPSILON)
        return delay

    def estimate(self, ahead: int) -> float:
        """Seconds until a request behind ``ahead`` others would start (the 60-second
        window's cap can only add to it); reads the state without changing it."""
        tokens = min(self._burst, self._tokens + (self._clock() - self._updated) * self._rate)
        return max(0.0, (ahead + 1.0 - tokens) / self._rate)

    def try_acquire(self) -> bool:
        """Take a start now if one is due and nobody waits; else change nothing."""
        if self._waiting:
            return False
        now = self._clock()
        if self._delay(now) > _EPSILON:
            return False
        self._tokens -= 1.0
        self._starts.append(now)
        return True

    async def acquire(self) -> None:
        """Wait until a request may start; cancelling the wait consumes nothing."""
        self._waiting += 1
        try:
            async with self._lock:
                while True:
                    now = self._clock()
                    delay = self._delay(now)
                    if delay <= _EPSILON:
                        break
                    await self._sleep(delay)
                self._tokens -= 1.0
                self._starts.append(now)
        finally:
            self._waiting -= 1
