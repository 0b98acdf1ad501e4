"""Retries: what is retried, how long it waits, and when it gives up."""

from __future__ import annotations

import asyncio
import email.utils
import random
import time
from collections.abc import AsyncIterator, Iterator

import pytest
from aiohttp import web

from taskbridge import (
    APIError,
    ConfigurationError,
    DecodeError,
    ProviderError,
    QueueTimeoutError,
    RateLimitedError,
    RequestTimeoutError,
    RetryPolicy,
    ServerError,
    TaskBridge,
    TaskNotFoundError,
    TransportError,
    default_retry_on,
)
from taskbridge._base.errors import api_error_for_status
from taskbridge._engine.gate import ProviderGate
from taskbridge._engine.retry import MAX_DELAY, backoff, parse_retry_after
from taskbridge.sandbox import Lifecycle, Sandbox
from taskbridge.testing import VirtualClock, use_clock

from .conftest import FakeClock, ScriptedServer, alumio_body, drop, make_bridge

BOUND = 10.0  # real seconds: only a broken build waits that long

OK = (200, alumio_body())


@pytest.fixture
def sleeps() -> Iterator[list[float]]:
    """Record every wait the bridge asks for, without waiting."""
    clock = FakeClock()
    with use_clock(clock):
        yield clock.sleeps


@pytest.fixture
async def retrying(server: ScriptedServer, sleeps: list[float]) -> AsyncIterator[TaskBridge]:
    policy = RetryPolicy(max_attempts=3, initial_backoff=1.0, max_backoff=8.0, max_retry_after=60)
    async with make_bridge(server, retry=policy) as bridge:
        yield bridge


@pytest.mark.parametrize("status", [408, 429, 500, 502, 503, 504])
async def test_retryable_status_is_retried_then_succeeds(
    server: ScriptedServer, retrying: TaskBridge, status: int
) -> None:
    server.script([(status, {"title": "try again"}), OK])
    task = await retrying.get("alumio", "x")
    assert task.id == "x"
    assert len(server.requests) == 2


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 410, 422])
async def test_other_4xx_is_not_retried(
    server: ScriptedServer, retrying: TaskBridge, status: int, sleeps: list[float]
) -> None:
    server.script([(status, {"title": "no"}), OK])
    with pytest.raises(APIError) as info:
        await retrying.get("alumio", "x")
    assert info.value.status == status
    assert len(server.requests) == 1
    assert sleeps == []


async def test_decode_error_is_not_retried(server: ScriptedServer, retrying: TaskBridge) -> None:
    server.script([(200, b"not json"), OK])
    with pytest.raises(DecodeError):
        await retrying.get("alumio", "x")
    assert len(server.requests) == 1


async def test_gives_up_after_max_attempts_with_last_error(
    server: ScriptedServer, retrying: TaskBridge, sleeps: list[float]
) -> None:
    server.script([(503, {"title": "down"})])
    with pytest.raises(ServerError) as info:
        await retrying.get("alumio", "x")
    assert info.value.status == 503
    assert len(server.requests) == 3
    assert len(sleeps) == 2


async def test_max_attempts_one_never_retries(server: ScriptedServer, sleeps: list[float]) -> None:
    server.script([(503, {}), OK])
    async with make_bridge(server, retry=RetryPolicy(max_attempts=1)) as bridge:
        with pytest.raises(ServerError):
            await bridge.get("alumio", "x")
    assert len(server.requests) == 1
    assert sleeps == []


async def test_backoff_waits_grow_within_full_jitter_bounds(
    server: ScriptedServer, sleeps: list[float]
) -> None:
    server.script([(500, {})])
    policy = RetryPolicy(max_attempts=5, initial_backoff=1.0, max_backoff=3.0)
    async with make_bridge(server, retry=policy) as bridge:
        with pytest.raises(ServerError):
            await bridge.get("alumio", "x")
    assert len(sleeps) == 4
    for n, delay in enumerate(sleeps, start=1):
        assert 0.0 <= delay <= min(3.0, 2.0 ** (n - 1))


