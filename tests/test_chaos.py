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
from taskbridge._decode.convert import parse_datetime
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


RETRYABLE = {"408", "429", "500", "502", "503", "504"}


def one_retry_sequence(outcomes: list[str]) -> bool:
    """Whether logged outcomes read as one fetch: every attempt but the last failed in a
    retried way (a retried status, or no status at all), and the last ended it."""
    if not 1 <= len(outcomes) <= ATTEMPTS:
        return False
    if any(o.isdigit() and o not in RETRYABLE for o in outcomes[:-1]):
        return False
    last = outcomes[-1]
    return (last.isdigit() and last not in RETRYABLE) or len(outcomes) == ATTEMPTS


def check_requests(
    sb: Sandbox, refs: list[tuple[str, str]], records: list[logging.LogRecord], *, once: bool
) -> None:
    """The requests the sandbox saw are the attempts the client made, and the attempts
    follow the retry rules: a change that sends a GET twice (on the wire, or as a second
    attempt), or drops de-duplication, shows here, not in the results.

    Load-proof: a loaded machine times out answers the seeded draws did not make slow
    (which shifts every later draw of that id), and aiohttp may resend a request on a
    stale pooled connection. So: per id, the logged outcomes must read as one retry
    sequence; in total, the sandbox's count must match the attempts within a small slack;
    and most ids must take exactly the attempts their fault draws ask for.
    ``once``: every distinct ref is fetched once (``get_many``); otherwise only refs
    that appear once in the input are checked.
    """
    outcomes: dict[tuple[str, str], list[str]] = collections.defaultdict(list)
    for record in records:
        if hasattr(record, "attempt"):
            key = (record.provider, record.task_id)  # type: ignore[attr-defined]
            outcomes[key].append(record.outcome)  # type: ignore[attr-defined]
    counts = collections.Counter(refs)
    checked = as_drawn = sent = made = unsent = 0
    broken = []
    for (provider, task_id), times in counts.items():
        key = (provider, task_id)
        got = sb.stats[provider].by_id[task_id]
        if task_id.startswith("not-a-uuid"):
            assert got == 0
            continue
        if not once and times > 1:
            continue
        seq = outcomes[key]
        if not one_retry_sequence(seq):
            broken.append((key, seq))
        want = expected_requests(provider, task_id)
        if want is None:  # a dropped connection: aiohttp may resend on its own
            continue
        checked += 1
        as_drawn += len(seq) == want
        sent += got
        made += len(seq)
        # A timeout or a failed connection may end before the request reached the server.
        unsent += sum(not o.isdigit() for o in seq)
    assert broken == []
    assert checked > 0.9 * len(counts)
    # A stale connection makes aiohttp resend now and then; a GET sent twice doubles all.
    assert made - unsent <= sent <= made + max(10, made // 100), (made, unsent, sent)
    assert as_drawn > 0.95 * checked, (as_drawn, checked)


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
