"""The request path's shortcuts keep the slow paths' behaviour.

- `_Slots` (the gate's semaphore): first come, first served; a slot is never lost or
  doubled when a waiter is cancelled, whether before or after it was handed one.
- `ProviderGate.try_enter`: admits at once only when nothing would make the request wait
  (a free slot, no pause, a due token) and never overtakes a waiter.
- `RateLimiter.try_acquire`: the same budget as `acquire`, never ahead of a waiter.
- `UrlBuilder`: the very URL a full parse of ``prefix + tail + query`` gives.
"""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import given
from hypothesis import strategies as st
from yarl import URL

from taskbridge import CakewalkConfig, DecodeError, QueueTimeoutError
from taskbridge._engine.gate import ProviderGate, _Slots
from taskbridge._engine.ratelimit import RateLimiter
from taskbridge.providers._kit.base import UrlBuilder
from taskbridge.providers.cakewalk import CakewalkAdapter

from ._faulty import faulty_alumio
from .conftest import ScriptedServer, base_config, make_bridge

BOUND = 5.0


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def _never(_: float) -> None:
    raise AssertionError("the fast path must not sleep")


def _gate(
    *, concurrency: int = 1, rpm: float | None = None, clock: Clock | None = None
) -> ProviderGate:
    config = CakewalkConfig("key", "secret", max_concurrency=concurrency, requests_per_minute=rpm)
    adapter = CakewalkAdapter(config)
    return ProviderGate(adapter, config.limits, clock=clock or Clock(), sleep=asyncio.sleep)


# -- _Slots ---------------------------------------------------------------------------


async def test_slots_are_handed_out_first_come_first_served() -> None:
    slots = _Slots(1)
    await slots.take()
    order: list[int] = []

    async def waiter(n: int) -> None:
        await slots.take()
        order.append(n)
        slots.give()

    tasks = [asyncio.ensure_future(waiter(n)) for n in range(4)]
    await asyncio.sleep(0)
    slots.give()
    await asyncio.wait_for(asyncio.gather(*tasks), BOUND)
    assert order == [0, 1, 2, 3]
    assert slots.free == 1


async def test_a_waiter_cancelled_while_waiting_gives_no_slot_away() -> None:
    slots = _Slots(1)
    await slots.take()
    first = asyncio.ensure_future(slots.take())
    second = asyncio.ensure_future(slots.take())
    await asyncio.sleep(0)
    first.cancel()  # its future is cancelled now, though its task has not run yet
    slots.give()  # goes to the second waiter, not to the cancelled one
    await asyncio.wait_for(second, BOUND)
    assert first.cancelled()
    assert slots.free == 0
    slots.give()
    assert slots.free == 1


async def test_a_waiter_cancelled_after_being_handed_a_slot_passes_it_on() -> None:
    slots = _Slots(1)
    await slots.take()
    first = asyncio.ensure_future(slots.take())
    second = asyncio.ensure_future(slots.take())
    await asyncio.sleep(0)
    slots.give()  # handed to the first, which has not run yet
    first.cancel()
    await asyncio.wait_for(asyncio.wait({first, second}), BOUND)
    assert first.cancelled()
    assert second.done() and not second.cancelled()  # the slot was passed on
    slots.give()
    assert slots.free == 1  # nothing lost, nothing doubled


async def test_a_newcomer_never_overtakes_a_waiter() -> None:
    slots = _Slots(1)
    await slots.take()
    waiting = asyncio.ensure_future(slots.take())
    await asyncio.sleep(0)
    slots.give()  # handed over directly: no free slot appears
    assert slots.free == 0
    late = asyncio.ensure_future(slots.take())
    await asyncio.wait_for(waiting, BOUND)
    assert not late.done()
    slots.give()
    await asyncio.wait_for(late, BOUND)


# -- ProviderGate.try_enter -----------------------------------------------------------


async def test_try_enter_takes_a_free_slot_and_counts_it() -> None:
    gate = _gate(concurrency=2)
    assert gate.try_enter()
    assert gate.try_enter()
    assert (gate.in_flight, gate.requests) == (2, 2)
    assert not gate.try_enter()  # both slots taken
    gate.leave()
    assert gate.try_enter()


async def test_try_enter_refuses_during_a_pause_and_admits_after_it() -> None:
    clock = Clock()
    gate = _gate(concurrency=4, clock=clock)
    gate.pause(5.0)
    assert not gate.try_enter()
    clock.now += 5.0
    assert gate.try_enter()


async def test_try_enter_never_overtakes_a_request_waiting_for_a_slot() -> None:
    gate = _gate(concurrency=1)
    assert gate.try_enter()
    waiting = asyncio.ensure_future(gate.enter("x"))
    await asyncio.sleep(0)
    gate.leave()  # handed to the waiter
    assert not gate.try_enter()
    await asyncio.wait_for(waiting, BOUND)
    assert gate.in_flight == 1


