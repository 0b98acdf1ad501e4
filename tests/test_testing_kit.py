"""The testing kit: env fixtures, a sandbox on a background thread, scripted answers."""

from __future__ import annotations

import asyncio
import os

import pytest

from taskbridge import (
    RetryPolicy,
    ServerError,
    TaskBridge,
    TaskNotFoundError,
    TaskStatus,
    UnifiedTask,
)
from taskbridge.sandbox import BackgroundSandbox, Sandbox

FAST = RetryPolicy(initial_backoff=0, max_backoff=0, max_retry_after=5)


# Environment fixtures


async def test_env_fixture_points_from_env_at_the_sandbox(
    taskbridge_env: dict[str, str], taskbridge_sandbox: Sandbox
) -> None:
    assert os.environ["TASKBRIDGE_ALUMIO_BASE_URL"] == taskbridge_sandbox.url
    async with TaskBridge.from_env() as bridge:
        task = await bridge.get("alumio", taskbridge_sandbox.alumio_ids[0])
    assert task.id == taskbridge_sandbox.alumio_ids[0]
    assert taskbridge_sandbox.stats.alumio.requests == 1
    assert set(taskbridge_env) == {k for k in os.environ if k.startswith("TASKBRIDGE_")}


class TestEnvFixtureClearsOtherVariables:
    @pytest.fixture(autouse=True)
    def stray_space(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("TASKBRIDGE_ALUMIO_SPACE", "somewhere-else")

    async def test_no_stray_variable_survives(
        self, taskbridge_env: dict[str, str], taskbridge_sandbox: Sandbox
    ) -> None:
        assert "TASKBRIDGE_ALUMIO_SPACE" not in os.environ
        async with TaskBridge.from_env() as bridge:
            await bridge.get("alumio", taskbridge_sandbox.alumio_ids[0])


# A sandbox on a background thread


def sync_job(refs: list[tuple[str, str]]) -> list[UnifiedTask[object]]:
    """Sync code the way a Django view or a script calls taskbridge."""

    async def run() -> list[UnifiedTask[object]]:
        async with TaskBridge.from_env() as bridge:
            return [r.unwrap() for r in await bridge.get_many(refs)]

    return asyncio.run(run())


def test_sync_code_can_call_a_background_sandbox(
    taskbridge_thread_env: dict[str, str], taskbridge_thread_sandbox: BackgroundSandbox
) -> None:
    sb = taskbridge_thread_sandbox
    tasks = sync_job([("cakewalk", sb.cakewalk_ids[0]), ("alumio", sb.alumio_ids[1])])
    assert [t.id for t in tasks] == [sb.cakewalk_ids[0], sb.alumio_ids[1]]
    assert sb.stats.cakewalk.requests == 1 and sb.stats.alumio.requests == 1


def test_background_sandbox_changes_apply_while_it_serves(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with BackgroundSandbox(seed=2) as sb:
        for name, value in sb.env().items():
            monkeypatch.setenv(name, value)
        sb.answer("alumio", sb.alumio_ids[0], 404)
        new_id = sb.add_task("alumio", "made-in-test", status="failed")
        with pytest.raises(TaskNotFoundError):
            sync_job([("alumio", sb.alumio_ids[0])])
        (task,) = sync_job([("alumio", new_id)])
        assert task.status is TaskStatus.FAILED
        assert sb.expected("alumio", new_id)["status"] == "failed"
        thread = sb._thread
    assert thread is not None and not thread.is_alive()


def test_background_sandbox_reports_a_start_failure() -> None:
    with BackgroundSandbox() as first:
        taken = first.port
        with pytest.raises(OSError):  # noqa: PT011 - the OS's own "address in use"
            BackgroundSandbox(port=taken).start()


# Scripted answers


async def test_an_id_can_answer_404(
    taskbridge_sandbox: Sandbox, taskbridge_bridge: TaskBridge
) -> None:
    task_id = taskbridge_sandbox.cakewalk_ids[0]
    taskbridge_sandbox.answer("cakewalk", task_id.upper(), 404)
    for _ in range(2):
        with pytest.raises(TaskNotFoundError, match="was not found"):
            await taskbridge_bridge.get("cakewalk", task_id)
    taskbridge_sandbox.clear_answers("cakewalk", task_id)
    assert (await taskbridge_bridge.get("cakewalk", task_id)).id == task_id


async def test_an_id_can_fail_twice_with_503_then_succeed(taskbridge_sandbox: Sandbox) -> None:
    task_id = taskbridge_sandbox.alumio_ids[2]
    taskbridge_sandbox.answer("alumio", task_id, 503, times=2)
    async with TaskBridge(alumio=taskbridge_sandbox.alumio_config(), retry=FAST) as bridge:
        task = await bridge.get("alumio", task_id)
        assert bridge.stats().providers["alumio"].retries == 2
    assert task.id == task_id
    assert taskbridge_sandbox.stats.alumio.requests == 3


async def test_scripts_of_one_id_run_in_order(taskbridge_sandbox: Sandbox) -> None:
    task_id = taskbridge_sandbox.alumio_ids[3]
    taskbridge_sandbox.answer("alumio", task_id, 429, times=1, retry_after=0)
    taskbridge_sandbox.answer("alumio", task_id, 500, times=1)
    taskbridge_sandbox.answer("alumio", task_id, 200, times=1)
    taskbridge_sandbox.answer("alumio", task_id, 500)
    policy = RetryPolicy(max_attempts=3, initial_backoff=0, max_backoff=0)
    async with TaskBridge(alumio=taskbridge_sandbox.alumio_config(), retry=policy) as bridge:
        assert (await bridge.get("alumio", task_id)).id == task_id
        assert bridge.stats().providers["alumio"].rate_limited == 1
        with pytest.raises(ServerError):
            await bridge.get("alumio", task_id)


@pytest.mark.parametrize(
    ("provider", "status", "unified"),
    [
        pytest.param("cakewalk", "Approved", TaskStatus.SUCCEEDED, id="cakewalk"),
        pytest.param("alumio", "killed", TaskStatus.CANCELLED, id="alumio"),
        pytest.param("alumio", "brand-new-status", TaskStatus.UNKNOWN, id="unknown"),
    ],
)
async def test_a_task_can_be_added_with_a_status(
    taskbridge_sandbox: Sandbox,
    taskbridge_bridge: TaskBridge,
    provider: str,
    status: str,
    unified: TaskStatus,
) -> None:
    task_id = taskbridge_sandbox.add_task(provider, status=status)
    task = await taskbridge_bridge.get(provider, task_id)
    assert (task.status, task.provider_status) == (unified, status)


async def test_an_added_task_takes_wire_fields(
    taskbridge_sandbox: Sandbox, taskbridge_bridge: TaskBridge
) -> None:
    task_id = taskbridge_sandbox.add_task("alumio", "order-77", entityType="order", route=None)
    task = await taskbridge_bridge.get("alumio", task_id)
    assert task_id == "order-77"
    assert task.kind == "order" and task.detail.route is None


@pytest.mark.parametrize(
    "call",
    [
        pytest.param(lambda sb: sb.answer("alumio", "x", 99), id="status"),
        pytest.param(lambda sb: sb.answer("alumio", "x", 500, times=0), id="times"),
        pytest.param(lambda sb: sb.answer("alumio", "x", 429, retry_after=-1), id="retry-after"),
        pytest.param(lambda sb: sb.answer("jira", "x", 404), id="provider"),
        pytest.param(lambda sb: sb.add_task("cakewalk", "not-a-uuid"), id="cakewalk-id"),
    ],
)
def test_scripting_refuses_bad_values(call: object) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - each message names its argument
        call(Sandbox())  # type: ignore[operator]
