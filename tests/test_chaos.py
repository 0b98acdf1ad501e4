"""Chaos: 10,000 refs through faults of every kind; nothing lost, duplicated or leaked.

Faults on both providers: 10% 503, 5% 429 with Retry-After, 2% dropped connections,
1% answers slower than the timeout, 1% malformed bodies (each about 6 s on 2 cores).
"""

from __future__ import annotations

import collections
import logging
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import psutil
import pytest

from taskbridge import (
    DecodeError,
    InvalidTaskIdError,
    RateLimitedError,
    RequestTimeoutError,
    RetryPolicy,
    ServerError,
    TaskBridge,
    TaskRef,
    TaskResult,
    TransportError,
)
from taskbridge._convert import parse_datetime
from taskbridge.sandbox import Faults, Sandbox
from taskbridge.sandbox._faults import Outcome, decide

from .conftest import client_tasks

TIMEOUT = 0.25
CHAOS = Faults(
    error_rate=0.10,
    error_statuses=(503,),
    rate_limit_rate=0.05,
    retry_after=0,
    drop_rate=0.02,
    slow_rate=0.01,
    slow_delay=TIMEOUT * 8,  # slower than the timeout
    malformed_rate=0.01,
    seed=11,
)
# What a ref may fail with when every fault kind is on; anything else is a bug.
FAULT_ERRORS = (ServerError, RateLimitedError, TransportError, DecodeError)


@pytest.fixture
def size() -> int:
    return 10_000


@pytest.fixture
async def chaos_sandbox() -> AsyncIterator[Sandbox]:
    async with Sandbox(seed=3, any_id=True, faults=CHAOS) as sb:
        yield sb


def mixed_refs(n: int, sb: Sandbox) -> Iterator[tuple[str, str]]:
    """Both providers interleaved, seeded and on-demand ids, duplicates and invalid ids."""
    for i in range(n):
        if i % 97 == 0:
            yield ("cakewalk", f"not-a-uuid-{i}")
        elif i % 50 == 0:
            yield ("alumio", sb.alumio_ids[i % len(sb.alumio_ids)])  # repeats on purpose
        elif i % 2:
            yield ("cakewalk", str(uuid.UUID(int=i * 7919 + 1)))
        else:
            yield ("alumio", f"chaos-{i}")


def check(results: list[TaskResult], refs: list[tuple[str, str]], sb: Sandbox) -> None:
    """Every ref has exactly one result: the right task or an error a fault explains."""
    assert collections.Counter(r.ref for r in results) == collections.Counter(
        TaskRef(*ref) for ref in refs
    )
    kinds: collections.Counter[str] = collections.Counter()
    for result in results:
        provider, task_id = result.ref
        if task_id.startswith("not-a-uuid"):
            assert isinstance(result.error, InvalidTaskIdError)
            continue
        if result.error is not None:
            assert isinstance(result.error, FAULT_ERRORS), repr(result.error)
            assert (result.error.provider, result.error.task_id) == (provider, task_id)
            kinds[type(result.error).__name__] += 1
            continue
        task = result.unwrap()
        wire: dict[str, Any] = sb.expected(provider, task_id)
        if provider == "cakewalk":
            assert (task.id, task.provider_status) == (wire["id"], wire["status"])
            assert task.updated_at == parse_datetime(wire["lastUpdatedAt"])
        else:
            expected = (wire.get("identifier", task_id), wire.get("status", ""))
            assert (task.id, task.provider_status) == expected
            assert task.kind == wire.get("entityType")
        kinds["ok"] += 1
    assert kinds["ok"] > 0.9 * len(refs)
    assert kinds["DecodeError"] > 0  # malformed bodies got through as typed errors


ATTEMPTS = 4


def expected_requests(provider: str, task_id: str) -> int | None:
    """How many requests the sandbox must see for a ref fetched once, by replaying its
    seeded fault draws through the retry rules; ``None`` when a draw drops the
    connection (aiohttp may then resend on its own, so the count is not fixed)."""
    for n in range(ATTEMPTS):
        decision = decide(CHAOS, provider, task_id, n)
        if decision.outcome is Outcome.DROP:
            return None
        if decision.delay > TIMEOUT:
            continue  # timed out: retried
        if decision.outcome in (Outcome.OK, Outcome.MALFORMED):
            return n + 1  # fetched, or a DecodeError: never retried
    return ATTEMPTS


