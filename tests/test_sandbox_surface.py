"""The sandbox's public surface, the same on `Sandbox` and `BackgroundSandbox`.

Each test runs once per class: the real client fetches from the real sandbox on
loopback (for `BackgroundSandbox`, served from its own thread and loop).
"""

from __future__ import annotations

import contextlib
import inspect
import secrets
from collections.abc import AsyncIterator
from typing import Any

import pytest

from taskbridge import (
    AlumioConfig,
    CakewalkConfig,
    RetryPolicy,
    ServerError,
    TaskBridge,
    TaskNotFoundError,
    TaskStatus,
)
from taskbridge.sandbox import BackgroundSandbox, Credentials, Faults, Lifecycle, Sandbox

AnySandbox = Sandbox | BackgroundSandbox
NO_RETRY = RetryPolicy(max_attempts=1)
FAST = RetryPolicy(initial_backoff=0, max_backoff=0, max_retry_after=5)


@contextlib.asynccontextmanager
async def started(kind: type[AnySandbox], **options: Any) -> AsyncIterator[AnySandbox]:
    if kind is Sandbox:
        async with Sandbox(seed=4, tasks_per_provider=20, **options) as sandbox:
            yield sandbox
    else:
        with BackgroundSandbox(seed=4, tasks_per_provider=20, **options) as background:
            yield background


@pytest.fixture(
    params=[pytest.param(Sandbox, id="Sandbox"), pytest.param(BackgroundSandbox, id="thread")]
)
def kind(request: pytest.FixtureRequest) -> type[AnySandbox]:
    chosen: type[AnySandbox] = request.param
    return chosen


@pytest.fixture
async def sb(kind: type[AnySandbox]) -> AsyncIterator[AnySandbox]:
    async with started(kind) as sandbox:
        yield sandbox


async def fetch(sb: AnySandbox, provider: str, task_id: str, retry: RetryPolicy = NO_RETRY) -> str:
    async with TaskBridge(providers=sb.configs(), retry=retry) as bridge:
        task = await bridge.get(provider, task_id)
    return task.id


def surface() -> list[str]:
    """The public names a user reaches on both classes."""
    own = {"start", "aclose", "close", "sandbox", "state", "host"}
    return sorted(
        n
        for n in dir(Sandbox)
        if not n.startswith("_") and n not in own and n in dir(BackgroundSandbox)
    )


def test_both_classes_share_one_definition_of_each_public_name() -> None:
    names = surface()
    assert {"answer", "add_task", "set_faults", "config", "env", "cakewalk_ids"} <= set(names)
    for name in names:
        if name in ("url", "port"):  # each class knows where it listens
            continue
        assert inspect.getattr_static(Sandbox, name) is inspect.getattr_static(
            BackgroundSandbox, name
        ), name


async def test_ids_are_the_seeded_ids_per_provider(sb: AnySandbox) -> None:
    assert sb.cakewalk_ids == sb.ids("cakewalk") and len(sb.cakewalk_ids) == 20
    assert sb.alumio_ids == sb.ids("alumio")
    assert {"cakewalk", "alumio"} <= set(sb.providers)
    assert await fetch(sb, "alumio", sb.alumio_ids[1]) == sb.alumio_ids[1]


async def test_answer_scripts_a_status_for_the_next_requests(sb: AnySandbox) -> None:
    task_id = sb.cakewalk_ids[0]
    sb.answer("cakewalk", task_id, 503, times=2)
    assert await fetch(sb, "cakewalk", task_id, FAST) == task_id
    assert sb.stats.cakewalk.requests == 3


async def test_clear_answers_forgets_the_scripts(sb: AnySandbox) -> None:
    task_id = sb.alumio_ids[0]
    sb.answer("alumio", task_id, 404)
    with pytest.raises(TaskNotFoundError):
        await fetch(sb, "alumio", task_id)
    sb.clear_answers("alumio", task_id)
    assert await fetch(sb, "alumio", task_id) == task_id


async def test_clear_answers_of_one_provider_keeps_the_others(sb: AnySandbox) -> None:
    sb.answer("alumio", sb.alumio_ids[0], 404)
    sb.answer("cakewalk", sb.cakewalk_ids[0], 404)
    sb.clear_answers("cakewalk")
    assert await fetch(sb, "cakewalk", sb.cakewalk_ids[0]) == sb.cakewalk_ids[0]
    with pytest.raises(TaskNotFoundError):
        await fetch(sb, "alumio", sb.alumio_ids[0])


