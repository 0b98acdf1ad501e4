"""`TaskResult` narrows on ``.ok``."""

from __future__ import annotations

from typing import Any, NoReturn

from typing_extensions import assert_type

from taskbridge import (
    TaskBridge,
    TaskBridgeError,
    TaskFailure,
    TaskRef,
    TaskResult,
    TaskSuccess,
    UnifiedTask,
)


def narrowing(result: TaskResult) -> None:
    assert_type(result.ref, TaskRef)
    assert_type(result.ok, bool)
    if result.ok:
        assert_type(result, TaskSuccess)
        assert_type(result.task, UnifiedTask[Any])
        assert_type(result.error, None)
        assert_type(result.unwrap(), UnifiedTask[Any])
    else:
        assert_type(result, TaskFailure)
        assert_type(result.task, None)
        assert_type(result.error, TaskBridgeError)


def without_narrowing(result: TaskResult) -> None:
    result.task.id  # type: ignore[union-attr]  # noqa: B018  (task may be None)
    assert_type(result.unwrap(), UnifiedTask[Any])


def failure_unwrap_never_returns(result: TaskFailure) -> None:
    assert_type(result.unwrap(), NoReturn)


async def batches(bridge: TaskBridge) -> None:
    results = await bridge.get_many([("alumio", "a"), ("cakewalk", "b")])
    assert_type(results, list[TaskResult])
    ok = [r.task for r in results if r.ok]
    assert_type(ok, list[UnifiedTask[Any]])
    async for result in bridge.stream([("alumio", "c")]):
        if not result.ok:
            assert_type(result.error, TaskBridgeError)


def building(ref: TaskRef, task: UnifiedTask[Any], error: TaskBridgeError) -> None:
    assert_type(TaskSuccess(ref, task), TaskSuccess)
    assert_type(TaskFailure(ref, error=error), TaskFailure)