def check_requests(
    sb: Sandbox, refs: list[tuple[str, str]], records: list[logging.LogRecord], *, once: bool
) -> None:
    """Per id, the sandbox saw exactly the requests the client's attempts account for,
    and the attempts are those the retry rules ask for: a change that sends a GET twice,
    or drops de-duplication, shows here, not in the results.

    The seeded fault draws fix the attempts, except that a loaded machine may time out
    an answer the draws did not make slow: each such timeout (logged) allows one more.
    ``once``: every distinct ref is fetched once (``get_many``); otherwise only refs
    that appear once in the input are checked.
    """
    attempts: collections.Counter[tuple[str, str]] = collections.Counter()
    timeouts: collections.Counter[tuple[str, str]] = collections.Counter()
    for record in records:
        if hasattr(record, "attempt"):
            key = (record.provider, record.task_id)  # type: ignore[attr-defined]
            attempts[key] += 1
            timeouts[key] += record.status == "timeout"  # type: ignore[attr-defined]
    counts = collections.Counter(refs)
    checked = 0
    wrong = []
    for (provider, task_id), times in counts.items():
        got = sb.stats[provider].by_id[task_id]
        if task_id.startswith("not-a-uuid"):
            assert got == 0
            continue
        if not once and times > 1:
            continue
        want = expected_requests(provider, task_id)
        if want is None:  # a dropped connection: aiohttp may resend on its own
            assert 1 <= got <= 2 * ATTEMPTS, (provider, task_id, got)
            continue
        checked += 1
        made = attempts[provider, task_id]
        # Each attempt is one request; one that timed out may not have reached the server.
        sent_ok = made - timeouts[provider, task_id] <= got <= made
        # Beyond what the draws ask for, only unforeseen timeouts explain more attempts.
        rules_ok = want <= made <= want + timeouts[provider, task_id]
        if not (sent_ok and rules_ok):
            wrong.append((provider, task_id, want, made, got))
    assert wrong == []
    assert checked > 0.9 * len(counts)


def established_to(port: int) -> int:
    return sum(
        1
        for c in psutil.Process(os.getpid()).net_connections(kind="tcp")
        if c.raddr and c.raddr.port == port and c.status == psutil.CONN_ESTABLISHED
    )


def chaos_bridge(sb: Sandbox) -> TaskBridge:
    return TaskBridge(
        cakewalk=sb.cakewalk_config(requests_per_minute=None),
        alumio=sb.alumio_config(),
        retry=RetryPolicy(max_attempts=ATTEMPTS, initial_backoff=0.001, max_backoff=0.004),
        timeout=TIMEOUT,
    )


async def test_get_many_under_chaos_loses_and_duplicates_nothing(
    chaos_sandbox: Sandbox, size: int, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="taskbridge")
    refs = list(mixed_refs(size, chaos_sandbox))
    before = client_tasks()
    async with chaos_bridge(chaos_sandbox) as bridge:
        results = await bridge.get_many(refs)
        assert [r.ref for r in results] == [TaskRef(*ref) for ref in refs]  # input order
    check(results, refs, chaos_sandbox)
    check_requests(chaos_sandbox, refs, caplog.records, once=True)
    assert client_tasks() - before == set()
    assert established_to(chaos_sandbox.port) == 0


async def test_stream_under_chaos_loses_and_duplicates_nothing(
    chaos_sandbox: Sandbox, size: int, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="taskbridge")
    refs = list(mixed_refs(size, chaos_sandbox))
    before = client_tasks()
    async with chaos_bridge(chaos_sandbox) as bridge:
        results = [r async for r in bridge.stream(iter(refs))]
    check(results, refs, chaos_sandbox)
    check_requests(chaos_sandbox, refs, caplog.records, once=False)
    assert client_tasks() - before == set()
    assert established_to(chaos_sandbox.port) == 0


async def test_every_fault_kind_reaches_the_client(chaos_sandbox: Sandbox) -> None:
    """With retries off, each fault kind shows up as its own typed error."""
    refs = [("alumio", f"kind-{i}") for i in range(1500)]
    async with TaskBridge(
        alumio=chaos_sandbox.alumio_config(), retry=RetryPolicy(max_attempts=1), timeout=TIMEOUT
    ) as bridge:
        results = await bridge.get_many(refs)
    kinds = collections.Counter(type(r.error).__name__ for r in results if r.error)
    for kind in (*FAULT_ERRORS, RequestTimeoutError):
        assert kinds[kind.__name__] > 0, kinds
    assert set(kinds) <= {k.__name__ for k in (*FAULT_ERRORS, RequestTimeoutError)}
