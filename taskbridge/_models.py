"""The unified task model, task references and batch results."""

from __future__ import annotations

import enum
from collections.abc import Callable
from datetime import datetime
from typing import Any, Generic, NamedTuple, TypeVar

import attrs

from ._errors import TaskBridgeError

__all__ = ["Provider", "TaskRef", "TaskResult", "TaskStatus", "UnifiedTask"]

_D = TypeVar("_D")


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
        return self in _TERMINAL

    def __str__(self) -> str:
        return self.value


_TERMINAL = frozenset(
    {
        TaskStatus.SUCCEEDED,
        TaskStatus.FAILED,
        TaskStatus.REJECTED,
        TaskStatus.CANCELLED,
        TaskStatus.SKIPPED,
    }
)


@attrs.frozen(slots=True)
class UnifiedTask(Generic[_D]):
    """One task from any provider, in one shape.

    ``detail`` is the full typed provider record (``CakewalkTask`` or ``AlumioTask``).
    """

    provider: str
    id: str
    status: TaskStatus
    provider_status: str
    kind: str | None
    created_at: datetime | None
    updated_at: datetime | None
    detail: _D = attrs.field(repr=False, eq=True)

    @property
    def is_terminal(self) -> bool:
        """Whether ``status`` is terminal (succeeded, failed, rejected, cancelled, skipped)."""
        return self.status in _TERMINAL


class TaskRef(NamedTuple):
    """A task to fetch: ``TaskRef("cakewalk", "3fa85f64-...")``; a plain tuple works too."""

    provider: str
    task_id: str


@attrs.frozen(slots=True)
class TaskResult:
    """The outcome of one ref in a batch: either ``task`` or ``error`` is set."""

    ref: TaskRef
    task: UnifiedTask[Any] | None = None
    error: TaskBridgeError | None = None

    @property
    def ok(self) -> bool:
        """True when the task was fetched."""
        return self.error is None

    def unwrap(self) -> UnifiedTask[Any]:
        """Return the task, or raise the error this ref failed with."""
        if self.error is not None:
            raise self.error
        assert self.task is not None
        return self.task


def _direct_constructor(cls: type[Any]) -> Callable[..., Any]:
    """Return ``make(*fields)`` that builds ``cls`` by filling its slots directly.

    One is built per request, and a frozen attrs ``__init__`` sets each field through
    ``object.__setattr__``, which costs about twice as much. Every field is passed
    (defaults are not applied). Only for a slotted class whose fields have no validator
    or converter and nothing to run at init.
    """
    fields = attrs.fields(cls)
    if (
        "__slots__" not in cls.__dict__
        or hasattr(cls, "__attrs_post_init__")
        or hasattr(cls, "__attrs_pre_init__")
        or any(f.validator is not None or f.converter is not None or not f.init for f in fields)
    ):
        raise TypeError(f"{cls.__name__} cannot be built by filling its slots")
    namespace: dict[str, Any] = {"__new": object.__new__, "__cl": cls}
    lines = [f"def make({', '.join(f.name for f in fields)}):", "  i = __new(__cl)"]
    for f in fields:
        namespace[f"s_{f.name}"] = cls.__dict__[f.name].__set__
        lines.append(f"  s_{f.name}(i, {f.name})")
    lines.append("  return i")
    exec("\n".join(lines), namespace)
    make: Callable[..., Any] = namespace["make"]
    return make


#: ``new_unified_task(provider, id, status, provider_status, kind, created_at,
#: updated_at, detail)``: a `UnifiedTask`, equal to the one its ``__init__`` builds.
new_unified_task: Callable[..., UnifiedTask[Any]] = _direct_constructor(UnifiedTask)