async def test_try_enter_takes_a_token_from_the_local_rate_limiter() -> None:
    clock = Clock()
    gate = _gate(concurrency=10, rpm=60, clock=clock)  # one start per second, burst 1
    assert gate.try_enter()
    assert not gate.try_enter()  # the next token is a second away
    assert gate.in_flight == 1  # a refusal takes no slot
    clock.now += 1.0
    assert gate.try_enter()


async def test_try_enter_leaves_a_limiter_without_try_acquire_to_enter() -> None:
    class Remote:
        calls = 0

        async def acquire(self) -> None:
            Remote.calls += 1

        def pause(self, seconds: float) -> None:
            pass

    config = CakewalkConfig("key", "secret", requests_per_minute=None)
    gate = ProviderGate(CakewalkAdapter(config), config.limits, limiter=Remote())
    assert not gate.try_enter()
    await asyncio.wait_for(gate.enter("x"), BOUND)
    assert Remote.calls == 1


def test_a_pause_reaches_the_limiter_that_shares_it() -> None:
    # A 429's Retry-After pauses the gate and is handed to the limiter (the Redis one
    # publishes it to every process).
    paused: list[float] = []

    class Remote:
        async def acquire(self) -> None:
            pass

        def pause(self, seconds: float) -> None:
            paused.append(seconds)

    config = CakewalkConfig("key", "secret", requests_per_minute=None)
    gate = ProviderGate(CakewalkAdapter(config), config.limits, limiter=Remote())
    gate.pause(7.0)
    assert paused == [7.0]
    assert not gate.try_enter()
    assert repr(gate) == "<ProviderGate cakewalk>"


def _bounded_gate(max_queue_wait: float, rpm: float | None) -> tuple[ProviderGate, Clock]:
    """A gate whose sleeps move its clock on at once (waits last no real time)."""
    clock = Clock()

    async def sleep(seconds: float) -> None:
        clock.now += seconds

    config = CakewalkConfig("key", "secret", requests_per_minute=rpm, max_queue_wait=max_queue_wait)
    return ProviderGate(CakewalkAdapter(config), config.limits, clock=clock, sleep=sleep), clock


async def test_a_pause_up_to_max_queue_wait_is_waited_out_a_longer_one_refused() -> None:
    gate, clock = _bounded_gate(2.0, rpm=None)
    gate.pause(0.5)  # however short, a pause is waited out
    assert await asyncio.wait_for(gate.enter("short"), BOUND) == 0.5
    gate.leave()
    gate.pause(2.0)
    # Exactly max_queue_wait: waited out; enter says how long it waited on the pause.
    assert await asyncio.wait_for(gate.enter("a"), BOUND) == 2.0
    assert clock.now == 1002.5
    gate.leave()
    gate.pause(2.5)
    with pytest.raises(QueueTimeoutError, match=r"provider paused 2\.5s"):
        await asyncio.wait_for(gate.enter("b"), BOUND)
    counts = (gate.queue_timeouts, gate.requests, gate.in_flight, gate.queued, gate.rate_waiting)
    assert counts == (1, 2, 0, 0, 0)


async def test_a_rate_backlog_up_to_max_queue_wait_is_waited_out_a_longer_one_refused() -> None:
    # 60/min: one start a second, no burst. After one start the next is 1 s away.
    gate, clock = _bounded_gate(1.0, rpm=60)
    start = clock.now
    assert gate.try_enter()
    gate.leave()
    assert await asyncio.wait_for(gate.enter("a"), BOUND) == 1.0  # exactly the bound
    assert clock.now == start + 1.0
    gate.leave()
    strict, _ = _bounded_gate(0.5, rpm=60)
    assert strict.try_enter()
    strict.leave()
    with pytest.raises(QueueTimeoutError, match=r"0 queued ahead for the rate limit \(~1\.0s\)"):
        await asyncio.wait_for(strict.enter("b"), BOUND)
    assert (strict.queue_timeouts, strict.requests) == (1, 1)


async def test_a_request_cancelled_while_it_waits_for_the_limiter_gives_its_slot_back() -> None:
    waiting = asyncio.Event()

    class Held:
        """A limiter whose first start never comes."""

        calls = 0

        async def acquire(self) -> None:
            Held.calls += 1
            if Held.calls == 1:
                waiting.set()
                await asyncio.Event().wait()

        def pause(self, seconds: float) -> None:
            pass

    config = CakewalkConfig("key", "secret", max_concurrency=1, requests_per_minute=None)
    gate = ProviderGate(CakewalkAdapter(config), config.limits, limiter=Held())
    first = asyncio.ensure_future(gate.enter("a"))
    await asyncio.wait_for(waiting.wait(), BOUND)
    first.cancel()
    with pytest.raises(asyncio.CancelledError):
        await first
    # The one slot is free again: the next request is admitted.
    await asyncio.wait_for(gate.enter("b"), BOUND)
    assert (gate.in_flight, gate.queued, gate.rate_waiting) == (1, 0, 0)


