"""`SyncTaskBridge` has the overloads of `TaskBridge`: precise for literal provider names."""

from __future__ import annotations

from typing import Any

from typing_extensions import assert_type

from taskbridge import (
    AlumioTask,
    CakewalkTask,
    Provider,
    SyncTaskBridge,
    TaskResult,
    TaskUpdate,
    UnifiedTask,
)


def literal_names(bridge: SyncTaskBridge, name: str) -> None:
    cakewalk = bridge.get("cakewalk", "3fa85f64-5717-4562-b3fc-2c963f66afa6")
    assert_type(cakewalk, UnifiedTask[CakewalkTask])
    assert_type(cakewalk.detail.last_updated_at.year, int)
    assert_type(bridge.get("alumio", "order-42"), UnifiedTask[AlumioTask])
    assert_type(bridge.get(Provider.CAKEWALK, "x"), UnifiedTask[CakewalkTask])
    assert_type(bridge.get(name, "x"), UnifiedTask[Any])


def the_other_methods(bridge: SyncTaskBridge) -> None:
    assert_type(bridge.get_many([("alumio", "a")]), list[TaskResult])
    for result in bridge.stream([("alumio", "a")]):
        assert_type(result, TaskResult)
    for update in bridge.watch([("alumio", "a")]):
        assert_type(update, TaskUpdate)
    fast = bridge.with_options(timeout=5.0)
    assert_type(fast.get("alumio", "order-42"), UnifiedTask[AlumioTask])
    with SyncTaskBridge.from_env() as env_bridge:
        assert_type(env_bridge, SyncTaskBridge)


def mistakes_are_caught(bridge: SyncTaskBridge) -> None:
    task = bridge.get("cakewalk", "3fa85f64-5717-4562-b3fc-2c963f66afa6")
    task.detail.this_field_does_not_exist  # type: ignore[attr-defined]  # noqa: B018