def test_backoff_is_full_jitter_exponential_capped() -> None:
    policy = RetryPolicy(initial_backoff=0.5, max_backoff=20.0)
    rand = random.Random(7)
    for failures, ceiling in [(1, 0.5), (2, 1.0), (3, 2.0), (6, 16.0), (7, 20.0), (30, 20.0)]:
        draws = [backoff(policy, failures, rand) for _ in range(200)]
        assert all(0.0 <= d <= ceiling for d in draws)
        assert max(draws) > ceiling * 0.8  # full jitter reaches toward the ceiling
        assert min(draws) < ceiling * 0.2  # ... and toward zero


async def test_retry_after_seconds_is_honoured(
    server: ScriptedServer, retrying: TaskBridge, sleeps: list[float]
) -> None:
    server.script([(429, {}, {"Retry-After": "7"}), OK])
    await retrying.get("alumio", "x")
    assert 7.0 in sleeps


async def test_retry_after_http_date_is_honoured(
    server: ScriptedServer, retrying: TaskBridge, sleeps: list[float]
) -> None:
    when = email.utils.formatdate(time.time() + 30, usegmt=True)
    server.script([(503, {}, {"Retry-After": when}), OK])
    await retrying.get("alumio", "x")
    assert any(25.0 <= s <= 31.0 for s in sleeps)


async def test_retry_after_above_cap_raises_at_once_with_value(
    server: ScriptedServer, retrying: TaskBridge, sleeps: list[float]
) -> None:
    server.script([(429, {"title": "slow down"}, {"Retry-After": "86400"}), OK])
    with pytest.raises(RateLimitedError) as info:
        await retrying.get("alumio", "x")
    assert info.value.retry_after == 86400.0
    assert len(server.requests) == 1
    assert sleeps == []


async def test_timeout_is_retried(server: ScriptedServer) -> None:
    release = asyncio.Event()

    async def hang(request: web.Request) -> web.StreamResponse:
        await release.wait()
        return web.Response(status=500)

    server.script([hang, OK])
    async with make_bridge(server, timeout=0.05) as bridge:
        task = await bridge.get("alumio", "x")
    release.set()
    assert task.id == "x"
    assert len(server.requests) == 2


async def test_dropped_connection_is_retried(server: ScriptedServer) -> None:
    server.script([drop, drop, OK])
    async with make_bridge(server) as bridge:
        task = await bridge.get("alumio", "x")
    assert task.id == "x"


