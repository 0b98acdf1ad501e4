"""Per-call control and visibility: `with_options`, `stats()` and `max_queue_wait`.

Everything runs the real aiohttp client against the sandbox on loopback.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable

import attrs
import pytest

from taskbridge import (
    AlumioConfig,
    BatchTimeoutError,
    ConfigurationError,
    QueueTimeoutError,
    RateLimitedError,
    RequestTimeoutError,
    RetryPolicy,
    ServerError,
    TaskBridge,
    TaskBridgeError,
    TaskNotFoundError,
    TransportError,
)
from taskbridge.sandbox import Faults, Sandbox
from taskbridge.testing import VirtualClock

NO_WAIT = RetryPolicy(max_attempts=2, initial_backoff=0, max_backoff=0)


@pytest.fixture
async def sb() -> AsyncIterator[Sandbox]:
    async with Sandbox(seed=3, any_id=True) as sandbox:
        yield sandbox


async def until(condition: Callable[[], bool], what: str) -> None:
    """Wait (bounded) for a condition that the event loop will make true."""

    async def poll() -> None:
        while not condition():  # noqa: ASYNC110 - counters have no event to wait on
            await asyncio.sleep(0.005)

    try:
        await asyncio.wait_for(poll(), 10)
    except asyncio.TimeoutError:
        pytest.fail(f"timed out waiting for {what}")


# with_options


async def test_view_uses_its_own_timeout(sb: Sandbox) -> None:
    sb.set_faults("alumio", Faults(latency=0.5))
    async with TaskBridge(alumio=sb.alumio_config(), retry=RetryPolicy(max_attempts=1)) as bridge:
        fast = bridge.with_options(timeout=0.05)
        with pytest.raises(RequestTimeoutError):
            await fast.get("alumio", "order-1")
        task = await bridge.get("alumio", "order-1")
    assert task.id == "order-1"


async def test_view_uses_its_own_retry_policy(sb: Sandbox) -> None:
    sb.set_faults("alumio", Faults(error_rate=1.0, error_statuses=[500]))
    async with TaskBridge(alumio=sb.alumio_config(), retry=NO_WAIT) as bridge:
        once = bridge.with_options(retry=RetryPolicy(max_attempts=1))
        with pytest.raises(ServerError):
            await once.get("alumio", "a")
        assert sb.stats.alumio.requests == 1
        with pytest.raises(ServerError):
            await bridge.get("alumio", "b")
        assert sb.stats.alumio.requests == 3


async def test_view_shares_in_flight_deduplication(sb: Sandbox) -> None:
    sb.set_faults("alumio", Faults(latency=0.3))
    async with TaskBridge(alumio=sb.alumio_config()) as bridge:
        view = bridge.with_options(timeout=10)
        first, second = await asyncio.gather(
            bridge.get("alumio", "same"), view.get("alumio", "same")
        )
    assert first == second
    assert sb.stats.alumio.requests == 1


async def test_view_shares_statistics_and_limits(sb: Sandbox) -> None:
    async with TaskBridge(alumio=sb.alumio_config(max_concurrency=3)) as bridge:
        view = bridge.with_options(timeout=5)
        await view.get("alumio", "x")
        assert bridge.stats().providers["alumio"].requests == 1
        assert view.stats() == bridge.stats()
        assert view.stats().providers["alumio"].max_concurrency == 3


async def test_view_shares_the_session_and_closing_it_leaves_the_bridge_open(
    sb: Sandbox,
) -> None:
    async with TaskBridge(alumio=sb.alumio_config()) as bridge:
        view = bridge.with_options(timeout=5)
        await view.get("alumio", "x")
        assert view._engine.session is bridge._engine.session
        await view.aclose()
        with pytest.raises(TaskBridgeError, match="closed"):
            await view.get("alumio", "x")
        assert (await bridge.get("alumio", "y")).id == "y"
        other = bridge.with_options(timeout=5)
    with pytest.raises(TaskBridgeError, match="closed"):
        await other.get("alumio", "x")


async def test_view_of_a_view_keeps_the_root(sb: Sandbox) -> None:
    async with TaskBridge(alumio=sb.alumio_config()) as bridge:
        inner = bridge.with_options(timeout=5).with_options(retry=RetryPolicy(max_attempts=1))
        assert inner._root is bridge  # type: ignore[attr-defined]
        assert inner._call.settings.timeout.total == 5
        assert inner._call.settings.retry.max_attempts == 1
        assert "view" in repr(inner)


async def test_view_runs_batches(sb: Sandbox) -> None:
    async with TaskBridge(alumio=sb.alumio_config()) as bridge:
        view = bridge.with_options(timeout=5)
        results = await view.get_many([("alumio", "a"), ("alumio", "b")])
        streamed = [r async for r in view.stream([("alumio", "c")])]
    assert [r.ok for r in results] == [True, True]
    assert streamed[0].ok


@pytest.mark.parametrize(
    "options",
    [
        pytest.param({"timeout": 0}, id="zero-timeout"),
        pytest.param({"timeout": float("nan")}, id="nan-timeout"),
        pytest.param({"timeout": True}, id="bool-timeout"),
        pytest.param({"retry": 3}, id="retry-not-a-policy"),
        pytest.param({"max_response_bytes": 0}, id="zero-bytes"),
    ],
)
def test_with_options_refuses_bad_values(options: dict[str, object]) -> None:
    bridge = TaskBridge()
    with pytest.raises(ConfigurationError):
        bridge.with_options(**options)  # type: ignore[arg-type]


# stats()


async def test_stats_start_at_zero_and_come_back_to_it(sb: Sandbox) -> None:
    async with TaskBridge(alumio=sb.alumio_config(requests_per_minute=600)) as bridge:
        counts = []
        for _ in range(2):
            snap = bridge.stats().providers["alumio"]
            counts.append(
                (
                    snap.requests,
                    snap.in_flight,
                    snap.queued,
                    snap.waiting_for_rate_limit,
                    snap.retries,
                    snap.rate_limited,
                    snap.queue_timeouts,
                )
            )
            await bridge.get("alumio", "x")
    assert counts == [(0, 0, 0, 0, 0, 0, 0), (1, 0, 0, 0, 0, 0, 0)]


async def test_stats_counts_in_flight_and_requests(sb: Sandbox) -> None:
    sb.set_faults("cakewalk", Faults(latency=30))
    config = sb.cakewalk_config(requests_per_minute=600, max_concurrency=4)
    async with TaskBridge(cakewalk=config) as bridge:
        before = bridge.stats().providers["cakewalk"]
        assert (before.requests, before.in_flight, before.queued) == (0, 0, 0)
        fetch = asyncio.ensure_future(bridge.get("cakewalk", sb.cakewalk_ids[0]))
        await until(lambda: sb.stats.cakewalk.in_flight == 1, "the request to arrive")
        during = bridge.stats().providers["cakewalk"]
        assert during.in_flight == 1
        assert during.requests == 1
        assert during.requests_per_minute == 600
        assert during.max_concurrency == 4
        assert during.max_queue_wait is None
        assert during.paused_until is None
        fetch.cancel()
        with pytest.raises(asyncio.CancelledError):
            await fetch
        after = bridge.stats().providers["cakewalk"]
        assert after.in_flight == 0
        assert after.requests == 1


async def test_stats_counts_queued_requests(sb: Sandbox) -> None:
    sb.set_faults("alumio", Faults(latency=30))
    async with TaskBridge(alumio=sb.alumio_config(max_concurrency=1)) as bridge:
        batch = asyncio.gather(*(bridge.get("alumio", f"q{i}") for i in range(3)))
        await until(lambda: bridge.stats().providers["alumio"].queued == 2, "two queued")
        snap = bridge.stats().providers["alumio"]
        assert (snap.in_flight, snap.queued) == (1, 2)
        batch.cancel()
        with pytest.raises(asyncio.CancelledError):
            await batch
        snap = bridge.stats().providers["alumio"]
        assert (snap.in_flight, snap.queued) == (0, 0)


async def test_stats_counts_retries_and_429s_and_shows_the_pause(sb: Sandbox) -> None:
    sb.set_faults("alumio", Faults(rate_limit_rate=1.0, retry_after=30))
    policy = RetryPolicy(max_attempts=2, max_retry_after=60)
    async with TaskBridge(alumio=sb.alumio_config(), retry=policy) as bridge:
        fetch = asyncio.ensure_future(bridge.get("alumio", "busy"))
        await until(lambda: bridge.stats().providers["alumio"].retries == 1, "a retry")
        snap = bridge.stats().providers["alumio"]
        assert snap.rate_limited == 1
        assert snap.paused and snap.paused_until is not None
        assert snap.paused_until.tzinfo is not None
        assert snap.to_dict()["paused_until"] == snap.paused_until.isoformat()
        fetch.cancel()
        with pytest.raises(asyncio.CancelledError):
            await fetch


async def test_stats_counts_429_that_is_not_retried(sb: Sandbox) -> None:
    sb.set_faults("alumio", Faults(rate_limit_rate=1.0, retry_after=1))
    async with TaskBridge(alumio=sb.alumio_config(), retry=RetryPolicy(max_attempts=1)) as bridge:
        with pytest.raises(RateLimitedError):
            await bridge.get("alumio", "busy")
        snap = bridge.stats().providers["alumio"]
    assert (snap.rate_limited, snap.retries, snap.requests) == (1, 0, 1)


async def test_stats_snapshot_is_frozen_and_does_not_change(sb: Sandbox) -> None:
    async with TaskBridge(alumio=sb.alumio_config()) as bridge:
        snap = bridge.stats()
        await bridge.get("alumio", "x")
        assert snap.providers["alumio"].requests == 0
        with pytest.raises(attrs.exceptions.FrozenInstanceError):
            snap.providers["alumio"].requests = 5  # type: ignore[misc]
        assert bridge.stats().to_dict()["providers"]["alumio"]["requests"] == 1


# max_queue_wait


def test_max_queue_wait_defaults_to_none_and_is_checked() -> None:
    sandbox = Sandbox()
    sandbox._port = 1  # never started: only builds configs
    assert sandbox.alumio_config().max_queue_wait is None
    assert sandbox.cakewalk_config(max_queue_wait=2).max_queue_wait == 2
    for bad in (0, -1, float("inf"), "2", True):
        with pytest.raises(ConfigurationError, match="max_queue_wait"):
            sandbox.alumio_config(max_queue_wait=bad)
        with pytest.raises(ConfigurationError, match="max_queue_wait"):
            sandbox.cakewalk_config(max_queue_wait=bad)


async def test_request_waiting_longer_than_max_queue_wait_for_a_slot_fails(sb: Sandbox) -> None:
    sb.set_faults("alumio", Faults(latency=30))
    config = sb.alumio_config(max_concurrency=1, max_queue_wait=0.05)
    async with TaskBridge(alumio=config) as bridge:
        holder = asyncio.ensure_future(bridge.get("alumio", "holder"))
        await until(lambda: sb.stats.alumio.in_flight == 1, "the slot to be taken")
        with pytest.raises(QueueTimeoutError) as info:
            await bridge.get("alumio", "shed")
        assert isinstance(info.value, TaskBridgeError)
        assert info.value.provider == "alumio" and info.value.task_id == "shed"
        assert info.value.max_queue_wait == 0.05
        assert bridge.stats().providers["alumio"].queue_timeouts == 1
        holder.cancel()
        with pytest.raises(asyncio.CancelledError):
            await holder
        # The refused request left no slot behind: the next one goes through.
        sb.set_faults("alumio", None)
        assert (await bridge.get("alumio", "after")).id == "after"
        assert sb.stats.alumio.requests == 2


async def test_request_during_a_long_pause_fails_at_once(sb: Sandbox) -> None:
    async with TaskBridge(alumio=sb.alumio_config(max_queue_wait=5)) as bridge:
        bridge._engine.gates["alumio"].pause(60)
        with pytest.raises(QueueTimeoutError, match="paused"):
            # Bounded well below the 5 s max_queue_wait: the refusal must not wait.
            await asyncio.wait_for(bridge.get("alumio", "x"), 2)
    assert sb.stats.alumio.requests == 0


async def test_rate_limited_backlog_beyond_max_queue_wait_is_refused_at_once(
    sb: Sandbox,
) -> None:
    # 60/min is one start a second: of 10 at once, only 4 start within 3.5 s.
    config = sb.alumio_config(requests_per_minute=60, max_queue_wait=3.5)
    async with TaskBridge(alumio=config) as bridge:
        results = await asyncio.wait_for(
            bridge.get_many([("alumio", f"r{i}") for i in range(10)]), 10
        )
    errors = [type(r.error) for r in results if not r.ok]
    assert errors and set(errors) == {QueueTimeoutError}
    # Refused by the prediction, not after waiting out the bound.
    assert all("queued ahead" in str(r.error) for r in results if not r.ok)
    assert sum(r.ok for r in results) <= 5
    assert sb.stats.alumio.requests == sum(r.ok for r in results)


async def test_a_batch_ref_whose_turn_comes_after_max_queue_wait_is_refused() -> None:
    # One slot at 60/min (a start a second, no burst), on the virtual clock: the refs of
    # a batch wait their turn from the call on; one whose turn comes later than
    # max_queue_wait is refused then, without a request. Turns come at 0, 0, 1, 2, 3 s:
    # the one at exactly max_queue_wait (2 s) is still in time.
    async with VirtualClock(), Sandbox(any_id=True) as sandbox:
        config = sandbox.alumio_config(max_concurrency=1, requests_per_minute=60, max_queue_wait=2)
        async with TaskBridge(alumio=config) as bridge:
            results = await asyncio.wait_for(
                bridge.get_many(("alumio", f"turn-{n}") for n in range(5)), 10
            )
            snap = bridge.stats().providers["alumio"]
    assert [r.ok for r in results] == [True, True, True, True, False]
    assert isinstance(results[4].error, QueueTimeoutError)
    assert "its turn in the batch came later" in str(results[4].error)
    assert (snap.requests, snap.queue_timeouts) == (4, 1)
    assert sandbox.stats.alumio.requests == 4


async def test_without_max_queue_wait_requests_queue(sb: Sandbox) -> None:
    sb.set_faults("alumio", Faults(latency=0.05))
    async with TaskBridge(alumio=sb.alumio_config(max_concurrency=1)) as bridge:
        results = await bridge.get_many([("alumio", f"w{i}") for i in range(5)])
    assert all(r.ok for r in results)


async def test_queue_timeout_is_not_retried(sb: Sandbox) -> None:
    policy = RetryPolicy(max_attempts=4, initial_backoff=0, max_backoff=0)
    async with TaskBridge(alumio=sb.alumio_config(max_queue_wait=1), retry=policy) as bridge:
        bridge._engine.gates["alumio"].pause(60)
        with pytest.raises(QueueTimeoutError):
            await asyncio.wait_for(bridge.get("alumio", "x"), 2)
        assert bridge.stats().providers["alumio"].retries == 0


# get_many under a deadline


async def test_get_many_timeout_keeps_what_finished(sb: Sandbox) -> None:
    sb.set_faults("alumio", Faults(slow_rate=0.5, slow_delay=30, seed=4))
    refs = [("alumio", f"d{i}") for i in range(20)]
    seen = []
    async with TaskBridge(alumio=sb.alumio_config()) as bridge:
        results = await asyncio.wait_for(
            bridge.get_many(
                [*refs, ("alumio", "d0"), ("nope", "x")], timeout=1, on_result=seen.append
            ),
            10,
        )
        assert bridge.stats().providers["alumio"].in_flight == 0
    assert len(results) == 22
    assert [r.ref for r in results[:20]] == [tuple(r) for r in refs]
    slow = [r for r in results[:20] if not r.ok]
    assert slow and len(slow) < 20
    assert all(isinstance(r.error, BatchTimeoutError) for r in slow)
    assert all(isinstance(r.error, TimeoutError) for r in slow)
    assert results[20] == results[0]  # a duplicate ref gets the same outcome
    assert isinstance(results[21].error, ConfigurationError)
    assert len(seen) == 22 - len(slow) - (not results[0].ok)


async def test_get_many_timeout_returns_everything_when_in_time(sb: Sandbox) -> None:
    async with TaskBridge(alumio=sb.alumio_config()) as bridge:
        results = await bridge.get_many([("alumio", "a"), ("alumio", "b")], timeout=30)
    assert [r.ok for r in results] == [True, True]


@pytest.mark.parametrize("timeout", [0, -1, float("nan"), "1"])
async def test_get_many_refuses_a_bad_timeout(timeout: object) -> None:
    config = AlumioConfig("http://127.0.0.1:1", "token")
    async with TaskBridge(alumio=config) as b:
        with pytest.raises(ConfigurationError, match="timeout"):
            await b.get_many([("alumio", "a")], timeout=timeout)  # type: ignore[arg-type]


async def test_cancelling_get_many_with_timeout_cancels_the_requests(sb: Sandbox) -> None:
    sb.set_faults("alumio", Faults(latency=30))
    async with TaskBridge(alumio=sb.alumio_config()) as bridge:
        batch = asyncio.ensure_future(bridge.get_many([("alumio", "c")], timeout=60))
        await until(lambda: bridge.stats().providers["alumio"].in_flight == 1, "the request")
        batch.cancel()
        with pytest.raises(asyncio.CancelledError):
            await batch
        assert bridge.stats().providers["alumio"].in_flight == 0


@pytest.mark.skipif(not hasattr(asyncio, "timeout"), reason="asyncio.timeout is Python 3.11+")
async def test_stream_under_asyncio_timeout_keeps_what_arrived(sb: Sandbox) -> None:
    """The README's pattern for a deadline over `stream`."""
    sb.set_faults("alumio", Faults(slow_rate=0.5, slow_delay=30, seed=4))
    got = []
    async with TaskBridge(alumio=sb.alumio_config()) as bridge:
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(1):
                async for result in bridge.stream([("alumio", f"d{i}") for i in range(20)]):
                    got.append(result)
        assert bridge.stats().providers["alumio"].in_flight == 0
    assert 0 < len(got) < 20 and all(r.ok for r in got)


