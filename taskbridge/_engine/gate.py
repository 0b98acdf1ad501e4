"""Per-provider admission: concurrency, rate limit and server-requested pauses."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import time
from collections.abc import Awaitable, Callable

from .._base.errors import QueueTimeoutError
from .._base.limits import Limits
from ..providers._kit.base import ProviderAdapter
from .limiter import Limiter
from .queuewait import admit_within, queue_timeout
from .ratelimit import RateLimiter

__all__ = ["ProviderGate"]


class _Slots:
    """A first-come, first-served counting semaphore whose free slot is taken without
    a coroutine (`ProviderGate.try_enter`). A released slot is handed to the oldest
    waiter directly, so ``free > 0`` means nobody is waiting and a newcomer never
    overtakes a waiter."""

    __slots__ = ("_waiters", "free")

    def __init__(self, count: int) -> None:
        self.free = count
        self._waiters: collections.deque[asyncio.Future[None]] = collections.deque()

    async def take(self) -> None:
        if self.free > 0:
            self.free -= 1
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await waiter
        except BaseException:
            if waiter.done() and not waiter.cancelled():
                # Handed a slot and cancelled before running: pass the slot on.
                self.give()
            else:
                waiter.cancel()
                # give() may have dropped it already (it skips cancelled waiters).
                with contextlib.suppress(ValueError):
                    self._waiters.remove(waiter)
            raise

    def give(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return
        self.free += 1


class ProviderGate:
    """Admits one provider's requests: at most ``max_concurrency`` in flight, at most
    ``requests_per_minute`` started, and none while the provider asked us to wait.

    It also counts what `TaskBridge.stats` reports (plain integers: reading them is free).
    """

    __slots__ = (
        "_clock",
        "_limiter",
        "_max_wait",
        "_paused_until",
        "_sleep",
        "_slots",
        "_try_limiter",
        "adapter",
        "in_flight",
        "limits",
        "name",
        "now",
        "queue_timeouts",
        "queued",
        "rate_limited",
        "rate_waiting",
        "requests",
        "retries",
    )

    def __init__(
        self,
        adapter: ProviderAdapter,
        limits: Limits,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
        limiter: Limiter | None = None,
    ) -> None:
        self.adapter = adapter
        self.limits = limits
        self.name: str = adapter.name
        self._slots = _Slots(limits.max_concurrency)
        rpm = limits.requests_per_minute
        self._limiter: Limiter | None = limiter
        if limiter is None and rpm:
            self._limiter = RateLimiter(rpm, clock=clock, sleep=sleep)
        # A limiter that can grant a start at once without awaiting (the local one).
        self._try_limiter: Callable[[], bool] | None = getattr(self._limiter, "try_acquire", None)
        self._max_wait = limits.max_queue_wait
        self._paused_until = 0.0
        self._clock = clock
        #: ``now()``: the gate's clock (the bridge's: virtual in tests), the function
        #: itself (a batch reads it twice per ref).
        self.now: Callable[[], float] = clock
        self._sleep = sleep
        self.requests = 0  # attempts sent
        self.in_flight = 0  # attempts holding a slot
        self.queued = 0  # waiting for a slot, a pause or the rate limiter
        self.rate_waiting = 0  # of those, waiting for a pause or the rate limiter
        self.retries = 0  # attempts scheduled again after a failure
        self.rate_limited = 0  # 429 answers received
        self.queue_timeouts = 0  # refused by max_queue_wait

    def __repr__(self) -> str:
        return f"<ProviderGate {self.adapter.name}>"

    def pause(self, seconds: float) -> None:
        """Hold every new request of this provider for ``seconds`` (a 429's Retry-After)."""
        self._paused_until = max(self._paused_until, self._clock() + seconds)
        if self._limiter is not None:
            self._limiter.pause(seconds)

    def pause_remaining(self) -> float:
        """Seconds left in the current pause (0.0 when not paused)."""
        return max(0.0, self._paused_until - self._clock())

    def try_enter(self) -> bool:
        """Take a slot now if nothing would make the request wait (no coroutine)."""
        if self._slots.free <= 0:
            return False
        paused = self._paused_until
        if paused and paused > self._clock():
            return False
        if self._limiter is not None and (self._try_limiter is None or not self._try_limiter()):
            return False
        self._slots.free -= 1
        self.in_flight += 1
        self.requests += 1
        return True

    async def enter(self, task_id: str = "") -> float:
        """Wait for a concurrency slot, the end of any pause, and the rate limiter.

        Returns the seconds of that wait spent on the pause and the rate limiter (the
        rest was the wait for a slot).

        Raises:
            QueueTimeoutError: with ``max_queue_wait`` set, the wait would be longer.
        """
        max_wait = self._max_wait
        if max_wait is not None:
            self._refuse_if_too_long(max_wait, task_id)
        self.queued += 1
        try:
            if max_wait is None:
                rate_wait = await self._enter()
            else:
                try:
                    rate_wait = await admit_within(self._enter, max_wait, self.name, task_id)
                except QueueTimeoutError:
                    self.queue_timeouts += 1
                    raise
        finally:
            self.queued -= 1
        self.in_flight += 1
        self.requests += 1
        return rate_wait

    def queued_until(self) -> float | None:
        """For a batch's ref queued now: the clock time past which its turn comes too
        late for ``max_queue_wait`` (``None`` without a bound)."""
        max_wait = self._max_wait
        return None if max_wait is None else self._clock() + max_wait

    def check_turn(self, until: float, task_id: str) -> None:
        """A batch's ref gets its turn: refuse it if that is past ``until``.

        Raises:
            QueueTimeoutError: it waited in the batch longer than ``max_queue_wait``.
        """
        if self._clock() > until:
            assert self._max_wait is not None  # ``until`` came from `queued_until`
            self.queue_timeouts += 1
            raise queue_timeout(
                self.name, task_id, self._max_wait, "its turn in the batch came later"
            )

    def _refuse_if_too_long(self, max_wait: float, task_id: str) -> None:
        """Fail at once when the wait is predictable and longer than ``max_wait``."""
        paused = self.pause_remaining()
        if paused > max_wait:
            self.queue_timeouts += 1
            raise queue_timeout(self.name, task_id, max_wait, f"provider paused {paused:.1f}s")
        estimate = getattr(self._limiter, "estimate", None)
        if estimate is not None:
            # Everyone queued ahead (for a slot or a token) starts first.
            backlog = paused + float(estimate(self.queued))
            if backlog > max_wait:
                self.queue_timeouts += 1
                raise queue_timeout(
                    self.name,
                    task_id,
                    max_wait,
                    f"{self.queued} queued ahead for the rate limit (~{backlog:.1f}s)",
                )

    async def _enter(self) -> float:
        await self._slots.take()
        self.rate_waiting += 1
        started = self._clock()
        try:
            while (wait := self._paused_until - self._clock()) > 0:
                await self._sleep(wait)
            if self._limiter is not None:
                await self._limiter.acquire()
            return self._clock() - started
        except BaseException:
            self._slots.give()
            raise
        finally:
            self.rate_waiting -= 1

    def leave(self) -> None:
        """Give the concurrency slot back."""
        self.in_flight -= 1
        self._slots.give()
