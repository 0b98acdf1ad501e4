"""Requests and decoding of jiralike issues: what differs from the provider kit's skeleton."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from taskbridge import InvalidTaskIdError, TaskStatus
from taskbridge.providers import ErrorInfo, Summary, TaskAdapter

from ._converter import decode_error, make_jiralike_converter
from ._models import JiralikeIssue, JiralikeStatus

if TYPE_CHECKING:
    from ._config import JiralikeConfig

__all__ = ["STATUS_MAP", "JiralikeAdapter"]

KEY = re.compile(r"[A-Z][A-Z0-9]{0,9}-[0-9]{1,9}")
STATUS_MAP = {
    JiralikeStatus.TO_DO: TaskStatus.PENDING,
    JiralikeStatus.IN_PROGRESS: TaskStatus.RUNNING,
    JiralikeStatus.DONE: TaskStatus.SUCCEEDED,
    JiralikeStatus.WONT_DO: TaskStatus.CANCELLED,
}


class JiralikeAdapter(TaskAdapter[JiralikeIssue]):
    """``GET {base_url}/rest/api/issue/{KEY}`` with a bearer token."""

    __slots__ = ()

    name = "jiralike"
    path = "/rest/api/issue/"
    record = JiralikeIssue  # the body is the issue itself
    detail_type = JiralikeIssue
    status_map = STATUS_MAP
    make_converter = staticmethod(make_jiralike_converter)

    def __init__(self, config: JiralikeConfig) -> None:
        super().__init__(config.base_url, {"Authorization": f"Bearer {config.pat}"})

    def check_id(self, task_id: object) -> str:
        if not isinstance(task_id, str) or KEY.fullmatch(task_id) is None:
            shown = repr(task_id)[:40] if isinstance(task_id, str) else type(task_id).__name__
            raise InvalidTaskIdError(
                f"jiralike issue keys look like PROJ-123, got {shown}",
                provider=self.name,
                task_id=str(task_id)[:40],
            )
        return task_id

    def unwrap(self, record: Any) -> Any:
        return record

    def summary(self, task: Any, task_id: str) -> Summary:
        fields = task.fields
        return task.key, fields.status, fields.issuetype, fields.created, fields.updated

    def parse_error(self, body: bytes) -> ErrorInfo:
        error = decode_error(body)
        if error is None or not error.error_messages:
            return ErrorInfo()
        return ErrorInfo(title=error.error_messages[0], detail=None, body=error)