async def test_cancel_during_backoff_is_not_retried(
    server: ScriptedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    waiting = asyncio.Event()

    async def blocking_sleep(delay: float) -> None:
        waiting.set()
        await asyncio.Event().wait()

    server.script([(503, {}), OK])
    with use_clock(FakeClock(blocking_sleep)):
        bridge = make_bridge(server)
    async with bridge:
        job = asyncio.ensure_future(bridge.get("alumio", "x"))
        await waiting.wait()
        job.cancel()
        with pytest.raises(asyncio.CancelledError):
            await job
    assert len(server.requests) == 1


async def test_429_pauses_the_whole_provider(
    server: ScriptedServer,
) -> None:
    """While one request is told to wait, the provider's other requests wait too."""
    waits: list[float] = []
    release = asyncio.Event()
    first_wait = asyncio.Event()

    async def fake_sleep(delay: float) -> None:
        waits.append(delay)
        first_wait.set()
        if len(waits) == 1:  # the 429'd request's own wait: hold it, time stands still
            await release.wait()
        else:
            clock.skipped += delay

    clock = FakeClock(fake_sleep)
    server.script([(429, {}, {"Retry-After": "5"}), OK])
    with use_clock(clock):
        bridge = make_bridge(server)
    async with bridge:
        first = asyncio.ensure_future(bridge.get("alumio", "x"))
        await asyncio.wait_for(first_wait.wait(), timeout=10)
        await bridge.get("alumio", "y")  # another task, started during the pause
        release.set()
        await first
    assert waits[0] == 5.0
    assert 4.0 < waits[1] <= 5.0  # "y" waited out the pause before it was sent
    assert [r.path for r in server.requests] == [
        "/api/v1/tasks/x",
        "/api/v1/tasks/y",
        "/api/v1/tasks/x",
    ]


async def test_gate_pause_holds_new_requests_until_it_ends() -> None:
    now = [100.0]
    waits: list[float] = []

    async def fake_sleep(delay: float) -> None:
        waits.append(delay)
        now[0] += delay

    from taskbridge import AlumioConfig

    config = AlumioConfig("http://127.0.0.1:1", "t")
    gate = ProviderGate(config.adapter(), config.limits, clock=lambda: now[0], sleep=fake_sleep)
    gate.pause(5.0)
    gate.pause(2.0)  # a shorter pause never shortens a longer one
    await gate.enter()
    gate.leave()
    assert waits == [5.0]


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        pytest.param("0", 0.0, id="zero"),
        pytest.param("12", 12.0, id="seconds"),
        pytest.param(" 3 ", 3.0, id="spaces"),
        pytest.param("1.5", None, id="fraction-is-not-delay-seconds"),
        pytest.param("1e3", None, id="exponent"),
        pytest.param("+5", None, id="sign"),
        pytest.param("inf", None, id="inf"),
        pytest.param("\u00b2", None, id="superscript-digit"),
        pytest.param("\u0661\u0662", None, id="arabic-indic-digits"),
        pytest.param("\uff11", None, id="fullwidth-digit"),
        pytest.param("9" * 400, MAX_DELAY, id="huge-is-capped"),
        pytest.param("Fri, 31 Dec 9999 23:59:59 GMT", MAX_DELAY, id="date-far-future-is-capped"),
        pytest.param("Mon, 99 Zzz 99999999999 99:99:99 GMT", None, id="date-overflow"),
        pytest.param("Wed, 21 Oct 2015 07:28:00 +9999", None, id="date-bad-offset"),
        pytest.param("x" * 10_000, None, id="long-garbage"),
        pytest.param("-1", None, id="negative"),
        pytest.param("soon", None, id="garbage"),
        pytest.param("", None, id="empty"),
        pytest.param(None, None, id="absent"),
        pytest.param("nan", None, id="nan"),
        pytest.param("Wed, 21 Oct 2015 07:28:00 GMT", 0.0, id="past-date"),
    ],
)
def test_parse_retry_after(header: str | None, expected: float | None) -> None:
    assert parse_retry_after(header) == expected


def test_parse_retry_after_future_date() -> None:
    now = 1_700_000_000.0
    header = email.utils.formatdate(now + 90, usegmt=True)
    assert parse_retry_after(header, now=now) == pytest.approx(90.0, abs=1.0)


async def test_not_found_is_reported_without_warning(
    server: ScriptedServer, retrying: TaskBridge, caplog: pytest.LogCaptureFixture
) -> None:
    server.script([(404, {})])
    with pytest.raises(TaskNotFoundError):
        await retrying.get("alumio", "x")
    assert not [r for r in caplog.records if r.levelname == "WARNING"]


# Retry-After at the bound of max_retry_after


async def test_a_retry_after_equal_to_max_retry_after_is_waited_for(
    server: ScriptedServer,
) -> None:
    clock = FakeClock()  # time jumps: the pause the 429 started is over too
    server.script([(429, {}, {"Retry-After": "60"}), OK])
    with use_clock(clock):
        bridge = make_bridge(server, retry=RetryPolicy(max_attempts=2, max_retry_after=60.0))
    async with bridge:
        task = await asyncio.wait_for(bridge.get("alumio", "x"), BOUND)
    assert task.id == "x"
    assert clock.sleeps[0] == 60.0
    assert len(server.requests) == 2


async def test_a_retry_after_one_second_above_max_retry_after_is_not(
    server: ScriptedServer,
) -> None:
    server.script([(429, {}, {"Retry-After": "61"}), OK])
    async with make_bridge(server, retry=RetryPolicy(max_retry_after=60.0)) as bridge:
        with pytest.raises(RateLimitedError) as info:
            await asyncio.wait_for(bridge.get("alumio", "x"), BOUND)
    assert info.value.retry_after == 61.0
    assert len(server.requests) == 1