async def test_set_faults_applies_at_once_and_none_turns_them_off(sb: AnySandbox) -> None:
    faults = Faults(error_rate=1.0, error_statuses=(500,))
    sb.set_faults("cakewalk", faults)
    assert sb.faults("cakewalk") == faults
    with pytest.raises(ServerError):
        await fetch(sb, "cakewalk", sb.cakewalk_ids[1])
    sb.set_faults("cakewalk", None)
    assert await fetch(sb, "cakewalk", sb.cakewalk_ids[1]) == sb.cakewalk_ids[1]


async def test_add_task_serves_a_made_to_measure_task(sb: AnySandbox) -> None:
    wanted = f"made-{secrets.token_hex(16)}"
    assert sb.add_task("alumio", wanted, status="failed") == wanted
    async with TaskBridge(alumio=sb.alumio_config(), retry=NO_RETRY) as bridge:
        task = await bridge.get("alumio", wanted)
    assert task.status is TaskStatus.FAILED
    assert sb.expected("alumio", wanted)["status"] == "failed"
    assert wanted not in sb.alumio_ids


async def test_expected_is_what_the_client_receives(sb: AnySandbox) -> None:
    task_id = sb.cakewalk_ids[2]
    async with TaskBridge(cakewalk=sb.cakewalk_config(), retry=NO_RETRY) as bridge:
        task = await bridge.get("cakewalk", task_id)
    expected = sb.expected("cakewalk", task_id)
    assert (expected["id"], expected["status"]) == (task.id, task.to_dict()["detail"]["status"])
    with pytest.raises(KeyError):
        sb.expected("cakewalk", "00000000-0000-4000-8000-" + secrets.token_hex(6))


async def test_advance_moves_tasks_to_their_final_status(kind: type[AnySandbox]) -> None:
    async with started(kind, lifecycle=Lifecycle(speed=0)) as sb:
        task_id = sb.alumio_ids[3]
        stages = sb.schedule("alumio", task_id)
        assert sb.expected("alumio", task_id)["status"] == stages[0][1]
        sb.advance(stages[-1][0] + 1)
        assert sb.expected("alumio", task_id)["status"] == stages[-1][1]


async def test_reset_stats_forgets_the_requests(sb: AnySandbox) -> None:
    await fetch(sb, "cakewalk", sb.cakewalk_ids[3])
    assert sb.stats.cakewalk.requests == 1
    sb.reset_stats()
    assert sb.stats.cakewalk.requests == 0 and sb.stats.total == 0


async def test_env_points_from_env_at_the_sandbox(
    sb: AnySandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in sb.env().items():
        monkeypatch.setenv(name, value)
    async with TaskBridge.from_env(retry=NO_RETRY) as bridge:
        task = await bridge.get("alumio", sb.alumio_ids[4])
    assert task.id == sb.alumio_ids[4]


async def test_configs_point_at_the_sandbox(sb: AnySandbox) -> None:
    assert isinstance(sb.cakewalk_config(), CakewalkConfig)
    assert isinstance(sb.alumio_config(), AlumioConfig)
    assert sb.config("alumio", max_concurrency=3).max_concurrency == 3
    assert {c.base_url for c in sb.configs()} == {sb.url}


async def test_space_of_tells_a_seeded_alumio_task_space(sb: AnySandbox) -> None:
    spaces = {sb.space_of(i) for i in sb.alumio_ids}
    assert spaces == {"default", "staging"}
    with pytest.raises(KeyError):
        sb.space_of(f"never-seeded-{secrets.token_hex(16)}")


async def test_credentials_are_the_default_fakes_and_never_shown(sb: AnySandbox) -> None:
    assert sb.credentials == Credentials()
    assert "sandbox-key" not in repr(sb.credentials)


@pytest.mark.parametrize(
    ("call", "error"),
    [
        pytest.param(lambda sb: sb.answer("cakewalk", "x", 99), ValueError, id="status"),
        pytest.param(lambda sb: sb.answer("alumio", "x", 500, times=0), ValueError, id="times"),
        pytest.param(lambda sb: sb.ids("nope"), ValueError, id="provider"),
        pytest.param(lambda sb: sb.add_task("cakewalk", "not-a-uuid"), ValueError, id="id"),
        pytest.param(lambda sb: sb.advance(1), RuntimeError, id="no-lifecycle"),
    ],
)
async def test_bad_input_gets_a_typed_error(sb: AnySandbox, call: object, error: type) -> None:
    with pytest.raises(error):
        call(sb)  # type: ignore[operator]
