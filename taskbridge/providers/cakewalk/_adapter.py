"""Cakewalk adapter: ``GET /api/v1/Tasks/{taskId}``, what differs from the kit's skeleton."""

from __future__ import annotations

import re
from typing import Any, Protocol

from ..._base.errors import InvalidTaskIdError
from ..._base.models import TaskStatus
from .._kit.adapter import Summary, TaskAdapter
from .._kit.base import CommonSettings, ErrorInfo
from ._converter import make_cakewalk_converter, parse_problem_details
from ._models import CakewalkTask, CakewalkTaskRecord, CakewalkTaskStatus

__all__ = ["STATUS_MAP", "CakewalkAdapter"]

STATUS_MAP: dict[str, TaskStatus] = {
    CakewalkTaskStatus.PENDING: TaskStatus.PENDING,
    CakewalkTaskStatus.DRAFTED: TaskStatus.PENDING,
    CakewalkTaskStatus.IN_PROGRESS: TaskStatus.RUNNING,
    CakewalkTaskStatus.BLOCKED: TaskStatus.WAITING,
    CakewalkTaskStatus.NO_CLAIMERS: TaskStatus.WAITING,
    CakewalkTaskStatus.APPROVED: TaskStatus.SUCCEEDED,
    CakewalkTaskStatus.DECLINED: TaskStatus.REJECTED,
    CakewalkTaskStatus.CANCELLED: TaskStatus.CANCELLED,
}

_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


class CakewalkSettings(CommonSettings, Protocol):
    """What the adapter reads of a `CakewalkConfig` (no import of it: no cycle)."""

    @property
    def api_key(self) -> str: ...

    @property
    def api_secret(self) -> str: ...


class CakewalkAdapter(TaskAdapter[CakewalkTask]):
    """Serves one `CakewalkConfig`: ``GET /api/v1/Tasks/{taskId}``."""

    __slots__ = ()

    name = "cakewalk"
    path = "/api/v1/Tasks/"
    record = CakewalkTaskRecord
    detail_type = CakewalkTask
    status_map = STATUS_MAP
    make_converter = staticmethod(make_cakewalk_converter)

    def __init__(self, config: CakewalkSettings) -> None:
        headers = {"X-API-KEY": config.api_key, "X-API-SECRET": config.api_secret}
        super().__init__(config.base_url, headers)

    def check_id(self, task_id: object) -> str:
        """Return the lower-cased UUID, or raise `InvalidTaskIdError`."""
        if not isinstance(task_id, str) or _UUID.fullmatch(task_id) is None:
            shown = task_id[:80] if isinstance(task_id, str) else type(task_id).__name__
            raise InvalidTaskIdError(
                f"cakewalk task ids are canonical UUIDs (8-4-4-4-12 hex digits), got {shown!r}",
                provider=self.name,
                task_id=str(task_id),
            )
        lowered = task_id.lower()
        # The caller's own string when it is lower-case already: a watch of a million
        # refs then holds one copy of each id, not two.
        return task_id if lowered == task_id else lowered

    def same_id(self, got: str, asked: str) -> bool:
        """UUIDs compare case-insensitively (the id asked for is lower-cased already)."""
        return got.lower() == asked.lower()

    def unwrap(self, record: Any) -> Any:
        """The task: the record's ``data``."""
        return record.data

    def summary(self, task: Any, task_id: str) -> Summary:
        """Cakewalk's ``id``, ``status``, ``type``, ``createdAt`` and ``lastUpdatedAt``."""
        return task.id, task.status, task.type, task.created_at, task.last_updated_at

    def parse_error(self, body: bytes) -> ErrorInfo:
        """Read a ProblemDetails body."""
        problem = parse_problem_details(body)
        if problem is None:
            return ErrorInfo()
        return ErrorInfo(title=problem.title, detail=problem.detail, body=problem)