# jitter=False: the back-off's ceiling, for tests


async def test_without_jitter_each_wait_is_the_back_off_ceiling(
    server: ScriptedServer, sleeps: list[float]
) -> None:
    server.script([(500, {})])
    policy = RetryPolicy(max_attempts=6, initial_backoff=1.0, max_backoff=6.0, jitter=False)
    async with make_bridge(server, retry=policy) as bridge:
        with pytest.raises(ServerError):
            await bridge.get("alumio", "x")
    assert sleeps == [1.0, 2.0, 4.0, 6.0, 6.0]


async def test_a_429_without_retry_after_pauses_the_whole_provider(
    server: ScriptedServer,
) -> None:
    waits: list[float] = []
    release = asyncio.Event()
    waiting = asyncio.Event()

    async def hold_the_first(delay: float) -> None:
        waits.append(delay)
        waiting.set()
        if len(waits) == 1:  # the 429'd request's own wait: time stands still meanwhile
            await asyncio.wait_for(release.wait(), BOUND)
        else:
            clock.skipped += delay

    clock = FakeClock(hold_the_first)
    server.script([(429, {}), OK])
    retry = RetryPolicy(max_attempts=2, initial_backoff=4.0, max_backoff=4.0, jitter=False)
    with use_clock(clock):
        bridge = make_bridge(server, retry=retry)
    async with bridge:
        first = asyncio.ensure_future(bridge.get("alumio", "x"))
        await asyncio.wait_for(waiting.wait(), BOUND)
        await asyncio.wait_for(bridge.get("alumio", "y"), BOUND)  # sent during the pause
        release.set()
        await asyncio.wait_for(first, BOUND)
    assert waits[0] == 4.0
    assert 3.0 < waits[1] <= 4.0  # "y" waited out the pause the 429 started
    assert [r.path for r in server.requests][:2] == ["/api/v1/tasks/x", "/api/v1/tasks/y"]


# retry_on: what is retried


def _error(status: int | None = None, kind: type[ProviderError] = ProviderError) -> ProviderError:
    if status is not None:
        cls = api_error_for_status(status)
        return cls("m", provider="alumio", task_id="x", status=status)
    if kind is QueueTimeoutError:
        return QueueTimeoutError("m", provider="alumio", task_id="x", max_queue_wait=1.0)
    return kind("m", provider="alumio", task_id="x")


@pytest.mark.parametrize(
    ("error", "retried"),
    [
        *[pytest.param(_error(s), True, id=str(s)) for s in (408, 429, 500, 502, 503, 504)],
        *[pytest.param(_error(s), False, id=str(s)) for s in (400, 401, 403, 404, 409, 501)],
        pytest.param(_error(kind=TransportError), True, id="transport"),
        pytest.param(_error(kind=RequestTimeoutError), True, id="timeout"),
        pytest.param(_error(kind=QueueTimeoutError), True, id="queue-timeout"),
        pytest.param(_error(kind=DecodeError), False, id="decode"),
        pytest.param(_error(kind=ProviderError), False, id="other"),
    ],
)
def test_default_retry_on_is_the_contracts_table(error: ProviderError, retried: bool) -> None:
    assert default_retry_on(error) is retried


async def test_retry_on_can_extend_the_default(server: ScriptedServer) -> None:
    asked: list[ProviderError] = []

    def retry_on(error: ProviderError) -> bool:
        asked.append(error)
        return default_retry_on(error) or isinstance(error, DecodeError)

    server.script([(200, b"not json"), (503, {}), OK])
    async with make_bridge(server, retry=RetryPolicy(retry_on=retry_on)) as bridge:
        task = await bridge.get("alumio", "x")
    assert task.id == "x"
    assert [type(e) for e in asked] == [DecodeError, ServerError]
    assert len(server.requests) == 3


async def test_retry_on_can_refuse_what_the_default_retries(
    server: ScriptedServer, sleeps: list[float]
) -> None:
    server.script([(503, {}), OK])
    policy = RetryPolicy(retry_on=lambda e: isinstance(e, TransportError))
    async with make_bridge(server, retry=policy) as bridge:
        with pytest.raises(ServerError):
            await bridge.get("alumio", "x")
    assert len(server.requests) == 1
    assert sleeps == []