# -- RateLimiter.try_acquire ----------------------------------------------------------


def test_try_acquire_spends_the_same_budget_as_acquire() -> None:
    clock = Clock()
    limiter = RateLimiter(120, clock=clock, sleep=_never)  # 2/s, burst 2
    assert limiter.try_acquire()
    assert limiter.try_acquire()
    assert not limiter.try_acquire()
    clock.now += 0.5
    assert limiter.try_acquire()
    assert not limiter.try_acquire()


def test_try_acquire_keeps_the_60_second_cap() -> None:
    clock = Clock()
    limiter = RateLimiter(3, clock=clock, sleep=_never)
    granted: list[float] = []
    for _ in range(600):  # 10 minutes in 1-second steps, trying 5 times a second
        for _ in range(5):
            if limiter.try_acquire():
                granted.append(clock.now)
        clock.now += 1.0
    assert len(granted) >= 3 * 9
    # No 60-second window holds more than 3 starts.
    assert all(
        later - earlier >= 60.0 for earlier, later in zip(granted, granted[3:], strict=False)
    )


async def test_try_acquire_never_overtakes_a_waiting_acquire() -> None:
    clock = Clock()
    slept, wake = asyncio.Event(), asyncio.Event()

    async def sleep(seconds: float) -> None:
        clock.now += seconds
        slept.set()
        await wake.wait()  # parked in acquire() with its token due

    limiter = RateLimiter(60, clock=clock, sleep=sleep)
    assert limiter.try_acquire()
    waiting = asyncio.ensure_future(limiter.acquire())
    await asyncio.wait_for(slept.wait(), BOUND)
    assert not limiter.try_acquire()  # the waiter is first, even once its token is due
    wake.set()
    await asyncio.wait_for(waiting, BOUND)
    assert len(limiter._starts) == 2


# -- UrlBuilder -----------------------------------------------------------------------

_PREFIXES = [
    "http://127.0.0.1:8080/api/v1/Tasks/",
    "https://tenant.example.com/base%20path/api/v1/tasks/",
    "https://h.example/x/y/",
]
_QUERIES = ["", "?space=my%20space", "?space=a%2Fb%26c"]


@pytest.mark.parametrize("prefix", _PREFIXES)
@pytest.mark.parametrize("query", _QUERIES)
@given(tail=st.text(min_size=1, max_size=40))
def test_url_builder_gives_the_url_a_full_parse_gives(prefix: str, query: str, tail: Any) -> None:
    encoded = quote(tail, safe="").replace(".", "%2E")
    built = UrlBuilder(prefix, query)(encoded)
    parsed = URL(prefix + encoded + query, encoded=True)
    assert built == parsed
    assert str(built) == prefix + encoded + query
    assert built.raw_path == parsed.raw_path
    assert built.raw_query_string == parsed.raw_query_string


# -- attempt: what decode_task gives back -----------------------------------------------


async def test_an_adapter_returning_no_task_is_a_decode_error(server: ScriptedServer) -> None:
    alumio = faulty_alumio(base_config(server, "alumio"), decoded=lambda _: {"not": "a task"})
    async with make_bridge(server, alumio=alumio) as bridge:
        with pytest.raises(DecodeError, match=r"could not be decoded \(TypeError\)"):
            await asyncio.wait_for(bridge.get("alumio", "x"), BOUND)
        [result] = await asyncio.wait_for(bridge.get_many([("alumio", "y")]), BOUND)
    assert isinstance(result.error, DecodeError)


@given(
    identifier=st.text(min_size=1, max_size=40)
    | st.sampled_from([".", "..", "a.b", "~x_-", "a/b", "a b", "50%", "é", "?#&=+", "a:b@c"])
    | st.text(alphabet="abc/.~-_%:?", min_size=1, max_size=8)
)
def test_encode_identifier_equals_quote_with_dot_segments_escaped(identifier: str) -> None:
    from taskbridge.providers.alumio._adapter import encode_identifier

    try:
        identifier.encode("utf-8")
    except UnicodeEncodeError:
        return  # refused by check_id before any request
    expected = "%2E" * len(identifier) if identifier in (".", "..") else quote(identifier, safe="")
    assert encode_identifier(identifier) == expected
