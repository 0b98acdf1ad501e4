"""`TaskResult` is a `TaskSuccess` or a `TaskFailure`, and still builds and checks as one."""

from __future__ import annotations

import pickle

import attrs
import pytest

from taskbridge import (
    TaskFailure,
    TaskNotFoundError,
    TaskRef,
    TaskResult,
    TaskStatus,
    TaskSuccess,
    UnifiedTask,
)

REF = TaskRef("alumio", "a")
TASK: UnifiedTask[None] = UnifiedTask(
    "alumio", "a", TaskStatus.PENDING, "new", None, None, None, None
)
ERROR = TaskNotFoundError("gone", provider="alumio", task_id="a", status=404)


def test_building_a_task_result_gives_the_matching_class() -> None:
    success = TaskResult(REF, task=TASK)
    failure = TaskResult(REF, error=ERROR)
    assert type(success) is TaskSuccess and type(failure) is TaskFailure
    assert success == TaskSuccess(REF, TASK)
    assert failure == TaskFailure(REF, error=ERROR)


def test_both_are_task_results_with_the_contract_attributes() -> None:
    success, failure = TaskSuccess(REF, TASK), TaskFailure(REF, error=ERROR)
    assert isinstance(success, TaskResult) and isinstance(failure, TaskResult)
    assert issubclass(TaskSuccess, TaskResult) and not isinstance(REF, TaskResult)
    assert (success.ok, success.task, success.error) == (True, TASK, None)
    assert (failure.ok, failure.task, failure.error) == (False, None, ERROR)
    assert success.unwrap() is TASK
    with pytest.raises(TaskNotFoundError):
        failure.unwrap()


def test_a_result_needs_a_task_or_an_error() -> None:
    with pytest.raises(TypeError):
        TaskResult(REF)


def test_results_are_frozen_evolve_and_pickle() -> None:
    success = TaskSuccess(REF, TASK)
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        success.task = None  # type: ignore[misc]
    moved = attrs.evolve(success, ref=TaskRef("alumio", "b"))
    assert type(moved) is TaskSuccess and moved.ref.task_id == "b"
    assert pickle.loads(pickle.dumps(success)) == success