async def test_a_retry_on_that_raises_ends_the_call_with_its_error(server: ScriptedServer) -> None:
    def retry_on(error: ProviderError) -> bool:
        raise ZeroDivisionError

    server.script([(503, {}), OK])
    async with make_bridge(server, retry=RetryPolicy(retry_on=retry_on)) as bridge:
        with pytest.raises(ZeroDivisionError):
            await bridge.get("alumio", "x")
        assert (await bridge.get("alumio", "y")).id  # nothing left behind: a 200


async def test_polls_ask_the_same_retry_on() -> None:
    # A wait polls again through a 503 by default; told not to retry it, it ends with it.
    async with (
        VirtualClock() as clock,
        Sandbox(seed=5, lifecycle=Lifecycle(speed=0), clock=clock.time) as sb,
    ):
        task_id = sb.alumio_ids[0]
        sb.answer("alumio", task_id, 503, times=1)
        policy = RetryPolicy(max_attempts=1, retry_on=lambda e: False)
        async with TaskBridge(alumio=sb.alumio_config(), retry=policy) as bridge:
            with pytest.raises(ServerError):
                await bridge.wait("alumio", task_id, timeout=600)
            assert bridge._polling.scheduler.idle
        assert clock.now == 0


async def test_a_retry_on_that_raises_on_a_poll_ends_the_wait_with_its_error() -> None:
    calls = 0

    def retry_on(error: ProviderError) -> bool:
        nonlocal calls
        calls += 1
        if calls == 2:  # the first asks for the attempt, the second for the poll
            raise ZeroDivisionError
        return True

    async with (
        VirtualClock() as clock,
        Sandbox(seed=5, lifecycle=Lifecycle(speed=0), clock=clock.time) as sb,
    ):
        task_id = sb.alumio_ids[0]
        sb.answer("alumio", task_id, 503, times=1)
        policy = RetryPolicy(max_attempts=1, retry_on=retry_on)
        async with TaskBridge(alumio=sb.alumio_config(), retry=policy) as bridge:
            with pytest.raises(ZeroDivisionError):
                await bridge.wait("alumio", task_id, timeout=600)
            assert bridge._polling.scheduler.idle


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        pytest.param({"retry_on": "503"}, "retry_on", id="retry-on-not-callable"),
        pytest.param({"retry_on": 503}, "retry_on", id="retry-on-number"),
        pytest.param({"jitter": "no"}, "jitter", id="jitter-text"),
        pytest.param({"jitter": 0}, "jitter", id="jitter-int"),
    ],
)
def test_bad_retry_policy_values_are_configuration_errors(
    kwargs: dict[str, object], message: str
) -> None:
    with pytest.raises(ConfigurationError, match=message):
        RetryPolicy(**kwargs)  # type: ignore[arg-type]


async def test_each_retry_decision_is_one_debug_record_with_its_reason(
    server: ScriptedServer, sleeps: list[float], caplog: pytest.LogCaptureFixture
) -> None:
    server.script([(503, {}), (429, {}, {"Retry-After": "3"}), (404, {})])
    policy = RetryPolicy(max_attempts=4, initial_backoff=2.0, max_backoff=2.0, jitter=False)
    caplog.set_level("DEBUG", logger="taskbridge")
    async with make_bridge(server, retry=policy) as bridge:
        with pytest.raises(TaskNotFoundError):
            await bridge.get("alumio", "x")
    decisions = [r.getMessage() for r in caplog.records if r.name == "taskbridge.retry"]
    assert decisions == [
        "retrying alumio task 'x' in 2s (back-off after 1 of 4 attempts): ServerError 503",
        "retrying alumio task 'x' in 3s (Retry-After): RateLimitedError 429",
        "giving up on alumio task 'x' (not retryable): TaskNotFoundError 404",
    ]
    assert all(r.levelname == "DEBUG" for r in caplog.records if r.name == "taskbridge.retry")
