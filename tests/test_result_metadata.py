"""`TaskSuccess` and `TaskFailure` say what their fetch cost: ``attempts`` and ``elapsed``.

Against the sandbox on loopback, on the virtual clock: a retry pause of 3 s is exactly
3 s of ``elapsed``, and an attempt (which the virtual clock does not count) is none.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from taskbridge import (
    ConfigurationError,
    RetryPolicy,
    ServerError,
    TaskBridge,
    TaskFailure,
    TaskNotFoundError,
    TaskRef,
    TaskResult,
    TaskSuccess,
)
from taskbridge.sandbox import Sandbox
from taskbridge.testing import VirtualClock

FAST = RetryPolicy(max_attempts=4, initial_backoff=0.0, max_backoff=0.0, max_retry_after=30.0)


@pytest.fixture
async def scripted() -> AsyncIterator[tuple[Sandbox, TaskBridge, list[str]]]:
    """A sandbox whose first five Alumio ids answer: 503 once; 503 twice; at once; 404;
    503 always. The sixth answers 429 (Retry-After 3) once: a pause of the provider."""
    async with VirtualClock() as clock, Sandbox(seed=11, clock=clock.time) as sb:
        ids = sb.ids("alumio")[:6]
        sb.answer("alumio", ids[5], 429, times=1, retry_after=3)
        sb.answer("alumio", ids[0], 503, times=1)
        sb.answer("alumio", ids[1], 503, times=2)
        sb.answer("alumio", ids[3], 404)
        sb.answer("alumio", ids[4], 503)
        async with TaskBridge(alumio=sb.alumio_config(), retry=FAST, telemetry=False) as bridge:
            yield sb, bridge, ids


def refs_of(ids: list[str]) -> list[Any]:
    return [TaskRef("alumio", i) for i in ids[:5]] + [("nowhere", "x")]


def check(results: dict[str, TaskResult]) -> None:
    retried, twice, first_time, missing, broken = (results[k] for k in "01234")
    assert isinstance(retried, TaskSuccess) and retried.attempts == 2
    assert retried.elapsed == 0.0  # no backoff, and attempts take no virtual time
    assert isinstance(twice, TaskSuccess) and twice.attempts == 3
    assert isinstance(first_time, TaskSuccess) and first_time.attempts == 1
    assert first_time.elapsed == 0.0
    assert isinstance(missing, TaskFailure) and isinstance(missing.error, TaskNotFoundError)
    assert missing.attempts == 1
    assert isinstance(broken, TaskFailure) and isinstance(broken.error, ServerError)
    assert broken.attempts == 4 == broken.error.attempts
    refused = results["refused"]
    assert isinstance(refused, TaskFailure) and isinstance(refused.error, ConfigurationError)
    assert (refused.attempts, refused.elapsed) == (0, 0.0)


def by_position(ids: list[str], results: list[TaskResult]) -> dict[str, TaskResult]:
    names = {i: str(n) for n, i in enumerate(ids)}
    return {names.get(r.ref.task_id, "refused"): r for r in results}


async def test_get_many_results_count_attempts_and_time(
    scripted: tuple[Sandbox, TaskBridge, list[str]],
) -> None:
    _, bridge, ids = scripted
    check(by_position(ids, await bridge.get_many(refs_of(ids))))


async def test_stream_results_count_attempts_and_time(
    scripted: tuple[Sandbox, TaskBridge, list[str]],
) -> None:
    _, bridge, ids = scripted
    check(by_position(ids, [r async for r in bridge.stream(refs_of(ids))]))


async def test_a_retry_after_pause_is_elapsed_time_in_a_stream(
    scripted: tuple[Sandbox, TaskBridge, list[str]],
) -> None:
    _, bridge, ids = scripted
    (paused,) = [r async for r in bridge.stream([("alumio", ids[5])])]
    assert isinstance(paused, TaskSuccess) and paused.attempts == 2
    assert paused.elapsed == pytest.approx(3.0, abs=1e-6)


async def test_a_duplicate_ref_shares_its_fetch_and_its_figures(
    scripted: tuple[Sandbox, TaskBridge, list[str]],
) -> None:
    _, bridge, ids = scripted
    first, again = await bridge.get_many([("alumio", ids[5]), TaskRef("alumio", ids[5])])
    assert first.ok and again.ok
    assert (first.attempts, again.attempts) == (2, 2)
    assert first.elapsed == again.elapsed == pytest.approx(3.0, abs=1e-6)


async def test_the_figures_are_metadata_not_identity(
    scripted: tuple[Sandbox, TaskBridge, list[str]],
) -> None:
    _, bridge, ids = scripted
    (result,) = await bridge.get_many([("alumio", ids[5])])
    assert isinstance(result, TaskSuccess) and result.attempts == 2
    by_hand = TaskSuccess(result.ref, result.task)
    assert (by_hand.attempts, by_hand.elapsed) == (0, 0.0)
    assert by_hand == result and hash(by_hand) == hash(result)
    assert "attempts=2" in repr(result)
