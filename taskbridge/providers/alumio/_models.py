"""Typed models of the Alumio ``GET /api/v1/tasks/{identifier}`` answers.

The spec marks every field optional, so every field defaults to ``None``. The status is
"open": a value the spec does not list (the docs mention ``rejected``) is kept as its
raw string.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

import attrs

from ..._decode.convert import wire
from ..._decode.deep import safe_repr

__all__ = [
    "AlumioError",
    "AlumioTask",
    "AlumioTaskMeta",
    "AlumioTaskMetaDataItem",
    "AlumioTaskResult",
    "AlumioTaskStatus",
    "AlumioViolation",
]


class AlumioTaskStatus(str, enum.Enum):
    """``TaskStatus``: where the task stands in its route."""

    NEW = "new"
    PROCESSING = "processing"
    FINISHED = "finished"
    FAILED = "failed"
    RESOLVED = "resolved"
    SKIPPED = "skipped"
    RETRY = "retry"
    WAITING = "waiting"
    KILLED = "killed"


@attrs.frozen(kw_only=True)
class AlumioTaskMetaDataItem:
    """``TaskMetaDataItem``: an identifier and a display name."""

    identifier: str | None = None
    name: str | None = None


@attrs.frozen(kw_only=True)
class AlumioTaskMeta:
    """``DetailedTask.meta``: where the task came from and went."""

    incoming: AlumioTaskMetaDataItem | None = None
    outgoing: AlumioTaskMetaDataItem | None = None
    route: AlumioTaskMetaDataItem | None = None
    http_proxy: AlumioTaskMetaDataItem | None = None


@attrs.frozen(kw_only=True)
class AlumioTask:
    """``DetailedTask``: one Alumio integration task."""

    identifier: str | None = None
    entity_type: str | None = None
    entity_identifier: str | None = None
    # Free-form JSON, possibly nested deeper than repr() can go.
    entity_data: dict[str, Any] | None = attrs.field(default=None, repr=safe_repr)
    context: dict[str, Any] | None = attrs.field(default=None, repr=safe_repr)
    status: AlumioTaskStatus | str | None = None
    route: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    meta: AlumioTaskMeta | None = None


@attrs.frozen(kw_only=True)
class AlumioTaskResult:
    """``DetailedTaskResult``: the 200 body, ``{"object": DetailedTask}``."""

    task: AlumioTask | None = attrs.field(default=None, metadata=wire("object"))


@attrs.frozen(kw_only=True)
class AlumioViolation:
    """One entry of ``Error.violations``: which property is wrong and why."""

    title: str | None = None
    property_path: str | None = None
    type: str | None = None


@attrs.frozen(kw_only=True)
class AlumioError:
    """``Error``: Alumio's error body."""

    status: str | None = None
    context: dict[str, Any] | None = attrs.field(default=None, repr=safe_repr)
    type: str | None = None
    title: str | None = None
    detail: str | None = None
    violations: list[AlumioViolation] | None = None
