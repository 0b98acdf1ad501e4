"""`wait` and `watch` end to end: the real client polling the sandbox, tasks moving on a
virtual clock that the bridge, its rate limiter and the sandbox all read."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import itertools
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import pytest

from taskbridge import (
    AlumioConfig,
    AuthenticationError,
    BridgeClosedError,
    CakewalkConfig,
    ConfigurationError,
    InvalidTaskIdError,
    RetryPolicy,
    TaskBridge,
    TaskBridgeError,
    TaskNotFoundError,
    TaskRef,
    TaskStatus,
    TaskUpdate,
    UnifiedTask,
    WaitTimeoutError,
)
from taskbridge.sandbox import Faults, Lifecycle, Sandbox
from taskbridge.testing import VirtualClock

PROVIDERS = [pytest.param("cakewalk", id="cakewalk"), pytest.param("alumio", id="alumio")]
POLL = {"poll_interval": 5.0, "max_poll_interval": 20.0}
# Stages last 30 to 90 virtual seconds: polls (at most 20 s apart) see every one.
STEP = Lifecycle(step=60.0, jitter=0.5)


@pytest.fixture
async def vtime() -> AsyncIterator[VirtualClock]:
    async with VirtualClock() as clock:
        yield clock


def sandbox(vt: VirtualClock, lifecycle: Lifecycle | None = STEP, **kwargs: Any) -> Sandbox:
    return Sandbox(seed=5, lifecycle=lifecycle, clock=vt.time, **kwargs)


def bridge_for(sb: Sandbox, **options: Any) -> TaskBridge:
    cakewalk: dict[str, Any] = {"requests_per_minute": None, **POLL}
    alumio: dict[str, Any] = {**POLL}
    cakewalk.update(options.pop("cakewalk", {}))
    alumio.update(options.pop("alumio", {}))
    options.setdefault("retry", RetryPolicy(initial_backoff=0.0, max_backoff=0.0))
    return TaskBridge(
        cakewalk=sb.cakewalk_config(**cakewalk), alumio=sb.alumio_config(**alumio), **options
    )


def seeded(sb: Sandbox, provider: str, n: int = 0) -> str:
    return sb.ids(provider)[n]


def requests_for(sb: Sandbox, provider: str, task_id: str) -> int:
    return sb.stats[provider].by_id[task_id]


# wait


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_wait_returns_the_task_once_it_is_terminal(
    vtime: VirtualClock, provider: str
) -> None:
    async with sandbox(vtime) as sb, bridge_for(sb) as bridge:
        task_id = seeded(sb, provider)
        stages = sb.schedule(provider, task_id)
        task = await bridge.wait(provider, task_id)
        assert task.is_terminal
        assert task.provider_status == stages[-1][1]
        # Seen at the first poll after the change: never before it, at most one capped
        # interval after it.
        assert stages[-1][0] <= vtime.now <= stages[-1][0] + POLL["max_poll_interval"]
        assert bridge._polling.scheduler.following == 0


async def test_wait_on_a_task_already_terminal_costs_one_request(vtime: VirtualClock) -> None:
    async with sandbox(vtime, lifecycle=None) as sb, bridge_for(sb) as bridge:
        # Seeded statuses rotate through the list; the first Cakewalk one is Approved.
        task_id = seeded(sb, "cakewalk")
        task = await bridge.wait("cakewalk", task_id)
        assert task.status is TaskStatus.SUCCEEDED
        assert sb.stats.cakewalk.requests == 1
        assert vtime.now == 0.0


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_wait_timeout_raises_with_the_last_task_seen(
    vtime: VirtualClock, provider: str
) -> None:
    async with sandbox(vtime, lifecycle=Lifecycle(speed=0)) as sb, bridge_for(sb) as bridge:
        task_id = seeded(sb, provider)
        with pytest.raises(WaitTimeoutError) as info:
            await bridge.wait(provider, task_id, timeout=30)
        error = info.value
        assert isinstance(error, TimeoutError)
        assert isinstance(error, TaskBridgeError)
        assert error.last is not None
        assert error.last.id == task_id
        assert error.last.provider_status == sb.schedule(provider, task_id)[0][1]
        assert vtime.now == 30
        # Polled at 0, 5, 12.5 and 23.75: the back-off, and nothing after the deadline.
        assert requests_for(sb, provider, task_id) == 4
        await vtime.sleep(600)
        assert requests_for(sb, provider, task_id) == 4
        assert bridge._polling.scheduler.idle


async def test_wait_timeout_zero_gives_up_before_any_answer(vtime: VirtualClock) -> None:
    async with sandbox(vtime, lifecycle=Lifecycle(speed=0)) as sb, bridge_for(sb) as bridge:
        with pytest.raises(WaitTimeoutError) as info:
            await bridge.wait("alumio", seeded(sb, "alumio"), timeout=0)
        assert info.value.last is None
        assert bridge._polling.scheduler.following == 0


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_wait_not_found_ends_at_once(vtime: VirtualClock, provider: str) -> None:
    async with sandbox(vtime) as sb, bridge_for(sb) as bridge:
        task_id = "3fa85f64-5717-4562-b3fc-2c963f66afa6" if provider == "cakewalk" else "nope"
        with pytest.raises(TaskNotFoundError):
            await bridge.wait(provider, task_id, timeout=600)
        assert sb.stats[provider].requests == 1
        assert vtime.now == 0.0
        assert bridge._polling.scheduler.following == 0


async def test_wait_authentication_error_ends_at_once(vtime: VirtualClock) -> None:
    async with sandbox(vtime) as sb:
        config = AlumioConfig(sb.url, "wrong-token", **POLL)
        async with TaskBridge(alumio=config) as bridge:
            with pytest.raises(AuthenticationError):
                await bridge.wait("alumio", seeded(sb, "alumio"))
        assert sb.stats.alumio.requests == 1


async def test_wait_keeps_polling_through_retryable_errors(vtime: VirtualClock) -> None:
    faults = Faults(error_rate=0.5, error_statuses=(500, 503), seed=3)
    async with sandbox(vtime, faults=faults) as sb:
        async with bridge_for(sb, retry=RetryPolicy(max_attempts=1)) as bridge:
            task_id = seeded(sb, "alumio", 2)
            task = await bridge.wait("alumio", task_id)
        assert task.provider_status == sb.schedule("alumio", task_id)[-1][1]


async def test_watch_keeps_polling_through_queue_timeouts(vtime: VirtualClock) -> None:
    # One task's 429 pauses Alumio for 30 s; with max_queue_wait=1 the other task's polls
    # in that pause are shed at once (QueueTimeoutError): load shedding, not a verdict on
    # the task, so both are followed to their end.
    async with sandbox(vtime) as sb:
        async with bridge_for(sb, alumio={"max_queue_wait": 1.0}) as bridge:
            first, second = seeded(sb, "alumio", 2), seeded(sb, "alumio", 3)
            sb.answer("alumio", first, 429, times=1, retry_after=30)
            updates = [u async for u in bridge.watch([("alumio", first), ("alumio", second)])]
            assert bridge.stats().providers["alumio"].queue_timeouts >= 1
        assert [u.error for u in updates if u.error is not None] == []
        last = {u.ref.task_id: u.task for u in updates}
        for task_id in (first, second):
            task = last[task_id]
            assert task is not None
            assert task.provider_status == sb.schedule("alumio", task_id)[-1][1]


async def test_wait_invalid_id_is_refused_before_any_request(vtime: VirtualClock) -> None:
    async with sandbox(vtime) as sb, bridge_for(sb) as bridge:
        with pytest.raises(InvalidTaskIdError):
            await bridge.wait("cakewalk", "not-a-uuid")
        assert sb.stats.total == 0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        pytest.param({"timeout": -1}, "timeout", id="negative-timeout"),
        pytest.param({"timeout": float("nan")}, "timeout", id="nan-timeout"),
        pytest.param({"timeout": "5"}, "timeout", id="text-timeout"),
        pytest.param({"until": "running"}, "until", id="until-not-callable"),
    ],
)
async def test_wait_bad_arguments_are_configuration_errors(
    vtime: VirtualClock, kwargs: dict[str, Any], message: str
) -> None:
    async with sandbox(vtime) as sb, bridge_for(sb) as bridge:
        with pytest.raises(ConfigurationError, match=message):
            await bridge.wait("alumio", seeded(sb, "alumio"), **kwargs)
        assert sb.stats.total == 0


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_wait_until_returns_the_first_task_it_holds_for(
    vtime: VirtualClock, provider: str
) -> None:
    async with sandbox(vtime) as sb, bridge_for(sb) as bridge:
        task_id = seeded(sb, provider, 3)
        stages = sb.schedule(provider, task_id)
        task = await bridge.wait(provider, task_id, until=lambda t: t.status is TaskStatus.RUNNING)
        assert task.provider_status == stages[1][1]
        assert stages[1][0] <= vtime.now < stages[2][0]


async def test_wait_until_that_raises_ends_the_wait_with_its_error(vtime: VirtualClock) -> None:
    def until(task: object) -> bool:
        raise ZeroDivisionError

    async with sandbox(vtime) as sb, bridge_for(sb) as bridge:
        with pytest.raises(ZeroDivisionError):
            await bridge.wait("alumio", seeded(sb, "alumio"), until=until)
        assert bridge._polling.scheduler.following == 0


async def test_unchanged_task_is_polled_less_often_and_a_change_resets_it(
    vtime: VirtualClock,
) -> None:
    lifecycle = Lifecycle(step=100.0, jitter=0.0)
    async with sandbox(vtime, lifecycle=lifecycle) as sb, bridge_for(sb) as bridge:
        task_id = seeded(sb, "alumio")
        polls: list[float] = []
        draw = sb.state.draw

        def recording(provider: str, tid: str) -> Any:
            polls.append(vtime.now)
            return draw(provider, tid)

        sb.state.draw = recording  # type: ignore[method-assign]
        await bridge.wait("alumio", task_id)
    gaps = [round(b - a, 6) for a, b in itertools.pairwise(polls)]
    # 5 * 1.5**n up to the 20 s cap; the change (at 100 s) seen at 100.625 s starts
    # again at 5.
    assert gaps[:7] == [5.0, 7.5, 11.25, 16.875, 20.0, 20.0, 20.0]
    assert polls[7] == pytest.approx(100.625)
    assert gaps[7] == 5.0


async def test_concurrent_waits_on_one_task_share_its_polls(vtime: VirtualClock) -> None:
    async with sandbox(vtime) as sb, bridge_for(sb) as bridge:
        alone = seeded(sb, "alumio", 0)
        await bridge.wait("alumio", alone)
        alone_polls = requests_for(sb, "alumio", alone)
        start = vtime.now
        # Same lifecycle as `alone`, shifted: restart the clock for a fair comparison.
        sb.state.lifecycle_clock._origin = start  # type: ignore[union-attr]
        first, second = await asyncio.gather(
            bridge.wait("alumio", alone), bridge.wait("alumio", alone)
        )
        assert first == second
        assert requests_for(sb, "alumio", alone) == 2 * alone_polls


async def test_three_waits_and_a_watch_on_one_task_are_each_told_its_end(
    vtime: VirtualClock,
) -> None:
    # A task's first subscriber is held directly and the second makes a list: the third
    # and the fourth join that list, and each of the four is told the task's end.
    async with sandbox(vtime) as sb, bridge_for(sb) as bridge:
        task_id = seeded(sb, "alumio", 4)

        async def watch_it() -> list[tuple[float, TaskUpdate]]:
            return await collect(vtime, bridge.watch([("alumio", task_id)]))

        async def wait_it() -> UnifiedTask[Any]:
            return await bridge.wait("alumio", task_id)

        *waited, seen = await asyncio.wait_for(
            asyncio.gather(wait_it(), wait_it(), wait_it(), watch_it()), 30
        )
        assert bridge._polling.scheduler.following == 0
    assert waited[0].is_terminal
    assert waited == [waited[0]] * 3
    assert seen[-1][1].task == waited[0]


# watch


async def collect(
    vt: VirtualClock, updates: AsyncIterator[TaskUpdate]
) -> list[tuple[float, TaskUpdate]]:
    return [(vt.now, u) async for u in updates]


async def test_watch_yields_each_change_of_a_mix_of_providers_in_order(
    vtime: VirtualClock,
) -> None:
    async with sandbox(vtime) as sb, bridge_for(sb) as bridge:
        refs = [TaskRef("cakewalk", i) for i in sb.cakewalk_ids[:4]]
        refs += [TaskRef("alumio", i) for i in sb.alumio_ids[:4]]
        missing = TaskRef("alumio", "no-such-task")
        seen = await asyncio.wait_for(collect(vtime, bridge.watch([*refs, missing])), 30)
        assert bridge._polling.scheduler.following == 0
        # Terminal refs cost no further polls.
        attempts = vtime.attempts
        await vtime.sleep(3600)
        assert vtime.attempts == attempts

    times = [t for t, _ in seen]
    assert times == sorted(times)
    by_ref: dict[TaskRef, list[tuple[float, TaskUpdate]]] = {}
    for t, update in seen:
        by_ref.setdefault(update.ref, []).append((t, update))
    assert set(by_ref) == {*refs, missing}
    (only,) = by_ref.pop(missing)
    assert isinstance(only[1].error, TaskNotFoundError)
    assert only[1].task is None
    for ref, updates in by_ref.items():
        stages = sb.schedule(ref.provider, ref.task_id)
        assert [u.task.provider_status for _, u in updates if u.task] == [s for _, s in stages]
        assert updates[0][1].previous is None
        for (_, before), (_, after) in itertools.pairwise(updates):
            assert after.previous == before.task
        for (t, _), (at, _) in zip(updates, stages, strict=False):
            assert at <= t <= at + POLL["max_poll_interval"]
        assert all(u.error is None for _, u in updates)


async def test_watch_until_lets_a_ref_leave_early(vtime: VirtualClock) -> None:
    async with sandbox(vtime) as sb, bridge_for(sb) as bridge:
        refs = [("cakewalk", i) for i in sb.cakewalk_ids[:3]]
        watch = bridge.watch(refs, until=lambda t: t.status is TaskStatus.RUNNING)
        seen = await asyncio.wait_for(collect(vtime, watch), 30)
    statuses = [u.task.provider_status for _, u in seen if u.task]
    assert sorted(statuses) == ["InProgress"] * 3 + ["Pending"] * 3
    assert vtime.now < max(sb.schedule("cakewalk", i)[2][0] for _, i in refs)


async def test_a_ref_that_left_a_watch_by_until_gets_no_more_updates_while_a_wait_polls_it(
    vtime: VirtualClock,
) -> None:
    # A ref followed by a wait and a watch: `until` lets it leave the watch at
    # InProgress. The wait goes on polling it to its end while the watch still follows a
    # ref that ends later, and the watch yields nothing more for the one that left.
    async with sandbox(vtime) as sb, bridge_for(sb) as bridge:
        ids = sb.ids("cakewalk")[:8]
        end = {i: sb.schedule("cakewalk", i)[-1][0] for i in ids}
        early, late = min(ids, key=end.__getitem__), max(ids, key=end.__getitem__)
        assert end[early] + 2 * POLL["max_poll_interval"] < end[late]
        waiting = asyncio.ensure_future(bridge.wait("cakewalk", early))
        await asyncio.sleep(0)  # the wait subscribes first: the watch joins a list
        watch = bridge.watch(
            [("cakewalk", early), ("cakewalk", late)],
            until=lambda t: t.id == early and t.provider_status == "InProgress",
        )
        seen = await asyncio.wait_for(collect(vtime, watch), 30)
        final = await asyncio.wait_for(waiting, 30)
    assert final.is_terminal
    statuses = [s for _, s in sb.schedule("cakewalk", early)]
    left_at = statuses.index("InProgress") + 1
    assert [u.task.provider_status for _, u in seen if u.task and u.ref.task_id == early] == (
        statuses[:left_at]
    )
    assert [u.task.provider_status for _, u in seen if u.task and u.ref.task_id == late] == [
        s for _, s in sb.schedule("cakewalk", late)
    ]


async def test_a_watch_joining_a_task_a_wait_has_seen_reports_its_changes_from_then_on(
    vtime: VirtualClock,
) -> None:
    # A wait has seen the task (still Pending); a watch joins it: its first update has
    # previous=None, and each later one the task as the watch last saw it.
    async with sandbox(vtime) as sb, bridge_for(sb) as bridge:
        task_id = seeded(sb, "cakewalk", 1)
        stages = sb.schedule("cakewalk", task_id)
        waiting = asyncio.ensure_future(bridge.wait("cakewalk", task_id))
        await vtime.sleep(stages[1][0] / 2)
        assert requests_for(sb, "cakewalk", task_id) >= 2
        seen = await asyncio.wait_for(collect(vtime, bridge.watch([("cakewalk", task_id)])), 30)
        await asyncio.wait_for(waiting, 30)
    updates = [u for _, u in seen]
    assert [u.task.provider_status for u in updates if u.task] == [s for _, s in stages]
    assert updates[0].previous is None
    for before, after in itertools.pairwise(updates):
        assert after.previous == before.task


async def test_watch_reports_each_ref_asked_twice_once(vtime: VirtualClock) -> None:
    async with sandbox(vtime) as sb, bridge_for(sb) as bridge:
        task_id = seeded(sb, "cakewalk", 2)
        refs = [("cakewalk", task_id), ("cakewalk", task_id), TaskRef("cakewalk", task_id)]
        seen = await asyncio.wait_for(collect(vtime, bridge.watch(refs)), 30)
    assert len(seen) == 3  # one per stage, not three
    assert requests_for(sb, "cakewalk", task_id) <= 1 + int(vtime.now // 5)


async def test_watch_and_wait_on_the_same_task_share_its_polls(vtime: VirtualClock) -> None:
    async with sandbox(vtime) as sb, bridge_for(sb) as bridge:
        task_id = seeded(sb, "alumio", 4)

        async def watch_it() -> list[tuple[float, TaskUpdate]]:
            return await collect(vtime, bridge.watch([("alumio", task_id)]))

        seen, task = await asyncio.gather(watch_it(), bridge.wait("alumio", task_id))
        both = requests_for(sb, "alumio", task_id)
    assert seen[-1][1].task == task
    async with sandbox(vtime) as sb2, bridge_for(sb2) as bridge2:
        await bridge2.wait("alumio", task_id)
        assert requests_for(sb2, "alumio", task_id) == both


async def test_watch_invalid_refs_are_reported_once_and_do_not_stop_the_others(
    vtime: VirtualClock,
) -> None:
    async with sandbox(vtime) as sb, bridge_for(sb) as bridge:
        refs: list[Any] = [("cakewalk", "not-a-uuid"), ("nowhere", "x"), "junk"]
        refs.append(("alumio", seeded(sb, "alumio")))
        seen = await asyncio.wait_for(collect(vtime, bridge.watch(refs)), 30)
    errors = [u.error for _, u in seen if u.error is not None]
    assert [type(e) for e in errors] == [
        InvalidTaskIdError,
        ConfigurationError,
        ConfigurationError,
    ]
    assert seen[-1][1].task is not None
    assert seen[-1][1].task.is_terminal


@pytest.mark.parametrize("how", ["break", "aclose", "context", "cancel"])
async def test_leaving_a_watch_stops_all_polling_at_once(vtime: VirtualClock, how: str) -> None:
    async with sandbox(vtime, lifecycle=Lifecycle(speed=0)) as sb, bridge_for(sb) as bridge:
        refs = [("cakewalk", i) for i in sb.cakewalk_ids[:10]]
        refs += [("alumio", i) for i in sb.alumio_ids[:10]]
        got: list[TaskUpdate] = []

        three = asyncio.Event()

        async def consume() -> None:
            if how == "context":
                async with bridge.watch(refs) as updates:
                    async for update in updates:
                        got.append(update)
                        if len(got) == 3:
                            break
                return
            updates = bridge.watch(refs)
            async for update in updates:
                got.append(update)
                if len(got) == 3:
                    if how == "cancel":
                        three.set()
                        continue  # and wait for more, until cancelled
                    break
            if how == "aclose":
                await updates.aclose()

        if how == "cancel":
            consumer = asyncio.ensure_future(consume())
            await asyncio.wait_for(three.wait(), 30)
            consumer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await consumer
            del consumer
        else:
            await consume()
        gc.collect()
        assert len(got) == 3 or (how == "cancel" and len(got) >= 3)
        assert bridge._polling.scheduler.following == 0
        # Attempts already sent were cancelled (the sandbox may still see them): none
        # starts afterwards.
        before = vtime.attempts
        await vtime.sleep(3600)
        assert vtime.attempts == before
        assert bridge._polling.scheduler.idle


async def test_watch_never_breaks_the_rate_limit_and_uses_all_of_it(vtime: VirtualClock) -> None:
    rpm = 60
    faults = Faults(rate_limit_per_minute=rpm)
    async with (
        sandbox(vtime, lifecycle=Lifecycle(step=120.0), faults=faults) as sb,
        bridge_for(
            sb, cakewalk={"requests_per_minute": rpm, "poll_interval": 1, "max_poll_interval": 2}
        ) as bridge,
    ):
        arrivals: list[float] = []
        polled: list[tuple[float, str]] = []
        limited: list[float] = []
        draw = sb.state.draw

        def recording(provider: str, tid: str) -> Any:
            decision, wait = draw(provider, tid)
            arrivals.append(vtime.now)
            polled.append((vtime.now, tid))
            if wait is not None:
                limited.append(vtime.now)
            return decision, wait

        sb.state.draw = recording  # type: ignore[method-assign]
        refs = [("cakewalk", i) for i in sb.cakewalk_ids[:40]]
        left = len(refs)
        last_left_at = first_left_at = 0.0
        async for update in bridge.watch(refs):
            if update.task is not None and update.task.is_terminal:
                left -= 1
                if left == len(refs) - 1:
                    first_left_at = vtime.now
                if left == len(refs) // 2:
                    last_left_at = vtime.now
    assert limited == []
    # The client limiter's promise: a burst of one, then one a second.
    for i, start in enumerate(arrivals):
        later = [t for t in arrivals[i:] if t - start < 10.0]
        assert len(later) <= 10 + 1
    # While half of the refs remain (each wants 1 poll every 1-2 s), every slot is used.
    busy = [t for t in arrivals if t <= last_left_at]
    assert len(busy) >= 0.95 * last_left_at * rpm / 60
    # Shared fairly: while all were watched, each ref got its turn in the same rounds.
    counts = Counter(tid for t, tid in polled if t < first_left_at)
    assert len(counts) == len(refs)
    assert max(counts.values()) - min(counts.values()) <= 1


async def test_watching_does_not_starve_other_calls(vtime: VirtualClock) -> None:
    async with (
        sandbox(vtime, lifecycle=Lifecycle(speed=0)) as sb,
        bridge_for(
            sb,
            cakewalk={
                "requests_per_minute": 60,
                "poll_interval": 1,
                "max_poll_interval": 1,
                "max_concurrency": 4,
            },
        ) as bridge,
    ):
        refs = [("cakewalk", i) for i in sb.cakewalk_ids[:30]]
        async with bridge.watch(refs) as updates:
            async for _ in updates:
                if vtime.now > 20:
                    break
            start = vtime.now
            task = await bridge.get("cakewalk", sb.cakewalk_ids[40])
            # Behind at most the polls already holding a slot (2), at 1/s.
            assert vtime.now - start <= 4
            assert task.id == sb.cakewalk_ids[40]


async def test_closing_the_bridge_ends_waits_and_watches(vtime: VirtualClock) -> None:
    async with sandbox(vtime, lifecycle=Lifecycle(speed=0)) as sb:
        bridge = bridge_for(sb)
        async with bridge:
            waiting = asyncio.ensure_future(bridge.wait("alumio", seeded(sb, "alumio")))
            watch = bridge.watch([("cakewalk", seeded(sb, "cakewalk"))])
            first = await watch.__anext__()
            assert first.task is not None
        with pytest.raises(TaskBridgeError, match="closed"):
            await waiting
        with pytest.raises(TaskBridgeError, match="closed"):
            await watch.__anext__()
        with pytest.raises(TaskBridgeError, match="closed"):
            await bridge.wait("alumio", seeded(sb, "alumio"))


@pytest.mark.parametrize(
    ("options", "message"),
    [
        pytest.param({"poll_interval": 0}, "poll_interval", id="zero"),
        pytest.param({"poll_interval": float("inf")}, "poll_interval", id="inf"),
        pytest.param({"max_poll_interval": True}, "max_poll_interval", id="bool"),
        pytest.param({"poll_interval": 10, "max_poll_interval": 5}, ">=", id="cap-below-start"),
    ],
)
def test_bad_polling_options_are_configuration_errors(
    options: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigurationError, match=message):
        CakewalkConfig("k", "s", **options)
    with pytest.raises(ConfigurationError, match=message):
        AlumioConfig("https://acme.alumio.com", "t", **options)


def test_polling_defaults_suit_each_provider() -> None:
    cakewalk = CakewalkConfig("k", "s")
    alumio = AlumioConfig("https://acme.alumio.com", "t")
    assert 0 < alumio.poll_interval < cakewalk.poll_interval
    assert cakewalk.poll_interval <= cakewalk.max_poll_interval
    assert alumio.poll_interval <= alumio.max_poll_interval


async def test_watch_of_no_refs_ends_at_once(vtime: VirtualClock) -> None:
    async with sandbox(vtime) as sb, bridge_for(sb) as bridge:
        assert [u async for u in bridge.watch([])] == []
        assert sb.stats.total == 0


async def test_a_poll_and_a_concurrent_get_of_one_task_cost_one_request(
    vtime: VirtualClock,
) -> None:
    async with sandbox(vtime, lifecycle=Lifecycle(speed=0)) as sb, bridge_for(sb) as bridge:
        task_id = seeded(sb, "cakewalk", 4)
        watch = bridge.watch([("cakewalk", task_id)])
        got, first = await asyncio.gather(bridge.get("cakewalk", task_id), watch.__anext__())
        watch.close()
        assert first.task == got
        assert requests_for(sb, "cakewalk", task_id) == 1


async def test_watch_on_a_closed_bridge_is_refused(vtime: VirtualClock) -> None:
    async with sandbox(vtime) as sb:
        bridge = bridge_for(sb)
        await bridge.aclose()
        with pytest.raises(TaskBridgeError, match="closed"):
            await bridge.watch([("alumio", seeded(sb, "alumio"))]).__anext__()
        with pytest.raises(ConfigurationError, match="until"):
            bridge.watch([], until=42)  # type: ignore[arg-type]


async def test_a_closed_view_refuses_wait_and_watch(vtime: VirtualClock) -> None:
    async with sandbox(vtime) as sb, bridge_for(sb) as bridge:
        view = bridge.with_options(timeout=5.0)
        await view.aclose()
        task_id = seeded(sb, "alumio")
        with pytest.raises(BridgeClosedError):
            await view.wait("alumio", task_id)
        with pytest.raises(BridgeClosedError):
            view.watch([("alumio", task_id)])
        assert (await bridge.wait("alumio", task_id)).is_terminal  # the bridge goes on


async def test_a_view_made_before_the_first_watch_shares_the_bridges_scheduler(
    vtime: VirtualClock,
) -> None:
    # The scheduler is built at the first wait or watch, through whichever bridge or view
    # comes first; one made before then still polls through the same one.
    async with sandbox(vtime) as sb, bridge_for(sb) as bridge:
        view = bridge.with_options(timeout=5.0)
        task_id = seeded(sb, "alumio")
        async with view.watch([("alumio", task_id)]) as watch:
            await asyncio.wait_for(watch.__anext__(), 10)
            assert bridge._polling.scheduler.following == 1
        assert view._polling.scheduler is bridge._polling.scheduler


async def test_watch_reads_an_async_iterable_of_refs(vtime: VirtualClock) -> None:
    async with sandbox(vtime) as sb, bridge_for(sb) as bridge:

        async def refs() -> AsyncIterator[tuple[str, str]]:
            for task_id in sb.alumio_ids[:3]:
                yield ("alumio", task_id)

        seen = await asyncio.wait_for(collect(vtime, bridge.watch(refs())), 30)
    finals = {u.ref.task_id: u.task.provider_status for _, u in seen if u.task}
    assert finals == {i: sb.schedule("alumio", i)[-1][1] for i in sb.alumio_ids[:3]}


async def test_watch_until_that_raises_ends_the_watch_with_its_error(vtime: VirtualClock) -> None:
    def until(task: object) -> bool:
        raise ZeroDivisionError

    async with sandbox(vtime) as sb, bridge_for(sb) as bridge:
        with pytest.raises(ZeroDivisionError):
            async for _ in bridge.watch([("alumio", seeded(sb, "alumio"))], until=until):
                pass
        assert bridge._polling.scheduler.following == 0


async def test_cancelling_a_wait_stops_its_polling(vtime: VirtualClock) -> None:
    async with sandbox(vtime, lifecycle=Lifecycle(speed=0)) as sb, bridge_for(sb) as bridge:
        seen = asyncio.Event()

        def until(task: object) -> bool:
            seen.set()
            return False

        waiting = asyncio.ensure_future(bridge.wait("alumio", seeded(sb, "alumio"), until=until))
        await asyncio.wait_for(seen.wait(), 30)
        waiting.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await waiting
        assert bridge._polling.scheduler.following == 0
        attempts = vtime.attempts
        await vtime.sleep(3600)
        assert vtime.attempts == attempts


async def test_the_scheduler_and_the_watch_say_what_they_follow(vtime: VirtualClock) -> None:
    async with sandbox(vtime) as sb, bridge_for(sb) as bridge:
        scheduler = bridge._polling.scheduler
        assert scheduler.idle
        task_id = seeded(sb, "alumio")
        async with bridge.watch([("alumio", task_id)]) as watch:
            first = await asyncio.wait_for(watch.__anext__(), 10)
            assert first.previous is None
            # Between two polls: followed, nothing in flight, the driver parked.
            assert not scheduler.idle
            assert scheduler.following == 1
            assert repr(scheduler) == "<taskbridge Scheduler following=1>"
            assert repr(watch) == "<taskbridge Watch following=1>"
        # Leaving the block stops its polls at once (the watch is still referenced).
        assert scheduler.following == 0
        with pytest.raises(StopAsyncIteration):
            await watch.__anext__()


async def test_a_wait_on_a_closed_bridge_fails_at_once(vtime: VirtualClock) -> None:
    async with sandbox(vtime) as sb:
        bridge = bridge_for(sb)
        async with bridge:
            pass
        with pytest.raises(BridgeClosedError):
            await asyncio.wait_for(bridge.wait("alumio", seeded(sb, "alumio"), timeout=0), 10)
        assert sb.stats.alumio.requests == 0


async def test_a_wait_that_ends_before_its_timeout_leaves_no_timer(vtime: VirtualClock) -> None:
    async with sandbox(vtime, lifecycle=None) as sb, bridge_for(sb) as bridge:
        waited = bridge.wait("alumio", seeded(sb, "alumio"), timeout=600, until=lambda t: True)
        await asyncio.wait_for(waited, 10)  # at the first poll
        for _ in range(5):  # the lane's driver ends (it has nothing left to follow)
            await asyncio.sleep(0)
        timers = [t for t in asyncio.all_tasks() if "VirtualClock.sleep" in repr(t.get_coro())]
        assert timers == []
        assert bridge._polling.scheduler.idle


async def test_a_watch_whose_refs_raise_midway_ends_with_that_error(vtime: VirtualClock) -> None:
    async with sandbox(vtime) as sb, bridge_for(sb) as bridge:
        first = seeded(sb, "alumio")

        def refs() -> Any:
            yield ("alumio", first)
            raise LookupError("the input broke")

        watch = bridge.watch(refs())
        with pytest.raises(LookupError, match="the input broke"):
            await asyncio.wait_for(watch.__anext__(), 10)
        assert bridge._polling.scheduler.following == 0  # the ref read before the error: let go
        with pytest.raises(StopAsyncIteration):
            await watch.__anext__()


async def _until(condition: Any, what: str) -> None:
    async def poll() -> None:
        while not condition():  # noqa: ASYNC110 - counters have no event to wait on
            await asyncio.sleep(0.005)

    try:
        await asyncio.wait_for(poll(), 10)
    except TimeoutError:
        raise AssertionError(f"timed out waiting for {what}") from None


async def test_closing_a_watch_cancels_its_poll_in_flight() -> None:
    async with (
        Sandbox(any_id=True, faults=Faults(latency=30)) as sb,
        TaskBridge(alumio=sb.alumio_config()) as bridge,
    ):
        watch = bridge.watch([("alumio", "slow-to-answer")])
        consumer = asyncio.ensure_future(watch.__anext__())
        await _until(lambda: sb.stats.alumio.in_flight == 1, "the poll to arrive")
        await watch.aclose()
        # The poll's request is cancelled now, not left to run its 30 s.
        await _until(lambda: _in_flight(bridge) == 0, "the poll to be cancelled")
        with pytest.raises(StopAsyncIteration):
            await asyncio.wait_for(consumer, 10)


def _in_flight(bridge: TaskBridge) -> int:
    return bridge.stats().providers["alumio"].in_flight


async def test_closing_the_bridge_mid_wait_leaves_no_polling_behind(vtime: VirtualClock) -> None:
    # A frozen lifecycle: the task never finishes, so the wait is still on when looked at.
    async with sandbox(vtime, lifecycle=Lifecycle(speed=0)) as sb:
        bridge = bridge_for(sb)
        async with bridge:
            waiting = asyncio.ensure_future(bridge.wait("alumio", seeded(sb, "alumio")))
            await _until(lambda: bridge._polling.scheduler.following == 1, "the wait to start")
        with pytest.raises(TaskBridgeError, match="closed"):
            await asyncio.wait_for(waiting, 10)
        for _ in range(5):  # cancelled tasks finish
            await asyncio.sleep(0)
        assert bridge._polling.scheduler.following == 0
        assert bridge._polling.scheduler.idle
        assert [t for t in asyncio.all_tasks() if "Lane." in repr(t.get_coro())] == []


async def test_a_watch_first_iterated_after_the_bridge_closed_raises(vtime: VirtualClock) -> None:
    async with sandbox(vtime) as sb:
        bridge = bridge_for(sb)
        async with bridge:
            watch = bridge.watch([("alumio", seeded(sb, "alumio"))])
        with pytest.raises(BridgeClosedError):
            await asyncio.wait_for(watch.__anext__(), 10)
        assert sb.stats.alumio.requests == 0


async def test_a_watch_ended_by_an_error_lets_its_other_refs_go(vtime: VirtualClock) -> None:
    def until(task: Any) -> bool:
        if task.id == seeded(sb, "alumio", 1):
            raise ZeroDivisionError("until broke")
        return False

    async with sandbox(vtime) as sb, bridge_for(sb) as bridge:
        watch = bridge.watch([("alumio", seeded(sb, "alumio", n)) for n in range(2)], until=until)
        with pytest.raises(ZeroDivisionError):
            for _ in range(3):
                await asyncio.wait_for(watch.__anext__(), 10)
        # No async with around it: the error alone ends the watch and its polls.
        assert bridge._polling.scheduler.following == 0


async def test_a_consumer_cancelled_in_a_watch_ends_cancelled(vtime: VirtualClock) -> None:
    async with sandbox(vtime) as sb, bridge_for(sb) as bridge:
        watch = bridge.watch([("alumio", seeded(sb, "alumio"))])
        first = await asyncio.wait_for(watch.__anext__(), 10)
        assert first.previous is None
        consumer = asyncio.ensure_future(watch.__anext__())  # waits for a change
        for _ in range(5):
            await asyncio.sleep(0)
        consumer.cancel()
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(consumer, 10)
        assert bridge._polling.scheduler.following == 0
