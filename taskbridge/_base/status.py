"""The provider names and the unified task status."""

from __future__ import annotations

import enum

__all__ = ["TERMINAL", "Provider", "TaskStatus"]


class Provider(str, enum.Enum):
    """The providers taskbridge knows; plain strings are accepted wherever this is."""

    CAKEWALK = "cakewalk"
    ALUMIO = "alumio"

    def __str__(self) -> str:
        return self.value


class TaskStatus(str, enum.Enum):
    """The unified status of a task, whatever its provider."""

    PENDING = "pending"
    RUNNING = "running"
    WAITING = "waiting"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    REJECTED = "rejected"
    CANCELLED = "cancelled"
    SKIPPED = "skipped"
    UNKNOWN = "unknown"

    @property
    def is_terminal(self) -> bool:
        """Whether a task in this status will not change any more."""
        return self in TERMINAL

    def __str__(self) -> str:
        return self.value


TERMINAL = frozenset(
    {
        TaskStatus.SUCCEEDED,
        TaskStatus.FAILED,
        TaskStatus.REJECTED,
        TaskStatus.CANCELLED,
        TaskStatus.SKIPPED,
    }
)
