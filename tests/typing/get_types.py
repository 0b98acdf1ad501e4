"""`TaskBridge.get` is precise for literal provider names."""

from __future__ import annotations

from typing import Any

from typing_extensions import assert_type

from taskbridge import AlumioTask, CakewalkTask, Provider, TaskBridge, UnifiedTask


async def literal_names(bridge: TaskBridge, name: str) -> None:
    cakewalk = await bridge.get("cakewalk", "3fa85f64-5717-4562-b3fc-2c963f66afa6")
    assert_type(cakewalk, UnifiedTask[CakewalkTask])
    assert_type(cakewalk.detail, CakewalkTask)
    assert_type(cakewalk.detail.last_updated_at.year, int)

    alumio = await bridge.get("alumio", "order-42")
    assert_type(alumio, UnifiedTask[AlumioTask])
    assert_type(alumio.detail.entity_type, str | None)

    # A dynamic name cannot be known: the detail is Any.
    assert_type(await bridge.get(name, "x"), UnifiedTask[Any])


async def enum_members(bridge: TaskBridge) -> None:
    assert_type(await bridge.get(Provider.CAKEWALK, "x"), UnifiedTask[CakewalkTask])
    assert_type(await bridge.get(Provider.ALUMIO, "x"), UnifiedTask[AlumioTask])


async def mistakes_are_caught(bridge: TaskBridge) -> None:
    task = await bridge.get("cakewalk", "3fa85f64-5717-4562-b3fc-2c963f66afa6")
    task.detail.this_field_does_not_exist  # type: ignore[attr-defined]  # noqa: B018
    alumio = await bridge.get("alumio", "order-42")
    alumio.detail.last_updated_at  # type: ignore[attr-defined]  # noqa: B018  (Cakewalk's)


async def views_keep_the_types(bridge: TaskBridge) -> None:
    fast = bridge.with_options(timeout=5.0)
    assert_type(await fast.get("alumio", "order-42"), UnifiedTask[AlumioTask])
