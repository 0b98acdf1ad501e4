"""The rate limiter, on a fake clock: spacing, burst, 60-second ceiling, fairness."""

from __future__ import annotations

import asyncio
import bisect

import pytest

from taskbridge._engine.ratelimit import WINDOW_MARGIN, RateLimiter


class FakeTime:
    """A clock that moves only when someone sleeps on it."""

    def __init__(self) -> None:
        self.now = 1000.0

    def clock(self) -> float:
        return self.now

    async def sleep(self, delay: float) -> None:
        self.now += delay
        await asyncio.sleep(0)


async def starts(limiter: RateLimiter, fake: FakeTime, n: int) -> list[float]:
    times = []
    for _ in range(n):
        await limiter.acquire()
        times.append(fake.now)
    return times


def rel(times: list[float]) -> list[float]:
    return [t - 1000.0 for t in times]


def max_in_window(times: list[float], width: float) -> int:
    """Most starts inside any half-open window [t, t + width)."""
    return max(bisect.bisect_left(times, t + width) - i for i, t in enumerate(times))


async def test_sixty_per_minute_is_one_per_second_after_a_burst_of_one() -> None:
    fake = FakeTime()
    limiter = RateLimiter(60, clock=fake.clock, sleep=fake.sleep)
    assert rel(await starts(limiter, fake, 5)) == pytest.approx([0.0, 1.0, 2.0, 3.0, 4.0])


async def test_burst_is_one_seconds_worth_then_smooth() -> None:
    fake = FakeTime()
    limiter = RateLimiter(600, clock=fake.clock, sleep=fake.sleep)
    times = rel(await starts(limiter, fake, 20))
    assert times[:10] == [0.0] * 10
    assert times[10:] == pytest.approx([0.1 * k for k in range(1, 11)])


@pytest.mark.parametrize("per_minute", [1000, 6000, 90, 7])
async def test_no_sixty_second_window_exceeds_the_limit(per_minute: int) -> None:
    fake = FakeTime()
    limiter = RateLimiter(per_minute, clock=fake.clock, sleep=fake.sleep)
    times = await starts(limiter, fake, per_minute * 3 + 5)
    assert max_in_window(times, 60.0) <= per_minute
    rate = per_minute / 60
    assert max_in_window(times, 1.0) <= max(1.0, rate) + rate + 1e-9


async def test_sustained_rate_is_at_least_97_percent_of_the_limit() -> None:
    fake = FakeTime()
    limiter = RateLimiter(6000, clock=fake.clock, sleep=fake.sleep)
    times = await starts(limiter, fake, 6000 * 3)
    achieved = len(times) / (times[-1] - times[0] + 1 / 100)  # starts per second over the run
    assert achieved >= 0.97 * 100
    assert achieved <= 100 * (1 + 1 / 180)


async def test_one_per_minute_waits_a_minute_and_the_arrival_margin() -> None:
    fake = FakeTime()
    limiter = RateLimiter(1, clock=fake.clock, sleep=fake.sleep)
    gap = 60.0 + WINDOW_MARGIN
    assert rel(await starts(limiter, fake, 3)) == pytest.approx([0.0, gap, 2 * gap])


async def test_waiters_are_served_first_come_first_served() -> None:
    fake = FakeTime()
    limiter = RateLimiter(60, clock=fake.clock, sleep=fake.sleep)
    order: list[int] = []

    async def take(n: int) -> None:
        await limiter.acquire()
        order.append(n)

    tasks = []
    for n in range(8):
        tasks.append(asyncio.ensure_future(take(n)))
        await asyncio.sleep(0)  # each arrives before the next
    await asyncio.gather(*tasks)
    assert order == list(range(8))


async def test_cancelled_wait_consumes_nothing() -> None:
    fake = FakeTime()
    blocked = asyncio.Event()

    async def held_sleep(delay: float) -> None:
        blocked.set()
        await asyncio.Event().wait()

    limiter = RateLimiter(60, clock=fake.clock, sleep=held_sleep)
    await limiter.acquire()  # the burst of one
    waiter = asyncio.ensure_future(limiter.acquire())
    await blocked.wait()
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    fake.now += 1.0
    limiter._sleep = fake.sleep
    await limiter.acquire()  # the token that came in the meantime is still there
    assert fake.now == 1001.0


def test_rejects_non_positive_rate() -> None:
    with pytest.raises(ValueError, match="per_minute"):
        RateLimiter(0)
