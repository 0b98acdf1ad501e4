"""Alumio adapter: ``GET /api/v1/tasks/{identifier}?space=``, what differs from the kit's
skeleton."""

from __future__ import annotations

import re
from typing import Any, Protocol
from urllib.parse import quote

from ..._base.errors import InvalidTaskIdError
from ..._base.models import TaskStatus
from .._kit.adapter import Summary, TaskAdapter
from .._kit.base import CommonSettings, ErrorInfo
from ._converter import make_alumio_converter, parse_error
from ._models import AlumioTask, AlumioTaskResult, AlumioTaskStatus

__all__ = ["MAX_IDENTIFIER_LENGTH", "STATUS_MAP", "AlumioAdapter", "encode_identifier"]

# Longer identifiers are refused before any request: percent-encoded, 1,024 characters
# can take up to 12 KiB of request line, about what servers accept (8-16 KiB).
MAX_IDENTIFIER_LENGTH = 1024

STATUS_MAP: dict[str, TaskStatus] = {
    AlumioTaskStatus.NEW: TaskStatus.PENDING,
    AlumioTaskStatus.PROCESSING: TaskStatus.RUNNING,
    AlumioTaskStatus.WAITING: TaskStatus.WAITING,
    AlumioTaskStatus.RETRY: TaskStatus.WAITING,
    AlumioTaskStatus.FINISHED: TaskStatus.SUCCEEDED,
    AlumioTaskStatus.RESOLVED: TaskStatus.SUCCEEDED,
    AlumioTaskStatus.FAILED: TaskStatus.FAILED,
    "rejected": TaskStatus.REJECTED,  # documented by Alumio, absent from the spec's enum
    AlumioTaskStatus.KILLED: TaskStatus.CANCELLED,
    AlumioTaskStatus.SKIPPED: TaskStatus.SKIPPED,
}


class AlumioSettings(CommonSettings, Protocol):
    """What the adapter reads of a `AlumioConfig` (no import of it: no cycle)."""

    @property
    def token(self) -> str: ...

    @property
    def space(self) -> str | None: ...


# The characters quote(..., safe="") never encodes (RFC 3986 unreserved).
_UNRESERVED = re.compile(r"[A-Za-z0-9_.~-]+")


def encode_identifier(identifier: str) -> str:
    """Percent-encode an identifier as exactly one path segment.

    Every reserved character is encoded (``/`` ``?`` ``#`` ``%`` included), and the dot
    segments ``.`` and ``..`` are sent as ``%2E`` so no URL normalizer can climb a level.
    """
    if identifier in (".", ".."):
        return "%2E" * len(identifier)
    if _UNRESERVED.fullmatch(identifier):
        return identifier  # what quote() gives back, at a third of its cost
    return quote(identifier, safe="")


def _utf8(text: str) -> bool:
    # A lone surrogate cannot be percent-encoded; caught here, before any request.
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


class AlumioAdapter(TaskAdapter[AlumioTask]):
    """Serves one `AlumioConfig`: ``GET /api/v1/tasks/{identifier}?space=``."""

    __slots__ = ()

    name = "alumio"
    path = "/api/v1/tasks/"
    record = AlumioTaskResult
    detail_type = AlumioTask
    status_map = STATUS_MAP
    missing_task = "required field missing @ $.object"
    make_converter = staticmethod(make_alumio_converter)

    def __init__(self, config: AlumioSettings) -> None:
        query = "" if config.space is None else f"?space={quote(config.space, safe='')}"
        super().__init__(config.base_url, {"Authorization": f"Bearer {config.token}"}, query)

    def check_id(self, task_id: object) -> str:
        """Return the identifier unchanged, or raise `InvalidTaskIdError`.

        An identifier is a non-empty Unicode string of at most `MAX_IDENTIFIER_LENGTH`
        characters.
        """
        if (
            not isinstance(task_id, str)
            or not task_id
            or len(task_id) > MAX_IDENTIFIER_LENGTH
            or not (task_id.isascii() or _utf8(task_id))
        ):
            shown = repr(task_id[:80]) if isinstance(task_id, str) else type(task_id).__name__
            if isinstance(task_id, str) and len(task_id) > 80:
                shown += f"... ({len(task_id)} characters)"
            raise InvalidTaskIdError(
                "alumio task identifiers are non-empty Unicode strings of at most "
                f"{MAX_IDENTIFIER_LENGTH} characters, got {shown}",
                provider=self.name,
                # Kept whole up to the bound: a 1 MiB id would ride along everywhere.
                task_id=str(task_id)[: MAX_IDENTIFIER_LENGTH + 1],
            )
        return task_id

    def encode_id(self, task_id: str) -> str:
        """The identifier percent-encoded as one path segment (`encode_identifier`)."""
        return encode_identifier(task_id)

    def unwrap(self, record: Any) -> Any:
        """The task: the record's ``object`` (Alumio marks it optional)."""
        return record.task

    def summary(self, task: Any, task_id: str) -> Summary:
        """Alumio's ``identifier`` (the requested id when absent), ``status`` (``""``
        when absent), ``entityType``, ``createdAt`` and ``updatedAt``."""
        status = task.status
        return (
            task.identifier if task.identifier is not None else task_id,
            "" if status is None else status,
            task.entity_type,
            task.created_at,
            task.updated_at,
        )

    def parse_error(self, body: bytes) -> ErrorInfo:
        """Read an ``Error`` body."""
        error = parse_error(body)
        if error is None:
            return ErrorInfo()
        return ErrorInfo(title=error.title, detail=error.detail, body=error)
