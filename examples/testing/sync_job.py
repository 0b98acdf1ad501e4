"""The code under test: a job that sorts tasks into done, open and failed."""

from __future__ import annotations

from collections.abc import Iterable

import attrs

from taskbridge import TaskBridge, TaskRef


@attrs.define
class Report:
    """What one run of the job found."""

    done: list[TaskRef] = attrs.Factory(list)
    open: list[TaskRef] = attrs.Factory(list)
    failed: dict[TaskRef, str] = attrs.Factory(dict)  # ref -> error class name


async def sync_statuses(bridge: TaskBridge, refs: Iterable[tuple[str, str]]) -> Report:
    """Fetch every ref; a task that cannot be fetched is reported, never raised."""
    report = Report()
    for result in await bridge.get_many(refs):
        if result.task is None:
            report.failed[result.ref] = type(result.error).__name__
        elif result.task.is_terminal:
            report.done.append(result.ref)
        else:
            report.open.append(result.ref)
    return report