# Log records


async def test_attempt_log_records_have_one_type_per_field(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="taskbridge")
    async with Sandbox(faults={"alumio": Faults(drop_rate=1.0)}) as sb:
        config = {"cakewalk": sb.cakewalk_config(), "alumio": sb.alumio_config()}
        async with TaskBridge(**config, retry=RetryPolicy(max_attempts=1)) as bridge:  # type: ignore[arg-type]
            await bridge.get("cakewalk", sb.cakewalk_ids[0])
            with pytest.raises(TaskNotFoundError) as info:
                await bridge.get("cakewalk", "00000000-0000-4000-8000-000000000000")
            with pytest.raises(TransportError):
                await bridge.get("alumio", "dropped")
    records = [r for r in caplog.records if r.levelno == logging.DEBUG and r.name == "taskbridge"]
    assert [r.status for r in records[:2]] == [200, 404]  # type: ignore[attr-defined]
    assert info.value.status == records[1].status  # type: ignore[attr-defined]
    assert records[-1].status is None  # type: ignore[attr-defined]
    for record in records:
        fields = record.__dict__
        assert type(fields["outcome"]) is str
        assert fields["status"] is None or type(fields["status"]) is int
        assert type(fields["attempt"]) is int and type(fields["elapsed"]) is float
        assert type(fields["provider"]) is str and type(fields["task_id"]) is str
