"""Per-provider admission: concurrency, rate limit and server-requested pauses."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from ._limiter import Limiter
from ._ratelimit import RateLimiter
from .providers import ProviderAdapter

__all__ = ["ProviderGate"]


class ProviderGate:
    """Admits one provider's requests: at most ``max_concurrency`` in flight, at most
    ``requests_per_minute`` started, and none while the provider asked us to wait.
    """

    __slots__ = ("_clock", "_limiter", "_paused_until", "_semaphore", "_sleep", "adapter")

    def __init__(
        self,
        adapter: ProviderAdapter,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
        limiter: Limiter | None = None,
    ) -> None:
        self.adapter = adapter
        self._semaphore = asyncio.Semaphore(adapter.max_concurrency)
        rpm = adapter.requests_per_minute
        self._limiter: Limiter | None = limiter
        if limiter is None and rpm:
            self._limiter = RateLimiter(rpm, clock=clock, sleep=sleep)
        self._paused_until = 0.0
        self._clock = clock
        self._sleep = sleep

    def __repr__(self) -> str:
        return f"<ProviderGate {self.adapter.name}>"

    @property
    def name(self) -> str:
        return self.adapter.name

    def pause(self, seconds: float) -> None:
        """Hold every new request of this provider for ``seconds`` (a 429's Retry-After)."""
        self._paused_until = max(self._paused_until, self._clock() + seconds)
        if self._limiter is not None:
            self._limiter.pause(seconds)

    async def enter(self) -> None:
        """Wait for a concurrency slot, the end of any pause, and the rate limiter."""
        await self._semaphore.acquire()
        try:
            while (wait := self._paused_until - self._clock()) > 0:
                await self._sleep(wait)
            if self._limiter is not None:
                await self._limiter.acquire()
        except BaseException:
            self._semaphore.release()
            raise

    def leave(self) -> None:
        """Give the concurrency slot back."""
        self._semaphore.release()
