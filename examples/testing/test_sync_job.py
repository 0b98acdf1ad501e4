"""Tests of sync_job against taskbridge's sandbox, through its pytest plugin.

``taskbridge_sandbox`` is a running sandbox of both providers (shaped by
``taskbridge_sandbox_options`` in conftest.py); ``taskbridge_bridge`` is a TaskBridge
wired to it, with retries that do not sleep.
"""

from __future__ import annotations

from sync_job import sync_statuses

from taskbridge import TaskBridge
from taskbridge.sandbox import Faults, Sandbox


async def test_every_seeded_task_is_sorted(
    taskbridge_bridge: TaskBridge, taskbridge_sandbox: Sandbox
) -> None:
    refs = [("cakewalk", i) for i in taskbridge_sandbox.cakewalk_ids]
    refs += [("alumio", i) for i in taskbridge_sandbox.alumio_ids]

    report = await sync_statuses(taskbridge_bridge, refs)

    assert report.failed == {}
    assert len(report.done) + len(report.open) == len(refs) == 120
    assert report.done  # the seeded data holds every status
    assert report.open
    assert taskbridge_sandbox.stats.total == 120  # one request per task


async def test_an_unknown_task_is_reported_not_raised(
    taskbridge_bridge: TaskBridge, taskbridge_sandbox: Sandbox
) -> None:
    missing = ("cakewalk", "00000000-0000-4000-8000-000000000000")
    report = await sync_statuses(taskbridge_bridge, [missing])
    assert report.failed == {missing: "TaskNotFoundError"}


async def test_a_provider_outage_is_retried_then_reported(
    taskbridge_bridge: TaskBridge, taskbridge_sandbox: Sandbox
) -> None:
    taskbridge_sandbox.set_faults("alumio", Faults(error_rate=1.0, error_statuses=[503]))
    alumio = ("alumio", taskbridge_sandbox.alumio_ids[0])
    cakewalk = ("cakewalk", taskbridge_sandbox.cakewalk_ids[0])

    report = await sync_statuses(taskbridge_bridge, [alumio, cakewalk])

    assert report.failed == {alumio: "ServerError"}
    assert taskbridge_sandbox.stats.alumio.requests == 4  # RetryPolicy's max_attempts
    assert taskbridge_sandbox.stats.cakewalk.requests == 1  # the other provider is unharmed


async def test_the_job_recovers_when_the_provider_does(
    taskbridge_bridge: TaskBridge, taskbridge_sandbox: Sandbox
) -> None:
    ref = ("alumio", taskbridge_sandbox.alumio_ids[0])
    taskbridge_sandbox.set_faults("alumio", Faults(error_rate=1.0))
    assert (await sync_statuses(taskbridge_bridge, [ref])).failed

    taskbridge_sandbox.set_faults("alumio", None)
    assert not (await sync_statuses(taskbridge_bridge, [ref])).failed


async def test_a_long_retry_after_is_reported_at_once(
    taskbridge_bridge: TaskBridge, taskbridge_sandbox: Sandbox
) -> None:
    # The plugin's bridge waits at most 1 s for a Retry-After; 30 s is given up on at once.
    taskbridge_sandbox.set_faults("cakewalk", Faults(rate_limit_rate=1.0, retry_after=30))
    ref = ("cakewalk", taskbridge_sandbox.cakewalk_ids[0])

    report = await sync_statuses(taskbridge_bridge, [ref])

    assert report.failed == {ref: "RateLimitedError"}
    assert taskbridge_sandbox.stats.cakewalk.requests == 1
