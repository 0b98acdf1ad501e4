"""Requests and decoding of jiralike issues."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from yarl import URL

from taskbridge import InvalidTaskIdError, TaskStatus, UnifiedTask
from taskbridge.providers import ErrorInfo, Request

from ._converter import decode_error, decode_issue
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


class JiralikeAdapter:
    """``GET {base_url}/rest/api/issue/{KEY}`` with a bearer token."""

    name = "jiralike"

    def __init__(self, config: JiralikeConfig) -> None:
        self.max_concurrency = config.max_concurrency
        self.requests_per_minute = config.requests_per_minute
        self._base = f"{config.base_url}/rest/api/issue/"
        self._headers = {"Authorization": f"Bearer {config.pat}", "Accept": "application/json"}

    def check_id(self, task_id: object) -> str:
        if not isinstance(task_id, str) or KEY.fullmatch(task_id) is None:
            shown = repr(task_id)[:40] if isinstance(task_id, str) else type(task_id).__name__
            raise InvalidTaskIdError(
                f"jiralike issue keys look like PROJ-123, got {shown}",
                provider=self.name,
                task_id=str(task_id)[:40],
            )
        return task_id

    def request(self, task_id: str) -> Request:
        return Request(URL(self._base + task_id, encoded=True), self._headers)

    def decode_task(self, body: bytes, task_id: str) -> UnifiedTask[JiralikeIssue]:
        issue = decode_issue(body)
        fields = issue.fields
        return UnifiedTask(
            provider=self.name,
            id=issue.key,
            status=STATUS_MAP[fields.status],
            provider_status=fields.status.value,
            kind=fields.issuetype,
            created_at=fields.created,
            updated_at=fields.updated,
            detail=issue,
        )

    def decode_error(self, body: bytes) -> ErrorInfo:
        error = decode_error(body)
        if error is None or not error.error_messages:
            return ErrorInfo()
        return ErrorInfo(title=error.error_messages[0], detail=None, body=error)
