"""A task whose ``detail`` is built on first access behaves as one decoded eagerly.

`decode_task` returns a `UnifiedTask` whose ``detail`` slot holds a `PendingDetail`
(the body's validated msgspec Structs) until it is read; `decode_checked` builds it at
once. Everything attrs gives a task reads ``self.detail``, so every one of them is run
here on a *fresh* lazy task (never accessed) against an eager, equal one.
"""

from __future__ import annotations

import copy
import pickle
import threading
import time
from collections.abc import Callable
from typing import Any

import attrs
import pytest

from taskbridge import AlumioConfig, CakewalkConfig, TaskBridge, TaskStatus, UnifiedTask
from taskbridge._base.models import PendingDetail, new_unified_task

from .conftest import (
    CAKEWALK_ID,
    KEY,
    SECRET,
    SECRETS,
    TOKEN,
    ScriptedServer,
    alumio_body,
    cakewalk_body,
    dumps,
    make_bridge,
)

ADAPTERS = {
    "cakewalk": CakewalkConfig(KEY, SECRET).adapter(),
    "alumio": AlumioConfig("https://acme.alumio.com", TOKEN).adapter(),
}
BODIES = {"cakewalk": dumps(cakewalk_body()), "alumio": dumps(alumio_body())}
IDS = {"cakewalk": CAKEWALK_ID, "alumio": "order-export-42"}
_MEMBER = UnifiedTask.__dict__["detail"].member


def slot(task: UnifiedTask[Any]) -> Any:
    """What the ``detail`` slot holds, without building it."""
    return _MEMBER.__get__(task, UnifiedTask)


def lazy(provider: str) -> UnifiedTask[Any]:
    task = ADAPTERS[provider].decode_task(BODIES[provider], IDS[provider])
    assert type(slot(task)) is PendingDetail
    return task


def eager(provider: str) -> UnifiedTask[Any]:
    task = ADAPTERS[provider].decode_checked(BODIES[provider], IDS[provider])
    assert type(slot(task)) is not PendingDetail
    return task


PROVIDERS = pytest.mark.parametrize("provider", ["cakewalk", "alumio"])


def _read_detail_from_two_threads(task: Any) -> list[Any]:
    """Read ``task.detail`` from two threads released together; what each got."""
    seen: list[Any] = []
    barrier = threading.Barrier(2, timeout=10)

    def read() -> None:
        barrier.wait()
        seen.append(task.detail)

    threads = [threading.Thread(target=read) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    return seen


@PROVIDERS
def test_the_class_fields_and_type_are_unchanged(provider: str) -> None:
    task = lazy(provider)
    assert type(task) is UnifiedTask
    assert [f.name for f in attrs.fields(type(task))] == [
        "provider",
        "id",
        "status",
        "provider_status",
        "kind",
        "created_at",
        "updated_at",
        "detail",
    ]
    assert attrs.fields(UnifiedTask).detail.eq and not attrs.fields(UnifiedTask).detail.repr


@PROVIDERS
def test_first_access_builds_once_and_keeps_the_model(provider: str) -> None:
    task = lazy(provider)
    detail = task.detail
    assert slot(task) is detail  # stored: the Structs are let go
    assert task.detail is detail
    assert type(detail) is type(eager(provider).detail)


# Each operation runs on a fresh lazy task (never accessed) and on an eager one.
OPERATIONS: dict[str, Callable[[UnifiedTask[Any]], Any]] = {
    "eq": lambda t: t == eager(t.provider) and eager(t.provider) == t,
    "ne": lambda t: t != attrs.evolve(eager(t.provider), id="other"),
    "hash": hash,
    "repr": repr,
    "pickle": lambda t: pickle.loads(pickle.dumps(t)),
    "copy": copy.copy,
    "deepcopy": copy.deepcopy,
    "evolve": lambda t: attrs.evolve(t, status=TaskStatus.UNKNOWN),
    "asdict": attrs.asdict,
    "astuple": attrs.astuple,
    "to_dict": lambda t: t.to_dict(),
    "from_dict": lambda t: UnifiedTask.from_dict(t.to_dict()),
    "detail": lambda t: t.detail,
    "is_terminal": lambda t: t.is_terminal,
}


@PROVIDERS
@pytest.mark.parametrize("operation", list(OPERATIONS))
def test_every_operation_answers_as_on_an_eager_task(provider: str, operation: str) -> None:
    run = OPERATIONS[operation]
    assert run(lazy(provider)) == run(eager(provider))


@PROVIDERS
def test_a_never_accessed_task_pickles_its_built_detail(provider: str) -> None:
    task = lazy(provider)
    data = pickle.dumps(task)
    assert b"PendingDetail" not in data and b"Mirror" not in data
    restored = pickle.loads(data)
    assert type(slot(restored)) is type(eager(provider).detail)
    assert restored == eager(provider)


@PROVIDERS
def test_the_pending_holder_holds_only_the_body(provider: str) -> None:
    pending = slot(lazy(provider))
    assert repr(pending) == "<PendingDetail>"
    assert len(pending.args) == 1 and not pending.keywords
    (source,) = pending.args
    assert type(source).__name__.endswith("Mirror")
    assert not any(secret in repr(source) for secret in SECRETS)


def test_frozen_still_refuses_assignment() -> None:
    task = lazy("cakewalk")
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        task.detail = None  # type: ignore[misc]
    assert type(slot(task)) is PendingDetail


def test_an_eagerly_built_task_is_untouched() -> None:
    # A plug-in builds its tasks with UnifiedTask(...): detail is just stored.
    detail = {"any": "object"}
    task: UnifiedTask[Any] = UnifiedTask(
        "p", "1", TaskStatus.PENDING, "x", None, None, None, detail
    )
    assert slot(task) is detail and task.detail is detail
    assert attrs.evolve(task, detail=[1]).detail == [1]


def test_two_threads_reading_a_fresh_detail_get_one_model() -> None:
    calls: list[int] = []
    entered = threading.Event()

    def slow_build(source: int) -> dict[str, int]:
        calls.append(source)
        entered.set()
        time.sleep(0.05)  # widens the window the lock closes
        return {"n": source}

    task = new_unified_task(
        "p", "1", TaskStatus.PENDING, "x", None, None, None, PendingDetail(slow_build, 7)
    )
    seen = _read_detail_from_two_threads(task)
    assert entered.is_set() and calls == [7]
    assert len(seen) == 2 and seen[0] is seen[1] is task.detail


@PROVIDERS
def test_decoded_task_read_from_two_threads(provider: str) -> None:
    task = lazy(provider)
    seen = _read_detail_from_two_threads(task)
    assert len(seen) == 2 and seen[0] is seen[1]
    assert seen[0] == eager(provider).detail


async def test_get_over_http_returns_a_lazy_task_equal_to_the_eager_one(
    server: ScriptedServer,
) -> None:
    bridge: TaskBridge
    async with make_bridge(server) as bridge:
        task = await bridge.get("cakewalk", CAKEWALK_ID)
    assert type(slot(task)) is PendingDetail
    assert task == eager("cakewalk")
    assert task.detail.request is not None and task.detail.request.request_purpose
