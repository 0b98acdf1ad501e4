"""Hooks and telemetry at the facade: building them, and following each logical call.

`TaskBridge` hands each call to the hooks that follow calls (`EventHooks.call`, the
OpenTelemetry integration's spans) through `Followed`: one object per call that
activates, annotates and ends every hook's scope, and never lets a hook fail the call.
Without such a hook, the facade takes none of these paths.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator, Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

from .._base.models import TaskResult, UnifiedTask
from .._engine.hooks import (
    HookSet,
)
from . import batch as _batch

if TYPE_CHECKING:
    from .._engine.engine import Caller
    from .._engine.gate import ProviderGate

__all__ = ["Followed", "followed_get", "followed_stream", "get_many", "status_event", "stream"]


class Followed:
    """One logical call as every call-following hook sees it; inert without them."""

    __slots__ = ("_hooks", "_scopes")

    def __init__(self, hooks: HookSet, name: str, attributes: dict[str, Any]) -> None:
        self._hooks = hooks
        self._scopes = hooks.calls(name, attributes)

    @contextlib.contextmanager
    def active(self) -> Iterator[None]:
        with contextlib.ExitStack() as stack:
            for hook, scope in self._scopes:
                try:
                    stack.enter_context(scope.activate())
                except Exception as exc:
                    self._hooks.failed(hook, "activate", exc)
            yield

    def event(self, name: str, attributes: dict[str, Any]) -> None:
        for hook, scope in self._scopes:
            try:
                scope.event(name, attributes)
            except Exception as exc:
                self._hooks.failed(hook, "event", exc)

    def end(self, error: BaseException | None, attributes: dict[str, Any] | None = None) -> None:
        scopes, self._scopes = self._scopes, []
        for hook, scope in scopes:
            try:
                scope.end(error, attributes or {})
            except Exception as exc:
                self._hooks.failed(hook, "end", exc)


def status_event(update_ref: Any, task: UnifiedTask[Any], previous: str | None) -> dict[str, Any]:
    attributes: dict[str, Any] = {
        "taskbridge.provider": update_ref[0],
        "taskbridge.task_id": update_ref[1],
        "taskbridge.status": task.status.value,
        "taskbridge.provider_status": task.provider_status,
    }
    if previous is not None:
        attributes["taskbridge.previous_provider_status"] = previous
    return attributes


async def followed_get(
    hooks: HookSet, call: Caller, gate: ProviderGate, task_id: str
) -> UnifiedTask[Any]:
    """`TaskBridge.get` inside a ``taskbridge.get`` call."""
    scope = Followed(
        hooks, "taskbridge.get", {"taskbridge.provider": gate.name, "taskbridge.task_id": task_id}
    )
    try:
        with scope.active():
            task = await call.fetch(gate, task_id)
    except BaseException as exc:
        scope.end(exc)
        raise
    scope.end(None, {"taskbridge.status": task.status.value})
    return task


async def get_many(
    hooks: HookSet | None,
    call: Caller,
    refs: Iterable[Any],
    on_result: Callable[[TaskResult], object] | None,
    timeout: float | None,
) -> list[TaskResult]:
    """`TaskBridge.get_many`: the batch (within ``timeout``), followed when hooks ask."""

    def run(refs: Iterable[Any]) -> Any:
        if timeout is not None:
            from .deadline import get_many_within

            return get_many_within(call, refs, on_result, timeout)
        return _batch.get_many(call, refs, on_result)

    if hooks is None or not hooks.follows():
        return await run(refs)  # type: ignore[no-any-return]
    held = list(refs)
    return await followed_get_many(hooks, lambda: run(held), held)


async def followed_get_many(
    hooks: HookSet, run: Callable[[], Any], refs: list[Any]
) -> list[TaskResult]:
    """`TaskBridge.get_many` inside a ``taskbridge.get_many`` call (counts, not ids)."""
    scope = Followed(hooks, "taskbridge.get_many", {"taskbridge.refs": len(refs)})
    try:
        with scope.active():
            results: list[TaskResult] = await run()
    except BaseException as exc:
        scope.end(exc)
        raise
    failed = sum(1 for r in results if not r.ok)
    scope.end(None, {"taskbridge.succeeded": len(results) - failed, "taskbridge.failed": failed})
    return results


def stream(
    hooks: HookSet | None, results: AsyncGenerator[TaskResult, None]
) -> AsyncGenerator[TaskResult, None]:
    """`TaskBridge.stream`'s results, followed when hooks ask."""
    if hooks is None or not hooks.follows():
        return results
    return followed_stream(hooks, results)


async def followed_stream(
    hooks: HookSet, inner: AsyncGenerator[TaskResult, None]
) -> AsyncGenerator[TaskResult, None]:
    """`TaskBridge.stream` inside a ``taskbridge.stream`` call: each step runs with the
    call active, so the workers it starts belong to it."""
    scope = Followed(hooks, "taskbridge.stream", {})
    succeeded = failed = 0
    error: BaseException | None = None
    try:
        while True:
            with scope.active():
                try:
                    result = await inner.__anext__()
                except StopAsyncIteration:
                    break
            if result.ok:
                succeeded += 1
            else:
                failed += 1
            yield result
    except BaseException as exc:
        error = exc
        raise
    finally:
        with scope.active():
            await inner.aclose()
        scope.end(error, {"taskbridge.succeeded": succeeded, "taskbridge.failed": failed})
