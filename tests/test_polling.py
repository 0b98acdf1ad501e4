"""The polling scheduler's promises: its share of a provider's slots, `Retry-After` on a
poll, `until` without a status change, and closing a watch from another task.

The sandbox's tasks stand still (``Lifecycle(speed=0)``) unless a test says otherwise,
on a virtual clock the bridge and the sandbox share."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web

from taskbridge import RateLimitedError, RetryPolicy, TaskBridge, TaskUpdate, WaitTimeoutError
from taskbridge.sandbox import Lifecycle, Sandbox
from taskbridge.testing import VirtualClock

from .conftest import ScriptedServer, alumio_body, dumps, make_bridge

POLL = {"poll_interval": 5.0, "max_poll_interval": 20.0}
STILL = Lifecycle(speed=0)
BOUND = 10.0  # real seconds: nothing here waits on real time unless it is broken


# Tasks that never change, polled every 5 s backing off to 20 s, with no rate limit.
_STILL_POLLING: dict[str, Any] = {
    "poll_interval": 5.0,
    "max_poll_interval": 20.0,
    "requests_per_minute": None,
}


@contextlib.asynccontextmanager
async def still_alumio(
    vtime: VirtualClock, retry: RetryPolicy | None = None
) -> AsyncIterator[tuple[Sandbox, TaskBridge]]:
    """A sandbox of still tasks on the virtual clock, and a bridge polling its Alumio."""
    async with (
        Sandbox(seed=5, lifecycle=STILL, clock=vtime.time, any_id=True) as sb,
        TaskBridge(alumio=sb.alumio_config(**_STILL_POLLING), retry=retry) as bridge,
    ):
        yield sb, bridge


@pytest.fixture
async def vtime() -> AsyncIterator[VirtualClock]:
    async with VirtualClock() as clock:
        yield clock


def bridge_for(sb: Sandbox, retry: RetryPolicy | None = None) -> TaskBridge:
    return TaskBridge(
        cakewalk=sb.cakewalk_config(requests_per_minute=None, **POLL),
        alumio=sb.alumio_config(**POLL),
        retry=retry or RetryPolicy(initial_backoff=0.0, max_backoff=0.0),
    )


# Retry-After on a poll


async def test_a_poll_told_to_retry_after_waits_that_long_even_above_max_poll_interval(
    vtime: VirtualClock,
) -> None:
    # One attempt per poll: the fetch raises the 429 at once, so only the scheduler's
    # own use of Retry-After can hold the next poll back.
    async with (
        Sandbox(seed=5, lifecycle=STILL, clock=vtime.time) as sb,
        bridge_for(sb, RetryPolicy(max_attempts=1)) as bridge,
    ):
        task_id = sb.alumio_ids[0]
        sb.answer("alumio", task_id, 429, times=1, retry_after=100)
        task = await bridge.wait("alumio", task_id, until=lambda t: True, timeout=600)
        assert task.id == task_id
        # Not at 7.5 s (the back-off alone), not later than the server asked.
        assert vtime.now == 100.0
        assert sb.stats.alumio.by_id[task_id] == 2


async def test_a_wait_told_to_retry_after_more_than_max_retry_after_ends_as_get_would(
    vtime: VirtualClock,
) -> None:
    async with (
        Sandbox(seed=5, lifecycle=STILL, clock=vtime.time) as sb,
        bridge_for(sb, RetryPolicy(max_retry_after=120)) as bridge,
    ):
        task_id = sb.alumio_ids[0]
        sb.answer("alumio", task_id, 429, times=1, retry_after=100_000)
        with pytest.raises(RateLimitedError) as info:
            await bridge.wait("alumio", task_id, timeout=600)
        assert info.value.retry_after == 100_000
        assert vtime.now == 0.0
        assert sb.stats.alumio.by_id[task_id] == 1
        assert bridge._polling.scheduler.idle


async def test_a_watched_ref_told_to_retry_after_more_than_max_retry_after_leaves_with_it(
    vtime: VirtualClock,
) -> None:
    async with (
        Sandbox(seed=5, lifecycle=STILL, clock=vtime.time) as sb,
        bridge_for(sb, RetryPolicy(max_retry_after=120)) as bridge,
    ):
        stalled, other = sb.alumio_ids[0], sb.alumio_ids[1]
        sb.answer("alumio", stalled, 429, times=1, retry_after=100_000)
        seen: list[TaskUpdate] = []
        async with bridge.watch([("alumio", stalled), ("alumio", other)]) as updates:
            async for update in updates:
                seen.append(update)
                if update.ref.task_id == stalled or len(seen) > 3:
                    break
        (error,) = [u.error for u in seen if u.ref.task_id == stalled]
        assert isinstance(error, RateLimitedError)
        assert error.retry_after == 100_000
        assert vtime.now < 120


async def test_a_watched_ref_that_fails_after_it_was_seen_has_its_last_task_as_previous(
    vtime: VirtualClock,
) -> None:
    async with (
        Sandbox(seed=5, lifecycle=STILL, clock=vtime.time) as sb,
        bridge_for(sb, RetryPolicy(max_retry_after=120)) as bridge,
    ):
        task_id = sb.alumio_ids[0]
        async with bridge.watch([("alumio", task_id)]) as watch:
            first = await asyncio.wait_for(anext(watch), BOUND)
            sb.answer("alumio", task_id, 429, times=1, retry_after=100_000)
            failed = await asyncio.wait_for(anext(watch), BOUND)
    assert first.previous is None
    assert first.task is not None
    assert isinstance(failed.error, RateLimitedError)
    assert failed.task is None
    assert failed.previous == first.task


async def test_a_watch_joining_a_seen_task_that_then_fails_has_no_previous(
    vtime: VirtualClock,
) -> None:
    # A wait has seen the task; the watch joins it and the next poll fails for good
    # before the watch had a look: its one update has the error and previous=None.
    async with (
        Sandbox(seed=5, lifecycle=STILL, clock=vtime.time) as sb,
        bridge_for(sb, RetryPolicy(max_retry_after=120)) as bridge,
    ):
        task_id = sb.alumio_ids[0]
        waiting = asyncio.ensure_future(bridge.wait("alumio", task_id))
        await vtime.sleep(30)
        assert sb.stats.alumio.by_id[task_id] >= 2
        sb.answer("alumio", task_id, 429, times=1, retry_after=100_000)
        async with bridge.watch([("alumio", task_id)]) as watch:
            failed = await asyncio.wait_for(anext(watch), BOUND)
        with pytest.raises(RateLimitedError):
            await asyncio.wait_for(waiting, BOUND)
    assert isinstance(failed.error, RateLimitedError)
    assert failed.task is None
    assert failed.previous is None


# until


async def test_an_observation_where_until_turns_true_without_a_status_change_is_yielded(
    vtime: VirtualClock,
) -> None:
    async with (
        Sandbox(seed=5, lifecycle=STILL, clock=vtime.time) as sb,
        bridge_for(sb) as bridge,
    ):
        task_id = sb.cakewalk_ids[1]
        # True from the third poll on, while the status never changes.
        updates = [
            (vtime.now, u)
            async for u in bridge.watch([("cakewalk", task_id)], until=lambda t: vtime.now >= 10)
        ]
    assert len(updates) == 2
    (_, first), (at, last) = updates
    assert at >= 10
    assert last.task is not None
    assert last.task.provider_status == first.task.provider_status  # type: ignore[union-attr]
    assert last.previous == first.task


# closing from another task


async def test_aclose_from_another_task_ends_the_consumers_iteration(vtime: VirtualClock) -> None:
    async with (
        Sandbox(seed=5, lifecycle=STILL, clock=vtime.time) as sb,
        bridge_for(sb) as bridge,
    ):
        watch = bridge.watch([("alumio", sb.alumio_ids[0])])
        got_one = asyncio.Event()

        async def consume() -> list[TaskUpdate]:
            got = []
            async for update in watch:
                got.append(update)
                got_one.set()
            return got

        consumer = asyncio.ensure_future(consume())
        await asyncio.wait_for(got_one.wait(), BOUND)
        await watch.aclose()
        got = await asyncio.wait_for(consumer, BOUND)
        assert len(got) == 1
        assert bridge._polling.scheduler.idle


async def test_close_from_another_task_before_the_first_update_ends_the_iteration(
    vtime: VirtualClock,
) -> None:
    async with (
        Sandbox(seed=5, lifecycle=STILL, clock=vtime.time) as sb,
        bridge_for(sb) as bridge,
    ):
        task_id = sb.alumio_ids[0]
        sb.answer("alumio", task_id, 503)  # never an observation
        watch = bridge.watch([("alumio", task_id)])
        consumer = asyncio.ensure_future(watch.__anext__())
        while sb.stats.alumio.requests < 2:
            await vtime.sleep(1)
        watch.close()
        with pytest.raises(StopAsyncIteration):
            await asyncio.wait_for(consumer, BOUND)


# the slots polls may take


async def test_polls_take_at_most_half_of_a_providers_slots(server: ScriptedServer) -> None:
    arrived = 0
    two = asyncio.Event()
    release = asyncio.Event()
    probe = secrets.token_hex(16)

    async def handler(request: web.Request) -> web.StreamResponse:
        nonlocal arrived
        if not request.path.endswith(probe):  # a poll: held until the test releases it
            arrived += 1
            if arrived == 2:
                two.set()
            await asyncio.wait_for(release.wait(), BOUND)
        asked = request.path.rsplit("/", 1)[-1]  # the answer is for the task asked for
        body = dumps(alumio_body(identifier=asked))
        return web.Response(body=body, content_type="application/json")

    server.handler = handler
    async with make_bridge(server, alumio_concurrency=4) as bridge:
        refs = [("alumio", f"watched-{n}") for n in range(10)]
        async with bridge.watch(refs) as updates:
            first = asyncio.ensure_future(updates.__anext__())
            await asyncio.wait_for(two.wait(), BOUND)
            # Two polls hold a slot each; the other two slots are free for a get.
            assert bridge.stats().providers["alumio"].in_flight == 2
            task = await asyncio.wait_for(bridge.get("alumio", probe), BOUND)
            assert task.id == probe
            release.set()
            await asyncio.wait_for(first, BOUND)
    assert server.peak_in_flight["alumio"] == 3  # two polls and the get


async def test_tasks_left_behind_get_no_more_polls_and_the_rest_keep_theirs(
    vtime: VirtualClock,
) -> None:
    # 80 waits give up at 1 s while their next poll is scheduled (their heap items go
    # stale, and are compacted away past 64); 5 waits go on until 60 s. The ones left
    # behind get no further poll; the others are still polled (every 20 s at most).
    async with still_alumio(vtime) as (sb, bridge):
        gone = [f"gone-{n}" for n in range(80)]
        kept = [f"kept-{n}" for n in range(5)]

        async def give_up(task_id: str) -> None:
            with pytest.raises(WaitTimeoutError):
                await bridge.wait("alumio", task_id, timeout=1)

        kept_waits = [
            asyncio.ensure_future(bridge.wait("alumio", i, until=lambda t: vtime.now >= 60))
            for i in kept
        ]
        await asyncio.wait_for(asyncio.gather(*(give_up(i) for i in gone)), 10)
        await asyncio.wait_for(asyncio.gather(*kept_waits), 10)
        assert 60 <= vtime.now <= 80
        assert [sb.stats.alumio.by_id[i] for i in gone] == [1] * 80
        assert bridge._polling.scheduler.following == 0


async def test_a_task_two_waits_gave_up_on_one_after_the_other_is_polled_no_more(
    vtime: VirtualClock,
) -> None:
    # The second wait on a task joins the first in a list of subscribers; when the first
    # gives up (at 30 s) the second is held alone again, and when it gives up too (at
    # 60 s) the task is dropped: nothing follows it, no poll comes after.
    async with still_alumio(vtime) as (sb, bridge):

        async def give_up(after: float) -> None:
            with pytest.raises(WaitTimeoutError):
                await bridge.wait("alumio", "still-task", timeout=after)

        await asyncio.wait_for(asyncio.gather(give_up(30), give_up(60)), BOUND)
        assert bridge._polling.scheduler.following == 0
        polls = sb.stats.alumio.by_id["still-task"]
        await vtime.sleep(100)
        assert sb.stats.alumio.by_id["still-task"] == polls


async def test_a_newcomer_gets_a_fresh_look_and_the_short_interval_again(
    vtime: VirtualClock,
) -> None:
    # A task polled for 100 s unchanged is down to one poll per 20 s. A second wait
    # joining it polls now, and then again 7.5 s later (5 s, backed off once), not 20.
    async with still_alumio(vtime) as (sb, bridge):
        first = asyncio.ensure_future(bridge.wait("alumio", "still-task"))
        await vtime.sleep(100)
        before = sb.stats.alumio.by_id["still-task"]
        second = asyncio.ensure_future(bridge.wait("alumio", "still-task"))
        await vtime.sleep(10)
        assert sb.stats.alumio.by_id["still-task"] - before == 2  # at 100 s and 107.5 s
        for waiting in (first, second):
            waiting.cancel()
        await asyncio.gather(first, second, return_exceptions=True)


async def test_a_watch_joining_a_task_a_wait_has_seen_gets_its_first_update(
    vtime: VirtualClock,
) -> None:
    # A wait has followed a still task for 100 s. A watch of it joins: its first update
    # comes at the next poll, with previous=None, although the status did not change.
    async with still_alumio(vtime) as (_sb, bridge):
        waiting = asyncio.ensure_future(bridge.wait("alumio", "still-task"))
        await vtime.sleep(100)
        async with bridge.watch([("alumio", "still-task")]) as watch:
            update = await asyncio.wait_for(anext(watch), BOUND)
        waiting.cancel()
        await asyncio.gather(waiting, return_exceptions=True)
    assert update.previous is None
    assert update.task is not None
    assert update.task.id == "still-task"
    assert update.ref == ("alumio", "still-task")


async def test_after_compaction_the_next_due_poll_still_comes_first(vtime: VirtualClock) -> None:
    # One task polled unchanged for 61 s (next poll due at 80.6 s), then 80 waits that
    # give up after 1 s (their heap items go stale and are compacted away), and one task
    # first polled at 61.5 s: its next poll, due at 66.5 s, comes then, not at 80.6 s.
    async with still_alumio(vtime) as (_sb, bridge):
        far = asyncio.ensure_future(bridge.wait("alumio", "far-task"))
        await vtime.sleep(61)

        async def give_up(task_id: str) -> None:
            with pytest.raises(WaitTimeoutError):
                await bridge.wait("alumio", task_id, timeout=1)

        gone = asyncio.gather(*(give_up(f"gone-{n}") for n in range(80)))
        await vtime.sleep(0.5)
        near = bridge.wait("alumio", "near-task", until=lambda t: vtime.now >= 62)
        await asyncio.wait_for(near, 10)
        assert vtime.now == 66.5
        await asyncio.wait_for(gone, 10)
        far.cancel()
        await asyncio.gather(far, return_exceptions=True)


async def test_no_poll_starts_before_it_is_due(vtime: VirtualClock) -> None:
    # Task A is polled at 0 s, next due at 5 s. A wait on B at 4.5 s wakes the lane
    # (B's first poll is due at once): A's poll must still wait until 5 s.
    async with still_alumio(vtime) as (sb, bridge):
        a = asyncio.ensure_future(bridge.wait("alumio", "task-a"))
        await vtime.sleep(4.5)
        b = asyncio.ensure_future(bridge.wait("alumio", "task-b"))
        await vtime.sleep(0.25)
        assert (sb.stats.alumio.by_id["task-a"], sb.stats.alumio.by_id["task-b"]) == (1, 1)
        # The lane sleeps once, until 5 s: its sleep until then from before B came is gone.
        sleeps = [t for t in asyncio.all_tasks() if "VirtualClock.sleep" in repr(t.get_coro())]
        assert len(sleeps) == 1
        await vtime.sleep(0.5)
        assert sb.stats.alumio.by_id["task-a"] == 2  # at 5 s
        for waiting in (a, b):
            waiting.cancel()
        await asyncio.gather(a, b, return_exceptions=True)


async def test_polls_back_off_across_errors_too(vtime: VirtualClock) -> None:
    # Three 503s in a row (each poll one attempt): each next poll 1.5 times further
    # (7.5, 11.25, 16.875 s), then the answer, at 35.625 s.
    async with still_alumio(vtime, retry=RetryPolicy(max_attempts=1)) as (sb, bridge):
        sb.answer("alumio", "flaky-task", 503, times=3)
        await asyncio.wait_for(bridge.wait("alumio", "flaky-task", until=lambda t: True), 10)
        assert vtime.now == 35.625
        assert sb.stats.alumio.by_id["flaky-task"] == 4


async def test_a_retry_on_that_raises_ends_the_wait_with_its_error(vtime: VirtualClock) -> None:
    calls: list[Exception] = []

    def broken(error: Exception) -> bool:
        # No retry for the fetch; then, asked whether to poll again, it breaks.
        calls.append(error)
        if len(calls) > 1:
            raise ZeroDivisionError("retry_on broke")
        return False

    policy = RetryPolicy(max_attempts=1, retry_on=broken)
    async with still_alumio(vtime, retry=policy) as (sb, bridge):
        sb.answer("alumio", "flaky-task", 503, times=1)
        with pytest.raises(ZeroDivisionError, match="retry_on broke"):
            await asyncio.wait_for(bridge.wait("alumio", "flaky-task"), 10)
        assert bridge._polling.scheduler.following == 0


async def test_a_ref_whose_until_raises_is_no_longer_polled(vtime: VirtualClock) -> None:
    # Watching A and B; until raises for B at its first poll. While the consumer is
    # busy with A's update for 100 s, B is not polled again (A still is).
    def until(task: Any) -> bool:
        if task.id == "task-b":
            raise ZeroDivisionError("until broke")
        return False

    async with still_alumio(vtime) as (sb, bridge):
        watch = bridge.watch([("alumio", "task-a"), ("alumio", "task-b")], until=until)
        with pytest.raises(ZeroDivisionError, match="until broke"):
            async with watch:
                update = await asyncio.wait_for(watch.__anext__(), 10)
                assert update.ref.task_id == "task-a"
                await vtime.sleep(100)
                assert sb.stats.alumio.by_id["task-b"] == 1
                assert sb.stats.alumio.by_id["task-a"] > 1
                await asyncio.wait_for(watch.__anext__(), 10)


async def test_a_ref_that_left_by_until_is_no_longer_polled(vtime: VirtualClock) -> None:
    # Watching A and B; until holds for A at its first poll (A leaves the watch): for
    # the next 100 s only B is polled, and the watch gives no more updates of A.
    async with still_alumio(vtime) as (sb, bridge):
        refs = [("alumio", "task-a"), ("alumio", "task-b")]
        async with bridge.watch(refs, until=lambda t: t.id == "task-a") as watch:
            seen = [await asyncio.wait_for(watch.__anext__(), 10) for _ in range(2)]
            assert {u.ref.task_id for u in seen} == {"task-a", "task-b"}
            await vtime.sleep(100)
            assert sb.stats.alumio.by_id["task-a"] == 1
            assert sb.stats.alumio.by_id["task-b"] > 1
            assert repr(watch) == "<taskbridge Watch following=1>"
