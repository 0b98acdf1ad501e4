"""The wire model of a jiralike issue (see ``schema.json``)."""

from __future__ import annotations

import enum
from datetime import datetime

import attrs

__all__ = ["JiralikeError", "JiralikeFields", "JiralikeIssue", "JiralikeStatus"]


class JiralikeStatus(str, enum.Enum):
    """An issue's workflow status."""

    TO_DO = "To Do"
    IN_PROGRESS = "In Progress"
    DONE = "Done"
    WONT_DO = "Won't Do"


@attrs.frozen
class JiralikeFields:
    """An issue's fields."""

    summary: str
    status: JiralikeStatus | str  # open: an unknown status is kept as its string
    created: datetime
    updated: datetime
    issuetype: str | None = None
    assignee: str | None = None


@attrs.frozen
class JiralikeIssue:
    """``GET /rest/api/issue/{KEY}``."""

    key: str
    fields: JiralikeFields


@attrs.frozen
class JiralikeError:
    """An error body: ``{"errorMessages": [...]}``."""

    error_messages: list[str] = attrs.field(factory=list)
