"""The sandbox's tasks advance through their statuses on a clock that tests control."""

from __future__ import annotations

from typing import Any

import pytest

from taskbridge import TaskBridge, TaskStatus
from taskbridge.sandbox import LIFECYCLE_STAGES, Lifecycle, Sandbox

PROVIDERS = [pytest.param("cakewalk", id="cakewalk"), pytest.param("alumio", id="alumio")]
FROZEN = Lifecycle(step=10.0, speed=0)


def bridge_for(sb: Sandbox) -> TaskBridge:
    return TaskBridge(
        cakewalk=sb.cakewalk_config(requests_per_minute=None), alumio=sb.alumio_config()
    )


@pytest.mark.parametrize("provider", PROVIDERS)
def test_schedule_is_deterministic_and_follows_the_provider_stages(provider: str) -> None:
    one, two = Sandbox(seed=2, lifecycle=FROZEN), Sandbox(seed=2, lifecycle=FROZEN)
    first, middle, finals = LIFECYCLE_STAGES[provider]
    for task_id in one.ids(provider):
        stages = one.schedule(provider, task_id)
        assert stages == two.schedule(provider, task_id)
        (t0, s0), (t1, s1), (t2, s2) = stages
        assert (t0, s0, s1) == (0.0, first, middle)
        assert s2 in finals
        assert 5.0 <= t1 <= 15.0
        assert 5.0 <= t2 - t1 <= 15.0
    other = Sandbox(seed=3, lifecycle=FROZEN)
    assert other.schedule(provider, "x") != one.schedule(provider, "x")


@pytest.mark.parametrize(("rate", "index"), [(1.0, 0), (0.0, 1)])
def test_success_rate_decides_the_final_status(rate: float, index: int) -> None:
    sb = Sandbox(seed=1, lifecycle=Lifecycle(success_rate=rate))
    for provider in ("cakewalk", "alumio"):
        finals = {sb.schedule(provider, i)[-1][1] for i in sb.ids(provider)}
        assert finals == {LIFECYCLE_STAGES[provider][2][index]}


@pytest.mark.parametrize(
    "kwargs",
    [{"step": -1}, {"jitter": 1.5}, {"success_rate": -0.1}, {"speed": float("inf")}],
)
def test_bad_lifecycle_settings_are_refused(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="Lifecycle"):
        Lifecycle(**kwargs)


def test_schedule_without_a_lifecycle_is_an_error() -> None:
    with pytest.raises(RuntimeError, match="lifecycle"):
        Sandbox().schedule("alumio", "x")
    with pytest.raises(RuntimeError, match="lifecycle"):
        Sandbox().advance(1)


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize("any_id", [False, True], ids=["seeded", "on-demand"])
async def test_frozen_tasks_move_only_when_advanced(provider: str, any_id: bool) -> None:
    async with Sandbox(seed=1, lifecycle=FROZEN, any_id=any_id) as sb, bridge_for(sb) as bridge:
        if any_id:
            task_id = "3fa85f64-5717-4562-b3fc-2c963f66afa6" if provider == "cakewalk" else "new-1"
        else:
            task_id = sb.ids(provider)[7]
        stages = sb.schedule(provider, task_id)
        seen = []
        for at, status in stages:
            sb.advance(at - (seen[-1][0] if seen else 0.0))
            task = await bridge.get(provider, task_id)
            assert task.provider_status == status
            assert sb.expected(provider, task_id)["status"] == status
            seen.append((at, task))
        assert [t.status for _, t in seen][:2] == [TaskStatus.PENDING, TaskStatus.RUNNING]
        assert seen[-1][1].is_terminal
        # Everything else about the task stays as seeded.
        assert seen[0][1].kind == seen[-1][1].kind
        assert seen[0][1].created_at == seen[-1][1].created_at


async def test_lifecycle_time_follows_the_sandbox_clock_times_speed() -> None:
    now = [100.0]
    sb = Sandbox(seed=1, lifecycle=Lifecycle(step=10.0, speed=2.0), clock=lambda: now[0])
    clock = sb.state.lifecycle_clock
    assert clock is not None
    assert clock.now() == 0.0
    now[0] = 103.0
    assert clock.now() == 6.0
    sb.advance(4)
    assert clock.now() == 10.0
    # Lifecycle time 20 comes 5 clock seconds later.
    assert clock.clock_time(20.0) == 108.0


def test_advance_refuses_going_back() -> None:
    sb = Sandbox(lifecycle=FROZEN)
    with pytest.raises(ValueError, match="seconds"):
        sb.advance(-1)
